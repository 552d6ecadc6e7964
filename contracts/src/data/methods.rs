//! Data-trading payloads and handlers. Rule codes: `data.negative_list`,
//! `data.important_needs_regulator`, `data.product_must_be_registered`,
//! `data.owner_only`, `data.status`, `data.delivery_digest_matches`,
//! `data.delivery_within_term`, `data.inspection_period`,
//! `data.no_settlement_before_acceptance`, `data.final_states`,
//! `data.transfer_only_if_transferable`, `data.use_within_scope`,
//! `data.use_within_term`, `data.party_only`, `data.joint_punishment`.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Role, Uscc};
use serde::{Deserialize, Serialize};

use crate::data::types::*;
use crate::data::{product_key, trade_key};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, decode_payload};

macro_rules! payload {
    ($t:ident, $m:literal) => {
        impl CallPayload for $t {
            const CONTRACT: &'static str = "data";
            const METHOD: &'static str = $m;
        }
    };
}

/// `data.register`: submit a product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Register {
    /// Product id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Category.
    pub category: String,
    /// Kind.
    pub kind: DataKind,
    /// Classification.
    pub classification: Classification,
    /// Holds personal information.
    pub personal_info: bool,
    /// Version hash.
    pub version_hash: Hash,
    /// Size in bytes.
    pub size_bytes: u64,
}
payload!(Register, "register");

/// `data.review`: the exchange's compliance review.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Review {
    /// Product id.
    pub product: String,
    /// Compliance report hash.
    pub report: Hash,
}
payload!(Review, "review");

/// `data.approve_important`: the data regulator approves important data.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ApproveImportant {
    /// Product id.
    pub product: String,
}
payload!(ApproveImportant, "approve_important");

/// `data.confirm`: registration by the exchange.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Confirm {
    /// Product id.
    pub product: String,
}
payload!(Confirm, "confirm");

/// `data.reject`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reject {
    /// Product id.
    pub product: String,
    /// Reasons.
    pub reasons: String,
}
payload!(Reject, "reject");

/// `data.list`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct List {
    /// Product id.
    pub product: String,
    /// Price, fen.
    pub price_fen: u64,
}
payload!(List, "list");

/// `data.suspend`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Suspend {
    /// Product id.
    pub product: String,
}
payload!(Suspend, "suspend");

/// `data.contract`: the licence contract, recorded by the exchange.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Contract {
    /// New trade id.
    pub id: String,
    /// Product id.
    pub product: String,
    /// The buyer.
    pub buyer: Uscc,
    /// Terms.
    pub terms: Terms,
}
payload!(Contract, "contract");

/// `data.escrow`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Escrow {
    /// Trade id.
    pub trade: String,
    /// Amount received, fen (must equal the price).
    pub amount_fen: u64,
}
payload!(Escrow, "escrow");

/// `data.deliver`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deliver {
    /// Trade id.
    pub trade: String,
    /// Digest of what was delivered.
    pub digest: Hash,
}
payload!(Deliver, "deliver");

/// `data.accept`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Accept {
    /// Trade id.
    pub trade: String,
}
payload!(Accept, "accept");

/// `data.dispute`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Dispute {
    /// Trade id.
    pub trade: String,
    /// Grounds.
    pub grounds: String,
}
payload!(Dispute, "dispute");

/// `data.settle`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Settle {
    /// Trade id.
    pub trade: String,
}
payload!(Settle, "settle");

/// `data.revoke`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Revoke {
    /// Trade id.
    pub trade: String,
    /// Reasons (the breach).
    pub reasons: String,
}
payload!(Revoke, "revoke");

/// `data.transfer`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transfer {
    /// Trade id.
    pub trade: String,
    /// New licensee.
    pub to: Uscc,
}
payload!(Transfer, "transfer");

/// `data.record_use`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordUse {
    /// Trade id.
    pub trade: String,
    /// Purpose of this use (must be the licence's).
    pub purpose: String,
    /// Hash of a derived dataset, if one was produced.
    pub derived: Option<Hash>,
}
payload!(RecordUse, "record_use");

fn rule(code: &'static str, detail: String) -> ContractError {
    ContractError::rule(code, detail)
}

fn load_product(tx: &Tx<'_>, id: &str) -> Result<DataProduct, ContractError> {
    tx.require("data product", id, &product_key(id))
}

fn load_trade(tx: &Tx<'_>, id: &str) -> Result<Trade, ContractError> {
    tx.require("trade", id, &trade_key(id))
}

fn save_product(tx: &mut Tx<'_>, p: &DataProduct) {
    tx.tag(TagKind::DataProduct, p.id.clone());
    tx.put(product_key(&p.id), p);
}

fn save_trade(tx: &mut Tx<'_>, t: &Trade) {
    tx.tag(TagKind::Licence, t.id.clone());
    tx.tag(TagKind::DataProduct, t.product.clone());
    tx.put(trade_key(&t.id), t);
}

fn status(p: &DataProduct, allowed: &[ProductStatus], what: &str) -> Result<(), ContractError> {
    if !allowed.contains(&p.status) {
        return Err(rule("data.status", format!("{what} is not allowed on product {} in status {:?}", p.id, p.status)));
    }
    Ok(())
}

fn trade_status(t: &Trade, allowed: &[TradeStatus], what: &str, now_ms: u64) -> Result<(), ContractError> {
    if t.final_at(now_ms) {
        return Err(rule(
            "data.final_states",
            format!("licence {} is revoked or expired; nothing more happens to it", t.id),
        ));
    }
    if !allowed.contains(&t.status) {
        return Err(rule("data.status", format!("{what} is not allowed on trade {} in status {:?}", t.id, t.status)));
    }
    Ok(())
}

fn not_punished(tx: &Tx<'_>, org: &Uscc) -> Result<(), ContractError> {
    if crate::credit::is_under_joint_punishment(tx, org)? {
        return Err(rule(
            "data.joint_punishment",
            format!("{org} is on the serious-dishonesty list: no data registration, listing or licence until repaired"),
        ));
    }
    Ok(())
}

fn owner_only(tx: &Tx<'_>, owner: &Uscc, what: &str) -> Result<(), ContractError> {
    if tx.org() != owner {
        return Err(rule("data.owner_only", format!("only {owner} may {what}; the signer is of {}", tx.org())));
    }
    Ok(())
}

pub(crate) fn register(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Register = decode_payload(payload)?;
    crate::trace::rules::id_format("product id", &p.id)?;
    tx.check_text("title", &p.title, true)?;
    tx.check_text("category", &p.category, true)?;
    if tx.params().data.negative_list.iter().any(|c| c == &p.category) {
        return Err(rule(
            "data.negative_list",
            format!("category {:?} is on the negative list and may not be traded", p.category),
        ));
    }
    if p.version_hash == Hash::ZERO {
        return Err(ContractError::InvalidArgument {
            field: "version_hash",
            reason: "the content hash of the version is required".into(),
        });
    }
    not_punished(tx, &tx.org().clone())?;
    if tx.get_raw(&product_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "data product", id: p.id });
    }
    let product = DataProduct {
        id: p.id,
        provider: tx.org().clone(),
        title: p.title,
        category: p.category,
        kind: p.kind,
        classification: p.classification,
        personal_info: p.personal_info,
        version_hash: p.version_hash,
        size_bytes: p.size_bytes,
        status: ProductStatus::Submitted,
        compliance_report: None,
        regulator_approved: false,
        certificate_no: None,
        data_code: None,
        price_fen: None,
    };
    save_product(tx, &product);
    Ok(())
}

pub(crate) fn review(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Review = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Submitted], "review")?;
    d.compliance_report = Some(p.report);
    d.status = ProductStatus::Reviewed;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn approve_important(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: ApproveImportant = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Submitted, ProductStatus::Reviewed], "approval")?;
    d.regulator_approved = true;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn confirm(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Confirm = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Reviewed], "registration")?;
    if d.classification == Classification::Important && !d.regulator_approved {
        return Err(rule(
            "data.important_needs_regulator",
            format!("product {} is important data: the data regulator must approve it first", d.id),
        ));
    }
    supervision_second_review(tx, &d)?;
    let code = tx.tx_hash().to_hex();
    d.certificate_no = Some(format!("DR{}-{}", tx.height(), &code[..8]));
    d.data_code = Some(format!("DC{}", &code[..16]));
    d.status = ProductStatus::Registered;
    save_product(tx, &d);
    Ok(())
}

/// `data.supervision_second_review` (credit supervision by grade, see
/// `crate::credit::supervision`): a provider under the second-review measure (a C or D
/// grade, or the watch list, by default) registers a product only after the data
/// regulator's approval.
fn supervision_second_review(tx: &Tx<'_>, d: &DataProduct) -> Result<(), ContractError> {
    use crate::credit::supervision::{Measure, applies};
    match applies(tx, &d.provider, Measure::SecondReview)? {
        Some(why) if !d.regulator_approved => Err(rule(
            "data.supervision_second_review",
            format!(
                "{why}: product {} needs a second review (data.approve_important by the data regulator) before registration",
                d.id
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn reject(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Reject = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Submitted, ProductStatus::Reviewed], "rejection")?;
    d.status = ProductStatus::Rejected;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn list(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: List = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    owner_only(tx, &d.provider, "list this product")?;
    if !matches!(d.status, ProductStatus::Registered | ProductStatus::Suspended | ProductStatus::Listed) {
        return Err(rule(
            "data.product_must_be_registered",
            format!("product {} is {:?}, not registered", d.id, d.status),
        ));
    }
    not_punished(tx, &d.provider)?;
    d.price_fen = Some(p.price_fen);
    d.status = ProductStatus::Listed;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn suspend(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Suspend = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    if !tx.has_role(Role::Exchange) {
        owner_only(tx, &d.provider, "suspend this listing")?;
    }
    status(&d, &[ProductStatus::Listed], "suspension")?;
    d.status = ProductStatus::Suspended;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn contract(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Contract = decode_payload(payload)?;
    crate::trace::rules::id_format("trade id", &p.id)?;
    tx.check_text("terms.purpose", &p.terms.purpose, true)?;
    tx.check_list("terms.fields", p.terms.fields.len())?;
    let d = load_product(tx, &p.product)?;
    if d.status != ProductStatus::Listed {
        return Err(rule(
            "data.product_must_be_registered",
            format!("product {} is {:?}: only listed products are licensed", d.id, d.status),
        ));
    }
    if p.terms.end_ms <= p.terms.start_ms {
        return Err(ContractError::InvalidArgument {
            field: "terms",
            reason: "the term must end after it starts".into(),
        });
    }
    let buyer: Option<crate::membership::Organisation> = tx.get(&crate::keys::org(&p.buyer))?;
    if !buyer.is_some_and(|o| o.active && o.roles.contains(&Role::DataBuyer)) {
        return Err(ContractError::NotFound { what: "active data-buyer organisation", id: p.buyer.to_string() });
    }
    not_punished(tx, &d.provider)?;
    not_punished(tx, &p.buyer)?;
    if tx.get_raw(&trade_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "trade", id: p.id });
    }
    tx.tag(TagKind::Org, p.buyer.to_string());
    tx.tag(TagKind::Org, d.provider.to_string());
    let t = Trade {
        id: p.id,
        product: d.id,
        provider: d.provider,
        licensee: p.buyer,
        terms: p.terms,
        status: TradeStatus::Contracted,
        delivered_hash: None,
        delivered_ms: 0,
        fee_fen: 0,
        paid_fen: 0,
        uses: 0,
        derived: vec![],
        deletion_attested: None,
    };
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn escrow(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Escrow = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Contracted], "escrow", tx.time_ms())?;
    if p.amount_fen != t.terms.price_fen {
        return Err(ContractError::InvalidArgument {
            field: "amount_fen",
            reason: format!("{} fen, the price is {}", p.amount_fen, t.terms.price_fen),
        });
    }
    t.status = TradeStatus::Escrowed;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn deliver(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Deliver = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    owner_only(tx, &t.provider, "deliver for this trade")?;
    trade_status(&t, &[TradeStatus::Escrowed, TradeStatus::Disputed], "delivery", tx.time_ms())?;
    let now = tx.time_ms();
    if now < t.terms.start_ms || now >= t.terms.end_ms {
        return Err(rule(
            "data.delivery_within_term",
            format!("delivery at {now} ms is outside the licence term [{}, {})", t.terms.start_ms, t.terms.end_ms),
        ));
    }
    let d = load_product(tx, &t.product)?;
    if p.digest != d.version_hash {
        return Err(rule(
            "data.delivery_digest_matches",
            format!("delivered digest {} is not the registered version hash {}", p.digest, d.version_hash),
        ));
    }
    t.delivered_hash = Some(p.digest);
    t.delivered_ms = now;
    t.status = TradeStatus::Delivered;
    save_trade(tx, &t);
    Ok(())
}

fn buyer_within_inspection(tx: &Tx<'_>, t: &Trade) -> Result<(), ContractError> {
    if tx.org() != &t.licensee {
        return Err(rule(
            "data.party_only",
            format!("only the buyer {} accepts or disputes trade {}", t.licensee, t.id),
        ));
    }
    let until = t.delivered_ms.saturating_add(tx.params().data.inspection_period_ms);
    if tx.time_ms() > until {
        return Err(rule(
            "data.inspection_period",
            format!("the inspection period of trade {} ended at {until} ms", t.id),
        ));
    }
    Ok(())
}

pub(crate) fn accept(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Accept = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Delivered], "acceptance", tx.time_ms())?;
    buyer_within_inspection(tx, &t)?;
    t.status = TradeStatus::Accepted;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn dispute(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Dispute = decode_payload(payload)?;
    tx.check_text("grounds", &p.grounds, true)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Delivered], "dispute", tx.time_ms())?;
    buyer_within_inspection(tx, &t)?;
    t.status = TradeStatus::Disputed;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn settle(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Settle = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    if t.status != TradeStatus::Accepted {
        return Err(rule(
            "data.no_settlement_before_acceptance",
            format!("trade {} is {:?}; settlement needs the buyer's acceptance", t.id, t.status),
        ));
    }
    let fee = u128::from(t.terms.price_fen) * u128::from(tx.params().data.fee_bps) / 10_000;
    t.fee_fen = u64::try_from(fee).unwrap_or(u64::MAX);
    t.paid_fen = t.terms.price_fen - t.fee_fen.min(t.terms.price_fen);
    t.status = TradeStatus::Settled;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn revoke(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Revoke = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Settled], "revocation", tx.time_ms())?;
    t.status = TradeStatus::Revoked;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn transfer(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Transfer = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Settled], "transfer", tx.time_ms())?;
    if tx.org() != &t.licensee {
        return Err(rule("data.party_only", format!("only the licensee {} transfers licence {}", t.licensee, t.id)));
    }
    if !t.terms.transferable {
        return Err(rule("data.transfer_only_if_transferable", format!("licence {} is not transferable", t.id)));
    }
    let to: Option<crate::membership::Organisation> = tx.get(&crate::keys::org(&p.to))?;
    if !to.is_some_and(|o| o.active && o.roles.contains(&Role::DataBuyer)) {
        return Err(ContractError::NotFound { what: "active data-buyer organisation", id: p.to.to_string() });
    }
    not_punished(tx, &p.to)?;
    tx.tag(TagKind::Org, p.to.to_string());
    t.licensee = p.to;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn record_use(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordUse = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    if tx.org() != &t.licensee {
        return Err(rule(
            "data.party_only",
            format!("only the licensee {} records uses of licence {}", t.licensee, t.id),
        ));
    }
    if !t.active_at(tx.time_ms()) {
        return Err(rule(
            "data.use_within_term",
            format!(
                "licence {} is not active now (status {:?}, term [{}, {}))",
                t.id, t.status, t.terms.start_ms, t.terms.end_ms
            ),
        ));
    }
    if p.purpose != t.terms.purpose {
        return Err(rule(
            "data.use_within_scope",
            format!(
                "purpose {:?} is not the licensed purpose {:?}: use outside the purpose is a breach",
                p.purpose, t.terms.purpose
            ),
        ));
    }
    t.uses = t.uses.saturating_add(1);
    if let Some(h) = p.derived {
        tx.check_list("derived", t.derived.len() + 1)?;
        t.derived.push(h);
    }
    save_trade(tx, &t);
    Ok(())
}

/// `data.terminate`: the exchange records an early termination agreed by both parties.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Terminate {
    /// Trade id.
    pub trade: String,
    /// Reasons.
    pub reasons: String,
}
payload!(Terminate, "terminate");

/// `data.attest_deletion`: once a licence is over, the licensee attests it deleted the data.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AttestDeletion {
    /// Trade id.
    pub trade: String,
    /// Hash of the deletion certificate.
    pub certificate: Hash,
}
payload!(AttestDeletion, "attest_deletion");

/// `data.deregister` (owner) / `data.revoke_product` (exchange): a product leaves the
/// register for good.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Withdraw {
    /// Product id.
    pub product: String,
    /// Reasons.
    pub reasons: String,
}

/// `data.deregister`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deregister(pub Withdraw);
payload!(Deregister, "deregister");

/// `data.revoke_product`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RevokeProduct(pub Withdraw);
payload!(RevokeProduct, "revoke_product");

pub(crate) fn terminate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Terminate = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(
        &t,
        &[TradeStatus::Contracted, TradeStatus::Escrowed, TradeStatus::Disputed, TradeStatus::Settled],
        "termination",
        tx.time_ms(),
    )?;
    t.status = TradeStatus::Terminated;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn attest_deletion(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: AttestDeletion = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    if tx.org() != &t.licensee {
        return Err(rule(
            "data.party_only",
            format!("only the licensee {} attests deletion for licence {}", t.licensee, t.id),
        ));
    }
    if !t.final_at(tx.time_ms()) {
        return Err(rule(
            "data.deletion_after_licence",
            format!("licence {} is still in force; deletion is attested once it has ended", t.id),
        ));
    }
    t.deletion_attested = Some(p.certificate);
    save_trade(tx, &t);
    Ok(())
}

fn withdraw(tx: &mut Tx<'_>, w: Withdraw, to: ProductStatus) -> Result<(), ContractError> {
    tx.check_text("reasons", &w.reasons, true)?;
    let mut d = load_product(tx, &w.product)?;
    if to == ProductStatus::Deregistered {
        owner_only(tx, &d.provider, "deregister this product")?;
    }
    status(
        &d,
        &[
            ProductStatus::Submitted,
            ProductStatus::Reviewed,
            ProductStatus::Registered,
            ProductStatus::Listed,
            ProductStatus::Suspended,
        ],
        "withdrawal",
    )?;
    d.status = to;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn deregister(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Deregister = decode_payload(payload)?;
    withdraw(tx, p.0, ProductStatus::Deregistered)
}

pub(crate) fn revoke_product(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RevokeProduct = decode_payload(payload)?;
    withdraw(tx, p.0, ProductStatus::Revoked)
}
