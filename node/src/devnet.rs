//! `jialing-node devnet`: the embedded sample consortium on this machine, with a demo
//! scenario, until Ctrl-C.
//!
//! Five nodes on 127.0.0.1, each a separate OS process running Malachite BFT over
//! libp2p: the four sample validators (agriculture bureau, market regulator, credit
//! office, big-data bureau) and the data exchange's full node. Node 0 runs in this
//! process (it submits the demo scenario); nodes 1 to 4 are child processes that stop
//! when this one does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::app::Ledger;
use crate::config::{ApiConfig, ConsensusConfig, NodeConfig, PeerConfig, PublicApiConfig, QueryLogConfig};

/// The devnet's nodes: organisation short name and whether it validates.
const NODES: [(&str, bool); 5] =
    [("agri", true), ("market", true), ("credit", true), ("bigdata", true), ("exchange", false)];

/// Node `i`'s public listener (consumer page, public views, proofs): `port + 80 + i`.
fn public_addr(port: u16, i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port.saturating_add(80 + i as u16)))
}

/// Kills the child nodes when dropped.
struct Children(Vec<(String, Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writes the devnet directory: genesis, sample keys, and one config per node.
fn layout(dir: &Path, port: u16, p2p_port: u16, rate: Option<u32>) -> anyhow::Result<Vec<(PathBuf, NodeConfig)>> {
    let genesis_path = dir.join("genesis.toml");
    std::fs::write(&genesis_path, jialing_genesis::SAMPLE_TOML).context("writing genesis.toml")?;
    jialing_genesis::write_sample_keys(&dir.join("keys")).context("writing the sample key files")?;
    let p2p = |i: usize| SocketAddr::from(([127, 0, 0, 1], p2p_port + 2 * i as u16));
    let peers: Vec<PeerConfig> = NODES
        .iter()
        .enumerate()
        .map(|(i, (short, _))| PeerConfig {
            node_key: jialing_genesis::sample_key(short, "node").public().to_hex(),
            address: p2p(i),
        })
        .collect();
    let mut out = Vec::new();
    for (i, (short, validator)) in NODES.iter().enumerate() {
        let node_dir = dir.join(format!("node-{i}"));
        let keys = node_dir.join("keys");
        let node_key = keys.join("node.json");
        if !node_key.exists() {
            jialing_genesis::keyfile::write(
                &node_key,
                &jialing_genesis::sample_key(short, "node"),
                &format!("sample {short} node key (public demo key)"),
            )?;
        }
        let mut validator_keys = vec![];
        if *validator {
            let v = keys.join("validator.json");
            if !v.exists() {
                jialing_genesis::keyfile::write(
                    &v,
                    &jialing_genesis::sample_key(short, "validator"),
                    &format!("sample {short} validator key (public demo key)"),
                )?;
            }
            validator_keys.push(v);
        }
        let mut cfg = NodeConfig {
            genesis: genesis_path.clone(),
            data_dir: node_dir.join("data"),
            validator_keys,
            node_key: Some(node_key),
            api: ApiConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], port + i as u16)),
                public: PublicApiConfig { listen: public_addr(port, i), ..Default::default() },
                ..Default::default()
            },
            // A local demo: an empty block every second when idle, so that time-based
            // rules (inspection periods, publication windows) move on while you watch.
            block: crate::config::BlockConfig { empty_block_interval_ms: 1000, ..Default::default() },
            mempool: Default::default(),
            log: Default::default(),
            consensus: ConsensusConfig {
                listen: p2p(i),
                peers: peers.iter().filter(|p| p.address != p2p(i)).cloned().collect(),
                // A local demo: short timeouts.
                timeout_propose_ms: 2000,
                ..Default::default()
            },
            // Each node's organisation anchors its query log every ten seconds, with
            // its admin key: the demo never signs with it, so no nonce race.
            query_log: QueryLogConfig {
                anchor_key: Some(dir.join("keys").join(short).join("admin.json")),
                anchor_every_secs: 10,
            },
            source: None,
        };
        if let Some(r) = rate {
            for limits in [&mut cfg.api.limits, &mut cfg.api.public.limits] {
                limits.rate_per_second = r;
                limits.rate_burst = limits.rate_burst.max(r.saturating_mul(2));
            }
        }
        let path = node_dir.join("config.toml");
        std::fs::create_dir_all(&node_dir)?;
        std::fs::write(&path, cfg.to_toml()).with_context(|| format!("writing {}", path.display()))?;
        out.push((path, cfg));
    }
    Ok(out)
}

/// Runs the devnet in `dir` with the APIs on `port` to `port + 4` (public listeners on
/// `port + 80` to `port + 84`) and peer-to-peer on `p2p_port` upwards; `rate_limit`
/// overrides the per-client request rate of every listener (0: none).
pub async fn run(
    dir: &Path,
    port: u16,
    p2p_port: u16,
    reset: bool,
    demo: bool,
    rate_limit: Option<u32>,
) -> anyhow::Result<()> {
    if reset && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
    let nodes = layout(&dir, port, p2p_port, rate_limit)?;
    let init = jialing_genesis::sample().initial_state();
    let exe = std::env::current_exe().context("locating the jialing-node binary")?;
    let mut children = Children(Vec::new());
    for (i, (path, _)) in nodes.iter().enumerate().skip(1) {
        let log_path = dir.join(format!("node-{i}")).join("node.log");
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let child = Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(path)
            .arg("--stop-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node {i}"))?;
        children.0.push((format!("node-{i}"), child));
    }
    println!("Jialing devnet: chain {}, sample consortium of {} organisations", init.chain.chain_id, init.orgs.len());
    println!("  5 nodes, each its own process, Malachite BFT over libp2p on 127.0.0.1:");
    for (i, (short, validator)) in NODES.iter().enumerate() {
        let role = if *validator { "validator " } else { "full node " };
        let log = if i == 0 { "this terminal".to_string() } else { format!("{}/node-{i}/node.log", dir.display()) };
        println!(
            "    node-{i} {role} {short:<9} API http://127.0.0.1:{}  public http://{}  (log: {log})",
            port + i as u16,
            public_addr(port, i)
        );
    }
    println!("  consumer page: http://{}/01/<gtin>/10/<lot> (after the demo, see the log)", public_addr(port, 4));
    println!("  genesis:      {}", dir.join("genesis.toml").display());
    println!("  sample keys:  {} (public knowledge: local demo only)", dir.join("keys").display());
    println!("  client:       jialing --node http://127.0.0.1:{port} status");
    println!("Ctrl-C to stop; the ledger stays in {} (use --reset to start over)", dir.display());
    let (cfg, validator_keys, node_key) = {
        let (_, cfg) = &nodes[0];
        let vk = jialing_genesis::sample_key(NODES[0].0, "validator");
        let nk = jialing_genesis::sample_key(NODES[0].0, "node");
        (cfg.clone(), vec![vk], Some(nk))
    };
    let dir_shown = dir.display().to_string();
    let result = crate::runner::run_with(cfg, init, validator_keys, node_key, move |ledger| {
        if demo {
            std::thread::spawn(move || {
                if let Err(e) = crate::demo::run(&ledger, Duration::from_secs(60)) {
                    tracing::warn!(target: "jialing::demo", error = %e, "demo scenario failed");
                }
            });
        }
    })
    .await
    .with_context(|| format!("devnet in {dir_shown} (if it was created by another build, start over with --reset)"));
    drop(children);
    result
}

/// Waits (bounded) until this node's clock is a second past `after_ms`, so the next
/// block, stamped with a proposer's clock, is dated after it.
pub fn wait_clock_past(after_ms: u64, timeout: Duration) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if crate::solo::now_ms() > after_ms.saturating_add(1_000) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("the clock did not pass {after_ms} ms within {timeout:?}")
}

/// Waits until `ledger` commits `hash` (bounded).
pub fn wait_committed(ledger: &Arc<Ledger>, hash: &jialing_core::TxHash, timeout: Duration) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if ledger.store.tx(hash)?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("transaction {hash} was not committed within {timeout:?}")
}
