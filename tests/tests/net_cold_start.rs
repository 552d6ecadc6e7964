//! All four validators killed (SIGKILL) while a client keeps submitting, then started
//! again at the same moment: each resumes from the tip it had stored (not from
//! genesis), the chain goes on past the highest tip, and all nodes hold identical blocks
//! and every transaction the client was told is committed (it resubmits what the killed
//! mempools lost).

use std::time::{Duration, Instant};

use jialing_tests::Network;
use jialing_tests::perturb::{Load, check_consistent, height, start_all, wait_past};

#[test]
fn all_four_killed_cold_start_resumes_from_stored_tips() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    let urls = start_all(&mut net)?;
    let load = Load::start(&net, "fish", urls.clone(), 10, Duration::from_millis(100))?;
    load.wait_committed(30, Duration::from_secs(60))?;

    // Each node's last reported tip, then all down mid-stream.
    let tips: Vec<u64> = urls.iter().map(|u| height(u).unwrap_or(0)).collect();
    for i in 0..4 {
        net.node_mut(i)?.kill9();
    }
    eprintln!("cold start: killed all four at tips {tips:?}");
    // All four at the same moment.
    for i in 0..4 {
        net.node_mut(i)?.spawn()?;
    }
    let started = Instant::now();
    for (i, tip) in tips.iter().enumerate() {
        net.node_mut(i)?.wait_healthy()?;
        // Straight from its store: at least the tip it reported before the kill.
        let now = height(&urls[i]).unwrap_or(0);
        anyhow::ensure!(now >= *tip, "node {i} restarted at height {now}, below its stored tip {tip}");
    }
    let top = tips.iter().copied().max().unwrap_or(0);
    wait_past(&urls, top, Duration::from_secs(60), "the cold start")?;
    eprintln!("cold start: first height past {top} {:?} after all four were started", started.elapsed());
    load.wait_all_committed(Duration::from_secs(90))?;
    let committed = load.stop();
    let tip = check_consistent(&net, &[0, 1, 2, 3], &committed, Duration::from_secs(90))?;
    eprintln!("cold start: {} transactions committed, all nodes agree up to height {tip}", committed.len());
    Ok(())
}
