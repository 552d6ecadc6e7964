//! A full node that joins late syncs the whole chain from the validators (checking
//! every commit certificate before it stores a block), then follows live; a
//! transaction submitted to it reaches the validators by gossip and is committed.
//! Killed with SIGKILL while following, it comes back on the same chain.

use std::time::{Duration, Instant};

use jialing_core::{BlockHeader, CommitCertificate, Role, ValidatorSet};
use jialing_tests::{Network, certify_txs, get, submit, wait_tx};

#[test]
fn late_full_node_syncs_and_follows() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 1, |_, t| t)?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(1, Duration::from_secs(60))?;
    let admin = net.key("cattle", "admin.json")?;
    let txs = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 300, "sync");
    for (k, chunk) in txs[..299].chunks(30).enumerate() {
        submit(&net.node(k % 4)?.url, chunk)?;
    }
    wait_tx(&net.node(0)?.url, &txs[298].hash(), Duration::from_secs(90))?;
    net.node(0)?.wait_height(15, Duration::from_secs(90))?;

    // The full node starts now, from an empty store.
    net.start(4)?;
    let full = net.node(4)?.url.clone();
    let target = net.node(0)?.get("/status")?["height"].as_u64().unwrap_or(0);
    net.node(4)?.wait_height(target, Duration::from_secs(120))?;
    let status = get(&format!("{full}/status"))?;
    assert!(status["validator_key"].is_null(), "node 4 should be a full node");

    // Same chain, and every certificate checks out against the validator set.
    let set: ValidatorSet = serde_json::from_value(serde_json::json!({ "validators": status["validators"] }))?;
    for h in 1..=target {
        assert_eq!(net.block_at(4, h)?, net.block_at(1, h)?, "full node differs at height {h}");
        let b = get(&format!("{full}/v1/block/{h}"))?;
        let header: BlockHeader = serde_json::from_value(b["header"].clone())?;
        let cert: CommitCertificate = serde_json::from_value(b["certificate"].clone())?;
        cert.verify(&net.chain_id, &header, &set).map_err(|e| anyhow::anyhow!("height {h}: {e}"))?;
    }

    // It follows live: a transaction submitted to the full node is gossiped to the
    // validators, committed, and the full node sees the block.
    let (status, v) = submit(&full, &txs[299..])?;
    anyhow::ensure!(status == 200, "full node refused a valid submission: {v}");
    let h = wait_tx(&net.node(2)?.url, &txs[299].hash(), Duration::from_secs(60))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while wait_tx(&full, &txs[299].hash(), Duration::from_millis(200)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "full node did not follow to height {h}");
    }
    assert!(net.node(4)?.log_text().contains("block committed"));

    // Killed (SIGKILL) while it follows a stream of blocks, which it stores on its
    // committer thread while it executes the next, it restarts at its last durable
    // block (nothing corrupt, no kept body missing) and catches up on the same chain.
    let more = certify_txs(&net.chain_id, &admin, Role::Producer, 300, 300, "sync-kill");
    for (k, chunk) in more.chunks(10).enumerate() {
        submit(&net.node(k % 4)?.url, chunk)?;
        if k == 15 {
            net.node_mut(4)?.kill9();
        }
    }
    wait_tx(&net.node(0)?.url, &more[299].hash(), Duration::from_secs(90))?;
    net.node_mut(4)?.restart()?;
    let target = net.node(0)?.get("/status")?["height"].as_u64().unwrap_or(0);
    net.node(4)?.wait_height(target, Duration::from_secs(120))?;
    for h in 1..=target {
        assert_eq!(net.block_at(4, h)?, net.block_at(1, h)?, "after the kill, the full node differs at height {h}");
    }
    wait_tx(&full, &more[299].hash(), Duration::from_secs(30))?;
    Ok(())
}
