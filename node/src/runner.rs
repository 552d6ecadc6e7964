//! Starts a node: opens the store, verifies it against genesis, starts block production
//! on its own thread and serves the API until Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use jialing_contracts::genesis_state::InitialState;
use jialing_core::Keypair;

use crate::api::{NodeInfo, public_router, router};
use crate::app::App;
use crate::config::NodeConfig;
use crate::consensus::host::ProposalHook;
use crate::mempool::Mempool;
use crate::serve;
use crate::store::Store;

/// Runs a node with `cfg` on the chain defined by `init`, with the validator keys given
/// (loaded by the caller). Returns when Ctrl-C is pressed or block production fails.
pub async fn run(
    cfg: NodeConfig,
    init: InitialState,
    validator_keys: Vec<Keypair>,
    node_key: Option<Keypair>,
) -> anyhow::Result<()> {
    run_with(cfg, init, validator_keys, node_key, |_| {}).await
}

/// [`run`], calling `on_ready` with the shared ledger once the API is listening (the
/// devnet uses it to submit its demo scenario).
pub async fn run_with(
    cfg: NodeConfig,
    init: InitialState,
    validator_keys: Vec<Keypair>,
    node_key: Option<Keypair>,
    on_ready: impl FnOnce(Arc<crate::app::Ledger>),
) -> anyhow::Result<()> {
    run_hooked(cfg, init, validator_keys, node_key, on_ready, None).await
}

/// [`run_with`], with this validator's proposals going through `hook` (tests only: a
/// Byzantine proposer; `None` on every real node).
pub async fn run_hooked(
    cfg: NodeConfig,
    init: InitialState,
    validator_keys: Vec<Keypair>,
    node_key: Option<Keypair>,
    on_ready: impl FnOnce(Arc<crate::app::Ledger>),
    hook: Option<Arc<dyn ProposalHook>>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating data_dir {}", cfg.data_dir.display()))?;
    let store = Store::open(&cfg.data_dir).map_err(|e| {
        let hint = if e.to_string().contains("Locked") {
            ": another jialing-node is using this data directory; stop it or set a different data_dir"
        } else {
            ""
        };
        anyhow::anyhow!("opening the store in {}: {e}{hint}", cfg.data_dir.display())
    })?;
    let mempool = Mempool::with_limits(cfg.mempool.clone());
    let (ledger, app) = App::open(store, &init, mempool)?;
    let initial_state = Arc::new(init.clone());
    let tip = app.tip();
    tracing::info!(target: "jialing::node", chain_id = %ledger.chain_id, height = tip.header.height, block = %tip.hash, "ledger open");

    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<anyhow::Result<()>>(1);
    let mut producer = None;
    let mut engine = None;
    if !cfg.consensus.peers.is_empty() {
        // A multi-node network: Malachite BFT with the configured peers.
        let Some(nk) = node_key.clone() else {
            anyhow::bail!("a node with [consensus] peers needs node_key (its libp2p identity) in its config");
        };
        let running = crate::consensus::start(&cfg, app, validator_keys.clone(), nk, hook).await?;
        let done = done_tx.clone();
        let host = running.host;
        tokio::spawn(async move {
            // The host only returns when the engine closed its channel or storage failed:
            // either way this node can no longer follow the chain.
            let r = match host.await {
                Ok(Ok(())) => Err(anyhow::anyhow!("the consensus engine stopped")),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(anyhow::anyhow!("consensus host task: {e}")),
            };
            let _ = done.send(r).await;
        });
        engine = Some((running.engine, running.gossip));
    } else if !validator_keys.is_empty() {
        let keys = crate::solo::quorum_keys(&tip.validators, &validator_keys).map_err(anyhow::Error::msg)?;
        let held: Vec<_> = validator_keys.iter().map(Keypair::public).collect();
        ledger.set_validator_keys(&held, keys.first().map(Keypair::public));
        let stop = stop.clone();
        let block_cfg = cfg.block.clone();
        let done = done_tx.clone();
        producer = Some(std::thread::Builder::new().name("block-producer".into()).spawn(move || {
            let r = crate::solo::run(app, keys, block_cfg, stop).map_err(anyhow::Error::from);
            let _ = done.blocking_send(r);
        })?);
    } else {
        tracing::warn!(target: "jialing::node", "no validator keys and no peers: serving the API read-only");
        drop(app);
    }
    drop(done_tx);
    let producing = producer.is_some() || engine.is_some();

    let listener = serve::bind(cfg.api.listen, "[api] listen").await?;
    let public = match cfg.api.public.enabled {
        true => Some(serve::bind(cfg.api.public.listen, "[api.public] listen").await?),
        false => None,
    };
    let public_addr = public.as_ref().and_then(|l| l.local_addr().ok());
    tracing::info!(
        target: "jialing::node",
        api = %format!("http://{}", cfg.api.listen),
        public = %public_addr.map_or("off".to_string(), |a| format!("http://{a}")),
        "API listening (member API; public listener for the consumer page, public views and proofs)"
    );
    let query_audience = match (&node_key, validator_keys.first()) {
        (Some(k), _) => k.public().to_hex(),
        (None, Some(k)) => k.public().to_hex(),
        (None, None) => format!("{}@{}", ledger.chain_id, cfg.api.listen),
    };
    let info = NodeInfo {
        query_audience,
        node_key: node_key.as_ref().map(|k| k.public()),
        validator_keys: validator_keys.iter().map(|k| k.public()).collect(),
        max_batch: cfg.api.max_batch,
        public_api: public_addr,
        initial_state,
        checkpoint_every: cfg.api.checkpoint_every_blocks.max(1),
        consumer_max_block_age_ms: cfg.api.consumer_max_block_age_secs.max(1).saturating_mul(1000),
    };
    let audit = crate::audit_log::AuditLog::open(&cfg.data_dir.join("audit").join("queries.jsonl"))
        .with_context(|| format!("opening the audit log under {}", cfg.data_dir.display()))?;
    let audit = Arc::new(audit);
    let anchor_task = match &cfg.query_log.anchor_key {
        Some(path) => {
            let key = jialing_genesis::keyfile::read(path)
                .with_context(|| format!("reading [query_log] anchor_key {}", path.display()))?;
            let every = std::time::Duration::from_secs(cfg.query_log.anchor_every_secs.max(1));
            let audience = info.query_audience.clone();
            Some(tokio::spawn(crate::audit_log::anchor_loop(ledger.clone(), audit.clone(), key, audience, every)))
        }
        None => {
            tracing::warn!(target: "jialing::audit", "no [query_log] anchor_key: the query log is not anchored on the ledger");
            None
        }
    };
    let api = crate::api::state(ledger.clone(), info, audit, cfg.api.limits.max_blocking);
    if let Some(l) = public {
        let public_api = api.with_reads(cfg.api.public.limits.max_blocking);
        tokio::spawn(serve::serve(l, public_router(public_api), cfg.api.public.limits.clone(), "public"));
    }
    let server = serve::serve(listener, router(api), cfg.api.limits.clone(), "member");
    on_ready(ledger.clone());
    let result = tokio::select! {
        () = server => Err(anyhow::anyhow!("the API server stopped")),
        r = done_rx.recv(), if producing => match r {
            Some(Err(e)) => Err(e.context("block production stopped")),
            _ => Ok(()),
        },
        _ = tokio::signal::ctrl_c() => {
            tracing::info!(target: "jialing::node", "Ctrl-C: shutting down");
            Ok(())
        }
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = anchor_task {
        t.abort();
    }
    ledger.mempool_signal.notify_all();
    if let Some((engine, gossip)) = engine {
        gossip.abort();
        engine.stop();
    }
    if let Some(p) = producer {
        let _ = tokio::task::spawn_blocking(move || p.join()).await;
    }
    if result.is_ok() {
        let started = std::time::Instant::now();
        let store = ledger.store.clone();
        match tokio::task::spawn_blocking(move || store.flush_tables()).await {
            Ok(Ok(())) => {
                tracing::info!(target: "jialing::node", ms = started.elapsed().as_millis() as u64, "store tables flushed")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "jialing::node", error = %e, "store tables not flushed; the journal is replayed at the next start")
            }
            Err(e) => tracing::warn!(target: "jialing::node", error = %e, "store flush task failed"),
        }
    }
    result
}
