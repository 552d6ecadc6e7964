//! `GET /v1/proof/lot/{id}`: everything the consumer page needs to check a lot without
//! trusting the node: the validator history from genesis (`jialing_core::chain_identity`,
//! checked against the fingerprint in the scanned code), the lot's current record under
//! the tip's certified state root, and the inclusion proof of its latest event.
//!
//! The history needs the state proof of the `validators` key at each block that
//! changed the set. The store keeps only the tip's state, so the node finds the change
//! heights from the headers (a change at `c` makes header `c + 1` name another set) and
//! replays the chain from genesis up to each change once, keeping the proofs (they
//! never change) and the replay state for the next change.

use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jialing_contracts::block_validator::{Parent, validate_block};
use jialing_contracts::state::MemState;
use jialing_core::chain_identity::{PinnedHistory, VALIDATORS_KEY};
use jialing_core::history::Frontier;
use jialing_core::proof::{CertifiedHeader, ValidatorChange};
use jialing_core::state_tree::StateTree;
use jialing_core::{BlockHeader, Hash, ValidatorSet};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::ReadRequest;
use crate::api::{Api, ApiError, blocking};

/// Where the replay stands.
struct Replay {
    header: BlockHeader,
    set: ValidatorSet,
    state: MemState,
    tree: StateTree,
    /// History accumulator over blocks `0..=header.height`.
    history: Frontier,
}

/// Proven validator-set changes, found once and kept.
#[derive(Default)]
pub struct HistoryCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Headers compared up to this height.
    scanned: u64,
    /// Heights whose block changed the set, not yet proven.
    pending: Vec<u64>,
    /// Proven changes, in height order.
    changes: Vec<ValidatorChange>,
    replay: Option<Replay>,
}

fn internal(m: String) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_store", m)
}

/// The validator history up to `tip` (changes at heights below `tip`).
pub fn validator_history(api: &Api, tip: u64) -> Result<PinnedHistory, ApiError> {
    let ledger = &api.ledger;
    let init = &api.info.initial_state;
    let (genesis, gtree, gwrites) = init.genesis_block().map_err(|e| internal(e.to_string()))?;
    let genesis_validators = init.validator_set().map_err(|e| internal(e.to_string()))?;
    let mut guard = api.validator_history.inner.lock().map_err(|_| internal("history lock poisoned".into()))?;
    let c = &mut *guard;
    // Find new change heights: header h + 1 names another set than header h.
    let mut prev = ledger.store.header(c.scanned)?.ok_or_else(|| internal(format!("no header {}", c.scanned)))?;
    while c.scanned < tip {
        let next = c.scanned + 1;
        let h = ledger.store.header(next)?.ok_or_else(|| internal(format!("no header {next}")))?;
        if h.validator_set_hash != prev.validator_set_hash {
            c.pending.push(c.scanned);
        }
        prev = h;
        c.scanned = next;
    }
    // Prove them by replaying up to each.
    while let Some(&target) = c.pending.first() {
        let mut r = match c.replay.take() {
            Some(r) => r,
            None => {
                let mut state = MemState::default();
                state.apply(&gwrites);
                let mut history = Frontier::new();
                history.append(&genesis.hash());
                Replay { header: genesis.clone(), set: genesis_validators.clone(), state, tree: gtree.clone(), history }
            }
        };
        while r.header.height < target {
            let h = r.header.height + 1;
            let block = ledger.store.block(h)?.ok_or_else(|| internal(format!("no block {h}")))?;
            let parent = Parent { header: &r.header, hash: r.header.hash(), validators: &r.set, history: &r.history };
            // Our own committed blocks: their signatures were verified when committed.
            let valid = validate_block(parent, &r.state, &r.tree, &block, &|_, _, _| true)
                .map_err(|e| internal(format!("replaying block {h}: {e}")))?;
            let out = valid.outcome;
            if let Some(Some(b)) = out.writes.get(VALIDATORS_KEY) {
                r.set = jialing_core::encoding::decode("validator set", b).map_err(|e| internal(e.to_string()))?;
            }
            r.state.apply(&out.writes);
            r.tree = out.tree;
            r.history.append(&block.header.hash());
            r.header = block.header;
        }
        let header = r.header.clone();
        if r.tree.root() != header.state_root {
            return Err(internal(format!("replay of block {target} gives another state root")));
        }
        let certificate =
            ledger.store.certificate(target)?.ok_or_else(|| internal(format!("block {target} has no certificate")))?;
        c.changes.push(ValidatorChange {
            block: CertifiedHeader { header, certificate },
            validators: r.set.clone(),
            proof: r.tree.prove(VALIDATORS_KEY),
        });
        c.pending.remove(0);
        c.replay = Some(r);
    }
    let changes = c.changes.iter().filter(|x| x.block.header.height < tip).cloned().collect();
    Ok(PinnedHistory { genesis, genesis_validators, changes })
}

/// Query of `GET /v1/proof/lot/{id}`.
#[derive(Deserialize)]
pub struct LotProofQuery {
    /// The transaction whose inclusion to prove as well (the page's latest event).
    tx: Option<String>,
}

/// `GET /v1/proof/lot/{id}?tx=HASH`: `{chain_id, fingerprint, history, state,
/// latest_event}` (the last only with `tx`). The lot's record, the validator set and the
/// event must each be readable by the caller under the read policy.
pub async fn lot(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<LotProofQuery>,
    req: ReadRequest,
) -> Result<Json<Value>, ApiError> {
    jialing_contracts::trace::rules::id_format("lot id", &id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let tx = match &q.tx {
        Some(t) => {
            Some(Hash::from_hex(t).map_err(|_| ApiError::bad_request(format!("tx {t:?} is not a 64-digit hex hash")))?)
        }
        None => None,
    };
    blocking(api.reads.clone(), move || {
        req.answer(&api, |caller| {
            let key = jialing_contracts::trace::lot_key(&id);
            let state = crate::proofs::state_proof(&api.ledger, &key)?;
            if state.value.is_none() {
                return Err(ApiError::not_found(format!("lot {id} is not on the ledger")));
            }
            let v = jialing_contracts::visibility::of_state(&state.key, state.value.as_deref());
            caller.require(&v, &format!("lot {id}"))?;
            let vs = jialing_contracts::visibility::of_state(VALIDATORS_KEY, None);
            caller.require(&vs, "the validator set")?;
            let latest_event = match tx {
                Some(hash) => {
                    let (_, stx) = api
                        .ledger
                        .store
                        .signed_tx(&hash)?
                        .ok_or_else(|| ApiError::not_found(format!("transaction {hash} is not committed")))?;
                    caller.require(&crate::access::tx_visibility(&api.ledger, &stx), &format!("transaction {hash}"))?;
                    Some(crate::proofs::tx_proof(&api.ledger, &hash)?)
                }
                None => None,
            };
            let history = validator_history(&api, state.block.header.height)?;
            let fingerprint = jialing_core::chain_identity::fingerprint(&history.genesis.hash());
            Ok(Json(json!({
                "chain_id": api.ledger.chain_id,
                "fingerprint": fingerprint,
                "history": history,
                "state": state,
                "latest_event": latest_event,
            })))
        })
    })
    .await
}
