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
    /// Too many publishers hold streams; this new one is refused.
    #[error("too many publishers hold incomplete proposal streams ({0}); stream refused")]
    Quota(usize),
}

/// A complete, signature-checked proposal taken from a stream.
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
    counter: u64,
}

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
    }

    /// Adds a message from `publisher`; returns the assembled proposal when the stream
    /// completes. A stream outside `schedule`, from anyone but the scheduled proposer,
    /// malformed or forged is dropped with an error.
    pub fn insert(
        &mut self,
        publisher: &[u8],
        msg: PartMessage,
        schedule: &Schedule,
    ) -> Result<Option<Assembled>, PartError> {
        let id = msg.stream_id.to_bytes().to_vec();
        let key = (publisher.to_vec(), id);
        if !self.streams.contains_key(&key) {
            let Some((height, round)) = parse_stream_id(&key.1) else {
                return Err(PartError::Malformed("the stream id does not name a height and round".into()));
            };
            schedule.proposer(height, round)?;
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
        r
    }

    fn add(
        &mut self,
        key: &(Vec<u8>, Vec<u8>),
        msg: PartMessage,
        schedule: &Schedule,
    ) -> Result<Option<Assembled>, PartError> {
        let limit = self.max_block_bytes + 64 * 1024;
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

    fn assemble(&self, parts: Vec<ProposalPart>) -> Result<Assembled, PartError> {
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
        let block: Block = encoding::decode_limited("proposed block", &data, self.max_block_bytes + 64 * 1024)
            .map_err(|e| PartError::BadBlock(e.to_string()))?;
        if block.header.height != height {
            return Err(PartError::BadBlock(format!(
                "block height {} in a stream for height {height}",
                block.header.height
            )));
        }
        if block.header.proposer != proposer {
            return Err(PartError::BadBlock(format!(
                "block names proposer {}, the stream was signed by {proposer}",
                block.header.proposer
            )));
        }
        Ok(Assembled { height, round, pol_round, proposer, block })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::{BlockHeader, merkle};

    fn block(proposer: PublicKey, height: u64, pad: usize) -> Block {
        let header = BlockHeader {
            chain_id: "c".into(),
            height,
            time_ms: 1,
            parent_hash: Hash::ZERO,
            proposer,
            tx_root: merkle::empty_root(),
            tx_count: 0,
            state_root: Hash::ZERO,
            receipts_root: Hash([pad as u8; 32]),
            validator_set_hash: Hash::ZERO,
        };
        Block { header, txs: vec![] }
    }

    #[test]
    fn round_trip_in_any_order_and_forgeries_fail() {
        let k = Keypair::from_label("p");
        let b = block(k.public(), 5, 1);
        let bytes = encoding::encode(&b);
        let mut msgs = make_stream("c", &k, 5, 0, -1, &bytes);
        msgs.reverse();
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 4);
        let mut got = None;
        for m in msgs {
            if let Some(a) = buf.insert(b"peer", m).unwrap() {
                got = Some(a);
            }
        }
        let a = got.unwrap();
        assert_eq!(a.block, b);
        assert!(buf.is_empty());

        // Another key signs a stream claiming to be from k: refused.
        let evil = Keypair::from_label("evil");
        let mut msgs = make_stream("c", &evil, 5, 0, -1, &bytes);
        if let StreamContent::Data(ProposalPart::Init { proposer, .. }) = &mut msgs[0].content {
            *proposer = k.public();
        }
        let r: Vec<_> = msgs.into_iter().map(|m| buf.insert(b"peer2", m)).collect();
        assert!(matches!(r.last().unwrap(), Err(PartError::BadSignature(_))));

        // Signed by the proposer but for another chain: refused.
        let msgs = make_stream("other", &k, 5, 0, -1, &bytes);
        let r: Vec<_> = msgs.into_iter().map(|m| buf.insert(b"peer3", m)).collect();
        assert!(matches!(r.last().unwrap(), Err(PartError::BadSignature(_))));

        // A block whose header names another proposer: refused.
        let b2 = block(evil.public(), 5, 2);
        let msgs = make_stream("c", &k, 5, 0, -1, &encoding::encode(&b2));
        let r: Vec<_> = msgs.into_iter().map(|m| buf.insert(b"peer4", m)).collect();
        assert!(matches!(r.last().unwrap(), Err(PartError::BadBlock(_))));
    }

    #[test]
    fn incomplete_streams_are_bounded() {
        let k = Keypair::from_label("p");
        let mut buf = PartsBuffer::new("c".into(), 1 << 20, 3);
        for h in 0..10u64 {
            let bytes = encoding::encode(&block(k.public(), h, 0));
            let msgs = make_stream("c", &k, h, 0, -1, &bytes);
            buf.insert(b"peer", msgs[0].clone()).unwrap();
        }
        assert_eq!(buf.len(), 3);
        // Oversized streams are dropped.
        let mut small = PartsBuffer::new("c".into(), 100, 3);
        let big = vec![0u8; 100_000];
        let msgs = make_stream("c", &k, 1, 0, -1, &big);
        let r: Vec<_> = msgs.into_iter().map(|m| small.insert(b"p", m)).collect();
        assert!(r.iter().any(|x| x.is_err()));
    }
}
