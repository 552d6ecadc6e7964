//! The application side of Malachite: answers every [`AppMsg`] with the ledger
//! [`App`] (propose, validate, commit), streams proposals as parts, serves and applies
//! synced blocks.
//!
//! Safety rules kept here:
//! - a block is committed only with a certificate that verifies against the validator
//!   set, in one fsynced batch, before `Decided` is acknowledged;
//! - a validator never proposes two different blocks for one height and round: its own
//!   proposal is written to disk (fsynced) before it is announced, and reused after a
//!   crash;
//! - a proposed block is voted for only after it has been re-executed and every root,
//!   signature and the block time (monotonic, at most `max_clock_drift_ms` ahead of the
//!   local clock) checked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jialing_core::{Block, CommitCertificate, CommitSignature, Hash, Keypair, encoding};
use malachitebft_app::consensus::ProposedValue;
use malachitebft_app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app::types::LocallyProposedValue;
use malachitebft_app::types::sync::RawDecidedValue;
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_core_types::{
    CommitCertificate as EngineCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, LinearTimeouts, Round,
    Validity,
};
use malachitebft_engine::util::streaming::StreamId;

use super::context::{Address, BlockId, Ctx, Height, PartMessage, ValidatorSet};
use super::parts::{Assembled, PartsBuffer, make_stream};
use crate::app::{App, Ledger, Proposal};
use crate::config::{BlockConfig, ConsensusConfig};
use crate::solo::now_ms;

/// Base period of vote rebroadcast (Malachite adds the per-round timeout deltas). Short,
/// so that peers reconnecting after a partition exchange their votes at once: see
/// docs/adr/0003-partition-resume.md.
const REBROADCAST: Duration = Duration::from_millis(500);

/// A block seen for the height being decided: ours, streamed to us, or synced.
struct Candidate {
    height: u64,
    round: Round,
    pol_round: Round,
    proposer: Address,
    block: Arc<Block>,
    /// The executed result, when the block was valid against the current tip.
    executed: Option<Proposal>,
    validity: Validity,
}

/// Most decided blocks served in one sync response.
const MAX_SYNC_BATCH: u64 = 16;

/// Drives the ledger from the engine's messages.
pub struct Host {
    app: App,
    ledger: Arc<Ledger>,
    key: Option<Keypair>,
    block: BlockConfig,
    cfg: ConsensusConfig,
    parts: PartsBuffer,
    candidates: BTreeMap<Hash, Candidate>,
    /// Complete streams for a height above the next one, validated when it starts.
    pending: Vec<Assembled>,
    /// Our own streams, for re-publication.
    own_streams: BTreeMap<Hash, Vec<PartMessage>>,
    own_dir: PathBuf,
    last_commit_failed: bool,
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
        let parts = PartsBuffer::new(ledger.chain_id.clone(), block.max_bytes, 64);
        Ok(Host {
            app,
            ledger,
            key,
            block,
            cfg,
            parts,
            candidates: BTreeMap::new(),
            pending: Vec::new(),
            own_streams: BTreeMap::new(),
            own_dir,
            last_commit_failed: false,
        })
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

    /// Runs until the engine closes its channel. Returns an error only when storage
    /// fails (the node must stop).
    pub async fn run(mut self, mut channels: Channels<Ctx>) -> anyhow::Result<()> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, &channels).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: AppMsg<Ctx>, channels: &Channels<Ctx>) -> anyhow::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = self.tip_height() + 1;
                tracing::info!(target: "jialing::consensus", height = next, "consensus ready; starting height");
                let _ = reply.send((Height(next), self.params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                tracing::debug!(target: "jialing::consensus", %height, %round, %proposer, ?role, "round started");
                self.validate_pending(height.0);
                let values: Vec<ProposedValue<Ctx>> = self
                    .candidates
                    .values()
                    .filter(|c| c.height == height.0 && c.round == round)
                    .map(proposed_value)
                    .collect();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                if let Some(value) = self.get_value(height.0, round, timeout, channels).await? {
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
                self.restream(height.0, round, valid_round, value_id, channels).await;
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let publisher = published_by.unwrap_or(from);
                let value = self.received_part(publisher.to_string().as_bytes(), part);
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, reply, .. } => {
                self.decided(certificate)?;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, reply, .. } => {
                let tip = self.tip_height();
                let next = Height(tip + 1);
                if tip >= certificate.height.0 && !self.last_commit_failed {
                    let _ = reply.send(Next::Start(next, self.params()));
                } else {
                    tracing::warn!(target: "jialing::consensus", height = %certificate.height, "decided block was not committed; restarting the height");
                    self.last_commit_failed = false;
                    let _ = reply.send(Next::Restart(next, self.params()));
                }
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(*range.start(), *range.end()));
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let _ = reply.send(self.synced_value(height.0, round, proposer, value_bytes));
            }
        }
        Ok(())
    }

    fn own_path(&self, height: u64, round: Round) -> PathBuf {
        self.own_dir.join(format!("{height}-{}.block", round.as_i64()))
    }

    /// Builds (or, after a crash, reloads) our block for `height`/`round`, persists it,
    /// replies with its id and streams it.
    async fn get_value(
        &mut self,
        height: u64,
        round: Round,
        timeout: Duration,
        channels: &Channels<Ctx>,
    ) -> anyhow::Result<Option<LocallyProposedValue<Ctx>>> {
        let Some(key) = self.key.clone() else {
            tracing::warn!(target: "jialing::consensus", height, "asked to propose without a validator key");
            return Ok(None);
        };
        if self.tip_height() + 1 != height {
            tracing::warn!(target: "jialing::consensus", height, tip = self.tip_height(), "asked to propose for a height that does not follow the tip");
            return Ok(None);
        }
        let path = self.own_path(height, round);
        let block = match std::fs::read(&path) {
            Ok(bytes) => match encoding::decode::<Block>("own proposal", &bytes) {
                Ok(b) => {
                    tracing::info!(target: "jialing::consensus", height, %round, "re-proposing the block built before a restart");
                    Some(b)
                }
                Err(e) => {
                    tracing::warn!(target: "jialing::consensus", error = %e, path = %path.display(), "unreadable own proposal; it was never announced");
                    None
                }
            },
            Err(_) => None,
        };
        let (block, executed) = match block {
            Some(b) => {
                let executed = tokio::task::block_in_place(|| self.app.validate(&b)).ok();
                (b, executed)
            }
            None => {
                self.wait_for_txs(timeout).await;
                let proposal = tokio::task::block_in_place(|| {
                    self.app.propose(key.public(), now_ms(), self.block.max_txs, self.block.max_bytes)
                })?;
                let b = proposal.block();
                if self.cfg.test_byzantine.as_deref() == Some("invalid-block") {
                    let b = byzantine_invalid(b, &self.ledger.chain_id);
                    write_synced(&path, &encoding::encode(&b))?;
                    let hash = b.header.hash();
                    return Ok(Some(
                        self.announce(key, height, round, b, None, Validity::Valid, channels).await?.with_hash(hash),
                    ));
                }
                if self.cfg.test_byzantine.as_deref() == Some("equivocate") {
                    // A second, different block for the same height and round, streamed
                    // first under another stream id.
                    let mut twin = b.clone();
                    twin.header.time_ms += 1;
                    let bytes = encoding::encode(&twin);
                    let r = round.as_u32().unwrap_or(0);
                    let other = StreamId::new(Bytes::from(encoding::encode(&(height, r, 1u8))));
                    for mut m in make_stream(&self.ledger.chain_id, &key, height, r, -1, &bytes) {
                        m.stream_id = other.clone();
                        channels.network.send(NetworkMsg::PublishProposalPart(m)).await?;
                    }
                    tracing::warn!(target: "jialing::consensus", height, %round, twin = %twin.header.hash(), "TEST BYZANTINE: equivocating proposal streamed");
                }
                write_synced(&path, &encoding::encode(&b))?;
                (b, Some(proposal))
            }
        };
        let validity = if executed.is_some() { Validity::Valid } else { Validity::Invalid };
        let hash = block.header.hash();
        Ok(Some(self.announce(key, height, round, block, executed, validity, channels).await?.with_hash(hash)))
    }

    /// Records our proposal and streams it to the network.
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &mut self,
        key: Keypair,
        height: u64,
        round: Round,
        block: Block,
        executed: Option<Proposal>,
        validity: Validity,
        channels: &Channels<Ctx>,
    ) -> anyhow::Result<Announced> {
        let hash = block.header.hash();
        let bytes = encoding::encode(&block);
        let stream = make_stream(&self.ledger.chain_id, &key, height, round.as_u32().unwrap_or(0), -1, &bytes);
        tracing::info!(target: "jialing::consensus", height, %round, txs = block.txs.len(), block = %hash, "proposing");
        self.candidates.insert(
            hash,
            Candidate {
                height,
                round,
                pol_round: Round::Nil,
                proposer: Address(key.public()),
                block: Arc::new(block),
                executed,
                validity,
            },
        );
        for m in &stream {
            channels.network.send(NetworkMsg::PublishProposalPart(m.clone())).await?;
        }
        self.own_streams.insert(hash, stream);
        Ok(Announced { height, round })
    }

    /// Waits until the mempool holds a full block, or has transactions and the batching
    /// wait is over, or the empty-block wait is over (bounded by the propose timeout).
    async fn wait_for_txs(&self, timeout: Duration) {
        let started = Instant::now();
        let idle = Duration::from_millis(self.cfg.empty_block_wait_ms).min(timeout.mul_f32(0.6));
        let batch = Duration::from_millis(self.block.max_wait_ms);
        loop {
            let n = match self.ledger.mempool.lock() {
                Ok(p) => p.len(),
                Err(p) => p.into_inner().len(),
            };
            let waited = started.elapsed();
            if n >= self.block.max_txs || (n > 0 && waited >= batch) || waited >= idle {
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
        channels: &Channels<Ctx>,
    ) {
        let Some(key) = self.key.clone() else { return };
        let Some(c) = self.candidates.get(&value_id.0) else {
            tracing::warn!(target: "jialing::consensus", height, %round, block = %value_id, "asked to restream a block we do not hold");
            return;
        };
        let stream = match self.own_streams.get(&value_id.0) {
            Some(s) if c.round == round => s.clone(),
            _ => make_stream(
                &self.ledger.chain_id,
                &key,
                height,
                round.as_u32().unwrap_or(0),
                valid_round.as_i64(),
                &encoding::encode(&*c.block),
            ),
        };
        for m in stream {
            if channels.network.send(NetworkMsg::PublishProposalPart(m)).await.is_err() {
                return;
            }
        }
    }

    fn received_part(&mut self, publisher: &[u8], part: PartMessage) -> Option<ProposedValue<Ctx>> {
        let assembled = match self.parts.insert(publisher, part) {
            Ok(Some(a)) => a,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(target: "jialing::consensus", error = %e, "dropped a proposal stream");
                return None;
            }
        };
        let next = self.tip_height() + 1;
        if assembled.height > next {
            if self.pending.len() < 16 {
                self.pending.push(assembled);
            }
            return None;
        }
        if assembled.height < next {
            return None;
        }
        let hash = self.consider(assembled, true);
        self.candidates.get(&hash).map(proposed_value)
    }

    /// Validates proposals that arrived early for `height`, now that it has started.
    fn validate_pending(&mut self, height: u64) {
        if self.tip_height() + 1 != height {
            return;
        }
        let ready: Vec<Assembled> = {
            let (now, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.pending).into_iter().partition(|a| a.height == height);
            self.pending = later.into_iter().filter(|a| a.height > height).collect();
            now
        };
        for a in ready {
            self.consider(a, true);
        }
    }

    /// Re-executes a block proposed for the next height and records the verdict.
    fn consider(&mut self, a: Assembled, check_clock: bool) -> Hash {
        let hash = a.block.header.hash();
        if let Some(c) = self.candidates.get_mut(&hash) {
            // The same block re-proposed in a later round keeps its verdict.
            if c.round < Round::new(a.round) {
                c.round = Round::new(a.round);
                c.pol_round = Round::from(a.pol_round);
                c.proposer = Address(a.proposer);
            }
            return hash;
        }
        let verdict = if check_clock && a.block.header.time_ms > now_ms() + self.cfg.max_clock_drift_ms {
            Err(format!(
                "block time {} is more than {} ms ahead of this node's clock",
                a.block.header.time_ms, self.cfg.max_clock_drift_ms
            ))
        } else {
            tokio::task::block_in_place(|| self.app.validate(&a.block)).map_err(|e| e.to_string())
        };
        let (executed, validity) = match verdict {
            Ok(p) => (Some(p), Validity::Valid),
            Err(reason) => {
                self.ledger.metrics.proposals_rejected.inc();
                tracing::warn!(target: "jialing::consensus", height = a.height, round = a.round, proposer = %a.proposer, block = %hash, %reason, "invalid proposal: voting nil");
                (None, Validity::Invalid)
            }
        };
        self.candidates.insert(
            hash,
            Candidate {
                height: a.height,
                round: Round::new(a.round),
                pol_round: Round::from(a.pol_round),
                proposer: Address(a.proposer),
                block: Arc::new(a.block),
                executed,
                validity,
            },
        );
        hash
    }

    fn decided(&mut self, cert: EngineCertificate<Ctx>) -> anyhow::Result<()> {
        let height = cert.height.0;
        let hash = cert.value_id.0;
        if self.tip_height() >= height {
            return Ok(());
        }
        let core_cert = CommitCertificate {
            height,
            round: cert.round.as_u32().unwrap_or(0),
            block_hash: hash,
            signatures: cert
                .commit_signatures
                .iter()
                .map(|s| CommitSignature { validator: s.address.0, signature: s.signature })
                .collect(),
        };
        let proposal = match self.candidates.get_mut(&hash) {
            Some(c) => match c.executed.take() {
                Some(p) => Some(p),
                None => tokio::task::block_in_place(|| self.app.validate(&c.block)).ok(),
            },
            None => None,
        };
        let Some(proposal) = proposal else {
            tracing::error!(target: "jialing::consensus", height, block = %hash, "decided a block this node does not hold or cannot execute");
            self.last_commit_failed = true;
            return Ok(());
        };
        let txs = proposal.txs.len();
        let started = Instant::now();
        match tokio::task::block_in_place(|| self.app.commit(proposal, &core_cert)) {
            Ok(()) => {}
            Err(crate::app::AppError::Store(e)) => {
                return Err(anyhow::anyhow!("storage failed committing block {height}: {e}"));
            }
            Err(e) => {
                tracing::error!(target: "jialing::consensus", height, error = %e, "decided block was refused");
                self.last_commit_failed = true;
                return Ok(());
            }
        }
        tracing::info!(target: "jialing::consensus", height, round = core_cert.round, txs, signers = core_cert.signatures.len(), block = %hash, ms = started.elapsed().as_millis() as u64, "block committed");
        self.candidates.retain(|_, c| c.height > height);
        self.own_streams.retain(|h, _| self.candidates.contains_key(h));
        self.pending.retain(|a| a.height > height);
        if let Ok(entries) = std::fs::read_dir(&self.own_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let h = name.split('-').next().and_then(|h| h.parse::<u64>().ok());
                if h.is_some_and(|h| h <= height) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    fn decided_values(&self, from: Height, to: Height) -> Vec<RawDecidedValue<Ctx>> {
        let tip = self.tip_height();
        let from = from.0.max(1);
        let to = to.0.min(tip).min(from.saturating_add(MAX_SYNC_BATCH - 1));
        let mut out = Vec::new();
        for h in from..=to {
            let (Ok(Some(block)), Ok(Some(cert))) = (self.ledger.store.block(h), self.ledger.store.certificate(h))
            else {
                break;
            };
            let certificate = ExtendedCommitCertificate {
                height: Height(h),
                round: Round::new(cert.round),
                value_id: BlockId(cert.block_hash),
                commit_signatures: cert
                    .signatures
                    .iter()
                    .map(|s| ExtendedCommitSignature {
                        address: Address(s.validator),
                        signature: s.signature,
                        extension: None,
                    })
                    .collect(),
            };
            out.push(RawDecidedValue::new(Bytes::from(encoding::encode(&block)), certificate));
        }
        out
    }

    fn synced_value(
        &mut self,
        height: u64,
        round: Round,
        proposer: Address,
        value_bytes: Bytes,
    ) -> SyncedValueOutcome<Ctx> {
        let block: Block =
            match encoding::decode_limited("synced block", &value_bytes, self.block.max_bytes + 64 * 1024) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(target: "jialing::sync", height, error = %e, "undecodable synced block");
                    return SyncedValueOutcome::PeerFault;
                }
            };
        if block.header.height != height {
            tracing::warn!(target: "jialing::sync", height, got = block.header.height, "synced block is for another height");
            return SyncedValueOutcome::PeerFault;
        }
        if self.tip_height() + 1 != height {
            return SyncedValueOutcome::LocalTransientError;
        }
        let a = Assembled { height, round: round.as_u32().unwrap_or(0), pol_round: -1, proposer: proposer.0, block };
        let hash = self.consider(a, false);
        match self.candidates.get(&hash) {
            Some(c) => {
                let mut v = proposed_value(c);
                v.round = round;
                v.proposer = proposer;
                SyncedValueOutcome::Verdict(v)
            }
            None => SyncedValueOutcome::LocalTransientError,
        }
    }
}

/// What [`Host::announce`] announced.
struct Announced {
    height: u64,
    round: Round,
}

impl Announced {
    fn with_hash(self, hash: Hash) -> LocallyProposedValue<Ctx> {
        LocallyProposedValue::new(Height(self.height), self.round, BlockId(hash))
    }
}

/// TESTING ONLY: the block with a transaction signed by a key that is no member
/// appended (header updated to match, state root left as built): honest validators
/// must find it inadmissible and vote nil.
fn byzantine_invalid(mut b: Block, chain_id: &str) -> Block {
    let outsider = Keypair::from_label(&format!("test/byzantine/outsider/{}", b.header.height));
    let stx = jialing_core::Transaction {
        chain_id: chain_id.to_string(),
        signer: outsider.public(),
        nonce: 0,
        contract: "trace".into(),
        method: "create_lot".into(),
        payload: vec![],
    }
    .sign(&outsider);
    b.txs.push(stx);
    let hashes: Vec<Hash> = b.txs.iter().map(|t| t.hash()).collect();
    b.header.tx_root = Block::tx_root_of(&hashes);
    b.header.tx_count = b.txs.len() as u32;
    tracing::warn!(target: "jialing::consensus", height = b.header.height, "TEST BYZANTINE: proposing a block with a non-member transaction");
    b
}

fn proposed_value(c: &Candidate) -> ProposedValue<Ctx> {
    ProposedValue {
        height: Height(c.height),
        round: c.round,
        valid_round: c.pol_round,
        proposer: c.proposer,
        value: BlockId(c.block.header.hash()),
        validity: c.validity,
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
