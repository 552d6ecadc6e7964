//! Public register lists over HTTP, kept apart from the other views:
//!
//! - `GET /v1/credit/lists/{serious|watch|red|overdue}?offset=&limit=`: who is on a list,
//!   since when, by which authority and decision, until when (paged, at the tip's time);
//! - `GET /v1/credit/{uscc}/grade`: an organisation's grade, the rule version and the
//!   inputs that gave it (public for organisations; a person's grade is restricted: it
//!   is in the signed, audit-logged `/v1/credit/{subject}/full` view, see [`grade_of`]);
//! - `GET /v1/credit/{uscc}/government`: a government body's commitments and whether
//!   they were kept;
//! - `GET /v1/governance/proposals?offset=&limit=&status=`: proposals, newest first,
//!   with their approvals and state; `GET /v1/governance/proposals/{id}`: one;
//! - `GET /v1/governance/member/{key}`: a key's membership record (`null` if none);
//! - `GET /v1/governance/params`: the parameters in force (what `jialing gov propose
//!   set-params --dry-run` diffs against).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use jialing_contracts::ContractError;
use jialing_contracts::credit::government::GovCommitment;
use jialing_contracts::credit::public_lists::{self, PublicList};
use jialing_contracts::credit::{self, grading, store as credit_store};
use jialing_contracts::governance::{self, Proposal};
use jialing_contracts::params::Params;
use jialing_core::{Uscc, encoding};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{Api, ApiError, blocking};
use crate::app::Ledger;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;

/// The routes of this module (mounted on both listeners: everything here is public).
pub fn routes() -> Router<Api> {
    Router::new()
        .route("/v1/credit/lists/{list}", get(list))
        .route("/v1/credit/{subject}/grade", get(grade))
        .route("/v1/credit/{subject}/government", get(government))
        .route("/v1/governance/proposals", get(proposals))
        .route("/v1/governance/proposals/{id}", get(proposal))
        .route("/v1/governance/params", get(params_route))
        .route("/v1/governance/member/{key}", get(member_route))
}

async fn member_route(State(api): State<Api>, Path(key): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let k = jialing_core::PublicKey::from_hex(&key)
            .map_err(|e| ApiError::bad_request(format!("{key:?} is not a public key: {e}")))?;
        let m: Option<jialing_contracts::membership::Member> =
            decoded(&api.ledger, &jialing_contracts::keys::member(&k))?;
        Ok(Json(json!({"height": height(&api.ledger), "key": k, "member": m})))
    })
    .await
}

fn height(ledger: &Ledger) -> u64 {
    ledger.tip.read().map(|t| t.header.height).unwrap_or(0)
}

async fn proposal(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::bad_request(format!("{id:?} is not a proposal id (64 hex digits)")));
        }
        let p: Proposal = decoded(&api.ledger, &governance::proposal_key(&id))?
            .ok_or_else(|| ApiError::not_found(format!("no proposal {id}")))?;
        Ok(Json(json!({"height": height(&api.ledger), "proposal": p})))
    })
    .await
}

async fn params_route(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let p = params(&api.ledger)?;
        Ok(Json(json!({"height": height(&api.ledger), "version": p.version, "params": p})))
    })
    .await
}

/// Paging of a list.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// First entry (0-based).
    offset: Option<usize>,
    /// Entries per page (at most [`public_lists::MAX_PAGE`]).
    limit: Option<usize>,
    /// Proposals only: `pending`, `applied`, `failed`, `expired` or `withdrawn`.
    status: Option<String>,
}

fn contract_err(e: ContractError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string())
}

fn raw(ledger: &Ledger, key: &[u8]) -> Result<Option<Vec<u8>>, ContractError> {
    jialing_contracts::StateView::get(&ledger.store, key).map_err(ContractError::Storage)
}

fn decoded<T: borsh::BorshDeserialize>(ledger: &Ledger, key: &[u8]) -> Result<Option<T>, ApiError> {
    let Some(b) = raw(ledger, key).map_err(contract_err)? else { return Ok(None) };
    encoding::decode("state value", &b)
        .map(Some)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))
}

fn now(ledger: &Ledger) -> u64 {
    ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0)
}

fn params(ledger: &Ledger) -> Result<Params, ApiError> {
    Ok(decoded(ledger, jialing_contracts::keys::PARAMS)?.unwrap_or_default())
}

fn limit(q: &PageQuery) -> Result<usize, ApiError> {
    let l = q.limit.unwrap_or(DEFAULT_LIMIT);
    if l == 0 || l > public_lists::MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit must be 1 to {}", public_lists::MAX_PAGE)));
    }
    Ok(l)
}

async fn list(
    State(api): State<Api>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let kind = PublicList::parse(&name)
            .ok_or_else(|| ApiError::not_found(format!("no list {name:?}: use serious, watch, red or overdue")))?;
        let limit = limit(&q)?;
        let p = params(&api.ledger)?;
        let read = |k: &[u8]| raw(&api.ledger, k);
        let page = public_lists::page(&read, &p.credit, kind, now(&api.ledger), q.offset.unwrap_or(0), limit)
            .map_err(contract_err)?;
        Ok(Json(serde_json::to_value(page).unwrap_or(Value::Null)))
    })
    .await
}

/// The grade of any subject (organisation or person) at the tip, for the restricted
/// full view (a person's grade is shown only there).
pub fn grade_of(ledger: &Ledger, subject: &str) -> Result<grading::GradeRecord, ApiError> {
    let p = params(ledger)?;
    let read = |k: &[u8]| raw(ledger, k);
    grading::grade_with(&read, &p.credit, subject, now(ledger)).map_err(contract_err)
}

fn org_subject(subject: &str) -> Result<Uscc, ApiError> {
    if subject.len() == 64 && subject.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "restricted",
            "a natural person's grade is restricted: it is not published",
        ));
    }
    Uscc::parse(subject).map_err(|e| ApiError::bad_request(format!("{subject:?} is not a USCC: {e}")))
}

async fn grade(State(api): State<Api>, Path(subject): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let u = org_subject(&subject)?;
        let p = params(&api.ledger)?;
        let read = |k: &[u8]| raw(&api.ledger, k);
        let t = now(&api.ledger);
        let g = grading::grade_with(&read, &p.credit, u.as_str(), t).map_err(contract_err)?;
        let recorded: Option<grading::GradeRecord> = decoded(&api.ledger, &grading::grade_key(u.as_str()))?;
        let red: Option<credit::red_list::RedEntry> = decoded(&api.ledger, &credit::red_list::red_key(&u))?;
        let on_red = red.is_some_and(|e| e.exited.is_none()) && credit::red_list::still_eligible(&g);
        Ok(Json(json!({
            "subject": u,
            "grade": g,
            "scale": p.credit.grading.scale,
            "last_recomputed": recorded,
            "red_list": on_red,
        })))
    })
    .await
}

async fn government(State(api): State<Api>, Path(subject): Path<String>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let u = org_subject(&subject)?;
        let index: credit::SubjectIndex =
            decoded(&api.ledger, &credit_store::index_key(u.as_str()))?.unwrap_or_default();
        let mut out = Vec::new();
        for id in &index.gov_commitments {
            if let Some(c) = decoded::<GovCommitment>(&api.ledger, &credit_store::gov_commitment_key(id))? {
                out.push(c);
            }
        }
        Ok(Json(json!({"body": u, "as_of_ms": now(&api.ledger), "commitments": out})))
    })
    .await
}

fn status_name(p: &Proposal) -> &'static str {
    match p.status {
        governance::ProposalStatus::Pending => "pending",
        governance::ProposalStatus::Applied => "applied",
        governance::ProposalStatus::Failed { .. } => "failed",
        governance::ProposalStatus::Expired => "expired",
        governance::ProposalStatus::Withdrawn => "withdrawn",
    }
}

async fn proposals(State(api): State<Api>, Query(q): Query<PageQuery>) -> Result<Json<Value>, ApiError> {
    blocking(api.reads.clone(), move || {
        let limit = limit(&q)?;
        if let Some(s) = &q.status
            && !["pending", "applied", "failed", "expired", "withdrawn"].contains(&s.as_str())
        {
            return Err(ApiError::bad_request(format!(
                "status {s:?}: use pending, applied, failed, expired or withdrawn"
            )));
        }
        let ids: Vec<String> = decoded(&api.ledger, governance::PROPOSALS_KEY)?.unwrap_or_default();
        let mut all = Vec::new();
        for id in ids.iter().rev() {
            if let Some(p) = decoded::<Proposal>(&api.ledger, &governance::proposal_key(id))?
                && q.status.as_deref().is_none_or(|s| s == status_name(&p))
            {
                all.push(p);
            }
        }
        let total = all.len();
        let offset = q.offset.unwrap_or(0);
        let items: Vec<Proposal> = all.into_iter().skip(offset).take(limit).collect();
        Ok(Json(json!({"height": height(&api.ledger), "total": total, "offset": offset, "proposals": items})))
    })
    .await
}
