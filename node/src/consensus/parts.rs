//! Block proposals as streams of parts: splitting a block into `Init`, `Data` chunks and
//! a signed `Fin`, and reassembling streams that arrive out of order from the network,
//! with bounded memory per peer. Pure: no IO, tested below.

use std::collections::BTreeMap;

use jialing_core::crypto::Purpose;
use jialing_core::{Block, Hash, Keypair, PublicKey, encoding, sha256};
use malachitebft_engine::util::streaming::{StreamContent, StreamId, StreamMessage};

use super::context::{PartMessage, ProposalPart, parts_digest};

/// Size of one `Data` chunk.
pub const CHUNK_BYTES: usize = 128 * 1024;

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

/// The stream id of a proposal: height and round (unique per publisher).
pub fn stream_id(height: u64, round: u32) -> StreamId {
    StreamId::new(bytes::Bytes::from(encoding::encode(&(height, round))))
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
    msgs: BTreeMap<u64, Option<ProposalPart>>,
    end: Option<u64>,
    bytes: usize,
    born: u64,
}

/// Reassembles proposal streams keyed by (publisher, stream id).
pub struct PartsBuffer {
    chain_id: String,
    max_block_bytes: usize,
    max_streams: usize,
    streams: BTreeMap<(Vec<u8>, Vec<u8>), Stream>,
    counter: u64,
}

impl PartsBuffer {
    /// A buffer for `chain_id` accepting blocks up to `max_block_bytes`, keeping at most
    /// `max_streams` incomplete streams (the oldest is dropped first).
    pub fn new(chain_id: String, max_block_bytes: usize, max_streams: usize) -> Self {
        PartsBuffer { chain_id, max_block_bytes, max_streams, streams: BTreeMap::new(), counter: 0 }
    }

    /// Number of incomplete streams held.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether no stream is held.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Adds a message from `publisher`; returns the assembled proposal when the stream
    /// completes. A malformed or forged stream is dropped with an error.
    pub fn insert(&mut self, publisher: &[u8], msg: PartMessage) -> Result<Option<Assembled>, PartError> {
        let key = (publisher.to_vec(), msg.stream_id.to_bytes().to_vec());
        let limit = self.max_block_bytes + 64 * 1024;
        if !self.streams.contains_key(&key) {
            if self.streams.len() >= self.max_streams
                && let Some(oldest) = self.streams.iter().min_by_key(|(_, s)| s.born).map(|(k, _)| k.clone())
            {
                self.streams.remove(&oldest);
            }
            self.counter += 1;
            self.streams.insert(key.clone(), Stream { msgs: BTreeMap::new(), end: None, bytes: 0, born: self.counter });
        }
        let Some(stream) = self.streams.get_mut(&key) else {
            return Ok(None);
        };
        let seq = msg.sequence;
        if seq > (limit / 1024 + 16) as u64 {
            self.streams.remove(&key);
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
                    self.streams.remove(&key);
                    return Err(PartError::Malformed(format!("stream exceeds the block size limit of {limit} bytes")));
                }
                stream.msgs.insert(seq, Some(part));
            }
        }
        let Some(end) = stream.end else {
            return Ok(None);
        };
        if stream.msgs.keys().next_back().is_some_and(|k| *k >= end) {
            self.streams.remove(&key);
            return Err(PartError::Malformed("data after the end of the stream".into()));
        }
        if stream.msgs.len() as u64 != end {
            return Ok(None);
        }
        let Some(stream) = self.streams.remove(&key) else {
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
