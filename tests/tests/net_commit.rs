//! Four validator processes under Malachite BFT commit a stream of transactions
//! submitted to different nodes (transaction gossip reaches every mempool); every node
//! ends with the same block hashes and state roots at every height, and every commit
//! certificate verifies against the validator set.

use std::time::Duration;

use jialing_core::{BlockHeader, CommitCertificate, Role, ValidatorSet};
use jialing_tests::{Network, certify_txs, get, submit, wait_tx};

#[test]
fn four_validators_agree_on_every_block() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(1, Duration::from_secs(60))?;

    // Four producers, each submitting to a different node.
    let mut last = Vec::new();
    for (i, org) in ["pomelo", "cattle", "fish", "zhacai"].iter().enumerate() {
        let admin = net.key(org, "admin.json")?;
        let txs = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 150, &format!("commit/{org}"));
        for chunk in txs.chunks(50) {
            let (status, v) = submit(&net.node(i)?.url, chunk)?;
            anyhow::ensure!(status == 200, "submission refused: {v}");
        }
        last.push(txs.last().map(|t| t.hash()).unwrap_or_default());
    }
    // Every last transaction is committed, as every node sees it.
    for h in &last {
        for i in 0..4 {
            wait_tx(&net.node(i)?.url, h, Duration::from_secs(90))?;
        }
    }
    // Identical chains, certificates that verify.
    let tip = (0..4).map(|i| net.node(i).and_then(|n| n.get("/status"))).collect::<anyhow::Result<Vec<_>>>()?;
    let min_tip = tip.iter().filter_map(|s| s["height"].as_u64()).min().unwrap_or(0);
    assert!(min_tip >= 2, "chain did not grow: {min_tip}");
    let set: ValidatorSet = serde_json::from_value(serde_json::json!({ "validators": tip[0]["validators"] }))?;
    let mut txs_seen = 0u64;
    for h in 1..=min_tip {
        let reference = net.block_at(0, h)?;
        for i in 1..4 {
            assert_eq!(net.block_at(i, h)?, reference, "node {i} differs from node 0 at height {h}");
        }
        let b = get(&format!("{}/v1/block/{h}", net.node(h as usize % 4)?.url))?;
        let header: BlockHeader = serde_json::from_value(b["header"].clone())?;
        let cert: CommitCertificate = serde_json::from_value(b["certificate"].clone())?;
        let power = cert.verify(&net.chain_id, &header, &set).map_err(|e| anyhow::anyhow!("height {h}: {e}"))?;
        assert!(power >= 3, "height {h} certified by {power} of 4");
        txs_seen += header.tx_count as u64;
    }
    assert!(txs_seen >= 600, "only {txs_seen} transactions in blocks");
    Ok(())
}
