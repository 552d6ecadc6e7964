//! A network partition, with each validator in its own network namespace (own address,
//! links into switched segments): 2/2 split for 15 s while a client keeps submitting.
//! The chain halts during the split (no quorum on either side), resumes within 3 s of
//! the heal, and afterwards all nodes hold identical blocks and every transaction the
//! client was told is committed. Needs root (`ip netns`); skips with a message otherwise.

use std::time::{Duration, Instant};

use jialing_tests::Network;
use jialing_tests::netns::{self, Netns};
use jialing_tests::perturb::{Load, assert_halted_at, check_consistent, settle, start_all, wait_past};

/// How long the network stays split, in seconds (`JIALING_PARTITION_SECS` overrides it,
/// to measure other splits).
const SPLIT_SECS: u64 = 15;
/// The bound on resuming after the heal (issue 9).
const RESUME_BOUND: Duration = Duration::from_secs(3);

#[test]
fn partition_2_2_halts_and_resumes_within_3s_of_heal() -> anyhow::Result<()> {
    if let Some(why) = netns::unavailable() {
        eprintln!("SKIPPED partition_2_2_halts_and_resumes_within_3s_of_heal: {why}");
        return Ok(());
    }
    // Namespaces first, so that they are dropped (deleted) after the nodes are killed.
    let ns = Netns::create(4, |i| i < 2)?;
    // JIALING_KEEP_TEST_DIR=1 keeps the network directory, with each node's log.
    let tmp = tempfile::tempdir()?;
    let (_tmp, dir) = if std::env::var_os("JIALING_KEEP_TEST_DIR").is_some() {
        let kept = tmp.keep();
        eprintln!("partition: keeping {}", kept.display());
        (None, kept)
    } else {
        let dir = tmp.path().to_path_buf();
        (Some(tmp), dir)
    };
    // Malachite's own log lines (rounds, timeouts, rebroadcasts, connections) show where
    // the time after the heal goes.
    let mut net = Network::generate(&dir, 4, 0, |_, t| t.replace("arc_malachitebft=warn", "arc_malachitebft=info"))?;
    ns.adopt(&mut net)?;
    let urls = start_all(&mut net)?;
    let load = Load::start(&net, "pomelo", urls.clone(), 10, Duration::from_millis(100))?;
    load.wait_committed(1, Duration::from_secs(60))?;

    // Split {0, 1} | {2, 3}: neither side has a quorum (3 of 4).
    ns.partition()?;
    let split_at = Instant::now();
    let halted = settle(&urls, Duration::from_secs(2), Duration::from_secs(20))?;
    let split = std::env::var("JIALING_PARTITION_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(SPLIT_SECS);
    let rest = Duration::from_secs(split).saturating_sub(split_at.elapsed());
    assert_halted_at(&urls, halted, rest)?;

    ns.heal()?;
    let split_for = split_at.elapsed();
    let resume = wait_past(&urls, halted, Duration::from_secs(60), "the heal")?;
    eprintln!("partition: split for {split_for:?} at height {halted}; first new height {resume:?} after the heal");

    // Transactions submitted during the split get committed too.
    load.wait_all_committed(Duration::from_secs(60))?;
    let committed = load.stop();
    let tip = check_consistent(&net, &[0, 1, 2, 3], &committed, Duration::from_secs(60))?;
    eprintln!("partition: {} transactions committed, all nodes agree up to height {tip}", committed.len());
    assert!(resume <= RESUME_BOUND, "resumed {resume:?} after the heal, more than {RESUME_BOUND:?}");
    Ok(())
}
