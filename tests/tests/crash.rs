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
use jialing_tests::{NodeProc, free_port, run_bin};
use serde_json::json;

/// A one-validator testnet and the admin key of an organisation with its first role.
fn setup(dir: &std::path::Path) -> (std::path::PathBuf, String, Keypair, jialing_core::Role, String) {
    let port = free_port();
    let net = dir.join("net");
    run_bin(
        "jialing-node",
        &["testnet", "--validators", "1", "--out", net.to_str().unwrap(), "--base-port", &port.to_string()],
    )
    .unwrap();
    let genesis = jialing_genesis::Genesis::load(&net.join("genesis.toml")).unwrap();
    let init = genesis.initial_state();
    // Any organisation with a non-admin role; find its admin key file.
    let mut found = None;
    for entry in walk(&net) {
        if entry.file_name().and_then(|n| n.to_str()) == Some("admin.json") {
            let key = jialing_genesis::keyfile::read(&entry).unwrap();
            if let Some(org) = init.orgs.iter().find(|o| o.admin == key.public()) {
                found = Some((key, org.roles[0]));
                break;
            }
        }
    }
    let (admin, role) = found.expect("an admin key file in the generated network");
    (net.join("node-0/config.toml"), format!("http://127.0.0.1:{port}"), admin, role, init.chain.chain_id)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn certify(chain: &str, admin: &Keypair, nonce: u64, role: jialing_core::Role) -> jialing_core::SignedTransaction {
    let member = Keypair::from_label(&format!("crash-member-{nonce}"));
    let (contract, method, payload) =
        Certify { member: member.public(), roles: vec![role], expires_ms: u64::MAX }.to_call();
    Transaction { chain_id: chain.into(), signer: admin.public(), nonce, contract, method, payload }.sign(admin)
}

#[test]
fn sigkill_under_load_loses_no_reported_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (config, url, admin, role, chain) = setup(dir.path());
    let mut node = NodeProc::start(&config, &url).unwrap();

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

    node.restart().unwrap();
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
