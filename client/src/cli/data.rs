//! `jialing data`: integrity checks anyone can run on a dataset file. `digest` computes
//! its dataset digest (the RFC 9162 Merkle root of 1 MiB chunks that providers register
//! as the version hash and buyers put in their acceptance), streaming with a progress
//! bar; `verify` checks a file against a product's registered version; `prove` writes
//! the inclusion proof of one chunk (and the chunk itself) so a buyer can check part of
//! a dataset with `check-chunk`, without the rest.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use jialing_contracts::data::digest::{CHUNK_BYTES, ChunkProof, DatasetDigest, DigestBuilder};
use jialing_core::Hash;
use serde_json::json;

use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// `jialing data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Compute a file's dataset digest: the RFC 9162 Merkle root of its 1 MiB chunks
    /// (register it as the version hash; accept a delivery with it).
    Digest(DigestArgs),
    /// Check a file against a data product's registered version hash (exit code 6 on a
    /// mismatch).
    Verify(VerifyArgs),
    /// Write the inclusion proof of one chunk of a file, and optionally the chunk itself,
    /// for a buyer to check part of the dataset.
    Prove(ProveArgs),
    /// Check one chunk (a file holding only that chunk) against a data product's
    /// registered version hash with its proof (exit code 6 when it does not belong).
    CheckChunk(CheckChunkArgs),
}

/// `jialing data digest` arguments.
#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The dataset file.
    pub file: PathBuf,
}

/// `jialing data verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The dataset file.
    pub file: PathBuf,
    /// The data product id on the ledger.
    #[arg(long)]
    pub product: String,
}

/// `jialing data prove` arguments.
#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The dataset file.
    pub file: PathBuf,
    /// The chunk's index, from 0.
    #[arg(long)]
    pub chunk: u64,
    /// Where to write the proof (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also write the chunk's bytes here.
    #[arg(long, value_name = "FILE")]
    pub chunk_out: Option<PathBuf>,
}

/// `jialing data check-chunk` arguments.
#[derive(Debug, Args)]
pub struct CheckChunkArgs {
    /// A file holding only the chunk.
    pub chunk: PathBuf,
    /// The proof written by `jialing data prove`.
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// The data product id on the ledger.
    #[arg(long)]
    pub product: String,
}

/// Runs a `jialing data` command.
pub fn run(cmd: &DataCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        DataCommand::Digest(a) => {
            let d = digest_file(&a.file, !out.json)?;
            out.emit(&summary(&a.file, &d), || {
                format!("{}  {} ({} bytes, {} chunks)", d.root, a.file.display(), d.size_bytes, d.chunk_hashes.len())
            })
        }
        DataCommand::Verify(a) => {
            let registered = registered_hash(client, &a.product)?;
            let d = digest_file(&a.file, !out.json)?;
            if d.root != registered {
                return Err(ClientError::Verification(format!(
                    "{} has digest {}, product {} registered {registered}: not the registered version",
                    a.file.display(),
                    d.root,
                    a.product
                )));
            }
            let mut v = summary(&a.file, &d);
            v["product"] = json!(a.product);
            v["registered"] = json!(registered);
            v["matches"] = json!(true);
            out.emit(&v, || format!("OK: {} is the registered version of product {}", a.file.display(), a.product))
        }
        DataCommand::Prove(a) => {
            let d = digest_file(&a.file, !out.json)?;
            let proof = d.chunk_proof(a.chunk).map_err(|e| ClientError::Args(e.to_string()))?;
            let text = serde_json::to_string_pretty(&proof).map_err(|e| ClientError::Args(e.to_string()))?;
            write(&a.out, text.as_bytes())?;
            if let Some(path) = &a.chunk_out {
                write(path, &read_chunk(&a.file, a.chunk)?)?;
            }
            out.emit(&json!({"root": d.root, "chunk": a.chunk, "proof": proof}), || {
                format!(
                    "proof of chunk {} of {} (root {}) written to {}",
                    a.chunk,
                    a.file.display(),
                    d.root,
                    a.out.display()
                )
            })
        }
        DataCommand::CheckChunk(a) => {
            let registered = registered_hash(client, &a.product)?;
            let text = std::fs::read_to_string(&a.proof).map_err(|e| io(&a.proof, e))?;
            let proof: ChunkProof = serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("{} is not a chunk proof: {e}", a.proof.display())))?;
            let chunk = read_bounded(&a.chunk, CHUNK_BYTES as u64)?;
            proof.verify(&chunk, &registered).map_err(|e| ClientError::Verification(e.to_string()))?;
            let index = proof.proof.leaf_index;
            out.emit(&json!({"product": a.product, "chunk": index, "registered": registered, "matches": true}), || {
                format!("OK: {} is chunk {index} of product {}'s registered version", a.chunk.display(), a.product)
            })
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::Io { path: path.to_path_buf(), source }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    std::fs::File::create(path).and_then(|mut f| f.write_all(bytes)).map_err(|e| io(path, e))
}

fn summary(file: &Path, d: &DatasetDigest) -> serde_json::Value {
    json!({"file": file.display().to_string(), "digest": d.root, "size_bytes": d.size_bytes, "chunks": d.chunk_hashes.len(), "chunk_bytes": CHUNK_BYTES})
}

/// The registered version hash of a data product, from the node.
fn registered_hash(client: &Client, product: &str) -> Result<Hash, ClientError> {
    let v = client.get_json(&format!("/v1/data/product/{product}"))?;
    v["product"]["version_hash"].as_str().and_then(|s| Hash::from_hex(s).ok()).ok_or_else(|| ClientError::Decode {
        what: format!("data product {product}"),
        reason: "no product.version_hash".into(),
    })
}

/// Streams a file through the digest, with a progress bar on stderr when `progress`.
pub fn digest_file(path: &Path, progress: bool) -> Result<DatasetDigest, ClientError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let len = f.metadata().map_err(|e| io(path, e))?.len();
    let bar = if progress && len > CHUNK_BYTES as u64 {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut builder = DigestBuilder::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(path, e)),
        };
        builder.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(builder.finish())
}

/// Chunk `index` of a file.
fn read_chunk(path: &Path, index: u64) -> Result<Vec<u8>, ClientError> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let at = index
        .checked_mul(CHUNK_BYTES as u64)
        .ok_or_else(|| ClientError::Args(format!("chunk {index} is out of range")))?;
    f.seek(SeekFrom::Start(at)).map_err(|e| io(path, e))?;
    let mut chunk = Vec::with_capacity(CHUNK_BYTES);
    f.take(CHUNK_BYTES as u64).read_to_end(&mut chunk).map_err(|e| io(path, e))?;
    Ok(chunk)
}

/// Reads a file of at most `max` bytes (refuses a longer one without reading it all).
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ClientError> {
    let f = File::open(path).map_err(|e| io(path, e))?;
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(|e| io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(ClientError::Args(format!(
            "{} is longer than one chunk ({max} bytes): give the chunk alone (jialing data prove --chunk-out)",
            path.display()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_digest_is_the_contract_digest_and_a_proved_chunk_checks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("d.csv");
        let data: Vec<u8> = (0..2 * CHUNK_BYTES + 77).map(|i| (i % 253) as u8).collect();
        std::fs::write(&file, &data).unwrap();
        let d = digest_file(&file, false).unwrap();
        assert_eq!(d, jialing_contracts::data::digest::digest(&data));
        let chunk = read_chunk(&file, 2).unwrap();
        assert_eq!(chunk, &data[2 * CHUNK_BYTES..]);
        d.chunk_proof(2).unwrap().verify(&chunk, &d.root).unwrap();
        // Another chunk with the same proof does not check.
        assert!(d.chunk_proof(2).unwrap().verify(&read_chunk(&file, 1).unwrap(), &d.root).is_err());
    }

    #[test]
    fn a_chunk_file_longer_than_a_chunk_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        std::fs::write(&file, vec![0u8; CHUNK_BYTES + 1]).unwrap();
        assert!(matches!(read_bounded(&file, CHUNK_BYTES as u64), Err(ClientError::Args(_))));
    }
}
