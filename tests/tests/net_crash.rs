//! A validator killed with SIGKILL under load: the other three keep committing; it
//! restarts, replays its consensus WAL and catches up by sync; no transaction any node
//! reported committed is lost, and all nodes agree on every block.

use std::time::{Duration, Instant};

use jialing_core::Role;
use jialing_tests::{Network, certify_txs, get, submit, wait_tx};

fn height(url: &str) -> u64 {
    get(&format!("{url}/status")).ok().and_then(|s| s["height"].as_u64()).unwrap_or(0)
}

#[test]
fn killed_validator_restarts_and_catches_up() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(1, Duration::from_secs(60))?;
    let admin = net.key("pomelo", "admin.json")?;
    let txs = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 600, "crash");
    let urls: Vec<String> = (0..4).map(|i| net.node(i).map(|n| n.url.clone())).collect::<anyhow::Result<_>>()?;

    // First third of the load, to every node.
    for (k, chunk) in txs[..200].chunks(20).enumerate() {
        submit(&urls[k % 4], chunk)?;
    }
    let committed_before: Vec<_> = txs[..200].iter().map(|t| t.hash()).collect();
    let seen_at = wait_tx(&urls[0], committed_before.last().unwrap_or(&Default::default()), Duration::from_secs(90))?;

    // SIGKILL validator 3 in the middle of the next batch.
    for chunk in txs[200..300].chunks(20) {
        submit(&urls[0], chunk)?;
    }
    net.node_mut(3)?.kill9();
    let down_at = height(&urls[0]);
    for chunk in txs[300..500].chunks(20) {
        submit(&urls[1], chunk)?;
    }
    // The other three keep committing while it is down.
    let last_while_down = txs[499].hash();
    wait_tx(&urls[2], &last_while_down, Duration::from_secs(120))?;
    // Five more heights: at least one of them had the dead validator as its round-0
    // proposer, so the survivors had to time out and move to the next round.
    let deadline = Instant::now() + Duration::from_secs(90);
    while height(&urls[0]) < down_at + 5 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the survivors stalled at {} while validator 3 was down",
            height(&urls[0])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let progressed = height(&urls[0]);

    // Restart: it catches up to the others and follows live.
    net.node_mut(3)?.restart()?;
    for chunk in txs[500..].chunks(20) {
        submit(&urls[0], chunk)?;
    }
    let last = txs[599].hash();
    wait_tx(&urls[0], &last, Duration::from_secs(120))?;
    let target = height(&urls[0]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while height(&urls[3]) < target {
        anyhow::ensure!(Instant::now() < deadline, "restarted validator stuck at {} < {target}", height(&urls[3]));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing lost: every transaction any node reported committed is on the restarted
    // node at the same height.
    for h in committed_before.iter().chain(std::iter::once(&last_while_down)).chain(std::iter::once(&last)) {
        let a = wait_tx(&urls[0], h, Duration::from_secs(5))?;
        let b = wait_tx(&urls[3], h, Duration::from_secs(60))?;
        assert_eq!(a, b, "transaction {h} at different heights");
    }
    eprintln!("down_at={down_at} progressed={progressed} target={target} seen_at={seen_at}");
    assert!(seen_at <= target);
    for h in 1..=target {
        assert_eq!(net.block_at(3, h)?, net.block_at(0, h)?, "fork at height {h}");
    }
    // It signed again after its restart (no double-sign refusal stalled it), and the
    // network kept a single chain.
    let log = net.node(3)?.log_text();
    assert!(log.contains("block committed"), "restarted validator committed nothing:\n{log}");
    Ok(())
}
