//! Receipts: what each transaction in a block produced.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, encoding};
use serde::{Deserialize, Serialize};

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Executed; its writes are in the block's state.
    Ok,
    /// Refused by a rule; it changed nothing but its signer's nonce.
    Refused {
        /// Stable error code (see `ContractError::code`).
        code: String,
        /// What exactly was wrong.
        message: String,
    },
}

/// What an index entry refers to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TagKind {
    /// An organisation (USCC).
    Org,
    /// A member key (hex).
    Key,
    /// A traceability product code.
    Product,
    /// A lot id.
    Lot,
    /// A data product id.
    DataProduct,
    /// A data trade or licence id.
    Licence,
    /// A credit subject (USCC or salted person hash).
    CreditSubject,
    /// A credit record id.
    CreditRecord,
    /// A governance proposal id.
    Proposal,
    /// EPCIS events recorded by `trace.record_epcis_event` (one id, `all`), in chain
    /// order: what `GET /epcis/events` pages through.
    EpcisEvent,
}

/// An index entry: this transaction touched `kind`/`id`. The store indexes these so
/// histories (of a lot, of an organisation) are one range scan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IndexTag {
    /// The kind of object.
    pub kind: TagKind,
    /// Its id.
    pub id: String,
}

/// The receipt of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: Hash,
    /// Its outcome.
    pub status: TxStatus,
    /// Objects it touched (empty when refused, except the signer's organisation).
    pub tags: Vec<IndexTag>,
}

impl Receipt {
    /// The hash committed in the block's receipts root.
    pub fn hash(&self) -> Hash {
        encoding::sha256_of(self)
    }

    /// Whether the transaction executed.
    pub fn is_ok(&self) -> bool {
        matches!(self.status, TxStatus::Ok)
    }
}
