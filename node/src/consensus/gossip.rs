//! Transaction dissemination over libp2p: every transaction a node accepts from its API
//! is pushed, in batches, straight to every connected peer, and each peer answers with
//! one verdict per transaction once it has checked it (signature, membership, nonce)
//! exactly as an API submission and put it in its mempool. Proposals name the
//! transactions peers already hold ([`super::compact`]); a validator that lacks some
//! fetches them from the proposer over the same protocol.
//!
//! Why a push with acknowledgements and not gossipsub (docs/adr/0004-tx-dissemination.md):
//! gossipsub drops a message when a peer's send queue is full, so an accepted
//! transaction could silently miss a validator, which then met it first inside a
//! proposal and verified it on the critical path. Here nothing is dropped between
//! connected peers:
//! - each peer has a bounded outbound queue and at most [`WINDOW`] batches in flight;
//!   a batch that is not full waits until the peer answered the previous ones, so
//!   batches grow with the load ([`may_send`]);
//! - a peer whose mempool is full answers `Retry` for those transactions: they go back
//!   to the head of its queue and are sent again after a pause;
//! - when the queues of more than `f` connected peers (a third of the nodes, rounded
//!   down) hold `push_queue_bytes` or more, the API refuses new submissions with
//!   `overloaded` and `Retry-After` (see [`TxOut::overloaded`]): the client, not the
//!   network, holds the excess. Up to `f` slow peers do not hold everyone back: a peer
//!   whose queue reaches twice the bound is lagging, and its queue is dropped;
//! - a peer that is not connected, or does not answer within [`REQUEST_TIMEOUT`], gets
//!   no queue either. Transactions dropped for a peer are counted in
//!   `jialing_gossip_txs_dropped_total`; the peer gets them by fetching them when it
//!   meets a proposal that names them, or by sync. No accepted transaction is lost:
//!   the accepting node holds it in its mempool and proposes it in its turn.
//!
//! A node pushes only what its own API accepted: the network is a full mesh of the
//! configured peers (the consortium's nodes), so relaying would only send duplicates.
//!
//! Only peers whose node key belongs to a current organisation may connect: others are
//! denied when the connection is established (after the Noise handshake has proved
//! their key), and the refusal is logged and counted. The allow list follows the
//! ledger: [`PeerUpdate`]s from the membership guard admit new node keys and cut off
//! removed ones at once.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, PublicKey, SignedTransaction, TxHash, encoding};
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent, dial_opts::DialOpts};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

use crate::app::{Ledger, SubmitError};
use crate::mempool::MempoolError;

/// Most transactions in one push.
pub const MAX_BATCH_TXS: usize = 2000;
/// Most transaction bytes in one push.
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// Most bytes of one protocol message: a push, or a fetch answer of at most one
/// block's transactions.
const MAX_MESSAGE: usize = jialing_core::block::MAX_ENCODED_BLOCK;
/// Pushes in flight to one peer: the next waits for an answer.
pub const WINDOW: usize = 4;
/// A peer that does not answer a request within this long is treated as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before transactions a peer asked to retry are sent again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Times one transaction is offered to one peer before it is dropped for that peer.
const MAX_ATTEMPTS: u16 = 400;
/// Pushes from peers queued for checking at once; more are answered `Retry`.
const MAX_INBOUND: usize = 64;

/// Whether another push may leave for a peer with `inflight` pushes unanswered and
/// `queued` transactions (`queued_bytes`) waiting, when a push holds at most
/// `batch_bytes`.
///
/// Up to [`WINDOW`] full batches may be in flight, but a batch that is not full leaves
/// only when nothing is: while one push is out, what arrives gathers into the next,
/// which leaves when the answer comes (or once it is full). The batch size then follows
/// the load with no timer to tune: a lone transaction leaves at once, and at a steady
/// rate each push carries what arrived during one round trip to the peer, not the few
/// transactions of one API request. Every push costs a stream, a frame, an answer and a
/// wakeup on both sides whatever it carries; with the window filled by small pushes, a
/// validator spent twice the CPU per transaction on libp2p at half of the network's
/// capacity as under a backlog (ADR 0009).
fn may_send(inflight: usize, queued: usize, queued_bytes: usize, batch_bytes: usize) -> bool {
    let full = queued >= MAX_BATCH_TXS || queued_bytes >= batch_bytes;
    queued > 0 && inflight < WINDOW && (inflight == 0 || full)
}

/// A request of the transaction protocol.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub enum TxRequest {
    /// Transactions the sender's API accepted, for the receiver's mempool.
    Push(Vec<Vec<u8>>),
    /// The receiver's committed height (an idle node asks, so that it does not hold
    /// back while its peers are ahead).
    Tip,
    /// The transactions at these positions of a block the receiver proposed or holds.
    Fetch {
        /// The block's header hash.
        block: Hash,
        /// Positions in the block, ascending.
        indexes: Vec<u32>,
    },
}

/// What a peer did with one pushed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Verdict {
    /// In its mempool now (or already, or already committed).
    Taken,
    /// Not now (its mempool or the signer's share is full, or the nonce is ahead of
    /// what it has committed): send it again later.
    Retry,
    /// Never (bad signature, not a member, wrong chain, used nonce).
    Refused,
}

/// An answer of the transaction protocol.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub enum TxResponse {
    /// One verdict per pushed transaction, in order.
    Pushed(Vec<Verdict>),
    /// The transactions asked for, in the order asked.
    Fetched(Vec<Vec<u8>>),
    /// The receiver does not hold that block (or a position is out of range).
    Unknown,
    /// The receiver's committed height.
    Tip(u64),
}

/// Length-prefixed (u32, little-endian) canonical encoding, bounded by [`MAX_MESSAGE`].
#[derive(Clone, Default)]
pub struct TxCodec;

async fn read_frame<T: AsyncRead + Unpin + Send, M: BorshDeserialize>(io: &mut T) -> std::io::Result<M> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("transaction protocol message of {len} bytes is over the {MAX_MESSAGE}-byte bound"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    encoding::decode_limited("transaction protocol message", &buf, MAX_MESSAGE)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

async fn write_frame<T: AsyncWrite + Unpin + Send, M: BorshSerialize>(io: &mut T, m: &M) -> std::io::Result<()> {
    let bytes = encoding::encode(m);
    let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("message too large"))?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

#[async_trait]
impl request_response::Codec for TxCodec {
    type Protocol = StreamProtocol;
    type Request = TxRequest;
    type Response = TxResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<TxRequest> {
        read_frame(io).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<TxResponse> {
        read_frame(io).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: TxRequest,
    ) -> std::io::Result<()> {
        write_frame(io, &req).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: TxResponse,
    ) -> std::io::Result<()> {
        write_frame(io, &res).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    txs: request_response::Behaviour<TxCodec>,
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

/// A request for transactions of a proposed block, sent by the consensus host.
pub struct FetchCmd {
    /// Who to ask (the proposal's publisher).
    pub peer: PeerId,
    /// The block's header hash.
    pub block: Hash,
    /// Positions wanted, ascending.
    pub indexes: Vec<u32>,
    /// Where the answer goes: the encoded transactions, in the order asked.
    pub reply: oneshot::Sender<Result<Vec<Vec<u8>>, String>>,
}

/// The API side of dissemination: where accepted transactions go, and how full the
/// outbound queues are.
pub struct TxOut {
    send: mpsc::UnboundedSender<(TxHash, Arc<Vec<u8>>)>,
    /// See [`Unacked`].
    unacked: Unacked,
    /// Bytes sent to the swarm task and not yet queued for peers.
    in_channel: Arc<AtomicUsize>,
    /// Largest outbound queue (bytes) among connected peers.
    backlog: Arc<AtomicUsize>,
    limit: usize,
    /// Connected peers.
    connected: Arc<AtomicUsize>,
    /// The highest committed height a peer reported.
    peers_tip: Arc<AtomicU64>,
    /// A full node proposes nothing: what it accepts must reach a peer.
    relay_only: bool,
    /// Asks peers for the transactions of a proposal.
    pub fetch: mpsc::UnboundedSender<FetchCmd>,
}

impl TxOut {
    /// Whether the API must refuse new submissions now: the outbound queue of some
    /// connected peer (plus what is on its way to the queues) holds `limit` bytes or
    /// more. Returns the backlog in bytes when it does.
    pub fn overloaded(&self) -> Option<usize> {
        let b = self.backlog.load(Ordering::Relaxed) + self.in_channel.load(Ordering::Relaxed);
        (b >= self.limit).then_some(b)
    }

    /// Records a peer's committed height as an answer to [`TxRequest::Tip`] would (tests).
    #[cfg(test)]
    pub fn saw_peer_tip(&self, h: u64) {
        self.peers_tip.fetch_max(h, Ordering::Relaxed);
    }

    /// The highest committed height a connected peer reported (asked every second).
    pub fn peers_tip(&self) -> u64 {
        self.peers_tip.load(Ordering::Relaxed)
    }

    /// Whether this is a full node with no connected peer: what it accepted would wait
    /// in its own pool, which no block is built from.
    pub fn cut_off(&self) -> bool {
        self.relay_only && self.connected.load(Ordering::Relaxed) == 0
    }

    /// A `TxOut` with no swarm behind it (tests): what the API hands over and the
    /// host's fetches arrive on the returned receivers; nothing leaves the queue, so
    /// the backlog is what was handed over.
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub fn detached(
        limit: usize,
    ) -> (Self, mpsc::UnboundedReceiver<(TxHash, Arc<Vec<u8>>)>, mpsc::UnboundedReceiver<FetchCmd>) {
        let (send, rx) = mpsc::unbounded_channel();
        let (fetch, fetch_rx) = mpsc::unbounded_channel();
        let out = TxOut {
            send,
            unacked: Arc::new(Mutex::new(HashMap::new())),
            in_channel: Arc::new(AtomicUsize::new(0)),
            backlog: Arc::new(AtomicUsize::new(0)),
            limit,
            connected: Arc::new(AtomicUsize::new(1)),
            peers_tip: Arc::new(AtomicU64::new(0)),
            relay_only: false,
            fetch,
        };
        (out, rx, fetch_rx)
    }

    /// The bound on a peer's outbound queue, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Hands an accepted transaction to the swarm task.
    pub fn send(&self, hash: TxHash, bytes: Arc<Vec<u8>>) {
        self.in_channel.fetch_add(bytes.len(), Ordering::Relaxed);
        // Owed to every peer until the swarm task has queued it (and then per peer).
        self.unacked.lock().unwrap_or_else(|p| p.into_inner()).insert(hash, u16::MAX);
        let _ = self.send.send((hash, bytes));
    }

    /// Whether some connected peer may not hold `hash` yet (this node's push of it is
    /// not answered by every peer).
    pub fn unacked(&self, hash: &TxHash) -> bool {
        self.unacked.lock().unwrap_or_else(|p| p.into_inner()).contains_key(hash)
    }
}

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

/// One transaction owed to one peer.
struct Item {
    bytes: Arc<Vec<u8>>,
    /// Set for a transaction this node's API accepted: counted in [`Unacked`] until
    /// this peer answered for it.
    tracked: Option<TxHash>,
    attempts: u16,
}

/// Transactions this node's API accepted that some connected peer has not answered
/// for yet, with how many peers still owe an answer: a proposal carries their bodies
/// (see [`super::compact`]).
pub type Unacked = Arc<Mutex<HashMap<TxHash, u16>>>;

fn release(unacked: &Unacked, items: impl IntoIterator<Item = Option<TxHash>>) {
    let mut m = unacked.lock().unwrap_or_else(|p| p.into_inner());
    for h in items.into_iter().flatten() {
        if let Some(n) = m.get_mut(&h) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&h);
            }
        }
    }
}

/// What one peer is owed.
#[derive(Default)]
struct PeerOut {
    queue: VecDeque<Item>,
    bytes: usize,
    inflight: usize,
    connected: bool,
    pause_until: Option<Instant>,
}

impl PeerOut {
    /// Empties the queue; returns the tracked hashes it held.
    fn clear(&mut self) -> Vec<Option<TxHash>> {
        self.bytes = 0;
        self.queue.drain(..).map(|i| i.tracked).collect()
    }
}

enum Pending {
    Tip,
    Push(PeerId, Vec<Item>),
    Fetch(oneshot::Sender<Result<Vec<Vec<u8>>, String>>),
}

struct Net {
    swarm: Swarm<Behaviour>,
    ledger: Arc<Ledger>,
    peers: BTreeMap<PeerId, PeerOut>,
    pending: BTreeMap<OutboundRequestId, Pending>,
    in_channel: Arc<AtomicUsize>,
    backlog: Arc<AtomicUsize>,
    inbound: usize,
    /// Where pushes go to be checked.
    checker: mpsc::UnboundedSender<Push>,
    /// See [`Unacked`].
    unacked: Unacked,
    /// Connected peers, for [`TxOut::cut_off`].
    connected: Arc<AtomicUsize>,
    /// For [`TxOut::peers_tip`].
    peers_tip: Arc<AtomicU64>,
    /// The queue bound (`consensus.push_queue_bytes`).
    limit: usize,
    /// Batch size bound: the smaller of [`MAX_BATCH_BYTES`] and half the queue bound.
    batch_bytes: usize,
    /// Lagging peers that do not hold the API back: a third of the nodes, rounded down.
    tolerated: usize,
}

/// Starts the transaction swarm on `listen`, dialing those of `peers` (their gossip
/// addresses) that are allowed and admitting only `allowed` peer ids. A peer's
/// outbound queue is bounded by `queue_bytes`, past which the API answers
/// `overloaded`. The returned control changes the allow list. Runs until the process
/// ends.
pub fn start(
    ledger: Arc<Ledger>,
    keypair: identity::Keypair,
    listen: SocketAddr,
    peers: Vec<(PeerId, SocketAddr)>,
    mut allowed: BTreeSet<PeerId>,
    queue_bytes: usize,
    relay_only: bool,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, GossipControl)> {
    let protocol = StreamProtocol::try_from_owned(format!("/jialing/{}/txs/2", ledger.chain_id))
        .map_err(|e| anyhow::anyhow!("transaction protocol name: {e}"))?;
    let rr_cfg = request_response::Config::default()
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_max_concurrent_streams(4 * WINDOW);
    let txs = request_response::Behaviour::with_codec(TxCodec, [(protocol, ProtocolSupport::Full)], rr_cfg);
    let mut allow = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
    for p in &allowed {
        allow.allow_peer(*p);
    }
    let mut swarm: Swarm<Behaviour> = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .context("building the transaction transport")?
        .with_behaviour(|_| Behaviour { allow, txs })
        .map_err(|e| anyhow::anyhow!("transaction behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm.listen_on(tcp_addr(listen)).with_context(|| format!("listening for transactions on {listen}"))?;

    let (tx, mut rx) = mpsc::unbounded_channel::<(TxHash, Arc<Vec<u8>>)>();
    let unacked: Unacked = Arc::new(Mutex::new(HashMap::new()));
    let (fetch_tx, mut fetch_rx) = mpsc::unbounded_channel::<FetchCmd>();
    let in_channel = Arc::new(AtomicUsize::new(0));
    let backlog = Arc::new(AtomicUsize::new(0));
    let connected = Arc::new(AtomicUsize::new(0));
    let peers_tip = Arc::new(AtomicU64::new(0));
    let out = TxOut {
        send: tx,
        unacked: unacked.clone(),
        in_channel: in_channel.clone(),
        backlog: backlog.clone(),
        limit: queue_bytes,
        connected: connected.clone(),
        peers_tip: peers_tip.clone(),
        relay_only,
        fetch: fetch_tx,
    };
    if ledger.gossip_out.set(out).is_err() {
        anyhow::bail!("transaction gossip started twice");
    }
    let local = *swarm.local_peer_id();
    let (ctl_tx, mut ctl) = mpsc::unbounded_channel::<PeerUpdate>();
    let (answers_tx, mut answers) = mpsc::unbounded_channel::<(ResponseChannel<TxResponse>, TxResponse)>();
    let (checker_tx, checker_rx) = mpsc::unbounded_channel::<Push>();
    {
        let (ledger, answers) = (ledger.clone(), answers_tx.clone());
        std::thread::Builder::new()
            .name("tx-push-check".into())
            .spawn(move || check_pushes(ledger, checker_rx, answers))
            .context("starting the push checker thread")?;
    }
    let mut net = Net {
        swarm,
        ledger,
        peers: BTreeMap::new(),
        pending: BTreeMap::new(),
        in_channel,
        backlog,
        inbound: 0,
        checker: checker_tx,
        unacked,
        connected,
        peers_tip,
        limit: queue_bytes,
        batch_bytes: MAX_BATCH_BYTES.min(queue_bytes / 2).max(1),
        tolerated: peers.len() / 3,
    };
    let task = tokio::spawn(async move {
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        let mut resume = tokio::time::interval(RETRY_PAUSE);
        let mut ask_tips = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = redial.tick() => {
                    for (p, a) in &peers {
                        if *p != local && allowed.contains(p) && !net.swarm.is_connected(p) {
                            let opts = DialOpts::peer_id(*p).addresses(vec![tcp_addr(*a)]).build();
                            let _ = net.swarm.dial(opts);
                        }
                    }
                }
                _ = resume.tick() => net.send_all(),
                _ = ask_tips.tick() => net.ask_tips(),
                Some(bytes) = rx.recv() => {
                    net.enqueue(bytes);
                    // Take whatever else is waiting before sending: batches form under load.
                    while let Ok(b) = rx.try_recv() {
                        net.enqueue(b);
                    }
                    net.send_all();
                }
                Some(cmd) = fetch_rx.recv() => net.fetch(cmd),
                Some((ch, res)) = answers.recv() => {
                    net.inbound = net.inbound.saturating_sub(1);
                    let _ = net.swarm.behaviour_mut().txs.send_response(ch, res);
                }
                Some(update) = ctl.recv() => match update {
                    PeerUpdate::Allow(p) => {
                        net.swarm.behaviour_mut().allow.allow_peer(p);
                        allowed.insert(p);
                    }
                    PeerUpdate::Disallow(p) => {
                        // Closes its open connections too.
                        net.swarm.behaviour_mut().allow.disallow_peer(p);
                        allowed.remove(&p);
                        net.peers.remove(&p);
                    }
                },
                ev = net.swarm.select_next_some() => net.on_event(ev, &allowed),
            }
        }
    });
    Ok((task, ctl_tx))
}

impl Net {
    /// Queues an accepted transaction for every connected peer.
    fn enqueue(&mut self, (hash, bytes): (TxHash, Arc<Vec<u8>>)) {
        self.in_channel.fetch_sub(bytes.len(), Ordering::Relaxed);
        let mut owed = 0u16;
        for out in self.peers.values_mut().filter(|o| o.connected) {
            out.bytes += bytes.len();
            out.queue.push_back(Item { bytes: bytes.clone(), tracked: Some(hash), attempts: 0 });
            owed += 1;
        }
        let mut m = self.unacked.lock().unwrap_or_else(|p| p.into_inner());
        if owed > 0 {
            m.insert(hash, owed);
        } else {
            m.remove(&hash);
        }
    }

    /// Sends what the window allows to every peer, and publishes the backlog: the
    /// queue of the `f + 1`-th slowest connected peer, where `f` is how many of the
    /// network's nodes may fail (a third, rounded down). Up to `f` lagging peers do not
    /// hold the API back; a lagging peer's queue is dropped at twice the bound (it
    /// fetches what it misses from proposals).
    fn send_all(&mut self) {
        let now = Instant::now();
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for p in ids {
            self.send_to(p, now);
        }
        let mut queues: Vec<usize> = self.peers.values().filter(|o| o.connected).map(|o| o.bytes).collect();
        queues.sort_unstable_by(|a, b| b.cmp(a));
        let signal = queues.get(self.tolerated).copied().unwrap_or(0);
        self.backlog.store(signal, Ordering::Relaxed);
        self.ledger.metrics.gossip_backlog_bytes.set(signal as i64);
        let lagging: Vec<PeerId> =
            self.peers.iter().filter(|(_, o)| o.connected && o.bytes >= 2 * self.limit).map(|(p, _)| *p).collect();
        for p in lagging {
            self.unreachable(p, "lagging: its queue is twice the bound");
        }
    }

    fn send_to(&mut self, p: PeerId, now: Instant) {
        let Some(out) = self.peers.get_mut(&p) else { return };
        if out.pause_until.is_some_and(|t| t > now) {
            return;
        }
        out.pause_until = None;
        while out.connected && may_send(out.inflight, out.queue.len(), out.bytes, self.batch_bytes) {
            let mut batch = Vec::new();
            let mut bytes = 0;
            while let Some(item) = out.queue.front() {
                let len = item.bytes.len();
                if !batch.is_empty() && (batch.len() >= MAX_BATCH_TXS || bytes + len > self.batch_bytes) {
                    break;
                }
                bytes += len;
                if let Some(item) = out.queue.pop_front() {
                    batch.push(item);
                }
            }
            out.bytes = out.bytes.saturating_sub(bytes);
            out.inflight += 1;
            let txs: Vec<Vec<u8>> = batch.iter().map(|i| (*i.bytes).clone()).collect();
            self.ledger.metrics.gossip_txs_out.inc_by(txs.len() as u64);
            self.ledger.metrics.gossip_bytes_out.inc_by(bytes as u64);
            let id = self.swarm.behaviour_mut().txs.send_request(&p, TxRequest::Push(txs));
            self.pending.insert(id, Pending::Push(p, batch));
        }
    }

    /// Asks every connected peer for its committed height.
    fn ask_tips(&mut self) {
        let connected: Vec<PeerId> = self.peers.iter().filter(|(_, o)| o.connected).map(|(p, _)| *p).collect();
        for p in connected {
            let id = self.swarm.behaviour_mut().txs.send_request(&p, TxRequest::Tip);
            self.pending.insert(id, Pending::Tip);
        }
    }

    fn fetch(&mut self, cmd: FetchCmd) {
        let id = self
            .swarm
            .behaviour_mut()
            .txs
            .send_request(&cmd.peer, TxRequest::Fetch { block: cmd.block, indexes: cmd.indexes });
        self.pending.insert(id, Pending::Fetch(cmd.reply));
    }

    /// A push was answered: transactions to retry go back to the head of the queue.
    fn pushed(&mut self, p: PeerId, batch: Vec<Item>, verdicts: Vec<Verdict>) {
        let Some(out) = self.peers.get_mut(&p) else {
            release(&self.unacked, batch.into_iter().map(|i| i.tracked));
            return;
        };
        out.inflight = out.inflight.saturating_sub(1);
        if verdicts.len() != batch.len() {
            tracing::warn!(target: "jialing::gossip", peer = %p, sent = batch.len(), verdicts = verdicts.len(), "peer answered a push with the wrong number of verdicts; treating it as unreachable");
            release(&self.unacked, batch.into_iter().map(|i| i.tracked));
            self.unreachable(p, "wrong number of verdicts");
            return;
        }
        let mut retry: Vec<Item> = Vec::new();
        let mut answered = Vec::new();
        let mut dropped = 0u64;
        for (mut item, v) in batch.into_iter().zip(verdicts) {
            match v {
                Verdict::Taken | Verdict::Refused => answered.push(item.tracked),
                Verdict::Retry if item.attempts + 1 >= MAX_ATTEMPTS => {
                    dropped += 1;
                    answered.push(item.tracked);
                }
                Verdict::Retry => {
                    item.attempts += 1;
                    retry.push(item);
                }
            }
        }
        release(&self.unacked, answered);
        if dropped > 0 {
            self.ledger.metrics.gossip_txs_dropped.inc_by(dropped);
            tracing::warn!(target: "jialing::gossip", peer = %p, txs = dropped, "peer kept refusing transactions as full; gave up on them for this peer");
        }
        if !retry.is_empty() {
            self.ledger.metrics.gossip_txs_retried.inc_by(retry.len() as u64);
            for item in retry.into_iter().rev() {
                out.bytes += item.bytes.len();
                out.queue.push_front(item);
            }
            out.pause_until = Some(Instant::now() + RETRY_PAUSE);
        }
        self.send_all();
    }

    /// A peer that cannot be reached gets no queue: see the module documentation.
    fn unreachable(&mut self, p: PeerId, why: &str) {
        if let Some(out) = self.peers.get_mut(&p) {
            let cleared = out.clear();
            let n = cleared.len();
            release(&self.unacked, cleared);
            if n > 0 {
                self.ledger.metrics.gossip_txs_dropped.inc_by(n as u64);
                tracing::warn!(target: "jialing::gossip", peer = %p, txs = n, reason = why, "peer unreachable: its queued transactions are dropped (it fetches what it misses from proposals)");
            }
        }
        self.send_all();
    }

    fn on_event(&mut self, ev: SwarmEvent<BehaviourEvent>, allowed: &BTreeSet<PeerId>) {
        match ev {
            SwarmEvent::Behaviour(BehaviourEvent::Txs(e)) => self.on_txs(e),
            SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
                let out = self.peers.entry(peer_id).or_default();
                out.connected = true;
                if num_established.get() == 1 {
                    // What this node holds from before the connection: the peer has
                    // missed it (it answers `Taken` for what it already has).
                    let pending = self.ledger.mempool.lock().unwrap_or_else(|p| p.into_inner()).pending_bytes();
                    for bytes in pending {
                        out.bytes += bytes.len();
                        out.queue.push_back(Item { bytes, tracked: None, attempts: 0 });
                    }
                    self.send_all();
                }
                let n = self.swarm.connected_peers().count();
                self.connected.store(n, Ordering::Relaxed);
                self.ledger.metrics.gossip_peers.set(n as i64);
                tracing::debug!(target: "jialing::gossip", peer = %peer_id, "transaction peer connected");
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                if num_established == 0 {
                    if let Some(out) = self.peers.get_mut(&peer_id) {
                        out.connected = false;
                        out.inflight = 0;
                    }
                    self.unreachable(peer_id, "disconnected");
                }
                let n = self.swarm.connected_peers().count();
                self.connected.store(n, Ordering::Relaxed);
                self.ledger.metrics.gossip_peers.set(n as i64);
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, peer_id, .. } => {
                let denied = matches!(&error, libp2p::swarm::ListenError::Denied { .. });
                if denied || peer_id.is_some_and(|p| !allowed.contains(&p)) {
                    self.ledger.metrics.peers_refused.inc();
                    let peer = peer_id.map(|p| p.to_string()).unwrap_or_default();
                    tracing::warn!(target: "jialing::p2p", %peer, remote = %send_back_addr, "refused a peer at the handshake: its key is not a node key of a current member organisation");
                }
            }
            _ => {}
        }
    }

    fn on_txs(&mut self, e: request_response::Event<TxRequest, TxResponse>) {
        use request_response::{Event, Message};
        match e {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => match request {
                TxRequest::Push(txs) => self.on_push(peer, txs, channel),
                TxRequest::Tip => {
                    let tip =
                        self.ledger.tip.read().map(|t| t.header.height).unwrap_or_else(|p| p.get_ref().header.height);
                    let _ = self.swarm.behaviour_mut().txs.send_response(channel, TxResponse::Tip(tip));
                }
                TxRequest::Fetch { block, indexes } => {
                    let res = serve_fetch(&self.ledger, &block, &indexes);
                    let _ = self.swarm.behaviour_mut().txs.send_response(channel, res);
                }
            },
            Event::Message { peer, message: Message::Response { request_id, response }, .. } => {
                match (self.pending.remove(&request_id), response) {
                    (Some(Pending::Tip), TxResponse::Tip(h)) => {
                        self.peers_tip.fetch_max(h, Ordering::Relaxed);
                    }
                    (Some(Pending::Tip), _) => {}
                    (Some(Pending::Push(p, batch)), TxResponse::Pushed(v)) => self.pushed(p, batch, v),
                    (Some(Pending::Push(p, batch)), _) => {
                        release(&self.unacked, batch.into_iter().map(|i| i.tracked));
                        if let Some(out) = self.peers.get_mut(&p) {
                            out.inflight = out.inflight.saturating_sub(1);
                        }
                        self.unreachable(p, "answered a push with something else");
                    }
                    (Some(Pending::Fetch(reply)), TxResponse::Fetched(txs)) => {
                        self.ledger.metrics.proposal_txs_fetched.inc_by(txs.len() as u64);
                        let _ = reply.send(Ok(txs));
                    }
                    (Some(Pending::Fetch(reply)), _) => {
                        let _ = reply.send(Err(format!("peer {peer} does not hold that block")));
                    }
                    (None, _) => {}
                }
            }
            Event::OutboundFailure { peer, request_id, error, .. } => match self.pending.remove(&request_id) {
                Some(Pending::Tip) => {}
                Some(Pending::Push(p, batch)) => {
                    release(&self.unacked, batch.into_iter().map(|i| i.tracked));
                    if let Some(out) = self.peers.get_mut(&p) {
                        out.inflight = out.inflight.saturating_sub(1);
                    }
                    self.unreachable(p, &error.to_string());
                }
                Some(Pending::Fetch(reply)) => {
                    let _ = reply.send(Err(format!("asking {peer}: {error}")));
                }
                None => {}
            },
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(target: "jialing::gossip", %peer, %error, "inbound transaction request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    /// Queues pushed transactions for the checker thread, which answers with one verdict
    /// each. Beyond [`MAX_INBOUND`] queued pushes (each peer has at most [`WINDOW`] in
    /// flight, so only many peers at once get there) the push is answered `Retry`.
    fn on_push(&mut self, peer: PeerId, txs: Vec<Vec<u8>>, channel: ResponseChannel<TxResponse>) {
        if txs.len() > MAX_BATCH_TXS || self.inbound >= MAX_INBOUND {
            let _ = self
                .swarm
                .behaviour_mut()
                .txs
                .send_response(channel, TxResponse::Pushed(vec![Verdict::Retry; txs.len()]));
            return;
        }
        self.inbound += 1;
        self.ledger.metrics.gossip_txs_in.inc_by(txs.len() as u64);
        let _ = self.checker.send(Push { peer, txs, channel });
    }
}

/// A push waiting for the checker thread.
struct Push {
    peer: PeerId,
    txs: Vec<Vec<u8>>,
    channel: ResponseChannel<TxResponse>,
}

/// Pushed transactions checked in one submission, at most: queued pushes are merged so
/// that their signatures are verified in one batch under one mempool lock.
const CHECK_TXS: usize = 4 * MAX_BATCH_TXS;

/// The checker thread: takes queued pushes in arrival order (merging what is waiting),
/// checks them as API submissions are checked, and sends one verdict per transaction
/// back to the network task.
fn check_pushes(
    ledger: Arc<Ledger>,
    mut pushes: mpsc::UnboundedReceiver<Push>,
    answers: mpsc::UnboundedSender<(ResponseChannel<TxResponse>, TxResponse)>,
) {
    while let Some(first) = pushes.blocking_recv() {
        let mut jobs = vec![first];
        let mut n = jobs[0].txs.len();
        while n < CHECK_TXS {
            match pushes.try_recv() {
                Ok(p) => {
                    n += p.txs.len();
                    jobs.push(p);
                }
                Err(_) => break,
            }
        }
        let mut decoded = Vec::with_capacity(n);
        let mut at = Vec::with_capacity(n);
        let mut verdicts: Vec<Vec<Verdict>> = Vec::with_capacity(jobs.len());
        let mut channels = Vec::with_capacity(jobs.len());
        // How many decoded transactions each push brought: a forged signature in one
        // push costs single checks in that push only.
        let mut parts = Vec::with_capacity(jobs.len());
        for (j, job) in jobs.into_iter().enumerate() {
            verdicts.push(vec![Verdict::Refused; job.txs.len()]);
            let before = decoded.len();
            let mut bad = 0;
            for (i, b) in job.txs.into_iter().enumerate() {
                match SignedTransaction::decode(&b) {
                    Ok((stx, h)) => {
                        decoded.push((stx, h, b));
                        at.push((j, i));
                    }
                    Err(_) => bad += 1,
                }
            }
            if bad > 0 {
                tracing::warn!(target: "jialing::gossip", peer = %job.peer, bad, "peer pushed undecodable transactions");
            }
            channels.push(job.channel);
            parts.push(decoded.len() - before);
        }
        for ((j, i), r) in at.into_iter().zip(ledger.submit_from_peers(decoded, &parts)) {
            verdicts[j][i] = verdict(&r);
        }
        for (channel, v) in channels.into_iter().zip(verdicts) {
            let _ = answers.send((channel, TxResponse::Pushed(v)));
        }
    }
}

/// The answer to a fetch: transactions of a block `ledger` holds (proposed or found
/// valid), by position.
pub fn serve_fetch(ledger: &Ledger, block: &Hash, indexes: &[u32]) -> TxResponse {
    let Some(b) = ledger.held_block(block) else { return TxResponse::Unknown };
    let mut out = Vec::with_capacity(indexes.len());
    for &i in indexes {
        match b.txs.get(i as usize) {
            Some(t) => out.push(encoding::encode(t)),
            None => return TxResponse::Unknown,
        }
    }
    TxResponse::Fetched(out)
}

/// The verdict a pusher gets for one submission result.
pub fn verdict(r: &Result<jialing_core::TxHash, SubmitError>) -> Verdict {
    use jialing_contracts::AdmissionError as A;
    match r {
        Ok(_) => Verdict::Taken,
        Err(SubmitError::Mempool(MempoolError::Duplicate(_))) | Err(SubmitError::Admission(A::Duplicate(_))) => {
            Verdict::Taken
        }
        Err(SubmitError::Mempool(
            MempoolError::Full { .. } | MempoolError::SignerLimit { .. } | MempoolError::NonceTooFar { .. },
        ))
        | Err(SubmitError::Overloaded { .. })
        | Err(SubmitError::Admission(A::Storage(_))) => Verdict::Retry,
        Err(_) => Verdict::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_batch_waits_for_the_answer_to_the_push_in_flight() {
        let b = MAX_BATCH_BYTES;
        // Nothing in flight: even one transaction leaves at once.
        assert!(may_send(0, 1, 300, b));
        // One push out: a few transactions wait for its answer and gather.
        assert!(!may_send(1, 50, 50 * 300, b));
        assert!(!may_send(1, MAX_BATCH_TXS - 1, 300, b));
        // A full batch (by count or by bytes) does not wait, up to the window.
        assert!(may_send(1, MAX_BATCH_TXS, 300, b));
        assert!(may_send(WINDOW - 1, 10, b, b));
        assert!(!may_send(WINDOW, MAX_BATCH_TXS, b, b));
        // Nothing queued: nothing to send.
        assert!(!may_send(0, 0, 0, b));
    }
}
