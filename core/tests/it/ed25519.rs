//! Ed25519 verification: the single and the batch path give the same verdict on every
//! input (Wycheproof's vectors alone and mixed into batches of valid signatures, and
//! generated torsion-carrying, small-order and non-canonical signatures).

use std::path::PathBuf;

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use jialing_core::crypto::{Keypair, Purpose, RawSigned, RawVerifyError, verify_batch_raw, verify_raw};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

/// A Wycheproof vector: key, message, signature, expected verdict.
struct Vector {
    id: u64,
    key: [u8; 32],
    msg: Vec<u8>,
    sig: Option<[u8; 64]>,
    valid: bool,
}

fn testdata(rel: &str) -> PathBuf {
    let base = std::env::var_os("JIALING_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    base.join(rel)
}

fn vectors() -> Vec<Vector> {
    let path = testdata("wycheproof/ed25519_test.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the Wycheproof vectors live in ../shared/testdata beside the checkout (or set JIALING_TESTDATA)",
            path.display()
        )
    });
    let doc: serde_json::Value = serde_json::from_str(&text).expect("Wycheproof JSON");
    let mut out = Vec::new();
    for g in doc["testGroups"].as_array().expect("testGroups") {
        let mut key = [0u8; 32];
        hex::decode_to_slice(g["publicKey"]["pk"].as_str().expect("pk"), &mut key).expect("pk hex");
        for t in g["tests"].as_array().expect("tests") {
            let sig_bytes = hex::decode(t["sig"].as_str().expect("sig")).expect("sig hex");
            out.push(Vector {
                id: t["tcId"].as_u64().expect("tcId"),
                key,
                msg: hex::decode(t["msg"].as_str().expect("msg")).expect("msg hex"),
                sig: <[u8; 64]>::try_from(sig_bytes.as_slice()).ok(),
                valid: t["result"].as_str() == Some("valid"),
            });
        }
    }
    assert!(out.len() >= 150, "expected Wycheproof's 151 ed25519 vectors, read {}", out.len());
    out
}

/// An RFC 8032 signature over raw bytes by a key derived from `label`.
fn sign_raw(label: &str, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    use ed25519_dalek::Signer;
    let k = ed25519_dalek::SigningKey::from_bytes(&Keypair::from_label(label).seed());
    (k.verifying_key().to_bytes(), k.sign(msg).to_bytes())
}

/// Valid signatures by fresh keys, to mix vectors into.
fn honest(n: usize) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
    (0..n)
        .map(|i| {
            let msg = format!("message {i}").into_bytes();
            let (k, s) = sign_raw(&format!("honest/{i}"), &msg);
            (k, msg, s)
        })
        .collect()
}

#[test]
fn wycheproof_single_path_matches_expected_results() {
    for v in vectors() {
        let got = v.sig.is_some_and(|s| verify_raw(&v.key, &v.msg, &s).is_ok());
        assert_eq!(got, v.valid, "Wycheproof tcId {}: single path says {got}, expected {}", v.id, v.valid);
    }
}

#[test]
fn wycheproof_batch_path_matches_single_path_alone_and_mixed() {
    let good = honest(7);
    for v in vectors() {
        let Some(sig) = v.sig else { continue };
        let single = verify_raw(&v.key, &v.msg, &sig).is_ok();
        let alone = verify_batch_raw(&[RawSigned { key: &v.key, message: &v.msg, signature: &sig }]).is_ok();
        assert_eq!(alone, single, "tcId {}: batch of one disagrees with the single path", v.id);
        // At the front, the middle and the end of batches of valid signatures.
        for at in [0, 3, 7] {
            let mut items: Vec<RawSigned<'_>> =
                good.iter().map(|(k, m, s)| RawSigned { key: k, message: m, signature: s }).collect();
            items.insert(at, RawSigned { key: &v.key, message: &v.msg, signature: &sig });
            let batch = verify_batch_raw(&items).is_ok();
            assert_eq!(batch, single, "tcId {}: batch (vector at {at} of 8) says {batch}, single says {single}", v.id);
        }
    }
}

/// A signature whose `R` carries an 8-torsion component `T`: `R = [r]B + T`,
/// `s = r + k a`. The cofactorless equation fails (off by `T`), the cofactored one
/// holds. Before the fix, ed25519-dalek's batch accepted it about one time in eight
/// while `verify_strict` always refused it.
fn torsion_signature(seed: u8, t: usize, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    let a = Scalar::from_bytes_mod_order([seed.wrapping_add(3); 32]);
    let big_a = (ED25519_BASEPOINT_POINT * a).compress().0;
    let r = Scalar::from_bytes_mod_order([seed.wrapping_add(7); 32]);
    let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[t]).compress().0;
    let mut h = Sha512::new();
    h.update(big_r);
    h.update(big_a);
    h.update(msg);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    (big_a, sig)
}

#[test]
fn torsion_in_r_gets_one_verdict_alone_and_in_every_batch() {
    let good = honest(5);
    for t in 1..8 {
        for seed in 0..16u8 {
            let msg = [seed, t as u8];
            let (key, sig) = torsion_signature(seed, t, &msg);
            let single = verify_raw(&key, &msg, &sig).is_ok();
            assert!(single, "a torsion component in R is accepted by the cofactored rule");
            for n in 0..good.len() {
                let mut items: Vec<RawSigned<'_>> =
                    good[..n].iter().map(|(k, m, s)| RawSigned { key: k, message: m, signature: s }).collect();
                items.push(RawSigned { key: &key, message: &msg, signature: &sig });
                assert_eq!(
                    verify_batch_raw(&items).is_ok(),
                    single,
                    "torsion order-{t} R, seed {seed}, batch of {}",
                    n + 1
                );
            }
        }
    }
}

#[test]
fn small_order_keys_and_r_are_refused_on_both_paths() {
    let good = honest(3);
    for t in EIGHT_TORSION.iter() {
        let small = t.compress().0;
        // s = 0 and R = the small-order key: satisfies every equation with A small.
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&small);
        assert!(matches!(verify_raw(&small, b"m", &sig), Err(RawVerifyError::BadKey(_))));
        let mut items: Vec<RawSigned<'_>> =
            good.iter().map(|(k, m, s)| RawSigned { key: k, message: m, signature: s }).collect();
        items.push(RawSigned { key: &small, message: b"m", signature: &sig });
        assert!(verify_batch_raw(&items).is_err());
        // A good key with a small-order R.
        let (k, m, _) = &good[0];
        assert!(matches!(verify_raw(k, m, &sig), Err(RawVerifyError::BadR(_))));
    }
}

#[test]
fn non_canonical_s_is_refused() {
    let (k, m, mut s) = honest(1).remove(0);
    // s + l has the same value mod l but is not canonical.
    // The group order l = 2^252 + 27742317777372353535851937790883648493, little-endian.
    let mut l = [0u8; 32];
    l[..16].copy_from_slice(&[
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    ]);
    l[31] = 0x10;
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[32 + i] as u16 + l[i] as u16 + carry;
        sum[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    s[32..].copy_from_slice(&sum);
    assert_eq!(verify_raw(&k, &m, &s), Err(RawVerifyError::NonCanonicalS));
}

fn arb_item() -> impl Strategy<Value = ([u8; 32], Vec<u8>, [u8; 64])> {
    prop_oneof![
        // Valid.
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(i, msg)| {
            let (k, s) = sign_raw(&format!("p{i}"), &msg);
            (k, msg, s)
        }),
        // Valid, then one bit flipped somewhere.
        (any::<u8>(), any::<u16>()).prop_map(|(i, bit)| {
            let msg = vec![i; 8];
            let (k, mut s) = sign_raw(&format!("q{i}"), &msg);
            s[(bit as usize / 8) % 64] ^= 1 << (bit % 8);
            (k, msg, s)
        }),
        // Torsion in R.
        (any::<u8>(), 1usize..8).prop_map(|(seed, t)| {
            let msg = vec![seed, 1, 2];
            let (k, s) = torsion_signature(seed, t, &msg);
            (k, msg, s)
        }),
        // Anything.
        (any::<[u8; 32]>(), proptest::collection::vec(any::<u8>(), 0..8), any::<[u8; 32]>(), any::<[u8; 32]>())
            .prop_map(|(k, m, r, s)| {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&r);
                sig[32..].copy_from_slice(&s);
                (k, m, sig)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn batch_verdict_is_the_conjunction_of_single_verdicts(items in proptest::collection::vec(arb_item(), 1..9)) {
        let single = items.iter().all(|(k, m, s)| verify_raw(k, m, s).is_ok());
        let raw: Vec<RawSigned<'_>> = items.iter().map(|(k, m, s)| RawSigned { key: k, message: m, signature: s }).collect();
        prop_assert_eq!(verify_batch_raw(&raw).is_ok(), single);
    }
}

/// The attack of issue 9 through the node's own entry points: a member signs a
/// transaction digest with a torsion component in `R`. `PublicKey::verify` (mempool,
/// one by one) and `verify_batch` (blocks, sync, audit) must agree, alone and next to
/// other signatures. Before the fix the single path always refused and the batch
/// accepted about one time in eight.
#[test]
fn transaction_signature_with_torsion_gets_one_verdict_on_node_paths() {
    use jialing_core::crypto::{PublicKey, Signature, SignedDigest, signing_bytes, verify_batch};
    let honest_key = Keypair::from_label("h");
    let hd = jialing_core::sha256(b"honest");
    let honest_item = SignedDigest {
        signer: honest_key.public(),
        purpose: Purpose::Transaction,
        digest: hd,
        signature: honest_key.sign("c", Purpose::Transaction, &hd),
    };
    for t in 1..8 {
        for seed in 0..8u8 {
            let digest = jialing_core::sha256(&[seed, t as u8]);
            let msg = signing_bytes("c", Purpose::Transaction, &digest);
            let (key, sig) = torsion_signature(seed, t, &msg);
            let item = SignedDigest {
                signer: PublicKey(key),
                purpose: Purpose::Transaction,
                digest,
                signature: Signature(sig),
            };
            let single = item.signer.verify("c", Purpose::Transaction, &digest, &item.signature).is_ok();
            assert_eq!(verify_batch("c", std::slice::from_ref(&item)).is_ok(), single, "alone: t={t} seed={seed}");
            assert_eq!(
                verify_batch("c", &[honest_item.clone(), item.clone()]).is_ok(),
                single,
                "pair: t={t} seed={seed}"
            );
            assert_eq!(
                verify_batch("c", &[item.clone(), honest_item.clone(), item]).is_ok(),
                single,
                "triple: t={t} seed={seed}"
            );
        }
    }
}

#[test]
fn domain_separated_signatures_verify_on_both_paths() {
    let k = Keypair::from_label("d");
    let d = jialing_core::sha256(b"x");
    let sig = k.sign("c", Purpose::Transaction, &d);
    k.public().verify("c", Purpose::Transaction, &d, &sig).expect("single");
    let item = jialing_core::crypto::SignedDigest {
        signer: k.public(),
        purpose: Purpose::Transaction,
        digest: d,
        signature: sig,
    };
    jialing_core::crypto::verify_batch("c", &[item.clone(), item]).expect("batch");
}
