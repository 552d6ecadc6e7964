//! Hostile input over HTTP against a real node process: each gets a precise status and
//! error code, nothing panics, and the ledger state does not move.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jialing_contracts::CallPayload;
use jialing_contracts::membership::Certify;
use jialing_core::{Keypair, Role, Transaction};
use jialing_tests::OneNode;
use serde_json::{Value, json};

fn certify_tx(chain: &str, signer: &Keypair, nonce: u64, member: &str) -> jialing_core::SignedTransaction {
    let (contract, method, payload) =
        Certify { member: Keypair::from_label(member).public(), roles: vec![Role::Producer], expires_ms: u64::MAX }
            .to_call();
    Transaction { chain_id: chain.into(), signer: signer.public(), nonce, contract, method, payload }.sign(signer)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[test]
fn hostile_submissions_get_precise_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let n = &net.node;
    let admin = net.key("pomelo", "admin.json").unwrap();
    let chain = net.chain_id.clone();
    let before = n.get("/status").unwrap();

    // Not hex, not a transaction, oversized, wrong JSON shape.
    let (s, v) = n.post("/v1/tx", &json!({"tx": "zz"})).unwrap();
    assert_eq!((s, code(&v)), (400, "malformed_tx"), "{v}");
    let (s, v) = n.post("/v1/tx", &json!({"tx": "00ff00"})).unwrap();
    assert_eq!((s, code(&v)), (400, "malformed_tx"), "{v}");
    let mut big = certify_tx(&chain, &admin, 0, "m");
    big.tx.payload = vec![0; 70_000];
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(big.to_bytes())})).unwrap();
    assert_eq!((s, code(&v)), (400, "malformed_tx"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("too large"), "{v}");
    let (s, v) = n.post("/v1/tx", &json!({"nope": 1})).unwrap();
    assert_eq!((s, code(&v)), (400, "bad_request"), "{v}");

    // Bad signature, another chain, a non-member.
    let mut forged = certify_tx(&chain, &admin, 0, "m");
    forged.signature.0[10] ^= 1;
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(forged.to_bytes())})).unwrap();
    assert_eq!((s, code(&v)), (401, "bad_signature"), "{v}");
    let other_chain = certify_tx("another-chain", &admin, 0, "m");
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(other_chain.to_bytes())})).unwrap();
    assert_eq!((s, code(&v)), (400, "wrong_chain"), "{v}");
    let stranger = Keypair::from_label("stranger");
    let (s, v) =
        n.post("/v1/tx", &json!({"tx": hex::encode(certify_tx(&chain, &stranger, 0, "m").to_bytes())})).unwrap();
    assert_eq!((s, code(&v)), (403, "not_member"), "{v}");

    // Nothing above changed the ledger.
    let mid = n.get("/status").unwrap();
    assert_eq!(
        (mid["height"].clone(), mid["state_root"].clone()),
        (before["height"].clone(), before["state_root"].clone())
    );

    // A good one commits; replaying it is refused.
    let good = certify_tx(&chain, &admin, 0, "m");
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(good.to_bytes())})).unwrap();
    assert_eq!(s, 202, "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while n.get(&format!("/v1/tx/{}", good.hash())).unwrap()["status"] != "committed" {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(good.to_bytes())})).unwrap();
    assert_eq!((s, code(&v)), (409, "bad_nonce"), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("replay"), "{v}");

    // Batch: one result per entry, in order. Cheap checks come first: nonce 0 is used
    // now, so a forged nonce-0 transaction is a replay before it is a bad signature.
    let mut forged_next = certify_tx(&chain, &admin, 1, "m2");
    forged_next.signature.0[10] ^= 1;
    let (s, v) = n
        .post("/v1/txs", &json!({"txs": ["zz", hex::encode(forged_next.to_bytes()), hex::encode(forged.to_bytes())]}))
        .unwrap();
    assert_eq!(s, 200);
    let r = v["results"].as_array().unwrap();
    assert_eq!((code(&r[0]), code(&r[1]), code(&r[2])), ("malformed_tx", "bad_signature", "bad_nonce"), "{v}");

    // Malformed queries are 400s, unknown objects 404s, never 500s.
    for (path, status) in [
        ("/v1/tx/xyz", 400),
        ("/v1/tx/0000000000000000000000000000000000000000000000000000000000000000", 404),
        ("/v1/block/abc", 400),
        ("/v1/block/999999", 404),
        ("/v1/lot/no%2Fslash", 400),
        ("/v1/lot/UNKNOWN", 404),
        ("/v1/org/123", 400),
        ("/v1/nonce/zz", 400),
        ("/v1/history/planet/x", 400),
    ] {
        let url = format!("{}{}", n.url, path);
        let err = jialing_tests::get(&url).unwrap_err().to_string();
        assert!(err.contains(&format!(": {status} ")), "{path}: {err}");
    }
    assert!(n.log_text().find("panicked").is_none(), "the node panicked:\n{}", n.log_text());
}
