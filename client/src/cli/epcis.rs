//! `jialing epcis`: GS1 EPCIS 2.0 JSON export of a lot's history, and import of EPCIS
//! events as signed ledger transactions.

use std::path::PathBuf;

use clap::Subcommand;
use std::path::Path;
use std::time::{Duration, Instant};

use jialing_contracts::trace::epcis_capture::CaptureErrorBehaviour;
use jialing_contracts::trace::epcis_import::{ImportPlan, plan};
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
    /// Import EPCIS 2.0 JSON/JSON-LD documents (EPCISDocument, EPCISQueryDocument or
    /// one event; files or folders of .json/.jsonld). Every event is recorded under its
    /// CBV 2.0 event hash ID (`trace.record_epcis_event`); an event that maps to a
    /// ledger rule (harvest, ship, receive, ...) is then also submitted as that call.
    /// Events already on the ledger (same hash ID) are reported as duplicates and not
    /// submitted again.
    Import {
        /// EPCIS JSON files, or folders imported recursively.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Key file to sign with (not needed with --dry-run).
        #[arg(long, required_unless_present = "dry_run")]
        key: Option<PathBuf>,
        /// Only validate and map: print the counts and each event's hash ID and mapping.
        #[arg(long)]
        dry_run: bool,
        /// Waiting options.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Capture one EPCIS 2.0 JSON/JSON-LD document through the node's EPCIS capture
    /// interface (`POST /epcis/capture`), as partners' EPCIS tools do: the document is
    /// signed with your member key as one `trace.epcis_capture` transaction and applied
    /// all or nothing (every event recorded under its CBV 2.0 hash ID, the events that
    /// map to ledger rules applied; the first refused event refuses the whole capture,
    /// naming its index, hash ID and rule; with `--error-behaviour proceed` it is left
    /// out instead). Events already on the ledger are skipped as duplicates. Waits for the capture job and prints it (`--json`: the job as the node
    /// gives it). A document larger than one transaction (64 KiB) must be split.
    Capture {
        /// The EPCIS document (EPCISDocument, EPCISQueryDocument or one event).
        file: PathBuf,
        /// Key file to sign with (a certified member key with a trace role).
        #[arg(long)]
        key: PathBuf,
        /// EPCIS captureErrorBehaviour: `rollback` (all or nothing) or `proceed` (a
        /// refused event is left out, the others are captured; the job lists it).
        #[arg(long, default_value = "rollback", value_name = "rollback|proceed")]
        error_behaviour: String,
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
        EpcisCommand::Import { paths, key, dry_run, wait } => {
            let started = Instant::now();
            let plans = plan_paths(paths)?;
            let mut summary = Summary::of(&plans);
            if !*dry_run {
                let key = key.as_ref().ok_or_else(|| ClientError::Args("--key is needed to import".into()))?;
                let key = crate::keys::load(key)?;
                submit_plans(client, key, &plans, *wait, &mut summary)?;
            }
            summary.elapsed_ms = started.elapsed().as_millis() as u64;
            let v = summary.to_json(&plans, *dry_run);
            out.emit(&v, || summary.human(*dry_run))
        }
        EpcisCommand::Capture { file, key, error_behaviour, wait } => {
            let behaviour = CaptureErrorBehaviour::parse(error_behaviour).map_err(ClientError::Args)?;
            capture(client, file, key, behaviour, *wait, out)
        }
    }
}

/// `jialing epcis capture`: checks the document here first (so a malformed one costs no
/// nonce), captures it, and waits for the job.
fn capture(
    client: &Client,
    file: &Path,
    key: &Path,
    behaviour: CaptureErrorBehaviour,
    wait: WaitArgs,
    out: Output,
) -> Result<(), ClientError> {
    use jialing_contracts::trace::epcis_capture::{max_document_bytes, plan_document};
    let document =
        std::fs::read_to_string(file).map_err(|source| ClientError::Io { path: file.to_path_buf(), source })?;
    let plan = plan_document(&document)
        .map_err(|e| ClientError::Args(format!("{} cannot be captured: {e}", file.display())))?;
    let chain = client.status()?.chain_id;
    let max = max_document_bytes(&chain);
    if document.len() > max {
        return Err(ClientError::Args(format!(
            "{} is {} bytes; one capture carries at most {max} bytes: split it into several documents",
            file.display(),
            document.len()
        )));
    }
    let key = crate::keys::load(key)?;
    let id = client.epcis_capture(&key, behaviour, &document)?;
    if wait.no_wait {
        let v = json!({"captureID": id.to_hex(), "running": true, "events": plan.events.len()});
        return out
            .emit(&v, || format!("capture {id} accepted ({} events); GET /epcis/capture/{id}", plan.events.len()));
    }
    let job = client.wait_capture(&id, Duration::from_secs(wait.wait_secs))?;
    out.emit(&job, || capture_human(&job))?;
    // A proceed capture that left events out is committed as asked: the job lists them.
    if job["success"] == false && behaviour == CaptureErrorBehaviour::Rollback {
        let e = &job["errors"][0];
        return Err(ClientError::Refused {
            hash: id.to_hex(),
            height: job["height"].as_u64().unwrap_or(0),
            code: e["code"].as_str().unwrap_or("refused").to_string(),
            message: e["detail"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(())
}

fn capture_human(job: &Value) -> String {
    let id = job["captureID"].as_str().unwrap_or_default();
    // A refused transaction has no event list (nothing was recorded).
    if job["success"] == false && job["events"].is_null() {
        return format!(
            "capture {id} refused, nothing recorded: {}",
            job["errors"][0]["detail"].as_str().unwrap_or("")
        );
    }
    let mut s = format!(
        "capture {id} committed at height {}: {} events recorded, {} duplicates (already on the ledger), {} refused and left out",
        job["height"], job["recorded"], job["duplicates"], job["refused"]
    );
    for e in job["errors"].as_array().into_iter().flatten() {
        s.push_str(&format!("\n  event {} refused: {}", e["eventIndex"], e["detail"].as_str().unwrap_or("")));
    }
    for e in job["events"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "\n  {} {} {}{}",
            e["index"],
            e["status"].as_str().unwrap_or(""),
            e["eventID"].as_str().unwrap_or(""),
            e["mapped"].as_str().map(|m| format!(" ({m})")).unwrap_or_default()
        ));
    }
    s
}

/// Every document under `paths` (folders recursively, `.json`/`.jsonld`, sorted),
/// planned; the error names the file.
fn plan_paths(paths: &[PathBuf]) -> Result<Vec<(PathBuf, ImportPlan)>, ClientError> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), ClientError> {
        if p.is_dir() {
            let mut entries = Vec::new();
            for e in std::fs::read_dir(p).map_err(|source| ClientError::Io { path: p.to_path_buf(), source })? {
                entries.push(e.map_err(|source| ClientError::Io { path: p.to_path_buf(), source })?.path());
            }
            entries.sort();
            for e in entries {
                if e.is_dir() || e.extension().is_some_and(|x| x == "json" || x == "jsonld") {
                    walk(&e, out)?;
                }
            }
        } else {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files)?;
    }
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|source| ClientError::Io { path: f.clone(), source })?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("{} is not JSON: {e}", f.display())))?;
            let plan = plan(&doc).map_err(|e| ClientError::Args(format!("{} cannot be imported: {e}", f.display())))?;
            Ok((f, plan))
        })
        .collect()
}

/// Counts of an import.
#[derive(Default)]
struct Summary {
    documents: usize,
    events: usize,
    mapped: usize,
    observed: usize,
    recorded: usize,
    duplicates: usize,
    mapped_ok: usize,
    refused: Vec<Value>,
    elapsed_ms: u64,
}

impl Summary {
    fn of(plans: &[(PathBuf, ImportPlan)]) -> Self {
        Summary {
            documents: plans.len(),
            events: plans.iter().map(|(_, p)| p.events.len()).sum(),
            mapped: plans.iter().map(|(_, p)| p.mapped()).sum(),
            observed: plans.iter().map(|(_, p)| p.observed()).sum(),
            ..Summary::default()
        }
    }

    fn to_json(&self, plans: &[(PathBuf, ImportPlan)], dry_run: bool) -> Value {
        let mut v = json!({
            "documents": self.documents, "events": self.events, "mapped": self.mapped, "observed": self.observed,
            "elapsed_ms": self.elapsed_ms,
        });
        if dry_run {
            v["files"] = json!(plans.iter().map(|(f, p)| json!({
                "path": f.display().to_string(), "type": p.document_type,
                "events": p.events.iter().map(|e| json!({
                    "index": e.index, "eventID": e.hash_id, "type": e.record.event_type, "lots": e.record.lots,
                    "mapped": e.mapped.as_ref().map(|(m, a)| json!({"method": format!("trace.{m}"), "args": a})),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>());
        } else {
            v["recorded"] = json!(self.recorded);
            v["duplicates"] = json!(self.duplicates);
            v["mapped_ok"] = json!(self.mapped_ok);
            v["mapped_refused"] = json!(self.refused);
        }
        v
    }

    fn human(&self, dry_run: bool) -> String {
        let mut s = format!(
            "{} documents, {} events: {} map to ledger rules, {} kept as EPCIS observations ({} ms)",
            self.documents, self.events, self.mapped, self.observed, self.elapsed_ms
        );
        if !dry_run {
            s.push_str(&format!(
                "\nrecorded {}, duplicates {} (already on the ledger), rule calls committed {}, refused {}",
                self.recorded,
                self.duplicates,
                self.mapped_ok,
                self.refused.len()
            ));
            for r in &self.refused {
                s.push_str(&format!("\n  {} event {} trace.{}: {}", r["file"], r["event"], r["method"], r["message"]));
            }
        }
        s
    }
}

/// Submits `txs` in batches and waits for each; returns `(code, message)` per
/// transaction, `None` for success.
fn submit_all(
    client: &Client,
    txs: &[jialing_core::SignedTransaction],
    wait: WaitArgs,
) -> Result<Vec<Option<(String, String)>>, ClientError> {
    let mut hashes = Vec::with_capacity(txs.len());
    for chunk in txs.chunks(1000) {
        let r = client.submit_batch(chunk)?;
        for (stx, res) in chunk.iter().zip(r.results) {
            if !res.accepted {
                let e = res.error.map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default();
                return Err(ClientError::Args(format!("the node did not accept transaction {}: {e}", stx.hash())));
            }
            hashes.push(stx.hash());
        }
    }
    let timeout = Duration::from_secs(wait.wait_secs);
    hashes
        .iter()
        .map(|h| {
            let info = client.wait_committed(h, timeout)?;
            Ok(match info.into_result() {
                Ok(_) => None,
                Err(ClientError::Refused { code, message, .. }) => Some((code, message)),
                Err(e) => return Err(e),
            })
        })
        .collect()
}

/// Records every event, then submits the rule calls of the mapped ones that were new.
fn submit_plans(
    client: &Client,
    key: jialing_core::Keypair,
    plans: &[(PathBuf, ImportPlan)],
    wait: WaitArgs,
    summary: &mut Summary,
) -> Result<(), ClientError> {
    let chain = client.status()?.chain_id;
    let mut builder = TxBuilder::new(key.clone(), chain, client.next_nonce(&key.public())?);
    let events: Vec<(&PathBuf, &jialing_contracts::trace::epcis_import::ImportedEvent)> =
        plans.iter().flat_map(|(f, p)| p.events.iter().map(move |e| (f, e))).collect();
    let records: Vec<_> = events.iter().map(|(_, e)| builder.build(&e.record)).collect();
    let outcomes = submit_all(client, &records, wait)?;
    let mut calls = Vec::new();
    for ((f, e), o) in events.iter().zip(outcomes) {
        match o {
            None => {
                summary.recorded += 1;
                if let Some((m, a)) = &e.mapped {
                    calls.push((f, e.index, m.clone(), builder.build_json("trace", m, a.clone())?));
                }
            }
            Some((code, _)) if code == "trace.epcis_event_unique" => summary.duplicates += 1,
            Some((code, message)) => {
                return Err(ClientError::Args(format!(
                    "{} event {}: the record was refused: {code}: {message}",
                    f.display(),
                    e.index
                )));
            }
        }
    }
    let stxs: Vec<_> = calls.iter().map(|c| c.3.clone()).collect();
    for ((f, index, method, _), o) in calls.iter().zip(submit_all(client, &stxs, wait)?) {
        match o {
            None => summary.mapped_ok += 1,
            Some((code, message)) => summary.refused.push(
                json!({"file": f.display().to_string(), "event": index, "method": method, "code": code, "message": message}),
            ),
        }
    }
    Ok(())
}
