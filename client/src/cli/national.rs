//! `jialing export national`: records for the national traceability platform
//! (`crate::national`) from a range of committed blocks, in batch (`--from`, `--to`)
//! or incrementally from a cursor file, so a county bureau hands its records over on a
//! schedule without duplicates.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::api::{BlockRef, Outcome};
use crate::error::ClientError;
use crate::national::{LedgerTx, records};
use crate::output::Output;
use crate::sdk::Client;

/// Export commands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Entity, product, batch, trace code, inspection and certificate records for the
    /// national agricultural product traceability platform, one JSON object per line
    /// (docs/national-platform.md). With `--cursor FILE` the export starts after the
    /// last height the file records and advances it when done.
    National {
        /// First block height (default: the cursor's next height, else 1).
        #[arg(long)]
        from: Option<u64>,
        /// Last block height (default: the tip).
        #[arg(long)]
        to: Option<u64>,
        /// Cursor file: `{"chain_id", "next_height"}`, read before and written after.
        #[arg(long)]
        cursor: Option<PathBuf>,
        /// Write the records here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Digital Link resolver of trace codes.
        #[arg(long, default_value = "https://id.jialing.example")]
        resolver: String,
    },
}

/// Runs `jialing export`.
pub fn run(cmd: &ExportCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    let ExportCommand::National { from, to, cursor, out: file, resolver } = cmd;
    let status = client.status()?;
    let saved: Option<Value> = match cursor {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p).map_err(|source| ClientError::Io { path: p.clone(), source })?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("cursor {} is not JSON: {e}", p.display())))?;
            if v["chain_id"] != json!(status.chain_id) {
                return Err(ClientError::Args(format!(
                    "cursor {} is for chain {}, the node serves {}",
                    p.display(),
                    v["chain_id"],
                    status.chain_id
                )));
            }
            Some(v)
        }
        _ => None,
    };
    let from = from.or(saved.as_ref().and_then(|v| v["next_height"].as_u64())).unwrap_or(1).max(1);
    let to = to.unwrap_or(status.height).min(status.height);
    let mut txs: Vec<(u64, String, String, Value, String)> = Vec::new();
    let mut lots: BTreeMap<String, Value> = BTreeMap::new();
    let mut products: BTreeMap<String, Value> = BTreeMap::new();
    for h in from..=to {
        let block = client.block(BlockRef::Height(h))?;
        for hash in &block.tx_hashes {
            let info = client.tx(hash)?;
            let (Some(tx), Some(r)) = (info.tx, info.receipt) else { continue };
            if tx.contract != "trace" || r.status != Outcome::Ok {
                continue;
            }
            let org = match tx.method.as_str() {
                "register_product" => {
                    let code = tx.args["code"].as_str().unwrap_or_default().to_string();
                    if !products.contains_key(&code) {
                        let p = client.get_json(&format!("/v1/product/{}", crate::api::path_segment(&code)))?;
                        products.insert(code.clone(), p["product"].clone());
                    }
                    products[&code]["owner"].as_str().unwrap_or_default().to_string()
                }
                "create_lot" | "record_test" | "issue_certificate" => {
                    let id = tx.args["lot"].as_str().unwrap_or_default().to_string();
                    if !lots.contains_key(&id) {
                        lots.insert(id.clone(), client.lot(&id)?.lot);
                    }
                    let lot = &lots[&id];
                    if tx.method == "record_test" {
                        lot["last_test"]["lab"].as_str().unwrap_or_default().to_string()
                    } else {
                        lot["producer"].as_str().unwrap_or_default().to_string()
                    }
                }
                _ => continue,
            };
            txs.push((h, hash.to_hex(), tx.method.clone(), tx.args.clone(), org));
        }
    }
    let mut names = BTreeMap::new();
    for (_, _, _, _, org) in &txs {
        if !org.is_empty() && !names.contains_key(org) {
            let o = client.org(org)?;
            names.insert(org.clone(), o.org["name"].as_str().unwrap_or_default().to_string());
        }
    }
    let view: Vec<LedgerTx<'_>> = txs
        .iter()
        .map(|(h, hash, m, a, org)| LedgerTx { height: *h, tx_hash: hash.clone(), method: m, args: a, org })
        .collect();
    let recs = records(&view, &names, resolver);
    let mut text = String::new();
    for r in &recs {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    match file {
        Some(p) => std::fs::write(p, &text).map_err(|source| ClientError::Io { path: p.clone(), source })?,
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    if let Some(p) = cursor {
        let next = json!({"chain_id": status.chain_id, "next_height": to.max(from.saturating_sub(1)) + 1});
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, next.to_string()).map_err(|source| ClientError::Io { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, p).map_err(|source| ClientError::Io { path: p.clone(), source })?;
    }
    let summary = json!({"from": from, "to": to, "records": recs.len()});
    if file.is_some() || out.json {
        out.emit(&summary, || format!("{} records from heights {from} to {to}", recs.len()))?;
    }
    Ok(())
}
