//! Multi-node BFT consensus: Malachite (`arc-malachitebft-app-channel`) as a library,
//! with Jialing's context ([`context`]), wire codec ([`codec`]), proposal streaming
//! ([`parts`]), the application host that drives the ledger ([`host`]) with its pure
//! bookkeeping ([`state`]), and
//! transaction gossip ([`gossip`]).
//!
//! Peers: only node keys of current organisations (read from the ledger state) are
//! admitted. Malachite runs with `persistent_peers_only`, its persistent peers being
//! exactly the configured peers whose key the ledger lists; anything else is refused
//! after the Noise handshake proves its key. The gossip swarm enforces the same list.

pub mod codec;
pub mod compact;
pub mod context;
pub mod gossip;
pub mod guard;
pub mod host;
pub mod parts;
pub mod sizing;
pub mod state;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use jialing_contracts::keys;
use jialing_contracts::membership::Organisation;
use jialing_core::{Keypair, PublicKey, Uscc, encoding};
use malachitebft_app::config::{ConsensusConfig as EngineConsensus, P2pConfig, ValuePayload, ValueSyncConfig};
use malachitebft_app::types::codec::Codec;
use malachitebft_app_channel::{
    ConsensusContext, EngineBuilder, EngineHandle, NetworkIdentity, RequestContext, SyncContext, WalContext,
};
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

/// A running consensus engine and its application host.
pub struct Running {
    /// The engine's actors.
    pub engine: EngineHandle,
    /// The host task: ends with an error if storage fails.
    pub host: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The gossip task.
    pub gossip: tokio::task::JoinHandle<()>,
}

/// Starts Malachite, the host and transaction gossip for `app`. `hook` is `None` on
/// every real node; tests pass one to run a Byzantine proposer.
pub async fn start(
    cfg: &NodeConfig,
    app: App,
    validator_key: Option<Keypair>,
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

    let validators = app.tip().validators;
    let validator_key = match validator_key {
        Some(k) if validators.get(&k.public()).is_none() => {
            tracing::warn!(target: "jialing::consensus", key = %k.public(), "the validator key is not in the current validator set: running as a full node");
            None
        }
        other => other,
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

    let ctx = Ctx { chain_id: chain_id.clone() };
    let codec = codec::WireCodec::with_preverifier(ledger.preverify.clone());
    let verifier = Box::new(ConsensusVerifier::new(chain_id.clone()));
    let (identity, consensus_ctx) = match &validator_key {
        Some(vk) => {
            let signer = ConsensusSigner::new(chain_id.clone(), vk.clone());
            let proof = signer
                .sign_validator_proof(vk.public().0.to_vec(), local_peer.to_bytes())
                .await
                .map_err(|e| anyhow::anyhow!("signing the validator proof: {e}"))?;
            let proof_bytes: Bytes = codec.encode(&proof)?;
            let address = Address(vk.public());
            (
                NetworkIdentity::new_validator(moniker.clone(), kp.clone(), address.to_string(), proof_bytes),
                ConsensusContext::new_validator(address, verifier, Box::new(signer)),
            )
        }
        None => (
            NetworkIdentity::new(moniker.clone(), kp.clone(), None),
            ConsensusContext::new_full_node(Address(node_key.public()), verifier),
        ),
    };
    let wal = cfg.data_dir.join("consensus").join("wal");
    // The network actor is spawned here, as the engine would, so that the membership
    // guard holds its handle and can add and remove persistent peers at runtime.
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
    let (channels, engine) = EngineBuilder::new(ctx, engine_cfg)
        .with_default_wal(WalContext::new(wal, codec.clone()))
        .with_custom_network(network.clone(), tx_network)
        .with_default_sync(SyncContext::new(codec))
        .with_default_consensus(consensus_ctx)
        .with_default_request(RequestContext::new(100))
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("starting the consensus engine: {e}"))?;
    tracing::info!(target: "jialing::consensus", peer_id = %local_peer, listen = %cfg.consensus.listen, peers = peers.len(), validator = validator_key.is_some(), "consensus engine started");

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
    .context("preparing the consensus directory")?;
    let host = match hook {
        Some(h) => {
            tracing::warn!(target: "jialing::consensus", "TESTING ONLY: this validator's proposals go through a test hook");
            host.with_proposal_hook(h)
        }
        None => host,
    };
    let host = tokio::spawn(async move { host.run(channels).await.map_err(anyhow::Error::from) });
    Ok(Running { engine, host, gossip: gossip_task })
}

fn bytesize_mib(n: u64) -> bytesize::ByteSize {
    bytesize::ByteSize::mib(n)
}
