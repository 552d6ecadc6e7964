//! `jialing audit queries`: verifies a node's query log (its hash chain, and its head
//! against the anchor on the ledger) and prints who queried what.
//!
//! The log comes from the node (`GET /v1/audit/queries`, for auditors: pass
//! `--query-key`) or from a copy of the file (`--file`). The anchor is the ledger's
//! `audit/anchor/{log}` state value, read with its proof from the node (`--genesis`
//! checks that proof against the genesis validators). A log shorter than its anchor, or
//! whose entry at the anchored count hashes differently, was cut or rewritten.

use std::path::PathBuf;

use clap::Args;
use jialing_contracts::anchor::{QueryAnchor, anchor_key};
use jialing_core::proof::{Proof, TrustedSets};
use jialing_core::query_log::{self, Verified};
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// `jialing audit queries`.
#[derive(Debug, Args)]
pub struct QueriesArgs {
    /// Verify this copy of the log instead of downloading it from the node.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The log's identity on the ledger (default: the node's `query_audience`).
    #[arg(long, value_name = "ID")]
    pub log: Option<String>,
    /// Check the anchor's state proof against this genesis file.
    #[arg(long, env = "JIALING_GENESIS", value_name = "FILE")]
    pub genesis: Option<PathBuf>,
}

/// What the check found.
#[derive(Debug, serde::Serialize)]
struct Report {
    log: String,
    entries: u64,
    head: String,
    anchored: Option<u64>,
    anchor_time_ms: Option<u64>,
    queries: Vec<Value>,
}

fn fail(msg: String) -> ClientError {
    ClientError::Verification(msg)
}

/// Runs `jialing audit queries`.
pub fn run(a: &QueriesArgs, client: &Client, out: Output) -> Result<(), ClientError> {
    let text = match &a.file {
        Some(f) => std::fs::read(f).map_err(|e| ClientError::Io { path: f.clone(), source: e })?,
        None => {
            let v: jialing_api_types::QueryLog = serde_json::from_value(client.get_json("/v1/audit/queries")?)
                .map_err(|e| ClientError::Decode { what: "query log".into(), reason: e.to_string() })?;
            v.lines.into_bytes()
        }
    };
    let log = match &a.log {
        Some(l) => l.clone(),
        None => client.get_json("/status")?["query_audience"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Args("the node's /status has no query_audience; pass --log ID".into()))?,
    };
    let verified = query_log::verify(&text).map_err(|e| fail(e.to_string()))?;
    let anchor = read_anchor(client, &log, a.genesis.as_ref())?;
    check_anchor(&verified, anchor.as_ref())?;
    let report = Report {
        log: log.clone(),
        entries: verified.head.count,
        head: verified.head.hash.to_hex(),
        anchored: anchor.as_ref().map(|x| x.count),
        anchor_time_ms: anchor.as_ref().map(|x| x.time_ms),
        queries: verified
            .entries
            .iter()
            .map(|e| {
                json!({"seq": e["seq"], "logged_ms": e["logged_ms"], "signer": e["signer"], "org": e["org"],
                       "roles": e["roles"], "query": e["query"]})
            })
            .collect(),
    };
    out.emit(&report, || human(&report))
}

/// The ledger's anchor of `log`, if any (its proof checked when `genesis` is given).
fn read_anchor(client: &Client, log: &str, genesis: Option<&PathBuf>) -> Result<Option<QueryAnchor>, ClientError> {
    let key = String::from_utf8_lossy(&anchor_key(log)).into_owned();
    let v = client.get_json(&format!("/v1/proof/state?key={key}"))?;
    let proof: Proof = serde_json::from_value(v["proof"].clone())
        .map_err(|e| ClientError::Decode { what: "anchor proof".into(), reason: e.to_string() })?;
    if let Some(g) = genesis {
        let (chain_id, set) = crate::cli::verify::trusted(g)?;
        proof
            .verify_trusted(&chain_id, &TrustedSets::from_genesis(set))
            .map_err(|e| fail(format!("the anchor's proof does not verify: {e}")))?;
    }
    let Proof::State(p) = proof else {
        return Err(ClientError::Decode { what: "anchor proof".into(), reason: "not a state proof".into() });
    };
    p.value
        .map(|b| jialing_core::encoding::decode::<QueryAnchor>("query anchor", &b))
        .transpose()
        .map_err(|e| ClientError::Decode { what: "query anchor".into(), reason: e.to_string() })
}

/// The log must reach the anchored count, and its entry there must hash to the
/// anchored head.
fn check_anchor(v: &Verified, anchor: Option<&QueryAnchor>) -> Result<(), ClientError> {
    let Some(a) = anchor else { return Ok(()) };
    if a.count == 0 {
        return Ok(());
    }
    let Some(head) = v.heads.get(a.count as usize - 1) else {
        return Err(fail(format!(
            "the log breaks at line {}: it holds {} entries but the ledger anchored {} (head {}): entries were removed from its end",
            v.head.count + 1,
            v.head.count,
            a.count,
            a.head
        )));
    };
    if head.hash != a.head {
        return Err(fail(format!(
            "the log breaks at line {}: entry {} hashes to {}, the ledger anchored {} (the log was rewritten)",
            a.count, a.count, head.hash, a.head
        )));
    }
    Ok(())
}

fn human(r: &Report) -> String {
    let mut s = String::new();
    for q in &r.queries {
        s.push_str(&format!(
            "{:>6}  {}  {}  {}  {}\n",
            q["seq"],
            jialing_core::calendar::format_rfc3339_ms(q["logged_ms"].as_u64().unwrap_or(0)),
            q["org"].as_str().unwrap_or("?"),
            q["signer"].as_str().map(|k| k.get(..12).unwrap_or(k)).unwrap_or("?"),
            q["query"].as_str().unwrap_or("?"),
        ));
    }
    let anchor = match r.anchored {
        Some(n) => format!("anchored on the ledger at {n} entries"),
        None => "NOT anchored on the ledger (removal of the last entries cannot be excluded)".into(),
    };
    s.push_str(&format!(
        "OK: query log {} holds {} entries, chain intact, {anchor}; head {}",
        r.log, r.entries, r.head
    ));
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jialing_core::{Hash, sha256};

    /// A log of `n` entries as the node writes it.
    fn log(n: usize) -> Vec<String> {
        let mut prev = Hash([0; 32]);
        (0..n)
            .map(|i| {
                let line = json!({"prev": prev.to_hex(), "query": format!("/v1/q/{i}"), "seq": i}).to_string();
                prev = sha256(line.as_bytes());
                format!("{line}\n")
            })
            .collect()
    }

    fn anchor_at(lines: &[String], count: usize) -> QueryAnchor {
        let v = query_log::verify(lines[..count].concat().as_bytes()).unwrap();
        QueryAnchor {
            org: jialing_contracts::testkit::uscc("audit"),
            count: count as u64,
            head: v.head.hash,
            time_ms: 1,
        }
    }

    fn error(lines: &[String], anchor: &QueryAnchor) -> String {
        let v = query_log::verify(lines.concat().as_bytes()).unwrap();
        check_anchor(&v, Some(anchor)).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_log_that_reaches_its_anchor_intact_passes() {
        let l = log(5);
        let v = query_log::verify(l.concat().as_bytes()).unwrap();
        assert!(check_anchor(&v, Some(&anchor_at(&l, 3))).is_ok());
        assert!(check_anchor(&v, Some(&anchor_at(&l, 5))).is_ok());
        assert!(check_anchor(&v, None).is_ok());
    }

    #[test]
    fn a_log_cut_before_its_anchor_is_caught_at_the_first_missing_line() {
        let l = log(5);
        let e = error(&l[..3], &anchor_at(&l, 5));
        assert!(e.contains("line 4") && e.contains("removed"), "{e}");
    }

    #[test]
    fn a_log_rewritten_up_to_its_anchor_is_caught() {
        let l = log(5);
        // Rewrite the last anchored line and re-chain what follows: the chain holds,
        // the anchor does not.
        let mut forged = log(5);
        forged[2] = forged[2].replace("/v1/q/2", "/v1/q/X");
        let mut prev = sha256(forged[2].trim_end().as_bytes());
        for line in forged.iter_mut().skip(3) {
            let mut v: Value = serde_json::from_str(line).unwrap();
            v["prev"] = json!(prev.to_hex());
            let s = v.to_string();
            prev = sha256(s.as_bytes());
            *line = format!("{s}\n");
        }
        let e = error(&forged, &anchor_at(&l, 3));
        assert!(e.contains("line 3") && e.contains("rewritten"), "{e}");
    }
}
