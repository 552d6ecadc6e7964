//! Data-trading payloads and handlers. Rule codes: `data.negative_list`,
//! `data.important_needs_regulator`, `data.product_must_be_registered`,
//! `data.owner_only`, `data.status`, `data.delivery_digest_matches`,
//! `data.delivery_within_term`, `data.inspection_period`,
//! `data.no_settlement_before_acceptance`, `data.final_states`,
//! `data.transfer_only_if_transferable`, `data.use_within_scope`,
//! `data.use_within_term`, `data.party_only`, `data.joint_punishment`,
//! `data.exchange_suspension`, `data.frozen`, `data.delivery_matches_mode`,
//! `data.deletion_after_licence`, `data.derived_from_own_licence`,
//! `data.derived_resale`, `data.holder_shares`. Deemed acceptance (silence past the inspection
//! period) lets `settle` proceed; an acceptance whose digest does not match disputes
//! the trade.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Role, Uscc};
use serde::{Deserialize, Serialize};

use crate::data::types::*;
use crate::data::{product_key, trade_key};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

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
    /// For a derived dataset: the signer's licence (trade id) it was derived from; its
    /// version hash must be a derived dataset recorded under that licence.
    pub source_licence: Option<String>,
    /// Rights holders with their shares of settlements (basis points summing to
    /// 10 000, each above 0, no organisation twice); empty: the provider alone.
    pub holders: Vec<RightsHolder>,
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

/// `data.reinstate`: the exchange lifts a suspension (its own or the owner's).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reinstate {
    /// Product id.
    pub product: String,
}
payload!(Reinstate, "reinstate");

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
    /// Digest of what was delivered (for API and compute-in-place deliveries: of the
    /// data the job ran on).
    pub digest: Hash,
    /// The compute job and its result: required for API and compute-in-place
    /// deliveries, absent for downloads.
    pub job: Option<ComputeJob>,
}
payload!(Deliver, "deliver");

/// `data.accept`: the buyer accepts with the digest it computed on what it received
/// (`jialing data digest FILE`; for API and compute-in-place deliveries, the hash of
/// the result). A digest that does not match turns the acceptance into a dispute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Accept {
    /// Trade id.
    pub trade: String,
    /// The digest the buyer computed.
    pub digest: Hash,
}
payload!(Accept, "accept");

/// `data.dispute`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Dispute {
    /// Trade id.
    pub trade: String,
    /// Grounds.
    pub grounds: String,
    /// Hash of the evidence, if any.
    pub evidence: Option<Hash>,
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
    /// Scenario of this use (must be the licence's).
    pub scenario: String,
    /// Fields used (each must be licensed).
    pub fields: Vec<String>,
    /// How the data was accessed (must be the licence's delivery mode).
    pub mode: DeliveryMode,
    /// Hash of a derived dataset, if one was produced.
    pub derived: Option<Hash>,
}
payload!(RecordUse, "record_use");

pub(super) fn rule(code: &'static str, detail: String) -> ContractError {
    ContractError::rule(code, detail)
}

pub(super) fn load_product(tx: &Tx<'_>, id: &str) -> Result<DataProduct, ContractError> {
    tx.require("data product", id, &product_key(id))
}

pub(super) fn load_trade(tx: &Tx<'_>, id: &str) -> Result<Trade, ContractError> {
    tx.require("trade", id, &trade_key(id))
}

pub(super) fn save_product(tx: &mut Tx<'_>, p: &DataProduct) {
    tx.tag(TagKind::DataProduct, p.id.clone());
    tx.put(product_key(&p.id), p);
}

pub(super) fn save_trade(tx: &mut Tx<'_>, t: &Trade) {
    tx.tag(TagKind::Licence, t.id.clone());
    tx.tag(TagKind::DataProduct, t.product.clone());
    tx.put(trade_key(&t.id), t);
}

/// `data.frozen`: nothing moves on a product or licence a regulator froze.
pub(super) fn not_frozen(
    frozen: &Option<FreezeRecord>,
    what: &str,
    id: &str,
    action: &str,
) -> Result<(), ContractError> {
    if let Some(f) = frozen {
        return Err(rule(
            "data.frozen",
            format!("{what} {id} is frozen by {} ({}): no {action} until the regulator unfreezes it", f.by, f.reasons),
        ));
    }
    Ok(())
}

/// The trade's licensee or provider: the parties.
pub(super) fn party_only(tx: &Tx<'_>, t: &Trade, what: &str) -> Result<(), ContractError> {
    if tx.org() != &t.provider && tx.org() != &t.licensee {
        return Err(rule(
            "data.party_only",
            format!("only the parties {} and {} may {what} trade {}", t.provider, t.licensee, t.id),
        ));
    }
    Ok(())
}

/// Settles what is left in escrow after refunds: the exchange's fee, the rest to the
/// product's rights holders by share. The licence becomes active.
pub(super) fn settle_money(tx: &Tx<'_>, t: &mut Trade, how: Acceptance) -> Result<(), ContractError> {
    let d = load_product(tx, &t.product)?;
    let base = t.escrowed_fen.saturating_sub(t.refunded_fen);
    let fee = u128::from(base) * u128::from(tx.params().data.fee_bps.min(10_000)) / 10_000;
    t.fee_fen = u64::try_from(fee).unwrap_or(base).min(base);
    t.paid_fen = base - t.fee_fen;
    t.payouts = super::assets::split(t.paid_fen, &super::assets::holders_of(&d));
    t.acceptance = Some(how);
    t.status = TradeStatus::Settled;
    Ok(())
}

pub(super) fn status(p: &DataProduct, allowed: &[ProductStatus], what: &str) -> Result<(), ContractError> {
    if !allowed.contains(&p.status) {
        return Err(rule("data.status", format!("{what} is not allowed on product {} in status {:?}", p.id, p.status)));
    }
    Ok(())
}

pub(super) fn trade_status(t: &Trade, allowed: &[TradeStatus], what: &str, now_ms: u64) -> Result<(), ContractError> {
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

pub(super) fn not_punished(tx: &Tx<'_>, org: &Uscc) -> Result<(), ContractError> {
    if crate::credit::is_under_joint_punishment(tx, org)? {
        return Err(rule(
            "data.joint_punishment",
            format!("{org} is on the serious-dishonesty list: no data registration, listing or licence until repaired"),
        ));
    }
    Ok(())
}

pub(super) fn owner_only(tx: &Tx<'_>, owner: &Uscc, what: &str) -> Result<(), ContractError> {
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
    tx.check_list("holders", p.holders.len())?;
    if !p.holders.is_empty() {
        let sum: u64 = p.holders.iter().map(|h| u64::from(h.share_bps)).sum();
        let dup = p.holders.iter().enumerate().any(|(i, a)| p.holders[..i].iter().any(|b| b.org == a.org));
        if sum != 10_000 || dup || p.holders.iter().any(|h| h.share_bps == 0) {
            return Err(rule(
                "data.holder_shares",
                format!(
                    "rights holders' shares sum to {sum} bps; they must sum to 10000, each above 0, no holder twice"
                ),
            ));
        }
        for h in &p.holders {
            let o: Option<crate::membership::Organisation> = tx.get(&crate::keys::org(&h.org))?;
            if !o.is_some_and(|o| o.active) {
                return Err(ContractError::NotFound { what: "active member organisation", id: h.org.to_string() });
            }
        }
    }
    if let Some(lic) = &p.source_licence {
        let t = load_trade(tx, lic)?;
        if tx.org() != &t.licensee {
            return Err(rule(
                "data.derived_from_own_licence",
                format!("licence {lic} is held by {}: a derived dataset names a licence of its provider", t.licensee),
            ));
        }
        if !t.derived.contains(&p.version_hash) {
            return Err(rule(
                "data.derived_from_own_licence",
                format!(
                    "{} is not a derived dataset recorded under licence {lic}: record the use that produced it first",
                    p.version_hash
                ),
            ));
        }
        let mut source = load_product(tx, &t.product)?;
        tx.check_list("derived products", source.derived_products.len() + 1)?;
        source.derived_products.push(p.id.clone());
        save_product(tx, &source);
        tx.tag(TagKind::Licence, lic.clone());
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
        suspended_by_exchange: false,
        frozen: None,
        objections: vec![],
        source_licence: p.source_licence,
        derived_products: vec![],
        holders: p.holders,
        valuations: vec![],
        voucher: None,
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
    if d.status == ProductStatus::Suspended && d.suspended_by_exchange {
        return Err(rule(
            "data.exchange_suspension",
            format!("product {} was suspended by the exchange; only the exchange reinstates it", d.id),
        ));
    }
    not_frozen(&d.frozen, "product", &d.id, "listing")?;
    if let Some(lic) = &d.source_licence {
        let t = load_trade(tx, lic)?;
        if !t.terms.derived_resale {
            return Err(rule(
                "data.derived_resale",
                format!("product {} is derived from licence {lic}, which does not allow resale of derived data", d.id),
            ));
        }
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
    let by_exchange = tx.has_role(Role::Exchange) && tx.org() != &d.provider;
    if !by_exchange {
        owner_only(tx, &d.provider, "suspend this listing")?;
    }
    status(&d, &[ProductStatus::Listed], "suspension")?;
    d.status = ProductStatus::Suspended;
    d.suspended_by_exchange = by_exchange;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn reinstate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Reinstate = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Suspended], "reinstatement")?;
    not_frozen(&d.frozen, "product", &d.id, "listing")?;
    d.status = ProductStatus::Listed;
    d.suspended_by_exchange = false;
    save_product(tx, &d);
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
    t.escrowed_fen = p.amount_fen;
    t.status = TradeStatus::Escrowed;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn deliver(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Deliver = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    owner_only(tx, &t.provider, "deliver for this trade")?;
    trade_status(&t, &[TradeStatus::Escrowed], "delivery", tx.time_ms())?;
    not_frozen(&t.frozen, "licence", &t.id, "delivery")?;
    let now = tx.time_ms();
    if now < t.terms.start_ms || now >= t.terms.end_ms {
        return Err(rule(
            "data.delivery_within_term",
            format!("delivery at {now} ms is outside the licence term [{}, {})", t.terms.start_ms, t.terms.end_ms),
        ));
    }
    let d = load_product(tx, &t.product)?;
    not_frozen(&d.frozen, "product", &d.id, "delivery")?;
    if !matches!(d.status, ProductStatus::Registered | ProductStatus::Listed | ProductStatus::Suspended) {
        return Err(rule(
            "data.product_must_be_registered",
            format!("product {} is {:?}: nothing is delivered from it", d.id, d.status),
        ));
    }
    if p.digest != d.version_hash {
        return Err(rule(
            "data.delivery_digest_matches",
            format!("delivered digest {} is not the registered version hash {}", p.digest, d.version_hash),
        ));
    }
    match (t.terms.delivery_mode, &p.job) {
        (DeliveryMode::Download, None) => {}
        (DeliveryMode::Api | DeliveryMode::ComputeInPlace, Some(j)) => {
            crate::trace::rules::id_format("job id", &j.job_id)?;
        }
        (mode, job) => {
            return Err(rule(
                "data.delivery_matches_mode",
                format!(
                    "licence {} is delivered by {mode:?}: a compute job (id and result hash) is {} for it",
                    t.id,
                    if job.is_some() { "not expected" } else { "required" }
                ),
            ));
        }
    }
    t.compute_job = p.job;
    t.buyer_digest = None;
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
    let until = t.inspection_until(tx.params().data.inspection_period_ms);
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
    // What the buyer received: the result of the job, or the data itself.
    let expected = match &t.compute_job {
        Some(j) => j.result_hash,
        None => t.delivered_hash.unwrap_or(Hash::ZERO),
    };
    t.buyer_digest = Some(p.digest);
    if p.digest == expected {
        t.status = TradeStatus::Accepted;
        t.acceptance = Some(Acceptance::Buyer);
    } else {
        // data.acceptance_digest_mismatch_disputes: the receipt is Ok, the trade is disputed.
        t.status = TradeStatus::Disputed;
        t.dispute = Some(DisputeRecord {
            grounds: format!("the buyer's digest {} is not the delivered {expected}", p.digest),
            evidence: None,
            automatic: true,
            at_ms: tx.time_ms(),
        });
    }
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
    t.dispute = Some(DisputeRecord { grounds: p.grounds, evidence: p.evidence, automatic: false, at_ms: tx.time_ms() });
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn settle(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Settle = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    let inspection_over = t.inspection_until(tx.params().data.inspection_period_ms) < tx.time_ms();
    let how = match t.status {
        TradeStatus::Accepted => Acceptance::Buyer,
        // data.deemed_acceptance: silence past the inspection period is acceptance.
        TradeStatus::Delivered if inspection_over => Acceptance::Deemed,
        _ => {
            return Err(rule(
                "data.no_settlement_before_acceptance",
                format!(
                    "trade {} is {:?}; settlement needs the buyer's acceptance or the end of the inspection period \
                     without a dispute",
                    t.id, t.status
                ),
            ));
        }
    };
    settle_money(tx, &mut t, how)?;
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
    not_frozen(&t.frozen, "licence", &t.id, "transfer")?;
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
    not_frozen(&t.frozen, "licence", &t.id, "use")?;
    if !t.active_at(tx.time_ms()) {
        return Err(rule(
            "data.use_within_term",
            format!(
                "licence {} is not active now (status {:?}, term [{}, {}))",
                t.id, t.status, t.terms.start_ms, t.terms.end_ms
            ),
        ));
    }
    tx.check_list("fields", p.fields.len())?;
    let outside = if p.purpose != t.terms.purpose {
        Some(format!("purpose {:?} is not the licensed purpose {:?}", p.purpose, t.terms.purpose))
    } else if p.scenario != t.terms.scenario {
        Some(format!("scenario {:?} is not the licensed scenario {:?}", p.scenario, t.terms.scenario))
    } else if let Some(f) = p.fields.iter().find(|f| !t.terms.fields.contains(f)) {
        Some(format!("field {f:?} is not among the licensed fields {:?}", t.terms.fields))
    } else if p.mode != t.terms.delivery_mode {
        Some(format!("access by {:?} is not the licensed delivery mode {:?}", p.mode, t.terms.delivery_mode))
    } else {
        None
    };
    if let Some(why) = outside {
        return Err(rule("data.use_within_scope", format!("{why}: use outside the licence is a breach")));
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
        &[
            TradeStatus::Negotiating,
            TradeStatus::ComplianceChecked,
            TradeStatus::Contracted,
            TradeStatus::Escrowed,
            TradeStatus::Delivered,
            TradeStatus::Accepted,
            TradeStatus::Disputed,
            TradeStatus::Settled,
        ],
        "termination",
        tx.time_ms(),
    )?;
    // Money still in escrow goes back to the buyer, recorded as a refund.
    t.refunded_fen = t.refunded_fen.saturating_add(t.held_fen());
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
