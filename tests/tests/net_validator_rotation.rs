//! A validator key rotates under load with no outage: four validators, node 1 holding
//! its current and its next key (`validator_keys = [current, next]`), transactions
//! submitted without pause, governance `rotate_validator {old, new}` approved by three
//! of the four regulator bureaus. Node 1 switches keys by itself at the height the
//! change takes effect, without a restart:
//! - every height around the switch is decided in round 0;
//! - from the first height the new set decides, no commit certificate carries the old
//!   key, and the new key signs;
//! - node 1 logged the switch and exports the new key as active.
//!
//! On the code before the rotation work node 1 refuses to start with two keys (and
//! with one it would keep the old key, which the new set does not count, so the new
//! key would never sign).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jialing_contracts::CallPayload;
use jialing_contracts::governance::{Action, Approve, Propose};
use jialing_core::{Keypair, Role, SignedTransaction, Transaction};
use jialing_tests::{Network, certify_txs, submit, wait_tx};
use serde_json::Value;

fn signed<P: CallPayload>(chain: &str, key: &Keypair, nonce: u64, p: &P) -> SignedTransaction {
    let (contract, method, payload) = p.to_call();
    Transaction { chain_id: chain.into(), signer: key.public(), nonce, contract, method, payload }.sign(key)
}

fn height(net: &Network, i: usize) -> u64 {
    net.node(i).ok().and_then(|n| n.get("/status").ok()).and_then(|v| v["height"].as_u64()).unwrap_or(0)
}

/// The validator keys (hex) that signed the commit certificate of block `h`, and its round.
fn signers(net: &Network, h: u64) -> anyhow::Result<(Vec<String>, u64)> {
    let b = net.node(0)?.get(&format!("/v1/block/{h}"))?;
    let cert = &b["certificate"];
    let keys = cert["signatures"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["validator"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    Ok((keys, cert["round"].as_u64().unwrap_or(u64::MAX)))
}

#[test]
fn a_validator_key_rotates_under_load_without_a_missed_height() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    let rotating = 1;
    let node_dir = net.net.join(format!("node-{rotating}"));
    let old = jialing_genesis::keyfile::read(&node_dir.join("keys/validator.json"))?;
    let new = Keypair::generate();
    jialing_genesis::keyfile::write(&node_dir.join("keys/validator-next.json"), &new, "node 1 next validator key")?;
    let config = &net.configs[rotating].0;
    let text = std::fs::read_to_string(config)?;
    let listed = r#"validator_keys = ["keys/validator.json"]"#;
    anyhow::ensure!(text.contains(listed), "unexpected validator_keys line in {}:\n{text}", config.display());
    std::fs::write(
        config,
        text.replace(listed, r#"validator_keys = ["keys/validator.json", "keys/validator-next.json"]"#),
    )?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(2, Duration::from_secs(90))?;
    let status = net.node(rotating)?.get("/status")?;
    assert_eq!(status["validator_key"], Value::String(old.public().to_hex()), "node 1 starts with its current key");

    // Load: certify transactions from node 0's API, a chunk at a time, each chunk sent
    // once the one before it is committed, until the test is done.
    let url = net.configs[0].1.clone();
    let chain = net.chain_id.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (url, stop) = (url.clone(), stop.clone());
        let txs = certify_txs(&chain, &net.key("pomelo", "admin.json")?, Role::Producer, 0, 20_000, "rotation");
        std::thread::spawn(move || -> anyhow::Result<usize> {
            let mut sent = 0;
            let mut previous: Option<jialing_core::Hash> = None;
            for chunk in txs.chunks(40) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (status, body) = submit(&url, chunk)?;
                anyhow::ensure!(status == 200, "load submission refused: {body}");
                sent += chunk.len();
                if let Some(h) = previous {
                    wait_tx(&url, &h, Duration::from_secs(60))?;
                }
                previous = chunk.last().map(SignedTransaction::hash);
            }
            Ok(sent)
        })
    };

    // Governance: agri proposes, market and credit approve (three of four regulators).
    let effective = height(&net, 0) + 12;
    let propose = signed(
        &chain,
        &net.key("agri", "operator.json")?,
        0,
        &Propose {
            action: Action::RotateValidator { old: old.public(), new: new.public() },
            effective_height: effective,
        },
    );
    let (status, body) = submit(&url, std::slice::from_ref(&propose))?;
    assert_eq!(status, 200, "{body}");
    wait_tx(&url, &propose.hash(), Duration::from_secs(60))?;
    let id = propose.hash().to_hex();
    let approvals: Vec<SignedTransaction> = ["market", "credit"]
        .iter()
        .map(|s| net.key(s, "operator.json").map(|k| signed(&chain, &k, 0, &Approve { id: id.clone() })))
        .collect::<anyhow::Result<_>>()?;
    let (status, body) = submit(&url, &approvals)?;
    assert_eq!(status, 200, "{body}");
    for a in &approvals {
        let h = wait_tx(&url, &a.hash(), Duration::from_secs(60))?;
        assert!(h < effective, "approval committed at {h}, not before the effective height {effective}");
    }

    // The block at `effective` applies the change; the set of `effective + 1` holds
    // the new key.
    let last = effective + 12;
    net.node(0)?.wait_height(last, Duration::from_secs(180))?;
    stop.store(true, Ordering::Relaxed);
    let sent = load.join().map_err(|_| anyhow::anyhow!("load thread panicked"))??;
    let proposal = net.node(0)?.get(&format!("/v1/governance/proposals/{id}"))?;
    assert_eq!(proposal["proposal"]["status"]["status"], "applied", "{proposal}");

    let (old_hex, new_hex) = (old.public().to_hex(), new.public().to_hex());
    let mut new_signed = Vec::new();
    let mut txs_after = 0;
    for h in effective - 2..=last {
        let (keys, round) = signers(&net, h)?;
        assert_eq!(round, 0, "height {h} (the switch is at {}) was decided in round {round}", effective + 1);
        if h > effective {
            assert!(!keys.contains(&old_hex), "block {h} carries a signature by the rotated-out key");
            if keys.contains(&new_hex) {
                new_signed.push(h);
            }
            txs_after += net.node(0)?.get(&format!("/v1/block/{h}"))?["header"]["tx_count"].as_u64().unwrap_or(0);
        }
    }
    eprintln!(
        "rotation at {effective}: {sent} transactions submitted, {txs_after} committed after the switch; new key signed {new_signed:?}"
    );
    assert!(
        new_signed.len() * 2 >= (last - effective) as usize,
        "the new key signed only {new_signed:?} of heights {}..={last}",
        effective + 1
    );
    assert!(txs_after > 0, "no transaction committed after the switch: the load stopped");

    // Node 1 switched by itself, at the right height, and says so.
    let log = net.node(rotating)?.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("validator key switched"))
        .ok_or_else(|| anyhow::anyhow!("node 1 did not log a key switch:\n{log}"))?;
    assert!(line.contains(&format!("height={}", effective + 1)), "{line}");
    assert!(line.contains(&new_hex), "{line}");
    let status = net.node(rotating)?.get("/status")?;
    assert_eq!(status["validator_key"], Value::String(new_hex.clone()));
    let metrics = net.node(rotating)?.get_text("/metrics")?;
    assert!(metrics.contains(&format!("jialing_validator_key_active{{key=\"{new_hex}\"}} 1")), "{metrics}");
    assert!(metrics.contains(&format!("jialing_validator_key_active{{key=\"{old_hex}\"}} 0")), "{metrics}");
    assert!(metrics.lines().any(|l| l == "jialing_validator_key_switches_total 1"), "{metrics}");
    // Every node agrees on the chain.
    let h = (0..4).map(|i| height(&net, i)).min().unwrap_or(0);
    for i in 1..4 {
        assert_eq!(net.block_at(0, h)?, net.block_at(i, h)?, "node {i} differs at height {h}");
    }
    Ok(())
}
