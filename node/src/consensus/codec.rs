//! The wire and WAL encoding of consensus, liveness, proposal-stream and sync messages:
//! canonical borsh, refusing trailing bytes. Everything decoded here came from a peer
//! (or from our own WAL) and is checked by the engine or the host afterwards; the
//! network layer bounds message sizes before decoding.

use bytes::Bytes;
use malachitebft_app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app::types::sync;
use malachitebft_core_types::{PolkaCertificate, ValidatorProof};

use jialing_core::{Hash, PublicKey, Signature};
use malachitebft_core_types::{ExtendedCommitCertificate, ExtendedCommitSignature, Round};
use malachitebft_sync::ValueResponse;

use crate::preverify::Preverifier;

use super::context::{Address, BlockId, Ctx, Height, PartMessage, ProposalPart};

/// Encoding failures.
#[derive(Debug, thiserror::Error)]
#[error("consensus message {what}: {reason}")]
pub struct CodecError {
    what: &'static str,
    reason: String,
}

/// The borsh codec for every message the engine sends, receives or logs. With a
/// [`Preverifier`], the blocks of every decoded sync response are handed to it, so
/// their signatures are checked while earlier blocks execute.
#[derive(Clone, Default)]
pub struct WireCodec {
    preverify: Option<Preverifier>,
}

impl WireCodec {
    /// A codec that feeds synced blocks to `preverify`.
    pub fn with_preverifier(preverify: Preverifier) -> Self {
        WireCodec { preverify: Some(preverify) }
    }
}

impl std::fmt::Debug for WireCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireCodec").field("preverify", &self.preverify.is_some()).finish()
    }
}

fn enc<T: borsh::BorshSerialize>(what: &'static str, v: &T) -> Result<Bytes, CodecError> {
    borsh::to_vec(v).map(Bytes::from).map_err(|e| CodecError { what, reason: e.to_string() })
}

fn dec<T: borsh::BorshDeserialize>(what: &'static str, b: &[u8]) -> Result<T, CodecError> {
    borsh::from_slice(b).map_err(|e| CodecError { what, reason: e.to_string() })
}

macro_rules! borsh_codec {
    ($t:ty, $name:literal) => {
        impl Codec<$t> for WireCodec {
            type Error = CodecError;

            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                dec($name, &bytes)
            }

            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                enc($name, msg)
            }
        }
    };
}

borsh_codec!(ProposalPart, "proposal part");
borsh_codec!(SignedConsensusMsg<Ctx>, "signed consensus message");
borsh_codec!(LivenessMsg<Ctx>, "liveness message");
borsh_codec!(PartMessage, "proposal stream message");
borsh_codec!(ProposedValue<Ctx>, "proposed value");
borsh_codec!(PolkaCertificate<Ctx>, "polka certificate");
borsh_codec!(sync::Status<Ctx>, "sync status");
borsh_codec!(sync::Request<Ctx>, "sync request");

/// A decided block on the sync wire: its bytes and its commit certificate (height,
/// round, block hash, precommit signatures). Vote extensions are not used.
type WireDecided = (Vec<u8>, u64, u32, Hash, Vec<(PublicKey, Signature)>);

fn response_to_wire(msg: &sync::Response<Ctx>) -> (u64, Vec<WireDecided>) {
    let sync::Response::ValueResponse(r) = msg;
    let values = r
        .values
        .iter()
        .map(|v| {
            let c = &v.certificate;
            (
                v.value_bytes.to_vec(),
                c.height.0,
                c.round.as_u32().unwrap_or(u32::MAX),
                c.value_id.0,
                c.commit_signatures.iter().map(|s| (s.address.0, s.signature)).collect(),
            )
        })
        .collect();
    (r.start_height.0, values)
}

impl Codec<sync::Response<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<sync::Response<Ctx>, CodecError> {
        let (start, values): (u64, Vec<WireDecided>) = dec("sync response", &bytes)?;
        let values = values
            .into_iter()
            .map(|(value, height, round, id, sigs)| {
                let certificate = ExtendedCommitCertificate {
                    height: Height(height),
                    round: Round::new(round),
                    value_id: BlockId(id),
                    commit_signatures: sigs
                        .into_iter()
                        .map(|(k, s)| ExtendedCommitSignature { address: Address(k), signature: s, extension: None })
                        .collect(),
                };
                let value = Bytes::from(value);
                if let Some(p) = &self.preverify {
                    p.submit(value.clone());
                }
                sync::RawDecidedValue::new(value, certificate)
            })
            .collect();
        Ok(sync::Response::ValueResponse(ValueResponse::new(Height(start), values)))
    }

    fn encode(&self, msg: &sync::Response<Ctx>) -> Result<Bytes, CodecError> {
        enc("sync response", &response_to_wire(msg))
    }
}

impl HasEncodedLen<sync::Response<Ctx>> for WireCodec {
    fn encoded_len(&self, msg: &sync::Response<Ctx>) -> Result<usize, CodecError> {
        borsh::object_length(&response_to_wire(msg))
            .map_err(|e| CodecError { what: "sync response", reason: e.to_string() })
    }
}

impl Codec<ValidatorProof<Ctx>> for WireCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, CodecError> {
        let (public_key, peer_id, signature): (Vec<u8>, Vec<u8>, jialing_core::Signature) =
            dec("validator proof", &bytes)?;
        if public_key.len() != 32 || peer_id.len() > 128 {
            return Err(CodecError { what: "validator proof", reason: "bad key or peer id length".into() });
        }
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }

    fn encode(&self, msg: &ValidatorProof<Ctx>) -> Result<Bytes, CodecError> {
        enc("validator proof", &(msg.public_key.clone(), msg.peer_id.clone(), msg.signature))
    }
}
