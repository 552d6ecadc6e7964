//! Data-trading state: products and trades (licences).

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

/// What kind of data product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// A dataset.
    Dataset,
    /// A report.
    Report,
    /// An index.
    Index,
    /// An API.
    Api,
    /// Encrypted data ("usable but not visible").
    Encrypted,
}

/// Security classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Public.
    Public,
    /// Internal.
    Internal,
    /// Sensitive.
    Sensitive,
    /// Important data (Data Security Law): needs the data regulator's approval.
    Important,
}

/// A product's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Submitted by the provider.
    Submitted,
    /// Reviewed by the exchange (compliance report recorded).
    Reviewed,
    /// Registered: certificate number and data code issued.
    Registered,
    /// Rejected (final).
    Rejected,
    /// Listed for sale.
    Listed,
    /// Listing suspended (by its owner, or by the exchange: see
    /// [`DataProduct::suspended_by_exchange`]).
    Suspended,
    /// Withdrawn by its owner (final).
    Deregistered,
    /// Revoked by the exchange, e.g. for false materials (final).
    Revoked,
    /// Under objection: a member challenged the registration; the exchange decides.
    Disputed,
    /// Cancelled after an upheld objection (final).
    Cancelled,
}

/// A member's objection to a product's registration, and the exchange's decision.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Objection {
    /// The objecting organisation.
    pub by: Uscc,
    /// Grounds.
    pub grounds: String,
    /// Hash of the evidence.
    pub evidence: Hash,
    /// When it was lodged (block time), ms.
    pub at_ms: u64,
    /// The exchange's decision: `Some(true)` upheld (product cancelled), `Some(false)`
    /// dismissed (product registered again), `None` open.
    pub upheld: Option<bool>,
    /// Hash of the decision document.
    pub decision: Option<Hash>,
}

/// A regulator's freeze of a product or a licence.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FreezeRecord {
    /// The regulator organisation.
    pub by: Uscc,
    /// Reasons.
    pub reasons: String,
    /// Hash of the freeze decision.
    pub document: Hash,
    /// When (block time), ms.
    pub at_ms: u64,
}

/// A data product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DataProduct {
    /// Product id.
    pub id: String,
    /// Provider organisation.
    pub provider: Uscc,
    /// Title.
    pub title: String,
    /// Category (checked against the negative list).
    pub category: String,
    /// Kind.
    pub kind: DataKind,
    /// Classification.
    pub classification: Classification,
    /// Holds personal information.
    pub personal_info: bool,
    /// SHA-256 (or Merkle root of chunks) of the registered version.
    pub version_hash: Hash,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Status.
    pub status: ProductStatus,
    /// The exchange's compliance report hash.
    pub compliance_report: Option<Hash>,
    /// The data regulator's approval (important data).
    pub regulator_approved: bool,
    /// Registration certificate number.
    pub certificate_no: Option<String>,
    /// Data code ("one product, one code").
    pub data_code: Option<String>,
    /// Listing price, fen.
    pub price_fen: Option<u64>,
    /// Whether the current suspension is the exchange's (only the exchange lifts it).
    pub suspended_by_exchange: bool,
    /// The regulator's freeze in force, if any.
    pub frozen: Option<FreezeRecord>,
    /// Objections lodged against the registration, oldest first.
    pub objections: Vec<Objection>,
    /// For a derived dataset: the licence (trade id) whose data it was derived from.
    pub source_licence: Option<String>,
    /// Products registered as derived from licences of this product (lineage
    /// downstream), oldest first.
    pub derived_products: Vec<String>,
    /// Rights holders and their shares of settlements (basis points summing to 10 000);
    /// empty means the provider alone.
    pub holders: Vec<RightsHolder>,
    /// Valuations by certified appraisers, oldest first.
    pub valuations: Vec<Valuation>,
    /// The data asset voucher issued for this product, if any.
    pub voucher: Option<String>,
}

/// A rights holder of a product and its share of every settlement.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RightsHolder {
    /// The organisation.
    pub org: Uscc,
    /// Share, basis points (all shares of a product sum to 10 000).
    pub share_bps: u32,
}

/// One holder's part of a settlement.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Payout {
    /// The rights holder.
    pub org: Uscc,
    /// Paid, fen.
    pub fen: u64,
}

/// How a valuation was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuationMethod {
    /// Cost approach.
    Cost,
    /// Income approach.
    Income,
    /// Market approach.
    Market,
}

/// A certified appraiser's valuation of a product.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Valuation {
    /// The appraiser organisation.
    pub appraiser: Uscc,
    /// Method.
    pub method: ValuationMethod,
    /// Value, fen.
    pub value_fen: u64,
    /// Hash of the valuation report.
    pub report: Hash,
    /// When it was recorded (block time), ms.
    pub at_ms: u64,
    /// Valid until (block time), ms (exclusive).
    pub valid_until_ms: u64,
}

/// An organisation certified for valuation (by the data regulator).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Appraiser {
    /// The organisation.
    pub org: Uscc,
    /// Hash of the certification.
    pub certificate: Hash,
    /// Certified until (block time), ms (exclusive).
    pub valid_until_ms: u64,
}

/// A voucher's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    /// Held freely: may be transferred or pledged.
    Active,
    /// Pledged to a lender: cannot be transferred until the lender releases it.
    Pledged,
}

/// One step in a voucher's life.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VoucherEvent {
    /// `issued`, `transferred`, `pledged` or `released`.
    pub kind: String,
    /// Who recorded it.
    pub by: Uscc,
    /// The new holder or the lender, where there is one.
    pub to: Option<Uscc>,
    /// Hash of the document (pledge contract, release), where there is one.
    pub document: Option<Hash>,
    /// When (block time), ms.
    pub at_ms: u64,
}

/// A data asset voucher (数据资产凭证): issued by the exchange to the rights holder of a
/// registered product; transferred, pledged and released on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Voucher {
    /// Voucher id.
    pub id: String,
    /// The product it stands for.
    pub product: String,
    /// Current holder.
    pub holder: Uscc,
    /// Status.
    pub status: VoucherStatus,
    /// The lender while pledged.
    pub pledgee: Option<Uscc>,
    /// The product's latest valid valuation at issue, fen.
    pub value_fen: Option<u64>,
    /// Its life, oldest first.
    pub events: Vec<VoucherEvent>,
}

/// How data is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Download.
    Download,
    /// API access.
    Api,
    /// Compute in place ("usable but not visible").
    ComputeInPlace,
}

/// Licence terms.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Terms {
    /// Purpose of use.
    pub purpose: String,
    /// Scenario of use.
    pub scenario: String,
    /// Fields licensed.
    pub fields: Vec<String>,
    /// Term start, ms.
    pub start_ms: u64,
    /// Term end, ms (exclusive).
    pub end_ms: u64,
    /// Price, fen.
    pub price_fen: u64,
    /// May the licence move to another buyer.
    pub transferable: bool,
    /// May derived data be resold.
    pub derived_resale: bool,
    /// Delivery mode.
    pub delivery_mode: DeliveryMode,
    /// The inspection period the parties agreed, ms (at most the exchange's
    /// `inspection_period_ms`, which applies when absent).
    pub inspection_period_ms: Option<u64>,
}

/// A trade and its licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeStatus {
    /// Provider and buyer are negotiating the terms.
    Negotiating,
    /// The exchange checked the deal's compliance; the parties sign the contract.
    ComplianceChecked,
    /// Contract signed by both parties (same document hash).
    Contracted,
    /// Paid into escrow.
    Escrowed,
    /// Delivered (digest recorded).
    Delivered,
    /// Accepted by the buyer.
    Accepted,
    /// Disputed by the buyer.
    Disputed,
    /// Settled: the licence is active (until its term ends).
    Settled,
    /// Revoked for breach (final).
    Revoked,
    /// Terminated early by agreement, recorded by the exchange (final); money still
    /// in escrow went back to the buyer.
    Terminated,
    /// Ended by arbitration with a full refund to the buyer (final).
    Refunded,
}

/// How a delivery came to be accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acceptance {
    /// The buyer accepted, with the digest it computed on what it received.
    Buyer,
    /// Deemed: the inspection period passed without a dispute.
    Deemed,
    /// By arbitration of a dispute.
    Arbitrated,
}

/// A buyer's dispute of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DisputeRecord {
    /// Grounds.
    pub grounds: String,
    /// Hash of the evidence, if any.
    pub evidence: Option<Hash>,
    /// Raised automatically because the buyer's digest did not match.
    pub automatic: bool,
    /// When (block time), ms.
    pub at_ms: u64,
}

/// What an arbitrator decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The provider delivers again (the trade goes back to escrowed).
    Redeliver,
    /// Part of the escrow goes back to the buyer; the rest is settled (the licence
    /// becomes active at the reduced price).
    PartialRefund {
        /// Refunded to the buyer, fen (less than the escrowed amount, more than 0).
        refund_fen: u64,
    },
    /// Everything goes back to the buyer; the trade ends (final).
    FullRefund,
    /// The delivery stands: the trade is settled as if accepted.
    Settle,
}

/// An arbitration decision on a dispute.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ArbitrationRecord {
    /// The arbitrating organisation.
    pub by: Uscc,
    /// The decision.
    pub outcome: Outcome,
    /// Hash of the arbitration award document.
    pub document: Hash,
    /// When (block time), ms.
    pub at_ms: u64,
}

/// A compute-in-place ("usable but not visible") or API delivery: the job run on the
/// provider's side and the hash of its result, instead of the data itself.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ComputeJob {
    /// The job's id on the compute platform.
    pub job_id: String,
    /// Hash of the job's definition (code, query).
    pub job_hash: Hash,
    /// Hash of the result handed to the buyer.
    pub result_hash: Hash,
}

/// A trade between a provider and a buyer, and the licence it becomes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Trade {
    /// Trade (licence) id.
    pub id: String,
    /// Product id.
    pub product: String,
    /// Provider.
    pub provider: Uscc,
    /// Current licensee.
    pub licensee: Uscc,
    /// Terms.
    pub terms: Terms,
    /// Status.
    pub status: TradeStatus,
    /// The exchange's compliance report on the deal.
    pub compliance_report: Option<Hash>,
    /// Hash of the contract document the parties sign.
    pub contract_document: Option<Hash>,
    /// The provider signed the contract document.
    pub provider_signed: bool,
    /// The buyer signed the contract document.
    pub buyer_signed: bool,
    /// Paid into escrow by the buyer, fen.
    pub escrowed_fen: u64,
    /// Delivered digest.
    pub delivered_hash: Option<Hash>,
    /// Delivery time (block time), ms.
    pub delivered_ms: u64,
    /// The compute job, for compute-in-place deliveries.
    pub compute_job: Option<ComputeJob>,
    /// The digest the buyer computed on what it received.
    pub buyer_digest: Option<Hash>,
    /// How the delivery was accepted.
    pub acceptance: Option<Acceptance>,
    /// The open or last dispute.
    pub dispute: Option<DisputeRecord>,
    /// Arbitration decisions, oldest first.
    pub arbitrations: Vec<ArbitrationRecord>,
    /// The exchange's fee, fen (at settlement).
    pub fee_fen: u64,
    /// Paid to the provider, fen (at settlement).
    pub paid_fen: u64,
    /// Refunded to the buyer, fen.
    pub refunded_fen: u64,
    /// Each rights holder's part of `paid_fen` (at settlement).
    pub payouts: Vec<Payout>,
    /// The regulator's freeze in force, if any.
    pub frozen: Option<FreezeRecord>,
    /// Uses recorded.
    pub uses: u32,
    /// Derived datasets recorded (hashes): lineage.
    pub derived: Vec<Hash>,
    /// The licensee's attestation that it deleted the data (hash of the certificate).
    pub deletion_attested: Option<Hash>,
}

impl Trade {
    /// The end of the buyer's inspection period (block time), ms: after it, silence is
    /// acceptance.
    pub fn inspection_until(&self, default_ms: u64) -> u64 {
        self.delivered_ms.saturating_add(self.terms.inspection_period_ms.unwrap_or(default_ms).min(default_ms))
    }

    /// Whether the licence is active at `now_ms` (settled and within its term).
    pub fn active_at(&self, now_ms: u64) -> bool {
        self.status == TradeStatus::Settled && now_ms >= self.terms.start_ms && now_ms < self.terms.end_ms
    }

    /// Whether the licence is over for good (revoked, terminated, refunded or past its
    /// term).
    pub fn final_at(&self, now_ms: u64) -> bool {
        matches!(self.status, TradeStatus::Revoked | TradeStatus::Terminated | TradeStatus::Refunded)
            || (self.status == TradeStatus::Settled && now_ms >= self.terms.end_ms)
    }

    /// Money the exchange still holds in escrow for this trade, fen: everything paid in
    /// while the trade is between escrow and settlement, nothing before or after.
    pub fn held_fen(&self) -> u64 {
        match self.status {
            TradeStatus::Escrowed | TradeStatus::Delivered | TradeStatus::Accepted | TradeStatus::Disputed => {
                self.escrowed_fen
            }
            _ => 0,
        }
    }

    /// Escrow conservation: money in = settled + fees + refunds + still held.
    pub fn escrow_balances(&self) -> bool {
        u128::from(self.escrowed_fen)
            == u128::from(self.paid_fen)
                + u128::from(self.fee_fen)
                + u128::from(self.refunded_fen)
                + u128::from(self.held_fen())
    }
}
