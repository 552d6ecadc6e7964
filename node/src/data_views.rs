//! Public data-exchange views over HTTP, kept apart from the register views:
//! `GET /v1/data/lineage/{id}`, a product's provenance both ways (the read model is
//! `jialing_contracts::data::lineage`), and `GET /v1/data/voucher/{id}`, a data asset
//! voucher with its holder, pledge and history, and `GET /v1/data/market`, the open
//! demands and the products on sale.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api::{Api, ApiError, blocking};

/// The routes of this module (public).
pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/data/lineage/{id}", get(lineage))
        .route("/v1/data/voucher/{id}", get(voucher))
        .route("/v1/data/market", get(market))
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

/// Most demands and most products the market view reads (each).
pub const MAX_MARKET_ENTRIES: usize = 1_000;

fn scan<T: borsh::BorshDeserialize>(api: &Api, prefix: &str) -> Result<(Vec<T>, bool), ApiError> {
    let rows = api
        .ledger
        .store
        .state_scan(prefix.as_bytes(), MAX_MARKET_ENTRIES + 1)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string()))?;
    let truncated = rows.len() > MAX_MARKET_ENTRIES;
    let mut out = Vec::new();
    for (k, v) in rows.into_iter().take(MAX_MARKET_ENTRIES) {
        out.push(jialing_core::encoding::decode("state value", &v).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_state",
                format!("{}: {e}", String::from_utf8_lossy(&k)),
            )
        })?);
    }
    Ok((out, truncated))
}

/// `GET /v1/data/market`: open data demands and the products on sale (public).
pub async fn market(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    use jialing_contracts::data::market::{Demand, listing};
    blocking(api.reads.clone(), move || {
        let now = api.ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
        let (demands, more_demands) = scan::<Demand>(&api, jialing_contracts::data::DEMAND_PREFIX)?;
        let (products, more_products) =
            scan::<jialing_contracts::data::types::DataProduct>(&api, jialing_contracts::data::PRODUCT_PREFIX)?;
        let open: Vec<Demand> = demands.into_iter().filter(|d| d.open_at(now)).collect();
        let listed: Vec<_> = products.iter().filter_map(|p| listing(p, now)).collect();
        Ok(Json(json!({
            "time_ms": now, "demands": open, "listings": listed, "truncated": more_demands || more_products,
        })))
    })
    .await
}
