//! Validators frozen with SIGSTOP and thawed with SIGCONT while a client keeps
//! submitting: first each validator alone, starting with the proposer of the next
//! height, each frozen over its own turn as proposer (the other three keep committing;
//! the thawed one catches up), then two at once, the next proposer among them (the
//! chain halts; after SIGCONT it resumes). Afterwards all nodes hold identical blocks
//! and every transaction the client was told is committed.

use std::time::Duration;

use jialing_tests::Network;
use jialing_tests::perturb::{
    Load, assert_halted_at, check_consistent, max_height, proposer_of, settle, start_all, wait_all_at, wait_past,
};

fn except(urls: &[String], out: &[usize]) -> Vec<String> {
    urls.iter().enumerate().filter(|(i, _)| !out.contains(i)).map(|(_, u)| u.clone()).collect()
}

#[test]
fn paused_validators_and_the_proposer_rejoin_without_fork() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    let urls = start_all(&mut net)?;
    let load = Load::start(&net, "pomelo", urls.clone(), 10, Duration::from_millis(100))?;
    load.wait_committed(1, Duration::from_secs(60))?;

    // One at a time, the next proposer first.
    let first = proposer_of(&net, 4, max_height(&urls) + 1)?;
    for v in (0..4).map(|k| (first + k) % 4) {
        let live = except(&urls, &[v]);
        load.set_targets(live.clone());
        net.node(v)?.pause()?;
        // Four whole heights decided while it is frozen: it was the round-0 proposer of
        // one of them (round robin), so the others had to time out and skip it.
        let before = max_height(&live);
        let took = wait_all_at(&live, before + 5, Duration::from_secs(60))?;
        let turns: Vec<usize> =
            (before + 2..=before + 5).map(|h| proposer_of(&net, 4, h)).collect::<anyhow::Result<_>>()?;
        anyhow::ensure!(turns.contains(&v), "validator {v} proposes none of the heights {turns:?}");
        net.node(v)?.resume()?;
        let target = max_height(&live);
        let caught_up = wait_all_at(&urls[v..=v], target, Duration::from_secs(60))?;
        eprintln!(
            "pause: validator {v} frozen, including its turn as proposer; the others made 5 heights in {took:?}; \
             it caught up in {caught_up:?}"
        );
    }

    // Two at once, the next proposer among them: no quorum, the chain halts.
    let p = proposer_of(&net, 4, max_height(&urls) + 1)?;
    let pair = [p, (p + 1) % 4];
    let live = except(&urls, &pair);
    load.set_targets(live.clone());
    for v in pair {
        net.node(v)?.pause()?;
    }
    let halted = settle(&live, Duration::from_secs(2), Duration::from_secs(20))?;
    assert_halted_at(&live, halted, Duration::from_secs(5))?;
    for v in pair {
        net.node(v)?.resume()?;
    }
    let resume = wait_past(&urls, halted, Duration::from_secs(60), "SIGCONT")?;
    eprintln!("pause: validators {pair:?} frozen at height {halted}; first new height {resume:?} after SIGCONT");

    load.set_targets(urls.clone());
    load.wait_all_committed(Duration::from_secs(60))?;
    let committed = load.stop();
    let tip = check_consistent(&net, &[0, 1, 2, 3], &committed, Duration::from_secs(60))?;
    eprintln!("pause: {} transactions committed, all nodes agree up to height {tip}", committed.len());
    Ok(())
}
