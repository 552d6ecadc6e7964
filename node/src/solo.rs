//! Block production when this process holds a quorum of the validator keys.
//!
//! The loop is the consensus engine's job reduced to one participant: wait for
//! transactions (or the empty-block interval), `propose`, sign precommits with the keys
//! held, `commit`. It exists so one node runs on its own (a one-validator network, or a
//! local demo where one process holds every validator key); multi-process BFT
//! consensus replaces this loop, not the [`App`] it drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jialing_core::{CommitCertificate, Keypair, ValidatorSet};

use crate::app::{App, AppError};
use crate::config::BlockConfig;

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Checks that `keys` hold more than two thirds of `set`'s power; returns the keys that
/// are validators.
pub fn quorum_keys(set: &ValidatorSet, keys: &[Keypair]) -> Result<Vec<Keypair>, String> {
    let held: Vec<Keypair> = keys.iter().filter(|k| set.get(&k.public()).is_some()).cloned().collect();
    let power: u64 = held.iter().filter_map(|k| set.get(&k.public())).map(|v| v.power).sum();
    if !set.is_quorum(power) {
        return Err(format!(
            "this node holds validator keys with {power} of {} voting power; producing blocks alone needs more than two thirds. \
             Multi-process BFT consensus is not in this build yet: run a network whose validator keys this node holds \
             (jialing-node testnet --validators 1) or the single-process devnet (jialing-node devnet)",
            set.total_power()
        ));
    }
    Ok(held)
}

/// Runs block production until `stop` is set. Returns on a fatal error (storage).
pub fn run(mut app: App, keys: Vec<Keypair>, cfg: BlockConfig, stop: Arc<AtomicBool>) -> Result<(), AppError> {
    let Some(proposer) = keys.first().map(|k| k.public()) else {
        return Err(AppError::Genesis("no validator key".into()));
    };
    let ledger = app.ledger().clone();
    let mut last_block = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Wait for work.
        {
            let pool = match ledger.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            let empty_due = cfg.empty_block_interval_ms > 0
                && last_block.elapsed() >= Duration::from_millis(cfg.empty_block_interval_ms);
            if pool.is_empty() && !empty_due {
                let _ = ledger.mempool_signal.wait_timeout(pool, Duration::from_millis(200));
                continue;
            }
            let full = pool.len() >= cfg.max_txs;
            drop(pool);
            if !full && !empty_due {
                std::thread::sleep(Duration::from_millis(cfg.max_wait_ms));
            }
        }
        let started = Instant::now();
        let proposal = app.propose(proposer, now_ms(), cfg.max_txs, cfg.max_bytes)?;
        let empty_due = cfg.empty_block_interval_ms > 0
            && last_block.elapsed() >= Duration::from_millis(cfg.empty_block_interval_ms);
        if proposal.txs.is_empty() && !empty_due {
            // Pending transactions exist but none can go in now (nonce gaps): wait.
            let pool = match ledger.mempool.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            let _ = ledger.mempool_signal.wait_timeout(pool, Duration::from_millis(200));
            continue;
        }
        ledger.metrics.block_execute_seconds.observe(started.elapsed().as_secs_f64());
        let refs: Vec<&Keypair> = keys.iter().collect();
        let cert = CommitCertificate::sign(&ledger.chain_id, proposal.header.height, 0, proposal.hash(), &refs);
        let (height, txs, hash) = (proposal.header.height, proposal.txs.len(), proposal.hash());
        app.commit(proposal, &cert)?;
        last_block = Instant::now();
        tracing::info!(target: "jialing::consensus", height, txs, block = %hash, ms = started.elapsed().as_millis() as u64, "block committed");
    }
    Ok(())
}
