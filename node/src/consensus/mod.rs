//! Multi-node BFT consensus: Malachite (`arc-malachitebft-app-channel`) as a library,
//! with Jialing's context ([`context`]), wire codec ([`codec`]), proposal streaming
//! ([`parts`]), the application host that drives the ledger ([`host`]) with its pure
//! bookkeeping ([`state`]), the choice of signing key per height ([`signing_key`]), and
//! transaction gossip ([`gossip`]).
//!
//! Peers: only node keys of current organisations (read from the ledger state) are
//! admitted. Malachite runs with `persistent_peers_only`, its persistent peers being
//! exactly the configured peers whose key the ledger lists; anything else is refused
//! after the Noise handshake proves its key. The gossip swarm enforces the same list.
//!
//! **Validator key rotation without a restart.** A node may hold several validator
//! keys (`validator_keys = [current, next]`); each height is signed by the one key in
//! that height's validator set ([`signing_key::choose`]; two held keys in one set: the
//! node refuses to start, or at runtime signs with neither). Malachite's consensus
//! state keeps its signing address for its whole life (`ConsensusState` is created
//! once, at the first `StartHeight`, from `Params::address`, and its driver, vote
//! keeper and WAL replay index all use it), so a new key needs a new consensus actor.
//! The network actor is spawned here, outside the engine, and handed to every engine
//! with `with_custom_network`; at a switch only the engine's node, consensus,
//! write-ahead log, sync and host actors are replaced:
//!
//! 1. when the engine reports height `H - 1` finalized, the host commits it (as
//!    always, before `Decided` was acknowledged) and finds that the validator set of
//!    `H` wants another key. It does **not** answer `Finalized`, so the old engine
//!    never starts `H`: it has signed nothing at `H`;
//! 2. the network actor is unlinked from the old engine's node actor, which is then
//!    stopped (its children — consensus, WAL, sync, host connector — with it);
//! 3. the new engine opens the same write-ahead log file once the old log thread has
//!    released its lock ([`wait_for_wal`]), subscribes to the network (which replays
//!    its connected peers), and asks the host `ConsensusReady`: the host answers `H`
//!    with the validator set of `H`, and the new key signs from the first vote of `H`.
//!
//! Why no key ever double-signs, crash included: the log records what the engine
//! signed at the height it runs. The old engine stopped at a decided height `H - 1`
//! (nothing left to sign there) and never ran `H`. Whichever moment the process dies,
//! at restart the key is chosen again from the committed state — the validator set of
//! `tip + 1` — so it is the new key for `H`: if the new engine had signed at `H`, the
//! log holds those messages and Malachite replays them under the same (new) address;
//! if it had not, the log holds `H - 1` and is reset. The old key signed only heights
//! below `H`, and signs again only if a later set names it again, at heights it never
//! signed.
//!
//! Liveness: the switch adds only the stop and rebuild (a few milliseconds, logged as
//! `ms`) before `H` starts. Consensus messages for `H` the old engine had already
//! received (typically the proposer's signed proposal, which is sent once) are lost
//! with it, so the switching node may not vote in the first heights after the switch
//! and catches up within about a second (vote rebroadcast, value sync); the other
//! validators, holding more than two thirds of the power, decide those heights in
//! their first round regardless (`tests/tests/net_validator_rotation.rs`).
//!
//! The validator proof (Malachite's peer-id binding, used only for peer scoring here,
//! since admission is by node key) stays the one signed at process start.

pub mod codec;
pub mod compact;
pub mod context;
pub mod gossip;
pub mod guard;
pub mod host;
pub mod parts;
pub mod signing_key;
pub mod sizing;
pub mod state;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use jialing_contracts::keys;
use jialing_contracts::membership::Organisation;
use jialing_core::{Keypair, PublicKey, Uscc, encoding};
use malachitebft_app::config::{
    ConsensusConfig as EngineConsensus, P2pConfig, PubSubProtocol, ValuePayload, ValueSyncConfig,
};
use malachitebft_app::types::codec::Codec;
use malachitebft_app_channel::{
    Channels, ConsensusContext, EngineBuilder, EngineHandle, NetworkIdentity, NetworkMsg, RequestContext, SyncContext,
    WalContext,
};
use malachitebft_engine::network::NetworkRef;
use malachitebft_signing::Signer as _;

use crate::app::{App, Ledger};
use crate::config::NodeConfig;
use context::{Address, ConsensusSigner, ConsensusVerifier, Ctx};

/// The engine configuration handed to Malachite.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    moniker: String,
    consensus: EngineConsensus,
    value_sync: ValueSyncConfig,
}

impl malachitebft_app::config::NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &EngineConsensus {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut EngineConsensus {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// Node keys of every current (active) organisation, from committed state.
pub fn member_node_keys(ledger: &Ledger) -> anyhow::Result<BTreeSet<PublicKey>> {
    use jialing_contracts::StateView as _;
    let read = |k: &[u8]| ledger.store.get(k).map_err(anyhow::Error::msg);
    let Some(list) = read(jialing_contracts::governance::ORGS_KEY)? else {
        return Ok(BTreeSet::new());
    };
    let orgs: Vec<Uscc> = encoding::decode("organisation list", &list)?;
    let mut out = BTreeSet::new();
    for u in orgs {
        if let Some(b) = read(&keys::org(&u))? {
            let o: Organisation = encoding::decode("organisation", &b)?;
            if o.active {
                out.extend(o.node_keys);
            }
        }
    }
    Ok(out)
}

/// The consensus multiaddr of a peer: its address with its peer id.
pub fn peer_multiaddr(key: &PublicKey, a: SocketAddr) -> anyhow::Result<libp2p::Multiaddr> {
    Ok(gossip::tcp_addr(a).with(libp2p::multiaddr::Protocol::P2p(gossip::peer_id(key)?)))
}

/// The gossip address of a peer whose consensus address is `a` (port + 1).
pub fn gossip_addr(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().saturating_add(1))
}

/// The engine that runs now: replaced at a validator key switch.
#[derive(Clone)]
pub struct Engine {
    current: Arc<Mutex<Option<EngineHandle>>>,
    network: NetworkRef<Ctx>,
}

impl Engine {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<EngineHandle>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the engine's actors and the consensus network (node shutdown).
    pub fn stop(&self) {
        if let Some(e) = self.lock().take() {
            e.actor.stop(None);
            e.handle.abort();
        }
        self.network.stop(None);
    }
}

/// A running consensus engine and its application host.
pub struct Running {
    /// The engine's actors (the current ones: a key switch replaces them).
    pub engine: Engine,
    /// The host task: ends with an error if storage fails or a key switch cannot
    /// rebuild the engine.
    pub host: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The gossip task.
    pub gossip: tokio::task::JoinHandle<()>,
}

/// What every engine of this process is built from. The network actor lives as long
/// as the process; the consensus, write-ahead log, sync and host actors are built anew
/// with each validator key.
struct EngineParts {
    ctx: Ctx,
    cfg: EngineConfig,
    wal: PathBuf,
    network: NetworkRef<Ctx>,
    tx_network: tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>,
    /// The address a full node's engine is given (it signs nothing).
    full_node: Address,
    /// The wire codec (it feeds synced blocks to the preverifier).
    codec: codec::WireCodec,
}

impl EngineParts {
    /// Builds an engine that signs with `key` (none: a full node's engine) on the
    /// shared network actor.
    async fn build(&self, key: Option<&Keypair>) -> anyhow::Result<(Channels<Ctx>, EngineHandle)> {
        let chain_id = self.ctx.chain_id.clone();
        let verifier = Box::new(ConsensusVerifier::new(chain_id.clone()));
        let consensus = match key {
            Some(k) => ConsensusContext::new_validator(
                Address(k.public()),
                verifier,
                Box::new(ConsensusSigner::new(chain_id, k.clone())),
            ),
            None => ConsensusContext::new_full_node(self.full_node, verifier),
        };
        EngineBuilder::new(self.ctx.clone(), self.cfg.clone())
            .with_default_wal(WalContext::new(self.wal.clone(), self.codec.clone()))
            .with_custom_network(self.network.clone(), self.tx_network.clone())
            .with_default_sync(SyncContext::new(self.codec.clone()))
            .with_default_consensus(consensus)
            .with_default_request(RequestContext::new(100))
            .build()
            .await
            .map_err(|e| anyhow::anyhow!("starting the consensus engine: {e}"))
    }
}

/// Starts Malachite, the host and transaction gossip for `app`. `validator_keys` are
/// every validator key this node holds: the one in the next height's validator set
/// signs, and the engine switches keys by itself at the height where governance
/// replaces it (see the module doc). `hook` is `None` on every real node; tests pass one
/// to run a Byzantine proposer.
pub async fn start(
    cfg: &NodeConfig,
    app: App,
    validator_keys: Vec<Keypair>,
    node_key: Keypair,
    hook: Option<std::sync::Arc<dyn host::ProposalHook>>,
) -> anyhow::Result<Running> {
    let ledger = app.ledger().clone();
    let chain_id = ledger.chain_id.clone();
    let members = member_node_keys(&ledger)?;
    if !members.contains(&node_key.public()) {
        anyhow::bail!(
            "this node's key {} is not a node key of any current organisation in the ledger, so peers would refuse it; \
             have governance add it (governance set_node_keys) or use the organisation's node key file",
            node_key.public()
        );
    }
    // Every configured peer; those that are not members now are left out until
    // governance makes them members (the membership guard adds them then).
    let mut configured = Vec::new();
    let mut peers = Vec::new();
    for p in &cfg.consensus.peers {
        let key = PublicKey::from_hex(&p.node_key).map_err(|e| anyhow::anyhow!("consensus.peers: {e}"))?;
        if key == node_key.public() {
            continue;
        }
        configured.push((key, p.address));
        if !members.contains(&key) {
            tracing::warn!(target: "jialing::p2p", peer = %key, address = %p.address, "configured peer is not a node key of a current organisation: not connecting to it and refusing it");
            continue;
        }
        peers.push((key, p.address));
    }
    let allowed: BTreeSet<libp2p::PeerId> =
        members.iter().filter_map(|k| gossip::peer_id(k).ok()).collect::<BTreeSet<_>>();

    let tip = app.tip();
    let validator_key = match signing_key::choose(&validator_keys, &tip.validators) {
        signing_key::Choice::One(k) => Some(k),
        signing_key::Choice::None => {
            if !validator_keys.is_empty() {
                tracing::warn!(target: "jialing::consensus", keys = ?signing_key::labels(&validator_keys), height = tip.header.height + 1, "none of this node's validator keys is in the current validator set: following as a full node until governance adds one (no restart needed)");
            }
            None
        }
        signing_key::Choice::Conflict(keys) => anyhow::bail!(
            "validator_keys holds {} keys that are all in the validator set of height {} ({}); a node signs with one key per height, never two: remove all but one from validator_keys",
            keys.len(),
            tip.header.height + 1,
            keys.iter().map(PublicKey::to_hex).collect::<Vec<_>>().join(", ")
        ),
    };

    let kp = gossip::libp2p_keypair(node_key.seed())?;
    let local_peer = kp.public().to_peer_id();
    let mut persistent = Vec::new();
    for (k, a) in &peers {
        persistent.push(peer_multiaddr(k, *a)?);
    }
    let moniker = format!("node-{}", node_key.public().short());
    let mut p2p = P2pConfig {
        listen_addr: gossip::tcp_addr(cfg.consensus.listen),
        persistent_peers: persistent,
        persistent_peers_only: true,
        // Consensus messages go straight to each connected peer (Malachite's
        // broadcast), not through a gossipsub mesh: the nodes are a configured full
        // mesh, votes and proposal parts carry their own signatures (checked by the
        // engine and `parts`), and the sending peer is authenticated by Noise, so
        // gossipsub's relaying only delivered each message two or three times, each
        // copy checked against a second, libp2p-level signature (ADR 0009).
        protocol: PubSubProtocol::Broadcast,
        ..Default::default()
    };
    // Peers of a local network share one IP: Malachite's default of 5 connections per
    // IP would turn members away. Admission is by node key, not by address.
    p2p.discovery.max_connections_per_ip = (4 * (peers.len() + 2)).max(16);
    p2p.rpc_max_size = bytesize_mib(64);
    p2p.pubsub_max_size = bytesize_mib(4);
    let engine_cfg = EngineConfig {
        moniker: moniker.clone(),
        consensus: EngineConsensus {
            enabled: true,
            p2p,
            value_payload: ValuePayload::ProposalAndParts,
            ..Default::default()
        },
        value_sync: ValueSyncConfig {
            enabled: true,
            status_update_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(10),
            max_response_size: bytesize_mib(64),
            batch_size: 4,
            ..Default::default()
        },
    };

    let codec = codec::WireCodec::with_preverifier(ledger.preverify.clone());
    // The validator proof binds the key signing at start to this node's peer id. Only
    // Malachite's peer scoring reads it (admission is by node key), so after a key
    // switch the proof of the old key stays until the next restart.
    let identity = match &validator_key {
        Some(vk) => {
            let signer = ConsensusSigner::new(chain_id.clone(), vk.clone());
            let proof = signer
                .sign_validator_proof(vk.public().0.to_vec(), local_peer.to_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("signing the validator proof: {e}"))?;
            let proof_bytes: Bytes = codec.encode(&proof)?;
            NetworkIdentity::new_validator(moniker.clone(), kp.clone(), Address(vk.public()).to_string(), proof_bytes)
        }
        None => NetworkIdentity::new(moniker.clone(), kp.clone(), None),
    };
    let wal = cfg.data_dir.join("consensus").join("wal");
    // The network actor is spawned here, not by the engine: the membership guard holds
    // its handle to add and remove persistent peers at runtime, and it outlives the
    // engines a validator key switch replaces.
    let registry = malachitebft_app::metrics::SharedRegistry::global().with_moniker(&moniker);
    let (network, tx_network) = malachitebft_app_channel::spawn::spawn_network_actor(
        identity,
        &engine_cfg.consensus,
        &engine_cfg.value_sync,
        &registry,
        codec.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the consensus network: {e}"))?;
    let parts = EngineParts {
        ctx: Ctx { chain_id: chain_id.clone() },
        cfg: engine_cfg,
        wal,
        network: network.clone(),
        tx_network,
        full_node: Address(node_key.public()),
        codec: codec.clone(),
    };
    let (channels, handle) = parts.build(validator_key.as_ref()).await?;
    let engine = Engine { current: Arc::new(Mutex::new(Some(handle))), network: network.clone() };
    export_active_key(&ledger, &validator_keys, validator_key.as_ref());
    tracing::info!(target: "jialing::consensus", peer_id = %local_peer, listen = %cfg.consensus.listen, peers = peers.len(), validator = validator_key.is_some(), key = %validator_key.as_ref().map_or("(none)".to_string(), |k| k.public().to_hex()), "consensus engine started");

    let gossip_peers: Vec<(libp2p::PeerId, SocketAddr)> =
        configured.iter().filter_map(|(k, a)| gossip::peer_id(k).ok().map(|id| (id, gossip_addr(*a)))).collect();
    let (gossip_task, gossip_ctl) = gossip::start(
        ledger.clone(),
        kp,
        gossip_addr(cfg.consensus.listen),
        gossip_peers,
        allowed,
        cfg.consensus.push_queue_bytes,
        validator_key.is_none(),
    )?;
    tokio::spawn(guard::run(ledger.clone(), node_key.public(), configured, members, network, gossip_ctl));

    let host = host::Host::new(
        app,
        validator_key,
        cfg.block.clone(),
        cfg.consensus.clone(),
        cfg.data_dir.join("consensus").join("own-proposals"),
    )
    .context("preparing the consensus directory")?
    .with_keys(validator_keys.clone());
    let host = match &cfg.source {
        Some(path) => host.with_key_source(config_key_source(path.clone())),
        None => host,
    };
    let mut host = match hook {
        Some(h) => {
            tracing::warn!(target: "jialing::consensus", "TESTING ONLY: this validator's proposals go through a test hook");
            host.with_proposal_hook(h)
        }
        None => host,
    };
    let slot = engine.clone();
    let host = tokio::spawn(async move {
        let mut channels = channels;
        loop {
            match host.run(channels).await? {
                host::Ended::Closed => return Ok(()),
                host::Ended::Switch(sw) => {
                    channels = switch_key(&parts, &slot, &mut host, sw, &ledger).await?;
                }
            }
        }
    });
    Ok(Running { engine, host, gossip: gossip_task })
}

/// Replaces the running engine by one that signs with the key of the next height's
/// validator set. The old engine is never told to start that height (its request
/// is answered by no one), and it is stopped, its write-ahead log closed, before the
/// new engine opens the same log; see the module doc for why no key double-signs.
async fn switch_key(
    parts: &EngineParts,
    slot: &Engine,
    host: &mut host::Host,
    sw: Box<host::KeySwitch>,
    ledger: &Ledger,
) -> anyhow::Result<Channels<Ctx>> {
    let started = Instant::now();
    let hex = |k: &Option<Keypair>| k.as_ref().map_or("(none)".to_string(), |k| k.public().to_hex());
    if !sw.conflict.is_empty() {
        tracing::error!(target: "jialing::consensus", height = sw.height, keys = ?sw.conflict.iter().map(PublicKey::to_hex).collect::<Vec<_>>(), "several of this node's validator keys are in the validator set of this height: signing with none of them (a node never signs with two keys); remove all but one from validator_keys");
    }
    let old = slot.lock().take();
    if let Some(old) = old {
        // The network stays: unlinked, it outlives the engine it was linked to. The
        // old node actor stops and takes its children (consensus, log, sync, host
        // connector) with it; its task ends once it has.
        parts.network.unlink(old.actor.get_cell());
        old.actor.stop(Some("validator key switch".into()));
        if tokio::time::timeout(SWITCH_TIMEOUT, old.handle).await.is_err() {
            anyhow::bail!(
                "the consensus engine of validator key {} did not stop within {SWITCH_TIMEOUT:?} for the switch at height {}",
                hex(&sw.from),
                sw.height
            );
        }
    }
    drop(sw.held_reply);
    wait_for_wal(&parts.wal, SWITCH_TIMEOUT).await?;
    let (channels, handle) = parts.build(sw.to.as_ref()).await.with_context(|| {
        format!("rebuilding the consensus engine with validator key {} at height {}", hex(&sw.to), sw.height)
    })?;
    *slot.lock() = Some(handle);
    host.switched(sw.to.clone());
    export_active_key(ledger, host.held_keys(), sw.to.as_ref());
    ledger.metrics.validator_key_switches.inc();
    tracing::info!(target: "jialing::consensus", height = sw.height, from = %hex(&sw.from), to = %hex(&sw.to), ms = started.elapsed().as_millis() as u64, "validator key switched: the engine signs with the new key from this height");
    Ok(channels)
}

/// Reads `validator_keys` from the config file at `path` again (the host calls it
/// when the validator set changes).
fn config_key_source(path: PathBuf) -> host::KeySource {
    Box::new(move || {
        let cfg = NodeConfig::load(&path).map_err(|e| e.to_string())?;
        cfg.validator_keys
            .iter()
            .map(|p| jialing_genesis::keyfile::read(p).map_err(|e| format!("validator key file {}: {e}", p.display())))
            .collect()
    })
}

/// How long a key switch may wait for the old engine to stop and release its log.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits until the write-ahead log at `path` can be opened: the stopped engine's log
/// thread releases its exclusive lock on the file moments after the engine stops.
async fn wait_for_wal(path: &std::path::Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match malachitebft_wal::Log::open(path) {
            Ok(log) => {
                drop(log);
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                anyhow::bail!(
                    "the consensus write-ahead log {} is still held {timeout:?} after the engine stopped: {e}",
                    path.display()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// Records the held keys and the active one on the ledger (`/status`, metrics).
fn export_active_key(ledger: &Ledger, keys: &[Keypair], active: Option<&Keypair>) {
    let held: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
    ledger.set_validator_keys(&held, active.map(Keypair::public));
}

fn bytesize_mib(n: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::mib(n)
}
