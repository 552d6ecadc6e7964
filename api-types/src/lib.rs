//! # jialing-api-types
//!
//! The node's HTTP API responses (docs/api.md) as types, shared by the node (which
//! serialises them) and the client (which deserialises them), so the two cannot drift.
//! Only data: no IO, no logic beyond serde.

use jialing_core::{Hash, PublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The headers of a signed `POST /epcis/capture` (docs/api.md): the member's signature
/// of the `trace.epcis_capture` transaction the node rebuilds from the body
/// (`jialing_contracts::trace::epcis_capture::capture_tx`).
pub mod capture_headers {
    /// The signing member's public key (hex).
    pub const SIGNER: &str = "Jialing-Signer";
    /// The signer's nonce for this transaction (decimal; `GET /v1/nonce/{key}`).
    pub const NONCE: &str = "Jialing-Nonce";
    /// The signature (hex) of the transaction's hash.
    pub const SIGNATURE: &str = "Jialing-Signature";
    /// EPCIS 2.0's `captureErrorBehaviour`: `rollback` (the default) or `proceed`.
    pub const ERROR_BEHAVIOUR: &str = "GS1-Capture-Error-Behaviour";
}

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable error code and a message saying what was wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case code (docs/api.md lists them).
    pub code: String,
    /// What was wrong and what to do.
    pub message: String,
}

/// The answer of `POST /v1/txs`: one line per submitted transaction, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchResults {
    /// One result per submitted transaction, in order.
    pub results: Vec<BatchResult>,
}

/// One transaction's fate in a batch. A typed record, not a JSON map built per
/// transaction: a batch answer is thousands of these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    /// Whether it entered the mempool.
    pub accepted: bool,
    /// Why not (absent when accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
    /// Its hash (null if it was not accepted).
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub hash: Option<Hash>,
}

/// What became of a transaction in a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Executed.
    Ok,
    /// Refused by a rule; changed nothing but the signer's nonce.
    Refused,
    /// No receipt (yet): pending, or the store lacks it.
    Unknown,
}

/// One transaction in an object's history (`/v1/history/*`, `/v1/org/*`, `/v1/lot/*`),
/// or the public part of one the caller may not read (`restricted`: no signer,
/// arguments or refusal message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, ms.
    pub time_ms: u64,
    /// Transaction hash.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub tx_hash: Hash,
    /// Contract.
    pub contract: String,
    /// Method.
    pub method: String,
    /// Signer (absent in the public part of a restricted transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub signer: Option<PublicKey>,
    /// Outcome.
    pub status: Outcome,
    /// Refusal code.
    #[serde(default)]
    pub code: Option<String>,
    /// Refusal message (absent in the public part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Decoded arguments (absent in the public part).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub args: Value,
    /// Only the public part is shown: the caller may not read this transaction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
}

/// `GET /v1/history/{kind}/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct History {
    /// Oldest first.
    pub history: Vec<HistoryEntry>,
}

/// `GET /v1/audit/queries`: a node's query log as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueryLog {
    /// The log's identity (the node's query audience), as anchored on the ledger.
    pub log: String,
    /// Entries when the answer was read.
    pub count: u64,
    /// SHA-256 of the last line.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub head: Hash,
    /// The JSON lines, exactly as written (each with `seq` and `prev`).
    pub lines: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_public_part_carries_no_signer_arguments_or_message() {
        let e = HistoryEntry {
            height: 3,
            index: 0,
            time_ms: 9,
            tx_hash: Hash([1; 32]),
            contract: "credit".into(),
            method: "record".into(),
            signer: None,
            status: Outcome::Refused,
            code: Some("credit.x".into()),
            message: None,
            args: Value::Null,
            restricted: true,
        };
        let v = serde_json::to_value(&e).unwrap();
        for field in ["signer", "args", "message"] {
            assert!(v.get(field).is_none(), "{field} in {v}");
        }
        assert_eq!(v["restricted"], true);
        assert_eq!(serde_json::from_value::<HistoryEntry>(v).unwrap(), e);
    }
}
