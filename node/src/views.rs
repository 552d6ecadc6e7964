//! Register views over HTTP: public views anyone may read, and restricted views that
//! need a signed request from an authorised role and are written to the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jialing_contracts::StateView;
use jialing_contracts::credit::{self, DishonestyRecord, SubjectIndex};
use jialing_core::{Role, encoding};
use serde_json::{Value, json};

use crate::access::{Caller, ReadRequest};
use crate::api::{Api, ApiError, blocking};
use crate::app::Ledger;

/// Roles that may read every credit record of a subject (the credit contract's).
pub const CREDIT_READERS: &[Role] = credit::QUERY_ROLES;

/// Reads and decodes one state value.
pub(crate) fn read<T: borsh::BorshDeserialize>(ledger: &Ledger, key: &[u8]) -> Result<Option<T>, ApiError> {
    let Some(b) = ledger.store.get(key).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))?
    else {
        return Ok(None);
    };
    encoding::decode("state value", &b)
        .map(Some)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))
}

fn records(ledger: &Ledger, subject: &str) -> Result<Vec<DishonestyRecord>, ApiError> {
    if subject.is_empty() || subject.len() > 64 || !subject.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::bad_request(format!("{subject:?} is not a subject id (a USCC or a 64-hex person hash)")));
    }
    let index: SubjectIndex = read(ledger, &credit::store::index_key(subject))?.unwrap_or_default();
    let mut out = Vec::new();
    for id in &index.records {
        if let Some(r) = read::<DishonestyRecord>(ledger, &credit::store::record_key(id))? {
            out.push(r);
        }
    }
    Ok(out)
}

fn now(ledger: &Ledger) -> u64 {
    ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0)
}

/// `GET /v1/credit/{subject}`: the subject's records in publication (public).
pub async fn credit_public(State(api): State<Api>, Path(subject): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || credit_public_read(&api, subject)).await
}

fn credit_public_read(api: &Api, subject: String) -> Result<Json<Value>, ApiError> {
    let t = now(&api.ledger);
    let all = records(&api.ledger, &subject)?;
    let views: Vec<_> = all.iter().filter_map(|r| credit::public_view(r, t)).collect();
    let punished = all.iter().any(|r| credit::views::joint_punishment(r, t));
    Ok(Json(json!({"subject": subject, "as_of_ms": t, "publications": views, "joint_punishment": punished})))
}

/// `GET /v1/credit/{subject}/full`: every record of the subject, repaired and expired
/// ones included (authorities and auditors; signed; audit-logged).
pub async fn credit_full(
    State(api): State<Api>,
    Path(subject): Path<String>,
    req: ReadRequest,
) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || req.answer(&api, |c| credit_full_read(&api, subject, c))).await
}

fn credit_full_read(api: &Api, subject: String, caller: &Caller) -> Result<Json<Value>, ApiError> {
    caller.require_role(CREDIT_READERS, "the full credit view")?;
    let t = now(&api.ledger);
    let views: Vec<_> = records(&api.ledger, &subject)?.iter().map(|r| credit::full_view(r, t)).collect();
    let grade = crate::public_lists::grade_of(&api.ledger, &subject)?;
    Ok(Json(
        json!({"subject": subject, "as_of_ms": t, "records": views, "grade": grade, "audit": "this query was recorded in the node's audit log"}),
    ))
}

/// `GET /v1/data/product/{id}`: a data product and its registration (public).
pub async fn data_product(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || data_product_read(&api, &id)).await
}

fn data_product_read(api: &Api, id: &str) -> Result<Json<Value>, ApiError> {
    jialing_contracts::trace::rules::id_format("product id", id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let p: jialing_contracts::data::types::DataProduct = read(&api.ledger, &jialing_contracts::data::product_key(id))?
        .ok_or_else(|| ApiError::not_found(format!("data product {id} is not on the ledger")))?;
    Ok(Json(json!({"product": p})))
}

/// Roles that may list any company's licences (the company's own members may list theirs).
pub const LICENCE_READERS: &[Role] = jialing_contracts::visibility::LICENCE_READERS;

/// `GET /v1/data/licences/{uscc}/full`: every trade and licence a company is party to
/// (restricted: the exchange, the data regulator, auditors or the company itself;
/// signed; audit-logged).
pub async fn data_licences(
    State(api): State<Api>,
    Path(uscc): Path<String>,
    req: ReadRequest,
) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || req.answer(&api, |c| data_licences_read(&api, uscc, c))).await
}

fn data_licences_read(api: &Api, uscc: String, caller: &Caller) -> Result<Json<Value>, ApiError> {
    let code = jialing_core::Uscc::parse(&uscc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let reader = caller.require_member("a company's licences")?;
    if reader.org != code && !reader.roles.iter().any(|r| LICENCE_READERS.contains(r)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_role",
            format!(
                "only the company itself or the roles [{}] may list its licences",
                jialing_contracts::error::role_list(LICENCE_READERS)
            ),
        ));
    }
    let tag = jialing_contracts::IndexTag { kind: jialing_contracts::TagKind::Org, id: code.to_string() };
    let mut ids = std::collections::BTreeSet::new();
    for (_, _, hash) in api.ledger.store.history(&tag, 0, 100_000)? {
        let Some((_, stx)) = api.ledger.store.signed_tx(&hash)? else { continue };
        let id = match (stx.tx.contract.as_str(), stx.tx.method.as_str()) {
            ("data", "negotiate") => {
                encoding::decode::<jialing_contracts::data::negotiation::Negotiate>("negotiate", &stx.tx.payload)
                    .map(|c| c.id)
                    .ok()
            }
            ("data", "record_match") => {
                encoding::decode::<jialing_contracts::data::market::RecordMatch>("record_match", &stx.tx.payload)
                    .map(|m| m.trade)
                    .ok()
            }
            ("data", "transfer") => {
                encoding::decode::<jialing_contracts::data::methods::Transfer>("transfer", &stx.tx.payload)
                    .map(|t| t.trade)
                    .ok()
            }
            _ => None,
        };
        ids.extend(id);
    }
    let mut trades = Vec::new();
    for id in ids {
        if let Some(t) =
            read::<jialing_contracts::data::types::Trade>(&api.ledger, &jialing_contracts::data::trade_key(&id))?
        {
            let active = t.active_at(now(&api.ledger));
            trades.push(json!({"licence": t, "active": active}));
        }
    }
    Ok(Json(json!({"company": uscc, "licences": trades, "audit": "this query was recorded in the node's audit log"})))
}
