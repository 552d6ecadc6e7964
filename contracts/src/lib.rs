//! # jialing-contracts
//!
//! The rule contracts and the state machine that applies a block. Everything here is
//! pure and deterministic: the same committed state and the same transactions give the
//! same writes, receipts and roots, byte for byte, on every machine. There is no clock
//! (time is the block's header time), no randomness, no floats and no hash-map
//! iteration.
//!
//! Shape:
//! - [`state`]: the read-only view of committed state and the write overlays.
//! - [`executor`]: [`executor::BlockExecutor`] admits and executes transactions one by
//!   one and finishes a block into writes, receipts and roots.
//! - [`registry`]: the table of contract methods, each with the roles allowed to call it.
//! - [`membership`], [`trace`], [`data`], [`credit`], [`governance`], [`anchor`]: the
//!   contracts.
//! - [`receipt`]: what each transaction produced, including why it was refused.
//! - [`visibility`]: the read policy (who may read each payload and state value).

pub mod anchor;
pub mod attest;
pub mod block_validator;
pub mod credit;
pub mod data;
pub mod error;
pub mod executor;
pub mod genesis_state;
pub mod governance;
pub mod keys;
pub mod membership;
pub mod params;
pub mod receipt;
pub mod registry;
pub mod state;
pub mod testkit;
pub mod trace;
pub mod visibility;

pub use error::{AdmissionError, ContractError};
pub use executor::{BlockContext, BlockExecutor, BlockOutcome, Tx};
pub use receipt::{IndexTag, Receipt, TagKind, TxStatus};
pub use registry::{CallPayload, Method};
pub use state::{MemState, StateView};
