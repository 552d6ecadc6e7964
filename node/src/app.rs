//! The ledger application: what the consensus engine drives.
//!
//! Its interface follows a BFT engine's application callbacks (Malachite's
//! `AppMsg::GetValue`, `ReceivedProposalPart`, `Decided`):
//! - [`App::propose`] builds the next block from the mempool and executes it,
//! - [`App::validate`] checks and re-executes a block proposed by someone else,
//! - [`App::commit`] stores a decided block with its certificate (one atomic, fsynced
//!   batch) and only then updates the in-memory state and the mempool.
//!
//! [`Ledger`] is the part shared with the HTTP API: store, mempool and tip.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Instant;

use jialing_contracts::block_validator::{BlockError, Parent, validate_block_hashed};
use jialing_contracts::executor::check_signer;
use jialing_contracts::genesis_state::InitialState;
use jialing_contracts::membership::Member;
use jialing_contracts::state::Writes;
use jialing_contracts::{AdmissionError, BlockContext, BlockExecutor, BlockOutcome, StateView, keys, registry};
use jialing_core::crypto::verify_batch;
use jialing_core::history::Frontier;
use jialing_core::state_tree::StateTree;
use jialing_core::{
    Block, BlockHeader, CommitCertificate, CoreError, Hash, PublicKey, SignedTransaction, TxHash, ValidatorSet,
    encoding,
};

use crate::mempool::{Admit, Mempool, MempoolError, PendingTx, Priority, is_governance_call};
use crate::metrics::Metrics;
use crate::store::{CommitBatch, Store, StoreError};
use crate::verify_alongside::with_signatures_checked;

/// Failures of the application.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Storage failed: fatal, the node stops.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory holds another chain.
    #[error(
        "the data directory holds a different chain: its genesis block is {stored}, this genesis gives {expected}; point data_dir elsewhere or use the matching genesis file"
    )]
    WrongGenesis {
        /// Hash of the stored genesis block.
        stored: Hash,
        /// Hash computed from the genesis file.
        expected: Hash,
    },
    /// The stored state does not match the committed root.
    #[error(
        "stored state does not match the state root committed at height {height} (expected {expected}, found {found}): the store is corrupt; restore it or resync"
    )]
    StateMismatch {
        /// Tip height.
        height: u64,
        /// Root in the tip header.
        expected: Hash,
        /// Root of the stored state.
        found: Hash,
    },
    /// The genesis definition is unusable.
    #[error("genesis: {0}")]
    Genesis(String),
    /// A block was invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidBlock),
    /// State could not be read while building or validating a block: fatal, the node
    /// stops (never a nil vote).
    #[error("state read failed: {0}; the store is unreadable, the node stops")]
    StateRead(String),
    /// The thread that stores decided blocks could not start or died: fatal, the node
    /// stops (the block is not durable; after a restart the node syncs it again).
    #[error("block {height} was not stored: {reason}; the node stops")]
    Committer {
        /// The block's height.
        height: u64,
        /// What went wrong.
        reason: String,
    },
}

impl From<BlockError> for AppError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Invalid(i) => AppError::Invalid(i),
            BlockError::Storage(s) => AppError::StateRead(s),
        }
    }
}

pub use jialing_contracts::block_validator::InvalidBlock;

/// The last committed block.
#[derive(Clone, Debug)]
pub struct Tip {
    /// Its header.
    pub header: BlockHeader,
    /// Its hash.
    pub hash: Hash,
    /// The validator set for the next block.
    pub validators: ValidatorSet,
    /// The state after this block (cheap to clone: shared nodes), for state proofs.
    pub tree: StateTree,
    /// The history accumulator over blocks `0..=height` (this block included): its
    /// root is the next block's `history_root`.
    pub history: Frontier,
}

/// What the API shares with block production.
pub struct Ledger {
    /// The store.
    pub store: Store,
    /// The chain id.
    pub chain_id: String,
    /// Pending transactions.
    pub mempool: Mutex<Mempool>,
    /// Signalled when a transaction enters the mempool.
    pub mempool_signal: Condvar,
    /// The last committed block.
    pub tip: RwLock<Tip>,
    /// Metrics.
    pub metrics: Metrics,
    /// Where accepted submissions go to be pushed to peers, and how full the peers'
    /// queues are (set by the network; unset on a node without peers).
    pub gossip_out: std::sync::OnceLock<crate::consensus::gossip::TxOut>,
    /// Blocks this node proposed or found valid and has not committed yet, by header
    /// hash: peers fetch the transactions of a compact proposal from them.
    pub held: Mutex<BTreeMap<Hash, Arc<Block>>>,
    /// Bumped by every committed block that wrote organisation or member records, so
    /// the network can re-read who may connect.
    pub membership_version: std::sync::atomic::AtomicU64,
    /// Signature checks of synced blocks ahead of their turn (fed by the sync codec).
    pub preverify: crate::preverify::Preverifier,
    /// The validator keys this node holds and the one it signs with now (`None`: it
    /// signs nothing); set when block production starts, when the held keys are
    /// re-read and at every validator key switch.
    pub validator_keys: RwLock<(Vec<jialing_core::PublicKey>, Option<jialing_core::PublicKey>)>,
}

/// Why a submission was not accepted into the mempool.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Undecodable or malformed.
    #[error("malformed transaction: {0}")]
    Malformed(CoreError),
    /// Signature does not verify.
    #[error("{0}")]
    BadSignature(CoreError),
    /// Not admissible against committed state.
    #[error("{0}")]
    Admission(AdmissionError),
    /// Refused by the mempool.
    #[error("{0}")]
    Mempool(MempoolError),
    /// The node cannot pass more transactions to its peers now: the outbound queue of
    /// a connected peer is full. Nothing was accepted; submit again after the
    /// `Retry-After` the API gives.
    #[error(
        "overloaded: {backlog} bytes of accepted transactions are still on their way to a peer (limit {limit}); nothing was accepted, submit again shortly"
    )]
    Overloaded {
        /// Bytes queued for the slowest connected peer.
        backlog: usize,
        /// The bound (`consensus.push_queue_bytes`).
        limit: usize,
    },
    /// A full node with no connected peer: nothing it accepted would reach a validator.
    #[error(
        "no_peers: this full node is connected to no peer, so a transaction would not reach any validator; nothing was accepted, submit again shortly or to another node"
    )]
    NoPeers,
}

impl SubmitError {
    /// The stable error code of docs/api.md.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Malformed(_) => "malformed_tx",
            SubmitError::BadSignature(_) => "bad_signature",
            SubmitError::Admission(a) => match a {
                AdmissionError::WrongChain { .. } => "wrong_chain",
                AdmissionError::UnknownSigner(_) | AdmissionError::OrgInactive { .. } => "not_member",
                AdmissionError::Expired { .. } => "expired",
                AdmissionError::Revoked(_) => "revoked",
                AdmissionError::BadNonce { .. } => "bad_nonce",
                AdmissionError::Duplicate(_) => "duplicate",
                AdmissionError::Storage(_) => "storage",
            },
            SubmitError::Mempool(MempoolError::Full { .. }) => "mempool_full",
            SubmitError::Mempool(MempoolError::Duplicate(_)) => "duplicate",
            SubmitError::Mempool(MempoolError::NonceTaken { .. }) => "bad_nonce",
            SubmitError::Mempool(MempoolError::SignerLimit { .. }) => "too_many_pending",
            SubmitError::Mempool(MempoolError::NonceTooFar { .. }) => "nonce_too_far",
            SubmitError::Overloaded { .. } => "overloaded",
            SubmitError::NoPeers => "no_peers",
        }
    }
}

/// Blocks held for peers' fetches at once (a few rounds of one height).
const MAX_HELD: usize = 16;

impl Ledger {
    /// Records the validator keys held and the active one, and exports them as
    /// `jialing_validator_key_active{key}` (1 for the active key, 0 for the others).
    pub fn set_validator_keys(&self, held: &[jialing_core::PublicKey], active: Option<jialing_core::PublicKey>) {
        let mut keys = self.validator_keys.write().unwrap_or_else(|p| p.into_inner());
        // Keys no longer held are exported as inactive.
        for k in keys.0.iter().chain(held) {
            let v = i64::from(active == Some(*k) && held.contains(k));
            self.metrics.validator_key_active.get_or_create(&vec![("key".to_string(), k.to_hex())]).set(v);
        }
        *keys = (held.to_vec(), active);
    }

    /// The validator keys held and the one signing now.
    pub fn validator_keys(&self) -> (Vec<jialing_core::PublicKey>, Option<jialing_core::PublicKey>) {
        self.validator_keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Holds `block` (proposed here or found valid) so that peers can fetch its
    /// transactions until its height is committed.
    pub fn hold_block(&self, block: Arc<Block>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let tip = self.tip.read().map(|t| t.header.height).unwrap_or_else(|p| p.get_ref().header.height);
        held.retain(|_, b| b.header.height > tip);
        if held.len() >= MAX_HELD {
            // Keep the newest heights.
            if let Some(oldest) = held.iter().min_by_key(|(_, b)| b.header.height).map(|(h, _)| *h) {
                held.remove(&oldest);
            }
        }
        held.insert(block.header.hash(), block);
    }

    /// A held block by header hash.
    pub fn held_block(&self, hash: &Hash) -> Option<Arc<Block>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }

    /// The priority of the threads that check incoming transactions (`[mempool]
    /// ingest_nice`).
    pub fn ingest_nice(&self) -> i32 {
        match self.mempool.lock() {
            Ok(p) => p.limits().ingest_nice,
            Err(p) => p.into_inner().limits().ingest_nice,
        }
    }

    /// The next nonce committed state expects from `key`.
    pub fn committed_next_nonce(&self, key: &PublicKey) -> Result<u64, String> {
        match self.store.get(&keys::nonce(key))? {
            Some(b) => encoding::decode::<u64>("nonce", &b).map_err(|e| e.to_string()),
            None => Ok(0),
        }
    }

    /// Checks decoded transactions (signatures in one batch, then membership and nonce
    /// against committed state) and adds the good ones to the mempool. Returns one
    /// result per transaction, in order.
    pub fn submit(&self, txs: Vec<(SignedTransaction, TxHash, Vec<u8>)>) -> Vec<Result<TxHash, SubmitError>> {
        let parts = [txs.len()];
        self.submit_inner(txs, &parts, true)
    }

    /// [`Ledger::submit`] for transactions that came from a peer's gossip: the same
    /// checks, but they are not gossiped again.
    pub fn submit_from_peer(&self, txs: Vec<(SignedTransaction, TxHash, Vec<u8>)>) -> Vec<Result<TxHash, SubmitError>> {
        let parts = [txs.len()];
        self.submit_inner(txs, &parts, false)
    }

    /// [`Ledger::submit_from_peer`] for the transactions of several pushes checked
    /// together (`parts`: how many each push brought, in order): one signature batch
    /// for all of them, but a forged signature costs one-by-one checks only in its own
    /// push, not in every peer's.
    pub fn submit_from_peers(
        &self,
        txs: Vec<(SignedTransaction, TxHash, Vec<u8>)>,
        parts: &[usize],
    ) -> Vec<Result<TxHash, SubmitError>> {
        self.submit_inner(txs, parts, false)
    }

    /// The checks, cheapest first, so a flood of transactions that will be refused
    /// costs no signature verification: chain id; the signer's membership and committed
    /// nonce (one state read each per signer in the batch: a batch is typically
    /// thousands of transactions from a few keys); the mempool's rules (per-signer cap,
    /// nonce window, room, with the reserve open to governance calls of a key holding
    /// the method's role); then the signatures of what is left, in one batch; then the
    /// pool takes them.
    fn submit_inner(
        &self,
        txs: Vec<(SignedTransaction, TxHash, Vec<u8>)>,
        parts: &[usize],
        forward: bool,
    ) -> Vec<Result<TxHash, SubmitError>> {
        let gossip = if forward { self.gossip_out.get() } else { None };
        if let Some(g) = gossip {
            if let Some(backlog) = g.overloaded() {
                self.metrics.txs_overloaded.inc_by(txs.len() as u64);
                let limit = g.limit();
                return txs.iter().map(|_| Err(SubmitError::Overloaded { backlog, limit })).collect();
            }
            if g.cut_off() {
                self.metrics.txs_overloaded.inc_by(txs.len() as u64);
                return txs.iter().map(|_| Err(SubmitError::NoPeers)).collect();
            }
        }
        let chain = self.chain_id.clone();
        let (height, now) = match self.tip.read() {
            Ok(t) => (t.header.height, t.header.time_ms),
            Err(p) => (p.get_ref().header.height, p.get_ref().header.time_ms),
        };
        let read = |k: &[u8]| self.store.get(k);
        let mut signers: BTreeMap<PublicKey, Result<(Member, u64), AdmissionError>> = BTreeMap::new();
        // 1. Stateless and state checks, no signature yet.
        let mut out: Vec<Result<Admit, SubmitError>> = txs
            .iter()
            .map(|(stx, _, _)| {
                if stx.tx.chain_id != chain {
                    return Err(SubmitError::Admission(AdmissionError::WrongChain {
                        expected: chain.clone(),
                        got: stx.tx.chain_id.clone(),
                    }));
                }
                let signer = stx.tx.signer;
                let info = signers.entry(signer).or_insert_with(|| {
                    let member = check_signer(&read, &signer, now.max(1))?;
                    let next = self.committed_next_nonce(&signer).map_err(AdmissionError::Storage)?;
                    Ok((member, next))
                });
                let (member, next) = match info {
                    Ok((m, n)) => (&*m, *n),
                    Err(e) => return Err(SubmitError::Admission(e.clone())),
                };
                if stx.tx.nonce < next {
                    return Err(SubmitError::Admission(AdmissionError::BadNonce {
                        key: signer,
                        expected: next,
                        got: stx.tx.nonce,
                        hint: " (already used: a replay)",
                    }));
                }
                let (contract, method) = (stx.tx.contract.as_str(), stx.tx.method.as_str());
                let governs = is_governance_call(contract, method)
                    && registry::find(contract, method)
                        .is_some_and(|m| m.roles.iter().any(|r| member.roles.contains(r)));
                let priority = if governs { Priority::Governance } else { Priority::Normal };
                Ok(Admit { height, committed_next: next, priority })
            })
            .collect();
        // 2. The pool's rules, before any signature is verified.
        {
            let pool = match self.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            for ((stx, hash, bytes), r) in txs.iter().zip(out.iter_mut()) {
                if let Ok(at) = r
                    && let Err(e) = pool.check(hash, stx, bytes.len(), *at)
                {
                    *r = Err(SubmitError::Mempool(e));
                }
            }
        }
        // 3. Signatures of the survivors, in one batch. If it fails, each submission's
        // part is checked as a batch of its own, and only a failing part one by one:
        // one forged signature must not make everybody's transactions in a merged
        // batch cost a single check each.
        let items: Vec<_> =
            txs.iter().zip(&out).filter(|(_, r)| r.is_ok()).map(|((s, h, _), _)| s.signed_digest(*h)).collect();
        if !items.is_empty() && verify_batch(&chain, &items).is_err() {
            // The parts' ranges; parts that do not cover everything leave one more.
            let mut ranges = Vec::with_capacity(parts.len() + 1);
            let mut start = 0;
            for &n in parts {
                let end = (start + n).min(txs.len());
                if start < end {
                    ranges.push(start..end);
                }
                start = end;
            }
            if start < txs.len() {
                ranges.push(start..txs.len());
            }
            let several = ranges.len() > 1;
            for range in ranges {
                if several {
                    let part: Vec<_> = txs[range.clone()]
                        .iter()
                        .zip(&out[range.clone()])
                        .filter(|(_, r)| r.is_ok())
                        .map(|((s, h, _), _)| s.signed_digest(*h))
                        .collect();
                    // A part of one is checked once, below, for its error.
                    if part.len() != 1 && verify_batch(&chain, &part).is_ok() {
                        continue;
                    }
                }
                for ((stx, hash, _), r) in txs[range.clone()].iter().zip(out[range].iter_mut()) {
                    if r.is_ok()
                        && let Err(e) = stx.verify(&chain, hash)
                    {
                        *r = Err(SubmitError::BadSignature(e));
                    }
                }
            }
        }
        // 4. Into the pool.
        let mut results = Vec::with_capacity(txs.len());
        let mut accepted = 0usize;
        {
            let mut pool = match self.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            for ((stx, hash, bytes), r) in txs.into_iter().zip(out) {
                let r = r.and_then(|at| {
                    let bytes = Arc::new(bytes);
                    pool.insert(hash, Arc::new(stx), bytes.clone(), at).map_err(SubmitError::Mempool)?;
                    if let Some(g) = gossip {
                        g.send(hash, bytes);
                    }
                    Ok(hash)
                });
                match &r {
                    Ok(_) => accepted += 1,
                    Err(_) => {
                        self.metrics.txs_rejected.inc();
                    }
                }
                results.push(r);
            }
            self.metrics.mempool_txs.set(pool.len() as i64);
            self.metrics.mempool_bytes.set(pool.bytes() as i64);
        }
        if accepted > 0 {
            self.mempool_signal.notify_all();
        }
        results
    }
}

/// A block ready to be voted on and committed: header, transactions and the result of
/// executing them.
pub struct Proposal {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in order.
    pub txs: Vec<PendingTx>,
    /// Execution result.
    pub outcome: BlockOutcome,
}

impl Proposal {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The block (header and transactions).
    pub fn block(&self) -> Block {
        Block { header: self.header.clone(), txs: self.txs.iter().map(|p| (*p.tx).clone()).collect() }
    }
}

/// The application state owned by block production.
pub struct App {
    ledger: Arc<Ledger>,
    tree: StateTree,
    pending: Option<PendingCommit>,
}

/// The genesis block header for an initial state and its state tree.
pub fn genesis_header(init: &InitialState) -> Result<(BlockHeader, StateTree, Writes), AppError> {
    init.genesis_block().map_err(|e| AppError::Genesis(e.to_string()))
}

fn read_validators(store: &dyn StateView) -> Result<ValidatorSet, AppError> {
    let bytes = store.get(keys::VALIDATORS).map_err(AppError::Genesis)?;
    let bytes = bytes.ok_or_else(|| AppError::Genesis("no validator set in state".into()))?;
    let set: ValidatorSet = encoding::decode("validator set", &bytes).map_err(|e| AppError::Genesis(e.to_string()))?;
    // Decoded, not built: the same rules as `ValidatorSet::new` (power caps, order).
    set.check().map_err(|e| AppError::Genesis(format!("stored validator set: {e}")))?;
    Ok(set)
}

impl App {
    /// Opens the ledger in `store`: writes the genesis block into an empty store, or
    /// checks that the stored chain has this genesis and that the stored state matches
    /// the committed state root.
    pub fn open(store: Store, init: &InitialState, mempool: Mempool) -> Result<(Arc<Ledger>, App), AppError> {
        let (g_header, g_tree, g_writes) = genesis_header(init)?;
        let tree = match store.tip()? {
            None => {
                store.commit(&CommitBatch {
                    header: &g_header,
                    certificate: None,
                    txs: &[],
                    receipts: &[],
                    writes: &g_writes,
                })?;
                tracing::info!(target: "jialing::app", chain_id = %g_header.chain_id, genesis = %g_header.hash(), "wrote genesis block");
                g_tree
            }
            Some(tip) => {
                let stored =
                    store.header(0)?.ok_or_else(|| AppError::Genesis("store has a tip but no genesis block".into()))?;
                if stored.hash() != g_header.hash() {
                    return Err(AppError::WrongGenesis { stored: stored.hash(), expected: g_header.hash() });
                }
                let started = Instant::now();
                let entries: Vec<(Vec<u8>, Vec<u8>)> = store.state_entries().collect::<Result<_, _>>()?;
                let tree = StateTree::from_entries(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
                let header =
                    store.header(tip)?.ok_or_else(|| AppError::Genesis(format!("missing header at tip {tip}")))?;
                if tree.root() != header.state_root {
                    return Err(AppError::StateMismatch {
                        height: tip,
                        expected: header.state_root,
                        found: tree.root(),
                    });
                }
                tracing::info!(target: "jialing::app", height = tip, keys = tree.len(), ms = started.elapsed().as_millis() as u64, "reopened store, state root verified");
                tree
            }
        };
        let tip_height = store.tip()?.unwrap_or(0);
        let header = store.header(tip_height)?.ok_or_else(|| AppError::Genesis("missing tip header".into()))?;
        let validators = read_validators(&store)?;
        let history = store.history_frontier(tip_height + 1)?;
        let metrics = Metrics::new();
        metrics.height.set(tip_height as i64);
        let ledger = Arc::new(Ledger {
            store,
            chain_id: init.chain.chain_id.clone(),
            mempool: Mutex::new(mempool),
            mempool_signal: Condvar::new(),
            tip: RwLock::new(Tip { hash: header.hash(), header, validators, tree: tree.clone(), history }),
            metrics,
            gossip_out: std::sync::OnceLock::new(),
            held: Mutex::new(BTreeMap::new()),
            membership_version: std::sync::atomic::AtomicU64::new(0),
            preverify: crate::preverify::Preverifier::new(&init.chain.chain_id),
            validator_keys: RwLock::new((Vec::new(), None)),
        });
        Ok((ledger.clone(), App { ledger, tree, pending: None }))
    }

    /// The shared ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The last committed block (a pending one included: see [`App::commit_with`]).
    pub fn tip(&self) -> Tip {
        if let Some(p) = &self.pending {
            return p.tip.clone();
        }
        match self.ledger.tip.read() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Builds and executes the next block from the mempool (the engine's `GetValue`).
    /// `time_ms` is the proposer's clock; the block time is at least the parent's + 1.
    /// `max_txs` and `max_bytes` are this node's preference; the consensus limits in
    /// force cap them.
    pub fn propose(
        &self,
        proposer: PublicKey,
        time_ms: u64,
        max_txs: usize,
        max_bytes: usize,
    ) -> Result<Proposal, AppError> {
        let tip = self.tip();
        let ctx = BlockContext {
            chain_id: self.ledger.chain_id.clone(),
            height: tip.header.height + 1,
            time_ms: time_ms.max(tip.header.time_ms + 1),
        };
        let view = self.view();
        let mut exec = BlockExecutor::new(&view, ctx.clone()).map_err(|e| match e {
            AdmissionError::Storage(e) => AppError::StateRead(e),
            other => AppError::Genesis(other.to_string()),
        })?;
        let limits = exec.params().block.clone();
        let max_txs = max_txs.min(limits.max_txs as usize);
        let max_bytes = max_bytes.min(limits.max_bytes as usize);
        let candidates = {
            let pool = match self.ledger.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            pool.candidates(max_txs, max_bytes, |k| {
                view.get(&keys::nonce(k))
                    .ok()
                    .flatten()
                    .and_then(|b| encoding::decode::<u64>("nonce", &b).ok())
                    .unwrap_or(0)
            })
        };
        let mut txs = Vec::with_capacity(candidates.len());
        let mut evict = Vec::new();
        for p in candidates {
            match exec.execute(&p.tx, p.hash) {
                Ok(_) => txs.push(p),
                Err(AdmissionError::Storage(e)) => return Err(AppError::StateRead(e)),
                Err(e) => {
                    // Not a member any more (expired, revoked, organisation removed) or a
                    // stale nonce: it can never be included; drop it from the pool.
                    tracing::info!(target: "jialing::mempool", tx = %p.hash, reason = %e, "evicted: no longer admissible");
                    evict.push(p.hash);
                }
            }
        }
        if !evict.is_empty() {
            let mut pool = match self.ledger.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            for h in &evict {
                pool.remove(h);
            }
        }
        let outcome = exec.finish(&self.tree);
        let entries: Vec<Hash> = txs.iter().map(|p| p.tx.entry_hash(&p.hash)).collect();
        let header = BlockHeader {
            chain_id: ctx.chain_id,
            height: ctx.height,
            time_ms: ctx.time_ms,
            parent_hash: tip.hash,
            history_root: tip.history.root(),
            proposer,
            tx_root: Block::tx_root_of_entries(&entries),
            tx_count: txs.len() as u32,
            state_root: outcome.state_root,
            receipts_root: outcome.receipts_root,
            validator_set_hash: tip.validators.hash(),
        };
        Ok(Proposal { header, txs, outcome })
    }

    /// Checks and re-executes a block proposed by another validator or received by
    /// sync, with the one block validator ([`validate_block`]). A transaction whose
    /// exact signature is already in the mempool was verified on entry; every other is
    /// verified here. The proposal keeps the block's own bytes, never a mempool copy.
    /// `Err(AppError::Invalid)` is a verdict on the block; any other error is local
    /// (storage) and fatal.
    pub fn validate(&self, block: &Block) -> Result<Proposal, AppError> {
        let tip = self.tip();
        if block.header.height == tip.header.height + 1 {
            self.ledger.preverify.set_tip(block.header.height);
        }
        let parent = Parent { header: &tip.header, hash: tip.hash, validators: &tip.validators, history: &tip.history };
        // Mempool copies with the exact same signature: verified on entry, and their
        // bytes are the block's bytes (the encoding is canonical).
        let hashes: Vec<TxHash> = block.txs.iter().map(SignedTransaction::hash).collect();
        let known: Vec<Option<PendingTx>> = {
            let pool = match self.ledger.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            block
                .txs
                .iter()
                .zip(&hashes)
                .map(|(stx, h)| pool.get(h).filter(|p| p.tx.signature == stx.signature).cloned())
                .collect()
        };
        // Signatures the sync preverifier checked while earlier blocks executed.
        let ahead: Vec<bool> = self.ledger.preverify.take_all(
            block.txs.iter().zip(&known).zip(&hashes).map(|((stx, k), h)| k.is_none().then(|| stx.entry_hash(h))),
        );
        let ahead_count = ahead.iter().filter(|a| **a).count();
        if ahead_count > 0 {
            self.ledger.metrics.sync_preverified.inc_by(ahead_count as u64);
        }
        // The rest (a synced block carries thousands nobody has seen) are checked on a
        // second core while the block executes (ADR 0002: the verdict is the block
        // validator's own however the batches are split).
        let todo: Vec<(usize, jialing_core::crypto::SignedDigest)> = block
            .txs
            .iter()
            .zip(&hashes)
            .enumerate()
            .filter(|(i, _)| known[*i].is_none() && !ahead[*i])
            .map(|(i, (stx, h))| (i, stx.signed_digest(*h)))
            .collect();
        self.ledger.metrics.block_sigs_checked.inc_by(todo.len() as u64);
        let valid = with_signatures_checked(&self.ledger.chain_id, &todo, block.txs.len(), |checked| {
            validate_block_hashed(parent, &self.view(), &self.tree, block, &hashes, &|i, _, _| {
                known.get(i).is_some_and(Option::is_some) || ahead.get(i).copied().unwrap_or(false) || checked(i)
            })
        })?;
        let txs = block
            .txs
            .iter()
            .zip(&valid.hashes)
            .zip(known)
            .map(|((stx, hash), k)| match k {
                Some(p) if p.hash == *hash => p,
                _ => PendingTx::new(*hash, Arc::new(stx.clone()), Arc::new(stx.to_bytes())),
            })
            .collect();
        Ok(Proposal { header: block.header.clone(), txs, outcome: valid.outcome })
    }

    /// Stores a decided block with its certificate (atomic, fsynced), then updates the
    /// state tree, tip and mempool (the engine's `Decided`). The certificate must verify.
    /// Returns once the block is durable.
    pub fn commit(&mut self, proposal: Proposal, cert: &CommitCertificate) -> Result<(), AppError> {
        self.commit_with(proposal, cert, Durability::Now)
    }

    /// [`App::commit`], or with [`Durability::Deferred`] the store write (and what
    /// follows it: the shared tip, metrics and the mempool re-check) runs on a
    /// committer thread while this node executes the next block against the pending
    /// block's writes ([`App::tip`] and every state read here see the block at once;
    /// the API sees it once it is durable). At most one block is pending: the next
    /// commit, and [`App::settle`], wait for it. Only for a node that signs nothing:
    /// a validator must not vote at `h + 1` before `h` is durable.
    pub fn commit_with(
        &mut self,
        proposal: Proposal,
        cert: &CommitCertificate,
        durability: Durability,
    ) -> Result<(), AppError> {
        self.settle()?;
        let tip = self.tip();
        cert.verify(&self.ledger.chain_id, &proposal.header, &tip.validators)
            .map_err(|e| AppError::Invalid(InvalidBlock::Header { field: "certificate", reason: e.to_string() }))?;
        let Proposal { header, txs, outcome } = proposal;
        let writes = Arc::new(outcome.writes);
        let sets_validators = writes.contains_key(keys::VALIDATORS);
        let validators =
            if sets_validators { read_validators(&self.view_with(Some(&writes)))? } else { tip.validators.clone() };
        self.tree = outcome.tree;
        let hash = header.hash();
        let mut history = tip.history;
        history.append(&hash);
        let new_tip = Tip { hash, header, validators, tree: self.tree.clone(), history };
        self.ledger.preverify.set_tip(new_tip.header.height);
        let job = CommitJob {
            ledger: self.ledger.clone(),
            tip: new_tip,
            certificate: cert.clone(),
            txs,
            receipts: outcome.receipts,
            writes: writes.clone(),
        };
        // A block that changes the validator set is always durable before the next
        // height starts: the node may hold a key of the new set.
        if durability == Durability::Deferred && !sets_validators {
            let staged = job.tip.clone();
            let height = staged.header.height;
            let handle =
                std::thread::Builder::new().name("jialing-commit".into()).spawn(move || job.run()).map_err(|e| {
                    AppError::Committer { height, reason: format!("the committer thread could not start ({e})") }
                })?;
            self.pending = Some(PendingCommit { tip: staged, writes, handle });
            Ok(())
        } else {
            job.run()
        }
    }

    /// Waits until the pending block (if any) is durable and visible to the API;
    /// a failed store write is returned here (fatal).
    pub fn settle(&mut self) -> Result<(), AppError> {
        match self.pending.take() {
            None => Ok(()),
            Some(p) => p.handle.join().unwrap_or_else(|_| {
                Err(AppError::Committer { height: p.tip.header.height, reason: "the committer thread panicked".into() })
            }),
        }
    }

    /// Committed state as this node executes against it: the store, under the writes of
    /// the pending block (if any).
    fn view(&self) -> PendingView<'_> {
        self.view_with(self.pending.as_ref().map(|p| &*p.writes))
    }

    fn view_with<'a>(&'a self, writes: Option<&'a BTreeMap<Vec<u8>, Option<Vec<u8>>>>) -> PendingView<'a> {
        PendingView { store: &self.ledger.store, writes }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Err(e) = self.settle() {
            tracing::error!(target: "jialing::app", error = %e, "the last block could not be stored");
        }
    }
}

/// When [`App::commit_with`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Once the block is durable.
    Now,
    /// At once; the block is stored by a committer thread (nodes that sign nothing).
    Deferred,
}

/// A block handed to the committer thread and not yet known to be durable.
struct PendingCommit {
    tip: Tip,
    writes: Arc<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    handle: std::thread::JoinHandle<Result<(), AppError>>,
}

/// The store under the writes of a pending block.
struct PendingView<'a> {
    store: &'a Store,
    writes: Option<&'a BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl StateView for PendingView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.writes.and_then(|w| w.get(key)) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(key),
        }
    }
}

/// Everything that happens once a decided block is in hand: the fsynced store write,
/// then the metrics, the shared tip and the mempool re-check.
struct CommitJob {
    ledger: Arc<Ledger>,
    tip: Tip,
    certificate: CommitCertificate,
    txs: Vec<PendingTx>,
    receipts: Vec<jialing_contracts::Receipt>,
    writes: Arc<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl CommitJob {
    fn run(self) -> Result<(), AppError> {
        let CommitJob { ledger, tip: new_tip, certificate, txs, receipts, writes } = self;
        let started = Instant::now();
        let raw: Vec<(TxHash, &[u8])> = txs.iter().map(|p| (p.hash, p.bytes.as_slice())).collect();
        ledger.store.commit(&CommitBatch {
            header: &new_tip.header,
            certificate: Some(&certificate),
            txs: &raw,
            receipts: &receipts,
            writes: &writes,
        })?;
        let m = &ledger.metrics;
        m.block_commit_seconds.observe(started.elapsed().as_secs_f64());
        let refused = receipts.iter().filter(|r| !r.is_ok()).count();
        m.txs_committed.inc_by(raw.len() as u64);
        m.txs_refused.inc_by(refused as u64);
        m.block_txs.observe(raw.len() as f64);
        m.height.set(new_tip.header.height as i64);

        let membership_changed = writes
            .keys()
            .any(|k| k.starts_with(b"member/") || k.starts_with(b"org/") || k.as_slice() == keys::VALIDATORS);
        let (now, new_height) = (new_tip.header.time_ms, new_tip.header.height);
        match ledger.tip.write() {
            Ok(mut t) => *t = new_tip,
            Err(p) => *p.into_inner() = new_tip,
        }
        if membership_changed {
            ledger.membership_version.fetch_add(1, std::sync::atomic::Ordering::Release);
        }
        let signers: BTreeSet<PublicKey> = txs.iter().map(|p| p.tx.tx.signer).collect();
        let committed: Vec<TxHash> = raw.iter().map(|(h, _)| *h).collect();
        let store = &ledger.store;
        let read = |k: &[u8]| store.get(k);
        let mut pool = match ledger.mempool.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        };
        // One state read per signer, not per pending transaction: the pool may hold
        // a hundred thousand transactions from a handful of signers.
        let dropped = if membership_changed {
            let mut member_ok: BTreeMap<PublicKey, bool> = BTreeMap::new();
            let mut next_nonce: BTreeMap<PublicKey, Option<u64>> = BTreeMap::new();
            pool.after_commit(&committed, new_height, |stx| {
                let signer = &stx.tx.signer;
                if !*member_ok.entry(*signer).or_insert_with(|| check_signer(&read, signer, now).is_ok()) {
                    return false;
                }
                if signers.contains(signer) {
                    let next = *next_nonce.entry(*signer).or_insert_with(|| ledger.committed_next_nonce(signer).ok());
                    return next.is_none_or(|n| stx.tx.nonce >= n);
                }
                true
            })
        } else {
            let next: Vec<(PublicKey, u64)> =
                signers.iter().filter_map(|s| ledger.committed_next_nonce(s).ok().map(|n| (*s, n))).collect();
            pool.after_commit_nonces(&committed, new_height, &next)
        };
        m.mempool_txs.set(pool.len() as i64);
        m.mempool_bytes.set(pool.bytes() as i64);
        m.mempool_expired.inc_by(dropped.expired as u64);
        if dropped != Default::default() {
            tracing::info!(target: "jialing::mempool", stale = dropped.stale, expired = dropped.expired, "re-check after commit dropped transactions");
        }
        Ok(())
    }
}
