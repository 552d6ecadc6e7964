//! # jialing-core
//!
//! The pure heart of Jialing: ledger types, their one canonical binary encoding,
//! SHA-256 hashing, domain-separated ed25519 signatures, RFC 9162 Merkle trees with
//! inclusion and consistency proofs, and the authenticated state tree.
//!
//! Nothing in this crate performs IO, reads the clock or draws randomness (except
//! [`crypto::Keypair::generate`], which callers use at the edge). Every function is
//! deterministic, so consensus, execution and verification built on it can be tested
//! in simulation and re-run by auditors with identical results.

pub mod block;
pub mod calendar;
pub mod chain_identity;
pub mod checkpoint;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod hash;
pub mod history;
pub mod membership;
pub mod merkle;
pub mod proof;
pub mod query;
pub mod query_log;
pub mod resident_id;
pub mod state_tree;
pub mod tx;

pub use block::{Block, BlockHeader, CommitCertificate, CommitSignature, Validator, ValidatorSet, Vote, VoteKind};
pub use crypto::{Keypair, PublicKey, Purpose, Signature};
pub use error::CoreError;
pub use hash::{Hash, sha256};
pub use membership::{Role, Uscc};
pub use tx::{SignedTransaction, Transaction, TxHash};
