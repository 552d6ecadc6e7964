//! The fixtures the consumer page's verifier (`node/assets/verify.js`) is checked
//! against in the browser (`tests/tests/consumer_verify_js.rs`): header bytes and
//! hashes, precommit bytes and signatures, validator-set bytes, RFC 9162 paths, state
//! proofs and a pinned validator history. This test rebuilds every value with
//! `jialing-core` and requires the file to hold exactly those, so both implementations
//! are held to the same bytes. `JIALING_WRITE_VECTORS=1` rewrites the file.

use std::collections::BTreeMap;

use jialing_core::chain_identity::{PinnedHistory, VALIDATORS_KEY, fingerprint};
use jialing_core::crypto::signing_bytes;
use jialing_core::proof::{CertifiedHeader, ValidatorChange};
use jialing_core::state_tree::StateTree;
use jialing_core::{
    BlockHeader, CommitCertificate, Hash, Keypair, Purpose, Validator, ValidatorSet, Vote, VoteKind, encoding, merkle,
    sha256,
};
use serde_json::{Value, json};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/verify-vectors.json");

fn set(keys: &[&Keypair], power: u64) -> ValidatorSet {
    ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power }).collect()).unwrap()
}

fn header(chain: &str, h: u64, state_root: Hash, vs: &ValidatorSet, proposer: &Keypair) -> BlockHeader {
    BlockHeader {
        chain_id: chain.into(),
        height: h,
        time_ms: 1_767_225_600_000 + h * 1000,
        parent_hash: sha256(format!("parent {h}").as_bytes()),
        history_root: merkle::root_of_hashes(&[sha256(format!("history {h}").as_bytes())]),
        proposer: proposer.public(),
        tx_root: merkle::root_of_hashes(&[sha256(b"tx")]),
        tx_count: 1,
        state_root,
        receipts_root: merkle::empty_root(),
        validator_set_hash: vs.hash(),
    }
}

fn vectors() -> Value {
    let chain = "jialing-vectors-丰都";
    let ks: Vec<Keypair> = (0..7).map(|i| Keypair::from_label(&format!("vectors/{i}"))).collect();
    let a = set(&[&ks[0], &ks[1], &ks[2], &ks[3]], 10);
    let b = set(&[&ks[4], &ks[5], &ks[6]], 7);

    // Headers and validator sets.
    let h = header(chain, 42, sha256(b"state"), &a, &ks[0]);
    let headers = json!([{ "header": h, "bytes": hex::encode(encoding::encode(&h)), "hash": h.hash() }]);
    let sets: Vec<Value> = [&a, &b]
        .iter()
        .map(|s| json!({ "set": s, "bytes": hex::encode(encoding::encode(*s)), "hash": s.hash() }))
        .collect();

    // Precommits.
    let votes: Vec<Value> = [(42u64, 0u32, &ks[0]), (7, 3, &ks[5])]
        .iter()
        .map(|(height, round, k)| {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: *height,
                round: *round,
                block_hash: Some(h.hash()),
                validator: k.public(),
            };
            json!({
                "chain_id": chain, "height": height, "round": round, "block_hash": h.hash(),
                "validator": k.public(), "bytes": hex::encode(encoding::encode(&vote)), "digest": vote.digest(),
                "signing_bytes": hex::encode(signing_bytes(chain, Purpose::Vote, &vote.digest())),
                "signature": vote.sign(chain, k),
            })
        })
        .collect();

    // RFC 9162 inclusion paths.
    let mut paths = Vec::new();
    for n in [1usize, 2, 5, 7, 13] {
        let leaves: Vec<Hash> = (0..n).map(|i| merkle::leaf_hash(format!("leaf {i}").as_bytes())).collect();
        let root = merkle::root_from_leaf_hashes(&leaves);
        for i in [0, n / 2, n - 1] {
            let p = merkle::inclusion_proof(&leaves, i).unwrap();
            paths.push(
                json!({ "data": hex::encode(format!("leaf {i}")), "leaf_hash": leaves[i], "proof": p, "root": root }),
            );
        }
    }

    // State proofs: inclusion, exclusion at an empty slot and at another leaf.
    let mut w = BTreeMap::new();
    for i in 0..20 {
        w.insert(format!("trace/lot/L{i}").into_bytes(), Some(format!("value {i}").into_bytes()));
    }
    let tree = StateTree::new().apply(&w);
    let mut states = Vec::new();
    for (key, value) in
        [("trace/lot/L3", Some("value 3")), ("trace/lot/L17", Some("value 17")), ("trace/lot/NONE", None), ("x", None)]
    {
        let proof = tree.prove(key.as_bytes());
        proof.verify(&tree.root(), key.as_bytes(), value.map(str::as_bytes)).unwrap();
        states.push(json!({ "key": key, "value": value.map(hex::encode), "proof": proof, "root": tree.root() }));
    }

    // A pinned history: genesis with set a, a change to set b at height 5.
    let mut gw = BTreeMap::new();
    gw.insert(VALIDATORS_KEY.to_vec(), Some(encoding::encode(&a)));
    let t0 = StateTree::new().apply(&gw);
    let mut genesis = header(chain, 0, t0.root(), &a, &ks[0]);
    genesis.parent_hash = Hash::ZERO;
    gw.insert(VALIDATORS_KEY.to_vec(), Some(encoding::encode(&b)));
    let t5 = t0.apply(&gw);
    let h5 = header(chain, 5, t5.root(), &a, &ks[1]);
    let cert = CommitCertificate::sign(chain, 5, 1, h5.hash(), &[&ks[0], &ks[1], &ks[3]]);
    let history = PinnedHistory {
        genesis: genesis.clone(),
        genesis_validators: a.clone(),
        changes: vec![ValidatorChange {
            block: CertifiedHeader { header: h5, certificate: cert },
            validators: b.clone(),
            proof: t5.prove(VALIDATORS_KEY),
        }],
    };
    let fp = fingerprint(&genesis.hash());
    let (_, trusted) = history.verify(&fp).unwrap();
    assert_eq!(trusted.set_for(6), &b);
    // The same history with a change certified by the new set itself: must fail.
    let mut forged = history.clone();
    let hf = &forged.changes[0].block.header;
    forged.changes[0].block.certificate = CommitCertificate::sign(chain, 5, 1, hf.hash(), &[&ks[4], &ks[5], &ks[6]]);
    assert!(forged.verify(&fp).is_err());

    json!({
        "comment": "generated by core/tests/it/verify_vectors.rs; checked there and by tests/tests/consumer_verify_js.rs",
        "headers": headers,
        "validator_sets": sets,
        "votes": votes,
        "inclusion": paths,
        "state": states,
        "history": { "fingerprint": fp, "valid": history, "forged": forged, "set_after": b },
    })
}

#[test]
fn shared_verifier_vectors_match_core() {
    let want = vectors();
    let text = serde_json::to_string_pretty(&want).unwrap() + "\n";
    if std::env::var_os("JIALING_WRITE_VECTORS").is_some() {
        std::fs::write(FILE, &text).unwrap();
    }
    let have: Value =
        serde_json::from_str(&std::fs::read_to_string(FILE).expect("core/testdata/verify-vectors.json")).unwrap();
    assert_eq!(have, want, "core/testdata/verify-vectors.json differs from what jialing-core computes");
}
