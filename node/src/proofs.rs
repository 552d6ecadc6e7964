//! Proof endpoints: a transaction's inclusion in a certified block, a state value under
//! the tip's certified state root, and that the chain at one height extends another
//! (`jialing_core::proof`, in `O(log n)` hashes from the store's history nodes). Everything a verifier needs is in the answer except the
//! validator set it trusts, which it brings itself (the genesis file).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jialing_core::history::HistoryLink;
use jialing_core::proof::{CertifiedHeader, ConsistencyProof, Proof, ReceiptProof, StateValueProof, TxProof};
use jialing_core::{Hash, merkle};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{self, ReadRequest};
use crate::api::{Api, ApiError, blocking};
use crate::app::Ledger;

type ProofResult = Result<Json<Value>, ApiError>;

/// The certified header at `height`.
pub fn certified(ledger: &Ledger, height: u64) -> Result<CertifiedHeader, ApiError> {
    let header =
        ledger.store.header(height)?.ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    let certificate = ledger.store.certificate(height)?.ok_or_else(|| {
        ApiError::not_found(format!("block {height} has no commit certificate (the genesis block is not certified)"))
    })?;
    Ok(CertifiedHeader { header, certificate })
}

/// The inclusion proof of a committed transaction.
pub fn tx_proof(ledger: &Ledger, hash: &Hash) -> Result<TxProof, ApiError> {
    let rec =
        ledger.store.tx(hash)?.ok_or_else(|| ApiError::not_found(format!("transaction {hash} is not committed")))?;
    // The leaves commit to each transaction's signature as well as its body.
    let entries = ledger.store.block_entries(rec.height)?.unwrap_or_default();
    let leaves: Vec<Hash> =
        entries.iter().map(|(h, sig)| merkle::leaf_hash(&jialing_core::tx::entry_hash(h, sig).0)).collect();
    let signature = entries.get(rec.index as usize).map(|(_, s)| *s).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_store",
            format!("block {} holds no transaction at position {}", rec.height, rec.index),
        )
    })?;
    let inclusion = merkle::inclusion_proof(&leaves, rec.index as usize)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_store", e.to_string()))?;
    // Receipts are stored in their canonical encoding: hash the stored bytes.
    let receipts = ledger.store.raw_receipts(rec.height)?;
    let r_leaves: Vec<Hash> = receipts.iter().map(|r| merkle::leaf_hash(&jialing_core::sha256(r).0)).collect();
    let receipt = match receipts.get(rec.index as usize) {
        Some(r) if r_leaves.len() == leaves.len() => Some(ReceiptProof {
            bytes: r.clone(),
            inclusion: merkle::inclusion_proof(&r_leaves, rec.index as usize)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_store", e.to_string()))?,
        }),
        _ => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_store",
                format!("block {} holds {} receipts for {} transactions", rec.height, receipts.len(), leaves.len()),
            ));
        }
    };
    Ok(TxProof { tx_hash: *hash, signature, inclusion, block: certified(ledger, rec.height)?, receipt })
}

fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(s).map_err(|_| ApiError::bad_request(format!("{s:?} is not a 64-digit hex hash")))
}

fn with_validators(ledger: &Ledger, proof: &Proof) -> Value {
    // The validator set is included for convenience only: a verifier must check the
    // certificate against the set it trusts (from genesis), not this one.
    let set = ledger.tip.read().map(|t| t.validators.clone()).unwrap_or_default();
    json!({ "chain_id": ledger.chain_id, "proof": proof, "untrusted_validators": set })
}

/// `GET /v1/proof/tx/{hash}`: served only to a caller who may read the transaction
/// (the proof carries its signature and receipt).
pub async fn tx(State(api): State<Api>, Path(hash): Path<String>, req: ReadRequest) -> ProofResult {
    let hash = parse_hash(&hash)?;
    blocking(api.reads.clone(), move || {
        req.answer(&api, |caller| {
            if let Some((_, stx)) = api.ledger.store.signed_tx(&hash)? {
                caller.require(&access::tx_visibility(&api.ledger, &stx), &format!("transaction {hash}"))?;
            }
            let proof = Proof::Tx(tx_proof(&api.ledger, &hash)?);
            Ok(Json(with_validators(&api.ledger, &proof)))
        })
    })
    .await
}

/// Query of `GET /v1/proof/state`.
#[derive(Deserialize)]
pub struct StateQuery {
    /// The state key, e.g. `lot/FD-POMELO-2026-001`.
    key: String,
}

/// A state proof of `key` at the tip.
pub fn state_proof(ledger: &Arc<Ledger>, key: &[u8]) -> Result<StateValueProof, ApiError> {
    let tip = ledger.tip.read().map(|t| t.clone()).map_err(|_| ApiError::bad_request("tip lock poisoned"))?;
    let value = {
        use jialing_contracts::StateView;
        ledger.store.get(key).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))?
    };
    let proof = tip.tree.prove(key);
    Ok(StateValueProof { key: key.to_vec(), value, proof, block: certified(ledger, tip.header.height)? })
}

/// `GET /v1/proof/state?key=...`: the key's value (or absence) under the tip's state
/// root, served only to a caller who may read the key (the read policy's visibility
/// of the key and its value).
pub async fn state(State(api): State<Api>, Query(q): Query<StateQuery>, req: ReadRequest) -> ProofResult {
    if q.key.is_empty() || q.key.len() > 512 {
        return Err(ApiError::bad_request("key must be 1 to 512 bytes, e.g. lot/<id>"));
    }
    blocking(api.reads.clone(), move || {
        req.answer(&api, |caller| {
            let proof = state_proof(&api.ledger, q.key.as_bytes())?;
            let v = jialing_contracts::visibility::of_state(&proof.key, proof.value.as_deref());
            caller.require(&v, &format!("state key {}", q.key))?;
            Ok(Json(with_validators(&api.ledger, &Proof::State(proof))))
        })
    })
    .await
}

/// Query of `GET /v1/proof/consistency`.
#[derive(Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// The consistency proof from `from` to `to` (`from < to <= tip`): the header at
/// `from`, the certified header at `to`, and from the stored history nodes the
/// inclusion proof of block `from` in the history tree of size `to` and the
/// consistency proof between the trees of sizes `from` and `to` (`O(log to)` hashes
/// each, `jialing_core::history`).
pub fn consistency_proof(ledger: &Ledger, from: u64, to: u64) -> Result<ConsistencyProof, ApiError> {
    let from_header =
        ledger.store.header(from)?.ok_or_else(|| ApiError::not_found(format!("no block at height {from}")))?;
    let to = certified(ledger, to)?;
    let size = to.header.height;
    let inclusion = ledger.store.history_inclusion(from, size)?;
    let consistency = if from == 0 { None } else { Some(ledger.store.history_consistency(from, size)?) };
    Ok(ConsistencyProof { from: from_header, to, history: HistoryLink { inclusion, consistency } })
}

/// `GET /v1/proof/consistency?from=H1&to=H2`: that the chain certified at `H2` extends
/// the chain at `H1` (`0 <= H1 < H2 <= tip`; `to` defaults to the tip). Header `h`
/// commits to the history tree over the hashes of blocks `0..h`, so the answer holds
/// the header at `H1`, the certified header at `H2`, the inclusion proof of block
/// `H1`'s hash (leaf `H1`) in the tree of size `H2`, and the RFC 9162 consistency proof
/// between the trees of sizes `H1` and `H2` (none when `H1` is 0): `O(log H2)` hashes,
/// any distance.
pub async fn consistency(State(api): State<Api>, Query(q): Query<ConsistencyQuery>) -> ProofResult {
    let tip = api.ledger.tip.read().map(|t| t.header.height).unwrap_or(0);
    let to = q.to.unwrap_or(tip);
    if q.from >= to || to > tip {
        return Err(ApiError::bad_request(format!(
            "need 0 <= from < to <= {tip} (the tip); got from={} to={to}",
            q.from
        )));
    }
    blocking(api.reads.clone(), move || {
        let proof = Proof::Consistency(consistency_proof(&api.ledger, q.from, to)?);
        Ok(Json(with_validators(&api.ledger, &proof)))
    })
    .await
}

/// Query of `GET /v1/blocks/raw`.
#[derive(Deserialize)]
pub struct RawQuery {
    from: u64,
    limit: Option<u64>,
}

/// Most blocks in one `GET /v1/blocks/raw`.
pub const MAX_RAW_BLOCKS: u64 = 100;
/// Byte budget of one `GET /v1/blocks/raw` answer (before hex).
const MAX_RAW_BYTES: usize = 16 * 1024 * 1024;

/// `GET /v1/blocks/raw?from=H&limit=N`: blocks `H..` as hex of the canonical encoding of
/// `(Block, Option<CommitCertificate>)`, for auditors replaying the chain (at most 100
/// blocks or 16 MiB per answer; ask again from the next height). Blocks carry every
/// payload, restricted ones included, so they are served to members only (a request
/// signed by a current member key): members' nodes receive every block anyway.
pub async fn blocks_raw(State(api): State<Api>, Query(q): Query<RawQuery>, req: ReadRequest) -> ProofResult {
    let tip = api.ledger.tip.read().map(|t| t.header.height).unwrap_or(0);
    if q.from > tip {
        return Err(ApiError::not_found(format!("no block at height {}; the chain is at {tip}", q.from)));
    }
    let limit = q.limit.unwrap_or(MAX_RAW_BLOCKS).clamp(1, MAX_RAW_BLOCKS);
    let ledger = api.ledger.clone();
    let blocks = blocking(api.reads.clone(), move || {
        req.answer(&api, |caller| {
            caller.require_member("raw blocks")?;
            let mut out = Vec::new();
            let mut bytes = 0usize;
            for h in q.from..=tip.min(q.from.saturating_add(limit - 1)) {
                let block =
                    ledger.store.block(h)?.ok_or_else(|| ApiError::not_found(format!("no block at height {h}")))?;
                let cert = ledger.store.certificate(h)?;
                let enc = jialing_core::encoding::encode(&(block, cert));
                bytes += enc.len();
                out.push(hex::encode(enc));
                if bytes >= MAX_RAW_BYTES {
                    break;
                }
            }
            Ok(out)
        })
    })
    .await?;
    Ok(Json(json!({ "from": q.from, "tip": tip, "blocks": blocks })))
}
