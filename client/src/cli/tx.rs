//! `jialing tx`: `list` every contract method, or call any of them generically.
//!
//! The call form is built at run time from the contract registry with clap's builder
//! API (`jialing tx <contract> <method> ...`), so methods added to any contract work
//! with no change here; arguments go through the method's `from_json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Subcommand, value_parser};
use jialing_contracts::registry::{self, Method};
use serde::Serialize;
use serde_json::Value;

use super::{Cli, WaitArgs, submit_and_report, submit_fresh};
use crate::error::ClientError;
use crate::keys;
use crate::output::Output;
use crate::sdk::Client;
use crate::txbuild::{TxBuilder, args_from_pairs, merge_args};

const CALL_HELP: &str = "\
Call any contract method:
  jialing tx <CONTRACT> <METHOD> --key FILE [--args JSON | --args-file FILE] [KEY=VALUE]...

KEY=VALUE values are JSON when they parse as JSON, else strings; dotted keys nest
(origin.county=Fengdu). Run `jialing tx list` for every method, and
`jialing tx <CONTRACT> <METHOD> --help` for one.";

/// `jialing tx` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = CALL_HELP, subcommand_required = true, arg_required_else_help = true)]
pub struct TxArgs {
    /// `list`, or a contract name.
    #[command(subcommand)]
    pub command: TxCommand,
}

/// `jialing tx` subcommands.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// List every contract method with the roles allowed to call it.
    List,
    /// `<contract> <method> ...`: parsed by [`call_command`].
    #[command(external_subcommand)]
    Call(Vec<String>),
}

/// One row of `jialing tx list`.
#[derive(Debug, Serialize)]
pub struct MethodRow {
    /// Contract.
    pub contract: &'static str,
    /// Method.
    pub method: &'static str,
    /// Roles allowed.
    pub roles: Vec<&'static str>,
    /// One line.
    pub summary: &'static str,
}

/// Every registered method.
pub fn method_rows() -> Vec<MethodRow> {
    registry::methods()
        .map(|m| MethodRow {
            contract: m.contract,
            method: m.name,
            roles: m.roles.iter().map(|r| r.name()).collect(),
            summary: m.summary,
        })
        .collect()
}

/// Runs `jialing tx`.
pub fn run(args: &TxArgs, cli: &Cli, out: Output) -> Result<(), ClientError> {
    match &args.command {
        TxCommand::List => {
            let rows = method_rows();
            out.emit(&rows, || {
                let w = rows.iter().map(|r| r.contract.len() + r.method.len() + 1).max().unwrap_or(0);
                rows.iter()
                    .map(|r| {
                        let name = format!("{}.{}", r.contract, r.method);
                        format!("{name:<w$}  [{}]  {}", r.roles.join(","), r.summary)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        TxCommand::Call(words) => {
            check_names(words)?;
            let m =
                call_command().try_get_matches_from(std::iter::once("tx".to_string()).chain(words.iter().cloned()))?;
            let call = Call::from_matches(&m)?;
            let out = Output { json: out.json || call.json };
            let node = call.node.clone().unwrap_or_else(|| cli.node.clone());
            // Signed reads with the caller's key: a restricted transaction's receipt
            // (why it was refused) is shown to its signer.
            let client = match keys::load(&call.key) {
                Ok(k) => Client::new(&node).with_receipt_key(k),
                Err(_) => Client::new(&node),
            };
            call.execute(&client, out)
        }
    }
}

/// Names an unknown contract or method with the known ones (clearer than clap's
/// "unrecognized subcommand").
fn check_names(words: &[String]) -> Result<(), ClientError> {
    let mut it = words.iter().filter(|w| !w.starts_with('-'));
    let Some(contract) = it.next() else {
        return Ok(());
    };
    if contract == "help" {
        return Ok(());
    }
    let methods: Vec<&Method> = registry::methods().filter(|m| m.contract == contract).collect();
    if methods.is_empty() {
        let mut known: Vec<&str> = registry::methods().map(|m| m.contract).collect();
        known.dedup();
        return Err(ClientError::Args(format!(
            "unknown contract {contract:?}; contracts with methods: {}; run `jialing tx list` for every method",
            known.join(", ")
        )));
    }
    if let Some(method) = it.next().filter(|m| *m != "help")
        && !methods.iter().any(|m| m.name == method)
    {
        let names: Vec<&str> = methods.iter().map(|m| m.name).collect();
        return Err(ClientError::Args(format!(
            "contract {contract} has no method {method:?}; its methods: {}",
            names.join(", ")
        )));
    }
    Ok(())
}

/// The dynamic `tx <contract> <method>` command, one subcommand per registered method.
pub fn call_command() -> clap::Command {
    let mut by_contract: BTreeMap<&'static str, Vec<&'static Method>> = BTreeMap::new();
    for m in registry::methods() {
        by_contract.entry(m.contract).or_default().push(m);
    }
    let mut root = clap::Command::new("tx")
        .bin_name("jialing tx")
        .about("Sign and submit a call to a contract method")
        .after_help(CALL_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true);
    for (contract, methods) in by_contract {
        let mut c = clap::Command::new(contract)
            .about(format!("Methods of the {contract} contract"))
            .subcommand_required(true)
            .arg_required_else_help(true);
        for m in methods {
            c = c.subcommand(method_command(m));
        }
        root = root.subcommand(c);
    }
    root
}

fn method_command(m: &'static Method) -> clap::Command {
    let roles: Vec<&str> = m.roles.iter().map(|r| r.name()).collect();
    clap::Command::new(m.name)
        .about(m.summary)
        .long_about(format!("{}\n\nSigner needs one of the roles: {}", m.summary, roles.join(", ")))
        .after_help(format!(
            "Example: jialing tx {} {} --key me.json --args '{{...}}'   (or KEY=VALUE pairs)",
            m.contract, m.name
        ))
        .arg(
            Arg::new("key")
                .long("key")
                .value_name("FILE")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help("The signer's key file"),
        )
        .arg(
            Arg::new("args")
                .long("args")
                .value_name("JSON")
                .conflicts_with("args_file")
                .help("Arguments as a JSON object"),
        )
        .arg(
            Arg::new("args_file")
                .long("args-file")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help("Arguments from a JSON file"),
        )
        .arg(
            Arg::new("pairs")
                .value_name("KEY=VALUE")
                .num_args(0..)
                .action(ArgAction::Append)
                .help("Arguments as key=value pairs (override --args)"),
        )
        .arg(
            Arg::new("nonce")
                .long("nonce")
                .value_name("N")
                .value_parser(value_parser!(u64))
                .help("Use this nonce instead of asking the node"),
        )
        .arg(
            Arg::new("no_wait")
                .long("no-wait")
                .action(ArgAction::SetTrue)
                .help("Return once the node accepted the transaction into its mempool"),
        )
        .arg(
            Arg::new("wait_secs")
                .long("wait-secs")
                .value_name("SECS")
                .value_parser(value_parser!(u64))
                .default_value("30")
                .help("How long to wait for the transaction to be committed"),
        )
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print machine-readable JSON"))
        .arg(
            Arg::new("node")
                .long("node")
                .value_name("URL")
                .help("The node's API URL (default: --node before `tx`, JIALING_NODE, or http://127.0.0.1:8700)"),
        )
}

/// A parsed generic call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Contract.
    pub contract: String,
    /// Method.
    pub method: String,
    /// Signer's key file.
    pub key: PathBuf,
    /// The JSON arguments.
    pub args: Value,
    /// Explicit nonce.
    pub nonce: Option<u64>,
    /// Waiting.
    pub wait: WaitArgs,
    /// `--json` given after `tx`.
    pub json: bool,
    /// `--node` given after `tx`.
    pub node: Option<String>,
}

impl Call {
    /// Extracts the call from the dynamic command's matches (reads `--args-file`).
    pub fn from_matches(m: &ArgMatches) -> Result<Call, ClientError> {
        let missing = || ClientError::Args("name a contract and a method: jialing tx <CONTRACT> <METHOD>".into());
        let (contract, cm) = m.subcommand().ok_or_else(missing)?;
        let (method, mm) = cm.subcommand().ok_or_else(missing)?;
        let key =
            mm.get_one::<PathBuf>("key").cloned().ok_or_else(|| ClientError::Args("--key FILE is required".into()))?;
        let base = if let Some(text) = mm.get_one::<String>("args") {
            serde_json::from_str(text).map_err(|e| ClientError::Args(format!("--args is not valid JSON: {e}")))?
        } else if let Some(path) = mm.get_one::<PathBuf>("args_file") {
            let text =
                std::fs::read_to_string(path).map_err(|source| ClientError::Io { path: path.clone(), source })?;
            serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("--args-file {} is not valid JSON: {e}", path.display())))?
        } else {
            Value::Object(Default::default())
        };
        let pairs: Vec<&String> = mm.get_many::<String>("pairs").map(|v| v.collect()).unwrap_or_default();
        let args = merge_args(base, args_from_pairs(&pairs)?)?;
        Ok(Call {
            contract: contract.to_string(),
            method: method.to_string(),
            key,
            args,
            nonce: mm.get_one::<u64>("nonce").copied(),
            wait: WaitArgs {
                no_wait: mm.get_flag("no_wait"),
                wait_secs: mm.get_one::<u64>("wait_secs").copied().unwrap_or(30),
            },
            json: mm.get_flag("json"),
            node: mm.get_one::<String>("node").cloned(),
        })
    }

    /// Builds, signs, submits and reports the call.
    pub fn execute(&self, client: &Client, out: Output) -> Result<(), ClientError> {
        // Check the arguments before touching the node or the key.
        crate::txbuild::payload_from_json(&self.contract, &self.method, self.args.clone())?;
        let key = keys::load(&self.key)?;
        let build = |b: &mut TxBuilder| b.build_json(&self.contract, &self.method, self.args.clone());
        match self.nonce {
            // An explicit nonce is used as given, never replaced.
            Some(n) => {
                let stx = build(&mut TxBuilder::new(key, client.status()?.chain_id, n))?;
                submit_and_report(client, &stx, self.wait, out)
            }
            None => submit_fresh(client, TxBuilder::from_node(client, key)?, build, self.wait, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(words: &[&str]) -> Result<Call, ClientError> {
        let m = call_command().try_get_matches_from(std::iter::once("tx").chain(words.iter().copied()))?;
        Call::from_matches(&m)
    }

    #[test]
    fn call_parses_args_pairs_and_flags() {
        let c = parse(&[
            "membership",
            "revoke",
            "--key",
            "k.json",
            "--args",
            r#"{"member":"aa","x":{"y":1}}"#,
            "x.z=2",
            "--no-wait",
            "--json",
            "--nonce",
            "4",
        ])
        .unwrap();
        assert_eq!((c.contract.as_str(), c.method.as_str()), ("membership", "revoke"));
        assert_eq!(c.key, PathBuf::from("k.json"));
        assert_eq!(c.args, json!({"member": "aa", "x": {"y": 1, "z": 2}}));
        assert!(c.wait.no_wait && c.json);
        assert_eq!((c.nonce, c.wait.wait_secs), (Some(4), 30));
    }

    #[test]
    fn call_errors_are_clear() {
        let usage = |w: &[&str]| match parse(w) {
            Err(ClientError::Usage(e)) => e.kind(),
            other => panic!("expected a usage error, got {other:?}"),
        };
        assert_eq!(usage(&["membership", "certify"]), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(usage(&["nocontract", "x"]), clap::error::ErrorKind::InvalidSubcommand);
        assert_eq!(
            usage(&["membership", "certify", "--key", "k", "--args", "{}", "--args-file", "f"]),
            clap::error::ErrorKind::ArgumentConflict
        );
        let e = parse(&["membership", "certify", "--key", "k", "--args", "{bad"]).unwrap_err().to_string();
        assert!(e.contains("--args is not valid JSON"), "{e}");
        let e = parse(&["membership", "certify", "--key", "k", "nokv"]).unwrap_err().to_string();
        assert!(e.contains("not key=value"), "{e}");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = check_names(&w(&["membrship", "certify"])).unwrap_err().to_string();
        assert!(e.contains("unknown contract \"membrship\"") && e.contains("membership"), "{e}");
        let e = check_names(&w(&["membership", "certfy", "--key", "k"])).unwrap_err().to_string();
        assert!(e.contains("no method \"certfy\"") && e.contains("certify, revoke"), "{e}");
        check_names(&w(&["membership", "certify", "--key", "k"])).unwrap();
        check_names(&w(&["--help"])).unwrap();
        check_names(&w(&["membership", "--help"])).unwrap();
    }

    #[test]
    fn every_registered_method_has_a_command_and_a_list_row() {
        let cmd = call_command();
        cmd.clone().debug_assert();
        let rows = method_rows();
        assert_eq!(rows.len(), registry::methods().count());
        for r in &rows {
            let c = cmd.find_subcommand(r.contract).and_then(|c| c.find_subcommand(r.method));
            assert!(c.is_some(), "{}.{} has no command", r.contract, r.method);
        }
        assert!(rows.iter().any(|r| r.contract == "membership" && r.method == "certify" && r.roles == ["admin"]));
    }
}
