//! The read policy: who may read each transaction payload and each state value.
//!
//! Declared here, beside the method registry, for every method ([`TX_READS`]) and every
//! state key prefix ([`STATE_READS`]); the node enforces it on every route (one
//! mechanism, `node/src/access.rs`). An item is either [`Visibility::Public`] or
//! restricted to named roles and to the parties named by its content:
//!
//! - traceability, membership, governance and query-log anchors: public (the consumer page and the
//!   regulators' oversight rest on them);
//! - data products (catalogue, review, listing): public; trades and licences (the
//!   `contract` .. `attest_deletion` methods, `data/trade/*`): the exchange, the data
//!   regulator, auditors, and the parties (provider, licensee, the signer's
//!   organisation), since their terms are business secrets;
//! - credit (every method, `credit/*`): the credit readers
//!   ([`crate::credit::QUERY_ROLES`]) and the parties (the subject organisation, the
//!   recording authority, the signer's organisation). The public part of the credit
//!   register is the public view of records in publication (`/v1/credit/{subject}`),
//!   computed at read time, never the raw payloads.
//!
//! Unknown methods and keys are restricted to auditors (fail closed).

use jialing_core::{PublicKey, Role, Uscc, encoding};

use crate::credit;
use crate::data;
use crate::membership::Member;
use crate::registry::{CallPayload, decode_payload};
use crate::state::StateRead;

/// Roles that may read every data trade and licence.
pub const LICENCE_READERS: &[Role] = &[Role::Exchange, Role::DataRegulator, Role::Auditor];

/// Roles that may read an undeclared method or key (fail closed).
pub const FALLBACK_READERS: &[Role] = &[Role::Auditor];

/// Who may read an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone, unsigned.
    Public,
    /// Members holding one of `roles`, and members of the organisations in `parties`.
    Restricted {
        /// Roles that may read it whoever the parties are.
        roles: &'static [Role],
        /// Organisations the item is about (they may read it with any role).
        parties: Vec<Uscc>,
    },
}

/// An authenticated reader: a member key's organisation and roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The organisation that certified the key.
    pub org: Uscc,
    /// The key's roles.
    pub roles: Vec<Role>,
}

impl Visibility {
    /// Whether `reader` (`None`: an unsigned caller) may read the item.
    pub fn allows(&self, reader: Option<&Reader>) -> bool {
        match (self, reader) {
            (Visibility::Public, _) => true,
            (Visibility::Restricted { .. }, None) => false,
            (Visibility::Restricted { roles, parties }, Some(r)) => {
                r.roles.iter().any(|x| roles.contains(x)) || parties.contains(&r.org)
            }
        }
    }

    /// Whether the item is public.
    pub fn is_public(&self) -> bool {
        matches!(self, Visibility::Public)
    }
}

/// The read rule of a method's payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxRule {
    /// Public.
    Public,
    /// Credit: credit readers, the subject, the recording authority and the signer's
    /// organisation.
    Credit,
    /// Data trades and licences: licence readers, provider, licensee and the signer's
    /// organisation.
    Licence,
}

/// The read rule of every method, by contract and method name.
pub const TX_READS: &[(&str, &str, TxRule)] = &[
    ("membership", "certify", TxRule::Public),
    ("membership", "revoke", TxRule::Public),
    ("governance", "propose", TxRule::Public),
    ("governance", "approve", TxRule::Public),
    ("governance", "withdraw", TxRule::Public),
    ("trace", "register_product", TxRule::Public),
    ("trace", "create_lot", TxRule::Public),
    ("trace", "record_input", TxRule::Public),
    ("trace", "harvest", TxRule::Public),
    ("trace", "record_test", TxRule::Public),
    ("trace", "issue_certificate", TxRule::Public),
    ("trace", "ship", TxRule::Public),
    ("trace", "receive", TxRule::Public),
    ("trace", "sell", TxRule::Public),
    ("trace", "recall", TxRule::Public),
    ("trace", "hold", TxRule::Public),
    ("trace", "release", TxRule::Public),
    ("trace", "destroy", TxRule::Public),
    ("trace", "transform", TxRule::Public),
    ("trace", "pack", TxRule::Public),
    ("trace", "declare_error", TxRule::Public),
    ("trace", "record_epcis_event", TxRule::Public),
    ("trace", "epcis_capture", TxRule::Public),
    ("data", "register", TxRule::Public),
    ("data", "review", TxRule::Public),
    ("data", "approve_important", TxRule::Public),
    ("data", "confirm", TxRule::Public),
    ("data", "reject", TxRule::Public),
    ("data", "list", TxRule::Public),
    ("data", "suspend", TxRule::Public),
    ("data", "reinstate", TxRule::Public),
    ("data", "object", TxRule::Public),
    ("data", "decide_objection", TxRule::Public),
    ("data", "deregister", TxRule::Public),
    ("data", "revoke_product", TxRule::Public),
    ("data", "post_demand", TxRule::Public),
    ("data", "answer_demand", TxRule::Public),
    ("data", "certify_appraiser", TxRule::Public),
    ("data", "appraise", TxRule::Public),
    ("data", "issue_voucher", TxRule::Public),
    ("data", "transfer_voucher", TxRule::Public),
    ("data", "pledge_voucher", TxRule::Public),
    ("data", "release_voucher", TxRule::Public),
    ("data", "freeze", TxRule::Licence),
    ("data", "unfreeze", TxRule::Licence),
    ("data", "record_match", TxRule::Licence),
    ("data", "negotiate", TxRule::Licence),
    ("data", "revise", TxRule::Licence),
    ("data", "check_compliance", TxRule::Licence),
    ("data", "sign", TxRule::Licence),
    ("data", "escrow", TxRule::Licence),
    ("data", "deliver", TxRule::Licence),
    ("data", "accept", TxRule::Licence),
    ("data", "dispute", TxRule::Licence),
    ("data", "arbitrate", TxRule::Licence),
    ("data", "settle", TxRule::Licence),
    ("data", "revoke", TxRule::Licence),
    ("data", "transfer", TxRule::Licence),
    ("data", "record_use", TxRule::Licence),
    ("data", "terminate", TxRule::Licence),
    ("data", "attest_deletion", TxRule::Licence),
    ("credit", "record", TxRule::Credit),
    ("credit", "commit", TxRule::Credit),
    ("credit", "apply", TxRule::Credit),
    ("credit", "accept", TxRule::Credit),
    ("credit", "mark_incomplete", TxRule::Credit),
    ("credit", "decide", TxRule::Credit),
    ("credit", "reinstate", TxRule::Credit),
    ("credit", "set_list", TxRule::Credit),
    // Published lists and government integrity records: public by design (issue 15).
    ("credit", "set_red_list", TxRule::Public),
    ("credit", "gov_commit", TxRule::Public),
    ("credit", "gov_outcome", TxRule::Public),
    ("credit", "object", TxRule::Credit),
    ("credit", "resolve_objection", TxRule::Credit),
    ("credit", "log_query", TxRule::Credit),
    ("audit", "anchor_queries", TxRule::Public),
    ("attest", "record", TxRule::Public),
    ("attest", "revoke", TxRule::Public),
];

/// The read rule of a state key prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateRule {
    /// Public.
    Public,
    /// A credit record, commitment or subject index: credit readers and the parties.
    Credit,
    /// A data trade or licence: licence readers and the parties.
    Licence,
}

/// The read rule of every state key, by prefix (the first match wins; an exact key
/// has no trailing `/`).
pub const STATE_READS: &[(&str, StateRule)] = &[
    ("org/", StateRule::Public),
    ("member/", StateRule::Public),
    ("nonce/", StateRule::Public),
    ("params", StateRule::Public),
    ("validators", StateRule::Public),
    ("chain", StateRule::Public),
    ("trace/", StateRule::Public),
    ("gov/", StateRule::Public),
    ("data/product/", StateRule::Public),
    ("audit/", StateRule::Public),
    ("attest/", StateRule::Public),
    ("data/trade/", StateRule::Licence),
    ("credit/", StateRule::Credit),
];

/// The read rule declared for `contract`.`method`, if any.
pub fn tx_read(contract: &str, method: &str) -> Option<TxRule> {
    TX_READS.iter().find(|(c, m, _)| *c == contract && *m == method).map(|(_, _, r)| *r)
}

fn typed<T: borsh::BorshDeserialize>(read: &StateRead<'_>, key: &[u8]) -> Option<T> {
    let bytes = read(key).ok()??;
    encoding::decode("state value", &bytes).ok()
}

fn signer_org(read: &StateRead<'_>, signer: &PublicKey) -> Option<Uscc> {
    typed::<Member>(read, &crate::keys::member(signer)).map(|m| m.org)
}

fn fallback() -> Visibility {
    Visibility::Restricted { roles: FALLBACK_READERS, parties: vec![] }
}

fn record_parties(read: &StateRead<'_>, record_id: &str, parties: &mut Vec<Uscc>) {
    if let Some(r) = typed::<credit::DishonestyRecord>(read, &credit::store::record_key(record_id)) {
        record_parties_of(&r, parties);
    }
}

fn record_parties_of(r: &credit::DishonestyRecord, parties: &mut Vec<Uscc>) {
    if let credit::Subject::Org(u) = &r.subject {
        parties.push(u.clone());
    }
    parties.push(r.authority.clone());
}

fn trade_parties(read: &StateRead<'_>, trade: &str, parties: &mut Vec<Uscc>) {
    if let Some(t) = typed::<data::types::Trade>(read, &data::trade_key(trade)) {
        parties.push(t.provider);
        parties.push(t.licensee);
    }
}

fn decoded<P: CallPayload>(payload: &[u8]) -> Option<P> {
    decode_payload::<P>(payload).ok()
}

/// The record a credit payload is about (`None` for `record`, `commit`, `log_query`).
fn credit_record_id(method: &str, payload: &[u8]) -> Option<String> {
    use credit::*;
    match method {
        "apply" => decoded::<ApplyRepair>(payload).map(|p| p.record_id),
        "accept" => decoded::<AcceptApplication>(payload).map(|p| p.record_id),
        "mark_incomplete" => decoded::<MarkIncomplete>(payload).map(|p| p.record_id),
        "decide" => decoded::<DecideRepair>(payload).map(|p| p.record_id),
        "reinstate" => decoded::<Reinstate>(payload).map(|p| p.record_id),
        "set_list" => decoded::<SetList>(payload).map(|p| p.record_id),
        "object" => decoded::<Object>(payload).map(|p| p.record_id),
        "resolve_objection" => decoded::<ResolveObjection>(payload).map(|p| p.record_id),
        "log_query" => decoded::<LogQuery>(payload).and_then(|p| p.record_id),
        _ => None,
    }
}

/// The trade a data payload is about, and an organisation it names.
fn licence_refs(method: &str, payload: &[u8]) -> (Option<String>, Option<Uscc>) {
    use data::methods::*;
    match method {
        "negotiate" => {
            decoded::<data::negotiation::Negotiate>(payload).map_or((None, None), |p| (Some(p.id), Some(p.buyer)))
        }
        "record_match" => (decoded::<data::market::RecordMatch>(payload).map(|p| p.trade), None),
        "revise" => (decoded::<data::negotiation::Revise>(payload).map(|p| p.trade), None),
        "check_compliance" => (decoded::<data::negotiation::CheckCompliance>(payload).map(|p| p.trade), None),
        "sign" => (decoded::<data::negotiation::Sign>(payload).map(|p| p.trade), None),
        "arbitrate" => (decoded::<data::disputes::Arbitrate>(payload).map(|p| p.trade), None),
        "freeze" | "unfreeze" => {
            let target = if method == "freeze" {
                decoded::<data::freeze::Freeze>(payload).map(|p| p.target)
            } else {
                decoded::<data::freeze::Unfreeze>(payload).map(|p| p.target)
            };
            match target {
                Some(data::freeze::FreezeTarget::Licence(t)) => (Some(t), None),
                _ => (None, None),
            }
        }
        "escrow" => (decoded::<Escrow>(payload).map(|p| p.trade), None),
        "deliver" => (decoded::<Deliver>(payload).map(|p| p.trade), None),
        "accept" => (decoded::<Accept>(payload).map(|p| p.trade), None),
        "dispute" => (decoded::<Dispute>(payload).map(|p| p.trade), None),
        "settle" => (decoded::<Settle>(payload).map(|p| p.trade), None),
        "revoke" => (decoded::<Revoke>(payload).map(|p| p.trade), None),
        "transfer" => decoded::<Transfer>(payload).map_or((None, None), |p| (Some(p.trade), Some(p.to))),
        "record_use" => (decoded::<RecordUse>(payload).map(|p| p.trade), None),
        "terminate" => (decoded::<Terminate>(payload).map(|p| p.trade), None),
        "attest_deletion" => (decoded::<AttestDeletion>(payload).map(|p| p.trade), None),
        _ => (None, None),
    }
}

/// The visibility of a transaction's payload (and of its receipt's details), from its
/// contract, method and content; `read` reads committed state (to name the parties of
/// the record or trade it is about).
pub fn of_tx(contract: &str, method: &str, signer: &PublicKey, payload: &[u8], read: &StateRead<'_>) -> Visibility {
    let Some(rule) = tx_read(contract, method) else { return fallback() };
    let mut parties = Vec::new();
    let roles = match rule {
        TxRule::Public => return Visibility::Public,
        TxRule::Credit => {
            if method == "record"
                && let Some(credit::Subject::Org(u)) = decoded::<credit::RecordDishonesty>(payload).map(|p| p.subject)
            {
                parties.push(u);
            }
            if let Some(id) = credit_record_id(method, payload) {
                record_parties(read, &id, &mut parties);
            }
            credit::QUERY_ROLES
        }
        TxRule::Licence => {
            let (trade, named) = licence_refs(method, payload);
            parties.extend(named);
            if let Some(id) = &trade {
                trade_parties(read, id, &mut parties);
            }
            let product = match method {
                "negotiate" => decoded::<data::negotiation::Negotiate>(payload).map(|p| p.product),
                "record_match" => decoded::<data::market::RecordMatch>(payload).map(|p| p.product),
                _ => None,
            };
            {
                if let Some(p) = product.and_then(|id| typed::<data::types::DataProduct>(read, &data::product_key(&id)))
                {
                    parties.push(p.provider);
                }
            }
            LICENCE_READERS
        }
    };
    parties.extend(signer_org(read, signer));
    parties.sort();
    parties.dedup();
    Visibility::Restricted { roles, parties }
}

/// The read rule of a state key, if declared.
pub fn state_read(key: &[u8]) -> Option<StateRule> {
    STATE_READS.iter().find(|(p, _)| key.starts_with(p.as_bytes())).map(|(_, r)| *r)
}

/// The visibility of the state value at `key` (`value`: its bytes, if any, which name
/// the parties of a record or trade).
pub fn of_state(key: &[u8], value: Option<&[u8]>) -> Visibility {
    let Some(rule) = state_read(key) else { return fallback() };
    let mut parties = Vec::new();
    let roles = match rule {
        StateRule::Public => return Visibility::Public,
        StateRule::Credit => {
            let v = value.unwrap_or_default();
            if key.starts_with(b"credit/record/") {
                if let Ok(r) = encoding::decode::<credit::DishonestyRecord>("record", v) {
                    record_parties_of(&r, &mut parties);
                }
            } else if key.starts_with(b"credit/commitment/") {
                if let Ok(c) = encoding::decode::<credit::Commitment>("commitment", v) {
                    if let credit::Subject::Org(u) = c.subject {
                        parties.push(u);
                    }
                    parties.push(c.filed_by);
                }
            } else if let Some(id) = key.strip_prefix(b"credit/subject/") {
                parties.extend(std::str::from_utf8(id).ok().and_then(|s| Uscc::parse(s).ok()));
            }
            credit::QUERY_ROLES
        }
        StateRule::Licence => {
            if let Ok(t) = encoding::decode::<data::types::Trade>("trade", value.unwrap_or_default()) {
                parties.push(t.provider);
                parties.push(t.licensee);
            }
            LICENCE_READERS
        }
    };
    parties.sort();
    parties.dedup();
    Visibility::Restricted { roles, parties }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn every_method_declares_who_may_read_its_payloads() {
        for m in registry::methods() {
            let n = TX_READS.iter().filter(|(c, n, _)| *c == m.contract && *n == m.name).count();
            assert_eq!(n, 1, "{}.{} needs exactly one line in TX_READS", m.contract, m.name);
        }
        for (c, n, _) in TX_READS {
            assert!(registry::find(c, n).is_some(), "TX_READS names {c}.{n}, which is not a method");
        }
    }

    #[test]
    fn undeclared_items_are_restricted_to_auditors() {
        let read = |_: &[u8]| -> Result<Option<Vec<u8>>, String> { Ok(None) };
        let k = jialing_core::Keypair::from_label("x").public();
        assert_eq!(of_tx("nope", "x", &k, &[], &read), fallback());
        assert_eq!(of_state(b"secret/1", None), fallback());
        let auditor = Reader { org: crate::testkit::uscc("audit"), roles: vec![Role::Auditor] };
        let farm = Reader { org: crate::testkit::uscc("farm"), roles: vec![Role::Producer] };
        assert!(fallback().allows(Some(&auditor)) && !fallback().allows(Some(&farm)) && !fallback().allows(None));
    }

    #[test]
    fn restricted_items_admit_their_roles_and_parties_only() {
        let v = Visibility::Restricted { roles: credit::QUERY_ROLES, parties: vec![crate::testkit::uscc("farm")] };
        let farm = Reader { org: crate::testkit::uscc("farm"), roles: vec![Role::Producer] };
        let farm2 = Reader { org: crate::testkit::uscc("farm2"), roles: vec![Role::Producer] };
        let market = Reader { org: crate::testkit::uscc("market"), roles: vec![Role::MarketRegulator] };
        assert!(v.allows(Some(&farm)) && v.allows(Some(&market)));
        assert!(!v.allows(Some(&farm2)) && !v.allows(None));
        assert!(Visibility::Public.allows(None));
    }
}
