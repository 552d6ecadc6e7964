//! Block proposals as streams of parts: splitting a block into `Init`, `Data` chunks and
//! a signed `Fin`, and reassembling streams that arrive out of order from the network.
//! Pure: no IO, tested below.
//!
//! What the reassembler holds is bounded, and no peer can spend another peer's share:
//! - a stream is keyed by (publisher, stream id); the stream id must name a height and
//!   round inside the [`Schedule`]'s window (the height being decided or the next one,
//!   rounds up to a few ahead), checked on the first message that arrives;
//! - the `Init` part must name the scheduled proposer of that height and round (the
//!   [`Ctx`] proposer selection over the current validator set), and the `Fin`
//!   signature must be that proposer's;
//! - each publisher holds at most `per_publisher` incomplete streams: a new one evicts
//!   that publisher's own oldest stream, never another publisher's; at most
//!   `max_publishers` publishers hold streams at once (a new publisher beyond that is
//!   refused, nobody is evicted);
//! - a stream is at most one block's size (plus framing) and is dropped as soon as it
//!   exceeds it.
//!
//! Which publishers may send at all (member nodes) is the host's check, before
//! [`PartsBuffer::insert`].

use std::collections::BTreeMap;

use jialing_core::crypto::Purpose;
use jialing_core::{Block, Hash, Keypair, PublicKey, encoding, sha256};
use malachitebft_engine::util::streaming::{StreamContent, StreamId, StreamMessage};

use super::compact::ProposalBody;
use super::context::{PartMessage, ProposalPart, ValidatorSet, parts_digest, scheduled_proposer};

/// Size of one `Data` chunk.
pub const CHUNK_BYTES: usize = 128 * 1024;

/// Heights beyond the one being decided for which streams are accepted (early
/// proposals, validated when their height starts).
pub const EARLY_HEIGHTS: u64 = 1;

/// Rounds beyond the current one for which streams are accepted.
pub const ROUND_WINDOW: u32 = 8;

/// Most bytes a stream id may have: the encoded (height, round), then at most 8 bytes
/// a publisher may use to tell its streams apart.
const MAX_STREAM_ID: usize = 20;

/// Why a proposal stream was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartError {
    /// The stream is malformed (order, kinds, sizes).
    #[error("malformed proposal stream: {0}")]
    Malformed(String),
    /// The proposer's signature over the parts does not verify.
    #[error("proposal stream signature from {0} does not verify")]
    BadSignature(PublicKey),
    /// The block inside does not decode or does not match the stream header.
    #[error("proposal stream block: {0}")]
    BadBlock(String),
    /// The stream is for a height or round this node does not accept now.
    #[error("proposal stream for height {height} round {round} is outside the accepted window")]
    OutOfWindow {
        /// Height named by the stream.
        height: u64,
        /// Round named by the stream.
        round: u32,
    },
    /// The stream's proposer is not the one scheduled for its height and round.
    #[error("proposal stream for height {height} round {round} names {claimed}, the scheduled proposer is {scheduled}")]
    NotProposer {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// The proposer named in `Init`.
        claimed: PublicKey,
        /// The scheduled proposer.
        scheduled: PublicKey,
    },
    /// A later part of a stream that was already dropped.
    #[error("part of a proposal stream already dropped")]
    Dropped,
    /// Too many publishers hold streams; this new one is refused.
    #[error("too many publishers hold incomplete proposal streams ({0}); stream refused")]
    Quota(usize),
}

/// A complete, signature-checked proposal stream: the block, whole or compact
/// ([`ProposalBody`]).
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Proof-of-lock round (-1 for none).
    pub pol_round: i64,
    /// The proposer, whose signature closed the stream.
    pub proposer: PublicKey,
    /// What the stream carried.
    pub body: ProposalBody,
}

/// A proposal with its whole block (an [`Incoming`] stream once rebuilt).
#[derive(Debug, Clone)]
pub struct Assembled {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Proof-of-lock round (-1 for none).
    pub pol_round: i64,
    /// The proposer, whose signature closed the stream.
    pub proposer: PublicKey,
    /// The block.
    pub block: Block,
}

/// Which streams a node accepts now: heights `height..=height + EARLY_HEIGHTS`, rounds
/// up to [`ROUND_WINDOW`] ahead of the current one, each from its scheduled proposer.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The height being decided (tip + 1).
    pub height: u64,
    /// The round this node is in at `height`.
    pub round: u32,
    /// The validator set deciding `height`. Early proposals for the next height are
    /// checked against it too (a set change takes effect one height later; the host
    /// checks them again when their height starts).
    pub validators: ValidatorSet,
}

impl Schedule {
    /// The scheduled proposer of `height`/`round`, or why a stream for it is refused.
    pub fn proposer(&self, height: u64, round: u32) -> Result<PublicKey, PartError> {
        let out = PartError::OutOfWindow { height, round };
        if height < self.height || height > self.height.saturating_add(EARLY_HEIGHTS) {
            return Err(out);
        }
        let max_round = if height == self.height { self.round.saturating_add(ROUND_WINDOW) } else { ROUND_WINDOW };
        if round > max_round {
            return Err(out);
        }
        scheduled_proposer(&self.validators, height, round).map(|v| v.public_key).ok_or(out)
    }
}

/// The stream id of a proposal: height and round (unique per publisher).
pub fn stream_id(height: u64, round: u32) -> StreamId {
    StreamId::new(bytes::Bytes::from(encoding::encode(&(height, round))))
}

/// The height and round a stream id names: its first 12 bytes, encoded as by
/// [`stream_id`]; at most 8 more bytes may follow.
pub fn parse_stream_id(id: &[u8]) -> Option<(u64, u32)> {
    if id.len() < 12 || id.len() > MAX_STREAM_ID {
        return None;
    }
    encoding::decode::<(u64, u32)>("stream id", &id[..12]).ok()
}

/// Splits an encoded block into signed stream messages.
pub fn make_stream(
    chain_id: &str,
    key: &Keypair,
    height: u64,
    round: u32,
    pol_round: i64,
    block_bytes: &[u8],
) -> Vec<PartMessage> {
    let proposer = key.public();
    let mut parts = vec![ProposalPart::Init { height, round, pol_round, proposer }];
    for chunk in block_bytes.chunks(CHUNK_BYTES) {
        parts.push(ProposalPart::Data(chunk.to_vec()));
    }
    let digest = parts_digest(height, round, pol_round, &proposer, &sha256(block_bytes));
    parts.push(ProposalPart::Fin { signature: key.sign(chain_id, Purpose::ProposalPart, &digest) });
    let id = stream_id(height, round);
    let n = parts.len() as u64;
    let mut out: Vec<PartMessage> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    out.push(StreamMessage::new(id, n, StreamContent::Fin));
    out
}

struct Stream {
    height: u64,
    round: u32,
    msgs: BTreeMap<u64, Option<ProposalPart>>,
    end: Option<u64>,
    bytes: usize,
    born: u64,
}

/// Reassembles proposal streams keyed by (publisher, stream id), with a quota per
/// publisher (see the module documentation).
pub struct PartsBuffer {
    chain_id: String,
    max_block_bytes: usize,
    per_publisher: usize,
    max_publishers: usize,
    streams: BTreeMap<(Vec<u8>, Vec<u8>), Stream>,
    /// Recently dropped streams, so that their later parts are not held again.
    dropped: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    counter: u64,
}

/// Dropped stream keys remembered.
const MAX_DROPPED: usize = 256;

impl PartsBuffer {
    /// A buffer for `chain_id` accepting blocks up to `max_block_bytes`, keeping at most
    /// `per_publisher` incomplete streams for each of at most `max_publishers`
    /// publishers.
    pub fn new(chain_id: String, max_block_bytes: usize, per_publisher: usize, max_publishers: usize) -> Self {
        PartsBuffer {
            chain_id,
            max_block_bytes,
            per_publisher: per_publisher.max(1),
            max_publishers: max_publishers.max(1),
            streams: BTreeMap::new(),
            dropped: std::collections::VecDeque::new(),
            counter: 0,
        }
    }

    /// Number of incomplete streams held.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is held.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Number of incomplete streams held for `publisher`.
    pub fn held_by(&self, publisher: &[u8]) -> usize {
        self.streams.keys().filter(|(p, _)| p.as_slice() == publisher).count()
    }

    /// Drops the streams that `schedule` no longer accepts (heights already decided,
    /// rounds out of the window).
    pub fn retain(&mut self, schedule: &Schedule) {
        self.streams.retain(|_, s| schedule.proposer(s.height, s.round).is_ok());
        self.dropped.retain(|(_, id)| parse_stream_id(id).is_some_and(|(h, _)| h >= schedule.height));
    }

    /// Adds a message from `publisher`; returns the assembled proposal when the stream
    /// completes. A stream outside `schedule`, from anyone but the scheduled proposer,
    /// malformed or forged is dropped with an error.
    pub fn insert(
        &mut self,
        publisher: &[u8],
        msg: PartMessage,
        schedule: &Schedule,
    ) -> Result<Option<Incoming>, PartError> {
        let id = msg.stream_id.to_bytes().to_vec();
        let key = (publisher.to_vec(), id);
        if !self.streams.contains_key(&key) {
            if self.dropped.contains(&key) {
                return Err(PartError::Dropped);
            }
            let Some((height, round)) = parse_stream_id(&key.1) else {
                self.drop_key(key);
                return Err(PartError::Malformed("the stream id does not name a height and round".into()));
            };
            if let Err(e) = schedule.proposer(height, round) {
                self.drop_key(key);
                return Err(e);
            }
            let held = self.held_by(publisher);
            if held >= self.per_publisher {
                // The publisher's own oldest stream makes room; nobody else's.
                if let Some(oldest) = self
                    .streams
                    .iter()
                    .filter(|((p, _), _)| p.as_slice() == publisher)
                    .min_by_key(|(_, s)| s.born)
                    .map(|(k, _)| k.clone())
                {
                    self.streams.remove(&oldest);
                }
            } else if held == 0 {
                let publishers: std::collections::BTreeSet<&[u8]> =
                    self.streams.keys().map(|(p, _)| p.as_slice()).collect();
                if publishers.len() >= self.max_publishers {
                    return Err(PartError::Quota(publishers.len()));
                }
            }
            self.counter += 1;
            let stream = Stream { height, round, msgs: BTreeMap::new(), end: None, bytes: 0, born: self.counter };
            self.streams.insert(key.clone(), stream);
        }
        let r = self.add(&key, msg, schedule);
        if r.is_err() {
            self.streams.remove(&key);
        }
        if !matches!(r, Ok(None)) {
            // Dropped or complete: later copies of its parts are not held again.
            self.drop_key(key);
        }
        r
    }

    fn drop_key(&mut self, key: (Vec<u8>, Vec<u8>)) {
        if self.dropped.len() >= MAX_DROPPED {
            self.dropped.pop_front();
        }
        self.dropped.push_back(key);
    }

    fn add(
        &mut self,
        key: &(Vec<u8>, Vec<u8>),
        msg: PartMessage,
        schedule: &Schedule,
    ) -> Result<Option<Incoming>, PartError> {
        let limit =
            self.max_block_bytes + (jialing_core::block::MAX_ENCODED_BLOCK - jialing_core::block::MAX_BLOCK_BYTES);
        let Some(stream) = self.streams.get_mut(key) else {
            return Ok(None);
        };
        let seq = msg.sequence;
        if seq > (limit / 1024 + 16) as u64 {
            return Err(PartError::Malformed(format!("sequence number {seq} is beyond any block's size")));
        }
        match msg.content {
            StreamContent::Fin => stream.end = Some(seq),
            StreamContent::Data(part) => {
                stream.bytes += match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 128,
                };
                if stream.bytes > limit {
                    return Err(PartError::Malformed(format!("stream exceeds the block size limit of {limit} bytes")));
                }
                if let ProposalPart::Init { height, round, proposer, .. } = &part {
                    if (*height, *round) != (stream.height, stream.round) {
                        return Err(PartError::Malformed(format!(
                            "Init names height {height} round {round}, the stream id height {} round {}",
                            stream.height, stream.round
                        )));
                    }
                    let scheduled = schedule.proposer(*height, *round)?;
                    if *proposer != scheduled {
                        return Err(PartError::NotProposer {
                            height: *height,
                            round: *round,
                            claimed: *proposer,
                            scheduled,
                        });
                    }
                }
                stream.msgs.insert(seq, Some(part));
            }
        }
        let Some(end) = stream.end else {
            return Ok(None);
        };
        if stream.msgs.keys().next_back().is_some_and(|k| *k >= end) {
            return Err(PartError::Malformed("data after the end of the stream".into()));
        }
        if stream.msgs.len() as u64 != end {
            return Ok(None);
        }
        let Some(stream) = self.streams.remove(key) else {
            return Ok(None);
        };
        let parts: Vec<ProposalPart> = stream.msgs.into_values().flatten().collect();
        self.assemble(parts).map(Some)
    }

    fn assemble(&self, parts: Vec<ProposalPart>) -> Result<Incoming, PartError> {
        let mut it = parts.into_iter();
        let Some(ProposalPart::Init { height, round, pol_round, proposer }) = it.next() else {
            return Err(PartError::Malformed("the stream does not start with Init".into()));
        };
        let mut data = Vec::new();
        let mut fin = None;
        for p in it {
            match p {
                ProposalPart::Data(d) if fin.is_none() => data.extend_from_slice(&d),
                ProposalPart::Fin { signature } if fin.is_none() => fin = Some(signature),
                _ => return Err(PartError::Malformed("parts out of order (Init or Data after Fin)".into())),
            }
        }
        let Some(signature) = fin else {
            return Err(PartError::Malformed("the stream has no Fin part".into()));
        };
        let digest: Hash = parts_digest(height, round, pol_round, &proposer, &sha256(&data));
        proposer
            .verify(&self.chain_id, Purpose::ProposalPart, &digest, &signature)
            .map_err(|_| PartError::BadSignature(proposer))?;
        let body: ProposalBody = encoding::decode_limited(
            "proposed block",
            &data,
            self.max_block_bytes + (jialing_core::block::MAX_ENCODED_BLOCK - jialing_core::block::MAX_BLOCK_BYTES),
        )
        .map_err(|e| PartError::BadBlock(e.to_string()))?;
        let header = body.header();
        if header.height != height {
            return Err(PartError::BadBlock(format!("block height {} in a stream for height {height}", header.height)));
        }
        if header.proposer != proposer {
            return Err(PartError::BadBlock(format!(
                "block names proposer {}, the stream was signed by {proposer}",
                header.proposer
            )));
        }
        if let ProposalBody::Compact { header, entries } = &body
            && (entries.len() != header.tx_count as usize || entries.len() > jialing_core::block::MAX_BLOCK_TXS)
        {
            return Err(PartError::BadBlock(format!(
                "compact proposal names {} transactions, its header {} (at most {})",
                entries.len(),
                header.tx_count,
                jialing_core::block::MAX_BLOCK_TXS
            )));
        }
        Ok(Incoming { height, round, pol_round, proposer, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::compact::full_bytes;
    use crate::consensus::context::Validator;
    use jialing_core::{BlockHeader, merkle};

    fn block(proposer: PublicKey, height: u64, pad: usize) -> Block {
        let header = BlockHeader {
            chain_id: "c".into(),
            height,
            time_ms: 1,
            parent_hash: Hash::ZERO,
            history_root: Hash::ZERO,
            proposer,
            tx_root: merkle::empty_root(),
            tx_count: 0,
            state_root: Hash::ZERO,
            receipts_root: Hash([pad as u8; 32]),
            validator_set_hash: Hash::ZERO,
        };
        Block { header, txs: vec![] }
    }

    /// A schedule at `height`, round 0, over `keys` (sorted by key, as the set is).
    fn schedule(height: u64, keys: &[&Keypair]) -> Schedule {
        let mut validators: Vec<Validator> = keys
            .iter()
            .map(|k| Validator {
                address: super::super::context::Address(k.public()),
                public_key: k.public(),
                power: 1,
            })
            .collect();
        validators.sort_by_key(|v| v.address);
        Schedule { height, round: 0, validators: ValidatorSet { validators } }
    }

    fn feed(
        buf: &mut PartsBuffer,
        publisher: &[u8],
        msgs: Vec<PartMessage>,
        s: &Schedule,
    ) -> Vec<Result<Option<Incoming>, PartError>> {
        msgs.into_iter().map(|m| buf.insert(publisher, m, s)).collect()
    }

    #[test]
    fn round_trip_in_any_order_and_forgeries_fail() {
        let k = Keypair::from_label("p");
        let s = schedule(5, &[&k]);
        let b = block(k.public(), 5, 1);
        let bytes = full_bytes(&b);
        let mut msgs = make_stream("c", &k, 5, 0, -1, &bytes);
        msgs.reverse();
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 8);
        let got: Vec<_> = feed(&mut buf, b"peer", msgs, &s).into_iter().filter_map(|r| r.unwrap()).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, ProposalBody::Full(b.clone()));
        assert!(buf.is_empty());

        // Another key signs a stream claiming to be from k: refused.
        let evil = Keypair::from_label("evil");
        let mut msgs = make_stream("c", &evil, 5, 0, -1, &bytes);
        if let StreamContent::Data(ProposalPart::Init { proposer, .. }) = &mut msgs[0].content {
            *proposer = k.public();
        }
        let r = feed(&mut buf, b"peer2", msgs, &s);
        assert!(matches!(r.last().unwrap(), Err(PartError::BadSignature(_))));

        // Signed by the proposer but for another chain: refused.
        let r = feed(&mut buf, b"peer3", make_stream("other", &k, 5, 0, -1, &bytes), &s);
        assert!(matches!(r.last().unwrap(), Err(PartError::BadSignature(_))));

        // A block whose header names another proposer: refused.
        let b2 = block(evil.public(), 5, 2);
        let r = feed(&mut buf, b"peer4", make_stream("c", &k, 5, 0, -1, &full_bytes(&b2)), &s);
        assert!(matches!(r.last().unwrap(), Err(PartError::BadBlock(_))));
        assert!(buf.is_empty());
    }

    /// Attack: a validator (or any member) streams a block for a height and round it is
    /// not scheduled to propose. Refused at `Init`, before any signature check.
    #[test]
    fn stream_from_a_non_proposer_is_refused() {
        let a = Keypair::from_label("a");
        let b = Keypair::from_label("b");
        let s = schedule(5, &[&a, &b]);
        let scheduled = s.proposer(5, 0).unwrap();
        let other = if scheduled == a.public() { &b } else { &a };
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 8);
        let bytes = full_bytes(&block(other.public(), 5, 0));
        let r = feed(&mut buf, b"p", make_stream("c", other, 5, 0, -1, &bytes), &s);
        assert!(matches!(r[0], Err(PartError::NotProposer { height: 5, round: 0, .. })), "{:?}", r[0]);
        assert!(r.iter().all(|x| x.is_err()), "no part of the stream is kept");
        assert!(buf.is_empty());
        // The same validator is scheduled one round later: accepted.
        let r = feed(&mut buf, b"p", make_stream("c", other, 5, 1, -1, &bytes), &s);
        assert!(r.last().unwrap().as_ref().unwrap().is_some());
    }

    /// Streams for decided heights, heights beyond the next one, or rounds far ahead
    /// are refused on their first message.
    #[test]
    fn streams_outside_the_window_are_refused() {
        let k = Keypair::from_label("p");
        let s = schedule(5, &[&k]);
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 8);
        for (h, r) in [(4, 0), (7, 0), (5, ROUND_WINDOW + 1), (6, ROUND_WINDOW + 1)] {
            let bytes = full_bytes(&block(k.public(), h, 0));
            let m = make_stream("c", &k, h, r, -1, &bytes).remove(0);
            assert_eq!(buf.insert(b"p", m, &s).unwrap_err(), PartError::OutOfWindow { height: h, round: r });
        }
        // The next height is accepted (an early proposal).
        let bytes = full_bytes(&block(k.public(), 6, 0));
        let r = feed(&mut buf, b"p", make_stream("c", &k, 6, 0, -1, &bytes), &s);
        assert!(r.last().unwrap().as_ref().unwrap().is_some());
        // A stream id that names no height and round is refused.
        let mut m = make_stream("c", &k, 5, 0, -1, &bytes).remove(0);
        m.stream_id = StreamId::new(bytes::Bytes::from_static(b"x"));
        assert!(matches!(buf.insert(b"p", m, &s), Err(PartError::Malformed(_))));
        assert!(buf.is_empty());
    }

    /// Attack: one publisher floods incomplete streams (distinct stream ids for the
    /// slot it is scheduled for). It only evicts its own; another publisher's stream
    /// survives and completes.
    #[test]
    fn a_flooding_publisher_cannot_evict_another_publishers_stream() {
        let k = Keypair::from_label("p");
        let s = schedule(5, &[&k]);
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 8);
        let b = block(k.public(), 5, 0);
        let honest = make_stream("c", &k, 5, 0, -1, &full_bytes(&b));
        let (first, rest) = honest.split_at(1);
        assert!(buf.insert(b"honest", first[0].clone(), &s).unwrap().is_none());
        for i in 0..1000u32 {
            let mut m = make_stream("c", &k, 5, 0, -1, &full_bytes(&block(k.public(), 5, 1))).remove(0);
            m.stream_id = StreamId::new(bytes::Bytes::from(encoding::encode(&(5u64, 0u32, i))));
            buf.insert(b"flooder", m, &s).unwrap();
        }
        assert_eq!(buf.held_by(b"flooder"), 4);
        assert_eq!(buf.held_by(b"honest"), 1);
        let done: Vec<_> =
            feed(&mut buf, b"honest", rest.to_vec(), &s).into_iter().filter_map(|r| r.unwrap()).collect();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].body, ProposalBody::Full(b.clone()));

        // Publishers beyond the limit are refused; nobody is evicted.
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 2);
        let m = || make_stream("c", &k, 5, 0, -1, &full_bytes(&b)).remove(0);
        buf.insert(b"a", m(), &s).unwrap();
        buf.insert(b"b", m(), &s).unwrap();
        assert_eq!(buf.insert(b"c", m(), &s).unwrap_err(), PartError::Quota(2));
        assert_eq!((buf.held_by(b"a"), buf.held_by(b"b")), (1, 1));
    }

    #[test]
    fn oversized_streams_are_dropped_and_retain_follows_the_schedule() {
        let k = Keypair::from_label("p");
        let s = schedule(1, &[&k]);
        let mut small = PartsBuffer::new("c".into(), 100, 3, 8);
        let big = vec![0u8; 100_000];
        let r = feed(&mut small, b"p", make_stream("c", &k, 1, 0, -1, &big), &s);
        assert!(r.iter().any(|x| x.is_err()));
        assert!(small.is_empty());

        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4, 8);
        let bytes = full_bytes(&block(k.public(), 1, 0));
        buf.insert(b"p", make_stream("c", &k, 1, 0, -1, &bytes).remove(0), &s).unwrap();
        buf.insert(b"p", make_stream("c", &k, 2, 0, -1, &bytes).remove(0), &s).unwrap();
        assert_eq!(buf.len(), 2);
        buf.retain(&schedule(2, &[&k]));
        assert_eq!(buf.len(), 1);
    }
}
