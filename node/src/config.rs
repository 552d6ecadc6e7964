//! The node's TOML configuration, with a default for every field and a check at start.
//!
//! ```toml
//! genesis = "genesis.toml"        # path, relative to this file
//! data_dir = "data"               # relative to this file
//! validator_keys = ["keys/validator.json"]   # empty on a full node; during a key
//!                                 # rotation ["keys/validator.json", "keys/validator-next.json"]:
//!                                 # each height is signed by the one key in its validator set
//! node_key = "keys/node.json"
//! [api]
//! listen = "127.0.0.1:8700"       # member API
//! consumer_max_block_age_secs = 120  # the consumer page says "may be behind" past this
//! checkpoint_every_blocks = 10    # signed checkpoint (C2SP note) at multiples of this
//! [api.public]
//! listen = "127.0.0.1:8780"       # consumer page, public views, proofs
//! [query_log]
//! anchor_key = "keys/anchor.json" # a member key of the node's organisation
//! anchor_every_secs = 600         # anchor the query log's head on the ledger
//! [block]
//! max_txs = 5000
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("config {path} is invalid: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation.
        reason: String,
    },
    /// A value is out of range.
    #[error("config field {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The whole node configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Path of the genesis file (relative paths are relative to the config file).
    pub genesis: PathBuf,
    /// Directory of the ledger store.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Validator key files this node may sign with (empty: a full node). At each
    /// height the node signs with the one key in that height's validator set, and
    /// switches keys by itself, without a restart, at the height where governance
    /// (`rotate_validator`) replaces one; none in the set: it follows as a full node.
    /// Two keys in one set: it refuses to start (it never signs with two keys).
    #[serde(default)]
    pub validator_keys: Vec<PathBuf>,
    /// The node's peer (libp2p) key file.
    #[serde(default)]
    pub node_key: Option<PathBuf>,
    /// HTTP API settings.
    #[serde(default)]
    pub api: ApiConfig,
    /// Block production settings.
    #[serde(default)]
    pub block: BlockConfig,
    /// Mempool settings.
    #[serde(default)]
    pub mempool: MempoolConfig,
    /// Logging settings.
    #[serde(default)]
    pub log: LogConfig,
    /// Consensus and peer-to-peer settings (multi-node networks).
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// The query log's anchoring on the ledger (`[query_log]`).
    #[serde(default)]
    pub query_log: QueryLogConfig,
    /// The file this configuration was loaded from (not a field of the file). A
    /// multi-node validator re-reads its `validator_keys` from it whenever the
    /// validator set changes, so a next key can be added without a restart.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Anchoring the query log's head on the ledger: every `anchor_every_secs`, if the log
/// grew, the node submits `audit.anchor_queries` (entry count and last line hash)
/// signed with `anchor_key`, a member key of the node's organisation. Without a key
/// the log is still a hash chain, but removing its last entries cannot be proven.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryLogConfig {
    /// Member key file that signs the anchors (relative to the config file): best a
    /// key used for nothing else, since each anchor takes its next nonce.
    pub anchor_key: Option<PathBuf>,
    /// How often to anchor, seconds (at least 1).
    pub anchor_every_secs: u64,
}

impl Default for QueryLogConfig {
    fn default() -> Self {
        QueryLogConfig { anchor_key: None, anchor_every_secs: 600 }
    }
}

/// A peer this node connects to. It is used only while its node key belongs to a
/// current organisation in the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's node (libp2p) public key, hex.
    pub node_key: String,
    /// Its consensus address `host:port`; its transaction gossip listens on port + 1.
    pub address: SocketAddr,
}

/// Consensus (Malachite) and peer-to-peer settings. With no `peers`, a node holding
/// more than two thirds of the validator keys produces blocks alone (one-validator
/// networks); otherwise it runs BFT consensus with its peers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// Consensus listen address; transaction gossip listens on port + 1. Choose a
    /// port below the kernel's ephemeral range (Linux: `ip_local_port_range`, from
    /// 32768 by default): while the node is stopped, an outgoing connection may take a
    /// port in that range and the restart then fails with "address in use".
    pub listen: SocketAddr,
    /// The other nodes of the network.
    pub peers: Vec<PeerConfig>,
    /// Propose timeout of round 0 (ms).
    pub timeout_propose_ms: u64,
    /// Prevote and precommit timeouts of round 0 (ms). After a partition heals, the
    /// two sides have prevoted differently and the round ends only after both (see
    /// docs/adr/0003-partition-resume.md): the default, 500, keeps that under a second.
    pub timeout_vote_ms: u64,
    /// Added to each timeout per round (ms).
    pub timeout_delta_ms: u64,
    /// A proposer with an empty mempool waits this long before proposing an empty
    /// block (ms; capped at 60% of the propose timeout).
    pub empty_block_wait_ms: u64,
    /// A proposed block time may be at most this far ahead of the local clock (ms).
    pub max_clock_drift_ms: u64,
    /// Bytes of accepted transactions that may wait for one connected peer; beyond it
    /// the API answers `overloaded` with `Retry-After` (see
    /// docs/adr/0004-tx-dissemination.md).
    pub push_queue_bytes: usize,
    /// A freshly proposed block time may be at most this far behind the local clock
    /// when the proposal arrives (ms): clock drift plus the time a proposal takes to
    /// reach this node. Without this bound a proposer could set each block one
    /// millisecond after its parent and freeze every time rule. A block re-proposed
    /// under a proof-of-lock keeps its time, and a synced block is judged by its
    /// certificate.
    pub max_block_lag_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 26600)),
            peers: vec![],
            timeout_propose_ms: 3000,
            timeout_vote_ms: 500,
            timeout_delta_ms: 500,
            empty_block_wait_ms: 1000,
            max_clock_drift_ms: 2000,
            push_queue_bytes: 8 * 1024 * 1024,
            max_block_lag_ms: 5000,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// HTTP API settings: the member API, and the public listener (`[api.public]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Listen address of the member API (every route: submission, views, proofs,
    /// consumer page, `/metrics`); like the consensus port, best below the kernel's
    /// ephemeral port range, and best on an interface only members reach.
    pub listen: SocketAddr,
    /// Most transactions in one `POST /v1/txs`.
    pub max_batch: usize,
    /// Timeouts and limits of the member API (`[api.limits]`).
    pub limits: ServeLimits,
    /// The public listener (`[api.public]`).
    pub public: PublicApiConfig,
    /// The consumer page says the node may be behind when the newest certified block
    /// it proves a lot's state under is older than this (seconds, at least 1).
    pub consumer_max_block_age_secs: u64,
    /// A signed checkpoint is published at every height that is a multiple of this
    /// (`/v1/checkpoint/...`; at least 1). Use one value across the network so that
    /// monitors can compare nodes.
    pub checkpoint_every_blocks: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            max_batch: 10_000,
            limits: ServeLimits::default(),
            public: PublicApiConfig::default(),
            consumer_max_block_age_secs: 120,
            checkpoint_every_blocks: 10,
        }
    }
}

/// The public listener: consumer page (`/01/...`), public views, proofs, `/health` and
/// `/status`, with limits of its own, so consumer traffic cannot starve the member API
/// or consensus. No submission and no restricted view is served there.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicApiConfig {
    /// Whether to serve it.
    pub enabled: bool,
    /// Its listen address (port 0: one the kernel picks, logged and shown in `/status`).
    pub listen: SocketAddr,
    /// Its timeouts and limits (`[api.public.limits]`; a field left out takes the
    /// member API's default, so give the whole section).
    pub limits: ServeLimits,
}

impl Default for PublicApiConfig {
    fn default() -> Self {
        PublicApiConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8780)),
            limits: ServeLimits {
                max_body_bytes: 16 * 1024,
                max_connections: 1024,
                max_concurrent_requests: 64,
                max_blocking: 8,
                request_timeout_ms: 10_000,
                rate_per_second: 20,
                rate_burst: 60,
                ..ServeLimits::default()
            },
        }
    }
}

/// Timeouts and limits of one HTTP listener.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServeLimits {
    /// Largest request body (bytes); larger gets 413 `body_too_large`. The member
    /// default holds a `POST /v1/txs` of 10,000 typical transactions (hex), or 60
    /// maximal ones.
    pub max_body_bytes: usize,
    /// A client must send a request's whole header within this (ms), or the connection
    /// is closed (slow-header clients).
    pub header_read_timeout_ms: u64,
    /// A request must be answered within this (ms); 408 `timeout` otherwise.
    pub request_timeout_ms: u64,
    /// Most open connections; beyond it new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// Most requests handled at once; beyond it 503 `overloaded` with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Most store reads and submissions in flight on blocking threads (one slow read
    /// each); further requests wait for one to finish, within their timeout.
    pub max_blocking: usize,
    /// Requests per second each client address may make on average (0: no limit).
    pub rate_per_second: u32,
    /// Requests a client address may make at once before the rate applies; beyond
    /// it 429 `rate_limited` with `Retry-After`.
    pub rate_burst: u32,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_body_bytes: 8 * 1024 * 1024,
            header_read_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            max_connections: 256,
            max_concurrent_requests: 64,
            max_blocking: 16,
            rate_per_second: 1_000,
            rate_burst: 2_000,
        }
    }
}

impl ServeLimits {
    /// Checks ranges; `section` names the TOML section in errors.
    fn validate(&self, section: &'static str) -> Result<(), ConfigError> {
        let bad = |field: &str, reason: &str| {
            Err(ConfigError::Invalid { field: section, reason: format!("{section}.{field} {reason}") })
        };
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        if self.header_read_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return bad("header_read_timeout_ms", "and request_timeout_ms must be at least 1 ms");
        }
        if self.max_connections == 0 || self.max_concurrent_requests == 0 || self.max_blocking == 0 {
            return bad("max_connections", "max_concurrent_requests and max_blocking must be at least 1");
        }
        if self.rate_per_second > 0 && self.rate_burst == 0 {
            return bad("rate_burst", "must be at least 1 when rate_per_second is set");
        }
        Ok(())
    }
}

/// Block production settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockConfig {
    /// Most transactions in a block.
    pub max_txs: usize,
    /// Most transaction bytes in a block.
    pub max_bytes: usize,
    /// Wait at most this long for more transactions before proposing (ms).
    pub max_wait_ms: u64,
    /// With no transactions pending, at most one empty block per this interval (ms; 0 =
    /// never an empty block). Blocks resume as soon as a transaction arrives. The
    /// default, 5 minutes, still proves liveness and advances block time for
    /// time-based rules.
    pub empty_block_interval_ms: u64,
}

impl Default for BlockConfig {
    fn default() -> Self {
        BlockConfig { max_txs: 20_000, max_bytes: 8 * 1024 * 1024, max_wait_ms: 50, empty_block_interval_ms: 300_000 }
    }
}

/// Mempool settings (`[mempool]`): bounds, and the rules that keep one signer from
/// filling the pool; each field is documented on [`crate::mempool::MempoolLimits`], the
/// refusal codes in docs/api.md.
pub type MempoolConfig = crate::mempool::MempoolLimits;

/// Log settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// An `EnvFilter` directive, e.g. `info` or `jialing_node=debug` (RUST_LOG wins).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info,arc_malachitebft=warn,libp2p=warn".into() }
    }
}

impl NodeConfig {
    /// Loads, resolves relative paths against the file's directory, and validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut cfg: NodeConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), reason: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base.join(p) };
        cfg.genesis = resolve(&cfg.genesis);
        cfg.data_dir = resolve(&cfg.data_dir);
        cfg.validator_keys = cfg.validator_keys.iter().map(resolve).collect();
        cfg.node_key = cfg.node_key.as_ref().map(resolve);
        cfg.query_log.anchor_key = cfg.query_log.anchor_key.as_ref().map(resolve);
        cfg.source = Some(path.to_path_buf());
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, reason: &str| Err(ConfigError::Invalid { field, reason: reason.into() });
        if self.query_log.anchor_every_secs == 0 {
            return bad("query_log.anchor_every_secs", "must be at least 1");
        }
        if self.block.max_txs == 0 || self.block.max_txs > 100_000 {
            return bad("block.max_txs", "must be 1 to 100000");
        }
        if self.block.max_bytes < jialing_core::tx::MAX_TX_BYTES {
            return bad("block.max_bytes", "must hold at least one maximal transaction (65536 bytes)");
        }
        if self.mempool.max_bytes < jialing_core::tx::MAX_TX_BYTES {
            return bad("mempool.max_bytes", "must hold at least one maximal transaction (65536 bytes)");
        }
        let m = &self.mempool;
        if m.max_txs == 0 {
            return bad("mempool.max_txs", "must be at least 1");
        }
        if m.max_per_signer == 0 {
            return bad("mempool.max_per_signer", "must be at least 1");
        }
        if !(0..=19).contains(&m.ingest_nice) {
            return bad("mempool.ingest_nice", "must be 0 (no lower priority) to 19 (the lowest)");
        }
        if m.nonce_window == 0 {
            return bad("mempool.nonce_window", "must be at least 1");
        }
        if m.ttl_blocks == 0 {
            return bad("mempool.ttl_blocks", "must be at least 1 (a transaction needs a block to be included)");
        }
        if m.reserved_txs >= m.max_txs {
            return bad("mempool.reserved_txs", "must be below mempool.max_txs (the rest is for everyone)");
        }
        if m.max_bytes.saturating_sub(m.reserved_bytes) < jialing_core::tx::MAX_TX_BYTES {
            return bad(
                "mempool.reserved_bytes",
                "must leave room for a maximal transaction (65536 bytes) in mempool.max_bytes",
            );
        }
        if m.reserved_bytes > 0 && m.reserved_bytes < jialing_core::tx::MAX_TX_BYTES {
            return bad("mempool.reserved_bytes", "must be 0 or hold a maximal transaction (65536 bytes)");
        }
        if self.api.max_batch == 0 {
            return bad("api.max_batch", "must be at least 1");
        }
        self.api.limits.validate("api.limits")?;
        self.api.public.limits.validate("api.public.limits")?;
        if self.api.public.enabled && self.api.public.listen == self.api.listen {
            return bad("api.public.listen", "must differ from api.listen");
        }
        let c = &self.consensus;
        if c.timeout_propose_ms < 100 || c.timeout_vote_ms < 50 {
            return bad("consensus.timeout_propose_ms", "timeouts below 100 ms (propose) / 50 ms (votes) cannot work");
        }
        if c.push_queue_bytes < 2 * jialing_core::tx::MAX_TX_BYTES {
            return bad(
                "consensus.push_queue_bytes",
                "must hold at least two of the largest transactions; the default is 8388608",
            );
        }
        if c.listen.port() == u16::MAX {
            return bad("consensus.listen", "the port must leave room for the gossip port (port + 1)");
        }
        if c.max_block_lag_ms < c.max_clock_drift_ms {
            return bad("consensus.max_block_lag_ms", "must be at least consensus.max_clock_drift_ms");
        }
        for p in &c.peers {
            if jialing_core::PublicKey::from_hex(&p.node_key).is_err() {
                return Err(ConfigError::Invalid {
                    field: "consensus.peers.node_key",
                    reason: format!("{:?} is not a 64-digit hex public key", p.node_key),
                });
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad("log.format", "must be \"text\" or \"json\"");
        }
        Ok(())
    }

    /// Serialises to TOML (for generators).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_gets_defaults_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, "genesis = \"g.toml\"\n").unwrap();
        let c = NodeConfig::load(&p).unwrap();
        assert_eq!(c.genesis, dir.path().join("g.toml"));
        assert_eq!(c.api.listen.port(), 8700);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, "genesis = \"g\"\nbogus = 1\n").unwrap();
        assert!(NodeConfig::load(&p).unwrap_err().to_string().contains("bogus"));
        std::fs::write(&p, "genesis = \"g\"\n[block]\nmax_txs = 0\n").unwrap();
        assert!(NodeConfig::load(&p).unwrap_err().to_string().contains("block.max_txs"));
        for (toml, field) in [
            ("[mempool]\nmax_per_signer = 0\n", "mempool.max_per_signer"),
            ("[mempool]\ningest_nice = 20\n", "mempool.ingest_nice"),
            ("[mempool]\nnonce_window = 0\n", "mempool.nonce_window"),
            ("[mempool]\nttl_blocks = 0\n", "mempool.ttl_blocks"),
            ("[mempool]\nmax_txs = 10\nreserved_txs = 10\n", "mempool.reserved_txs"),
            ("[mempool]\nreserved_bytes = 100\n", "mempool.reserved_bytes"),
            ("[api.limits]\nmax_body_bytes = 10\n", "api.limits.max_body_bytes"),
            ("[api.public.limits]\nrate_burst = 0\n", "api.public.limits.rate_burst"),
            ("[api.public]\nlisten = \"127.0.0.1:8700\"\n", "api.public.listen"),
        ] {
            std::fs::write(&p, format!("genesis = \"g\"\n{toml}")).unwrap();
            let e = NodeConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains(field), "{toml}: {e}");
        }
    }
}
