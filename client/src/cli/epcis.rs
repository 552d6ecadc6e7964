//! `jialing epcis`: GS1 EPCIS 2.0 JSON export of a lot's history, and import of EPCIS
//! events as signed ledger transactions.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::cli::WaitArgs;
use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;
use crate::txbuild::TxBuilder;

/// EPCIS commands.
#[derive(Debug, Subcommand)]
pub enum EpcisCommand {
    /// Print a lot's history as an EPCIS 2.0 JSON document.
    Export {
        /// The lot id.
        lot: String,
        /// Digital Link resolver used in identifiers.
        #[arg(long, default_value = "https://id.jialing.example")]
        base: String,
    },
    /// Map an EPCIS 2.0 document (or one event) to ledger calls and submit them, one
    /// by one, signed with `--key`; stops at the first refusal.
    Import {
        /// The EPCIS JSON file.
        file: PathBuf,
        /// Key file to sign with (its roles must allow every mapped method).
        #[arg(long)]
        key: PathBuf,
        /// Only print the mapped calls.
        #[arg(long)]
        dry_run: bool,
        /// Waiting options.
        #[command(flatten)]
        wait: WaitArgs,
    },
}

/// Runs an EPCIS command.
pub fn run(cmd: &EpcisCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        EpcisCommand::Export { lot, base } => {
            let v: Value = client.get_json(&format!(
                "/v1/lot/{}/epcis?base={}",
                lot,
                jialing_contracts::trace::epcis::percent_encode(base)
            ))?;
            out.emit(&v, || serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        EpcisCommand::Import { file, key, dry_run, wait } => {
            let text =
                std::fs::read_to_string(file).map_err(|source| ClientError::Io { path: file.clone(), source })?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("{} is not JSON: {e}", file.display())))?;
            let calls = jialing_contracts::trace::epcis::import(&doc)
                .map_err(|e| ClientError::Args(format!("{} cannot be imported: {e}", file.display())))?;
            if *dry_run {
                let v = json!(
                    calls.iter().map(|(m, a)| json!({"method": format!("trace.{m}"), "args": a})).collect::<Vec<_>>()
                );
                return out.emit(&v, || serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            let key = crate::keys::load(key)?;
            let chain = client.status()?.chain_id;
            let mut builder = TxBuilder::new(key.clone(), chain, client.next_nonce(&key.public())?);
            for (method, args) in calls {
                let stx = builder.build_json("trace", &method, args)?;
                crate::cli::submit_and_report(client, &stx, *wait, out)?;
            }
            Ok(())
        }
    }
}
