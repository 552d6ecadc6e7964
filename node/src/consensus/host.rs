//! The application side of Malachite: answers every [`AppMsg`] with the ledger
//! [`App`] (propose, validate, commit), streams proposals as parts, serves and applies
//! synced blocks.
//!
//! Safety rules kept here:
//! - a block is committed only with a certificate that verifies against the validator
//!   set, in one fsynced batch, before `Decided` is acknowledged. A decided block that
//!   cannot be committed (storage failure, certificate or block refused, block not
//!   held) stops the node with an error: the engine is never told to `Restart` the
//!   height, which would reset its write-ahead log and let this validator sign votes
//!   that conflict with the ones it already signed;
//! - a validator never proposes two different blocks for one height and round: its own
//!   proposal is written to disk (fsynced) before it is announced, and reused after a
//!   crash. An own-proposal file that cannot be read or decoded stops the node (it may
//!   have been announced);
//! - a proposed block is voted for only after it has been re-executed and every root,
//!   signature and the block time checked: after its parent, at most
//!   `max_clock_drift_ms` ahead of the local clock and, for a fresh proposal, at most
//!   `max_block_lag_ms` behind it (see [`check_time`]).
//!
//! Hostile peers (see [`super::parts`] for the stream rules):
//! - streams are taken only from member nodes, for the height being decided or the
//!   next, from the scheduled proposer, with quotas per publisher; each (height, round)
//!   brings at most two different blocks ([`super::state`]);
//! - only valid blocks keep their body; a verdict is never cached for a value a commit
//!   certificate covers: a synced block is judged on its own bytes, never through what
//!   was seen before, and a synced body that does not match its certified header, or
//!   does not validate, is the sending peer's fault (`SyncedValueOutcome::PeerFault`,
//!   counted in `jialing_sync_peer_faults_total`), so the engine asks another peer.
//!
//! Why a decided block is always held: Malachite decides through the consensus path
//! only a value this host reported valid (it never decides on an invalid proposal), and
//! valid bodies are kept, in memory and on disk (for a decision replayed from the
//! engine's write-ahead log after a crash), until their height is committed. A block
//! this node refused but the network certified reaches it through sync, where it is
//! judged on its bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jialing_core::{Block, CommitCertificate, CommitSignature, Hash, Keypair, encoding};
use malachitebft_app::consensus::ProposedValue;
use malachitebft_app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app::types::sync::RawDecidedValue;
use malachitebft_app::types::{LocallyProposedValue, PeerId};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_core_types::{
    CommitCertificate as EngineCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, LinearTimeouts, Round,
    Validity,
};
use malachitebft_engine::util::streaming::StreamId;
use tokio::sync::mpsc;

use super::compact::{ProposalBody, Rebuild, full_bytes};
use super::context::{Address, BlockId, Ctx, Height, PartMessage, ValidatorSet, scheduled_proposer};
use super::parts::{Assembled, Incoming, PartsBuffer, Schedule, make_stream};
use super::sizing::BlockSizer;
use super::state::{Candidate, Early, HostState, Slot, check_time};
use crate::app::{App, AppError, Durability, Ledger, Proposal};
use crate::config::{BlockConfig, ConsensusConfig};
use crate::solo::now_ms;

pub use super::state::TimeError;

/// Base period of vote rebroadcast (Malachite adds the per-round timeout deltas). Short,
/// so that peers reconnecting after a partition exchange their votes at once: see
/// docs/adr/0003-partition-resume.md.
const REBROADCAST: Duration = Duration::from_millis(500);

/// How often a host holding back the next height looks for work.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// Most decided blocks served in one sync response.
const MAX_SYNC_BATCH: u64 = 16;

/// Incomplete proposal streams one publisher may hold.
const STREAMS_PER_PUBLISHER: usize = 4;

/// Publishers that may hold incomplete streams at once.
const MAX_PUBLISHERS: usize = 64;

/// The wall clock the host judges block times by (ms since the Unix epoch). Tests
/// pass a fixed or stepped clock.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Why the host stopped: each is fatal for the node (it must not go on voting).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The ledger store failed.
    #[error("storage failed at height {height}: {reason}")]
    Store {
        /// Height being handled.
        height: u64,
        /// The failure.
        reason: String,
    },
    /// The own-proposal journal failed: a proposal may have been announced, so building
    /// another one could equivocate.
    #[error(
        "own proposal {path}: {reason}; this validator may already have announced a block for this height and round, so it stops rather than propose another (check the disk, then restart)"
    )]
    OwnProposal {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A decided block could not be committed.
    #[error(
        "decided block {block} at height {height} could not be committed: {reason}; stopping rather than restart the height (which would forget the votes this validator signed)"
    )]
    Commit {
        /// Height.
        height: u64,
        /// The decided block.
        block: Hash,
        /// Why.
        reason: String,
    },
    /// The engine's network channel is closed.
    #[error("the consensus network channel is closed")]
    Network,
}

/// Test seam: lets a test make this host's own proposals misbehave (a Byzantine
/// proposer). Production nodes never set one; see `jialing-tests`' Byzantine node.
pub trait ProposalHook: Send + Sync {
    /// The block to announce for this height and round, given the one built.
    fn announce(&self, built: Block, chain_id: &str) -> Block {
        let _ = chain_id;
        built
    }

    /// Other blocks to stream for the same height and round, each under its own
    /// stream id, before the announced one (an equivocating proposer).
    fn twins(&self, announced: &Block) -> Vec<Block> {
        let _ = announced;
        Vec::new()
    }
}

/// How a block failed validation: the block's fault, or this node's storage.
enum Refusal {
    Invalid(String),
    Store(String),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        match e {
            // A verdict on the block.
            AppError::Invalid(i) => Refusal::Invalid(i.to_string()),
            // Reading state failed: this node's disk, not the block.
            other => Refusal::Store(other.to_string()),
        }
    }
}

/// The engine must be rebuilt with another validator key (or none) before the next
/// height starts: Malachite's consensus state holds its signing address for its whole
/// life. See [`super`] for how the switch is made and why it is safe.
pub struct KeySwitch {
    /// The height that starts with the new key.
    pub height: u64,
    /// The key that signed until now.
    pub from: Option<Keypair>,
    /// The key that signs from `height` (`None`: the node follows as a full node).
    pub to: Option<Keypair>,
    /// Held keys that are all in the set of `height` (the node signs with none).
    pub conflict: Vec<jialing_core::PublicKey>,
    /// The old engine's request to start `height`: never answered, dropped once that
    /// engine has stopped, so the old key never signs at `height`.
    pub held_reply: malachitebft_app_channel::Reply<Next<Ctx>>,
}

/// Reads this node's validator keys again (the config's `validator_keys`).
pub type KeySource = Box<dyn Fn() -> Result<Vec<Keypair>, String> + Send + Sync>;

/// Why [`Host::run`] returned.
pub enum Ended {
    /// The engine closed its channel.
    Closed,
    /// The next height needs another validator key.
    Switch(Box<KeySwitch>),
}

/// Drives the ledger from the engine's messages.
pub struct Host {
    app: App,
    ledger: Arc<Ledger>,
    /// The key the running engine signs with (none on a full node).
    key: Option<Keypair>,
    /// Every validator key this node holds; the one in a height's set signs it.
    keys: Vec<Keypair>,
    /// Set when the next height needs another key (see [`KeySwitch`]).
    switch: Option<KeySwitch>,
    /// Re-reads the held keys (from the config's `validator_keys`) when the
    /// validator set changes, so that a next key can be added without a restart.
    reload: Option<KeySource>,
    /// Sync requests of peers are read one at a time (see `GetDecidedValues`).
    serving: SyncServer,
    /// Hash of the validator set the held keys were last checked against.
    set_hash: Hash,
    block: BlockConfig,
    cfg: ConsensusConfig,
    clock: Clock,
    hook: Option<Arc<dyn ProposalHook>>,
    parts: PartsBuffer,
    state: HostState,
    /// The round this node is in at the height being decided.
    round: u32,
    /// Peer ids (base58) of member nodes, and the membership version they were read at.
    publishers: BTreeSet<String>,
    publishers_version: Option<u64>,
    /// Our own streams, for re-publication.
    own_streams: BTreeMap<Hash, Vec<PartMessage>>,
    own_dir: PathBuf,
    /// How many transactions the next own proposal may hold.
    sizer: BlockSizer,
    /// The engine's request to start the next height, held back while the chain is
    /// idle (see [`Host::idle`]).
    deferred: Option<(malachitebft_app_channel::Reply<Next<Ctx>>, Next<Ctx>)>,
    /// A proposal stream for the next height arrived: another validator has work.
    woken: bool,
}

impl Host {
    /// A host over `app`; `key` is this node's validator key (none on a full node).
    pub fn new(
        app: App,
        key: Option<Keypair>,
        block: BlockConfig,
        cfg: ConsensusConfig,
        own_dir: PathBuf,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&own_dir)?;
        let ledger = app.ledger().clone();
        let parts = PartsBuffer::new(
            ledger.chain_id.clone(),
            // Protocol bound, not this node's [block] setting: a node must be able to
            // receive any block the consensus limits in force allow.
            jialing_core::block::MAX_BLOCK_BYTES,
            STREAMS_PER_PUBLISHER,
            MAX_PUBLISHERS,
        );
        Ok(Host {
            app,
            ledger,
            keys: key.iter().cloned().collect(),
            key,
            switch: None,
            reload: None,
            serving: SyncServer::default(),
            set_hash: Hash::ZERO,
            clock: Arc::new(now_ms),
            hook: None,
            parts,
            state: HostState::new(),
            round: 0,
            publishers: BTreeSet::new(),
            publishers_version: None,
            own_streams: BTreeMap::new(),
            sizer: BlockSizer::new(block.max_txs, Duration::from_millis(cfg.timeout_propose_ms)),
            block,
            cfg,
            own_dir,
            deferred: None,
            woken: false,
        })
    }

    /// Judges block times by `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Holds `keys` (this node's validator keys, the running key among them): at each
    /// height the one in that height's set signs.
    pub fn with_keys(mut self, keys: Vec<Keypair>) -> Self {
        self.keys = keys;
        self
    }

    /// Re-reads the held keys with `source` whenever the validator set changes.
    pub fn with_key_source(mut self, source: KeySource) -> Self {
        self.set_hash = self.app.tip().validators.hash();
        self.reload = Some(source);
        self
    }

    /// Every validator key held now.
    pub fn held_keys(&self) -> &[Keypair] {
        &self.keys
    }

    /// The key the running engine signs with.
    pub fn active_key(&self) -> Option<&Keypair> {
        self.key.as_ref()
    }

    /// Takes a pending key switch (set when `Finalized` found that the next height's
    /// validator set wants another key than the running one).
    pub fn take_switch(&mut self) -> Option<KeySwitch> {
        self.switch.take()
    }

    /// Makes this host's own proposals go through `hook` (tests only).
    pub fn with_proposal_hook(mut self, hook: Arc<dyn ProposalHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The ledger this host drives.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    fn tip_height(&self) -> u64 {
        self.app.tip().header.height
    }

    fn params(&self) -> HeightParams<Ctx> {
        let tip = self.app.tip();
        let timeouts = LinearTimeouts {
            propose: Duration::from_millis(self.cfg.timeout_propose_ms),
            propose_delta: Duration::from_millis(self.cfg.timeout_delta_ms),
            prevote: Duration::from_millis(self.cfg.timeout_vote_ms),
            prevote_delta: Duration::from_millis(self.cfg.timeout_delta_ms),
            precommit: Duration::from_millis(self.cfg.timeout_vote_ms),
            precommit_delta: Duration::from_millis(self.cfg.timeout_delta_ms),
            // Votes are republished this long after a round starts, then again (plus the
            // per-round deltas): the only way a peer that reconnects after a partition
            // learns the votes it missed. See docs/adr/0003-partition-resume.md.
            rebroadcast: REBROADCAST,
            max_timeout: Duration::from_secs(30),
        };
        HeightParams::new(ValidatorSet::from(&tip.validators), timeouts, None)
    }

    /// Which streams are accepted now.
    fn schedule(&self) -> Schedule {
        let tip = self.app.tip();
        Schedule { height: tip.header.height + 1, round: self.round, validators: ValidatorSet::from(&tip.validators) }
    }

    /// Runs until the engine closes its channel or the next height needs another
    /// validator key. Returns an error when the node must stop (storage, own-proposal
    /// journal, a decided block that cannot be committed).
    pub async fn run(&mut self, mut channels: Channels<Ctx>) -> Result<Ended, HostError> {
        let mut tick = tokio::time::interval(IDLE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = channels.consensus.recv() => match msg {
                    Some(msg) => self.handle(msg, &channels.network).await?,
                    None => return Ok(Ended::Closed),
                },
                _ = tick.tick(), if self.deferred.is_some() => self.start_if_due(),
            }
            if let Some(sw) = self.switch.take() {
                return Ok(Ended::Switch(Box::new(sw)));
            }
        }
    }

    /// Re-reads the held keys if the validator set changed since the last look (and a
    /// source is set); a source that fails keeps the keys held.
    fn reload_keys(&mut self) {
        let Some(source) = &self.reload else { return };
        let hash = self.app.tip().validators.hash();
        if hash == self.set_hash {
            return;
        }
        self.set_hash = hash;
        match source() {
            Ok(keys) => {
                let public = |ks: &[Keypair]| ks.iter().map(Keypair::public).collect::<Vec<_>>();
                if public(&keys) != public(&self.keys) {
                    tracing::info!(target: "jialing::consensus", height = self.tip_height() + 1, keys = ?super::signing_key::labels(&keys), "the validator set changed: re-read validator_keys, which now lists other keys");
                    self.ledger.set_validator_keys(&public(&keys), self.key.as_ref().map(Keypair::public));
                }
                self.keys = keys;
            }
            Err(e) => {
                tracing::error!(target: "jialing::consensus", error = %e, "the validator set changed but validator_keys could not be re-read: keeping the keys held");
            }
        }
    }

    /// Records that the engine now signs with `key` (after a [`KeySwitch`]): the next
    /// `ConsensusReady` starts the height with it.
    pub fn switched(&mut self, key: Option<Keypair>) {
        self.key = key;
        self.round = 0;
        self.woken = false;
        self.deferred = None;
    }

    /// The key switch the next height needs, if its validator set wants another key
    /// than the running one.
    fn needs_switch(&mut self) -> Option<(Option<Keypair>, Vec<jialing_core::PublicKey>)> {
        self.reload_keys();
        let choice = super::signing_key::choose(&self.keys, &self.app.tip().validators);
        let conflict = match &choice {
            super::signing_key::Choice::Conflict(keys) => keys.clone(),
            _ => Vec::new(),
        };
        let want = choice.key().cloned();
        (want.as_ref().map(Keypair::public) != self.key.as_ref().map(Keypair::public)).then_some((want, conflict))
    }

    /// Whether the chain is idle: a validator with nothing pending, no proposal for the
    /// next height seen, no peer ahead of it, and a last block younger than
    /// `[block] empty_block_interval_ms`. An
    /// idle node does not start the next height, so an idle network commits one empty
    /// block per interval (CometBFT's `create_empty_blocks_interval`), not one a second.
    pub fn idle(&self) -> bool {
        // A full node proposes nothing: it follows at once. So does a node whose peers
        // are ahead (it must sync, which the engine does only in a started height).
        let tip = self.ledger.tip.read().map(|t| t.header.height).unwrap_or_else(|p| p.get_ref().header.height);
        if self.woken || self.key.is_none() || self.ledger.gossip_out.get().is_some_and(|g| g.peers_tip() > tip) {
            return false;
        }
        let pending = self.ledger.mempool.lock().unwrap_or_else(|p| p.into_inner()).len();
        if pending > 0 {
            return false;
        }
        // 0: never an empty block.
        let interval = self.block.empty_block_interval_ms;
        let last = self.ledger.tip.read().map(|t| t.header.time_ms).unwrap_or_else(|p| p.get_ref().header.time_ms);
        interval == 0 || self.now().saturating_sub(last) < interval
    }

    /// Starts the held-back next height once the chain is no longer idle.
    pub fn start_if_due(&mut self) {
        if self.deferred.is_some()
            && !self.idle()
            && let Some((reply, next)) = self.deferred.take()
        {
            tracing::debug!(target: "jialing::consensus", height = self.tip_height() + 1, "work arrived (or the empty-block interval passed): starting the next height");
            let _ = reply.send(next);
        }
    }

    /// Whether the engine's next height is being held back.
    pub fn is_holding(&self) -> bool {
        self.deferred.is_some()
    }

    /// Answers one engine message; parts to publish go to `network`.
    pub async fn handle(&mut self, msg: AppMsg<Ctx>, network: &mpsc::Sender<NetworkMsg<Ctx>>) -> Result<(), HostError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = self.tip_height() + 1;
                tracing::info!(target: "jialing::consensus", height = next, "consensus ready; starting height");
                let _ = reply.send((Height(next), self.params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::debug!(target: "jialing::consensus", %height, %round, %proposer, ?role, "round started");
                if height.0 == self.tip_height() + 1 {
                    self.round = round.as_u32().unwrap_or(0);
                    self.parts.retain(&self.schedule());
                    if self.round > 0 {
                        // The round-0 proposal did not make it: smaller blocks from now.
                        self.sizer.late_round(height.0);
                        self.ledger.metrics.block_limit_txs.set(self.sizer.limit() as i64);
                    }
                }
                self.validate_pending(height.0)?;
                let values: Vec<ProposedValue<Ctx>> =
                    self.state.in_round(height.0, round).map(proposed_value).collect();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                if let Some(value) = self.get_value(height.0, round, timeout, network).await? {
                    let _ = reply.send(value);
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let verdicts = extensions
                    .into_iter()
                    .map(|(a, _)| (a, Err(malachitebft_app::consensus::VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal { height, round, valid_round, value_id, .. } => {
                self.restream(height.0, round, valid_round, value_id, network).await?;
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let value = self.received_part(from, published_by, part).await?;
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, reply, .. } => {
                self.decided(certificate)?;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, reply, .. } => {
                let next = self.finalized(certificate.height.0, certificate.value_id.0)?;
                if let Some((to, conflict)) = self.needs_switch() {
                    // Not answered: this engine must not start the next height.
                    self.switch = Some(KeySwitch {
                        height: self.tip_height() + 1,
                        from: self.key.clone(),
                        to,
                        conflict,
                        held_reply: reply,
                    });
                    return Ok(());
                }
                self.woken = false;
                self.deferred = Some((reply, next));
                self.start_if_due();
            }
            AppMsg::GetDecidedValues { range, reply } => {
                // Read off the host's loop: a peer catching up asks for megabytes of
                // blocks, and this node's own consensus must not wait for them.
                // Only what is durable here is served (a pending block is not yet).
                let store = self.ledger.store.clone();
                let tip = self.ledger.tip.read().unwrap_or_else(|p| p.into_inner()).header.height;
                let (from, to) = (*range.start(), *range.end());
                // One read at a time, in the order asked: a peer catching up asks for
                // several ranges at once and executes the lowest first, so it gets that
                // one after one range's read, not after all of them side by side.
                let queued = self.serving.serve(Box::new(move |read| {
                    let values = if read { read_decided_values(&store, tip, from, to) } else { Vec::new() };
                    let _ = reply.send(values);
                }));
                if !queued {
                    self.ledger.metrics.sync_requests_refused.inc();
                }
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                // Peers are ahead: this node is not idle.
                self.woken = true;
                self.start_if_due();
                let _ = reply.send(self.synced_value(height.0, round, proposer, value_bytes)?);
            }
        }
        Ok(())
    }

    /// What to tell the engine once `height` is finalized: start the next height. The
    /// decided block was committed when `Decided` was acknowledged; if it was not, the
    /// node stops (never `Next::Restart`, which resets the engine's write-ahead log).
    pub fn finalized(&mut self, height: u64, block: Hash) -> Result<Next<Ctx>, HostError> {
        let tip = self.tip_height();
        if tip < height {
            return Err(HostError::Commit {
                height,
                block,
                reason: format!("finalized while this node's tip is {tip}"),
            });
        }
        Ok(Next::Start(Height(tip + 1), self.params()))
    }

    fn own_path(&self, height: u64, round: Round) -> PathBuf {
        self.own_dir.join(format!("{height}-{}.block", round.as_i64()))
    }

    /// Keeps the body of a valid block on disk until its height is committed: after a
    /// crash the engine's write-ahead log may decide it on replay, before anyone could
    /// send it again (Malachite expects the application to hold the values it reported
    /// valid). Written atomically, not fsynced: a process crash keeps it; after a power
    /// loss that lost it the node stops at `Decided` with a clear error.
    fn keep_body(&self, block: &Block) -> Result<(), HostError> {
        self.keep_body_bytes(block.header.height, block.header.hash(), &encoding::encode(block))
    }

    /// [`Host::keep_body`] for a block whose canonical bytes are at hand (a synced
    /// block, kept as received: [`Host::load_kept`] decodes and checks it anyway).
    fn keep_body_bytes(&self, height: u64, hash: Hash, bytes: &[u8]) -> Result<(), HostError> {
        let path = self.own_dir.join(format!("{height}-{hash}.seen"));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| HostError::Store {
            height,
            reason: format!("keeping the proposed block {}: {e}", path.display()),
        })
    }

    /// A block of `height` with header hash `hash` kept on disk (ours or one we found
    /// valid) before a restart.
    fn load_kept(&self, height: u64, hash: Hash) -> Option<Block> {
        let prefix = format!("{height}-");
        let entries = std::fs::read_dir(&self.own_dir).ok()?;
        entries.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(&prefix)).find_map(|e| {
            let bytes = std::fs::read(e.path()).ok()?;
            let b: Block = encoding::decode_limited("kept block", &bytes, self.block.max_bytes + 64 * 1024).ok()?;
            (b.header.height == height && b.header.hash() == hash).then_some(b)
        })
    }

    /// Reads our journaled proposal for `height`/`round`: `None` if there is none; an
    /// unreadable or undecodable file is fatal (it may have been announced).
    fn read_own(&self, height: u64, round: Round) -> Result<Option<Block>, HostError> {
        let path = self.own_path(height, round);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::OwnProposal { path, reason: format!("cannot be read: {e}") }),
        };
        match encoding::decode::<Block>("own proposal", &bytes) {
            Ok(b) if b.header.height == height => Ok(Some(b)),
            Ok(b) => Err(HostError::OwnProposal {
                path,
                reason: format!("holds a block for height {}, not {height}", b.header.height),
            }),
            Err(e) => Err(HostError::OwnProposal { path, reason: format!("cannot be decoded: {e}") }),
        }
    }

    /// Builds (or, after a crash, reloads) our block for `height`/`round`, persists it,
    /// replies with its id and streams it.
    async fn get_value(
        &mut self,
        height: u64,
        round: Round,
        timeout: Duration,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> Result<Option<LocallyProposedValue<Ctx>>, HostError> {
        let Some(key) = self.key.clone() else {
            tracing::warn!(target: "jialing::consensus", height, "asked to propose without a validator key");
            return Ok(None);
        };
        if self.tip_height() + 1 != height {
            tracing::warn!(target: "jialing::consensus", height, tip = self.tip_height(), "asked to propose for a height that does not follow the tip");
            return Ok(None);
        }
        let (block, executed) = match self.read_own(height, round)? {
            Some(b) => {
                tracing::info!(target: "jialing::consensus", height, %round, "re-proposing the block built before a restart");
                let executed = match tokio::task::block_in_place(|| self.app.validate(&b)).map_err(Refusal::from) {
                    Ok(p) => Some(p),
                    Err(Refusal::Invalid(_)) => None,
                    Err(Refusal::Store(reason)) => return Err(HostError::Store { height, reason }),
                };
                (b, executed)
            }
            None => {
                let limit = self.sizer.limit();
                self.ledger.metrics.block_limit_txs.set(limit as i64);
                self.wait_for_txs(timeout, limit).await;
                let now = self.now();
                let started = Instant::now();
                let proposal =
                    tokio::task::block_in_place(|| self.app.propose(key.public(), now, limit, self.block.max_bytes))
                        .map_err(|e| HostError::Store { height, reason: e.to_string() })?;
                self.sizer.sample(proposal.txs.len(), started.elapsed());
                let built = proposal.block();
                let (b, executed) = match &self.hook {
                    Some(hook) => {
                        let b = hook.announce(built.clone(), &self.ledger.chain_id);
                        let executed = if b == built { Some(proposal) } else { None };
                        (b, executed)
                    }
                    None => (built, Some(proposal)),
                };
                let path = self.own_path(height, round);
                write_synced(&path, &encoding::encode(&b))
                    .map_err(|e| HostError::OwnProposal { path, reason: format!("cannot be written: {e}") })?;
                if let Some(hook) = self.hook.clone() {
                    self.stream_twins(&key, height, round, &hook.twins(&b), network).await?;
                }
                (b, executed)
            }
        };
        let hash = block.header.hash();
        self.announce(key, height, round, block, executed, network).await?;
        Ok(Some(LocallyProposedValue::new(Height(height), round, BlockId(hash))))
    }

    /// Streams other blocks for the same height and round (a Byzantine test hook).
    async fn stream_twins(
        &self,
        key: &Keypair,
        height: u64,
        round: Round,
        twins: &[Block],
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> Result<(), HostError> {
        let r = round.as_u32().unwrap_or(0);
        for (i, twin) in twins.iter().enumerate() {
            let id = StreamId::new(Bytes::from(encoding::encode(&(height, r, 1 + i as u8))));
            for mut m in make_stream(&self.ledger.chain_id, key, height, r, -1, &full_bytes(twin)) {
                m.stream_id = id.clone();
                network.send(NetworkMsg::PublishProposalPart(m)).await.map_err(|_| HostError::Network)?;
            }
        }
        Ok(())
    }

    /// Records our proposal and streams it to the network.
    async fn announce(
        &mut self,
        key: Keypair,
        height: u64,
        round: Round,
        block: Block,
        executed: Option<Proposal>,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> Result<(), HostError> {
        let hash = block.header.hash();
        // Bodies of this node's own transactions that some peer has not acknowledged
        // yet travel inline: a validator would otherwise fetch them on the critical path.
        let body = match self.ledger.gossip_out.get() {
            Some(g) => ProposalBody::compact_with(&block, |h| g.unacked(h)),
            None => ProposalBody::compact(&block),
        };
        let bytes = encoding::encode(&body);
        let r = round.as_u32().unwrap_or(0);
        let stream = make_stream(&self.ledger.chain_id, &key, height, r, -1, &bytes);
        self.ledger.metrics.proposal_bytes_out.inc_by(bytes.len() as u64);
        tracing::info!(target: "jialing::consensus", height, %round, txs = block.txs.len(), bytes = bytes.len(), block = %hash, "proposing");
        self.state.slot(height, r, hash);
        // Peers fetch the transactions they lack from it.
        let block = Arc::new(block);
        self.ledger.hold_block(block.clone());
        if let Some(executed) = executed {
            let c = Candidate {
                height,
                round,
                pol_round: Round::Nil,
                proposer: Address(key.public()),
                block,
                executed: Some(executed),
            };
            self.state.insert(hash, c);
        }
        for m in &stream {
            network.send(NetworkMsg::PublishProposalPart(m.clone())).await.map_err(|_| HostError::Network)?;
        }
        self.own_streams.insert(hash, stream);
        Ok(())
    }

    /// Waits until the mempool holds a full block, or has transactions and the batching
    /// wait is over, or the empty-block wait is over (bounded by the propose timeout).
    async fn wait_for_txs(&self, timeout: Duration, limit: usize) {
        let started = Instant::now();
        let idle = Duration::from_millis(self.cfg.empty_block_wait_ms).min(timeout.mul_f32(0.6));
        let batch = Duration::from_millis(self.block.max_wait_ms);
        loop {
            let n = match self.ledger.mempool.lock() {
                Ok(p) => p.len(),
                Err(p) => p.into_inner().len(),
            };
            let waited = started.elapsed();
            if n >= limit || (n > 0 && waited >= batch) || waited >= idle {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn restream(
        &mut self,
        height: u64,
        round: Round,
        valid_round: Round,
        value_id: BlockId,
        network: &mpsc::Sender<NetworkMsg<Ctx>>,
    ) -> Result<(), HostError> {
        let Some(key) = self.key.clone() else { return Ok(()) };
        let stream = match (self.state.get(&value_id.0), self.own_streams.get(&value_id.0)) {
            (Some(c), Some(s)) if c.round == round => s.clone(),
            (Some(c), _) => {
                self.ledger.hold_block(c.block.clone());
                make_stream(
                    &self.ledger.chain_id,
                    &key,
                    height,
                    round.as_u32().unwrap_or(0),
                    valid_round.as_i64(),
                    &encoding::encode(&ProposalBody::compact(&c.block)),
                )
            }
            (None, Some(s)) => s.clone(),
            (None, None) => {
                tracing::warn!(target: "jialing::consensus", height, %round, block = %value_id, "asked to restream a block we do not hold");
                return Ok(());
            }
        };
        for m in stream {
            network.send(NetworkMsg::PublishProposalPart(m)).await.map_err(|_| HostError::Network)?;
        }
        Ok(())
    }

    /// Whether `publisher` (a peer id) is a current member's node.
    fn is_member_node(&mut self, publisher: &str) -> bool {
        let version = self.ledger.membership_version.load(Ordering::Acquire);
        if self.publishers_version != Some(version) {
            match super::member_node_keys(&self.ledger) {
                Ok(keys) => {
                    self.publishers =
                        keys.iter().filter_map(|k| super::gossip::peer_id(k).ok()).map(|p| p.to_string()).collect();
                    self.publishers_version = Some(version);
                }
                Err(e) => {
                    tracing::error!(target: "jialing::consensus", error = %e, "cannot read the member nodes; keeping the previous list");
                }
            }
        }
        self.publishers.contains(publisher)
    }

    async fn received_part(
        &mut self,
        from: PeerId,
        published_by: Option<PeerId>,
        part: PartMessage,
    ) -> Result<Option<ProposedValue<Ctx>>, HostError> {
        let publisher_id = published_by.unwrap_or(from);
        let publisher = publisher_id.to_string();
        if !self.is_member_node(&publisher) {
            self.ledger.metrics.proposal_streams_refused.inc();
            tracing::debug!(target: "jialing::consensus", %publisher, %from, "proposal part from a peer that is not a member's node: dropped");
            return Ok(None);
        }
        let schedule = self.schedule();
        if self.deferred.is_some()
            && super::parts::parse_stream_id(&part.stream_id.to_bytes()).is_some_and(|(h, _)| h >= schedule.height)
        {
            // A member node streams a block for the next heights (in whatever round it
            // has reached): the network has work, so stop holding the next height back.
            self.woken = true;
            self.start_if_due();
        }
        let inserted = self.parts.insert(publisher.as_bytes(), part, &schedule);
        let incoming = match inserted {
            Ok(Some(a)) => a,
            Ok(None) | Err(super::parts::PartError::Dropped) => return Ok(None),
            Err(e) => {
                self.ledger.metrics.proposal_streams_refused.inc();
                tracing::warn!(target: "jialing::consensus", %publisher, %from, error = %e, "dropped a proposal stream");
                return Ok(None);
            }
        };
        let Some(a) = self.rebuild(incoming, &publisher_id).await else {
            return Ok(None);
        };
        if a.height > schedule.height {
            let hash = a.block.header.hash();
            if self.state.slot(a.height, a.round, hash) == Slot::New
                && !self.state.push_early(Early { assembled: a, received_ms: self.now() })
            {
                self.ledger.metrics.proposal_streams_refused.inc();
                tracing::warn!(target: "jialing::consensus", %publisher, block = %hash, "early-proposal buffer full: dropped");
            }
            return Ok(None);
        }
        if a.height < schedule.height {
            return Ok(None);
        }
        let now = self.now();
        self.consider(a, Some(now))
    }

    /// The whole block of a proposal stream: a compact proposal is rebuilt from the
    /// blocks this node holds and its mempool, and what is missing is fetched from the
    /// publisher. `None` (no verdict: the engine's propose timeout runs) when the
    /// publisher does not deliver in time or delivers other transactions than named.
    async fn rebuild(&mut self, incoming: Incoming, publisher: &PeerId) -> Option<Assembled> {
        let Incoming { height, round, pol_round, proposer, body } = incoming;
        let assembled = |block| Some(Assembled { height, round, pol_round, proposer, block });
        let (header, entries) = match body {
            ProposalBody::Full(block) => return assembled(block),
            ProposalBody::Compact { header, entries } => (header, entries),
        };
        let hash = header.hash();
        if let Some(b) = self.ledger.held_block(&hash) {
            return assembled((*b).clone());
        }
        let mut rebuild = {
            let pool = self.ledger.mempool.lock().unwrap_or_else(|p| p.into_inner());
            Rebuild::new(header, entries, |h| pool.get(h).map(|p| (*p.tx).clone()))
        };
        let missing = rebuild.missing();
        if !missing.is_empty() {
            let wait = Duration::from_millis(self.cfg.timeout_propose_ms / 2);
            let peer = libp2p::PeerId::from_bytes(&publisher.to_bytes()).ok()?;
            let Some(out) = self.ledger.gossip_out.get() else {
                tracing::warn!(target: "jialing::consensus", height, block = %hash, missing = missing.len(), "compact proposal with transactions this node lacks, and no transaction network to fetch them");
                return None;
            };
            let (reply, answer) = tokio::sync::oneshot::channel();
            let cmd = super::gossip::FetchCmd { peer, block: hash, indexes: missing.clone(), reply };
            if out.fetch.send(cmd).is_err() {
                return None;
            }
            let fetched = match tokio::time::timeout(wait, answer).await {
                Ok(Ok(Ok(txs))) => txs,
                Ok(Ok(Err(e))) => {
                    tracing::warn!(target: "jialing::consensus", height, block = %hash, %publisher, error = %e, "fetching the transactions of a compact proposal failed");
                    return None;
                }
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(target: "jialing::consensus", height, block = %hash, %publisher, missing = missing.len(), "the proposer did not deliver the transactions of its compact proposal in time");
                    return None;
                }
            };
            if let Err(e) = rebuild.fill(&missing, fetched) {
                self.ledger.metrics.proposal_streams_refused.inc();
                tracing::warn!(target: "jialing::consensus", height, block = %hash, %publisher, error = %e, "the proposer answered a fetch with other transactions than its proposal names");
                return None;
            }
            tracing::debug!(target: "jialing::consensus", height, block = %hash, fetched = missing.len(), "fetched the transactions of a compact proposal this node lacked");
        }
        assembled(rebuild.finish()?)
    }

    /// Validates proposals that arrived early for `height`, now that it has started.
    fn validate_pending(&mut self, height: u64) -> Result<(), HostError> {
        if self.tip_height() + 1 != height {
            return Ok(());
        }
        let set = ValidatorSet::from(&self.app.tip().validators);
        for e in self.state.take_early(height) {
            let a = e.assembled;
            // Checked against the set of its own height now that it is known.
            if scheduled_proposer(&set, a.height, a.round).map(|v| v.public_key) != Some(a.proposer) {
                tracing::warn!(target: "jialing::consensus", height, round = a.round, proposer = %a.proposer, "early proposal is not from the scheduled proposer: dropped");
                continue;
            }
            // The slot was taken when it arrived: consider it afresh.
            let hash = a.block.header.hash();
            self.judge(a, hash, Some(e.received_ms))?;
        }
        Ok(())
    }

    /// A proposal for the height being decided: its verdict, once per block and slot.
    fn consider(&mut self, a: Assembled, now: Option<u64>) -> Result<Option<ProposedValue<Ctx>>, HostError> {
        let hash = a.block.header.hash();
        match self.state.slot(a.height, a.round, hash) {
            Slot::Full => {
                self.ledger.metrics.proposal_streams_refused.inc();
                tracing::warn!(target: "jialing::consensus", height = a.height, round = a.round, proposer = %a.proposer, block = %hash, "more different blocks than allowed for one height and round (equivocating proposer): dropped");
                return Ok(None);
            }
            Slot::Seen if self.state.get(&hash).is_none() => {
                // Refused before in this slot: the same verdict, without keeping or
                // re-executing anything.
                return Ok(Some(invalid_value(&a, hash)));
            }
            Slot::Seen | Slot::New => {}
        }
        self.judge(a, hash, now)
    }

    /// Checks the block time (against `now`, for consensus proposals) and re-executes
    /// the block; keeps it only if valid.
    fn judge(&mut self, a: Assembled, hash: Hash, now: Option<u64>) -> Result<Option<ProposedValue<Ctx>>, HostError> {
        let round = Round::new(a.round);
        let pol_round = Round::from(a.pol_round);
        if let Some(c) = self.state.get_mut(&hash) {
            // The same block re-proposed in a later round keeps its verdict.
            if c.round < round {
                c.round = round;
                c.pol_round = pol_round;
                c.proposer = Address(a.proposer);
            }
            let mut v = proposed_value(c);
            v.round = round;
            v.valid_round = pol_round;
            v.proposer = Address(a.proposer);
            return Ok(Some(v));
        }
        let verdict = match now.map(|now| {
            check_time(
                a.block.header.time_ms,
                now,
                self.cfg.max_clock_drift_ms,
                self.cfg.max_block_lag_ms,
                a.pol_round < 0,
            )
        }) {
            Some(Err(e)) => Err(Refusal::Invalid(e.to_string())),
            _ => {
                let started = Instant::now();
                let r = tokio::task::block_in_place(|| self.app.validate(&a.block)).map_err(Refusal::from);
                self.sizer.sample(a.block.txs.len(), started.elapsed());
                r
            }
        };
        match verdict {
            Ok(p) => {
                self.keep_body(&a.block)?;
                let block = Arc::new(a.block);
                // Other validators may fetch its transactions from here too.
                self.ledger.hold_block(block.clone());
                let c = Candidate {
                    height: a.height,
                    round,
                    pol_round,
                    proposer: Address(a.proposer),
                    block,
                    executed: Some(p),
                };
                let v = proposed_value(&c);
                self.state.insert(hash, c);
                Ok(Some(v))
            }
            Err(Refusal::Invalid(reason)) => {
                self.ledger.metrics.proposals_rejected.inc();
                tracing::warn!(target: "jialing::consensus", height = a.height, round = a.round, proposer = %a.proposer, block = %hash, %reason, "invalid proposal: voting nil");
                Ok(Some(invalid_value(&a, hash)))
            }
            Err(Refusal::Store(reason)) => Err(HostError::Store { height: a.height, reason }),
        }
    }

    fn decided(&mut self, cert: EngineCertificate<Ctx>) -> Result<(), HostError> {
        let height = cert.height.0;
        let hash = cert.value_id.0;
        let tip = self.tip_height();
        if tip >= height {
            return Ok(());
        }
        let fail = |reason: String| HostError::Commit { height, block: hash, reason };
        if tip + 1 != height {
            return Err(fail(format!("this node's tip is {tip}")));
        }
        let round = cert.round.as_u32().unwrap_or(0);
        self.sizer.decided(height, round);
        self.ledger.metrics.block_limit_txs.set(self.sizer.limit() as i64);
        if round > 0 {
            self.ledger.metrics.late_rounds.inc();
        }
        let core_cert = core_certificate(&cert);
        let executed = self.state.get_mut(&hash).and_then(|c| c.executed.take());
        let proposal = match executed {
            Some(p) => p,
            None => {
                let block = match self.state.get(&hash) {
                    Some(c) => Some((*c.block).clone()),
                    None => self.load_kept(height, hash),
                };
                let Some(block) = block else {
                    return Err(fail("this node does not hold it as a valid block, in memory or on disk".into()));
                };
                match tokio::task::block_in_place(|| self.app.validate(&block)).map_err(Refusal::from) {
                    Ok(p) => p,
                    Err(Refusal::Invalid(r)) => return Err(fail(format!("it does not validate here: {r}"))),
                    Err(Refusal::Store(reason)) => return Err(HostError::Store { height, reason }),
                }
            }
        };
        let txs = proposal.txs.len();
        let started = Instant::now();
        // A node that holds no validator key signs nothing, so it may execute the next
        // block while this one is written (the API sees it once it is durable).
        let durability = if self.keys.is_empty() { Durability::Deferred } else { Durability::Now };
        match tokio::task::block_in_place(|| self.app.commit_with(proposal, &core_cert, durability)) {
            Ok(()) => {}
            Err(AppError::Store(e)) => return Err(HostError::Store { height, reason: e.to_string() }),
            Err(e) => return Err(fail(e.to_string())),
        }
        tracing::info!(target: "jialing::consensus", height, round = core_cert.round, txs, signers = core_cert.signatures.len(), block = %hash, ms = started.elapsed().as_millis() as u64, "block committed");
        self.state.committed(height);
        self.round = 0;
        self.own_streams.retain(|h, _| self.state.get(h).is_some());
        self.parts.retain(&self.schedule());
        // Kept bodies go once their height is durable: a deferred block may still be on
        // the committer thread, and after a crash before it lands the engine may decide
        // it again from its log.
        let durable_through = if durability == Durability::Deferred { height - 1 } else { height };
        if let Ok(entries) = std::fs::read_dir(&self.own_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let h = name.split('-').next().and_then(|h| h.parse::<u64>().ok());
                if h.is_some_and(|h| h <= durable_through) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// What this node serves for a sync request of `from..=to` now.
    #[cfg(test)]
    fn decided_values(&self, from: Height, to: Height) -> Vec<RawDecidedValue<Ctx>> {
        read_decided_values(&self.ledger.store, self.tip_height(), from, to)
    }

    /// A block synced with a commit certificate (which the engine has verified and
    /// matched to the header hash): judged on its own bytes, never through a verdict
    /// cached under its header hash, and never by the local clock.
    fn synced_value(
        &mut self,
        height: u64,
        round: Round,
        proposer: Address,
        value_bytes: Bytes,
    ) -> Result<SyncedValueOutcome<Ctx>, HostError> {
        let fault = |ledger: &Ledger, reason: String| {
            ledger.metrics.sync_peer_faults.inc();
            tracing::warn!(target: "jialing::sync", height, %reason, "synced block refused: the peer that sent it is at fault; asking another");
            SyncedValueOutcome::PeerFault
        };
        let block: Block =
            match encoding::decode_limited("synced block", &value_bytes, jialing_core::block::MAX_ENCODED_BLOCK) {
                Ok(b) => b,
                Err(e) => return Ok(fault(&self.ledger, format!("undecodable: {e}"))),
            };
        if block.header.height != height {
            return Ok(fault(&self.ledger, format!("the block is for height {}", block.header.height)));
        }
        if self.tip_height() + 1 != height {
            return Ok(SyncedValueOutcome::LocalTransientError);
        }
        let hash = block.header.hash();
        let held = self.state.get(&hash).is_some();
        // A held block was validated with a body matching this header; this body must
        // be that one. Otherwise the block validator checks count and root itself.
        if held && let Err(reason) = body_matches_header(&block) {
            return Ok(fault(&self.ledger, format!("the body does not match the certified header: {reason}")));
        }
        if !held {
            match tokio::task::block_in_place(|| self.app.validate(&block)).map_err(Refusal::from) {
                Ok(p) => {
                    self.keep_body_bytes(height, hash, &value_bytes)?;
                    let c = Candidate {
                        height,
                        round,
                        pol_round: Round::Nil,
                        proposer,
                        block: Arc::new(block),
                        executed: Some(p),
                    };
                    self.state.insert(hash, c);
                }
                Err(Refusal::Invalid(reason)) => {
                    return Ok(fault(&self.ledger, format!("the certified block does not validate: {reason}")));
                }
                Err(Refusal::Store(reason)) => return Err(HostError::Store { height, reason }),
            }
        }
        match self.state.get(&hash) {
            Some(c) => {
                let mut v = proposed_value(c);
                v.round = round;
                v.proposer = proposer;
                Ok(SyncedValueOutcome::Verdict(v))
            }
            None => Ok(SyncedValueOutcome::LocalTransientError),
        }
    }
}

/// Most sync requests of peers waiting to be read. An honest peer catching up has a
/// few in flight (Malachite's `parallel_requests`); a peer that sends more, or many
/// peers at once, are answered with no blocks beyond it and ask again, instead of
/// growing a queue that this node would spend minutes reading for requests long given
/// up on.
const MAX_SERVE_QUEUE: usize = 32;

/// Reads for peers' sync requests, one at a time and in the order they came, on a
/// thread of their own (off the host's loop). A peer catching up asks for several
/// ranges at once and executes the lowest first: read side by side, every range would
/// arrive only after all of them were read. At most [`MAX_SERVE_QUEUE`] wait.
struct SyncServer {
    queue: Option<std::sync::mpsc::SyncSender<ServeJob>>,
    bound: usize,
}

impl Default for SyncServer {
    fn default() -> Self {
        SyncServer { queue: None, bound: MAX_SERVE_QUEUE }
    }
}

impl SyncServer {
    /// Queues `job` to be run with `true` (read and answer) on the serving thread; when
    /// the queue is full, runs it here at once with `false` (answer with no blocks) and
    /// returns `false`.
    fn serve(&mut self, job: ServeJob) -> bool {
        let job = match &self.queue {
            Some(q) => match offer(q, job) {
                Ok(queued) => return queued,
                Err(job) => job,
            },
            None => job,
        };
        // No thread yet (or it is gone): start one; it ends with this host.
        let (tx, rx) = std::sync::mpsc::sync_channel::<ServeJob>(self.bound);
        let spawned = std::thread::Builder::new().name("jialing-sync-serve".into()).spawn(move || {
            for job in rx {
                job(true);
            }
        });
        match spawned {
            Ok(_) => {
                // The fresh thread holds its receiver; were the job refused anyway, the
                // peer gets its answer (no blocks) now rather than never.
                let queued = offer(&tx, job).unwrap_or_else(|job| {
                    job(false);
                    false
                });
                self.queue = Some(tx);
                queued
            }
            Err(_) => {
                job(true);
                true
            }
        }
    }
}

/// Offers `job` to the serving queue `q`: `Ok(true)` queued; `Ok(false)` the queue was
/// full and the job has answered with no blocks; `Err(job)` the serving thread is gone.
fn offer(q: &std::sync::mpsc::SyncSender<ServeJob>, job: ServeJob) -> Result<bool, ServeJob> {
    match q.try_send(job) {
        Ok(()) => Ok(true),
        Err(std::sync::mpsc::TrySendError::Full(job)) => {
            job(false);
            Ok(false)
        }
        Err(std::sync::mpsc::TrySendError::Disconnected(job)) => Err(job),
    }
}

/// A sync read: `true` reads and answers, `false` answers with no blocks.
type ServeJob = Box<dyn FnOnce(bool) + Send>;

/// The decided blocks `from..=to` (at most [`MAX_SYNC_BATCH`], none past `tip`) with
/// their certificates, as stored, for a peer's sync request.
fn read_decided_values(store: &crate::store::Store, tip: u64, from: Height, to: Height) -> Vec<RawDecidedValue<Ctx>> {
    let from = from.0.max(1);
    let to = to.0.min(tip).min(from.saturating_add(MAX_SYNC_BATCH - 1));
    let mut out = Vec::new();
    for h in from..=to {
        let (Ok(Some(block)), Ok(Some(cert))) = (store.block_bytes(h), store.certificate(h)) else {
            break;
        };
        out.push(RawDecidedValue::new(Bytes::from(block), engine_certificate(&cert)));
    }
    out
}

/// Whether the transactions of `block` are the ones its header commits to.
fn body_matches_header(block: &Block) -> Result<(), String> {
    let h = &block.header;
    if h.tx_count as usize != block.txs.len() {
        return Err(format!("header counts {} transactions, the body has {}", h.tx_count, block.txs.len()));
    }
    let root = block.computed_tx_root();
    if root != h.tx_root {
        return Err(format!("tx_root {} in the header, {root} over the body", h.tx_root));
    }
    Ok(())
}

/// The engine's certificate as the core certificate stored with the block.
fn core_certificate(cert: &EngineCertificate<Ctx>) -> CommitCertificate {
    CommitCertificate {
        height: cert.height.0,
        round: cert.round.as_u32().unwrap_or(0),
        block_hash: cert.value_id.0,
        signatures: cert
            .commit_signatures
            .iter()
            .map(|s| CommitSignature { validator: s.address.0, signature: s.signature })
            .collect(),
    }
}

/// A stored core certificate as the engine's (sync responses).
fn engine_certificate(cert: &CommitCertificate) -> ExtendedCommitCertificate<Ctx> {
    ExtendedCommitCertificate {
        height: Height(cert.height),
        round: Round::new(cert.round),
        value_id: BlockId(cert.block_hash),
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| ExtendedCommitSignature { address: Address(s.validator), signature: s.signature, extension: None })
            .collect(),
    }
}

fn proposed_value(c: &Candidate) -> ProposedValue<Ctx> {
    ProposedValue {
        height: Height(c.height),
        round: c.round,
        valid_round: c.pol_round,
        proposer: c.proposer,
        value: BlockId(c.block.header.hash()),
        validity: Validity::Valid,
    }
}

fn invalid_value(a: &Assembled, hash: Hash) -> ProposedValue<Ctx> {
    ProposedValue {
        height: Height(a.height),
        round: Round::new(a.round),
        valid_round: Round::from(a.pol_round),
        proposer: Address(a.proposer),
        value: BlockId(hash),
        validity: Validity::Invalid,
    }
}

/// Writes a file and fsyncs it and its directory.
fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "host_tests.rs"]
mod tests;
