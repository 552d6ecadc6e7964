//! Data as an asset: the data regulator certifies appraisers; a certified appraiser
//! (never the product's provider or a rights holder) records a valuation of a
//! registered product (method, value, report hash, validity); the exchange issues a data
//! asset voucher (数据资产凭证) to the product's rights holder, which its holder may
//! transfer or pledge to a lender, and the lender releases. Each step is a transaction
//! and an event on the voucher. Rule codes: `data.appraiser_certified`,
//! `data.appraiser_independent`, `data.one_voucher_per_product`,
//! `data.pledged_voucher_locked`, `data.owner_only`, `data.party_only`, `data.frozen`,
//! `data.product_must_be_registered`.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use super::methods::{load_product, not_frozen, owner_only, rule, save_product};
use super::types::*;
use super::{appraiser_key, voucher_key};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// `data.certify_appraiser`: the data regulator certifies an organisation for valuation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CertifyAppraiser {
    /// The organisation.
    pub org: Uscc,
    /// Hash of the certification.
    pub certificate: Hash,
    /// Certified until (block time), ms.
    pub valid_until_ms: u64,
}
payload!(CertifyAppraiser, "certify_appraiser");

/// `data.appraise`: a certified appraiser's valuation of a product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Appraise {
    /// Product id.
    pub product: String,
    /// Method.
    pub method: ValuationMethod,
    /// Value, fen.
    pub value_fen: u64,
    /// Hash of the valuation report.
    pub report: Hash,
    /// Valid until (block time), ms.
    pub valid_until_ms: u64,
}
payload!(Appraise, "appraise");

/// `data.issue_voucher`: the exchange issues a voucher for a registered product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssueVoucher {
    /// New voucher id.
    pub id: String,
    /// Product id.
    pub product: String,
}
payload!(IssueVoucher, "issue_voucher");

/// `data.transfer_voucher`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransferVoucher {
    /// Voucher id.
    pub voucher: String,
    /// The new holder.
    pub to: Uscc,
}
payload!(TransferVoucher, "transfer_voucher");

/// `data.pledge_voucher`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PledgeVoucher {
    /// Voucher id.
    pub voucher: String,
    /// The lender.
    pub lender: Uscc,
    /// Hash of the pledge contract.
    pub contract: Hash,
}
payload!(PledgeVoucher, "pledge_voucher");

/// `data.release_voucher`: the lender releases the pledge.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ReleaseVoucher {
    /// Voucher id.
    pub voucher: String,
    /// Hash of the release document.
    pub document: Hash,
}
payload!(ReleaseVoucher, "release_voucher");

const REGISTERED: [ProductStatus; 3] = [ProductStatus::Registered, ProductStatus::Listed, ProductStatus::Suspended];

fn registered(d: &DataProduct, what: &str) -> Result<(), ContractError> {
    if !REGISTERED.contains(&d.status) {
        return Err(rule(
            "data.product_must_be_registered",
            format!("product {} is {:?}: {what} needs a registered product", d.id, d.status),
        ));
    }
    Ok(())
}

fn active_org(tx: &Tx<'_>, org: &Uscc) -> Result<(), ContractError> {
    let o: Option<crate::membership::Organisation> = tx.get(&crate::keys::org(org))?;
    if !o.is_some_and(|o| o.active) {
        return Err(ContractError::NotFound { what: "active member organisation", id: org.to_string() });
    }
    Ok(())
}

/// The rights holders of a product (the provider alone when none were named).
pub fn holders_of(d: &DataProduct) -> Vec<RightsHolder> {
    if d.holders.is_empty() {
        vec![RightsHolder { org: d.provider.clone(), share_bps: 10_000 }]
    } else {
        d.holders.clone()
    }
}

/// Splits `paid_fen` among rights holders by share; the rounding remainder goes to the
/// first holder, so the parts always sum to `paid_fen`.
pub fn split(paid_fen: u64, holders: &[RightsHolder]) -> Vec<Payout> {
    let mut out: Vec<Payout> = holders
        .iter()
        .map(|h| {
            let part = u128::from(paid_fen) * u128::from(h.share_bps.min(10_000)) / 10_000;
            Payout { org: h.org.clone(), fen: u64::try_from(part).unwrap_or(0) }
        })
        .collect();
    let given: u64 = out.iter().map(|p| p.fen).fold(0u64, u64::saturating_add);
    if let Some(first) = out.first_mut() {
        first.fen = first.fen.saturating_add(paid_fen.saturating_sub(given));
    }
    out
}

fn load_voucher(tx: &Tx<'_>, id: &str) -> Result<Voucher, ContractError> {
    tx.require("voucher", id, &voucher_key(id))
}

fn save_voucher(tx: &mut Tx<'_>, v: &Voucher) {
    tx.tag(TagKind::DataProduct, v.product.clone());
    tx.tag(TagKind::Org, v.holder.to_string());
    tx.put(voucher_key(&v.id), v);
}

fn event(
    tx: &Tx<'_>,
    v: &mut Voucher,
    kind: &str,
    to: Option<Uscc>,
    document: Option<Hash>,
) -> Result<(), ContractError> {
    tx.check_list("voucher events", v.events.len() + 1)?;
    v.events.push(VoucherEvent { kind: kind.into(), by: tx.org().clone(), to, document, at_ms: tx.time_ms() });
    Ok(())
}

pub(crate) fn certify_appraiser(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: CertifyAppraiser = decode_payload(payload)?;
    active_org(tx, &p.org)?;
    if p.valid_until_ms <= tx.time_ms() {
        return Err(ContractError::InvalidArgument {
            field: "valid_until_ms",
            reason: "a certification ends after it is recorded".into(),
        });
    }
    tx.tag(TagKind::Org, p.org.to_string());
    let a = Appraiser { org: p.org, certificate: p.certificate, valid_until_ms: p.valid_until_ms };
    tx.put(appraiser_key(&a.org), &a);
    Ok(())
}

pub(crate) fn appraise(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Appraise = decode_payload(payload)?;
    let org = tx.org().clone();
    let cert: Option<Appraiser> = tx.get(&appraiser_key(&org))?;
    if cert.is_none_or(|c| tx.time_ms() >= c.valid_until_ms) {
        return Err(rule(
            "data.appraiser_certified",
            format!("{org} holds no valid appraiser certification from the data regulator"),
        ));
    }
    let mut d = load_product(tx, &p.product)?;
    registered(&d, "a valuation")?;
    if holders_of(&d).iter().any(|h| h.org == org) {
        return Err(rule(
            "data.appraiser_independent",
            format!("{org} is a rights holder of product {}: it may not value it", d.id),
        ));
    }
    if p.valid_until_ms <= tx.time_ms() || p.value_fen == 0 {
        return Err(ContractError::InvalidArgument {
            field: "valuation",
            reason: "a valuation has a value above 0 and is valid after it is recorded".into(),
        });
    }
    tx.check_list("valuations", d.valuations.len() + 1)?;
    d.valuations.push(Valuation {
        appraiser: org,
        method: p.method,
        value_fen: p.value_fen,
        report: p.report,
        at_ms: tx.time_ms(),
        valid_until_ms: p.valid_until_ms,
    });
    save_product(tx, &d);
    Ok(())
}

pub(crate) fn issue_voucher(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: IssueVoucher = decode_payload(payload)?;
    crate::trace::rules::id_format("voucher id", &p.id)?;
    let mut d = load_product(tx, &p.product)?;
    registered(&d, "a voucher")?;
    not_frozen(&d.frozen, "product", &d.id, "voucher")?;
    if let Some(v) = &d.voucher {
        return Err(rule("data.one_voucher_per_product", format!("product {} already has voucher {v}", d.id)));
    }
    if tx.get_raw(&voucher_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "voucher", id: p.id });
    }
    let now = tx.time_ms();
    let value_fen = d.valuations.iter().rev().find(|v| now < v.valid_until_ms).map(|v| v.value_fen);
    let holder = holders_of(&d).first().map_or_else(|| d.provider.clone(), |h| h.org.clone());
    let mut v = Voucher {
        id: p.id,
        product: d.id.clone(),
        holder: holder.clone(),
        status: VoucherStatus::Active,
        pledgee: None,
        value_fen,
        events: vec![],
    };
    event(tx, &mut v, "issued", Some(holder), None)?;
    d.voucher = Some(v.id.clone());
    save_product(tx, &d);
    save_voucher(tx, &v);
    Ok(())
}

fn held(tx: &Tx<'_>, id: &str, what: &str) -> Result<Voucher, ContractError> {
    let v = load_voucher(tx, id)?;
    owner_only(tx, &v.holder, what)?;
    if v.status == VoucherStatus::Pledged {
        return Err(rule(
            "data.pledged_voucher_locked",
            format!(
                "voucher {} is pledged to {}: the lender releases it first",
                v.id,
                v.pledgee.as_ref().map_or("?".into(), |p| p.to_string())
            ),
        ));
    }
    let d = load_product(tx, &v.product)?;
    registered(&d, what)?;
    not_frozen(&d.frozen, "product", &d.id, what)?;
    Ok(v)
}

pub(crate) fn transfer_voucher(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: TransferVoucher = decode_payload(payload)?;
    let mut v = held(tx, &p.voucher, "transfer this voucher")?;
    active_org(tx, &p.to)?;
    event(tx, &mut v, "transferred", Some(p.to.clone()), None)?;
    tx.tag(TagKind::Org, v.holder.to_string());
    v.holder = p.to;
    save_voucher(tx, &v);
    Ok(())
}

pub(crate) fn pledge_voucher(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: PledgeVoucher = decode_payload(payload)?;
    let mut v = held(tx, &p.voucher, "pledge this voucher")?;
    active_org(tx, &p.lender)?;
    if p.lender == v.holder {
        return Err(ContractError::InvalidArgument {
            field: "lender",
            reason: "a holder does not pledge to itself".into(),
        });
    }
    event(tx, &mut v, "pledged", Some(p.lender.clone()), Some(p.contract))?;
    tx.tag(TagKind::Org, p.lender.to_string());
    v.status = VoucherStatus::Pledged;
    v.pledgee = Some(p.lender);
    save_voucher(tx, &v);
    Ok(())
}

pub(crate) fn release_voucher(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: ReleaseVoucher = decode_payload(payload)?;
    let mut v = load_voucher(tx, &p.voucher)?;
    let Some(lender) = v.pledgee.clone().filter(|_| v.status == VoucherStatus::Pledged) else {
        return Err(rule("data.status", format!("voucher {} is not pledged", v.id)));
    };
    if tx.org() != &lender {
        return Err(rule("data.party_only", format!("only the lender {lender} releases voucher {}", v.id)));
    }
    event(tx, &mut v, "released", None, Some(p.document))?;
    tx.tag(TagKind::Org, lender.to_string());
    v.status = VoucherStatus::Active;
    v.pledgee = None;
    save_voucher(tx, &v);
    Ok(())
}
