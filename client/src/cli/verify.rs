//! `jialing proof` fetches proofs from a node; `jialing verify` checks a proof offline
//! with nothing but the network's genesis file (chain id and the validator set it
//! trusts), and prints what it established or exactly what failed.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use jialing_core::proof::{Proof, TrustedSets, ValidatorHistory, Verified};
use jialing_core::{PublicKey, ValidatorSet};
use serde_json::Value;

use crate::error::ClientError;
use crate::keys::format_utc_ms;
use crate::output::Output;
use crate::report::{self, VerifiedReport};
use crate::sdk::Client;

/// Proof requests.
#[derive(Debug, Subcommand)]
pub enum ProofCommand {
    /// Inclusion proof of a committed transaction.
    Tx {
        /// Transaction hash (hex).
        hash: String,
    },
    /// A state value (or its absence) under the tip's certified state root, e.g.
    /// `lot/FD-POMELO-2026-001`.
    State {
        /// State key.
        key: String,
    },
    /// That the chain at TO extends the chain at FROM: FROM's header, TO's certified
    /// header, block FROM's inclusion in the history TO commits to and the RFC 9162
    /// consistency proof between the two histories (O(log n) hashes, any distance).
    Consistency {
        /// Lower height (below TO).
        from: u64,
        /// Upper height (default: the tip).
        to: Option<u64>,
    },
}

/// What an offline check trusts: the genesis file, and the certified validator-set
/// changes since genesis (shared by `verify`, `anchor verify` and `attest verify`).
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The network's genesis file: the chain id and validator set to trust.
    #[arg(long, env = "JIALING_GENESIS", value_name = "FILE")]
    pub genesis: PathBuf,
    /// Certified validator-set changes since genesis (`jialing audit replay
    /// --validator-history-out`), needed for blocks certified after the set changed.
    #[arg(long, value_name = "FILE")]
    pub validator_history: Option<PathBuf>,
}

impl TrustArgs {
    /// The chain id and the validator sets to check certificates with.
    pub fn sets(&self) -> Result<(String, TrustedSets), ClientError> {
        let (chain_id, set) = trusted(&self.genesis)?;
        let sets = with_history(&chain_id, set, self.validator_history.as_deref())?;
        Ok((chain_id, sets))
    }
}

/// `jialing verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A proof as `jialing proof` or the node's /v1/proof/* answers, a report from
    /// `jialing audit report`, or `-` for stdin.
    pub file: PathBuf,
    /// What to trust: the genesis file and the validator history.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// For an audit report: the auditor's public key (hex) that must have signed it.
    #[arg(long, value_name = "KEY")]
    pub auditor: Option<PublicKey>,
}

/// Runs `jialing proof ...`: prints the node's proof JSON.
pub fn run_proof(cmd: &ProofCommand, client: &Client) -> Result<(), ClientError> {
    let path = match cmd {
        ProofCommand::Tx { hash } => format!("/v1/proof/tx/{hash}"),
        ProofCommand::State { key } => format!("/v1/proof/state?key={}", urlencode(key)),
        ProofCommand::Consistency { from, to } => match to {
            Some(t) => format!("/v1/proof/consistency?from={from}&to={t}"),
            None => format!("/v1/proof/consistency?from={from}"),
        },
    };
    let v = client.get_json(&path)?;
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The chain id and validator set a genesis file establishes.
pub fn trusted(genesis: &Path) -> Result<(String, ValidatorSet), ClientError> {
    let g = jialing_genesis::Genesis::load(genesis)
        .map_err(|e| ClientError::Args(format!("genesis file {}: {e}", genesis.display())))?;
    let init = g.initial_state();
    let set = init.validator_set().map_err(|e| ClientError::Args(format!("genesis validator set: {e}")))?;
    Ok((init.chain.chain_id.clone(), set))
}

/// The validator sets to check certificates with: the genesis set, followed through
/// every certified change of a validator history file (`jialing audit replay
/// --validator-history-out`) when one is given.
pub fn with_history(
    chain_id: &str,
    genesis_set: ValidatorSet,
    history: Option<&Path>,
) -> Result<TrustedSets, ClientError> {
    let mut trusted = TrustedSets::from_genesis(genesis_set);
    if let Some(f) = history {
        let text = std::fs::read_to_string(f).map_err(|e| ClientError::Io { path: f.to_path_buf(), source: e })?;
        let history: ValidatorHistory = serde_json::from_str(&text)
            .map_err(|e| ClientError::Verification(format!("{} is not a validator history: {e}", f.display())))?;
        trusted
            .apply_history(chain_id, &history, jialing_contracts::keys::VALIDATORS)
            .map_err(|e| ClientError::Verification(format!("validator history {}: {e}", f.display())))?;
    }
    Ok(trusted)
}

/// Reads a JSON document from a file, or stdin for `-`.
fn read_json(file: &Path) -> Result<Value, ClientError> {
    let mut text = String::new();
    let io = |e: std::io::Error| ClientError::Io { path: file.to_path_buf(), source: e };
    if file.as_os_str() == "-" {
        std::io::stdin().take(256 * 1024 * 1024).read_to_string(&mut text).map_err(io)?;
    } else {
        text = std::fs::read_to_string(file).map_err(io)?;
    }
    serde_json::from_str(&text).map_err(|e| ClientError::Verification(format!("{} is not JSON: {e}", file.display())))
}

/// Reads a proof document (`{"proof": ...}` as served, or a bare proof).
pub fn read_proof(file: &Path) -> Result<(Option<String>, Proof), ClientError> {
    proof_of(file, read_json(file)?)
}

fn proof_of(file: &Path, v: Value) -> Result<(Option<String>, Proof), ClientError> {
    let chain = v["chain_id"].as_str().map(str::to_string);
    let body = if v.get("proof").is_some() { v["proof"].clone() } else { v };
    let proof: Proof = serde_json::from_value(body).map_err(|e| {
        ClientError::Verification(format!("{} is not a proof this client understands: {e}", file.display()))
    })?;
    Ok((chain, proof))
}

/// Runs `jialing verify`.
pub fn run_verify(args: &VerifyArgs, out: Output) -> Result<(), ClientError> {
    let (chain_id, set) = trusted(&args.trust.genesis)?;
    let doc = read_json(&args.file)?;
    if report::is_report(&doc) {
        let v = report::verify(&doc, &chain_id, set, jialing_contracts::keys::VALIDATORS, args.auditor.as_ref())
            .map_err(|e| ClientError::Verification(format!("audit report {}: {e}", args.file.display())))?;
        return out.emit(&v, || human_report(&v));
    }
    let (claimed_chain, proof) = proof_of(&args.file, doc)?;
    if let Some(c) = claimed_chain
        && c != chain_id
    {
        return Err(ClientError::Verification(format!(
            "the proof is for chain {c:?}, the genesis file defines {chain_id:?}"
        )));
    }
    let trusted = with_history(&chain_id, set, args.trust.validator_history.as_deref())?;
    let verified = proof.verify_trusted(&chain_id, &trusted).map_err(|e| {
        let hint = if e.to_string().contains("validator set") && args.trust.validator_history.is_none() {
            " (if the validator set changed since genesis, pass --validator-history from `jialing audit replay --validator-history-out`)"
        } else {
            ""
        };
        ClientError::Verification(format!("{e}{hint}"))
    })?;
    out.emit(&verified, || human(&verified))
}

fn block_line(b: &jialing_core::proof::VerifiedHeader) -> String {
    format!(
        "block {} ({}) at {}, signed by {} of {} validators ({} of {} voting power, more than two thirds)",
        b.height,
        b.block_hash,
        format_utc_ms(b.time_ms),
        b.signers,
        b.validators,
        b.signed_power,
        b.total_power
    )
}

fn human_report(v: &VerifiedReport) -> String {
    let findings = match &v.divergence {
        None => "no findings".to_string(),
        Some(d) => format!("FINDING: {d}"),
    };
    let block = match &v.block {
        Some(b) => block_line(b),
        None => "genesis only".into(),
    };
    format!(
        "VERIFIED: audit report signed by {} for chain {:?}: {} blocks and {} transactions replayed to height {}, state root {}, {findings}; it ends at {block}",
        v.auditor, v.chain_id, v.blocks, v.txs, v.height, v.state_root
    )
}

fn human(v: &Verified) -> String {
    match v {
        Verified::Tx { tx_hash, index, block, receipt } => {
            let outcome = match receipt
                .as_deref()
                .map(|b| jialing_core::encoding::decode::<jialing_contracts::receipt::Receipt>("receipt", b))
            {
                None => String::new(),
                Some(Ok(r)) => match r.status {
                    jialing_contracts::receipt::TxStatus::Ok => "; its receipt says it was applied".into(),
                    jialing_contracts::receipt::TxStatus::Refused { code, message } => {
                        format!("; its receipt says it was REFUSED ({code}: {message}) and changed nothing")
                    }
                },
                Some(Err(e)) => format!("; its receipt is under the block's receipts root but does not decode: {e}"),
            };
            format!("VERIFIED: transaction {tx_hash} is #{index} in {}{outcome}", block_line(block))
        }
        Verified::State { key, present, value_hash, block } => match value_hash {
            Some(h) if *present => {
                format!("VERIFIED: state key {key:?} holds the value with SHA-256 {h} in {}", block_line(block))
            }
            _ => format!("VERIFIED: state key {key:?} is absent in {}", block_line(block)),
        },
        Verified::Consistency { from_height, from_hash, to } => format!(
            "VERIFIED: the chain at {} extends block {from_height} ({from_hash}): that block is in the history \
             block {} commits to, and that history extends the one block {from_height} commits to; {}",
            to.height,
            to.height,
            block_line(to)
        ),
    }
}
