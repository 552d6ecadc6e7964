//! Crash recovery of a real node process: killed with SIGKILL while under load, it
//! restarts with every block (and every transaction) it had reported committed, with
//! the same hashes, and keeps committing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jialing_contracts::CallPayload;
use jialing_contracts::membership::Certify;
use jialing_core::{Keypair, Transaction};
use jialing_tests::OneNode;
use serde_json::json;

fn certify(chain: &str, admin: &Keypair, nonce: u64, role: jialing_core::Role) -> jialing_core::SignedTransaction {
    let member = Keypair::from_label(&format!("crash-member-{nonce}"));
    let (contract, method, payload) =
        Certify { member: member.public(), roles: vec![role], expires_ms: u64::MAX }.to_call();
    Transaction { chain_id: chain.into(), signer: admin.public(), nonce, contract, method, payload }.sign(admin)
}

#[test]
fn sigkill_under_load_loses_no_reported_commit() {
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let admin = net.key("pomelo", "admin.json").unwrap();
    let (role, chain, url) = (jialing_core::Role::Producer, net.chain_id.clone(), net.node.url.clone());
    let mut node = net.node;

    // Load: batches of 200 certify transactions, sequential nonces.
    let stop = Arc::new(AtomicBool::new(false));
    let next_nonce = Arc::new(Mutex::new(0u64));
    let loader = {
        let (stop, url, admin, chain, next_nonce) =
            (stop.clone(), url.clone(), admin.clone(), chain.clone(), next_nonce.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let start = *next_nonce.lock().unwrap();
                let txs: Vec<String> =
                    (start..start + 200).map(|n| hex::encode(certify(&chain, &admin, n, role).to_bytes())).collect();
                match jialing_tests::post(&format!("{url}/v1/txs"), &json!({ "txs": txs })) {
                    Ok((200, _)) => *next_nonce.lock().unwrap() = start + 200,
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };

    // Record what the node reports committed: height -> (block hash, tx hashes).
    let mut reported: BTreeMap<u64, (String, Vec<String>)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while reported.values().map(|(_, t)| t.len()).sum::<usize>() < 1500 && Instant::now() < deadline {
        if let Ok(s) = node.get("/status") {
            let tip = s["height"].as_u64().unwrap_or(0);
            for h in 1..=tip {
                if reported.contains_key(&h) {
                    continue;
                }
                if let Ok(b) = node.get(&format!("/v1/block/{h}")) {
                    let txs =
                        b["tx_hashes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
                    reported.insert(h, (b["hash"].as_str().unwrap().to_string(), txs));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Kill while the loader is still submitting.
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();
    let max_reported = *reported.keys().last().expect("some blocks were reported committed");
    let reported_txs: usize = reported.values().map(|(_, t)| t.len()).sum();
    assert!(reported_txs >= 200, "too little load reached the node: {reported_txs} txs");

    // An auditor exports the chain straight from the crashed node's data directory and
    // replays it from genesis: every certificate, signature and root checks out.
    let config = dir.path().join("net/node-0/config.toml");
    let genesis = dir.path().join("net/genesis.toml");
    let export = dir.path().join("chain.hex");
    let (cs, gs, fs) = (config.to_str().unwrap(), genesis.to_str().unwrap(), export.to_str().unwrap());
    let out = jialing_tests::run_bin("jialing-node", &["export", "--config", cs, "--out", fs]).unwrap();
    assert!(out.contains("exported blocks 0.."), "{out}");
    let lines = std::fs::read_to_string(&export).unwrap().lines().count() as u64;
    assert!(lines > max_reported, "the export holds {lines} blocks, {max_reported} had been reported committed");
    let out =
        jialing_tests::run_bin("jialing", &["audit", "replay", "--genesis", gs, "--blocks", fs, "--quiet"]).unwrap();
    assert!(out.contains("OK:"), "{out}");

    node.restart().unwrap();
    // While the node runs its store is locked: export says so instead of reading it.
    let err = jialing_tests::run_bin("jialing-node", &["export", "--config", cs, "--out", fs]).unwrap_err();
    assert!(err.to_string().contains("stop it or export a copy"), "{err}");
    let status = node.get("/status").unwrap();
    let height = status["height"].as_u64().unwrap();
    assert!(height >= max_reported, "restarted at height {height}, but {max_reported} had been reported committed");
    for (h, (hash, txs)) in &reported {
        let b = node.get(&format!("/v1/block/{h}")).unwrap();
        assert_eq!(b["hash"].as_str().unwrap(), hash, "block {h} changed across the crash");
        for t in txs {
            let v = node.get(&format!("/v1/tx/{t}")).unwrap();
            assert_eq!(v["status"], "committed", "tx {t} lost");
            assert_eq!(v["height"].as_u64(), Some(*h));
        }
    }
    // And the node keeps working: the next nonce continues after what was committed.
    let n = node.get(&format!("/v1/nonce/{}", admin.public())).unwrap()["committed_next_nonce"].as_u64().unwrap();
    let tx = certify(&chain, &admin, n, role);
    let (status, body) = node.post("/v1/tx", &json!({ "tx": hex::encode(tx.to_bytes()) })).unwrap();
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = node.get(&format!("/v1/tx/{}", tx.hash())).unwrap();
        if v["status"] == "committed" {
            break;
        }
        assert!(Instant::now() < deadline, "post-restart tx not committed");
        std::thread::sleep(Duration::from_millis(50));
    }
}
