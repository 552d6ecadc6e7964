//! `GET /v1/checkpoint/latest` and `GET /v1/checkpoint/{height}`: the signed checkpoint
//! (`jialing_core::checkpoint`, C2SP signed-note text) of every height that is a
//! multiple of `[api] checkpoint_every_blocks`, signed by the validators' precommits of
//! that block. Plain text, so witnesses can store and compare them as they are.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jialing_core::checkpoint::Checkpoint;

use crate::api::{Api, ApiError, blocking};

/// The note of the checkpoint at `height` (which must be a checkpoint height).
pub fn note(api: &Api, height: u64) -> Result<String, ApiError> {
    let every = api.info.checkpoint_every.max(1);
    if height == 0 || !height.is_multiple_of(every) {
        return Err(ApiError::not_found(format!(
            "{height} is not a checkpoint height: checkpoints are at the multiples of {every}"
        )));
    }
    let c = crate::proofs::certified(&api.ledger, height)?;
    let genesis = api.ledger.store.header(0)?.ok_or_else(|| ApiError::not_found("no genesis block"))?;
    let fp = jialing_core::chain_identity::fingerprint(&genesis.hash());
    Ok(Checkpoint::of(&c.header, &c.certificate, &fp).note(&c.certificate))
}

fn text(note: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
}

/// `GET /v1/checkpoint/latest`: the checkpoint of the highest checkpoint height.
pub async fn latest(State(api): State<Api>) -> Result<Response, ApiError> {
    let tip = api.ledger.tip.read().map(|t| t.header.height).unwrap_or(0);
    let every = api.info.checkpoint_every.max(1);
    let h = tip - tip % every;
    if h == 0 {
        return Err(ApiError::not_found(format!(
            "no checkpoint yet: the first is at height {every}, the chain is at {tip}"
        )));
    }
    blocking(api.reads.clone(), move || note(&api, h)).await.map(text)
}

/// `GET /v1/checkpoint/{height}`.
pub async fn at(State(api): State<Api>, Path(height): Path<String>) -> Result<Response, ApiError> {
    let height: u64 =
        height.parse().map_err(|_| ApiError::bad_request(format!("{height:?} is not a height (or `latest`)")))?;
    blocking(api.reads.clone(), move || note(&api, height)).await.map(text)
}
