//! The consensus host's pure bookkeeping: the blocks seen for the height being decided,
//! the bounded buffer of early proposals, the per-slot limit on how many different
//! blocks one (height, round) may bring, and the block-time window. No IO: the host
//! ([`super::host`]) does the validating, the disk and the network.
//!
//! What it keeps is bounded by the proposer schedule ([`super::parts::Schedule`]):
//! only the scheduled proposer of a (height, round) inside the accepted window gets a
//! stream through, and each such slot brings at most [`MAX_BLOCKS_PER_SLOT`] different
//! blocks. Only blocks found valid keep their body; an invalid block leaves its hash in
//! its slot (so it is not executed again) and nothing else.

use std::collections::BTreeMap;
use std::sync::Arc;

use jialing_core::{Block, Hash};
use malachitebft_core_types::Round;

use super::context::Address;
use super::parts::Assembled;
use crate::app::Proposal;

/// Most different blocks accepted for one (height, round): an honest proposer sends
/// one; an equivocating one gets a second considered (so that honest nodes see the
/// equivocation) and nothing more.
pub const MAX_BLOCKS_PER_SLOT: usize = 2;

/// Most early proposals (for the height after the one being decided) held at once.
pub const MAX_EARLY: usize = 8;

/// A valid block seen for the height being decided: ours, streamed to us, or synced.
pub struct Candidate {
    /// Height.
    pub height: u64,
    /// Latest round it was proposed in.
    pub round: Round,
    /// Proof-of-lock round of that proposal.
    pub pol_round: Round,
    /// Who proposed it.
    pub proposer: Address,
    /// The block.
    pub block: Arc<Block>,
    /// The executed result, until it is committed.
    pub executed: Option<Proposal>,
}

/// A complete stream for a later height, with the local time it arrived.
pub struct Early {
    /// The proposal.
    pub assembled: Assembled,
    /// Local clock when it arrived (ms): the block-time window is judged then.
    pub received_ms: u64,
}

/// Whether a block may be considered for its (height, round) slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// This block was already considered in this slot.
    Seen,
    /// A new block for the slot: consider it.
    New,
    /// The slot already brought [`MAX_BLOCKS_PER_SLOT`] different blocks.
    Full,
}

/// Why a block time is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Too far ahead of the local clock.
    #[error("block time {time_ms} is more than {drift_ms} ms ahead of this node's clock {now_ms}")]
    Ahead {
        /// Block time.
        time_ms: u64,
        /// Local clock.
        now_ms: u64,
        /// Allowed drift.
        drift_ms: u64,
    },
    /// Too far behind the local clock (fresh proposals only).
    #[error("block time {time_ms} is more than {lag_ms} ms behind this node's clock {now_ms}")]
    Behind {
        /// Block time.
        time_ms: u64,
        /// Local clock.
        now_ms: u64,
        /// Allowed lag.
        lag_ms: u64,
    },
}

/// The block-time window of a proposal judged by the local clock: at most `drift_ms`
/// ahead of `now_ms`, and, for a fresh proposal (no proof-of-lock round), at most
/// `lag_ms` behind it. A re-proposal of a locked block keeps its original time (more
/// than two thirds found it fresh then), and a synced block is judged by its
/// certificate, not by this window.
pub fn check_time(time_ms: u64, now_ms: u64, drift_ms: u64, lag_ms: u64, fresh: bool) -> Result<(), TimeError> {
    if time_ms > now_ms.saturating_add(drift_ms) {
        return Err(TimeError::Ahead { time_ms, now_ms, drift_ms });
    }
    if fresh && time_ms.saturating_add(lag_ms) < now_ms {
        return Err(TimeError::Behind { time_ms, now_ms, lag_ms });
    }
    Ok(())
}

/// The host's bookkeeping for the height being decided and the next one.
#[derive(Default)]
pub struct HostState {
    candidates: BTreeMap<Hash, Candidate>,
    slots: BTreeMap<(u64, u32), Vec<Hash>>,
    early: Vec<Early>,
}

impl HostState {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `block` (a header hash) was proposed in `height`/`round` and says
    /// whether to consider it.
    pub fn slot(&mut self, height: u64, round: u32, block: Hash) -> Slot {
        let seen = self.slots.entry((height, round)).or_default();
        if seen.contains(&block) {
            Slot::Seen
        } else if seen.len() >= MAX_BLOCKS_PER_SLOT {
            Slot::Full
        } else {
            seen.push(block);
            Slot::New
        }
    }

    /// Number of slots recorded (bounded by the schedule's window).
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Holds an early proposal; `false` (dropped) when the buffer is full.
    pub fn push_early(&mut self, e: Early) -> bool {
        if self.early.len() >= MAX_EARLY {
            return false;
        }
        self.early.push(e);
        true
    }

    /// Number of early proposals held.
    pub fn early_len(&self) -> usize {
        self.early.len()
    }

    /// Takes the early proposals for `height`, dropping those for earlier heights.
    pub fn take_early(&mut self, height: u64) -> Vec<Early> {
        let (now, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.early).into_iter().partition(|e| e.assembled.height == height);
        self.early = later.into_iter().filter(|e| e.assembled.height > height).collect();
        now
    }

    /// The valid candidate with this header hash.
    pub fn get(&self, hash: &Hash) -> Option<&Candidate> {
        self.candidates.get(hash)
    }

    /// The valid candidate with this header hash, to update.
    pub fn get_mut(&mut self, hash: &Hash) -> Option<&mut Candidate> {
        self.candidates.get_mut(hash)
    }

    /// Records a valid candidate (replacing one with the same hash).
    pub fn insert(&mut self, hash: Hash, c: Candidate) {
        self.candidates.insert(hash, c);
    }

    /// Number of valid candidates held.
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    /// Valid candidates last proposed in `height`/`round`.
    pub fn in_round(&self, height: u64, round: Round) -> impl Iterator<Item = &Candidate> {
        self.candidates.values().filter(move |c| c.height == height && c.round == round)
    }

    /// Forgets everything at or below the committed `height`.
    pub fn committed(&mut self, height: u64) {
        self.candidates.retain(|_, c| c.height > height);
        self.slots.retain(|(h, _), _| *h > height);
        self.early.retain(|e| e.assembled.height > height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_time_window() {
        // Fresh proposals: not more than the drift ahead, nor more than the lag behind.
        assert!(check_time(10_000, 10_000, 2_000, 5_000, true).is_ok());
        assert!(check_time(12_000, 10_000, 2_000, 5_000, true).is_ok());
        assert!(matches!(check_time(12_001, 10_000, 2_000, 5_000, true), Err(TimeError::Ahead { .. })));
        assert!(check_time(5_000, 10_000, 2_000, 5_000, true).is_ok());
        assert!(matches!(check_time(4_999, 10_000, 2_000, 5_000, true), Err(TimeError::Behind { .. })));
        // A re-proposal of a locked block keeps its time.
        assert!(check_time(1, 10_000, 2_000, 5_000, false).is_ok());
        assert!(check_time(u64::MAX, u64::MAX, 0, u64::MAX, true).is_ok());
    }

    #[test]
    fn slots_take_two_blocks_each() {
        let mut s = HostState::new();
        let (a, b, c) = (Hash([1; 32]), Hash([2; 32]), Hash([3; 32]));
        assert_eq!(s.slot(5, 0, a), Slot::New);
        assert_eq!(s.slot(5, 0, a), Slot::Seen);
        assert_eq!(s.slot(5, 0, b), Slot::New);
        assert_eq!(s.slot(5, 0, c), Slot::Full);
        assert_eq!(s.slot(5, 1, c), Slot::New);
        s.committed(5);
        assert_eq!(s.slots(), 0);
    }
}
