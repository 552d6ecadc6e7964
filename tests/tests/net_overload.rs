//! Overload, end to end, with small numbers: four validators whose nodes may queue only
//! 128 KiB of accepted transactions per peer.
//! - One validator frozen (SIGSTOP): the other three keep accepting and committing; a
//!   lagging peer does not hold the API back.
//! - Two frozen: no quorum, nothing commits, node 0's queues to the frozen peers fill,
//!   and node 0 answers `overloaded` (503 on the single-transaction route) instead of
//!   accepting what it cannot pass on.
//! - After SIGCONT every transaction node 0 accepted is committed on every node.
//!
//! Counts, not timings: the test waits for events (a refusal, a commit), never a sleep.

use std::time::Duration;

use jialing_core::Role;
use jialing_tests::{Network, certify_txs, get, post, submit, wait_tx};

#[test]
fn saturated_node_answers_overloaded_and_commits_everything_it_accepted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| {
        t.replace("push_queue_bytes = 8388608", "push_queue_bytes = 131072")
    })?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(2, Duration::from_secs(60))?;
    let url = net.node(0)?.url.clone();
    let admin = net.key("pomelo", "admin.json")?;
    let txs = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 4000, "overload");
    let mut accepted = Vec::new();

    // One validator frozen: everything is accepted, and it commits.
    net.node(3)?.pause()?;
    for chunk in txs[..1500].chunks(50) {
        let (status, v) = submit(&url, chunk)?;
        anyhow::ensure!(status == 200, "submission refused: {v}");
        for (t, r) in chunk.iter().zip(v["results"].as_array().cloned().unwrap_or_default()) {
            anyhow::ensure!(r["accepted"] == true, "with one validator frozen, node 0 refused {}: {r}", t.hash());
            accepted.push(t.hash());
        }
    }
    wait_tx(&url, &txs[1499].hash(), Duration::from_secs(120))?;
    net.node(3)?.resume()?;

    // Two frozen: no quorum; node 0's queues to them fill and it says so.
    net.node(2)?.pause()?;
    net.node(3)?.pause()?;
    let mut refused = None;
    'submit: for chunk in txs[1500..].chunks(50) {
        let (status, v) = submit(&url, chunk)?;
        anyhow::ensure!(status == 200, "submission failed: {v}");
        for (t, r) in chunk.iter().zip(v["results"].as_array().cloned().unwrap_or_default()) {
            if r["accepted"] == true {
                accepted.push(t.hash());
            } else {
                anyhow::ensure!(r["error"]["code"] == "overloaded", "refused for another reason: {r}");
                refused = Some(t.clone());
                break 'submit;
            }
        }
    }
    let Some(refused) = refused else {
        anyhow::bail!("node 0 accepted all 4000 transactions with two validators frozen")
    };
    eprintln!("overload: node 0 accepted {} transactions, then answered overloaded", accepted.len());
    // The single-transaction route answers 503 with the same code.
    let (status, v) = post(&format!("{url}/v1/tx"), &serde_json::json!({ "tx": hex::encode(refused.to_bytes()) }))?;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "overloaded", "{v}");
    let m = net.node(0)?.get_text("/metrics")?;
    assert!(m.lines().any(|l| l.starts_with("jialing_txs_overloaded_total") && !l.ends_with(" 0")), "{m}");

    // Thawed: every accepted transaction is committed everywhere; the refused one is not.
    net.node(2)?.resume()?;
    net.node(3)?.resume()?;
    let last = *accepted.last().unwrap_or(&txs[0].hash());
    for i in 0..4 {
        wait_tx(&net.node(i)?.url, &last, Duration::from_secs(120))?;
    }
    for h in &accepted {
        wait_tx(&url, h, Duration::from_secs(30))?;
    }
    let r = get(&format!("{url}/v1/tx/{}", refused.hash()));
    assert!(r.is_err() || r?["height"].is_null(), "a refused transaction was committed");
    Ok(())
}
