//! Signature checks of a block alongside its execution.
//!
//! The one block validator ([`jialing_contracts::block_validator::validate_block`])
//! hashes a block's transactions, executes them, and only then asks which signatures
//! are already verified and checks the rest itself. [`with_signatures_checked`] starts
//! a second thread on those signatures when validation starts, in chunks taken from a
//! shared counter; once execution is done, the validating thread takes the chunks that
//! are left, so the two cores share the work whichever finishes first. A chunk whose
//! batch fails counts as not verified: the block validator then checks its signatures
//! one by one and names the bad one, so the verdict is the block validator's own.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use jialing_core::crypto::{SignedDigest, verify_batch};

/// Fewer signatures than this are left to the block validator's own batch.
pub const PARALLEL_MIN: usize = 256;
/// Signatures per batch taken by either thread.
const CHUNK: usize = 512;

const UNKNOWN: u8 = 0;
const PASSED: u8 = 1;
const FAILED: u8 = 2;

struct Shared<'a> {
    chain_id: &'a str,
    digests: &'a [SignedDigest],
    next: AtomicUsize,
    stop: AtomicBool,
    verdicts: Vec<AtomicU8>,
}

impl Shared<'_> {
    /// Verifies chunks until none is left (or the block was refused meanwhile).
    fn work(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            let c = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = self.digests.chunks(CHUNK).nth(c) else { return };
            let ok = verify_batch(self.chain_id, chunk).is_ok();
            self.verdicts[c].store(if ok { PASSED } else { FAILED }, Ordering::Release);
        }
    }
}

/// Runs `validate` with a callback that says whether the signature of transaction `i`
/// was verified here. `todo` lists the transactions (block index, signed digest) whose
/// signatures nobody has verified yet; the callback answers `false` for every other
/// index, and for a signature in a chunk that failed.
pub fn with_signatures_checked<R>(
    chain_id: &str,
    todo: &[(usize, SignedDigest)],
    block_len: usize,
    validate: impl FnOnce(&dyn Fn(usize) -> bool) -> R,
) -> R {
    if todo.len() < PARALLEL_MIN {
        return validate(&|_| false);
    }
    let digests: Vec<SignedDigest> = todo.iter().map(|(_, d)| d.clone()).collect();
    let chunks = digests.len().div_ceil(CHUNK);
    let shared = Shared {
        chain_id,
        digests: &digests,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        verdicts: (0..chunks).map(|_| AtomicU8::new(UNKNOWN)).collect(),
    };
    std::thread::scope(|s| {
        let helper = s.spawn(|| shared.work());
        let helper = std::cell::Cell::new(Some(helper));
        let verified: OnceCell<Vec<bool>> = OnceCell::new();
        let answer = |i: usize| {
            verified.get_or_init(|| {
                // Execution is done: help with what is left, then wait for the helper.
                shared.work();
                if let Some(h) = helper.take() {
                    // A panicked helper leaves its chunk UNKNOWN: checked one by one.
                    let _ = h.join();
                }
                let mut by_index = vec![false; block_len];
                for (k, (index, _)) in todo.iter().enumerate() {
                    let passed = shared.verdicts[k / CHUNK].load(Ordering::Acquire) == PASSED;
                    if let Some(slot) = by_index.get_mut(*index) {
                        *slot = passed;
                    }
                }
                by_index
            })[i]
        };
        let result = validate(&|i| i < block_len && answer(i));
        shared.stop.store(true, Ordering::Relaxed);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::Keypair;
    use jialing_core::crypto::Purpose;
    use jialing_core::hash::sha256;

    fn items(n: usize, forged: Option<usize>) -> Vec<(usize, SignedDigest)> {
        let key = Keypair::from_label("alongside");
        (0..n)
            .map(|i| {
                let digest = sha256(&i.to_le_bytes());
                let mut signature = key.sign("c", Purpose::Transaction, &digest);
                if forged == Some(i) {
                    signature.0[40] ^= 1;
                }
                (i * 2, SignedDigest { signer: key.public(), purpose: Purpose::Transaction, digest, signature })
            })
            .collect()
    }

    /// Every listed signature that verifies is reported verified, at its block index;
    /// the chunk holding a forged one is not (the block validator checks it itself).
    #[test]
    fn reports_verified_chunks_by_block_index() {
        let todo = items(1500, Some(700));
        let answers = with_signatures_checked("c", &todo, 3000, |verified| (0..3001).map(verified).collect::<Vec<_>>());
        for (k, (index, _)) in todo.iter().enumerate() {
            let in_forged_chunk = k / CHUNK == 700 / CHUNK;
            assert_eq!(answers[*index], !in_forged_chunk, "item {k} at index {index}");
            assert!(!answers[index + 1], "an unlisted index is never verified");
        }
        assert!(!answers[3000], "out of range is not verified");
    }

    /// Below the threshold nothing is verified here, and a refusal before the callback
    /// is asked ends the helper thread.
    #[test]
    fn small_batches_and_early_refusals() {
        let todo = items(10, None);
        assert!(!with_signatures_checked("c", &todo, 20, |v| v(0)));
        let todo = items(2000, None);
        let r: Result<(), &str> = with_signatures_checked("c", &todo, 4000, |_| Err("refused before signatures"));
        assert!(r.is_err());
    }
}
