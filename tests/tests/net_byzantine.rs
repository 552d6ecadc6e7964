//! Byzantine proposers do not cause a fork or a halt: validator 0 proposes blocks that
//! carry a transaction signed by a non-member (honest validators re-execute, find it
//! inadmissible and vote nil), validator 1 streams two different blocks for each of its
//! heights and rounds. The chain keeps growing, honest nodes agree on every block, and
//! no outsider transaction is ever committed. Both run as `byzantine-node` (a real node
//! with a test hook, `jialing_tests::byzantine`): production configs have no Byzantine
//! switch.

use std::time::Duration;

use jialing_core::Role;
use jialing_tests::{Network, certify_txs, get, submit, wait_tx};

#[test]
fn byzantine_proposers_neither_fork_nor_halt() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    net.start_byzantine(0, "invalid-block")?;
    net.start_byzantine(1, "equivocate")?;
    for i in 2..4 {
        net.start(i)?;
    }
    // Twelve heights: each validator is the round-0 proposer of three of them.
    net.node(2)?.wait_height(12, Duration::from_secs(180))?;
    let admin = net.key("zhacai", "admin.json")?;
    let txs = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 40, "byz");
    for (k, chunk) in txs.chunks(10).enumerate() {
        submit(&net.node(k % 4)?.url, chunk)?;
    }
    wait_tx(&net.node(3)?.url, &txs[39].hash(), Duration::from_secs(120))?;
    let tip = net.node(3)?.wait_height(16, Duration::from_secs(180))?;

    for h in 1..=tip {
        let reference = net.block_at(2, h)?;
        for i in [0, 1, 3] {
            assert_eq!(net.block_at(i, h)?, reference, "node {i} differs at height {h}");
        }
        // No block carries the Byzantine proposer's outsider transaction: every
        // committed transaction is one of ours (or none).
        let b = get(&format!("{}/v1/block/{h}", net.node(2)?.url))?;
        for th in b["tx_hashes"].as_array().cloned().unwrap_or_default() {
            let th = th.as_str().unwrap_or_default().to_string();
            assert!(txs.iter().any(|t| t.hash().to_string() == th), "unexpected transaction {th} at height {h}");
        }
    }
    let honest = net.node(2)?.log_text();
    assert!(honest.contains("invalid proposal: voting nil"), "honest validator never refused the invalid block");
    assert!(net.node(0)?.log_text().contains("TEST BYZANTINE"), "the Byzantine mode did not engage");
    assert!(net.node(1)?.log_text().contains("equivocating proposal streamed"), "no equivocation happened");
    let metrics = net.node(2)?.get_text("/metrics")?;
    assert!(!metrics.contains("jialing_proposals_rejected_total 0\n"), "no rejected proposal counted");
    Ok(())
}
