//! Permissioning: a peer whose key is not a node key of a current organisation is
//! refused by both the consensus network and the transaction gossip (and the refusal is
//! logged); a transaction signed by a non-member is refused at submission and never
//! enters a block.

use std::time::{Duration, Instant};

use jialing_core::{Keypair, Role};
use jialing_tests::{Network, certify_txs, get, submit, wait_tx};
use libp2p::futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, identify, noise, tcp, yamux};

/// Dials `addr` with a fresh, unknown identity speaking Malachite's identify protocol;
/// returns whether a connection was still open after `hold`.
async fn rogue_dial(addr: Multiaddr, hold: Duration) -> anyhow::Result<(bool, String)> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)?
        .with_behaviour(|k| {
            identify::Behaviour::new(identify::Config::new("/malachitebft-core-consensus/v1beta1".into(), k.public()))
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let me = swarm.local_peer_id().to_string();
    swarm.dial(addr)?;
    let deadline = tokio::time::Instant::now() + hold;
    let mut open = 0i32;
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { .. } => open += 1,
                SwarmEvent::ConnectionClosed { .. } => open -= 1,
                _ => {}
            },
            _ = tokio::time::sleep_until(deadline) => return Ok((open > 0, me)),
        }
    }
}

fn addr(config: &std::path::Path, gossip: bool) -> anyhow::Result<Multiaddr> {
    let text = std::fs::read_to_string(config)?;
    let listen = text
        .lines()
        .skip_while(|l| l.trim() != "[consensus]")
        .find_map(|l| l.strip_prefix("listen = "))
        .ok_or_else(|| anyhow::anyhow!("no consensus listen address"))?
        .trim_matches('"')
        .to_string();
    let sa: std::net::SocketAddr = listen.parse()?;
    let port = if gossip { sa.port() + 1 } else { sa.port() };
    Ok(format!("/ip4/127.0.0.1/tcp/{port}").parse()?)
}

#[test]
fn outsiders_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(1, Duration::from_secs(60))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let config = net.configs[0].0.clone();

    // Transaction gossip: denied when the connection is established.
    let (kept, _) = rt.block_on(rogue_dial(addr(&config, true)?, Duration::from_secs(3)))?;
    assert!(!kept, "an unknown peer kept a gossip connection");
    // Consensus network: rejected once the handshake and identify name its key.
    let (kept, rogue) = rt.block_on(rogue_dial(addr(&config, false)?, Duration::from_secs(5)))?;
    assert!(!kept, "an unknown peer kept a consensus connection");
    // The gossip swarm logs every denial. Malachite closes the consensus connection
    // either when identify names an unknown key (and logs it) or earlier, when the
    // unknown peer has not identified itself in time; either way the connection did
    // not stay up (checked above), and an identified outsider is always named.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = net.node(0)?.log_text();
        if log.contains("refused a peer at the handshake") {
            let about: Vec<&str> = log.lines().filter(|l| l.contains(&rogue)).collect();
            assert!(
                !about.iter().any(|l| l.contains("Received identity"))
                    || about.iter().any(|l| l.contains("Rejecting connection from non-persistent peer")),
                "the consensus network did something other than refuse {rogue}:\n{}",
                about.join("\n")
            );
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the gossip refusal was not logged");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = net.node(0)?.get_text("/metrics")?;
    assert!(metrics.contains("jialing_peers_refused_total"), "no refusal metric");

    // A non-member's transaction: refused with not_member; a member's goes through.
    let outsider = Keypair::from_label("test/outsider");
    let bad = certify_txs(&net.chain_id, &outsider, Role::Producer, 0, 1, "outsider");
    let (status, v) = submit(&net.node(1)?.url, &bad)?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["accepted"], false, "{v}");
    assert_eq!(v["results"][0]["error"]["code"], "not_member", "{v}");
    let admin = net.key("fish", "admin.json")?;
    let good = certify_txs(&net.chain_id, &admin, Role::Producer, 0, 1, "member");
    submit(&net.node(1)?.url, &good)?;
    let h = wait_tx(&net.node(0)?.url, &good[0].hash(), Duration::from_secs(60))?;
    net.node(0)?.wait_height(h + 2, Duration::from_secs(60))?;
    for i in 0..4 {
        let r = get(&format!("{}/v1/tx/{}", net.node(i)?.url, bad[0].hash()));
        assert!(r.is_err(), "the outsider's transaction is on node {i}");
    }
    Ok(())
}
