//! Two of four validators killed (SIGKILL) while a client keeps submitting to the other
//! two: the chain halts (no height for a whole window, polled), the two restart, the
//! chain resumes and commits what was submitted meanwhile; all nodes hold identical
//! blocks and every transaction the client was told is committed.

use std::time::Duration;

use jialing_tests::Network;
use jialing_tests::perturb::{
    Load, assert_halted_at, check_consistent, max_height, proposer_of, settle, start_all, wait_past,
};

#[test]
fn two_of_four_down_halts_and_restart_resumes_without_fork() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    let urls = start_all(&mut net)?;
    // The next proposer and one more go down; the client talks to the other two only.
    let p = proposer_of(&net, 4, max_height(&urls) + 1)?;
    let down = [p, (p + 1) % 4];
    let live: Vec<String> = (0..4).filter(|i| !down.contains(i)).map(|i| urls[i].clone()).collect();
    let load = Load::start(&net, "cattle", live.clone(), 10, Duration::from_millis(100))?;
    load.wait_committed(20, Duration::from_secs(60))?;

    for v in down {
        net.node_mut(v)?.kill9();
    }
    let halted = settle(&live, Duration::from_secs(2), Duration::from_secs(20))?;
    assert_halted_at(&live, halted, Duration::from_secs(8))?;
    eprintln!("halt: validators {down:?} down, the chain halted at {halted} for 8 s");

    for v in down {
        net.node_mut(v)?.restart()?;
    }
    let resume = wait_past(&urls, halted, Duration::from_secs(60), "the restart")?;
    eprintln!("halt: first new height {resume:?} after both answered /health again");
    load.wait_all_committed(Duration::from_secs(90))?;
    let committed = load.stop();
    let tip = check_consistent(&net, &[0, 1, 2, 3], &committed, Duration::from_secs(90))?;
    eprintln!("halt: {} transactions committed, all nodes agree up to height {tip}", committed.len());
    Ok(())
}
