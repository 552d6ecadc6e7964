//! The mempool: verified transactions waiting for a block.
//!
//! Deduplicated by hash; one transaction per (signer, nonce); bounded in bytes and count
//! with a clear "mempool full" error. Only transactions whose signature verified enter,
//! so a proposal built from the mempool needs no second verification. Candidates for a
//! block come out in arrival order, each signer's transactions in nonce order. After
//! each commit the pool drops what was committed and re-checks the rest.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jialing_core::{PublicKey, SignedTransaction, TxHash};

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
}

impl PendingTx {
    /// A transaction outside the pool (e.g. from another validator's proposal).
    pub fn new(hash: TxHash, tx: Arc<SignedTransaction>, bytes: Arc<Vec<u8>>) -> Self {
        PendingTx { hash, tx, bytes, seq: u64::MAX }
    }
}

/// The pool.
pub struct Mempool {
    max_bytes: usize,
    max_txs: usize,
    by_hash: HashMap<TxHash, PendingTx>,
    by_signer: BTreeMap<PublicKey, BTreeMap<u64, TxHash>>,
    arrival: BTreeMap<u64, TxHash>,
    bytes: usize,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool with bounds.
    pub fn new(max_bytes: usize, max_txs: usize) -> Self {
        Mempool {
            max_bytes,
            max_txs,
            by_hash: HashMap::new(),
            by_signer: BTreeMap::new(),
            arrival: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    /// Adds a transaction whose signature has been verified.
    pub fn insert(
        &mut self,
        hash: TxHash,
        tx: Arc<SignedTransaction>,
        bytes: Arc<Vec<u8>>,
    ) -> Result<(), MempoolError> {
        if self.by_hash.contains_key(&hash) {
            return Err(MempoolError::Duplicate(hash));
        }
        let (signer, nonce) = (tx.tx.signer, tx.tx.nonce);
        if self.by_signer.get(&signer).is_some_and(|m| m.contains_key(&nonce)) {
            return Err(MempoolError::NonceTaken { signer, nonce });
        }
        if self.bytes + bytes.len() > self.max_bytes || self.by_hash.len() >= self.max_txs {
            return Err(MempoolError::Full { txs: self.by_hash.len(), bytes: self.bytes, max_bytes: self.max_bytes });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += bytes.len();
        self.by_signer.entry(signer).or_default().insert(nonce, hash);
        self.arrival.insert(seq, hash);
        self.by_hash.insert(hash, PendingTx { hash, tx, bytes, seq });
        Ok(())
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

    /// Block candidates: arrival order, each signer's run in nonce order starting at its
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
        for hash in self.arrival.values() {
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
        let signer = p.tx.tx.signer;
        if let Some(m) = self.by_signer.get_mut(&signer) {
            m.remove(&p.tx.tx.nonce);
            if m.is_empty() {
                self.by_signer.remove(&signer);
            }
        }
        Some(p)
    }

    /// After a commit: drops the committed transactions, then every transaction for
    /// which `keep` says no (stale nonce, signer no longer a member). Returns how many
    /// were dropped by the re-check.
    pub fn after_commit(&mut self, committed: &[TxHash], mut keep: impl FnMut(&SignedTransaction) -> bool) -> usize {
        for h in committed {
            self.remove(h);
        }
        let drop: Vec<TxHash> = self.by_hash.values().filter(|p| !keep(&p.tx)).map(|p| p.hash).collect();
        for h in &drop {
            self.remove(h);
        }
        drop.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::{Keypair, Transaction};

    fn tx(key: &Keypair, nonce: u64) -> (TxHash, Arc<SignedTransaction>, Arc<Vec<u8>>) {
        let stx = Transaction {
            chain_id: "c".into(),
            signer: key.public(),
            nonce,
            contract: "x".into(),
            method: "y".into(),
            payload: vec![0; 10],
        }
        .sign(key);
        let bytes = stx.to_bytes();
        (stx.hash(), Arc::new(stx), Arc::new(bytes))
    }

    #[test]
    fn dedup_nonce_and_bounds() {
        let k = Keypair::from_label("a");
        let mut m = Mempool::new(1_000_000, 2);
        let (h, t, b) = tx(&k, 0);
        m.insert(h, t.clone(), b.clone()).unwrap();
        assert_eq!(m.insert(h, t, b), Err(MempoolError::Duplicate(h)));
        let (h2, t2, b2) = tx(&k, 1);
        m.insert(h2, t2, b2).unwrap();
        let (h3, t3, b3) = tx(&k, 2);
        assert!(matches!(m.insert(h3, t3, b3), Err(MempoolError::Full { .. })));
        let mut other = (*tx(&k, 1).1).clone();
        other.tx.payload = vec![1];
        let other = other.tx.sign(&k);
        let bytes = Arc::new(other.to_bytes());
        assert!(matches!(
            m.insert(other.hash(), Arc::new(other), bytes),
            Err(MempoolError::NonceTaken { nonce: 1, .. })
        ));
    }

    #[test]
    fn byte_bound_gives_mempool_full() {
        let k = Keypair::from_label("a");
        let (h, t, b) = tx(&k, 0);
        let mut m = Mempool::new(b.len() + 10, 100);
        m.insert(h, t, b).unwrap();
        let (h, t, b) = tx(&k, 1);
        assert!(m.insert(h, t, b).unwrap_err().to_string().contains("mempool full"));
    }

    #[test]
    fn candidates_follow_nonce_order_and_skip_gaps() {
        let a = Keypair::from_label("a");
        let b = Keypair::from_label("b");
        let mut m = Mempool::new(1_000_000, 100);
        for (k, n) in [(&a, 1), (&b, 0), (&a, 0), (&a, 3)] {
            let (h, t, by) = tx(k, n);
            m.insert(h, t, by).unwrap();
        }
        let c = m.candidates(100, 1_000_000, |_| 0);
        let got: Vec<(PublicKey, u64)> = c.iter().map(|p| (p.tx.tx.signer, p.tx.tx.nonce)).collect();
        assert_eq!(got, vec![(b.public(), 0), (a.public(), 0), (a.public(), 1)]);
        assert_eq!(m.pending_next_nonce(&a.public(), 0), 2);
        let committed: Vec<TxHash> = c.iter().map(|p| p.hash).collect();
        let dropped = m.after_commit(&committed, |t| t.tx.nonce != 3);
        assert_eq!((dropped, m.len()), (1, 0));
        assert_eq!(m.bytes(), 0);
    }
}
