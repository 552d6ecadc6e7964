//! Ed25519 keys and domain-separated signatures.
//!
//! Every signature in Jialing covers a [`Purpose`] tag and the chain id along with the
//! message digest (see [`signing_bytes`]), so a signature made for one purpose or one
//! chain can never be replayed as another. Verification is strict
//! (`verify_strict`): small-order keys and non-canonical signatures are refused.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::error::CoreError;
use crate::hash::Hash;

/// What a signature is for. Part of every signed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Purpose {
    /// A transaction.
    Transaction = 1,
    /// A consensus proposal.
    Proposal = 2,
    /// A consensus vote (prevote or precommit).
    Vote = 3,
    /// A streamed proposal part.
    ProposalPart = 4,
    /// A signed query request for restricted views.
    QueryRequest = 5,
    /// An approval of a governance proposal.
    GovernanceApproval = 6,
    /// An auditor's signed report.
    AuditReport = 7,
    /// A validator binding its consensus key to its peer (libp2p) identity.
    PeerBinding = 8,
}

impl Purpose {
    /// A short name for error messages.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Transaction => "transaction",
            Purpose::Proposal => "proposal",
            Purpose::Vote => "vote",
            Purpose::ProposalPart => "proposal part",
            Purpose::QueryRequest => "query request",
            Purpose::GovernanceApproval => "governance approval",
            Purpose::AuditReport => "audit report",
            Purpose::PeerBinding => "peer binding",
        }
    }
}

/// Domain prefix of every signed message.
pub const SIGNING_PREFIX: &[u8] = b"jialing/sig/v1\0";

/// The exact bytes that are signed: prefix, chain id (length-prefixed), purpose tag and
/// the 32-byte digest of the message.
pub fn signing_bytes(chain_id: &str, purpose: Purpose, digest: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNING_PREFIX.len() + 4 + chain_id.len() + 1 + 32);
    out.extend_from_slice(SIGNING_PREFIX);
    out.extend_from_slice(&(chain_id.len() as u32).to_le_bytes());
    out.extend_from_slice(chain_id.as_bytes());
    out.push(purpose as u8);
    out.extend_from_slice(&digest.0);
    out
}

/// An ed25519 public key (32 bytes). Shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits and checks that they are a valid curve point.
    pub fn from_hex(s: &str) -> Result<Self, CoreError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|e| CoreError::Hex { what: "public key (64 hex digits)", reason: e.to_string() })?;
        let key = PublicKey(out);
        key.verifying_key()?;
        Ok(key)
    }

    /// A short form for logs: the first 8 hex digits.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    fn verifying_key(&self) -> Result<VerifyingKey, CoreError> {
        VerifyingKey::from_bytes(&self.0).map_err(|e| CoreError::InvalidPublicKey(e.to_string()))
    }

    /// Verifies `signature` over `digest` for `purpose` on `chain_id`.
    pub fn verify(
        &self,
        chain_id: &str,
        purpose: Purpose,
        digest: &Hash,
        signature: &Signature,
    ) -> Result<(), CoreError> {
        let vk = self.verifying_key()?;
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        vk.verify_strict(&signing_bytes(chain_id, purpose, digest), &sig)
            .map_err(|_| CoreError::BadSignature { signer: self.to_hex(), purpose: purpose.name() })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

impl FromStr for PublicKey {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::from_hex(s)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
        PublicKey::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature (64 bytes). Ordered bytewise so it can sit in sorted sets.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, CoreError> {
        let mut out = [0u8; 64];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|e| CoreError::Hex { what: "signature (128 hex digits)", reason: e.to_string() })?;
        Ok(Signature(out))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..6]))
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
        Signature::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A signing key with its public key.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// Generates a fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        Keypair { signing: SigningKey::generate(&mut rand_core::OsRng) }
    }

    /// Builds a key from its 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Keypair { signing: SigningKey::from_bytes(&seed) }
    }

    /// Derives a key deterministically from a label (for fixtures and local test
    /// networks only; such keys are public knowledge).
    pub fn from_label(label: &str) -> Self {
        Keypair::from_seed(crate::hash::sha256_parts(&[b"jialing/test-key/", label.as_bytes()]).0)
    }

    /// The secret seed (keep it secret).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `digest` for `purpose` on `chain_id`.
    pub fn sign(&self, chain_id: &str, purpose: Purpose, digest: &Hash) -> Signature {
        Signature(self.signing.sign(&signing_bytes(chain_id, purpose, digest)).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public().short())
    }
}

/// One item of a batch verification.
#[derive(Clone, Debug)]
pub struct SignedDigest {
    /// The signer.
    pub signer: PublicKey,
    /// What was signed for.
    pub purpose: Purpose,
    /// The message digest.
    pub digest: Hash,
    /// The signature.
    pub signature: Signature,
}

/// Verifies many signatures on one chain at once (ed25519 batch verification, roughly
/// twice as fast per signature as one at a time). Returns `Ok` only if all are valid;
/// on failure, callers fall back to [`PublicKey::verify`] one by one to find the culprit.
pub fn verify_batch(chain_id: &str, items: &[SignedDigest]) -> Result<(), CoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let mut messages = Vec::with_capacity(items.len());
    let mut sigs = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    for it in items {
        messages.push(signing_bytes(chain_id, it.purpose, &it.digest));
        sigs.push(ed25519_dalek::Signature::from_bytes(&it.signature.0));
        keys.push(it.signer.verifying_key()?);
    }
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    ed25519_dalek::verify_batch(&refs, &sigs, &keys).map_err(|_| CoreError::BadBatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    #[test]
    fn sign_and_verify() {
        let k = Keypair::from_label("a");
        let d = sha256(b"m");
        let s = k.sign("chain", Purpose::Transaction, &d);
        k.public().verify("chain", Purpose::Transaction, &d, &s).unwrap();
    }

    #[test]
    fn signature_is_bound_to_chain_and_purpose() {
        let k = Keypair::from_label("a");
        let d = sha256(b"m");
        let s = k.sign("chain", Purpose::Transaction, &d);
        assert!(k.public().verify("other", Purpose::Transaction, &d, &s).is_err());
        assert!(k.public().verify("chain", Purpose::Vote, &d, &s).is_err());
        assert!(k.public().verify("chain", Purpose::Transaction, &sha256(b"n"), &s).is_err());
        assert!(Keypair::from_label("b").public().verify("chain", Purpose::Transaction, &d, &s).is_err());
    }

    #[test]
    fn batch_verify_accepts_good_and_rejects_one_bad() {
        let mut items: Vec<SignedDigest> = (0..16)
            .map(|i| {
                let k = Keypair::from_label(&format!("k{i}"));
                let d = sha256(&[i as u8]);
                SignedDigest {
                    signer: k.public(),
                    purpose: Purpose::Transaction,
                    digest: d,
                    signature: k.sign("c", Purpose::Transaction, &d),
                }
            })
            .collect();
        verify_batch("c", &items).unwrap();
        items[7].digest = sha256(b"tampered");
        assert_eq!(verify_batch("c", &items), Err(CoreError::BadBatch));
    }

    #[test]
    fn invalid_public_key_hex_is_refused() {
        assert!(PublicKey::from_hex("00").is_err());
        assert!(PublicKey::from_hex(&"g".repeat(64)).is_err());
    }
}
