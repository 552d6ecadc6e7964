//! The `jialing` command line: global options and one module per command group.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jialing_core::SignedTransaction;
use serde_json::json;

use crate::error::ClientError;
use crate::output::{self, Output};
use crate::sdk::Client;

pub mod anchor;
pub mod attest;
pub mod audit;
pub mod checkpoint;
pub mod data;
pub mod epcis;
pub mod gov;
pub mod keys;
pub mod national;
pub mod qr;
pub mod queries;
pub mod query;
pub mod tx;
pub mod verify;

const EXIT_CODES: &str = "Exit codes: 0 ok, 1 error, 2 bad usage or arguments, 3 transaction refused by a \
contract rule, 4 not committed within --wait-secs, 5 node unreachable.";

/// The default node URL.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:8700";

/// Jialing client: manage keys, submit transactions to any contract method, query
/// blocks, transactions, lots and organisations.
#[derive(Debug, Parser)]
#[command(name = "jialing", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    /// The node's API URL.
    #[arg(long, global = true, env = "JIALING_NODE", default_value = DEFAULT_NODE, value_name = "URL")]
    pub node: String,
    /// Print one machine-readable JSON document instead of text (errors go to stderr as
    /// {"error": {code, message}}).
    #[arg(long, global = true)]
    pub json: bool,
    /// Sign every read with this member key file (a query request bound to the node,
    /// with a fresh nonce): restricted items the key may read are served in full, raw
    /// blocks (audit replay and export) need it, and the node logs each such query.
    #[arg(long, global = true, env = "JIALING_QUERY_KEY", value_name = "FILE")]
    pub query_key: Option<std::path::PathBuf>,
    /// More logging on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, show, certify and revoke member keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// List contract methods, or sign and submit a call to any of them.
    Tx(tx::TxArgs),
    /// Read blocks, transactions, lots, organisations, credit records and nonces.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Show the node's chain, height, mempool and validator.
    Status,
    /// Export a lot's history as GS1 EPCIS 2.0 JSON, or import EPCIS events.
    #[command(subcommand)]
    Epcis(epcis::EpcisCommand),
    /// Export records for other systems: `national` (the national traceability
    /// platform's entity, product, batch, trace code, inspection and certificate records).
    #[command(subcommand)]
    Export(national::ExportCommand),
    /// Fetch a proof (transaction inclusion, state value, chain consistency) as JSON.
    #[command(subcommand)]
    Proof(verify::ProofCommand),
    /// Check a proof offline against the genesis file; prints what it verified or
    /// exactly what failed (exit code 6).
    Verify(verify::VerifyArgs),
    /// Auditor tools: replay and re-execute the chain from genesis, subject history,
    /// signed audit report.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Anchor this ledger on another chain: export a certified checkpoint document,
    /// verify one offline.
    #[command(subcommand)]
    Anchor(anchor::AnchorCommand),
    /// Attest documents (存证): record, revoke, fetch a proof, verify offline.
    #[command(subcommand)]
    Attest(attest::AttestCommand),
    /// Watch nodes' signed checkpoints (C2SP notes) and report disagreement.
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// Write a lot's traceability QR code (PNG and SVG) holding its GS1 Digital Link URL.
    Qr(qr::QrArgs),
    /// Governance: propose (with a --dry-run diff), show, list, approve and withdraw
    /// proposals.
    #[command(subcommand)]
    Gov(gov::GovCommand),
    /// Dataset integrity: digest a file, verify it against a registered data product,
    /// prove and check single chunks.
    #[command(subcommand)]
    Data(data::DataCommand),
}

/// How to wait for a submitted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct WaitArgs {
    /// Return once the node accepted the transaction into its mempool.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the transaction to be committed.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub wait_secs: u64,
}

/// Runs a parsed command line; prints the result or the error and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
    let out = Output { json: cli.json };
    match dispatch(&cli, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(cli: &Cli, out: Output) -> Result<(), ClientError> {
    let query_key = cli.query_key.as_deref().map(crate::keys::load).transpose()?;
    let client = || match &query_key {
        Some(k) => Client::new(&cli.node).with_query_key(k.clone()),
        None => Client::new(&cli.node),
    };
    match &cli.command {
        Command::Keys(k) => keys::run(k, &client(), out),
        Command::Tx(t) => tx::run(t, cli, out),
        Command::Query(q) => query::run(q, &client(), out),
        Command::Epcis(e) => epcis::run(e, &client(), out),
        Command::Export(e) => national::run(e, &client(), out),
        Command::Proof(p) => verify::run_proof(p, &client()),
        Command::Verify(v) => verify::run_verify(v, out),
        Command::Audit(a) => audit::run(a, &client(), out),
        Command::Qr(q) => qr::run(q, &client(), out),
        Command::Gov(g) => gov::run(g, &client(), out),
        Command::Data(d) => data::run(d, &client(), out),
        Command::Checkpoint(c) => checkpoint::run(c, out),
        Command::Attest(a) => attest::run(a, &client(), out),
        Command::Anchor(a) => anchor::run(a, &client(), out),
        Command::Status => {
            let c = client();
            let st = c.status()?;
            out.emit(&st, || output::status_human(&st, c.url()))
        }
    }
}

/// Submits `stx`, waits for commit unless told not to, prints the receipt, and turns a
/// refused receipt into [`ClientError::Refused`] (non-zero exit).
pub fn submit_and_report(
    client: &Client,
    stx: &SignedTransaction,
    wait: WaitArgs,
    out: Output,
) -> Result<(), ClientError> {
    let hash = client.submit(stx)?;
    if hash != stx.hash() {
        tracing::warn!(target: "client::tx", node = %hash, local = %stx.hash(), "the node reports a different transaction hash");
    }
    tracing::info!(target: "client::tx", %hash, nonce = stx.tx.nonce, "submitted");
    if wait.no_wait {
        return out.emit(&json!({"hash": hash, "status": "submitted"}), || {
            format!("submitted {hash}\ncheck it with: jialing query tx {hash}")
        });
    }
    let info = client.wait_committed(&hash, Duration::from_secs(wait.wait_secs))?;
    out.emit(&info, || output::tx_human(&info))?;
    info.into_result().map(drop)
}

/// Submits a transaction built by `build` with the key's next nonce; if the node
/// answers `bad_nonce` (another transaction from the same key raced it), rebuilds it
/// once with a fresh nonce.
pub fn submit_fresh(
    client: &Client,
    mut builder: crate::txbuild::TxBuilder,
    build: impl Fn(&mut crate::txbuild::TxBuilder) -> Result<SignedTransaction, ClientError>,
    wait: WaitArgs,
    out: Output,
) -> Result<(), ClientError> {
    let stx = build(&mut builder)?;
    match submit_and_report(client, &stx, wait, out) {
        Err(ClientError::Api { code, .. }) if code == "bad_nonce" => {
            let fresh = client.next_nonce(&builder.signer())?;
            tracing::info!(target: "client::tx", old = stx.tx.nonce, fresh, "bad nonce; retrying once");
            builder.set_next_nonce(fresh);
            let stx = build(&mut builder)?;
            submit_and_report(client, &stx, wait, out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(words: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("jialing").chain(words.iter().copied()))
    }

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_anywhere() {
        let c = parse(&["query", "block", "latest", "--json", "--node", "http://n:1"]).unwrap();
        assert!(c.json);
        assert_eq!(c.node, "http://n:1");
        assert!(matches!(c.command, Command::Query(query::QueryCommand::Block { at: crate::api::BlockRef::Latest })));
    }

    #[test]
    fn certify_needs_exactly_one_expiry() {
        let base = ["keys", "certify", "--admin-key", "a.json", "--member", "m", "--roles", "producer"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        assert_eq!(with(&[]).unwrap_err().kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(
            with(&["--days", "3", "--expires", "2027-12-31"]).unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let ok = with(&["--days", "3", "--no-wait"]).unwrap();
        let Command::Keys(keys::KeysCommand::Certify(a)) = ok.command else { panic!("not certify") };
        assert_eq!((a.days, a.wait.no_wait, a.wait.wait_secs), (Some(3), true, 30));
    }

    #[test]
    fn tx_list_and_calls_split() {
        let c = parse(&["tx", "list"]).unwrap();
        assert!(matches!(c.command, Command::Tx(tx::TxArgs { command: tx::TxCommand::List })));
        let c = parse(&["tx", "membership", "revoke", "--key", "k", "member=aa"]).unwrap();
        let Command::Tx(tx::TxArgs { command: tx::TxCommand::Call(words) }) = c.command else { panic!("not a call") };
        assert_eq!(words, ["membership", "revoke", "--key", "k", "member=aa"]);
    }
}
