//! Before a contract: the buyer (or the exchange, after a match) opens a negotiation
//! on a listed product, the parties revise the terms, the exchange checks the deal's
//! compliance, and both parties sign the same contract document hash (one transaction
//! each); the second signature makes the trade `Contracted`. Rule codes:
//! `data.party_only`, `data.frozen`, `data.product_must_be_registered`,
//! `data.contract_document_matches`, `data.status`, `data.joint_punishment`.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Role, Uscc};
use serde::{Deserialize, Serialize};

use super::methods::{load_product, load_trade, not_frozen, not_punished, party_only, rule, save_trade, trade_status};
use super::trade_key;
use super::types::*;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// `data.negotiate`: opens a trade on a listed product (the buyer for itself, or the
/// exchange for a buyer after a match).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Negotiate {
    /// New trade id.
    pub id: String,
    /// Product id.
    pub product: String,
    /// The buyer.
    pub buyer: Uscc,
    /// The terms proposed.
    pub terms: Terms,
}
payload!(Negotiate, "negotiate");

/// `data.revise`: a party revises the terms while negotiating.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Revise {
    /// Trade id.
    pub trade: String,
    /// The new terms.
    pub terms: Terms,
}
payload!(Revise, "revise");

/// `data.check_compliance`: the exchange records its compliance check of the deal.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CheckCompliance {
    /// Trade id.
    pub trade: String,
    /// Hash of the compliance report.
    pub report: Hash,
}
payload!(CheckCompliance, "check_compliance");

/// `data.sign`: a party signs the contract document (by its hash).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Sign {
    /// Trade id.
    pub trade: String,
    /// Hash of the contract document.
    pub document: Hash,
}
payload!(Sign, "sign");

fn check_terms(tx: &Tx<'_>, terms: &Terms) -> Result<(), ContractError> {
    tx.check_text("terms.purpose", &terms.purpose, true)?;
    tx.check_text("terms.scenario", &terms.scenario, false)?;
    tx.check_list("terms.fields", terms.fields.len())?;
    for f in &terms.fields {
        tx.check_text("terms.fields", f, true)?;
    }
    let max = tx.params().data.inspection_period_ms;
    if terms.inspection_period_ms.is_some_and(|p| p == 0 || p > max) {
        return Err(ContractError::InvalidArgument {
            field: "terms.inspection_period_ms",
            reason: format!("an agreed inspection period is more than 0 and at most the exchange's {max} ms"),
        });
    }
    if terms.end_ms <= terms.start_ms {
        return Err(ContractError::InvalidArgument {
            field: "terms",
            reason: "the term must end after it starts".into(),
        });
    }
    Ok(())
}

pub(super) fn listed_product(tx: &Tx<'_>, id: &str, action: &str) -> Result<DataProduct, ContractError> {
    let d = load_product(tx, id)?;
    not_frozen(&d.frozen, "product", &d.id, action)?;
    if d.status != ProductStatus::Listed {
        return Err(rule(
            "data.product_must_be_registered",
            format!("product {} is {:?}: only listed products are licensed", d.id, d.status),
        ));
    }
    Ok(d)
}

pub(crate) fn negotiate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Negotiate = decode_payload(payload)?;
    if !tx.has_role(Role::Exchange) && tx.org() != &p.buyer {
        return Err(rule(
            "data.party_only",
            format!("a buyer opens negotiations for itself; the signer is of {}, not {}", tx.org(), p.buyer),
        ));
    }
    open_trade(tx, p)
}

/// Opens a trade in `Negotiating` (a buyer's own, or the exchange's after a match).
pub(super) fn open_trade(tx: &mut Tx<'_>, p: Negotiate) -> Result<(), ContractError> {
    crate::trace::rules::id_format("trade id", &p.id)?;
    check_terms(tx, &p.terms)?;
    let d = listed_product(tx, &p.product, "new trade")?;
    if d.provider == p.buyer {
        return Err(ContractError::InvalidArgument {
            field: "buyer",
            reason: format!("{} provides product {}: it cannot buy its own data", p.buyer, d.id),
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
        status: TradeStatus::Negotiating,
        compliance_report: None,
        contract_document: None,
        provider_signed: false,
        buyer_signed: false,
        escrowed_fen: 0,
        delivered_hash: None,
        delivered_ms: 0,
        compute_job: None,
        buyer_digest: None,
        acceptance: None,
        dispute: None,
        arbitrations: vec![],
        fee_fen: 0,
        paid_fen: 0,
        refunded_fen: 0,
        payouts: vec![],
        frozen: None,
        uses: 0,
        derived: vec![],
        deletion_attested: None,
    };
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn revise(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Revise = decode_payload(payload)?;
    check_terms(tx, &p.terms)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Negotiating], "revising the terms", tx.time_ms())?;
    party_only(tx, &t, "revise the terms of")?;
    t.terms = p.terms;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn check_compliance(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: CheckCompliance = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::Negotiating], "compliance check", tx.time_ms())?;
    listed_product(tx, &t.product, "compliance check")?;
    not_punished(tx, &t.provider)?;
    not_punished(tx, &t.licensee)?;
    t.compliance_report = Some(p.report);
    t.status = TradeStatus::ComplianceChecked;
    save_trade(tx, &t);
    Ok(())
}

pub(crate) fn sign(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Sign = decode_payload(payload)?;
    let mut t = load_trade(tx, &p.trade)?;
    trade_status(&t, &[TradeStatus::ComplianceChecked], "signing", tx.time_ms())?;
    party_only(tx, &t, "sign the contract of")?;
    if let Some(doc) = t.contract_document.filter(|d| *d != p.document) {
        return Err(rule(
            "data.contract_document_matches",
            format!("the other party signed contract document {doc}; {} is a different document", p.document),
        ));
    }
    let already = if tx.org() == &t.provider { t.provider_signed } else { t.buyer_signed };
    if already {
        return Err(rule("data.status", format!("{} already signed the contract of trade {}", tx.org(), t.id)));
    }
    if tx.org() == &t.provider {
        t.provider_signed = true;
    } else {
        t.buyer_signed = true;
    }
    t.contract_document = Some(p.document);
    if t.provider_signed && t.buyer_signed {
        t.status = TradeStatus::Contracted;
    }
    save_trade(tx, &t);
    Ok(())
}
