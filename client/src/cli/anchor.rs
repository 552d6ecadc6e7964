//! `jialing anchor`: this ledger's state, anchored on another chain (星火链网, BSN or any
//! ledger that stores a memo). `export --height H` writes a self-contained JSON
//! document (the certified header, its history root, its commit certificate and the
//! signed checkpoint note), its SHA-256, and the short line to embed on the other chain; `verify FILE
//! --genesis G` checks the document offline from the genesis file. See
//! docs/anchoring.md.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use jialing_core::checkpoint::{self, Checkpoint};
use jialing_core::proof::CertifiedHeader;
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// The document format's name.
pub const FORMAT: &str = "jialing-anchor/v1";

/// Anchor commands.
#[derive(Debug, Subcommand)]
pub enum AnchorCommand {
    /// Write the anchor document of a certified height.
    Export(ExportArgs),
    /// Check an anchor document offline against the genesis file.
    Verify(VerifyArgs),
}

/// `jialing anchor export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The height to anchor (default: the tip).
    #[arg(long)]
    pub height: Option<u64>,
    /// Where to write the document.
    #[arg(long, default_value = "anchor.json")]
    pub out: PathBuf,
}

/// `jialing anchor verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The anchor document.
    pub file: PathBuf,
    /// What to trust: the genesis file and the validator history.
    #[command(flatten)]
    pub trust: super::verify::TrustArgs,
}

/// The line to embed on another chain: format, fingerprint, height, block hash.
pub fn embed_line(fingerprint: &str, height: u64, block_hash: &jialing_core::Hash) -> String {
    format!("{FORMAT} {fingerprint} {height} {block_hash}")
}

fn bad(m: String) -> ClientError {
    ClientError::Verification(m)
}

/// Runs an anchor command.
pub fn run(cmd: &AnchorCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        AnchorCommand::Export(a) => {
            let fp = super::qr::chain_fingerprint(None, client)?;
            let path = match a.height {
                Some(h) => format!("/v1/block/{h}"),
                None => "/v1/block/latest".into(),
            };
            let v = client.get_json(&path)?;
            let certified: CertifiedHeader = serde_json::from_value(
                json!({ "header": v["header"], "certificate": v["certificate"] }),
            )
            .map_err(|e| ClientError::Decode {
                what: "certified block".into(),
                reason: format!("{e} (genesis is not certified)"),
            })?;
            let h = &certified.header;
            let note = Checkpoint::of(h, &certified.certificate, &fp).note(&certified.certificate);
            let embed = embed_line(&fp, h.height, &h.hash());
            let doc = json!({
                "format": FORMAT, "chain_id": h.chain_id, "fingerprint": fp, "height": h.height,
                "block_hash": h.hash(), "history_root": h.history_root, "state_root": h.state_root,
                "time_ms": h.time_ms,
                "embed": embed, "checkpoint": note, "certified": certified,
            });
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| ClientError::Decode { what: "anchor".into(), reason: e.to_string() })?
                + "\n";
            std::fs::write(&a.out, &text).map_err(|e| ClientError::Io { path: a.out.clone(), source: e })?;
            let sha = jialing_core::sha256(text.as_bytes());
            let report = json!({ "file": a.out, "sha256": sha, "embed": embed, "height": h.height });
            out.emit(&report, || {
                format!(
                    "wrote {} (SHA-256 {sha})\nembed on the other chain (memo / data field, {} bytes):\n{embed}",
                    a.out.display(),
                    embed.len()
                )
            })
        }
        AnchorCommand::Verify(a) => {
            let (chain_id, trusted) = a.trust.sets()?;
            let g = jialing_genesis::Genesis::load(&a.trust.genesis)
                .map_err(|e| ClientError::Args(format!("genesis file {}: {e}", a.trust.genesis.display())))?;
            let genesis = g.initial_state().genesis_block().map_err(|e| ClientError::Args(e.to_string()))?.0;
            let fp = jialing_core::chain_identity::fingerprint(&genesis.hash());
            let text =
                std::fs::read_to_string(&a.file).map_err(|e| ClientError::Io { path: a.file.clone(), source: e })?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Decode { what: "anchor document".into(), reason: e.to_string() })?;
            if doc["format"] != json!(FORMAT) {
                return Err(bad(format!("not a {FORMAT} document")));
            }
            let certified: CertifiedHeader = serde_json::from_value(doc["certified"].clone())
                .map_err(|e| ClientError::Decode { what: "anchor document".into(), reason: e.to_string() })?;
            let h = &certified.header;
            let set = trusted.set_for(h.height);
            let vh = certified.verify(&chain_id, set).map_err(|e| bad(format!("block {}: {e}", h.height)))?;
            let note =
                checkpoint::parse(doc["checkpoint"].as_str().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
            if note.checkpoint != Checkpoint::of(h, &certified.certificate, &fp) {
                return Err(bad("the checkpoint note is not the one of the certified block on this chain".into()));
            }
            note.verify(set).map_err(|e| bad(e.to_string()))?;
            let embed = embed_line(&fp, h.height, &vh.block_hash);
            for (field, want) in [
                ("embed", json!(embed)),
                ("height", json!(h.height)),
                ("block_hash", json!(vh.block_hash)),
                ("history_root", json!(h.history_root)),
                ("state_root", json!(h.state_root)),
                ("time_ms", json!(h.time_ms)),
                ("fingerprint", json!(fp)),
                ("chain_id", json!(chain_id)),
            ] {
                if doc[field] != want {
                    return Err(bad(format!("field {field} is {}, the certified block says {want}", doc[field])));
                }
            }
            let sha = jialing_core::sha256(text.as_bytes());
            let report = json!({
                "verified": true, "height": h.height, "block_hash": vh.block_hash,
                "history_root": h.history_root, "state_root": h.state_root,
                "time_ms": h.time_ms, "signers": vh.signers, "validators": vh.validators, "embed": embed, "sha256": sha,
            });
            out.emit(&report, || {
                format!(
                    "VERIFIED: block {} ({}) of chain {chain_id} (fingerprint {fp}), history root {} (blocks 0..{}), state root {}, signed by {} of {} validators\nthe other chain should hold: {embed}\n(or this document's SHA-256 {sha})",
                    h.height, vh.block_hash, h.history_root, h.height, h.state_root, vh.signers, vh.validators
                )
            })
        }
    }
}
