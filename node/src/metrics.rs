//! Prometheus metrics of the node, served at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The node's metrics, grouped in one struct.
pub struct Metrics {
    registry: Registry,
    /// Height of the last committed block.
    pub height: Gauge,
    /// Committed transactions (including refused ones).
    pub txs_committed: Counter,
    /// Committed transactions refused by a contract rule.
    pub txs_refused: Counter,
    /// Submissions rejected before the mempool (bad signature, not a member, ...).
    pub txs_rejected: Counter,
    /// Pending transactions dropped after `mempool.ttl_blocks` blocks.
    pub mempool_expired: Counter,
    /// Pending transactions.
    pub mempool_txs: Gauge,
    /// Pending bytes.
    pub mempool_bytes: Gauge,
    /// Time to execute a block, seconds.
    pub block_execute_seconds: Histogram,
    /// Time to write and fsync a block, seconds.
    pub block_commit_seconds: Histogram,
    /// Transactions per block.
    pub block_txs: Histogram,
    /// Proposals this node found invalid (it voted nil).
    pub proposals_rejected: Counter,
    /// Proposal streams dropped: outside the accepted heights and rounds, not from the
    /// scheduled proposer, from a non-member, over a quota, malformed or forged.
    pub proposal_streams_refused: Counter,
    /// Synced blocks whose body does not match its certified header or does not
    /// validate: the peer that sent it is at fault (another peer is asked).
    pub sync_peer_faults: Counter,
    /// Peers' sync requests answered with no blocks because the serving queue was full.
    pub sync_requests_refused: Counter,
    /// Transaction signatures of synced blocks checked ahead of their block's turn.
    pub sync_preverified: Counter,
    /// Transaction signatures checked while validating a block, because no checked copy
    /// was in the mempool yet (dissemination behind the proposer, or a synced block).
    pub block_sigs_checked: Counter,
    /// Transactions received from peers by gossip (before checks).
    pub gossip_txs_in: Counter,
    /// Transactions sent to peers by gossip.
    pub gossip_txs_out: Counter,
    /// Connected gossip peers.
    pub gossip_peers: Gauge,
    /// Transaction bytes pushed to peers.
    pub gossip_bytes_out: Counter,
    /// Transactions a peer asked to be sent again (its mempool was full).
    pub gossip_txs_retried: Counter,
    /// Transactions not delivered to a peer: unreachable, or refused as full too often.
    pub gossip_txs_dropped: Counter,
    /// Bytes queued for the slowest connected peer.
    pub gossip_backlog_bytes: Gauge,
    /// Submissions refused as `overloaded` (a peer's queue was full).
    pub txs_overloaded: Counter,
    /// Transactions of compact proposals fetched from the proposer.
    pub proposal_txs_fetched: Counter,
    /// Bytes of proposal streams this node published.
    pub proposal_bytes_out: Counter,
    /// Heights decided in a round above 0.
    pub late_rounds: Counter,
    /// Most transactions this node puts in its next proposal (adapts to the measured
    /// execution time).
    pub block_limit_txs: Gauge,
    /// Connections refused because the peer is not a member's node.
    pub peers_refused: Counter,
    /// Per held validator key (label `key`, hex): 1 for the key the engine signs
    /// with now, 0 for the others.
    pub validator_key_active: Family<Vec<(String, String)>, Gauge>,
    /// Validator key switches made without a restart.
    pub validator_key_switches: Counter,
}

impl Metrics {
    /// Registers every metric under the `jialing` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("jialing");
        let m = Metrics {
            height: Gauge::default(),
            txs_committed: Counter::default(),
            txs_refused: Counter::default(),
            txs_rejected: Counter::default(),
            mempool_expired: Counter::default(),
            mempool_txs: Gauge::default(),
            mempool_bytes: Gauge::default(),
            block_execute_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            block_commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            block_txs: Histogram::new(exponential_buckets(1.0, 2.0, 15)),
            proposals_rejected: Counter::default(),
            proposal_streams_refused: Counter::default(),
            sync_peer_faults: Counter::default(),
            sync_requests_refused: Counter::default(),
            sync_preverified: Counter::default(),
            block_sigs_checked: Counter::default(),
            gossip_txs_in: Counter::default(),
            gossip_txs_out: Counter::default(),
            gossip_peers: Gauge::default(),
            gossip_bytes_out: Counter::default(),
            gossip_txs_retried: Counter::default(),
            gossip_txs_dropped: Counter::default(),
            gossip_backlog_bytes: Gauge::default(),
            txs_overloaded: Counter::default(),
            proposal_txs_fetched: Counter::default(),
            proposal_bytes_out: Counter::default(),
            late_rounds: Counter::default(),
            block_limit_txs: Gauge::default(),
            peers_refused: Counter::default(),
            validator_key_active: Family::default(),
            validator_key_switches: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("height", "Height of the last committed block", m.height.clone());
        registry.register("txs_committed", "Transactions committed in blocks", m.txs_committed.clone());
        registry.register("txs_refused", "Committed transactions refused by a contract rule", m.txs_refused.clone());
        registry.register("txs_rejected", "Submissions rejected before the mempool", m.txs_rejected.clone());
        registry.register(
            "mempool_expired",
            "Pending transactions dropped after mempool.ttl_blocks blocks",
            m.mempool_expired.clone(),
        );
        registry.register("mempool_txs", "Pending transactions", m.mempool_txs.clone());
        registry.register("mempool_bytes", "Pending transaction bytes", m.mempool_bytes.clone());
        registry.register("block_execute_seconds", "Block execution time", m.block_execute_seconds.clone());
        registry.register("block_commit_seconds", "Block write and fsync time", m.block_commit_seconds.clone());
        registry.register("block_txs", "Transactions per block", m.block_txs.clone());
        registry.register("proposals_rejected", "Proposals found invalid (voted nil)", m.proposals_rejected.clone());
        registry.register(
            "proposal_streams_refused",
            "Proposal streams dropped (window, proposer, member, quota, form, signature)",
            m.proposal_streams_refused.clone(),
        );
        registry.register(
            "sync_peer_faults",
            "Synced blocks refused as the sending peer's fault",
            m.sync_peer_faults.clone(),
        );
        registry.register(
            "sync_requests_refused",
            "Peers' sync requests answered with no blocks: the serving queue was full",
            m.sync_requests_refused.clone(),
        );
        registry.register(
            "sync_preverified",
            "Signatures of synced blocks checked ahead of their block's turn",
            m.sync_preverified.clone(),
        );
        registry.register(
            "block_sigs_checked",
            "Transaction signatures checked while validating a block (no checked copy in the mempool)",
            m.block_sigs_checked.clone(),
        );
        registry.register("gossip_txs_in", "Transactions received by gossip", m.gossip_txs_in.clone());
        registry.register("gossip_txs_out", "Transactions gossiped to peers", m.gossip_txs_out.clone());
        registry.register("gossip_peers", "Connected gossip peers", m.gossip_peers.clone());
        registry.register("gossip_bytes_out", "Transaction bytes pushed to peers", m.gossip_bytes_out.clone());
        registry.register(
            "gossip_txs_retried",
            "Transactions a peer asked to be sent again (mempool full)",
            m.gossip_txs_retried.clone(),
        );
        registry.register(
            "gossip_txs_dropped",
            "Transactions not delivered to a peer (unreachable, or full too often)",
            m.gossip_txs_dropped.clone(),
        );
        registry.register(
            "gossip_backlog_bytes",
            "Bytes queued for the slowest connected peer",
            m.gossip_backlog_bytes.clone(),
        );
        registry.register("txs_overloaded", "Submissions refused as overloaded", m.txs_overloaded.clone());
        registry.register(
            "proposal_txs_fetched",
            "Transactions of compact proposals fetched from the proposer",
            m.proposal_txs_fetched.clone(),
        );
        registry.register("proposal_bytes_out", "Bytes of proposal streams published", m.proposal_bytes_out.clone());
        registry.register("late_rounds", "Heights decided in a round above 0", m.late_rounds.clone());
        registry.register(
            "block_limit_txs",
            "Most transactions in this node's next proposal",
            m.block_limit_txs.clone(),
        );
        registry.register("peers_refused", "Connections refused: not a member's node", m.peers_refused.clone());
        registry.register(
            "validator_key_active",
            "1 for the validator key this node signs with now, 0 for its other keys",
            m.validator_key_active.clone(),
        );
        registry.register(
            "validator_key_switches",
            "Validator key switches made without a restart",
            m.validator_key_switches.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
