//! `jialing attest`: document attestation (存证). `record FILE --key K` hashes the file
//! (streaming SHA-256, with a progress bar for large files) and records it with
//! `attest.record`; `revoke`; `proof FILE` fetches the state proofs of its attestation;
//! `verify FILE --proof P --genesis G` proves offline, from the genesis file alone, that
//! exactly this file was attested, by which organisation and key, when, and whether
//! the attestation was later revoked.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use jialing_contracts::attest::{self, AttestDocument, Attestation, Link, LinkKind, RevokeAttestation};
use jialing_core::Hash;
use jialing_core::proof::{Proof, StateValueProof, Verified};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{WaitArgs, submit_fresh};
use crate::error::ClientError;
use crate::keys::{self, format_utc_ms};
use crate::output::Output;
use crate::sdk::Client;
use crate::txbuild::TxBuilder;

/// Attestation commands.
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Hash FILE (streaming SHA-256) and attest it, or a new version of an attestation.
    Record(RecordArgs),
    /// Revoke an attestation of your organisation (final).
    Revoke(RevokeArgs),
    /// Fetch the proof of FILE's attestation from the node (for `attest verify`).
    Proof(ProofArgs),
    /// Prove offline, with the genesis file, that exactly FILE was attested.
    Verify(VerifyArgs),
}

/// `jialing attest record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The document.
    pub file: PathBuf,
    /// Member key file that signs.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Attestation id (a new id, or an existing one of your organisation for a new
    /// version); default: the file's SHA-256, first 16 hex digits.
    #[arg(long)]
    pub id: Option<String>,
    /// Document type, e.g. `contract`, `inspection-report`.
    #[arg(long = "type", default_value = "document")]
    pub doc_type: String,
    /// Title (default: the file name).
    #[arg(long)]
    pub title: Option<String>,
    /// Attest the RFC 9162 Merkle root of chunks of this many bytes instead of the
    /// file's SHA-256 (large files: one chunk can later be proven alone).
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub chunk_size: u32,
    /// Links to records, `lot:ID`, `data_product:ID` or `credit_record:ID` (repeat).
    #[arg(long = "link", value_name = "KIND:ID")]
    pub links: Vec<String>,
    /// Submission.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `jialing attest revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Attestation id.
    pub id: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// Member key file that signs.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Submission.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `jialing attest proof`.
#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The document.
    pub file: PathBuf,
    /// The chunk size it was attested with (0: plain SHA-256).
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub chunk_size: u32,
    /// Where to write the proof (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `jialing attest verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The document.
    pub file: PathBuf,
    /// The proof from `jialing attest proof`.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// What to trust: the genesis file and the validator history.
    #[command(flatten)]
    pub trust: super::verify::TrustArgs,
}

/// Streams `path` through SHA-256, or with `chunk_size > 0` through the Merkle root of
/// its chunks (a progress bar past 8 MiB unless `quiet`); returns the digest and the
/// size.
pub fn hash_file(path: &Path, chunk_size: u32, quiet: bool) -> Result<(Hash, u64), ClientError> {
    let io = |e: std::io::Error| ClientError::Io { path: path.to_path_buf(), source: e };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let bar = if quiet || len < 8 * 1024 * 1024 {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    };
    let mut h = sha2::Sha256::new();
    let step = if chunk_size > 0 { chunk_size as usize } else { 1 << 20 };
    let mut buf = vec![0u8; step];
    let mut leaves = Vec::new();
    let mut size = 0u64;
    loop {
        // Fill a whole chunk (a read may return less).
        let mut n = 0;
        while n < step {
            let k = f.read(&mut buf[n..]).map_err(io)?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if n == 0 {
            break;
        }
        if chunk_size > 0 {
            leaves.push(jialing_core::merkle::leaf_hash(&buf[..n]));
        } else {
            h.update(&buf[..n]);
        }
        size += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if chunk_size > 0 {
        return Ok((jialing_core::merkle::root_from_leaf_hashes(&leaves), size));
    }
    Ok((Hash(h.finalize().into()), size))
}

fn parse_link(s: &str) -> Result<Link, ClientError> {
    let (kind, id) = s.split_once(':').ok_or_else(|| ClientError::Args(format!("link {s:?} is not KIND:ID")))?;
    let kind = match kind {
        "lot" => LinkKind::Lot,
        "data_product" => LinkKind::DataProduct,
        "credit_record" => LinkKind::CreditRecord,
        k => return Err(ClientError::Args(format!("link kind {k:?}: use lot, data_product or credit_record"))),
    };
    Ok(Link { kind, id: id.to_string() })
}

fn state(client: &Client, key: &[u8]) -> Result<Value, ClientError> {
    let key = String::from_utf8_lossy(key).into_owned();
    Ok(client.get_json(&format!("/v1/proof/state?key={key}"))?["proof"].clone())
}

/// Checks one state proof offline and returns its value.
fn proven(
    v: &Value,
    chain: &str,
    trusted: &jialing_core::proof::TrustedSets,
    key: &[u8],
) -> Result<StateValueProof, ClientError> {
    let p: Proof = serde_json::from_value(v.clone())
        .map_err(|e| ClientError::Decode { what: "attestation proof".into(), reason: e.to_string() })?;
    let Proof::State(sp) = p else {
        return Err(ClientError::Verification("the attestation proof holds no state proof".into()));
    };
    if sp.key != key {
        return Err(ClientError::Verification(format!(
            "the proof is for key {}, not {}",
            String::from_utf8_lossy(&sp.key),
            String::from_utf8_lossy(key)
        )));
    }
    let verdict = Proof::State(sp.clone()).verify_trusted(chain, trusted).map_err(|e| {
        let hint = if e.to_string().contains("validator") {
            " (if the validator set changed since genesis, pass --validator-history from `jialing audit replay --validator-history-out`)"
        } else {
            ""
        };
        ClientError::Verification(format!("{e}{hint}"))
    })?;
    match verdict {
        Verified::State { .. } => Ok(sp),
        _ => Err(ClientError::Verification("not a state proof".into())),
    }
}

/// Runs an attestation command.
pub fn run(cmd: &AttestCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        AttestCommand::Record(a) => {
            let (digest, size) = hash_file(&a.file, a.chunk_size, out.json)?;
            let title = a.title.clone().unwrap_or_else(|| {
                a.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "document".into())
            });
            let payload = AttestDocument {
                id: a.id.clone().unwrap_or_else(|| digest.to_hex()[..16].to_string()),
                digest,
                chunk_size: a.chunk_size,
                size,
                doc_type: a.doc_type.clone(),
                title,
                links: a.links.iter().map(|l| parse_link(l)).collect::<Result<_, _>>()?,
            };
            eprintln!("attesting {} as {}: SHA-256 {digest}, {size} bytes", a.file.display(), payload.id);
            let builder = TxBuilder::from_node(client, keys::load(&a.key)?)?;
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
        AttestCommand::Revoke(a) => {
            let payload = RevokeAttestation { id: a.id.clone(), reason: a.reason.clone() };
            let builder = TxBuilder::from_node(client, keys::load(&a.key)?)?;
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
        AttestCommand::Proof(a) => {
            let (digest, _) = hash_file(&a.file, a.chunk_size, out.json)?;
            let by_digest = state(client, &attest::digest_key(&digest))?;
            let id: String = by_digest["value"]
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| jialing_core::encoding::decode("attestation id", &b).ok())
                .ok_or_else(|| {
                    ClientError::Verification(format!("no attestation of SHA-256 {digest} on the ledger"))
                })?;
            let doc = state(client, &attest::doc_key(&id))?;
            let proof = json!({
                "digest": digest, "chunk_size": a.chunk_size, "id": id, "by_digest": by_digest, "attestation": doc,
            });
            let text = serde_json::to_string_pretty(&proof)
                .map_err(|e| ClientError::Decode { what: "proof".into(), reason: e.to_string() })?;
            match &a.out {
                Some(p) => std::fs::write(p, text).map_err(|e| ClientError::Io { path: p.clone(), source: e }),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        AttestCommand::Verify(a) => {
            let (chain, set) = a.trust.sets()?;
            let text =
                std::fs::read_to_string(&a.proof).map_err(|e| ClientError::Io { path: a.proof.clone(), source: e })?;
            let p: Value = serde_json::from_str(&text)
                .map_err(|e| ClientError::Decode { what: "attestation proof".into(), reason: e.to_string() })?;
            // The chunk size from the proof file is checked below against the proven version.
            let chunk_size = p["chunk_size"].as_u64().and_then(|c| u32::try_from(c).ok()).unwrap_or(0);
            let (digest, size) = hash_file(&a.file, chunk_size, out.json)?;
            let by_digest = proven(&p["by_digest"], &chain, &set, &attest::digest_key(&digest)).map_err(|e| {
                ClientError::Verification(format!("this file (SHA-256 {digest}) is not the attested one: {e}"))
            })?;
            let id: String = by_digest
                .value
                .as_deref()
                .and_then(|b| jialing_core::encoding::decode("attestation id", b).ok())
                .ok_or_else(|| {
                    ClientError::Verification(format!("the ledger holds no attestation of SHA-256 {digest}"))
                })?;
            let doc = proven(&p["attestation"], &chain, &set, &attest::doc_key(&id))?;
            let att: Attestation = doc
                .value
                .as_deref()
                .and_then(|b| jialing_core::encoding::decode("attestation", b).ok())
                .ok_or_else(|| ClientError::Verification(format!("attestation {id} is not on the ledger")))?;
            let (n, v) = att
                .versions
                .iter()
                .enumerate()
                .find(|(_, v)| v.digest == digest && v.chunk_size == chunk_size)
                .ok_or_else(|| {
                    ClientError::Verification(format!(
                        "attestation {id} has no version {digest} (chunk size {chunk_size})"
                    ))
                })?;
            let report = json!({
                "verified": true, "file": a.file, "sha256": digest, "chunk_size": chunk_size, "size": size, "id": id, "version": n + 1,
                "versions": att.versions.len(), "org": att.org, "signer": v.signer, "time_ms": v.time_ms,
                "doc_type": v.doc_type, "title": v.title, "links": v.links, "revoked": att.revoked,
                "block": doc.block.header.height,
            });
            out.emit(&report, || {
                let mut s = format!(
                    "VERIFIED: {} (SHA-256 {digest}, {size} bytes) is version {} of {} of attestation {id}\n  by organisation {} (key {}) at {}\n  type {}, title {:?}; proven under block {}",
                    a.file.display(),
                    n + 1,
                    att.versions.len(),
                    att.org,
                    v.signer,
                    format_utc_ms(v.time_ms),
                    v.doc_type,
                    v.title,
                    doc.block.header.height
                );
                match &att.revoked {
                    Some(r) => s.push_str(&format!(
                        "\n  REVOKED at {} by {}: {}",
                        format_utc_ms(r.time_ms),
                        r.signer,
                        r.reason
                    )),
                    None => s.push_str("\n  not revoked"),
                }
                s
            })
        }
    }
}
