//! `jialing audit`: an auditor's tools that trust no node.
//! - `replay` downloads every block from genesis and checks every signature, certificate
//!   and root, re-executes every transaction with the same contracts and compares
//!   state and receipt roots, reporting the first divergence;
//! - `history` lists every transaction that touched a subject, as CSV or JSON;
//! - `report` replays and writes a summary signed with the auditor's key;
//! - `queries` verifies a node's query log ([`crate::cli::queries`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use jialing_contracts::block_validator::{BlockError, Parent, validate_block};
use jialing_contracts::{MemState, keys};
use jialing_core::crypto::Purpose;
use jialing_core::state_tree::StateTree;
use jialing_core::{Block, BlockHeader, CommitCertificate, Hash, ValidatorSet, encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cli::verify::trusted;
use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Download every block from genesis and verify and re-execute all of it.
    Replay(ReplayArgs),
    /// Every transaction that touched an organisation, lot, data product or credit
    /// subject.
    History(HistoryArgs),
    /// Replay, then write a summary signed with the auditor's key, with the last
    /// block's certificate; `jialing verify REPORT --genesis G` checks it.
    Report(ReportArgs),
    /// Download every block with its certificate into a file (one hex line per
    /// block from genesis), for archiving and offline replay (`replay --blocks`).
    Export(ExportArgs),
    /// Verify a node's query log (hash chain, and head against the ledger's anchor)
    /// and print who queried what: from the node (`--query-key` of an auditor) or a
    /// copy of the file (`--file`).
    Queries(crate::cli::queries::QueriesArgs),
}

/// `jialing audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `jialing audit replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The network's genesis file (the trust root).
    #[arg(long, env = "JIALING_GENESIS", value_name = "FILE")]
    pub genesis: PathBuf,
    /// Stop at this height (default: the node's tip).
    #[arg(long)]
    pub to: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Replay an exported block file (`jialing audit export`) instead of the node.
    #[arg(long, value_name = "FILE")]
    pub blocks: Option<PathBuf>,
    /// Write every certified validator-set change to FILE, for `jialing verify
    /// --validator-history` on proofs of blocks after a change.
    #[arg(long, value_name = "FILE")]
    pub validator_history_out: Option<PathBuf>,
}

/// `jialing audit history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// What kind of subject: org, lot, product, data_product, licence, credit_subject, key.
    #[arg(long, default_value = "lot")]
    pub kind: String,
    /// The subject's id (USCC, lot id, product id, key hex).
    pub subject: String,
    /// From this height.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Up to this height.
    #[arg(long)]
    pub to: Option<u64>,
    /// `csv` or `json`.
    #[arg(long, default_value = "csv")]
    pub format: String,
}

/// `jialing audit report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The network's genesis file.
    #[arg(long, env = "JIALING_GENESIS", value_name = "FILE")]
    pub genesis: PathBuf,
    /// The auditor's key file (signs the report).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to write the report (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// What a replay found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Chain id.
    pub chain_id: String,
    /// Last height replayed.
    pub height: u64,
    /// Its block hash.
    pub block_hash: Hash,
    /// Its state root, recomputed.
    pub state_root: Hash,
    /// Blocks replayed.
    pub blocks: u64,
    /// Transactions replayed.
    pub txs: u64,
    /// Transactions by `contract.method` and outcome (`ok` / `refused`).
    pub counts: BTreeMap<String, u64>,
    /// The first divergence, if any.
    pub divergence: Option<String>,
    /// Every validator-set change, certified, for `jialing verify --validator-history`.
    #[serde(skip)]
    pub history: jialing_core::proof::ValidatorHistory,
    /// The last replayed block's header with its certificate (for signed reports).
    #[serde(skip)]
    pub last_block: Option<jialing_core::proof::CertifiedHeader>,
}

fn fail(h: u64, what: String) -> String {
    format!("height {h}: {what}")
}

/// Where a replay reads blocks from.
pub enum Source<'a> {
    /// A node's API.
    Node(&'a Client),
    /// An exported block file, one hex line per block from genesis.
    File(Vec<String>),
}

impl Source<'_> {
    fn tip(&self) -> Result<u64, ClientError> {
        match self {
            Source::Node(c) => Ok(c.get_json("/status")?["height"].as_u64().unwrap_or(0)),
            Source::File(lines) => Ok(lines.len().saturating_sub(1) as u64),
        }
    }

    fn blocks(&self, from: u64, limit: u64) -> Result<Vec<(Block, Option<CommitCertificate>)>, ClientError> {
        match self {
            Source::Node(c) => {
                let v = c.get_json(&format!("/v1/blocks/raw?from={from}&limit={limit}"))?;
                let page = v["blocks"].as_array().ok_or_else(|| ClientError::Decode {
                    what: "raw blocks".into(),
                    reason: "the answer has no blocks array".into(),
                })?;
                decode_hex_blocks(page.iter().map(|b| b.as_str().unwrap_or_default()))
            }
            Source::File(lines) => {
                decode_hex_blocks(lines.iter().skip(from as usize).take(limit as usize).map(|l| l.trim()))
            }
        }
    }
}

/// Replays the chain the node serves; stops at the first divergence.
pub fn replay(
    client: &Client,
    genesis: &std::path::Path,
    to: Option<u64>,
    quiet: bool,
) -> Result<ReplaySummary, ClientError> {
    replay_from(&Source::Node(client), genesis, to, quiet)
}

/// Replays the chain from `source`; stops at the first divergence.
pub fn replay_from(
    source: &Source<'_>,
    genesis: &std::path::Path,
    to: Option<u64>,
    quiet: bool,
) -> Result<ReplaySummary, ClientError> {
    let (chain_id, mut set) = trusted(genesis)?;
    let g = jialing_genesis::Genesis::load(genesis).map_err(|e| ClientError::Args(e.to_string()))?;
    let init = g.initial_state();
    let (mut prev, mut tree, writes) =
        init.genesis_block().map_err(|e| ClientError::Args(format!("genesis state: {e}")))?;
    let mut state = MemState::default();
    state.apply(&writes);
    // The history accumulator over the blocks replayed so far: each header's
    // `history_root` must be its root (checked by the block validator).
    let mut history = jialing_core::history::Frontier::new();
    history.append(&prev.hash());
    let tip = source.tip()?;
    let last = to.unwrap_or(tip).min(tip);
    let bar = if quiet || last == 0 {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(last);
        b.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} blocks {per_sec} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let mut summary = ReplaySummary {
        chain_id: chain_id.clone(),
        height: 0,
        block_hash: prev.hash(),
        state_root: tree.root(),
        blocks: 0,
        txs: 0,
        counts: BTreeMap::new(),
        divergence: None,
        history: jialing_core::proof::ValidatorHistory { chain_id: chain_id.clone(), changes: vec![] },
        last_block: None,
    };
    // The node's genesis block must be the one the genesis file implies.
    if let Some((b0, _)) = source.blocks(0, 1)?.into_iter().next()
        && b0.header.hash() != prev.hash()
    {
        summary.divergence = Some(fail(
            0,
            format!(
                "the node's genesis block {} is not the one the genesis file gives ({}): another chain or another genesis file",
                b0.header.hash(),
                prev.hash()
            ),
        ));
        return Ok(summary);
    }
    let mut h = 1u64;
    'outer: while h <= last {
        let blocks = match source.blocks(h, 100) {
            Ok(b) => b,
            Err(e @ ClientError::Decode { .. }) => {
                summary.divergence = Some(fail(h, format!("undecodable block data: {e}")));
                break;
            }
            Err(e) => return Err(e),
        };
        if blocks.is_empty() {
            summary.divergence = Some(fail(h, "the node returned no block".into()));
            break;
        }
        for (block, cert) in blocks {
            if h > last {
                break 'outer;
            }
            match check_block(&chain_id, h, &prev, &set, &history, &block, cert.as_ref(), &mut state, &tree) {
                Ok((new_tree, new_set)) => {
                    tree = new_tree;
                    history.append(&block.header.hash());
                    if let Some(s) = new_set {
                        if let Some(c) = cert.clone() {
                            summary.history.changes.push(jialing_core::proof::ValidatorChange {
                                block: jialing_core::proof::CertifiedHeader {
                                    header: block.header.clone(),
                                    certificate: c,
                                },
                                validators: s.clone(),
                                proof: tree.prove(keys::VALIDATORS),
                            });
                        }
                        set = s;
                    }
                }
                Err(e) => {
                    summary.divergence = Some(fail(h, e));
                    break 'outer;
                }
            }
            for stx in &block.txs {
                *summary.counts.entry(format!("{}.{}", stx.tx.contract, stx.tx.method)).or_default() += 1;
            }
            summary.txs += block.txs.len() as u64;
            summary.blocks += 1;
            summary.height = h;
            summary.block_hash = block.header.hash();
            summary.state_root = tree.root();
            summary.last_block =
                cert.map(|c| jialing_core::proof::CertifiedHeader { header: block.header.clone(), certificate: c });
            prev = block.header;
            bar.inc(1);
            h += 1;
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Decodes hex lines of borsh `(Block, Option<CommitCertificate>)`, as the node's
/// `/v1/blocks/raw` serves them and `audit export` writes them.
fn decode_hex_blocks<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<(Block, Option<CommitCertificate>)>, ClientError> {
    let bad = |r: String| ClientError::Decode { what: "raw blocks".into(), reason: r };
    lines
        .map(|l| {
            let bytes = hex::decode(l).map_err(|e| bad(e.to_string()))?;
            encoding::decode_limited::<(Block, Option<CommitCertificate>)>("raw block", &bytes, 64 * 1024 * 1024)
                .map_err(|e| bad(e.to_string()))
        })
        .collect()
}

/// Checks one block with its certificate, then by the one block validator the nodes
/// use ([`validate_block`]: header and its history root, limits, roots, admission,
/// execution, signatures);
/// applies it to `state` and returns the new tree (and the new validator set if it
/// changed).
#[allow(clippy::too_many_arguments)]
fn check_block(
    chain_id: &str,
    h: u64,
    prev: &BlockHeader,
    set: &ValidatorSet,
    history: &jialing_core::history::Frontier,
    block: &Block,
    cert: Option<&CommitCertificate>,
    state: &mut MemState,
    tree: &StateTree,
) -> Result<(StateTree, Option<ValidatorSet>), String> {
    let hd = &block.header;
    if hd.height != h {
        return Err(format!("the node sent block {} when asked for {h}", hd.height));
    }
    if hd.chain_id != chain_id {
        return Err(format!("block names chain {:?}, not {chain_id:?}", hd.chain_id));
    }
    let Some(cert) = cert else { return Err("the block has no commit certificate".into()) };
    cert.verify(chain_id, hd, set).map_err(|e| format!("commit certificate: {e}"))?;
    let parent = Parent { header: prev, hash: prev.hash(), validators: set, history };
    let valid = validate_block(parent, &*state, tree, block, &|_, _, _| false).map_err(|e| match e {
        BlockError::Invalid(e) => e.to_string(),
        BlockError::Storage(e) => format!("replay state: {e}"),
    })?;
    let outcome = valid.outcome;
    let new_set = match outcome.writes.get(keys::VALIDATORS) {
        Some(Some(b)) => {
            let set = encoding::decode::<ValidatorSet>("validator set", b).map_err(|e| e.to_string())?;
            set.check().map_err(|e| format!("the block writes an invalid validator set: {e}"))?;
            Some(set)
        }
        _ => None,
    };
    state.apply(&outcome.writes);
    Ok((outcome.tree, new_set))
}

fn verify_rate() -> u64 {
    let k = jialing_core::Keypair::from_label("audit/bench");
    let d = jialing_core::sha256(b"audit");
    let s = k.sign("bench", Purpose::Transaction, &d);
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let _ = k.public().verify("bench", Purpose::Transaction, &d, &s);
    }
    (n as f64 / t.elapsed().as_secs_f64().max(1e-9)) as u64
}

/// Runs an audit command.
pub fn run(cmd: &AuditCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        AuditCommand::Export(a) => {
            let tip = Source::Node(client).tip()?;
            let mut text = String::new();
            let mut h = 0;
            while h <= tip {
                let v = client.get_json(&format!("/v1/blocks/raw?from={h}&limit=100"))?;
                let page = v["blocks"].as_array().cloned().unwrap_or_default();
                if page.is_empty() {
                    break;
                }
                for b in &page {
                    text.push_str(b.as_str().unwrap_or_default());
                    text.push('\n');
                }
                h += page.len() as u64;
            }
            std::fs::write(&a.out, text).map_err(|e| ClientError::Io { path: a.out.clone(), source: e })?;
            out.emit(&json!({ "blocks": h, "file": a.out }), || {
                format!("exported blocks 0..{} to {}", h.saturating_sub(1), a.out.display())
            })
        }
        AuditCommand::Replay(a) => {
            let started = Instant::now();
            let source = match &a.blocks {
                Some(f) => Source::File(
                    std::fs::read_to_string(f)
                        .map_err(|e| ClientError::Io { path: f.clone(), source: e })?
                        .lines()
                        .map(str::to_string)
                        .collect(),
                ),
                None => Source::Node(client),
            };
            let s = replay_from(&source, &a.genesis, a.to, a.quiet || out.json)?;
            if let Some(f) = &a.validator_history_out {
                let text = serde_json::to_string_pretty(&s.history).unwrap_or_default();
                std::fs::write(f, text).map_err(|e| ClientError::Io { path: f.clone(), source: e })?;
            }
            let secs = started.elapsed().as_secs_f64().max(1e-6);
            let tps = (s.txs as f64 / secs) as u64;
            let verify = verify_rate();
            let line = format!(
                "replayed_blocks={} replayed_txs={} replay_tps={tps} verify_per_core={verify}",
                s.blocks, s.txs
            );
            let v = json!({ "summary": s, "seconds": secs, "replay_tps": tps, "verify_per_core": verify });
            out.emit(&v, || {
                let head = match &s.divergence {
                    None => format!(
                        "OK: {} blocks and {} transactions from genesis to height {} verified and re-executed; state root {} matches",
                        s.blocks, s.txs, s.height, s.state_root
                    ),
                    Some(d) => format!("DIVERGENCE after {} good blocks: {d}", s.blocks),
                };
                format!("{head}\n{line}")
            })?;
            match s.divergence {
                None => Ok(()),
                Some(d) => Err(ClientError::Verification(d)),
            }
        }
        AuditCommand::History(a) => history(client, a),
        AuditCommand::Queries(a) => crate::cli::queries::run(a, client, out),
        AuditCommand::Report(a) => {
            let s = replay(client, &a.genesis, None, out.json)?;
            let key = jialing_genesis::keyfile::read(&a.key)?;
            let report =
                crate::report::sign(&key, &s.chain_id, json!({ "summary": s }), s.last_block.as_ref(), &s.history);
            let text = serde_json::to_string_pretty(&report).unwrap_or_default();
            std::fs::write(&a.out, text).map_err(|e| ClientError::Io { path: a.out.clone(), source: e })?;
            out.emit(&report, || {
                format!(
                    "report for {} blocks, {} transactions (height {}), {} written to {}, signed by {}",
                    s.blocks,
                    s.txs,
                    s.height,
                    if s.divergence.is_some() { "WITH A DIVERGENCE" } else { "no findings" },
                    a.out.display(),
                    key.public()
                )
            })
        }
    }
}

fn history(client: &Client, a: &HistoryArgs) -> Result<(), ClientError> {
    let mut rows: Vec<Value> = Vec::new();
    let mut from = a.from;
    loop {
        let v = client.get_json(&format!("/v1/history/{}/{}?from_height={from}&limit=1000", a.kind, a.subject))?;
        let page = v["history"].as_array().cloned().or_else(|| v.as_array().cloned()).unwrap_or_default();
        let n = page.len();
        let mut last = from;
        for r in page {
            let h = r["height"].as_u64().unwrap_or(0);
            last = last.max(h);
            if a.to.is_none_or(|t| h <= t) && h >= a.from {
                rows.push(r);
            }
        }
        if n < 1000 || a.to.is_some_and(|t| last > t) {
            break;
        }
        from = last + 1;
    }
    rows.dedup_by(|x, y| x["tx_hash"] == y["tx_hash"]);
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(());
    }
    if a.format != "csv" {
        return Err(ClientError::Args(format!("--format {:?}: use csv or json", a.format)));
    }
    println!("height,index,time_ms,tx_hash,contract,method,signer,status,code");
    let field = |v: &Value| {
        let s =
            v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() });
        if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
    };
    for r in rows {
        println!(
            "{},{},{},{},{},{},{},{},{}",
            field(&r["height"]),
            field(&r["index"]),
            field(&r["time_ms"]),
            field(&r["tx_hash"]),
            field(&r["contract"]),
            field(&r["method"]),
            field(&r["signer"]),
            field(&r["status"]),
            field(&r["code"])
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jialing_contracts::testkit::{TestLedger, validator};
    use jialing_core::Keypair;

    #[test]
    fn the_replay_refuses_a_certified_block_with_a_forged_history_root() {
        // Even a block the validators certified is refused when its header rewrites
        // the history before it: the replay checks every header's history root.
        let l = TestLedger::new();
        let set = l.validators();
        let keys: Vec<Keypair> = ["agri", "market", "credit", "bigdata"].iter().map(|n| validator(n)).collect();
        let refs: Vec<&Keypair> = keys.iter().collect();
        let run = |block: &Block| {
            let cert = CommitCertificate::sign(&l.chain_id, 1, 0, block.header.hash(), &refs);
            let mut state = l.state.clone();
            check_block(&l.chain_id, 1, &l.tip, &set, &l.history, block, Some(&cert), &mut state, &l.tree)
        };
        let honest = l.build_block(&[]).unwrap();
        assert!(run(&honest).is_ok());
        let mut forged = honest;
        forged.header.history_root = jialing_core::merkle::empty_root();
        let err = run(&forged).unwrap_err();
        assert!(err.contains("history_root"), "{err}");
    }
}
