//! Register views over HTTP: public views anyone may read, and restricted views that
//! need a signed request from an authorised role and are written to the audit log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use jialing_contracts::StateView;
use jialing_contracts::credit::{self, DishonestyRecord, SubjectIndex};
use jialing_contracts::executor::check_signer;
use jialing_core::{PublicKey, Purpose, Role, Signature, encoding, query};
use serde_json::{Value, json};

use crate::api::{Api, ApiError, blocking};
use crate::app::Ledger;

/// Roles that may read every credit record of a subject (the credit contract's).
pub const CREDIT_READERS: &[Role] = credit::QUERY_ROLES;

/// How far a request's time may be from the node's clock (replay window).
pub const REQUEST_WINDOW_MS: u64 = 5 * 60 * 1000;

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

/// Checks a signed request; returns the signer, its organisation and roles.
fn authorise(
    api: &Api,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    allowed: &[Role],
) -> Result<(PublicKey, String, Vec<Role>, u64, Signature), ApiError> {
    let unauthorised = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "unsigned_request", m);
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(key), Some(time), Some(sig)) = (h(query::HEADER_KEY), h(query::HEADER_TIME), h(query::HEADER_SIGNATURE))
    else {
        return Err(unauthorised(format!(
            "this view is restricted: sign the request (headers {}, {}, {}; `jialing query credit --full --key FILE` does it)",
            query::HEADER_KEY,
            query::HEADER_TIME,
            query::HEADER_SIGNATURE
        )));
    };
    let key = PublicKey::from_hex(&key).map_err(|e| unauthorised(format!("bad {}: {e}", query::HEADER_KEY)))?;
    let time: u64 =
        time.parse().map_err(|_| unauthorised(format!("bad {}: not a number of ms", query::HEADER_TIME)))?;
    let sig = Signature::from_hex(&sig).map_err(|e| unauthorised(format!("bad {}: {e}", query::HEADER_SIGNATURE)))?;
    let clock = crate::solo::now_ms();
    if time.abs_diff(clock) > REQUEST_WINDOW_MS {
        return Err(unauthorised(format!(
            "request time {time} is more than 5 minutes from the node's clock {clock}: sign a fresh request"
        )));
    }
    let digest = query::request_digest(method, path, time);
    key.verify(&api.ledger.chain_id, Purpose::QueryRequest, &digest, &sig).map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "the request signature does not verify for this path, time and key",
        )
    })?;
    let store = &api.ledger.store;
    let member = check_signer(&|k: &[u8]| store.get(k), &key, now(&api.ledger).max(1))
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "not_member", e.to_string()))?;
    if !member.roles.iter().any(|r| allowed.contains(r)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_role",
            format!("this view needs one of the roles [{}]", jialing_contracts::error::role_list(allowed)),
        ));
    }
    Ok((key, member.org.to_string(), member.roles, time, sig))
}

/// `GET /v1/credit/{subject}/full`: every record of the subject, repaired and expired
/// ones included (authorities and auditors; signed; audit-logged).
pub async fn credit_full(
    State(api): State<Api>,
    Path(subject): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || credit_full_read(&api, subject, &headers)).await
}

fn credit_full_read(api: &Api, subject: String, headers: &HeaderMap) -> Result<Json<Value>, ApiError> {
    let path = format!("/v1/credit/{subject}/full");
    let (key, org, roles, time, sig) = authorise(api, headers, "GET", &path, CREDIT_READERS)?;
    let t = now(&api.ledger);
    let views: Vec<_> = records(&api.ledger, &subject)?.iter().map(|r| credit::full_view(r, t)).collect();
    let grade = crate::public_lists::grade_of(&api.ledger, &subject)?;
    let entry = json!({"logged_ms": crate::solo::now_ms(), "request_ms": time, "signer": key, "org": org, "roles": roles, "query": path, "signature": sig});
    log_query(&api.audit, &entry)?;
    Ok(Json(
        json!({"subject": subject, "as_of_ms": t, "records": views, "grade": grade, "audit": "this query was recorded in the node's audit log"}),
    ))
}

fn log_query(log: &Arc<crate::audit_log::AuditLog>, entry: &Value) -> Result<(), ApiError> {
    log.record(entry).map_err(|e| {
        tracing::error!(target: "jialing::audit", error = %e, path = %log.path().display(), "audit log write failed; refusing the restricted query");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "audit_log", "the query could not be recorded in the audit log, so it is refused")
    })?;
    tracing::info!(target: "jialing::audit", signer = %entry["signer"], org = %entry["org"], query = %entry["query"], "restricted query");
    Ok(())
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
pub const LICENCE_READERS: &[Role] = &[Role::Exchange, Role::DataRegulator, Role::Auditor];

/// `GET /v1/data/licences/{uscc}/full`: every trade and licence a company is party to
/// (restricted: the exchange, the data regulator, auditors or the company itself;
/// signed; audit-logged).
pub async fn data_licences(
    State(api): State<Api>,
    Path(uscc): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || data_licences_read(&api, uscc, &headers)).await
}

fn data_licences_read(api: &Api, uscc: String, headers: &HeaderMap) -> Result<Json<Value>, ApiError> {
    let code = jialing_core::Uscc::parse(&uscc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let path = format!("/v1/data/licences/{uscc}/full");
    let all_roles: Vec<Role> = Role::ALL.to_vec();
    let (key, org, roles, time, sig) = authorise(api, headers, "GET", &path, &all_roles)?;
    if org != code.as_str() && !roles.iter().any(|r| LICENCE_READERS.contains(r)) {
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
    let entry = json!({"logged_ms": crate::solo::now_ms(), "request_ms": time, "signer": key, "org": org, "roles": roles, "query": path, "signature": sig});
    log_query(&api.audit, &entry)?;
    Ok(Json(json!({"company": uscc, "licences": trades, "audit": "this query was recorded in the node's audit log"})))
}
