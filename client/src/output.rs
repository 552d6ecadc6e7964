//! Output: human-readable text by default, one JSON document on stdout with `--json`.
//! Errors go to stderr (as `{"error": {code, message}}` with `--json`). Writing never
//! panics, even into a closed pipe.

use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{ApiReceipt, BlockInfo, HistoryEntry, Outcome, Status, TxInfo};
use crate::error::ClientError;
use crate::keys::format_utc_ms;

/// Where and how results are printed.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Machine-readable JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or the text `human` builds.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> Result<(), ClientError> {
        let text = if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|e| ClientError::Decode { what: "output".into(), reason: e.to_string() })?
        } else {
            human()
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text.trim_end());
        Ok(())
    }

    /// Prints an error to stderr.
    pub fn error(&self, e: &ClientError) {
        if let ClientError::Usage(u) = e {
            // clap formats its own usage errors and help.
            let _ = u.print();
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = if self.json {
            writeln!(err, "{}", json!({"error": {"code": e.code(), "message": e.to_string()}}))
        } else {
            writeln!(err, "error: {e}")
        };
    }
}

/// Pretty JSON for contract-shaped values inside human output.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// One line for a receipt's outcome.
pub fn outcome_line(r: &ApiReceipt) -> String {
    match r.status {
        Outcome::Ok => "ok".into(),
        Outcome::Refused => {
            refusal_text(r.code.as_deref().unwrap_or("?"), r.message.as_deref().unwrap_or("(no message)"))
        }
        Outcome::Unknown => "no receipt".into(),
    }
}

/// A transaction and its receipt.
pub fn tx_human(info: &TxInfo) -> String {
    let mut s = format!("tx       {}\n", info.hash);
    match (info.height, &info.receipt) {
        (Some(h), Some(r)) => {
            s += &format!("block    {h} (index {})", info.index.unwrap_or_default());
            if let Some(t) = info.time_ms {
                s += &format!(" at {}", format_utc_ms(t));
            }
            s += &format!("\nresult   {}\n", outcome_line(r));
            if !r.tags.is_empty() {
                let tags: Vec<String> = r
                    .tags
                    .iter()
                    .map(|t| match (t.get("kind").and_then(Value::as_str), t.get("id").and_then(Value::as_str)) {
                        (Some(k), Some(id)) => format!("{k}:{id}"),
                        _ => t.to_string(),
                    })
                    .collect();
                s += &format!("touched  {}\n", tags.join(", "));
            }
        }
        _ => s += "status   pending (in the mempool)\n",
    }
    if let Some(tx) = &info.tx {
        s += &format!("call     {}.{} by {} (nonce {})\n", tx.contract, tx.method, tx.signer, tx.nonce);
        if !tx.args.is_null() {
            s += &format!("args\n{}\n", indent(&pretty(&tx.args)));
        }
    }
    s
}

/// A block summary.
pub fn block_human(b: &BlockInfo) -> String {
    let mut s = format!("block    {}\nhash     {}\n", b.height().map_or("?".into(), |h| h.to_string()), b.hash);
    if let Some(t) = b.time_ms() {
        s += &format!("time     {}\n", format_utc_ms(t));
    }
    if let Some(c) = &b.certificate {
        s += &format!("commit   round {}, {} signatures\n", c.round, c.signatures.len());
    }
    s += &format!("txs      {}\n", b.tx_hashes.len());
    for h in &b.tx_hashes {
        s += &format!("  {h}\n");
    }
    s += &format!("header\n{}\n", indent(&pretty(&b.header)));
    s
}

/// Node status.
pub fn status_human(st: &Status, url: &str) -> String {
    let mut s = format!(
        "node       {url}\nchain      {}\nheight     {}\nblock      {}\nstate root {}\ntime       {}\nmempool    {} txs, {} bytes\n",
        st.chain_id,
        st.height,
        st.block_hash,
        st.state_root,
        format_utc_ms(st.time_ms),
        st.mempool_txs,
        st.mempool_bytes
    );
    let validators = match &st.validators {
        Value::Array(v) => v.len().to_string(),
        Value::Null => "?".into(),
        other => other.to_string(),
    };
    s += &format!("validators {validators}\n");
    s += &format!("validator  {}\n", st.validator_key.as_deref().unwrap_or("(full node)"));
    s
}

/// An object's history, oldest first.
pub fn history_human(h: &[HistoryEntry]) -> String {
    let mut s = format!("history ({} transactions)\n", h.len());
    for e in h {
        let result = match e.status {
            Outcome::Ok => "ok".to_string(),
            Outcome::Refused => format!("REFUSED {}", e.code.as_deref().unwrap_or("?")),
            Outcome::Unknown => "no receipt".to_string(),
        };
        s += &format!(
            "  {} #{}.{} {}.{} by {} {result}  tx {}\n",
            format_utc_ms(e.time_ms),
            e.height,
            e.index,
            e.contract,
            e.method,
            e.signer.map(|k| k.short()).unwrap_or_else(|| "(restricted)".into()),
            e.tx_hash
        );
    }
    s
}

/// `REFUSED code: message`, without repeating the code when the message starts with it.
pub fn refusal_text(code: &str, message: &str) -> String {
    match message.strip_prefix(code).and_then(|m| m.strip_prefix(": ")) {
        Some(rest) => format!("REFUSED {code}: {rest}"),
        None => format!("REFUSED {code}: {message}"),
    }
}
