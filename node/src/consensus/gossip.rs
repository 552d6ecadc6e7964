//! Transaction gossip over libp2p: every transaction a node accepts into its mempool is
//! published, in batches, on the chain's gossipsub topic, and every node checks what it
//! receives exactly as an API submission (signature, membership, nonce) before it enters
//! its mempool.
//!
//! Only peers whose node key belongs to a current organisation may connect: others are
//! denied when the connection is established (after the Noise handshake has proved
//! their key), and the refusal is logged and counted. The allow list follows the
//! ledger: [`PeerUpdate`]s from the membership guard admit new node keys and cut off
//! removed ones at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use jialing_core::{PublicKey, SignedTransaction};
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent, dial_opts::DialOpts};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, identity, noise, tcp, yamux};
use tokio::sync::mpsc;

use crate::app::Ledger;

/// Most transactions in one gossip message.
const MAX_BATCH_TXS: usize = 2000;
/// Most bytes in one gossip message.
const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    gossipsub: gossipsub::Behaviour,
}

/// A change to who may connect, sent by the membership guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerUpdate {
    /// The peer's node key now belongs to a current organisation.
    Allow(PeerId),
    /// It no longer does: close its connections and refuse it from now on.
    Disallow(PeerId),
}

/// Sends [`PeerUpdate`]s to the running gossip swarm.
pub type GossipControl = mpsc::UnboundedSender<PeerUpdate>;

/// The libp2p peer id of an organisation node key.
pub fn peer_id(key: &PublicKey) -> anyhow::Result<PeerId> {
    let pk = identity::ed25519::PublicKey::try_from_bytes(&key.0).context("node key is not an ed25519 point")?;
    Ok(PeerId::from_public_key(&identity::PublicKey::from(pk)))
}

/// A libp2p keypair from a node key seed.
pub fn libp2p_keypair(seed: [u8; 32]) -> anyhow::Result<identity::Keypair> {
    let mut s = seed;
    identity::Keypair::ed25519_from_bytes(&mut s).context("node key seed")
}

/// A TCP multiaddr for a socket address.
pub fn tcp_addr(a: SocketAddr) -> Multiaddr {
    let ip = match a.ip() {
        std::net::IpAddr::V4(v) => Protocol::Ip4(v),
        std::net::IpAddr::V6(v) => Protocol::Ip6(v),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(a.port()))
}

/// Starts the gossip swarm on `listen`, dialing those of `peers` (their gossip
/// addresses) that are allowed and admitting only `allowed` peer ids; the returned
/// control changes the allow list. Runs until the process ends.
pub fn start(
    ledger: Arc<Ledger>,
    keypair: identity::Keypair,
    listen: SocketAddr,
    peers: Vec<(PeerId, SocketAddr)>,
    mut allowed: BTreeSet<PeerId>,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, GossipControl)> {
    let topic = IdentTopic::new(format!("jialing/{}/txs/1", ledger.chain_id));
    let gs_cfg = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        .max_transmit_size(MAX_BATCH_BYTES + 64 * 1024)
        .mesh_n_low(1)
        .mesh_n(4)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .heartbeat_interval(Duration::from_millis(500))
        .message_id_fn(|m| gossipsub::MessageId::from(jialing_core::sha256(&m.data).0.to_vec()))
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
    let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Signed(keypair.clone()), gs_cfg)
        .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
    gossipsub.subscribe(&topic).context("subscribing to the transaction topic")?;
    let mut allow = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
    for p in &allowed {
        allow.allow_peer(*p);
    }
    let mut swarm: Swarm<Behaviour> = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .context("building the gossip transport")?
        .with_behaviour(|_| Behaviour { allow, gossipsub })
        .map_err(|e| anyhow::anyhow!("gossip behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.listen_on(tcp_addr(listen)).with_context(|| format!("listening for gossip on {listen}"))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<Vec<u8>>>();
    if ledger.gossip_out.set(tx).is_err() {
        anyhow::bail!("transaction gossip started twice");
    }
    let local = *swarm.local_peer_id();
    let (ctl_tx, mut ctl) = mpsc::unbounded_channel::<PeerUpdate>();
    let task = tokio::spawn(async move {
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        let mut flush = tokio::time::interval(Duration::from_millis(10));
        let mut batch: Vec<Arc<Vec<u8>>> = Vec::new();
        let mut batch_bytes = 0usize;
        loop {
            tokio::select! {
                _ = redial.tick() => {
                    for (p, a) in &peers {
                        if *p != local && allowed.contains(p) && !swarm.is_connected(p) {
                            let opts = DialOpts::peer_id(*p).addresses(vec![tcp_addr(*a)]).build();
                            let _ = swarm.dial(opts);
                        }
                    }
                }
                Some(bytes) = rx.recv() => {
                    batch_bytes += bytes.len();
                    batch.push(bytes);
                    if batch.len() >= MAX_BATCH_TXS || batch_bytes >= MAX_BATCH_BYTES {
                        publish(&mut swarm, &topic, &ledger, &mut batch);
                        batch_bytes = 0;
                    }
                }
                _ = flush.tick() => {
                    if !batch.is_empty() {
                        publish(&mut swarm, &topic, &ledger, &mut batch);
                        batch_bytes = 0;
                    }
                }
                Some(update) = ctl.recv() => match update {
                    PeerUpdate::Allow(p) => {
                        swarm.behaviour_mut().allow.allow_peer(p);
                        allowed.insert(p);
                    }
                    PeerUpdate::Disallow(p) => {
                        // Closes its open connections too.
                        swarm.behaviour_mut().allow.disallow_peer(p);
                        allowed.remove(&p);
                    }
                },
                ev = swarm.select_next_some() => on_event(ev, &mut swarm, &ledger, &allowed),
            }
        }
    });
    Ok((task, ctl_tx))
}

fn publish(swarm: &mut Swarm<Behaviour>, topic: &IdentTopic, ledger: &Ledger, batch: &mut Vec<Arc<Vec<u8>>>) {
    let txs: Vec<Vec<u8>> = batch.drain(..).map(|b| (*b).clone()).collect();
    let n = txs.len();
    let data = jialing_core::encoding::encode(&txs);
    match swarm.behaviour_mut().gossipsub.publish(topic.clone(), data) {
        Ok(_) => {
            ledger.metrics.gossip_txs_out.inc_by(n as u64);
        }
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
        Err(e) => tracing::debug!(target: "jialing::gossip", error = %e, txs = n, "gossip publish failed"),
    }
}

fn on_event(
    ev: SwarmEvent<BehaviourEvent>,
    swarm: &mut Swarm<Behaviour>,
    ledger: &Arc<Ledger>,
    allowed: &BTreeSet<PeerId>,
) {
    match ev {
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message,
            ..
        })) => {
            let txs: Vec<Vec<u8>> = match jialing_core::encoding::decode_limited(
                "gossiped transactions",
                &message.data,
                MAX_BATCH_BYTES + 64 * 1024,
            ) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(target: "jialing::gossip", peer = %propagation_source, error = %e, "undecodable gossip message");
                    return;
                }
            };
            if txs.len() > MAX_BATCH_TXS {
                tracing::warn!(target: "jialing::gossip", peer = %propagation_source, txs = txs.len(), "oversized gossip batch dropped");
                return;
            }
            ledger.metrics.gossip_txs_in.inc_by(txs.len() as u64);
            let decoded: Vec<_> = txs
                .into_iter()
                .filter_map(|b| SignedTransaction::decode(&b).ok().map(|(stx, h)| (stx, h, b)))
                .collect();
            let ledger = ledger.clone();
            tokio::task::spawn_blocking(move || {
                let _ = ledger.submit_from_peer(decoded);
            });
        }
        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
            ledger.metrics.gossip_peers.set(swarm.connected_peers().count() as i64);
            tracing::debug!(target: "jialing::gossip", peer = %peer_id, "gossip peer connected");
        }
        SwarmEvent::ConnectionClosed { .. } => {
            ledger.metrics.gossip_peers.set(swarm.connected_peers().count() as i64);
        }
        SwarmEvent::IncomingConnectionError { send_back_addr, error, peer_id, .. } => {
            let denied = matches!(&error, libp2p::swarm::ListenError::Denied { .. });
            if denied || peer_id.is_some_and(|p| !allowed.contains(&p)) {
                ledger.metrics.peers_refused.inc();
                let peer = peer_id.map(|p| p.to_string()).unwrap_or_default();
                tracing::warn!(target: "jialing::p2p", %peer, remote = %send_back_addr, "refused a peer at the handshake: its key is not a node key of a current member organisation");
            }
        }
        _ => {}
    }
}
