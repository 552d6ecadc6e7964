//! `loadgen`: drives a running Jialing network with signed transactions and prints
//! committed tx/s and finality latency (submit → seen in a committed block).
//!
//! Every transaction is signed before the timed window. Load keys are certified first
//! (by an organisation admin), so many signers submit in parallel. The last line is
//! machine-readable: `committed_tps=N window_tps=N p50_ms=N p99_ms=N verify_per_core=N`.
//!
//! Two rates: `committed_tps` is the steady rate, counted from the first block that
//! carries load to the end of the window (that block's transactions not counted: they
//! were committed at the interval's start); `window_tps` divides everything committed
//! in the window by the whole window, so it also holds the pipeline fill of the
//! start, when transactions are submitted and checked but no block can hold them yet
//! (the second line says when the first block with load was seen; the two rates
//! differed by 1 to 5% in 10 s backlog runs). The latencies are every transaction's,
//! the fill included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jialing_contracts::CallPayload;
use jialing_core::{Hash, Keypair, Purpose, SignedTransaction, Transaction};
use jialing_tests::{agent, get};

struct Args {
    node: String,
    net: PathBuf,
    workload: String,
    seconds: u64,
    per_signer: usize,
    batch: usize,
    connections: usize,
    rate: Option<u64>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        node: "http://127.0.0.1:8700".into(),
        net: PathBuf::new(),
        workload: "trace".into(),
        seconds: 20,
        per_signer: 2000,
        batch: 500,
        connections: 4,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--node" => a.node = val()?,
            "--net" => a.net = val()?.into(),
            "--workload" => a.workload = val()?,
            "--seconds" => a.seconds = val()?.parse()?,
            "--per-signer" => a.per_signer = val()?.parse()?,
            "--batch" => a.batch = val()?.parse()?,
            "--connections" => a.connections = val()?.parse()?,
            "--rate" => a.rate = Some(val()?.parse()?),
            "--help" | "-h" => {
                println!(
                    "loadgen --node URL[,URL...] --net DIR [--workload trace|certify] [--seconds 20] [--per-signer 2000] [--batch 500 (scripts/bench: 2000)] \
                     [--connections 4] [--rate TX_PER_S]\n\
                     DIR is a `jialing-node testnet` directory (genesis.toml, org-keys/*/). \
                     trace: every producer's operator signs --per-signer trace.create_lot; \
                     certify: every organisation admin signs membership.certify of fresh keys. \
                     All are signed before the timed window, submitted for --seconds, and \
                     committed tx/s and submit-to-commit latency are printed."
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}; see --help"),
        }
    }
    if a.net.as_os_str().is_empty() {
        bail!("--net is required (a `jialing-node testnet` output directory)");
    }
    Ok(a)
}

fn chain_id(node: &str) -> anyhow::Result<String> {
    Ok(get(&format!("{node}/status"))?["chain_id"].as_str().unwrap_or_default().to_string())
}

fn next_nonce(node: &str, key: &Keypair) -> anyhow::Result<u64> {
    Ok(get(&format!("{node}/v1/nonce/{}", key.public()))?["pending_next_nonce"].as_u64().unwrap_or(0))
}

fn sign(chain: &str, key: &Keypair, nonce: u64, call: (String, String, Vec<u8>)) -> SignedTransaction {
    let (contract, method, payload) = call;
    Transaction { chain_id: chain.into(), signer: key.public(), nonce, contract, method, payload }.sign(key)
}

/// Codes that ask the client to slow down and send the same transaction again later.
const BACK_PRESSURE: [&str; 4] = ["mempool_full", "too_many_pending", "nonce_too_far", "overloaded"];

/// Each transaction's hex, as `POST /v1/txs` carries it.
fn hex_txs(txs: &[SignedTransaction]) -> Vec<String> {
    txs.iter().map(|t| hex::encode(t.to_bytes())).collect()
}

/// The body of `POST /v1/txs` for transactions already in hex (which needs no JSON
/// escaping): a body for the refused part of a batch is made in the window, so it is
/// only joined, not encoded again.
fn batch_body(hex: &[String]) -> String {
    let mut body = String::with_capacity(hex.iter().map(|h| h.len() + 3).sum::<usize>() + 10);
    body.push_str("{\"txs\":[");
    for (i, h) in hex.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push('"');
        body.push_str(h);
        body.push('"');
    }
    body.push_str("]}");
    body
}

/// The part of the `POST /v1/txs` answer the load generator reads.
#[derive(serde::Deserialize)]
struct SubmitAnswer {
    results: Vec<SubmitResult>,
}

#[derive(serde::Deserialize)]
struct SubmitResult {
    accepted: bool,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Submits a batch (its body built beforehand); returns the transactions refused for
/// back-pressure (pool limits), in order, to be sent again once blocks have made room.
fn submit(agent: &ureq::Agent, node: &str, txs: &[String], body: &str) -> anyhow::Result<Vec<String>> {
    let mut r = agent.post(&format!("{node}/v1/txs")).content_type("application/json").send(body)?;
    let status = r.status().as_u16();
    if status == 503 {
        // The node's checkers are all busy: the whole batch again, after Retry-After.
        let secs =
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(1);
        std::thread::sleep(Duration::from_secs(secs));
        return Ok(txs.to_vec());
    }
    if status != 200 {
        let text = r.body_mut().read_to_string().unwrap_or_default();
        bail!("submit failed: {status} {text}");
    }
    let answer: SubmitAnswer = r.body_mut().with_config().limit(64 << 20).read_json()?;
    let mut again = Vec::new();
    let mut bad = Vec::new();
    for (t, r) in txs.iter().zip(&answer.results) {
        if r.accepted {
            continue;
        }
        let code = r.error.as_ref().and_then(|e| e["code"].as_str());
        match code {
            Some(c) if BACK_PRESSURE.contains(&c) => again.push(t.clone()),
            _ => bad.push(r),
        }
    }
    if let Some(first) = bad.first() {
        eprintln!("{} of {} rejected, first: {:?}", bad.len(), answer.results.len(), first.error);
    }
    Ok(again)
}

/// The part of `GET /v1/block/{height}` the load generator reads.
#[derive(serde::Deserialize)]
struct BlockAnswer {
    tx_hashes: Vec<String>,
}

/// One request of a connection: its transactions (hex), their hashes and the request
/// body.
struct Batch {
    txs: Vec<String>,
    hashes: Vec<Hash>,
    body: String,
}

fn find_key(net: &std::path::Path, file: &str, public: &jialing_core::PublicKey) -> Option<Keypair> {
    let dirs = std::fs::read_dir(net.join("org-keys")).ok()?;
    dirs.flatten()
        .filter_map(|d| jialing_genesis::keyfile::read(&d.path().join(file)).ok())
        .find(|k| k.public() == *public)
}

fn wait_committed(node: &str, hash: &Hash, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(v) = get(&format!("{node}/v1/tx/{hash}"))
            && v["status"] == "committed"
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("transaction {hash} not committed within {timeout:?}")
}

/// Single-core ed25519 verification rate, measured here and now: the best of five
/// 200 ms samples, so a node still compacting its store in the background (the box has
/// two cores) does not lower the rate every ratio is divided by.
fn verify_rate() -> u64 {
    let k = Keypair::from_label("bench");
    let d = jialing_core::sha256(b"bench");
    let s = k.sign("c", Purpose::Transaction, &d);
    let mut best = 0u64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            for _ in 0..50 {
                let _ = k.public().verify("c", Purpose::Transaction, &d, &s);
            }
            n += 50;
        }
        best = best.max((n as f64 / start.elapsed().as_secs_f64()) as u64);
    }
    best
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let node = a.node.split(',').next().unwrap_or_default().trim().to_string();
    let chain = chain_id(&node)?;
    let genesis = jialing_genesis::Genesis::load(&a.net.join("genesis.toml"))?;
    let init = genesis.initial_state();
    let run_tag = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos());
    let (keys, workload) = match a.workload.as_str() {
        "certify" => {
            let mut keys = Vec::new();
            let mut roles = Vec::new();
            for org in &init.orgs {
                if let Some(k) = find_key(&a.net, "admin.json", &org.admin) {
                    roles.push(org.roles[0]);
                    keys.push(k);
                }
            }
            (keys, jialing_tests::workload::Workload::Certify { roles })
        }
        "trace" => {
            let members: Vec<_> = init
                .members
                .iter()
                .filter(|(_, m)| m.roles.contains(&jialing_core::Role::Producer))
                .filter_map(|(k, _)| find_key(&a.net, "operator.json", k))
                .collect();
            let Some(first) = members.first() else {
                bail!("no producer operator key under {}/org-keys", a.net.display())
            };
            let product = format!("LG{}", &run_tag[run_tag.len() - 10..]);
            let call = jialing_contracts::trace::methods::RegisterProduct {
                code: product.clone(),
                name: "load".into(),
                category: jialing_contracts::trace::types::Category::Fruit,
                standard: String::new(),
            }
            .to_call();
            let reg = sign(&chain, first, next_nonce(&node, first)?, call);
            let hex = hex_txs(std::slice::from_ref(&reg));
            submit(&agent(), &node, &hex, &batch_body(&hex))?;
            wait_committed(&node, &reg.hash(), Duration::from_secs(60))?;
            let time_ms = get(&format!("{node}/status"))?["time_ms"].as_u64().unwrap_or(0);
            (members, jialing_tests::workload::Workload::Trace { product, time_ms })
        }
        other => bail!("unknown workload {other:?}: use trace or certify"),
    };
    if keys.is_empty() {
        bail!("no matching key files under {}/org-keys", a.net.display());
    }
    let started_sign = Instant::now();
    let mut per_key: Vec<Vec<SignedTransaction>> = Vec::new();
    for (ki, k) in keys.iter().enumerate() {
        let first = next_nonce(&node, k)?;
        per_key.push(
            (0..a.per_signer as u64).map(|i| sign(&chain, k, first + i, workload.call(ki, i, &run_tag))).collect(),
        );
    }
    let total_signed: usize = per_key.iter().map(Vec::len).sum();
    let signed_bytes: usize = per_key.iter().flatten().map(|t| t.to_bytes().len()).sum();
    let tx_bytes_avg = signed_bytes / total_signed.max(1);
    eprintln!("pre-signed {total_signed} transactions in {:.1} s", started_sign.elapsed().as_secs_f64());

    // 3. Submit for the window over several connections; follow blocks for latency.
    let submit_times: Arc<Mutex<HashMap<Hash, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let start_height = get(&format!("{node}/status"))?["height"].as_u64().unwrap_or(0);
    let window = Duration::from_secs(a.seconds);
    let chunks: Vec<Vec<Vec<SignedTransaction>>> = {
        let mut c: Vec<Vec<Vec<SignedTransaction>>> = (0..a.connections).map(|_| Vec::new()).collect();
        for (i, txs) in per_key.into_iter().enumerate() {
            c[i % a.connections].push(txs);
        }
        c
    };
    // Connections without a signer of their own stay idle: share the rate among the
    // others so the offered load is what --rate says.
    let active = chunks.iter().filter(|c| !c.is_empty()).count().max(1);
    let per_conn_rate = a.rate.map(|r| r as f64 / active as f64);
    // At a fixed rate, batches of 50 ms worth: the offered load is smooth, not a burst
    // of whole batches at the start.
    let batch = match per_conn_rate {
        Some(r) => a.batch.min((r / 20.0).ceil().max(1.0) as usize),
        None => a.batch,
    };
    // Like the signatures, every request body and hash is made before the window: the
    // load generator shares the machine with the nodes, and what it spends in the
    // window is taken from them.
    let started_bodies = Instant::now();
    let plans: Vec<Vec<Batch>> = chunks
        .into_iter()
        .map(|conn| {
            // Interleave this connection's signers, nonce order per signer preserved.
            let longest = conn.iter().map(Vec::len).max().unwrap_or(0);
            let mut order = Vec::new();
            for i in 0..longest {
                for s in &conn {
                    if let Some(t) = s.get(i) {
                        order.push(t.clone());
                    }
                }
            }
            order
                .chunks(batch)
                .map(|b| {
                    let txs = hex_txs(b);
                    Batch { hashes: b.iter().map(SignedTransaction::hash).collect(), body: batch_body(&txs), txs }
                })
                .collect()
        })
        .collect();
    eprintln!(
        "built {} request bodies in {:.1} s",
        plans.iter().map(Vec::len).sum::<usize>(),
        started_bodies.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let mut handles = Vec::new();
    // Connections spread over the nodes given (comma-separated --node), so every node's
    // API and mempool take load; transaction gossip brings it to every other node.
    let targets: Vec<String> = a.node.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    for (ci, plan) in plans.into_iter().enumerate() {
        let targets = targets.clone();
        let times = submit_times.clone();
        handles.push(std::thread::spawn(move || {
            let agent = agent();
            let mut sent = 0usize;
            // An unreachable or failing node: move on to the next one given.
            let mut target = ci % targets.len();
            for b in plan {
                if t0.elapsed() >= window {
                    break;
                }
                if let Some(r) = per_conn_rate {
                    let due = Duration::from_secs_f64(sent as f64 / r);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                let now = Instant::now();
                {
                    let mut m = times.lock().unwrap();
                    for h in &b.hashes {
                        m.insert(*h, now);
                    }
                }
                // Back-pressure refusals are sent again (nonce order kept) until taken;
                // only then is a body made in the window.
                let count = b.txs.len();
                let mut pending = b.txs;
                let mut body = b.body;
                while !pending.is_empty() && t0.elapsed() < window {
                    match submit(&agent, &targets[target], &pending, &body) {
                        Ok(again) => {
                            // Nothing taken: the same body again, after a pause.
                            if again.len() == pending.len() {
                                std::thread::sleep(Duration::from_millis(50));
                            } else if !again.is_empty() {
                                body = batch_body(&again);
                            }
                            pending = again;
                        }
                        Err(e) => {
                            eprintln!("submit to {} failed ({e}); trying the next node", targets[target]);
                            target = (target + 1) % targets.len();
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
                sent += count;
            }
            sent
        }));
    }
    // Follow blocks.
    let mut latencies = Vec::new();
    let mut committed_in_window = 0usize;
    let mut last_commit = t0;
    // When the first block carrying load was seen, and how many of its transactions.
    let mut first_block: Option<(Instant, usize)> = None;
    let mut h = start_height + 1;
    let follow_deadline = t0 + window + Duration::from_secs(30);
    let mut follow = 0usize;
    let follower = agent();
    let get_json = |url: &str| -> anyhow::Result<serde_json::Value> {
        Ok(follower.get(url).call()?.body_mut().with_config().limit(64 << 20).read_json()?)
    };
    loop {
        let node = &targets[follow % targets.len()];
        let tip = match get_json(&format!("{node}/status")) {
            Ok(v) => v["height"].as_u64().unwrap_or(0),
            Err(e) => {
                eprintln!("following blocks on {node} failed ({e}); following the next node");
                follow += 1;
                if Instant::now() > follow_deadline {
                    break;
                }
                continue;
            }
        };
        while h <= tip {
            let b = match follower
                .get(&format!("{node}/v1/block/{h}"))
                .call()
                .map_err(anyhow::Error::from)
                .and_then(|mut r| Ok(r.body_mut().with_config().limit(64 << 20).read_json::<BlockAnswer>()?))
            {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("reading block {h} on {node} failed ({e}); following the next node");
                    follow += 1;
                    break;
                }
            };
            let seen = Instant::now();
            let m = submit_times.lock().unwrap();
            let mut load = 0usize;
            for th in &b.tx_hashes {
                if let Ok(hash) = Hash::from_hex(th)
                    && let Some(t) = m.get(&hash)
                {
                    latencies.push(seen.duration_since(*t).as_millis() as u64);
                    if seen.duration_since(t0) <= window {
                        committed_in_window += 1;
                        load += 1;
                        last_commit = seen;
                    }
                }
            }
            if load > 0 && first_block.is_none() {
                first_block = Some((seen, load));
            }
            h += 1;
        }
        let all_submitted = handles.iter().all(|h| h.is_finished());
        let submitted = submit_times.lock().unwrap().len();
        if (all_submitted && latencies.len() >= submitted) || Instant::now() > follow_deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent: usize = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    latencies.sort_unstable();
    // When the supply ran out before the window closed, divide by the time to the last
    // commit, not by the whole window.
    let all_in_window = committed_in_window == sent;
    let end = if all_in_window { last_commit } else { t0 + window };
    let window_tps = committed_in_window as f64 / end.duration_since(t0).as_secs_f64().max(0.001);
    let tps = match first_block {
        Some((first, in_first)) if end.duration_since(first) >= Duration::from_millis(100) => {
            (committed_in_window - in_first) as f64 / end.duration_since(first).as_secs_f64()
        }
        // One block, or all of them at once: no interval to divide by.
        _ => window_tps,
    };
    let fill_s = first_block.map_or(0.0, |(first, _)| first.duration_since(t0).as_secs_f64());
    if all_in_window {
        println!(
            "supply exhausted: every submitted transaction committed {:.1} s into the window",
            end.duration_since(t0).as_secs_f64()
        );
    }
    let verify = verify_rate();
    println!(
        "window {} s, submitted {sent}, committed in window {committed_in_window}, committed total {}, \
         first block with load seen {fill_s:.2} s into the window",
        a.seconds,
        latencies.len()
    );
    println!(
        "committed_tps={} window_tps={} p50_ms={} p99_ms={} verify_per_core={} tx_bytes_avg={tx_bytes_avg} committed_total={}",
        tps.round() as u64,
        window_tps.round() as u64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        verify,
        latencies.len()
    );
    Ok(())
}
