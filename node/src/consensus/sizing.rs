//! How many transactions this validator puts in its next proposal: a bound that fits
//! the round's propose timeout on this machine, measured rather than configured.
//!
//! - Every block this node builds or validates gives a sample of the time it took per
//!   transaction; an exponentially weighted average keeps the recent cost. The block
//!   must be built by the proposer and then validated by every other validator before
//!   the propose timeout ends, so the cost-based cap is a quarter of that timeout
//!   divided by the cost per transaction (half of the timeout for the two executions,
//!   and a factor two of headroom for network, fetches and a slower peer).
//! - Below that cap, an additive-increase, multiplicative-decrease limit reacts to
//!   what happened: a height that needed a round above 0 halves it (so a block that
//!   timed out is never proposed again at the same size), a height decided in round 0
//!   raises it by an eighth.
//! - The configured `[block] max_txs` stays the ceiling.
//!
//! Pure: the host passes the measured durations in.

use std::time::Duration;

/// The fewest transactions the limit falls to.
pub const MIN_LIMIT: usize = 64;

/// Blocks with fewer transactions give no cost sample (fixed costs dominate).
const MIN_SAMPLE_TXS: usize = 32;

/// The adaptive block size of one validator.
#[derive(Clone, Debug)]
pub struct BlockSizer {
    ceiling: usize,
    propose_timeout: Duration,
    /// Average cost per transaction (ns), once measured.
    cost_ns: Option<u64>,
    aimd: usize,
    /// The height whose late round already halved the limit.
    cut_at: Option<u64>,
}

impl BlockSizer {
    /// A sizer under `ceiling` transactions for a round-0 propose timeout.
    pub fn new(ceiling: usize, propose_timeout: Duration) -> Self {
        let ceiling = ceiling.max(1);
        BlockSizer { ceiling, propose_timeout, cost_ns: None, aimd: ceiling, cut_at: None }
    }

    /// Records that executing `txs` transactions took `took` (building or validating a
    /// block).
    pub fn sample(&mut self, txs: usize, took: Duration) {
        if txs < MIN_SAMPLE_TXS {
            return;
        }
        let per = (took.as_nanos() / txs as u128).min(u64::MAX as u128) as u64;
        self.cost_ns = Some(match self.cost_ns {
            None => per,
            Some(c) => (c.saturating_mul(3).saturating_add(per)) / 4,
        });
    }

    /// A height was decided in `round`.
    pub fn decided(&mut self, height: u64, round: u32) {
        if round > 0 {
            self.late_round(height);
        } else {
            self.aimd = (self.aimd + self.aimd / 8 + 1).min(self.ceiling);
        }
    }

    /// A round above 0 started at `height`: the proposal of round 0 did not make it in
    /// time. Halves the limit once per height.
    pub fn late_round(&mut self, height: u64) {
        if self.cut_at == Some(height) {
            return;
        }
        self.cut_at = Some(height);
        self.aimd = (self.aimd / 2).max(MIN_LIMIT.min(self.ceiling));
    }

    /// The cap the measured cost allows, if measured.
    pub fn cost_cap(&self) -> Option<usize> {
        let cost = self.cost_ns?.max(1);
        let budget = self.propose_timeout.as_nanos() / 4;
        Some(((budget / cost as u128).min(usize::MAX as u128) as usize).max(MIN_LIMIT))
    }

    /// Most transactions in the next proposal.
    pub fn limit(&self) -> usize {
        let cap = self.cost_cap().unwrap_or(self.ceiling);
        self.aimd.min(cap).min(self.ceiling).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_measured_cost() {
        let mut s = BlockSizer::new(20_000, Duration::from_secs(3));
        assert_eq!(s.limit(), 20_000);
        // 100 µs per transaction: a quarter of 3 s holds 7,500.
        s.sample(1000, Duration::from_millis(100));
        assert_eq!(s.limit(), 7_500);
        // A faster machine: 25 µs per transaction converges to the ceiling.
        for _ in 0..20 {
            s.sample(1000, Duration::from_millis(25));
        }
        assert_eq!(s.limit(), 20_000);
        // Tiny blocks give no sample.
        s.sample(3, Duration::from_secs(10));
        assert_eq!(s.limit(), 20_000);
    }

    #[test]
    fn a_late_round_halves_once_per_height_and_round_zero_recovers() {
        let mut s = BlockSizer::new(10_000, Duration::from_secs(3));
        s.late_round(5);
        s.late_round(5);
        assert_eq!(s.limit(), 5_000);
        s.decided(5, 2);
        assert_eq!(s.limit(), 5_000, "the height's late round already counted");
        s.decided(6, 1);
        assert_eq!(s.limit(), 2_500);
        for h in 7..100 {
            s.decided(h, 0);
        }
        assert_eq!(s.limit(), 10_000);
        for h in 100..200 {
            s.late_round(h);
        }
        assert_eq!(s.limit(), MIN_LIMIT);
    }
}
