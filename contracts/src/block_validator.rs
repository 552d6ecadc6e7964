//! The one block validator: whether a block may follow its parent, judged only from
//! the block's own bytes, the parent, the validator set and committed state.
//!
//! A validator voting on a proposal, a node applying a synced block, the auditor's
//! replay from genesis, the fuzz targets and the contract test kit all call
//! [`validate_block`], so two honest parties can never disagree about a block. It is
//! pure: no clock (bounds against a local clock are the caller's, and only for fresh
//! proposals), no IO beyond the [`StateView`] it is given.
//!
//! Checks run cheapest first, so a hostile block costs as little as possible:
//! 1. header fields against the parent (chain, height, parent hash, history root, time
//!    after the parent's, transaction count, validator set, proposer in the set);
//! 2. the consensus limits in force ([`crate::params::BlockLimits`]) and each
//!    transaction's size and shape;
//! 3. `tx_root` over the transactions' entry hashes (body and signature);
//! 4. admission and execution of every transaction (membership, nonce, duplicates);
//! 5. `state_root` and `receipts_root` against re-execution;
//! 6. the signatures not already verified, in one batch (the signature verdict does not
//!    depend on batching: see `jialing_core::crypto`).
//!
//! A storage failure is never a verdict: it is [`BlockError::Storage`], and the node
//! must stop rather than vote nil on a block it could not read state for.

use jialing_core::history::Frontier;
use jialing_core::state_tree::StateTree;
use jialing_core::tx::MAX_TX_BYTES;
use jialing_core::{Block, BlockHeader, Hash, Purpose, TxHash, ValidatorSet, crypto};

use crate::error::AdmissionError;
use crate::executor::{BlockContext, BlockExecutor, BlockOutcome};
use crate::state::StateView;

/// What a block is judged against: the block it extends and the set that certifies it.
#[derive(Clone, Copy, Debug)]
pub struct Parent<'a> {
    /// The parent's header.
    pub header: &'a BlockHeader,
    /// The parent's hash.
    pub hash: Hash,
    /// The validator set in force after the parent (it certifies the new block).
    pub validators: &'a ValidatorSet,
    /// The history accumulator over the hashes of blocks `0..=parent` (the parent
    /// included): the new block's `history_root` must be its root.
    pub history: &'a Frontier,
}

/// Why a block is invalid: the fault of whoever proposed or sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    /// A header field is wrong.
    #[error("header field {field}: {reason}")]
    Header {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The block exceeds a consensus limit.
    #[error("block holds {got} {what}, the limit in force is {limit}")]
    Limit {
        /// Which limit (`transactions` or `bytes of transactions`).
        what: &'static str,
        /// The limit.
        limit: u64,
        /// The block's figure.
        got: u64,
    },
    /// A transaction is malformed (too large or a bad name).
    #[error("transaction #{index} ({hash}) is malformed: {reason}")]
    Malformed {
        /// Position in the block.
        index: usize,
        /// The transaction hash.
        hash: TxHash,
        /// What is wrong.
        reason: String,
    },
    /// A transaction's signature does not verify.
    #[error("transaction #{index} ({hash}) has a bad signature")]
    BadSignature {
        /// Position in the block.
        index: usize,
        /// The transaction hash.
        hash: TxHash,
    },
    /// A transaction may not be in the block.
    #[error("transaction #{index} ({hash}) is not admissible: {reason}")]
    Inadmissible {
        /// Position in the block.
        index: usize,
        /// The transaction hash.
        hash: TxHash,
        /// Why.
        reason: AdmissionError,
    },
    /// A root does not match the transactions or their re-execution.
    #[error("{what} mismatch: header says {header}, the block gives {computed}")]
    Root {
        /// Which root.
        what: &'static str,
        /// In the header.
        header: Hash,
        /// Computed.
        computed: Hash,
    },
}

/// The outcome of [`validate_block`] when it is not a verdict of validity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidBlock),
    /// State could not be read: a local failure, not a verdict on the block.
    #[error("state read failed while validating the block: {0}")]
    Storage(String),
}

/// A valid block's execution result.
#[derive(Debug)]
pub struct ValidBlock {
    /// The transaction hashes, in block order.
    pub hashes: Vec<TxHash>,
    /// Writes, receipts, roots and the state tree after the block.
    pub outcome: BlockOutcome,
}

/// Checks `block` against its parent, the validator set and committed `state` (whose
/// tree is `tree`). `already_verified(index, hash, signature)` says whether the caller
/// has already verified that exact signature (e.g. a mempool copy with the same
/// signature); all others are verified here. See the module doc for the order of checks.
pub fn validate_block(
    parent: Parent<'_>,
    state: &dyn StateView,
    tree: &StateTree,
    block: &Block,
    already_verified: &dyn Fn(usize, &TxHash, &jialing_core::Signature) -> bool,
) -> Result<ValidBlock, BlockError> {
    let hashes: Vec<TxHash> = block.txs.iter().map(|stx| stx.hash()).collect();
    validate_block_hashed(parent, state, tree, block, &hashes, already_verified)
}

/// [`validate_block`] for a caller that has already computed the hash of each of the
/// block's transactions (`hashes[i]` is `block.txs[i].hash()`), so that they are not
/// computed again. A list of another length is the caller's fault, reported as a local
/// error, never as a verdict on the block.
pub fn validate_block_hashed(
    parent: Parent<'_>,
    state: &dyn StateView,
    tree: &StateTree,
    block: &Block,
    hashes: &[TxHash],
    already_verified: &dyn Fn(usize, &TxHash, &jialing_core::Signature) -> bool,
) -> Result<ValidBlock, BlockError> {
    if hashes.len() != block.txs.len() {
        return Err(BlockError::Storage(format!(
            "{} transaction hashes given for a block of {} transactions",
            hashes.len(),
            block.txs.len()
        )));
    }
    let h = &block.header;
    let p = parent.header;
    let bad = |field, reason: String| Err(BlockError::Invalid(InvalidBlock::Header { field, reason }));
    if h.chain_id != p.chain_id {
        return bad("chain_id", format!("{:?} is not this chain ({:?})", h.chain_id, p.chain_id));
    }
    if h.height != p.height.saturating_add(1) {
        return bad("height", format!("{} does not follow the parent's {}", h.height, p.height));
    }
    if h.parent_hash != parent.hash {
        return bad("parent_hash", format!("{} is not the parent {}", h.parent_hash, parent.hash));
    }
    if parent.history.size() != p.height.saturating_add(1) {
        // The caller's accumulator is out of step with its chain: a local fault.
        return Err(BlockError::Storage(format!(
            "the history accumulator holds {} blocks, the parent is at height {}",
            parent.history.size(),
            p.height
        )));
    }
    let history_root = parent.history.root();
    if h.history_root != history_root {
        return bad(
            "history_root",
            format!(
                "{} is not the history of blocks 0..={} ({history_root}, RFC 9162 over their hashes)",
                h.history_root, p.height
            ),
        );
    }
    if h.time_ms <= p.time_ms {
        return bad("time_ms", format!("{} is not after the parent's {}", h.time_ms, p.time_ms));
    }
    if h.tx_count as usize != block.txs.len() {
        return bad("tx_count", format!("{} but the block has {} transactions", h.tx_count, block.txs.len()));
    }
    if h.validator_set_hash != parent.validators.hash() {
        return bad(
            "validator_set_hash",
            format!("{} is not the validator set in force ({})", h.validator_set_hash, parent.validators.hash()),
        );
    }
    if parent.validators.get(&h.proposer).is_none() {
        return bad("proposer", format!("{} is not a validator", h.proposer));
    }

    let ctx = BlockContext { chain_id: h.chain_id.clone(), height: h.height, time_ms: h.time_ms };
    let mut exec = BlockExecutor::new(state, ctx).map_err(storage_or_header)?;
    let limits = exec.params().block.clone();
    if block.txs.len() > limits.max_txs as usize {
        return Err(InvalidBlock::Limit {
            what: "transactions",
            limit: limits.max_txs as u64,
            got: block.txs.len() as u64,
        }
        .into());
    }
    let mut bytes = 0u64;
    for (index, (stx, &hash)) in block.txs.iter().zip(hashes).enumerate() {
        let len = stx.encoded_len();
        if len > MAX_TX_BYTES {
            let reason = format!("{len} bytes, the largest transaction is {MAX_TX_BYTES}");
            return Err(InvalidBlock::Malformed { index, hash, reason }.into());
        }
        stx.tx.check_shape().map_err(|e| InvalidBlock::Malformed { index, hash, reason: e.to_string() })?;
        bytes += len as u64;
    }
    if bytes > limits.max_bytes as u64 {
        return Err(
            InvalidBlock::Limit { what: "bytes of transactions", limit: limits.max_bytes as u64, got: bytes }.into()
        );
    }
    let tx_root = Block::tx_root_of_txs(&block.txs, hashes);
    if tx_root != h.tx_root {
        return Err(InvalidBlock::Root { what: "tx_root", header: h.tx_root, computed: tx_root }.into());
    }

    for (index, (stx, hash)) in block.txs.iter().zip(hashes).enumerate() {
        match exec.execute(stx, *hash) {
            Ok(_) => {}
            Err(AdmissionError::Storage(e)) => return Err(BlockError::Storage(e)),
            Err(reason) => return Err(InvalidBlock::Inadmissible { index, hash: *hash, reason }.into()),
        }
    }
    let outcome = exec.finish(tree);
    if outcome.state_root != h.state_root {
        return Err(
            InvalidBlock::Root { what: "state_root", header: h.state_root, computed: outcome.state_root }.into()
        );
    }
    if outcome.receipts_root != h.receipts_root {
        return Err(InvalidBlock::Root {
            what: "receipts_root",
            header: h.receipts_root,
            computed: outcome.receipts_root,
        }
        .into());
    }

    let todo: Vec<(usize, crypto::SignedDigest)> = block
        .txs
        .iter()
        .zip(hashes)
        .enumerate()
        .filter(|(i, (stx, hash))| !already_verified(*i, hash, &stx.signature))
        .map(|(i, (stx, hash))| (i, stx.signed_digest(*hash)))
        .collect();
    let items: Vec<crypto::SignedDigest> = todo.iter().map(|(_, it)| it.clone()).collect();
    if crypto::verify_batch(&h.chain_id, &items).is_err() {
        for (index, it) in &todo {
            if it.signer.verify(&h.chain_id, Purpose::Transaction, &it.digest, &it.signature).is_err() {
                return Err(InvalidBlock::BadSignature { index: *index, hash: it.digest }.into());
            }
        }
        // The batch and single verdicts agree by construction; if they ever do not,
        // refuse rather than accept on the weaker check.
        return Err(InvalidBlock::BadSignature { index: 0, hash: hashes.first().copied().unwrap_or(Hash::ZERO) }.into());
    }
    Ok(ValidBlock { hashes: hashes.to_vec(), outcome })
}

fn storage_or_header(e: AdmissionError) -> BlockError {
    match e {
        AdmissionError::Storage(s) => BlockError::Storage(s),
        other => BlockError::Invalid(InvalidBlock::Header { field: "state", reason: other.to_string() }),
    }
}
