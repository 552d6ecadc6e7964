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
    /// Listing suspended.
    Suspended,
    /// Withdrawn by its owner (final).
    Deregistered,
    /// Revoked by the exchange, e.g. for false materials (final).
    Revoked,
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
}

/// A trade and its licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeStatus {
    /// Contract recorded.
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
    /// Terminated early by agreement, recorded by the exchange (final).
    Terminated,
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
    /// Delivered digest.
    pub delivered_hash: Option<Hash>,
    /// Delivery time (block time), ms.
    pub delivered_ms: u64,
    /// The exchange's fee, fen (at settlement).
    pub fee_fen: u64,
    /// Paid to the provider, fen (at settlement).
    pub paid_fen: u64,
    /// Uses recorded.
    pub uses: u32,
    /// Derived datasets recorded (hashes): lineage.
    pub derived: Vec<Hash>,
    /// The licensee's attestation that it deleted the data (hash of the certificate).
    pub deletion_attested: Option<Hash>,
}

impl Trade {
    /// Whether the licence is active at `now_ms` (settled and within its term).
    pub fn active_at(&self, now_ms: u64) -> bool {
        self.status == TradeStatus::Settled && now_ms >= self.terms.start_ms && now_ms < self.terms.end_ms
    }

    /// Whether the licence is over for good (revoked or past its term).
    pub fn final_at(&self, now_ms: u64) -> bool {
        matches!(self.status, TradeStatus::Revoked | TradeStatus::Terminated)
            || (self.status == TradeStatus::Settled && now_ms >= self.terms.end_ms)
    }
}
