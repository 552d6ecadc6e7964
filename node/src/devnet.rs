//! `jialing-node devnet`: the embedded sample consortium on this machine, with a demo
//! scenario, until Ctrl-C.
//!
//! This build runs the devnet as ONE process holding the four sample validator keys
//! (each block carries four real precommit signatures, checked like any certificate).
//! Multi-process BFT consensus over the network replaces that with four processes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::app::Ledger;
use crate::config::{ApiConfig, NodeConfig};

/// Runs the devnet in `dir` with the API on `port`.
pub async fn run(dir: &Path, port: u16, reset: bool, demo: bool) -> anyhow::Result<()> {
    if reset && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let genesis = jialing_genesis::sample();
    let genesis_path = dir.join("genesis.toml");
    std::fs::write(&genesis_path, jialing_genesis::SAMPLE_TOML).context("writing genesis.toml")?;
    let keys_dir = dir.join("keys");
    jialing_genesis::write_sample_keys(&keys_dir).context("writing the sample key files")?;
    let init = genesis.initial_state();
    let validator_keys = jialing_genesis::sample_validator_keys();
    let cfg = NodeConfig {
        genesis: genesis_path.clone(),
        data_dir: dir.join("data"),
        validator_keys: vec![],
        node_key: None,
        api: ApiConfig { listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)), ..Default::default() },
        block: Default::default(),
        mempool: Default::default(),
        log: Default::default(),
        consensus: Default::default(),
    };
    println!("Jialing devnet: chain {}, sample consortium of {} organisations", init.chain.chain_id, init.orgs.len());
    println!("  one process holding the {} sample validator keys", validator_keys.len());
    println!("  API:          http://127.0.0.1:{port}/status");
    println!("  genesis:      {}", genesis_path.display());
    println!("  sample keys:  {} (public knowledge: local demo only)", keys_dir.display());
    println!("  client:       jialing --node http://127.0.0.1:{port} status");
    println!("Ctrl-C to stop; the ledger stays in {} (use --reset to start over)", dir.display());
    let dir_shown = dir.display().to_string();
    crate::runner::run_with(cfg, init, validator_keys, None, move |ledger| {
        if demo {
            std::thread::spawn(move || {
                if let Err(e) = crate::demo::run(&ledger, Duration::from_secs(30)) {
                    tracing::warn!(target: "jialing::demo", error = %e, "demo scenario failed");
                }
            });
        }
    })
    .await
    .with_context(|| format!("devnet in {dir_shown} (if it was created by another build, start over with --reset)"))
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
