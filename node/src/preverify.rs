//! Signature checks of synced blocks ahead of their turn.
//!
//! A node catching up receives certified blocks in batches (Malachite's value sync asks
//! several peers for several heights at once), but executes them one at a time: while
//! block `h` executes and commits on one core, the blocks after it wait. The
//! [`Preverifier`] takes the bytes of every synced block as its sync response is
//! decoded and checks the block's transaction signatures on a thread of its own, in
//! batches; [`crate::app::App::validate`] then skips the signatures found here and
//! checks the others itself. Catch-up sync thus overlaps the signature checks of the
//! next blocks with the execution and the commit of the current one.
//!
//! What is kept is a fact, not a guess: the entry hash (the transaction hash and its
//! exact signature, [`jialing_core::tx::entry_hash`]) of a signature that verified under
//! this chain's id. The block it came in is not trusted for anything else, so a peer
//! that sends garbage only wastes this thread's time; bounds: [`MAX_QUEUED_BLOCKS`]
//! waiting blocks (more are left to `validate`) and [`MAX_VERIFIED`] remembered
//! entries (the oldest are forgotten first).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use jialing_core::block::{Block, MAX_ENCODED_BLOCK};
use jialing_core::crypto::{SignedDigest, verify_batch};
use jialing_core::{Hash, encoding};

/// Synced blocks waiting for their signature checks; a block that finds the queue full
/// is checked by `validate` in its turn.
pub const MAX_QUEUED_BLOCKS: usize = 16;
/// Entry hashes remembered at once (32 bytes each, twice).
pub const MAX_VERIFIED: usize = 1 << 18;
/// Signatures per batch verification: a failing batch costs no more than this many
/// single checks later, in `validate`.
const BATCH: usize = 2048;

/// Checks synced blocks' signatures ahead of execution; cheap to clone.
#[derive(Clone)]
pub struct Preverifier {
    inner: Arc<Inner>,
}

struct Inner {
    chain_id: String,
    queue: Mutex<Queue>,
    wake: Condvar,
    verified: Mutex<Verified>,
    /// Blocks at or below this height are committed or being validated (whose
    /// validation checks what it still needs itself): not worth checking.
    tip: AtomicU64,
    /// Signatures verified here, for the metric.
    count: AtomicU64,
}

#[derive(Default)]
struct Queue {
    blocks: VecDeque<Bytes>,
    worker: bool,
}

#[derive(Default)]
struct Verified {
    set: HashSet<Hash>,
    order: VecDeque<Hash>,
}

impl Preverifier {
    /// A preverifier for `chain_id`; its thread starts with the first block.
    pub fn new(chain_id: &str) -> Self {
        Preverifier {
            inner: Arc::new(Inner {
                chain_id: chain_id.to_owned(),
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
                verified: Mutex::new(Verified::default()),
                tip: AtomicU64::new(0),
                count: AtomicU64::new(0),
            }),
        }
    }

    /// Queues the encoded bytes of a synced block (untrusted) for its signature checks.
    /// Never blocks: a full queue drops the block (its turn checks it).
    pub fn submit(&self, block: Bytes) {
        let mut q = lock(&self.inner.queue);
        if q.blocks.len() >= MAX_QUEUED_BLOCKS {
            return;
        }
        q.blocks.push_back(block);
        if !q.worker {
            q.worker = true;
            let weak = Arc::downgrade(&self.inner);
            let spawned = std::thread::Builder::new().name("jialing-preverify".into()).spawn(move || run(weak));
            if spawned.is_err() {
                // No thread: nothing is lost, `validate` checks every signature.
                q.worker = false;
                q.blocks.clear();
                return;
            }
        }
        drop(q);
        self.inner.wake.notify_one();
    }

    /// Records the committed height: queued blocks at or below it are skipped.
    /// Also called when block `height` starts its validation, which checks what is
    /// left unchecked here: this thread then skips it (stopping between batches if it
    /// is on it) and moves on to the blocks after it.
    pub fn set_tip(&self, height: u64) {
        self.inner.tip.fetch_max(height, Ordering::Relaxed);
    }

    /// Whether the signature with this entry hash verified here; forgets it.
    pub fn take(&self, entry: &Hash) -> bool {
        self.take_all([Some(*entry)]).first().copied().unwrap_or(false)
    }

    /// [`Preverifier::take`] for each entry of a block under one lock (`None`: an entry
    /// the caller does not ask about, answered `false`).
    pub fn take_all(&self, entries: impl IntoIterator<Item = Option<Hash>>) -> Vec<bool> {
        let mut v = lock(&self.inner.verified);
        // The FIFO keeps its copy until it is evicted; a stale copy there is harmless.
        entries.into_iter().map(|e| e.is_some_and(|e| v.set.remove(&e))).collect()
    }

    /// Signatures verified ahead so far.
    pub fn verified_count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The worker: runs until the preverifier is dropped.
fn run(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let next = {
            let mut q = lock(&inner.queue);
            if q.blocks.is_empty() {
                // Wakes up now and then to notice that the node is gone.
                q = inner
                    .wake
                    .wait_timeout(q, Duration::from_secs(1))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            q.blocks.pop_front()
        };
        if let Some(bytes) = next {
            check(&inner, &bytes);
        }
    }
}

/// Verifies one block's signatures in batches and remembers the ones that passed.
fn check(inner: &Inner, bytes: &[u8]) {
    let Ok(block) = encoding::decode_limited::<Block>("synced block", bytes, MAX_ENCODED_BLOCK) else {
        return;
    };
    if block.header.height <= inner.tip.load(Ordering::Relaxed) || block.header.chain_id != inner.chain_id {
        return;
    }
    let items: Vec<(Hash, SignedDigest)> = block
        .txs
        .iter()
        .filter(|stx| stx.tx.chain_id == inner.chain_id)
        .map(|stx| {
            let hash = stx.hash();
            (stx.entry_hash(&hash), stx.signed_digest(hash))
        })
        .collect();
    for chunk in items.chunks(BATCH) {
        if block.header.height <= inner.tip.load(Ordering::Relaxed) {
            return;
        }
        let digests: Vec<SignedDigest> = chunk.iter().map(|(_, d)| d.clone()).collect();
        if verify_batch(&inner.chain_id, &digests).is_err() {
            continue;
        }
        inner.count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let mut v = lock(&inner.verified);
        for (entry, _) in chunk {
            if v.set.insert(*entry) {
                v.order.push_back(*entry);
            }
        }
        while v.order.len() > MAX_VERIFIED {
            if let Some(old) = v.order.pop_front() {
                v.set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::Keypair;
    use jialing_core::block::BlockHeader;
    use jialing_core::tx::Transaction;

    fn block(chain: &str, height: u64, n: u64, forge: Option<usize>) -> Block {
        let key = Keypair::from_label("pre");
        let mut txs: Vec<_> = (0..n)
            .map(|i| {
                Transaction {
                    chain_id: chain.into(),
                    signer: key.public(),
                    nonce: i,
                    contract: "trace".into(),
                    method: "m".into(),
                    payload: vec![i as u8, height as u8],
                }
                .sign(&key)
            })
            .collect();
        if let Some(i) = forge {
            txs[i].tx.payload.push(1);
        }
        let header = BlockHeader {
            chain_id: chain.into(),
            height,
            time_ms: height,
            parent_hash: Hash::ZERO,
            proposer: key.public(),
            tx_root: Hash::ZERO,
            tx_count: n as u32,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
            history_root: Hash::ZERO,
        };
        Block { header, txs }
    }

    fn wait_for(p: &Preverifier, n: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while p.verified_count() < n && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
    }

    /// Only signatures that verify are remembered; a forged one is left to `validate`,
    /// and so is the rest of its batch.
    #[test]
    fn remembers_only_verified_signatures() {
        let p = Preverifier::new("c");
        let good = block("c", 5, 10, None);
        p.submit(Bytes::from(encoding::encode(&good)));
        wait_for(&p, 10);
        for stx in &good.txs {
            assert!(p.take(&stx.entry_hash(&stx.hash())), "a good signature was verified ahead");
            assert!(!p.take(&stx.entry_hash(&stx.hash())), "taken once");
        }
        let bad = block("c", 6, 10, Some(3));
        p.submit(Bytes::from(encoding::encode(&bad)));
        p.submit(Bytes::from(encoding::encode(&block("c", 7, 1, None))));
        wait_for(&p, 11);
        for stx in &bad.txs {
            assert!(!p.take(&stx.entry_hash(&stx.hash())), "no entry of a failing batch is remembered");
        }
    }

    /// Blocks of another chain, of committed heights and undecodable bytes are skipped.
    #[test]
    fn skips_what_cannot_matter() {
        let p = Preverifier::new("c");
        p.set_tip(9);
        let old = block("c", 9, 3, None);
        let other = block("d", 10, 3, None);
        p.submit(Bytes::from_static(b"not a block"));
        p.submit(Bytes::from(encoding::encode(&old)));
        p.submit(Bytes::from(encoding::encode(&other)));
        let marker = block("c", 10, 1, None);
        p.submit(Bytes::from(encoding::encode(&marker)));
        wait_for(&p, 1);
        assert_eq!(p.verified_count(), 1, "only the marker block was checked");
        for stx in old.txs.iter().chain(&other.txs) {
            assert!(!p.take(&stx.entry_hash(&stx.hash())));
        }
    }
}
