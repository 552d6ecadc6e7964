//! Ed25519 keys and domain-separated signatures.
//!
//! Every signature in Jialing covers a [`Purpose`] tag and the chain id along with the
//! message digest (see [`signing_bytes`]), so a signature made for one purpose or one
//! chain can never be replayed as another.
//!
//! # One verdict, whatever the batch
//! A signature's verdict must not depend on how it is checked: a transaction that one
//! node checks alone and another checks in a batch must be valid for both or for
//! neither, or the two disagree about a certified block. Ed25519 libraries differ
//! exactly there (`verify_strict` is cofactorless, batch equations are cofactored, and
//! a batch with random weights accepts a torsion-carrying signature with probability
//! depending on the weights), so Jialing fixes one rule and implements both paths on it
//! (see `docs/adr/0002-signature-verification.md`):
//! 1. the public key `A` and the signature's `R` must be canonical encodings (y < p) of
//!    curve points that are not of small order; `s` must be canonical (s < l);
//! 2. the cofactored equation `[8]([s]B - R - [k]A) = 0` must hold, with
//!    `k = SHA-512(R || A || M) mod l`.
//!
//! [`verify_raw`] checks one signature by this rule; [`verify_batch_raw`] checks many
//! with one multi-scalar multiplication whose weights are derived from all inputs
//! (deterministic, no randomness), after applying rule 1 to every item. Rule 1 rejects
//! everything a batch could treat differently from a single check, and rule 2 is linear,
//! so the batch accepts exactly when every item is accepted alone (up to the 2^-128
//! chance that the derived weights cancel a forgery).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signer, SigningKey};

use sha2::{Digest, Sha512};

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
        crate::hash::hex32(&self.0)
    }

    /// Parses 64 hex digits and checks that they are a valid curve point.
    pub fn from_hex(s: &str) -> Result<Self, CoreError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|e| CoreError::Hex { what: "public key (64 hex digits)", reason: e.to_string() })?;
        let key = PublicKey(out);
        key.check()?;
        Ok(key)
    }

    /// A short form for logs: the first 8 hex digits.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// Checks that the key can verify signatures at all: a canonical encoding of a
    /// curve point that is not of small order (rule 1 of the module doc).
    pub fn check(&self) -> Result<(), CoreError> {
        decode_point(&self.0).map(|_| ()).map_err(|reason| CoreError::InvalidPublicKey(reason.into()))
    }

    /// Verifies `signature` over `digest` for `purpose` on `chain_id`.
    pub fn verify(
        &self,
        chain_id: &str,
        purpose: Purpose,
        digest: &Hash,
        signature: &Signature,
    ) -> Result<(), CoreError> {
        verify_raw(&self.0, &signing_bytes(chain_id, purpose, digest), &signature.0)
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

/// Verifies many signatures on one chain at once (one multi-scalar multiplication,
/// roughly twice as fast per signature as one at a time). Returns `Ok` exactly when
/// [`PublicKey::verify`] accepts every item; on failure, callers check one by one to
/// find the culprit.
pub fn verify_batch(chain_id: &str, items: &[SignedDigest]) -> Result<(), CoreError> {
    let messages: Vec<Vec<u8>> = items.iter().map(|it| signing_bytes(chain_id, it.purpose, &it.digest)).collect();
    let raw: Vec<RawSigned<'_>> = items
        .iter()
        .zip(&messages)
        .map(|(it, m)| RawSigned { key: &it.signer.0, message: m, signature: &it.signature.0 })
        .collect();
    verify_batch_raw(&raw).map_err(|_| CoreError::BadBatch)
}

/// Why a raw signature check failed (rule numbers of the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawVerifyError {
    /// Rule 1: the public key is not a canonical encoding of a point of large order.
    BadKey(&'static str),
    /// Rule 1: `R` is not a canonical encoding of a point of large order.
    BadR(&'static str),
    /// Rule 1: `s` is not below the group order.
    NonCanonicalS,
    /// Rule 2: the verification equation does not hold (for a batch: for some item).
    Equation,
}

/// One item of [`verify_batch_raw`]: key, message and signature as bytes.
#[derive(Clone, Copy, Debug)]
pub struct RawSigned<'a> {
    /// The 32-byte public key encoding.
    pub key: &'a [u8; 32],
    /// The signed message.
    pub message: &'a [u8],
    /// The 64-byte signature `R || s`.
    pub signature: &'a [u8; 64],
}

/// The field prime 2^255 - 19, little-endian.
const FIELD_PRIME: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// The `y` coordinates (little-endian, sign bit clear) of the eight points of small
/// order, `constants::EIGHT_TORSION`: the identity (`y = 1`), the point of order 2
/// (`y = -1`), the two of order 4 (`y = 0`) and the four of order 8 (`y = ±y8`).
const SMALL_ORDER_Y: [[u8; 32]; 5] = {
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut minus_one = FIELD_PRIME;
    minus_one[0] -= 1;
    [
        one,
        minus_one,
        [0u8; 32],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
            0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
        ],
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
            0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
        ],
    ]
};

/// Decodes a point by rule 1: canonical `y` (below the field prime) and not of small
/// order. A set sign bit with `x = 0` only occurs for the two small-order points with
/// `x = 0`, which are refused anyway.
///
/// Small order is decided from the encoding: a curve point is determined by `y` up to
/// the sign of `x`, and a point and its negation have the same order, so a canonical
/// encoding names a point of small order exactly when its `y` is one of the five in
/// [`SMALL_ORDER_Y`] (every one of them is on the curve, with either sign bit). That
/// is a comparison of bytes where `[8]P = 0` costs three point doublings, on every
/// signature's `R`; the verdict and the error are the same (the test
/// `small_order_is_decided_from_y_exactly_as_by_the_curve` compares them).
fn decode_point(bytes: &[u8; 32]) -> Result<EdwardsPoint, &'static str> {
    let mut y = *bytes;
    y[31] &= 0x7f;
    // Little-endian comparison y >= p.
    let non_canonical = y.iter().rev().zip(FIELD_PRIME.iter().rev()).find(|(a, b)| a != b).is_none_or(|(a, b)| a > b);
    if non_canonical {
        return Err("non-canonical encoding (y is not below 2^255 - 19)");
    }
    if SMALL_ORDER_Y.contains(&y) {
        return Err("a point of small order");
    }
    CompressedEdwardsY(*bytes).decompress().ok_or("not a point on the curve")
}

/// The parsed parts of one signature check: `A`, `R`, `s` and `k`.
struct Parsed {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn parse(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<Parsed, RawVerifyError> {
    let a = decode_point(key).map_err(RawVerifyError::BadKey)?;
    let (r, s, k) = parse_rsk(key, message, signature)?;
    Ok(Parsed { a, r, s, k })
}

/// R, s and the challenge `k = SHA-512(R || A || M)` of a signature (A not decoded).
fn parse_rsk(
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(EdwardsPoint, Scalar, Scalar), RawVerifyError> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let r = decode_point(&r_bytes).map_err(RawVerifyError::BadR)?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(RawVerifyError::NonCanonicalS)?;
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(key);
    h.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    Ok((r, s, k))
}

/// Verifies one Ed25519 signature over a raw message by the rule of the module doc.
pub fn verify_raw(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Result<(), RawVerifyError> {
    let p = parse(key, message, signature)?;
    // [s]B - [k]A - R, times the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &(-p.a), &p.s);
    if (sb_minus_ka - p.r).mul_by_cofactor().is_identity() { Ok(()) } else { Err(RawVerifyError::Equation) }
}

/// Verifies many signatures by the rule of the module doc in one multi-scalar
/// multiplication: `[8]([-sum z_i s_i]B + sum [z_i]R_i + sum [z_i k_i]A_i) = 0`, with
/// 128-bit weights `z_i` derived by SHA-512 from every item, four weights per hash (so
/// an attacker cannot choose a forgery that cancels out without breaking the hash).
/// `Ok` exactly when [`verify_raw`] accepts every item; the error names the first
/// rule-1 failure, or `Equation` when only the combined equation failed.
pub fn verify_batch_raw(items: &[RawSigned<'_>]) -> Result<(), RawVerifyError> {
    match items {
        [] => return Ok(()),
        [one] => return verify_raw(one.key, one.message, one.signature),
        _ => {}
    }
    // Each distinct key is decoded (and checked) once, and its terms are summed into
    // one: sum over i of [z_i k_i]A_i = sum over keys A of [sum of z_i k_i]A. The same
    // equation, so the same verdict, with n + (distinct keys) + 1 points instead of
    // 2n + 1 (a block's transactions come from a few keys).
    let mut key_index: BTreeMap<[u8; 32], usize> = BTreeMap::new();
    let mut keys: Vec<(EdwardsPoint, Scalar)> = Vec::new();
    let mut parsed: Vec<(usize, EdwardsPoint, Scalar, Scalar)> = Vec::with_capacity(items.len());
    for it in items {
        let ai = match key_index.get(it.key) {
            Some(i) => *i,
            None => {
                let a = decode_point(it.key).map_err(RawVerifyError::BadKey)?;
                keys.push((a, Scalar::ZERO));
                key_index.insert(*it.key, keys.len() - 1);
                keys.len() - 1
            }
        };
        let (r, s, k) = parse_rsk(it.key, it.message, it.signature)?;
        parsed.push((ai, r, s, k));
    }
    // Weights: a transcript of every (A, R, s, k), then one hash per four indexes.
    let mut t = Sha512::new();
    t.update(b"jialing/ed25519-batch/v1\0");
    t.update((items.len() as u64).to_le_bytes());
    for (it, (_, _, _, k)) in items.iter().zip(&parsed) {
        t.update(it.key);
        t.update(it.signature);
        t.update(k.as_bytes());
    }
    let seed: [u8; 64] = t.finalize().into();
    let mut scalars = Vec::with_capacity(items.len() + keys.len() + 1);
    let mut points = Vec::with_capacity(items.len() + keys.len() + 1);
    let mut b_coeff = Scalar::ZERO;
    // One SHA-512 of (seed, j) gives the four 128-bit weights of items 4j..4j+3.
    let mut digest = [0u8; 64];
    for (i, (ai, r, s, k)) in parsed.iter().enumerate() {
        if i % 4 == 0 {
            let mut h = Sha512::new();
            h.update(seed);
            h.update(((i / 4) as u64).to_le_bytes());
            digest = h.finalize().into();
        }
        let mut z = [0u8; 32];
        let at = (i % 4) * 16;
        z[..16].copy_from_slice(&digest[at..at + 16]);
        let z = Scalar::from_bytes_mod_order(z);
        b_coeff -= z * s;
        scalars.push(z);
        points.push(*r);
        keys[*ai].1 += z * k;
    }
    for (a, coeff) in keys {
        scalars.push(coeff);
        points.push(a);
    }
    scalars.push(b_coeff);
    points.push(ED25519_BASEPOINT_POINT);
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() { Ok(()) } else { Err(RawVerifyError::Equation) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;

    /// Rule 1 as it was decided before [`SMALL_ORDER_Y`]: decompress, then `[8]P = 0`.
    fn decode_point_by_the_curve(bytes: &[u8; 32]) -> Result<EdwardsPoint, &'static str> {
        let mut y = *bytes;
        y[31] &= 0x7f;
        let non_canonical =
            y.iter().rev().zip(FIELD_PRIME.iter().rev()).find(|(a, b)| a != b).is_none_or(|(a, b)| a > b);
        if non_canonical {
            return Err("non-canonical encoding (y is not below 2^255 - 19)");
        }
        let point = CompressedEdwardsY(*bytes).decompress().ok_or("not a point on the curve")?;
        if point.is_small_order() {
            return Err("a point of small order");
        }
        Ok(point)
    }

    #[test]
    fn small_order_is_decided_from_y_exactly_as_by_the_curve() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        // The table is the torsion points' y, and nothing else.
        let mut ys: Vec<[u8; 32]> = EIGHT_TORSION
            .iter()
            .map(|p| {
                let mut b = p.compress().to_bytes();
                b[31] &= 0x7f;
                b
            })
            .collect();
        ys.sort();
        ys.dedup();
        let mut table = SMALL_ORDER_Y.to_vec();
        table.sort();
        assert_eq!(ys, table);
        // Every small-order y with either sign bit, and each near neighbour, gets the
        // verdict and the error the curve gives.
        let mut inputs = Vec::new();
        for y in SMALL_ORDER_Y {
            for sign in [0u8, 0x80] {
                for delta in [0u8, 1, 2] {
                    let mut b = y;
                    b[0] = b[0].wrapping_add(delta);
                    b[31] |= sign;
                    inputs.push(b);
                }
            }
        }
        // Points of large order and random strings.
        for i in 0..200u32 {
            let p = EdwardsPoint::mul_base(&Scalar::from(i + 1));
            inputs.push(p.compress().to_bytes());
            inputs.push(crate::hash::sha256(&i.to_le_bytes()).0);
        }
        for b in inputs {
            let (new, old) = (decode_point(&b), decode_point_by_the_curve(&b));
            assert_eq!(new.map(|p| p.compress()), old.map(|p| p.compress()), "{}", hex::encode(b));
        }
    }

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

    /// Terms of one key are summed in the batch equation: a tampered signature among
    /// many by the same key, or a good signature put under another key of the batch,
    /// still fails, and a valid batch of few keys passes.
    #[test]
    fn batch_with_repeated_keys_has_the_single_verdicts() {
        let keys: Vec<Keypair> = (0..3).map(|i| Keypair::from_label(&format!("r{i}"))).collect();
        let mut items: Vec<SignedDigest> = (0..40)
            .map(|i| {
                let k = &keys[i % 3];
                let d = sha256(&(i as u64).to_le_bytes());
                SignedDigest {
                    signer: k.public(),
                    purpose: Purpose::Transaction,
                    digest: d,
                    signature: k.sign("c", Purpose::Transaction, &d),
                }
            })
            .collect();
        verify_batch("c", &items).unwrap();
        let good = items.clone();
        items[10].signature.0[40] ^= 1;
        assert!(verify_batch("c", &items).is_err());
        let mut swapped = good.clone();
        swapped[4].signer = keys[(4 + 1) % 3].public();
        assert!(verify_batch("c", &swapped).is_err());
        // Two signatures of one key whose errors would cancel if terms were summed
        // wrongly: each swapped with the other's digest.
        let mut crossed = good;
        let (a, b) = (crossed[0].digest, crossed[3].digest);
        crossed[0].digest = b;
        crossed[3].digest = a;
        assert!(verify_batch("c", &crossed).is_err());
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
