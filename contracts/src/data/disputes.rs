//! Disputes and their ends: the exchange arbitrates a disputed trade (deliver again,
//! partial or full refund, or settle) with the award's document hash; any member may
//! object to a product's registration with evidence, and the exchange upholds the
//! objection (product cancelled) or dismisses it (product registered again). Rule
//! codes: `data.status`, `data.refund_within_escrow`.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Hash;
use serde::{Deserialize, Serialize};

use super::methods::{load_product, load_trade, rule, save_product, save_trade, settle_money, status, trade_status};
use super::types::*;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::decode_payload;

/// `data.arbitrate`: the exchange's award on a disputed trade.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Arbitrate {
    /// Trade id.
    pub trade: String,
    /// The decision.
    pub outcome: Outcome,
    /// Hash of the award document.
    pub document: Hash,
}
payload!(Arbitrate, "arbitrate");

/// `data.object`: a member objects to a product's registration.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Object {
    /// Product id.
    pub product: String,
    /// Grounds.
    pub grounds: String,
    /// Hash of the evidence.
    pub evidence: Hash,
}
payload!(Object, "object");

/// `data.decide_objection`: the exchange decides the open objections to a product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DecideObjection {
    /// Product id.
    pub product: String,
    /// `true`: upheld, the product is cancelled; `false`: dismissed, it is registered
    /// again (its owner lists it again).
    pub upheld: bool,
    /// Hash of the decision document.
    pub document: Hash,
}
payload!(DecideObjection, "decide_objection");

pub(crate) fn arbitrate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Arbitrate = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Disputed], "arbitration", tx.time_ms())?;
    tx.check_list("arbitrations", t.arbitrations.len() + 1)?;
    match p.outcome {
        Outcome::Redeliver => {
            t.status = TradeStatus::Escrowed;
            t.delivered_hash = None;
            t.compute_job = None;
            t.buyer_digest = None;
        }
        Outcome::PartialRefund { refund_fen } => {
            if refund_fen == 0 || refund_fen >= t.escrowed_fen {
                return Err(rule(
                    "data.refund_within_escrow",
                    format!(
                        "a partial refund is more than 0 and less than the {} fen in escrow, not {refund_fen}; \
                         use full_refund or settle",
                        t.escrowed_fen
                    ),
                ));
            }
            t.refunded_fen = refund_fen;
            settle_money(tx, &mut t, Acceptance::Arbitrated)?;
        }
        Outcome::FullRefund => {
            t.refunded_fen = t.escrowed_fen;
            t.status = TradeStatus::Refunded;
        }
        Outcome::Settle => settle_money(tx, &mut t, Acceptance::Arbitrated)?,
    }
    t.arbitrations.push(ArbitrationRecord {
        by: tx.org().clone(),
        outcome: p.outcome,
        document: p.document,
        at_ms: tx.time_ms(),
    });
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn object(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Object = decode_payload(payload)?;
    tx.check_text("grounds", &p.grounds, true)?;
    let mut d = load_product(tx, &p.product)?;
    status(
        &d,
        &[ProductStatus::Registered, ProductStatus::Listed, ProductStatus::Suspended, ProductStatus::Disputed],
        "an objection",
    )?;
    tx.check_list("objections", d.objections.len() + 1)?;
    d.objections.push(Objection {
        by: tx.org().clone(),
        grounds: p.grounds,
        evidence: p.evidence,
        at_ms: tx.time_ms(),
        upheld: None,
        decision: None,
    });
    d.status = ProductStatus::Disputed;
    d.suspended_by_exchange = false;
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn decide_objection(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: DecideObjection = decode_payload(payload)?;
    let mut d = load_product(tx, &p.product)?;
    status(&d, &[ProductStatus::Disputed], "deciding objections")?;
    for o in d.objections.iter_mut().filter(|o| o.upheld.is_none()) {
        o.upheld = Some(p.upheld);
        o.decision = Some(p.document);
    }
    d.status = if p.upheld { ProductStatus::Cancelled } else { ProductStatus::Registered };
    save_product(tx, &d);
    Ok(())
}
