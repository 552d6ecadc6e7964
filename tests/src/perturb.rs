//! Tools for perturbation tests (paused, killed, partitioned nodes): a client load that
//! keeps submitting transactions and records every one it was told is committed, bounded
//! polls of heights, and the final check that all nodes hold the same blocks and every
//! committed transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jialing_core::{Hash, Role, SignedTransaction};
use serde_json::Value;

use crate::{Network, certify_txs};

/// How long a client waits for its oldest pending transaction before submitting its
/// pending transactions again.
const RESUBMIT_AFTER: Duration = Duration::from_secs(5);

/// `POST {url}/v1/txs`; whether the node admitted them all (200).
fn post_txs(url: &str, txs: &[SignedTransaction]) -> bool {
    let hex: Vec<String> = txs.iter().map(|x| hex::encode(x.to_bytes())).collect();
    quick()
        .post(&format!("{url}/v1/txs"))
        .send_json(serde_json::json!({ "txs": hex }))
        .map(|r| r.status().as_u16() == 200)
        .unwrap_or(false)
}

/// An HTTP agent with a short timeout, for nodes that may be paused or down.
fn quick() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn quick_get(url: &str) -> Option<Value> {
    let mut r = quick().get(url).call().ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    r.body_mut().read_json().ok()
}

/// The height node at `url` reports, or `None` if it does not answer within 2 s.
pub fn height(url: &str) -> Option<u64> {
    quick_get(&format!("{url}/status")).and_then(|s| s["height"].as_u64())
}

/// The committed height of transaction `hash` on the node at `url`, if it answers.
pub fn tx_height(url: &str, hash: &Hash) -> Option<u64> {
    quick_get(&format!("{url}/v1/tx/{hash}")).and_then(|v| v["height"].as_u64())
}

/// The highest height any of `urls` reports.
pub fn max_height(urls: &[String]) -> u64 {
    urls.iter().filter_map(|u| height(u)).max().unwrap_or(0)
}

/// Waits until every node in `urls` reports at least height `h`; returns how long it took.
pub fn wait_all_at(urls: &[String], h: u64, timeout: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let hs: Vec<Option<u64>> = urls.iter().map(|u| height(u)).collect();
        if hs.iter().all(|x| x.is_some_and(|x| x >= h)) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            bail!("heights {hs:?} of {urls:?} did not all reach {h} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts every node of a generated network and waits (bounded) until all reach
/// height 2; returns their API URLs.
pub fn start_all(net: &mut Network) -> anyhow::Result<Vec<String>> {
    for i in 0..net.configs.len() {
        net.start(i)?;
    }
    let urls: Vec<String> = net.configs.iter().map(|(_, u)| u.clone()).collect();
    wait_all_at(&urls, 2, Duration::from_secs(60))?;
    Ok(urls)
}

/// Waits (bounded) until some node in `urls` goes past height `h`; returns how long
/// it took. `what` names the event the wait starts from, for the error.
pub fn wait_past(urls: &[String], h: u64, timeout: Duration, what: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while max_height(urls) <= h {
        anyhow::ensure!(start.elapsed() < timeout, "the chain did not go past {h} within {timeout:?} of {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(start.elapsed())
}

/// Asserts that no node in `urls` goes past height `h` for the whole `window`
/// (polled every 100 ms).
pub fn assert_halted_at(urls: &[String], h: u64, window: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < window {
        for u in urls {
            if let Some(now) = height(u) {
                anyhow::ensure!(now <= h, "{u} advanced to {now} past {h} after {:?} of a halt", start.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Waits until no node in `urls` changes height for `quiet` (the height a block that was
/// in flight when the network lost its quorum settles at); returns the highest height.
/// Bounded by `timeout`.
pub fn settle(urls: &[String], quiet: Duration, timeout: Duration) -> anyhow::Result<u64> {
    let start = Instant::now();
    let mut last = max_height(urls);
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = max_height(urls);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            return Ok(last);
        }
        if start.elapsed() > timeout {
            bail!("heights of {urls:?} still moving after {timeout:?}");
        }
    }
}

/// A transaction a client was told is committed, and where.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Transaction hash.
    pub hash: Hash,
    /// Height the node reported.
    pub height: u64,
}

/// A client that submits `membership.certify` transactions signed by one organisation
/// admin, in small batches, to the nodes listed in `targets` (a batch goes out once the
/// previous one was admitted, so nonces have no gaps), resubmits what waits too long
/// (a killed node loses its mempool), and records every transaction a node reports
/// committed.
pub struct Load {
    stop: Arc<AtomicBool>,
    /// Nodes (URLs) the load submits to and asks; change while it runs.
    pub targets: Arc<Mutex<Vec<String>>>,
    committed: Arc<Mutex<Vec<Committed>>>,
    submitted: Arc<Mutex<u64>>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    /// Starts submitting to `targets`: every `every`, a batch of `batch` transactions
    /// signed by the admin of `org`.
    pub fn start(net: &Network, org: &str, targets: Vec<String>, batch: u64, every: Duration) -> anyhow::Result<Self> {
        let admin = net.key(org, "admin.json")?;
        let chain_id = net.chain_id.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let targets = Arc::new(Mutex::new(targets));
        let committed = Arc::new(Mutex::new(Vec::new()));
        let submitted = Arc::new(Mutex::new(0u64));
        let (s, t, c, n) = (stop.clone(), targets.clone(), committed.clone(), submitted.clone());
        let tag = format!("load/{org}/{}", std::process::id());
        let thread = std::thread::spawn(move || {
            let mut nonce = 0u64;
            // Admitted, not yet reported committed: the signed transactions, and since
            // when the oldest has waited.
            let mut pending: Vec<SignedTransaction> = Vec::new();
            let mut waiting_since = Instant::now();
            let mut k = 0usize;
            while !s.load(Ordering::Relaxed) {
                let urls = t.lock().map(|v| v.clone()).unwrap_or_default();
                if urls.is_empty() {
                    std::thread::sleep(every);
                    continue;
                }
                k = k.wrapping_add(1);
                let url = &urls[k % urls.len()];
                if pending.len() < (4 * batch) as usize {
                    let txs = certify_txs(&chain_id, &admin, Role::Producer, nonce, batch, &tag);
                    // Admitted, or refused because a node already has it (an earlier
                    // attempt timed out after the node took it).
                    let known =
                        |txs: &[SignedTransaction]| txs.first().is_some_and(|x| tx_height(url, &x.hash()).is_some());
                    if post_txs(url, &txs) || known(&txs) {
                        nonce += batch;
                        if pending.is_empty() {
                            waiting_since = Instant::now();
                        }
                        pending.extend(txs);
                        if let Ok(mut n) = n.lock() {
                            *n += batch;
                        }
                    }
                }
                // Ask about pending transactions, oldest first, until one is not yet
                // committed.
                while let Some(x) = pending.first() {
                    match tx_height(url, &x.hash()) {
                        Some(height) => {
                            if let Ok(mut c) = c.lock() {
                                c.push(Committed { hash: x.hash(), height });
                            }
                            pending.remove(0);
                            waiting_since = Instant::now();
                        }
                        None => break,
                    }
                }
                // Waiting long: the node that took them may have been killed (mempools
                // are not persisted). Submit the same transactions again, as a client would.
                if !pending.is_empty() && waiting_since.elapsed() > RESUBMIT_AFTER {
                    post_txs(url, &pending);
                    waiting_since = Instant::now();
                }
                std::thread::sleep(every);
            }
        });
        Ok(Load { stop, targets, committed, submitted, thread: Some(thread) })
    }

    /// Sets the nodes the load talks to.
    pub fn set_targets(&self, urls: Vec<String>) {
        if let Ok(mut t) = self.targets.lock() {
            *t = urls;
        }
    }

    /// How many transactions nodes have admitted so far.
    pub fn submitted(&self) -> u64 {
        self.submitted.lock().map(|n| *n).unwrap_or(0)
    }

    /// How many transactions the client has been told are committed so far.
    pub fn committed_count(&self) -> usize {
        self.committed.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Waits (bounded) until the client has been told that at least `n` transactions
    /// are committed.
    pub fn wait_committed(&self, n: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while (self.committed_count() as u64) < n {
            anyhow::ensure!(
                start.elapsed() < timeout,
                "{} of {n} transactions committed after {timeout:?}",
                self.committed_count()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Waits (bounded) until everything admitted so far is committed.
    pub fn wait_all_committed(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_committed(self.submitted(), timeout)
    }

    /// Stops the load and returns every transaction it was told is committed.
    pub fn stop(mut self) -> Vec<Committed> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.committed.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The final check after a perturbation: all `nodes` of `net` reach a common height
/// (within `timeout`), hold identical blocks (hash and state root) at every height up
/// to it, and every transaction in `committed` is on every node at the height the
/// client was told. Returns the common height.
pub fn check_consistent(
    net: &Network,
    nodes: &[usize],
    committed: &[Committed],
    timeout: Duration,
) -> anyhow::Result<u64> {
    let urls: Vec<String> = nodes.iter().map(|i| net.node(*i).map(|n| n.url.clone())).collect::<anyhow::Result<_>>()?;
    let target = committed.iter().map(|c| c.height).max().unwrap_or(0).max(max_height(&urls));
    wait_all_at(&urls, target, timeout).context("nodes did not converge")?;
    for h in 1..=target {
        let reference = net.block_at(nodes[0], h)?;
        for i in &nodes[1..] {
            let b = net.block_at(*i, h)?;
            anyhow::ensure!(
                b == reference,
                "fork at height {h}: node {i} has {b:?}, node {} has {reference:?}",
                nodes[0]
            );
        }
    }
    for c in committed {
        for (i, u) in nodes.iter().zip(&urls) {
            let at = tx_height(u, &c.hash);
            anyhow::ensure!(
                at == Some(c.height),
                "transaction {} reported committed at {} is at {at:?} on node {i}",
                c.hash,
                c.height
            );
        }
    }
    Ok(target)
}

/// The node (index into `nodes`' order in `net`) that proposes round 0 of height `h`:
/// validator `h mod n` of the validator set sorted by key (see the consensus context's
/// `select_proposer`).
pub fn proposer_of(net: &Network, validators: usize, h: u64) -> anyhow::Result<usize> {
    // Any node that answers (some may be frozen).
    let status = net
        .configs
        .iter()
        .find_map(|(_, url)| quick_get(&format!("{url}/status")))
        .context("no node answers /status")?;
    let set = status["validators"].as_array().context("no validator set in /status")?;
    let key = set
        .get((h % set.len().max(1) as u64) as usize)
        .and_then(|v| v["public_key"].as_str())
        .context("validator without a key")?
        .to_string();
    for i in 0..validators {
        let vk = jialing_genesis::keyfile::read(&net.net.join(format!("node-{i}/keys/validator.json")))?;
        if vk.public().to_string() == key {
            return Ok(i);
        }
    }
    bail!("no node holds validator key {key}")
}
