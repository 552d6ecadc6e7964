//! Public data-exchange views over HTTP, kept apart from the register views:
//! `GET /v1/data/lineage/{id}`, a product's provenance both ways (the read model is
//! `jialing_contracts::data::lineage`), and `GET /v1/data/voucher/{id}`, a data asset
//! voucher with its holder, pledge and history.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api::{Api, ApiError, blocking};

/// The routes of this module (public).
pub fn routes() -> Router<Api> {
    Router::new().route("/v1/data/lineage/{id}", get(lineage)).route("/v1/data/voucher/{id}", get(voucher))
}

fn internal(e: jialing_contracts::ContractError) -> ApiError {
    let code = if matches!(e, jialing_contracts::ContractError::Storage(_)) { "storage" } else { "corrupt_state" };
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string())
}

/// `GET /v1/data/lineage/{id}`: where a product's data came from and what was derived
/// from it (public).
pub async fn lineage(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        jialing_contracts::trace::rules::id_format("product id", &id)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let l = jialing_contracts::data::lineage::lineage(&api.ledger.store, &id)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found(format!("data product {id} is not on the ledger")))?;
        Ok(Json(json!(l)))
    })
    .await
}

/// `GET /v1/data/voucher/{id}`: a data asset voucher (public).
pub async fn voucher(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        jialing_contracts::trace::rules::id_format("voucher id", &id)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let v: jialing_contracts::data::types::Voucher =
            crate::views::read(&api.ledger, &jialing_contracts::data::voucher_key(&id))?
                .ok_or_else(|| ApiError::not_found(format!("voucher {id} is not on the ledger")))?;
        Ok(Json(json!({"voucher": v})))
    })
    .await
}
