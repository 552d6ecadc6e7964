//! Contract parameters: numbers the rules use, held on the ledger and changed only by
//! governance (never hard-coded in a rule).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// One day in milliseconds.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The parameters in force. Every field has a default (see [`Params::default`]), so a
/// genesis file only lists what it changes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Version of this parameter set; bumped by every governance change.
    pub version: u32,
    /// Longest text field accepted in any contract payload, in bytes.
    pub max_text_len: u32,
    /// Most items in any list inside a payload (inputs, test items, ...).
    pub max_list_len: u32,
    /// Greatest clock skew allowed between an event's own time and block time, in ms:
    /// events may not be dated after block time plus this.
    pub max_event_future_ms: u64,
    /// Transformation: greatest declared yield, in per-mille of input quantity (for
    /// example 1000 = outputs may not exceed inputs).
    pub max_transformation_yield_permille: u32,
    /// Data-trading parameters.
    pub data: crate::data::DataParams,
    /// Credit parameters.
    pub credit: crate::credit::CreditParams,
    /// Governance parameters.
    pub governance: crate::governance::GovernanceParams,
    /// Consensus limits on a block's size, enforced by every validator and auditor.
    pub block: BlockLimits,
}

/// How large a block may be: consensus parameters (genesis, changed by governance), so
/// every node judges a block by the same limits whatever its local settings. Protocol
/// bounds (`jialing_core::block::MAX_BLOCK_TXS`, `MAX_BLOCK_BYTES`) cap them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockLimits {
    /// Most transactions in one block.
    pub max_txs: u32,
    /// Most bytes of transactions (sum of their canonical encodings) in one block.
    pub max_bytes: u32,
}

impl Default for BlockLimits {
    fn default() -> Self {
        BlockLimits { max_txs: 20_000, max_bytes: 8 * 1024 * 1024 }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            version: 1,
            max_text_len: 1024,
            max_list_len: 256,
            max_event_future_ms: 5 * 60 * 1000,
            max_transformation_yield_permille: 1000,
            data: Default::default(),
            credit: Default::default(),
            governance: Default::default(),
            block: Default::default(),
        }
    }
}
