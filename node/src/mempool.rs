//! The mempool: verified transactions waiting for a block.
//!
//! Deduplicated by hash; one transaction per (signer, nonce); bounded in bytes and count
//! with a clear "mempool full" error. Only transactions whose signature verified enter,
//! so a proposal built from the mempool needs no second verification. Candidates for a
//! block come out in arrival order (governance calls first), each signer's transactions
//! in nonce order. After
//! each commit the pool drops what was committed and re-checks the rest.
//!
//! **No single signer can fill it** ([`MempoolLimits`]): each signer holds at most
//! `max_per_signer` pending transactions; a nonce must lie within `nonce_window` of the
//! signer's committed next nonce (a far-future nonce could never be included, so it
//! would only take room); a transaction still pending `ttl_blocks` blocks after it
//! entered is dropped; and the last `reserved_txs` / `reserved_bytes` of room are kept
//! for governance transactions (see [`Priority`]), so the regulators can always revoke
//! a flooder's key even while the pool is full of the flooder's transactions. Gossip
//! from peers goes through the same rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jialing_core::{PublicKey, SignedTransaction, TxHash};

/// The default [`MempoolLimits::ingest_nice`].
pub const DEFAULT_INGEST_NICE: i32 = 10;

/// The pool's bounds and admission rules: the node config's `[mempool]` section.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolLimits {
    /// Most bytes of pending transactions, reserved room included; beyond it
    /// submissions get `mempool_full`.
    pub max_bytes: usize,
    /// Most pending transactions, reserved room included.
    pub max_txs: usize,
    /// Most pending transactions from one key (`too_many_pending` beyond it).
    pub max_per_signer: usize,
    /// A nonce must be below the key's committed next nonce plus this
    /// (`nonce_too_far` otherwise).
    pub nonce_window: u64,
    /// A transaction still pending this many blocks after it entered is dropped.
    pub ttl_blocks: u64,
    /// Transactions of room kept for [`Priority::Governance`] calls (any `governance`
    /// method, and `membership.revoke`, from a key holding the method's role), so a
    /// flooded pool still takes the revocation of the flooder.
    pub reserved_txs: usize,
    /// Bytes of room kept for [`Priority::Governance`] calls, as `reserved_txs`.
    pub reserved_bytes: usize,
    /// The scheduling priority (`nice`, 0 to 19) of the threads that check API
    /// submissions (peers' pushes stay at normal priority: the next compact proposal
    /// names them). Above 0, building, validating and storing blocks take the CPU first
    /// when the node has more to check than it can commit, and submissions wait (see
    /// `crate::ingest`).
    pub ingest_nice: i32,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_bytes: 64 * 1024 * 1024,
            max_txs: 200_000,
            max_per_signer: DEFAULT_MAX_PER_SIGNER,
            nonce_window: DEFAULT_NONCE_WINDOW,
            ttl_blocks: DEFAULT_TTL_BLOCKS,
            reserved_txs: DEFAULT_RESERVED_TXS,
            reserved_bytes: DEFAULT_RESERVED_BYTES,
            ingest_nice: DEFAULT_INGEST_NICE,
        }
    }
}

impl MempoolLimits {
    /// Bounds in bytes and count with the default per-signer rules, window, expiry and
    /// reserve (as in the node config's defaults, the reserve capped at a tenth).
    pub fn new(max_bytes: usize, max_txs: usize) -> Self {
        MempoolLimits {
            max_bytes,
            max_txs,
            max_per_signer: DEFAULT_MAX_PER_SIGNER,
            nonce_window: DEFAULT_NONCE_WINDOW,
            ttl_blocks: DEFAULT_TTL_BLOCKS,
            reserved_txs: DEFAULT_RESERVED_TXS.min(max_txs / 10),
            reserved_bytes: DEFAULT_RESERVED_BYTES.min(max_bytes / 10),
            ingest_nice: DEFAULT_INGEST_NICE,
        }
    }
}

/// Default [`MempoolLimits::max_per_signer`].
pub const DEFAULT_MAX_PER_SIGNER: usize = 10_000;
/// Default [`MempoolLimits::nonce_window`].
pub const DEFAULT_NONCE_WINDOW: u64 = 10_000;
/// Default [`MempoolLimits::ttl_blocks`].
pub const DEFAULT_TTL_BLOCKS: u64 = 600;
/// Default [`MempoolLimits::reserved_txs`].
pub const DEFAULT_RESERVED_TXS: usize = 1_000;
/// Default [`MempoolLimits::reserved_bytes`].
pub const DEFAULT_RESERVED_BYTES: usize = 4 * 1024 * 1024;

/// Which room a transaction may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Any transaction: the pool up to its bounds less the reserve.
    Normal,
    /// A governance transaction (a `governance` method or `membership.revoke`) from a key
    /// holding a role the method needs: it may also use the reserved room.
    Governance,
}

/// What the submit path knows about a transaction when it offers it to the pool.
#[derive(Clone, Copy, Debug)]
pub struct Admit {
    /// The committed chain height now (the transaction's age is counted from it).
    pub height: u64,
    /// The signer's next nonce in committed state.
    pub committed_next: u64,
    /// Which room it may use.
    pub priority: Priority,
}

/// Whether a call is one of the governance calls the reserve is kept for: any method of
/// the `governance` contract, and `membership.revoke`. The submit path grants
/// [`Priority::Governance`] only when the signer also holds a role the method needs.
pub fn is_governance_call(contract: &str, method: &str) -> bool {
    contract == "governance" || (contract == "membership" && method == "revoke")
}

/// Why a transaction was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The pool is at its byte or count bound.
    #[error("mempool full ({txs} txs, {bytes} of {max_bytes} bytes): retry later")]
    Full {
        /// Pending transactions.
        txs: usize,
        /// Pending bytes.
        bytes: usize,
        /// The bound.
        max_bytes: usize,
    },
    /// Already pending.
    #[error("transaction {0} is already pending")]
    Duplicate(TxHash),
    /// Another transaction with this signer and nonce is pending.
    #[error("another transaction from {signer} with nonce {nonce} is already pending")]
    NonceTaken {
        /// The signer.
        signer: PublicKey,
        /// The nonce.
        nonce: u64,
    },
    /// The signer already has as many pending transactions as one signer may.
    #[error(
        "{signer} already has {pending} pending transactions, the most one key may have: wait for blocks to commit them"
    )]
    SignerLimit {
        /// The signer.
        signer: PublicKey,
        /// Its pending transactions.
        pending: usize,
    },
    /// The nonce is too far ahead of the signer's committed next nonce.
    #[error(
        "nonce {nonce} of {signer} is too far ahead: committed state expects {committed_next} and the pool takes nonces below {limit}"
    )]
    NonceTooFar {
        /// The signer.
        signer: PublicKey,
        /// The nonce.
        nonce: u64,
        /// The committed next nonce.
        committed_next: u64,
        /// The first nonce refused.
        limit: u64,
    },
}

/// A pending transaction.
#[derive(Clone, Debug)]
pub struct PendingTx {
    /// Its hash.
    pub hash: TxHash,
    /// The decoded transaction.
    pub tx: Arc<SignedTransaction>,
    /// Its canonical bytes.
    pub bytes: Arc<Vec<u8>>,
    seq: u64,
    entered: u64,
}

impl PendingTx {
    /// A transaction outside the pool (e.g. from another validator's proposal).
    pub fn new(hash: TxHash, tx: Arc<SignedTransaction>, bytes: Arc<Vec<u8>>) -> Self {
        PendingTx { hash, tx, bytes, seq: u64::MAX, entered: 0 }
    }
}

/// What [`Mempool::after_commit`] dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Refused by the re-check (stale nonce, signer no longer a member).
    pub stale: usize,
    /// Pending for `ttl_blocks` blocks or more.
    pub expired: usize,
}

/// The pool.
pub struct Mempool {
    limits: MempoolLimits,
    by_hash: HashMap<TxHash, PendingTx>,
    by_signer: BTreeMap<PublicKey, BTreeMap<u64, TxHash>>,
    arrival: BTreeMap<u64, TxHash>,
    /// Arrival → hash of the [`Priority::Governance`] transactions: block candidates
    /// start with them, so a revocation is not stuck behind a flooder's backlog.
    governance: BTreeMap<u64, TxHash>,
    /// (entry height, arrival) → hash: expiry walks the oldest first.
    by_entry: BTreeMap<(u64, u64), TxHash>,
    bytes: usize,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool with bounds in bytes and count and the default rules
    /// ([`MempoolLimits::new`]).
    pub fn new(max_bytes: usize, max_txs: usize) -> Self {
        Self::with_limits(MempoolLimits::new(max_bytes, max_txs))
    }

    /// An empty pool with these limits.
    pub fn with_limits(limits: MempoolLimits) -> Self {
        Mempool {
            limits,
            by_hash: HashMap::new(),
            by_signer: BTreeMap::new(),
            arrival: BTreeMap::new(),
            governance: BTreeMap::new(),
            by_entry: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    /// The bytes of every pending transaction, in arrival order (for a peer that
    /// connected after they arrived).
    pub fn pending_bytes(&self) -> Vec<Arc<Vec<u8>>> {
        self.arrival.values().filter_map(|h| self.by_hash.get(h)).map(|p| p.bytes.clone()).collect()
    }

    /// The limits in force.
    pub fn limits(&self) -> &MempoolLimits {
        &self.limits
    }

    /// Adds a transaction whose signature has been verified. `at` tells the committed
    /// height, the signer's committed next nonce and which room it may use; the caller
    /// has refused nonces below the committed next nonce.
    pub fn insert(
        &mut self,
        hash: TxHash,
        tx: Arc<SignedTransaction>,
        bytes: Arc<Vec<u8>>,
        at: Admit,
    ) -> Result<(), MempoolError> {
        self.check(&hash, &tx, bytes.len(), at)?;
        let (signer, nonce) = (tx.tx.signer, tx.tx.nonce);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += bytes.len();
        self.by_signer.entry(signer).or_default().insert(nonce, hash);
        self.arrival.insert(seq, hash);
        if at.priority == Priority::Governance {
            self.governance.insert(seq, hash);
        }
        self.by_entry.insert((at.height, seq), hash);
        self.by_hash.insert(hash, PendingTx { hash, tx, bytes, seq, entered: at.height });
        Ok(())
    }

    /// Whether [`Mempool::insert`] would take this transaction now (every rule but the
    /// signature, which the caller checks): the submit path asks before it spends time
    /// on signatures.
    pub fn check(&self, hash: &TxHash, tx: &SignedTransaction, len: usize, at: Admit) -> Result<(), MempoolError> {
        if self.by_hash.contains_key(hash) {
            return Err(MempoolError::Duplicate(*hash));
        }
        let (signer, nonce) = (tx.tx.signer, tx.tx.nonce);
        let mine = self.by_signer.get(&signer);
        if mine.is_some_and(|m| m.contains_key(&nonce)) {
            return Err(MempoolError::NonceTaken { signer, nonce });
        }
        let limit = at.committed_next.saturating_add(self.limits.nonce_window);
        if nonce >= limit {
            return Err(MempoolError::NonceTooFar { signer, nonce, committed_next: at.committed_next, limit });
        }
        let pending = mine.map_or(0, BTreeMap::len);
        if pending >= self.limits.max_per_signer {
            return Err(MempoolError::SignerLimit { signer, pending });
        }
        let (max_bytes, max_txs) = match at.priority {
            Priority::Governance => (self.limits.max_bytes, self.limits.max_txs),
            Priority::Normal => (
                self.limits.max_bytes.saturating_sub(self.limits.reserved_bytes),
                self.limits.max_txs.saturating_sub(self.limits.reserved_txs),
            ),
        };
        if self.bytes + len > max_bytes || self.by_hash.len() >= max_txs {
            return Err(MempoolError::Full { txs: self.by_hash.len(), bytes: self.bytes, max_bytes });
        }
        Ok(())
    }

    /// Pending transactions of one signer.
    pub fn pending_of(&self, signer: &PublicKey) -> usize {
        self.by_signer.get(signer).map_or(0, BTreeMap::len)
    }

    /// Whether a transaction is pending.
    pub fn contains(&self, hash: &TxHash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// A pending transaction.
    pub fn get(&self, hash: &TxHash) -> Option<&PendingTx> {
        self.by_hash.get(hash)
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Pending bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The nonce after the contiguous run of pending nonces starting at `committed_next`.
    pub fn pending_next_nonce(&self, signer: &PublicKey, committed_next: u64) -> u64 {
        let mut n = committed_next;
        if let Some(m) = self.by_signer.get(signer) {
            while m.contains_key(&n) {
                n += 1;
            }
        }
        n
    }

    /// Block candidates: governance transactions first, then arrival order; each
    /// signer's run in nonce order starting at its
    /// next nonce (`next_nonce` reads committed state), at most `max_txs` and `max_bytes`.
    pub fn candidates(
        &self,
        max_txs: usize,
        max_bytes: usize,
        mut next_nonce: impl FnMut(&PublicKey) -> u64,
    ) -> Vec<PendingTx> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut planned: BTreeMap<PublicKey, u64> = BTreeMap::new();
        for hash in self.governance.values().chain(self.arrival.values()) {
            if out.len() >= max_txs {
                break;
            }
            let Some(p) = self.by_hash.get(hash) else { continue };
            let signer = p.tx.tx.signer;
            let next = *planned.entry(signer).or_insert_with(|| next_nonce(&signer));
            if p.tx.tx.nonce != next {
                continue;
            }
            // Take this signer's contiguous run.
            let mut n = next;
            while let Some(h) = self.by_signer.get(&signer).and_then(|m| m.get(&n)) {
                let Some(q) = self.by_hash.get(h) else { break };
                if out.len() >= max_txs || bytes + q.bytes.len() > max_bytes {
                    break;
                }
                bytes += q.bytes.len();
                out.push(q.clone());
                n += 1;
            }
            planned.insert(signer, n);
        }
        out
    }

    /// Removes a transaction.
    pub fn remove(&mut self, hash: &TxHash) -> Option<PendingTx> {
        let p = self.by_hash.remove(hash)?;
        self.bytes -= p.bytes.len();
        self.arrival.remove(&p.seq);
        self.governance.remove(&p.seq);
        self.by_entry.remove(&(p.entered, p.seq));
        let signer = p.tx.tx.signer;
        if let Some(m) = self.by_signer.get_mut(&signer) {
            m.remove(&p.tx.tx.nonce);
            if m.is_empty() {
                self.by_signer.remove(&signer);
            }
        }
        Some(p)
    }

    /// After the block at `height` committed: drops the committed transactions, those
    /// pending `ttl_blocks` blocks or more, then every transaction for which `keep`
    /// says no (stale nonce, signer no longer a member).
    ///
    /// Every pending transaction is shown to `keep`: for a block that changed
    /// membership. [`Mempool::after_commit_nonces`] is the cheap form for any other.
    pub fn after_commit(
        &mut self,
        committed: &[TxHash],
        height: u64,
        mut keep: impl FnMut(&SignedTransaction) -> bool,
    ) -> Dropped {
        let expired = self.drop_committed_and_expired(committed, height);
        let drop: Vec<TxHash> = self.by_hash.values().filter(|p| !keep(&p.tx)).map(|p| p.hash).collect();
        for h in &drop {
            self.remove(h);
        }
        Dropped { stale: drop.len(), expired }
    }

    /// [`Mempool::after_commit`] for a block that changed no membership: then only the
    /// nonces of the block's signers moved, and the stale transactions are exactly each
    /// such signer's below its new next nonce (`next`). Those are found through the
    /// signer's own index; the rest of the pool is not visited (under a backlog it holds
    /// a hundred thousand transactions, and every block used to walk all of them).
    pub fn after_commit_nonces(&mut self, committed: &[TxHash], height: u64, next: &[(PublicKey, u64)]) -> Dropped {
        let expired = self.drop_committed_and_expired(committed, height);
        let drop: Vec<TxHash> = next
            .iter()
            .filter_map(|(signer, n)| self.by_signer.get(signer).map(|m| m.range(..*n).map(|(_, h)| *h)))
            .flatten()
            .collect();
        for h in &drop {
            self.remove(h);
        }
        Dropped { stale: drop.len(), expired }
    }

    /// Drops the committed transactions and those pending `ttl_blocks` blocks or more;
    /// returns how many expired.
    fn drop_committed_and_expired(&mut self, committed: &[TxHash], height: u64) -> usize {
        for h in committed {
            self.remove(h);
        }
        // Entered at or before `cutoff`: pending for `ttl_blocks` blocks or more.
        let expired: Vec<TxHash> = match height.checked_sub(self.limits.ttl_blocks) {
            Some(cutoff) => self.by_entry.range(..=(cutoff, u64::MAX)).map(|(_, h)| *h).collect(),
            None => Vec::new(),
        };
        for h in &expired {
            if let Some(p) = self.remove(h) {
                tracing::debug!(target: "jialing::mempool", tx = %p.hash, entered = p.entered, height, "expired");
            }
        }
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::{Keypair, Transaction};

    fn call(key: &Keypair, nonce: u64, contract: &str, method: &str) -> (TxHash, Arc<SignedTransaction>, Arc<Vec<u8>>) {
        let stx = Transaction {
            chain_id: "c".into(),
            signer: key.public(),
            nonce,
            contract: contract.into(),
            method: method.into(),
            payload: vec![0; 10],
        }
        .sign(key);
        let bytes = stx.to_bytes();
        (stx.hash(), Arc::new(stx), Arc::new(bytes))
    }

    fn tx(key: &Keypair, nonce: u64) -> (TxHash, Arc<SignedTransaction>, Arc<Vec<u8>>) {
        call(key, nonce, "x", "y")
    }

    /// Height 0, committed next nonce 0, normal room.
    const AT0: Admit = Admit { height: 0, committed_next: 0, priority: Priority::Normal };

    fn add(m: &mut Mempool, t: (TxHash, Arc<SignedTransaction>, Arc<Vec<u8>>), at: Admit) -> Result<(), MempoolError> {
        m.insert(t.0, t.1, t.2, at)
    }

    fn no_rules(max_bytes: usize, max_txs: usize) -> MempoolLimits {
        MempoolLimits {
            max_bytes,
            max_txs,
            max_per_signer: usize::MAX,
            nonce_window: u64::MAX,
            ttl_blocks: u64::MAX,
            reserved_txs: 0,
            reserved_bytes: 0,
            ingest_nice: 0,
        }
    }

    #[test]
    fn dedup_nonce_and_bounds() {
        let k = Keypair::from_label("a");
        let mut m = Mempool::with_limits(no_rules(1_000_000, 2));
        let (h, t, b) = tx(&k, 0);
        m.insert(h, t.clone(), b.clone(), AT0).unwrap();
        assert_eq!(m.insert(h, t, b, AT0), Err(MempoolError::Duplicate(h)));
        add(&mut m, tx(&k, 1), AT0).unwrap();
        assert!(matches!(add(&mut m, tx(&k, 2), AT0), Err(MempoolError::Full { .. })));
        let mut other = (*tx(&k, 1).1).clone();
        other.tx.payload = vec![1];
        let other = other.tx.sign(&k);
        let bytes = Arc::new(other.to_bytes());
        assert!(matches!(
            m.insert(other.hash(), Arc::new(other), bytes, AT0),
            Err(MempoolError::NonceTaken { nonce: 1, .. })
        ));
    }

    #[test]
    fn byte_bound_gives_mempool_full() {
        let k = Keypair::from_label("a");
        let (h, t, b) = tx(&k, 0);
        let mut m = Mempool::with_limits(no_rules(b.len() + 10, 100));
        m.insert(h, t, b, AT0).unwrap();
        assert!(add(&mut m, tx(&k, 1), AT0).unwrap_err().to_string().contains("mempool full"));
    }

    #[test]
    fn candidates_follow_nonce_order_and_skip_gaps() {
        let a = Keypair::from_label("a");
        let b = Keypair::from_label("b");
        let mut m = Mempool::new(1_000_000, 100);
        for (k, n) in [(&a, 1), (&b, 0), (&a, 0), (&a, 3)] {
            add(&mut m, tx(k, n), AT0).unwrap();
        }
        let c = m.candidates(100, 1_000_000, |_| 0);
        let got: Vec<(PublicKey, u64)> = c.iter().map(|p| (p.tx.tx.signer, p.tx.tx.nonce)).collect();
        assert_eq!(got, vec![(b.public(), 0), (a.public(), 0), (a.public(), 1)]);
        assert_eq!(m.pending_next_nonce(&a.public(), 0), 2);
        let committed: Vec<TxHash> = c.iter().map(|p| p.hash).collect();
        let dropped = m.after_commit(&committed, 1, |t| t.tx.nonce != 3);
        assert_eq!((dropped, m.len()), (Dropped { stale: 1, expired: 0 }, 0));
        assert_eq!(m.bytes(), 0);
    }

    /// After a block that changed no membership, only the block's signers' nonces
    /// moved: their transactions below the new next nonce go, every other stays (the
    /// same verdict the full re-check gives, without visiting the whole pool).
    #[test]
    fn a_nonce_recheck_drops_exactly_the_stale_transactions_of_the_blocks_signers() {
        let a = Keypair::from_label("a");
        let b = Keypair::from_label("b");
        let fill = |m: &mut Mempool| {
            for (k, n) in [(&a, 0), (&a, 1), (&a, 2), (&a, 5), (&b, 0), (&b, 1)] {
                add(m, tx(k, n), AT0).unwrap();
            }
        };
        let committed = [tx(&a, 0).0];
        // The block holds this pool's copy of `a`'s nonce 0 and another transaction of
        // `a` with nonce 1 (so the pool's nonce-1 copy is stale): `a`'s next nonce is 2.
        // `b` signed nothing in the block.
        let mut cheap = Mempool::new(1_000_000, 100);
        fill(&mut cheap);
        let dropped = cheap.after_commit_nonces(&committed, 1, &[(a.public(), 2)]);
        let mut full = Mempool::new(1_000_000, 100);
        fill(&mut full);
        let same = full.after_commit(&committed, 1, |t| t.tx.signer != a.public() || t.tx.nonce >= 2);
        assert_eq!(dropped, Dropped { stale: 1, expired: 0 });
        assert_eq!(dropped, same);
        let left = |m: &Mempool| {
            let mut v: Vec<(PublicKey, u64)> = m.by_hash.values().map(|p| (p.tx.tx.signer, p.tx.tx.nonce)).collect();
            v.sort();
            v
        };
        assert_eq!(left(&cheap), left(&full));
        assert_eq!(cheap.bytes(), full.bytes());
        assert_eq!(cheap.pending_next_nonce(&b.public(), 0), 2);
    }

    /// Rule: one signer holds at most `max_per_signer` pending transactions, so a
    /// flooder cannot take the room of every other member.
    #[test]
    fn one_signer_cannot_take_more_than_its_share() {
        let flooder = Keypair::from_label("flooder");
        let honest = Keypair::from_label("honest");
        let mut m = Mempool::with_limits(MempoolLimits { max_per_signer: 3, ..MempoolLimits::new(1_000_000, 100) });
        for n in 0..3 {
            add(&mut m, tx(&flooder, n), AT0).unwrap();
        }
        let e = add(&mut m, tx(&flooder, 3), AT0).unwrap_err();
        assert_eq!(e, MempoolError::SignerLimit { signer: flooder.public(), pending: 3 });
        assert!(e.to_string().contains("wait for blocks"), "{e}");
        add(&mut m, tx(&honest, 0), AT0).unwrap();
        // Once a block commits some of them, the flooder may add again.
        let first = m.candidates(1, 1_000_000, |_| 0)[0].hash;
        m.after_commit(&[first], 1, |_| true);
        add(&mut m, tx(&flooder, 3), Admit { height: 1, committed_next: 1, priority: Priority::Normal }).unwrap();
        assert_eq!(m.pending_of(&flooder.public()), 3);
    }

    /// Rule: a nonce at or beyond committed next + `nonce_window` is refused (it could
    /// not be included before the gap below it filled, so it would only take room).
    #[test]
    fn far_future_nonces_are_refused() {
        let k = Keypair::from_label("a");
        let mut m = Mempool::with_limits(MempoolLimits { nonce_window: 10, ..MempoolLimits::new(1_000_000, 100) });
        let at = Admit { height: 5, committed_next: 7, priority: Priority::Normal };
        add(&mut m, tx(&k, 16), at).unwrap();
        let e = add(&mut m, tx(&k, 17), at).unwrap_err();
        assert_eq!(e, MempoolError::NonceTooFar { signer: k.public(), nonce: 17, committed_next: 7, limit: 17 });
        assert!(add(&mut m, tx(&k, u64::MAX), at).is_err());
        // The window moves with committed state.
        add(&mut m, tx(&k, 17), Admit { committed_next: 8, ..at }).unwrap();
    }

    /// Rule: a transaction still pending `ttl_blocks` blocks after it entered is
    /// dropped; younger ones stay. Measured in committed blocks, no clock involved.
    #[test]
    fn transactions_expire_after_ttl_blocks() {
        let k = Keypair::from_label("a");
        let mut m = Mempool::with_limits(MempoolLimits { ttl_blocks: 3, ..MempoolLimits::new(1_000_000, 100) });
        // A gap at nonce 0: neither can be included, both would wait for ever.
        add(&mut m, tx(&k, 1), Admit { height: 10, committed_next: 0, priority: Priority::Normal }).unwrap();
        add(&mut m, tx(&k, 2), Admit { height: 11, committed_next: 0, priority: Priority::Normal }).unwrap();
        assert_eq!(m.after_commit(&[], 12, |_| true), Dropped::default());
        assert_eq!(m.after_commit(&[], 13, |_| true), Dropped { stale: 0, expired: 1 });
        assert_eq!((m.len(), m.pending_next_nonce(&k.public(), 2)), (1, 3));
        assert_eq!(m.after_commit(&[], 14, |_| true), Dropped { stale: 0, expired: 1 });
        assert!(m.is_empty());
        assert_eq!(m.bytes(), 0);
    }

    /// Rule: the reserve is kept for governance, so a regulator's revocation of a
    /// flooder enters a pool the flooder filled; normal transactions never use it.
    #[test]
    fn reserve_lets_governance_in_when_full() {
        let limits = MempoolLimits { reserved_txs: 2, ..no_rules(1_000_000, 5) };
        let mut m = Mempool::with_limits(limits);
        let flooders: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("f{i}"))).collect();
        for f in &flooders[..3] {
            add(&mut m, tx(f, 0), AT0).unwrap();
        }
        assert!(matches!(add(&mut m, tx(&flooders[3], 0), AT0), Err(MempoolError::Full { .. })));
        // A governance call that was not granted priority (not a regulator) is normal.
        let gov = Keypair::from_label("regulator");
        assert!(matches!(add(&mut m, call(&gov, 0, "governance", "propose"), AT0), Err(MempoolError::Full { .. })));
        let prio = Admit { priority: Priority::Governance, ..AT0 };
        add(&mut m, call(&gov, 0, "governance", "propose"), prio).unwrap();
        add(&mut m, call(&gov, 1, "governance", "approve"), prio).unwrap();
        assert!(matches!(add(&mut m, call(&gov, 2, "governance", "approve"), prio), Err(MempoolError::Full { .. })));
        assert_eq!(m.len(), 5);
        // The byte reserve works the same way.
        let (h, t, b) = tx(&flooders[0], 1);
        let l = b.len();
        let mut m = Mempool::with_limits(MempoolLimits { reserved_bytes: l + 64, ..no_rules(2 * l + 64, 100) });
        m.insert(h, t, b, AT0).unwrap();
        assert!(matches!(add(&mut m, tx(&flooders[1], 0), AT0), Err(MempoolError::Full { .. })));
        add(&mut m, call(&gov, 0, "membership", "revoke"), prio).unwrap();
        // And it is the first candidate for the next block, ahead of the backlog.
        let first = m.candidates(1, 1_000_000, |_| 0);
        assert_eq!((first[0].tx.tx.signer, first[0].tx.tx.method.as_str()), (gov.public(), "revoke"));
        let f0 = flooders[0].public();
        let all = m.candidates(10, 1_000_000, |k| u64::from(*k == f0));
        assert_eq!((all.len(), all[1].tx.tx.signer), (2, f0));
    }

    #[test]
    fn governance_calls_are_governance_and_membership_revoke() {
        assert!(is_governance_call("governance", "propose"));
        assert!(is_governance_call("governance", "approve"));
        assert!(is_governance_call("membership", "revoke"));
        assert!(!is_governance_call("membership", "certify"));
        assert!(!is_governance_call("trace", "create_lot"));
    }
}
