//! Matching as records: a buyer posts a data demand (category, purpose, budget range,
//! expiry); providers answer it with a listed product of theirs in that category and
//! within the budget; the exchange records the match, which opens the negotiation
//! (a `Negotiating` trade for the demand's buyer) and closes the demand. Rule codes:
//! `data.demand_open`, `data.answer_matches_demand`, `data.owner_only`,
//! `data.product_must_be_registered`, `data.frozen`.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Uscc;
use serde::{Deserialize, Serialize};

use super::demand_key;
use super::methods::{owner_only, rule};
use super::negotiation::{Negotiate, listed_product, open_trade};
use super::types::Terms;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// A demand's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandStatus {
    /// Open for answers (until it expires).
    Open,
    /// Matched by the exchange (a negotiation was opened).
    Matched,
}

/// A provider's answer to a demand.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Answer {
    /// The product offered.
    pub product: String,
    /// Its provider.
    pub provider: Uscc,
    /// When (block time), ms.
    pub at_ms: u64,
}

/// A buyer's data demand.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Demand {
    /// Demand id.
    pub id: String,
    /// The buyer.
    pub buyer: Uscc,
    /// Category of data wanted.
    pub category: String,
    /// Purpose of use.
    pub purpose: String,
    /// Lowest price the buyer considers, fen.
    pub budget_min_fen: u64,
    /// Highest price the buyer pays, fen.
    pub budget_max_fen: u64,
    /// Open until (block time), ms (exclusive).
    pub expires_ms: u64,
    /// Status.
    pub status: DemandStatus,
    /// Answers, oldest first.
    pub answers: Vec<Answer>,
    /// The trade the match opened.
    pub matched_trade: Option<String>,
}

impl Demand {
    /// Whether providers may still answer at `now_ms`.
    pub fn open_at(&self, now_ms: u64) -> bool {
        self.status == DemandStatus::Open && now_ms < self.expires_ms
    }
}

/// A listed product as the public market shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Product id.
    pub product: String,
    /// Provider.
    pub provider: Uscc,
    /// Title.
    pub title: String,
    /// Category.
    pub category: String,
    /// Kind.
    pub kind: super::types::DataKind,
    /// Listing price, fen.
    pub price_fen: Option<u64>,
    /// Data code.
    pub data_code: Option<String>,
    /// The latest valuation still valid, fen.
    pub valuation_fen: Option<u64>,
}

/// The listing of a product on sale now (listed and not frozen), else `None`.
pub fn listing(d: &super::types::DataProduct, now_ms: u64) -> Option<Listing> {
    (d.status == super::types::ProductStatus::Listed && d.frozen.is_none()).then(|| Listing {
        product: d.id.clone(),
        provider: d.provider.clone(),
        title: d.title.clone(),
        category: d.category.clone(),
        kind: d.kind,
        price_fen: d.price_fen,
        data_code: d.data_code.clone(),
        valuation_fen: d.valuations.iter().rev().find(|v| now_ms < v.valid_until_ms).map(|v| v.value_fen),
    })
}

/// `data.post_demand`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PostDemand {
    /// New demand id.
    pub id: String,
    /// Category of data wanted.
    pub category: String,
    /// Purpose of use.
    pub purpose: String,
    /// Lowest price considered, fen.
    pub budget_min_fen: u64,
    /// Highest price paid, fen.
    pub budget_max_fen: u64,
    /// Open until (block time), ms.
    pub expires_ms: u64,
}
payload!(PostDemand, "post_demand");

/// `data.answer_demand`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnswerDemand {
    /// Demand id.
    pub demand: String,
    /// The signer's listed product offered.
    pub product: String,
}
payload!(AnswerDemand, "answer_demand");

/// `data.record_match`: the exchange matches a demand with one of its answers and
/// opens the negotiation with proposed terms.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordMatch {
    /// Demand id.
    pub demand: String,
    /// The answering product chosen.
    pub product: String,
    /// New trade id.
    pub trade: String,
    /// Proposed terms (purpose: the demand's; price within its budget).
    pub terms: Terms,
}
payload!(RecordMatch, "record_match");

fn load(tx: &Tx<'_>, id: &str) -> Result<Demand, ContractError> {
    tx.require("demand", id, &demand_key(id))
}

fn save(tx: &mut Tx<'_>, d: &Demand) {
    tx.tag(TagKind::Org, d.buyer.to_string());
    tx.put(demand_key(&d.id), d);
}

fn open(tx: &Tx<'_>, d: &Demand) -> Result<(), ContractError> {
    if !d.open_at(tx.time_ms()) {
        return Err(rule(
            "data.demand_open",
            format!(
                "demand {} is {:?} and open until {} ms: it takes no more answers or matches",
                d.id, d.status, d.expires_ms
            ),
        ));
    }
    Ok(())
}

fn within_budget(d: &Demand, price_fen: u64, what: &str) -> Result<(), ContractError> {
    if price_fen < d.budget_min_fen || price_fen > d.budget_max_fen {
        return Err(rule(
            "data.answer_matches_demand",
            format!(
                "{what} {price_fen} fen is outside demand {}'s budget [{}, {}]",
                d.id, d.budget_min_fen, d.budget_max_fen
            ),
        ));
    }
    Ok(())
}

pub(crate) fn post_demand(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: PostDemand = decode_payload(payload)?;
    crate::trace::rules::id_format("demand id", &p.id)?;
    tx.check_text("category", &p.category, true)?;
    tx.check_text("purpose", &p.purpose, true)?;
    if p.budget_min_fen > p.budget_max_fen || p.expires_ms <= tx.time_ms() {
        return Err(ContractError::InvalidArgument {
            field: "demand",
            reason: "the budget's minimum is at most its maximum, and the demand expires after it is posted".into(),
        });
    }
    if tx.get_raw(&demand_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "demand", id: p.id });
    }
    let d = Demand {
        id: p.id,
        buyer: tx.org().clone(),
        category: p.category,
        purpose: p.purpose,
        budget_min_fen: p.budget_min_fen,
        budget_max_fen: p.budget_max_fen,
        expires_ms: p.expires_ms,
        status: DemandStatus::Open,
        answers: vec![],
        matched_trade: None,
    };
    save(tx, &d);
    Ok(())
}

pub(crate) fn answer_demand(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: AnswerDemand = decode_payload(payload)?;
    let mut d = load(tx, &p.demand)?;
    open(tx, &d)?;
    let prod = listed_product(tx, &p.product, "answer")?;
    owner_only(tx, &prod.provider, "offer this product")?;
    if prod.category != d.category {
        return Err(rule(
            "data.answer_matches_demand",
            format!("product {} is {:?} data; demand {} asks for {:?}", prod.id, prod.category, d.id, d.category),
        ));
    }
    within_budget(&d, prod.price_fen.unwrap_or(0), "the listing price")?;
    if d.answers.iter().any(|a| a.product == prod.id) {
        return Err(ContractError::AlreadyExists { what: "answer", id: format!("{} to {}", prod.id, d.id) });
    }
    tx.check_list("answers", d.answers.len() + 1)?;
    d.answers.push(Answer { product: prod.id.clone(), provider: prod.provider.clone(), at_ms: tx.time_ms() });
    tx.tag(TagKind::DataProduct, prod.id);
    save(tx, &d);
    Ok(())
}

pub(crate) fn record_match(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordMatch = decode_payload(payload)?;
    let mut d = load(tx, &p.demand)?;
    open(tx, &d)?;
    if !d.answers.iter().any(|a| a.product == p.product) {
        return Err(rule(
            "data.answer_matches_demand",
            format!("product {} did not answer demand {}", p.product, d.id),
        ));
    }
    if p.terms.purpose != d.purpose {
        return Err(rule(
            "data.answer_matches_demand",
            format!("the terms' purpose {:?} is not the demand's {:?}", p.terms.purpose, d.purpose),
        ));
    }
    within_budget(&d, p.terms.price_fen, "the proposed price")?;
    open_trade(tx, Negotiate { id: p.trade.clone(), product: p.product, buyer: d.buyer.clone(), terms: p.terms })?;
    d.status = DemandStatus::Matched;
    d.matched_trade = Some(p.trade);
    save(tx, &d);
    Ok(())
}
