//! The HTTP JSON API (docs/api.md) and `/metrics`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jialing_contracts::{IndexTag, TagKind, TxStatus, registry};
use jialing_core::{Hash, PublicKey, SignedTransaction, TxHash, encoding};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{self, Caller, ReadRequest};
use crate::app::{Ledger, SubmitError};
use crate::store::StoreError;
use jialing_api_types::{BatchResult, BatchResults, ErrorBody, ErrorDetail, History, HistoryEntry, QueryLog};

/// Facts about this node for `/status`.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Peer key, if configured.
    pub node_key: Option<PublicKey>,
    /// Validator keys held.
    pub validator_keys: Vec<PublicKey>,
    /// Largest batch accepted.
    pub max_batch: usize,
    /// Address of the public listener, if it serves.
    pub public_api: Option<std::net::SocketAddr>,
    /// The identity signed queries must name (`jialing_core::query`): the node key,
    /// else the first validator key, else the chain id and member listener address.
    pub query_audience: String,
    /// The chain's genesis state (the validator-history proof replays from it).
    pub initial_state: Arc<jialing_contracts::genesis_state::InitialState>,
    /// The consumer page's freshness bound (`[api] consumer_max_block_age_secs`), ms.
    pub consumer_max_block_age_ms: u64,
    /// Checkpoint interval in blocks (`[api] checkpoint_every_blocks`).
    pub checkpoint_every: u64,
}

/// The API's shared state.
#[derive(Clone)]
pub struct Api {
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) info: Arc<NodeInfo>,
    pub(crate) audit: Arc<crate::audit_log::AuditLog>,
    pub(crate) pages: Arc<crate::consumer::PageCache>,
    /// Proven validator-set changes (`lot_proof`), shared by both listeners.
    pub(crate) validator_history: Arc<crate::lot_proof::HistoryCache>,
    /// Signatures of signed queries seen within the request window.
    pub(crate) replay: Arc<access::ReplayCache>,
    /// Bounds the listener's store reads and submissions in flight on the blocking
    /// pool, including those whose request already timed out.
    pub(crate) reads: Arc<tokio::sync::Semaphore>,
    /// Whether this is the public listener's state (signed reads refused there).
    pub(crate) public_listener: bool,
    /// Where submitted transactions are checked, below block production's priority
    /// (`None` if its threads could not start: then on the blocking pool).
    pub(crate) ingest: Option<Arc<crate::ingest::IngestPool>>,
}

impl Api {
    /// The same state with its own bound on blocking work (one per listener, so one
    /// listener's load cannot take the other's share).
    pub fn with_reads(&self, max_blocking: usize) -> Api {
        Api { reads: Arc::new(tokio::sync::Semaphore::new(max_blocking)), ..self.clone() }
    }
}

/// An API error: status, stable code and message.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }
    /// Adds a `Retry-After` header (seconds) to the answer.
    pub(crate) fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(target: "jialing::api", error = %e, "store read failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e.to_string())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let status = match e.code() {
            "malformed_tx" | "wrong_chain" => StatusCode::BAD_REQUEST,
            "bad_signature" => StatusCode::UNAUTHORIZED,
            "not_member" | "expired" | "revoked" => StatusCode::FORBIDDEN,
            "bad_nonce" | "duplicate" | "nonce_too_far" => StatusCode::CONFLICT,
            "too_many_pending" => StatusCode::TOO_MANY_REQUESTS,
            "mempool_full" | "overloaded" | "no_peers" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry = matches!(e.code(), "too_many_pending" | "mempool_full" | "overloaded" | "no_peers");
        let err = ApiError::new(status, e.code(), e.to_string());
        // A block or two commits pending transactions and frees room.
        if retry { err.retry_after(2) } else { err }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } });
        match self.retry_after {
            Some(secs) => (self.status, [(axum::http::header::RETRY_AFTER, secs.to_string())], body).into_response(),
            None => (self.status, body).into_response(),
        }
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs `f` (which reads the store, or verifies signatures) on the blocking pool, so
/// slow reads (long histories, EPCIS exports, proofs over thousands of headers) never
/// hold a runtime thread that consensus and the other requests need. At most
/// `max_blocking` of them run per listener: the permit is held until `f` returns, even
/// when the request times out first, so timed-out work cannot pile up.
pub(crate) async fn blocking<T: Send + 'static>(
    reads: Arc<tokio::sync::Semaphore>,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = reads
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "shutting down"))?;
    tokio::task::spawn_blocking(move || {
        let r = f();
        drop(permit);
        r
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("read task failed: {e}")))?
}

/// A JSON body the handler could not take: 413 `body_too_large` past the listener's
/// body limit, 400 `bad_request` otherwise.
fn body_error(e: axum::extract::rejection::JsonRejection, expected: &str) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than this listener takes ({e}); split the batch"),
        );
    }
    ApiError::bad_request(format!("expected {expected}: {e}"))
}

/// The state of the member API (`max_blocking` store reads or submissions at once);
/// [`Api::with_reads`] gives the public listener's.
pub fn state(ledger: Arc<Ledger>, info: NodeInfo, audit: Arc<crate::audit_log::AuditLog>, max_blocking: usize) -> Api {
    let nice = ledger.ingest_nice();
    let ingest = match crate::ingest::IngestPool::for_machine(nice) {
        Ok(p) => Some(Arc::new(p)),
        Err(e) => {
            tracing::error!(target: "jialing::api", error = %e, "the transaction checker threads could not start; submissions are checked at full priority");
            None
        }
    };
    Api {
        ledger,
        info: Arc::new(info),
        audit,
        pages: Arc::new(crate::consumer::PageCache::default()),
        validator_history: Arc::new(crate::lot_proof::HistoryCache::default()),
        replay: Arc::new(access::ReplayCache::default()),
        reads: Arc::new(tokio::sync::Semaphore::new(max_blocking)),
        public_listener: false,
        ingest,
    }
}

/// Checks submitted transactions: on the ingest pool (a full pool is answered 503
/// `overloaded` with `Retry-After`), within the listener's bound on blocking work.
async fn ingest<T: Send + 'static>(api: &Api, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let Some(pool) = &api.ingest else {
        return blocking(api.reads.clone(), move || Ok(f())).await;
    };
    let _permit = api
        .reads
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "shutting down"))?;
    pool.run(f).await.map_err(|e| match e {
        crate::ingest::IngestError::Busy(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!("{e}: the node has more to check than it can commit; send again after Retry-After"),
        )
        .retry_after(1),
        crate::ingest::IngestError::Stopped => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string())
        }
        crate::ingest::IngestError::Failed => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        }
    })
}

/// Routes of the public listener: health and status, the consumer page (GS1 Digital
/// Link), public views, blocks, transactions and proofs. Nothing that submits and no
/// restricted view.
fn public_routes() -> Router<Api> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/status", get(status))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/v1/tx/{hash}", get(tx_status))
        .route("/v1/block/{height}", get(block))
        .route("/v1/lot/{id}", get(lot))
        .route("/v1/lot/{id}/epcis", get(lot_epcis))
        .route("/v1/product/{code}", get(product))
        .route("/v1/methods", get(methods))
        .route("/v1/credit/{subject}", get(crate::views::credit_public))
        .route("/v1/data/product/{id}", get(crate::views::data_product))
        .route("/v1/proof/tx/{hash}", get(crate::proofs::tx))
        .route("/v1/proof/state", get(crate::proofs::state))
        .route("/v1/proof/consistency", get(crate::proofs::consistency))
        .merge(crate::public_lists::routes())
        .merge(crate::data_views::routes())
        .route("/assets/{file}", get(crate::assets::serve))
        .route("/v1/proof/lot/{id}", get(crate::lot_proof::lot))
        .route("/v1/checkpoint/latest", get(crate::checkpoint::latest))
        .route("/v1/checkpoint/{height}", get(crate::checkpoint::at))
        .route("/01/{*path}", get(crate::digital_link::resolve))
        .route("/.well-known/gs1resolver", get(crate::digital_link::description))
        .route("/epcis/events", get(crate::epcis_rest::events))
        .route("/epcis/capture/{captureID}", get(crate::epcis_capture::job))
        .fallback(not_found_route)
}

/// The public listener's router: unsigned reads only (a signed request is refused
/// with `member_listener_only`), so restricted content never leaves through it.
pub fn public_router(api: Api) -> Router {
    public_routes().with_state(Api { public_listener: true, ..api })
}

/// The member API's router: every route.
pub fn router(api: Api) -> Router {
    public_routes()
        .route("/metrics", get(metrics))
        .route("/v1/txs", post(submit_batch))
        .route("/v1/tx", post(submit_one))
        .route("/epcis/capture", post(crate::epcis_capture::capture))
        .route("/v1/nonce/{key}", get(nonce))
        .route("/v1/org/{uscc}", get(org))
        .route("/v1/credit/{subject}/full", get(crate::views::credit_full))
        .route("/v1/data/licences/{uscc}/full", get(crate::views::data_licences))
        .route("/v1/history/{kind}/{id}", get(history_route))
        .route("/v1/blocks/raw", get(crate::proofs::blocks_raw))
        .route("/v1/audit/queries", get(query_log))
        .with_state(api)
}

/// Unknown paths: a clear page for malformed traceability codes, JSON otherwise.
async fn not_found_route(uri: axum::http::Uri, q: axum::extract::Query<crate::consumer::PageQuery>) -> Response {
    if uri.path().starts_with("/01/") {
        return crate::consumer::bad_code(q).await;
    }
    ApiError::not_found(format!("no such endpoint {}; see docs/api.md", uri.path())).into_response()
}

async fn status(State(api): State<Api>) -> ApiResult {
    let tip = api.ledger.tip.read().map(|t| t.clone()).map_err(|_| ApiError::bad_request("tip lock poisoned"))?;
    let (txs, bytes) = api.ledger.mempool.lock().map(|p| (p.len(), p.bytes())).unwrap_or((0, 0));
    let (held, active) = api.ledger.validator_keys();
    Ok(Json(json!({
        "chain_id": api.ledger.chain_id,
        "height": tip.header.height,
        "block_hash": tip.hash,
        "state_root": tip.header.state_root,
        "time_ms": tip.header.time_ms,
        "validators": tip.validators.validators,
        "mempool_txs": txs,
        "mempool_bytes": bytes,
        "node_key": api.info.node_key,
        "public_api": api.info.public_api.map(|a| format!("http://{a}")),
        "query_audience": api.info.query_audience,
        "validator_key": active,
        "validator_keys": held,
    })))
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], api.ledger.metrics.render())
}

fn decode_hex_tx(s: &str) -> Result<(SignedTransaction, TxHash, Vec<u8>), SubmitError> {
    // `decode_to_slice` is a plain loop; `hex::decode` collects through an iterator of
    // results, several times slower on a batch of thousands.
    let s = s.trim();
    let mut bytes = vec![0u8; s.len() / 2];
    let decoded =
        if s.len() % 2 == 1 { Err(hex::FromHexError::OddLength) } else { hex::decode_to_slice(s, &mut bytes) };
    decoded.map_err(|e| {
        SubmitError::Malformed(jialing_core::CoreError::Hex { what: "transaction", reason: e.to_string() })
    })?;
    let (stx, hash) = SignedTransaction::decode(&bytes).map_err(SubmitError::Malformed)?;
    Ok((stx, hash, bytes))
}

#[derive(Deserialize)]
struct BatchBody {
    txs: Vec<String>,
}

async fn submit_batch(
    State(api): State<Api>,
    body: Result<Json<BatchBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<BatchResults>, ApiError> {
    let Json(body) = body.map_err(|e| body_error(e, "{\"txs\": [\"<hex>\", ...]}"))?;
    if body.txs.len() > api.info.max_batch {
        return Err(ApiError::bad_request(format!(
            "{} transactions in one batch, the limit is {}",
            body.txs.len(),
            api.info.max_batch
        )));
    }
    let ledger = api.ledger.clone();
    let results = ingest(&api, move || {
        let mut slots: Vec<Option<Result<TxHash, SubmitError>>> = Vec::with_capacity(body.txs.len());
        let mut good = Vec::new();
        let mut good_idx = Vec::new();
        for (i, s) in body.txs.iter().enumerate() {
            match decode_hex_tx(s) {
                Ok(t) => {
                    good.push(t);
                    good_idx.push(i);
                    slots.push(None);
                }
                Err(e) => slots.push(Some(Err(e))),
            }
        }
        for (i, r) in good_idx.into_iter().zip(ledger.submit(good)) {
            slots[i] = Some(r);
        }
        slots
            .into_iter()
            .map(|r| match r {
                Some(Ok(h)) => BatchResult { accepted: true, error: None, hash: Some(h) },
                Some(Err(e)) => BatchResult {
                    accepted: false,
                    error: Some(ErrorDetail { code: e.code().to_string(), message: e.to_string() }),
                    hash: None,
                },
                None => BatchResult { accepted: false, error: None, hash: None },
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(BatchResults { results }))
}

#[derive(Deserialize)]
struct OneBody {
    tx: String,
}

async fn submit_one(
    State(api): State<Api>,
    body: Result<Json<OneBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return body_error(e, "{\"tx\": \"<hex>\"}").into_response(),
    };
    let t = match decode_hex_tx(&body.tx) {
        Ok(t) => t,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let ledger = api.ledger.clone();
    let r = ingest(&api, move || ledger.submit(vec![t]).pop()).await;
    match r {
        Ok(Some(Ok(h))) => (StatusCode::ACCEPTED, Json(json!({"hash": h}))).into_response(),
        Ok(Some(Err(e))) => ApiError::from(e).into_response(),
        Ok(None) => ApiError::bad_request("submission failed").into_response(),
        Err(e) => e.into_response(),
    }
}

fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    Hash::from_hex(s).map_err(|e| ApiError::bad_request(format!("{s:?} is not a transaction hash: {e}")))
}

fn tx_json(stx: &SignedTransaction) -> Value {
    let args = registry::find(&stx.tx.contract, &stx.tx.method)
        .and_then(|m| (m.to_json)(&stx.tx.payload).ok())
        .unwrap_or(Value::Null);
    let mut v = serde_json::to_value(&stx.tx).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("args".into(), args);
        o.insert("signature".into(), json!(stx.signature));
    }
    v
}

fn receipt_json(r: &jialing_contracts::Receipt) -> Value {
    let (status, code, message) = match &r.status {
        TxStatus::Ok => ("ok", None, None),
        TxStatus::Refused { code, message } => ("refused", Some(code.clone()), Some(message.clone())),
    };
    json!({"tx_hash": r.tx_hash, "status": status, "code": code, "message": message, "tags": r.tags})
}

async fn tx_status(State(api): State<Api>, Path(hash): Path<String>, req: ReadRequest) -> ApiResult {
    let hash = parse_hash(&hash)?;
    blocking(api.reads.clone(), move || req.answer(&api, |c| tx_status_read(&api, hash, c))).await
}

fn tx_status_read(api: &Api, hash: Hash, caller: &Caller) -> ApiResult {
    if let Some(p) = api.ledger.mempool.lock().ok().and_then(|p| p.get(&hash).cloned()) {
        if !caller.sees(&access::tx_visibility(&api.ledger, &p.tx)) {
            let public = access::pending_public_part(&p.tx);
            return Ok(Json(json!({"hash": hash, "status": "pending", "tx": public})));
        }
        return Ok(Json(json!({"hash": hash, "status": "pending", "tx": tx_json(&p.tx)})));
    }
    let Some((rec, stx)) = api.ledger.store.signed_tx(&hash)? else {
        return Err(ApiError::not_found(format!("transaction {hash} is neither pending nor committed")));
    };
    let receipt = api.ledger.store.receipt(rec.height, rec.index)?;
    let time = api.ledger.store.header(rec.height)?.map(|h| h.time_ms);
    if !caller.sees(&access::tx_visibility(&api.ledger, &stx)) {
        let public =
            access::public_part(rec.height, rec.index, time.unwrap_or(0), &stx, receipt.map(|r| r.status).as_ref());
        return Ok(Json(json!({
            "hash": hash, "status": "committed", "height": rec.height, "index": rec.index, "time_ms": time,
            "receipt": {"tx_hash": hash, "status": public.status, "code": public.code}, "tx": public,
        })));
    }
    Ok(Json(json!({
        "hash": hash, "status": "committed", "height": rec.height, "index": rec.index, "time_ms": time,
        "receipt": receipt.as_ref().map(receipt_json), "tx": tx_json(&stx),
    })))
}

async fn block(State(api): State<Api>, Path(height): Path<String>) -> ApiResult {
    blocking(api.reads.clone(), move || block_read(&api, &height)).await
}

fn block_read(api: &Api, height: &str) -> ApiResult {
    let tip = api.ledger.tip.read().map(|t| t.header.height).unwrap_or(0);
    let h = if height == "latest" {
        tip
    } else {
        height
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("{height:?} is not a height (a number or \"latest\")")))?
    };
    let Some(header) = api.ledger.store.header(h)? else {
        return Err(ApiError::not_found(format!("no block at height {h}; the chain is at {tip}")));
    };
    let hashes = api.ledger.store.block_tx_hashes(h)?.unwrap_or_default();
    let cert = api.ledger.store.certificate(h)?;
    Ok(Json(json!({"hash": header.hash(), "header": header, "tx_hashes": hashes, "certificate": cert})))
}

async fn nonce(State(api): State<Api>, Path(key): Path<String>) -> ApiResult {
    blocking(api.reads.clone(), move || nonce_read(&api, &key)).await
}

fn nonce_read(api: &Api, key: &str) -> ApiResult {
    let key =
        PublicKey::from_hex(key).map_err(|e| ApiError::bad_request(format!("{key:?} is not a public key: {e}")))?;
    let committed = api
        .ledger
        .committed_next_nonce(&key)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))?;
    let pending = api.ledger.mempool.lock().map(|p| p.pending_next_nonce(&key, committed)).unwrap_or(committed);
    Ok(Json(json!({"committed_next_nonce": committed, "pending_next_nonce": pending})))
}

#[derive(Deserialize, Default)]
struct HistoryQuery {
    from_height: Option<u64>,
    limit: Option<usize>,
}

/// The history of an object: every committed transaction tagged with it, oldest first.
/// Transactions `caller` may not read appear as their public part only
/// ([`crate::access::public_part`]).
pub fn history(
    ledger: &Ledger,
    tag: &IndexTag,
    from_height: u64,
    limit: usize,
    caller: &Caller,
) -> Result<Vec<HistoryEntry>, StoreError> {
    history_from(ledger, tag, (from_height, 0), limit, caller)
}

/// [`history`] from a position (height, index in the block), for readers that page
/// through blocks holding more entries than one page.
pub fn history_from(
    ledger: &Ledger,
    tag: &IndexTag,
    from: (u64, u32),
    limit: usize,
    caller: &Caller,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut out = Vec::new();
    let mut time_cache: Option<(u64, u64)> = None;
    for (height, index, hash) in ledger.store.history_from(tag, from, limit)? {
        let Some((_, stx)) = ledger.store.signed_tx(&hash)? else { continue };
        let receipt = ledger.store.receipt(height, index)?;
        let time_ms = match time_cache {
            Some((h, t)) if h == height => t,
            _ => {
                let t = ledger.store.header(height)?.map_or(0, |h| h.time_ms);
                time_cache = Some((height, t));
                t
            }
        };
        let status = receipt.map(|r| r.status);
        if !caller.sees(&access::tx_visibility(ledger, &stx)) {
            out.push(access::public_part(height, index, time_ms, &stx, status.as_ref()));
            continue;
        }
        let (outcome, code) = access::outcome(status.as_ref());
        let message = match status {
            Some(TxStatus::Refused { message, .. }) => Some(message),
            _ => None,
        };
        let args = registry::find(&stx.tx.contract, &stx.tx.method)
            .and_then(|m| (m.to_json)(&stx.tx.payload).ok())
            .unwrap_or(Value::Null);
        out.push(HistoryEntry {
            height,
            index,
            time_ms,
            tx_hash: hash,
            contract: stx.tx.contract.clone(),
            method: stx.tx.method.clone(),
            signer: Some(stx.tx.signer),
            status: outcome,
            code,
            message,
            args,
            restricted: false,
        });
    }
    Ok(out)
}

/// Reads a typed state value and renders it as JSON.
pub fn state_json<T: borsh::BorshDeserialize + serde::Serialize>(
    ledger: &Ledger,
    key: &[u8],
) -> Result<Option<Value>, ApiError> {
    use jialing_contracts::StateView;
    let Some(bytes) =
        ledger.store.get(key).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))?
    else {
        return Ok(None);
    };
    let v: T = encoding::decode("state value", &bytes)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))?;
    Ok(Some(serde_json::to_value(&v).unwrap_or(Value::Null)))
}

async fn org(
    State(api): State<Api>,
    Path(uscc): Path<String>,
    Query(q): Query<HistoryQuery>,
    req: ReadRequest,
) -> ApiResult {
    blocking(api.reads.clone(), move || req.answer(&api, |c| org_read(&api, &uscc, &q, c))).await
}

fn org_read(api: &Api, uscc: &str, q: &HistoryQuery, caller: &Caller) -> ApiResult {
    let code = jialing_core::Uscc::parse(uscc).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let org =
        state_json::<jialing_contracts::membership::Organisation>(&api.ledger, &jialing_contracts::keys::org(&code))?
            .ok_or_else(|| ApiError::not_found(format!("organisation {code} is not a member")))?;
    let tag = IndexTag { kind: TagKind::Org, id: code.to_string() };
    let hist = history(&api.ledger, &tag, q.from_height.unwrap_or(0), q.limit.unwrap_or(1000).min(10_000), caller)?;
    Ok(Json(json!({"org": org, "history": hist})))
}

async fn history_route(
    State(api): State<Api>,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
    req: ReadRequest,
) -> ApiResult {
    blocking(api.reads.clone(), move || req.answer(&api, |c| history_read(&api, kind, id, &q, c))).await
}

fn history_read(api: &Api, kind: String, id: String, q: &HistoryQuery, caller: &Caller) -> ApiResult {
    let kind: TagKind = serde_json::from_value(json!(kind)).map_err(|_| {
        ApiError::bad_request(format!("unknown kind {kind:?}: use org, key, product, lot, data_product, licence, credit_subject, credit_record or proposal"))
    })?;
    let tag = IndexTag { kind, id };
    let hist = history(&api.ledger, &tag, q.from_height.unwrap_or(0), q.limit.unwrap_or(1000).min(10_000), caller)?;
    Ok(Json(serde_json::to_value(History { history: hist }).unwrap_or(Value::Null)))
}

/// Most bytes of query log one answer carries.
const MAX_QUERY_LOG_BYTES: usize = 32 * 1024 * 1024;

/// `GET /v1/audit/queries`: the node's query log as written (auditors; signed).
async fn query_log(State(api): State<Api>, req: ReadRequest) -> ApiResult {
    blocking(api.reads.clone(), move || {
        req.answer(&api, |caller| {
            caller.require_role(&[jialing_core::Role::Auditor], "the query log")?;
            let head = api.audit.head();
            let bytes = api.audit.read_all().map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "audit_log", format!("reading the query log: {e}"))
            })?;
            if bytes.len() > MAX_QUERY_LOG_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!(
                        "the query log is {} bytes; copy {} from the node and run jialing audit queries --file",
                        bytes.len(),
                        api.audit.path().display()
                    ),
                ));
            }
            let lines = String::from_utf8(bytes).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "audit_log",
                    format!("the query log is not UTF-8: {e}"),
                )
            })?;
            let log = QueryLog { log: api.info.query_audience.clone(), count: head.count, head: head.hash, lines };
            Ok(Json(serde_json::to_value(log).unwrap_or(Value::Null)))
        })
    })
    .await
}

async fn methods() -> Json<Value> {
    let all: Vec<Value> = registry::methods()
        .map(|m| json!({"contract": m.contract, "method": m.name, "roles": m.roles, "summary": m.summary}))
        .collect();
    Json(json!(all))
}

async fn lot(
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
    req: ReadRequest,
) -> ApiResult {
    blocking(api.reads.clone(), move || req.answer(&api, |c| lot_read(&api, id, &q, c))).await
}

fn lot_read(api: &Api, id: String, q: &HistoryQuery, caller: &Caller) -> ApiResult {
    jialing_contracts::trace::rules::id_format("lot id", &id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let lot = state_json::<jialing_contracts::trace::types::Lot>(&api.ledger, &jialing_contracts::trace::lot_key(&id))?
        .ok_or_else(|| ApiError::not_found(format!("lot {id} is not on the ledger")))?;
    let tag = IndexTag { kind: TagKind::Lot, id };
    let hist = history(&api.ledger, &tag, q.from_height.unwrap_or(0), q.limit.unwrap_or(1000).min(10_000), caller)?;
    Ok(Json(json!({"lot": lot, "history": hist})))
}

async fn product(State(api): State<Api>, Path(code): Path<String>) -> ApiResult {
    blocking(api.reads.clone(), move || product_read(&api, &code)).await
}

fn product_read(api: &Api, code: &str) -> ApiResult {
    jialing_contracts::trace::rules::id_format("product code", code)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let p = state_json::<jialing_contracts::trace::types::Product>(
        &api.ledger,
        &jialing_contracts::trace::product_key(code),
    )?
    .ok_or_else(|| ApiError::not_found(format!("product {code} is not on the ledger")))?;
    Ok(Json(json!({"product": p})))
}

#[derive(Deserialize, Default)]
struct EpcisQuery {
    base: Option<String>,
}

fn decode<T: borsh::BorshDeserialize>(b: Vec<u8>) -> Result<T, ApiError> {
    encoding::decode("state value", &b)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))
}

/// `GET /v1/lot/{id}/epcis`: the lot's successful events as an EPCIS 2.0 document.
async fn lot_epcis(State(api): State<Api>, Path(id): Path<String>, Query(q): Query<EpcisQuery>) -> ApiResult {
    blocking(api.reads.clone(), move || lot_epcis_read(&api, id, q)).await
}

fn lot_epcis_read(api: &Api, id: String, q: EpcisQuery) -> ApiResult {
    use jialing_contracts::trace::{epcis, lot_key, product_key, types};
    jialing_contracts::trace::rules::id_format("lot id", &id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let read = |key: &[u8]| -> Result<Option<Vec<u8>>, ApiError> {
        use jialing_contracts::StateView;
        api.ledger.store.get(key).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))
    };
    let lot: types::Lot =
        decode(read(&lot_key(&id))?.ok_or_else(|| ApiError::not_found(format!("lot {id} is not on the ledger")))?)?;
    let product: Option<types::Product> = match read(&product_key(&lot.product))? {
        Some(b) => Some(decode(b)?),
        None => None,
    };
    let tag = IndexTag { kind: TagKind::Lot, id: id.clone() };
    // The export is public: what an unsigned caller may read.
    let hist = history(&api.ledger, &tag, 0, 10_000, &Caller::Public)?;
    let mut orgs = Vec::new();
    for h in &hist {
        let org = match h.signer {
            Some(k) => match read(&jialing_contracts::keys::member(&k))? {
                Some(b) => decode::<jialing_contracts::membership::Member>(b)?.org.to_string(),
                None => String::new(),
            },
            None => String::new(),
        };
        orgs.push(org);
    }
    // A capture stands for the events it recorded that name this lot.
    let mut calls: Vec<(usize, String, Value)> = Vec::new();
    for (i, h) in hist.iter().enumerate() {
        if h.status != jialing_api_types::Outcome::Ok || h.contract != "trace" {
            continue;
        }
        if h.method != "epcis_capture" {
            calls.push((i, h.method.clone(), h.args.clone()));
            continue;
        }
        let doc = h.args["document"].as_str().unwrap_or_default();
        for (ev, outcome) in crate::epcis_capture::captured_events(&api.ledger, &h.tx_hash, doc)?.events {
            if outcome == crate::epcis_capture::EventOutcome::Recorded && ev.record.lots.contains(&id) {
                calls.push((i, "record_epcis_event".into(), serde_json::to_value(&ev.record).unwrap_or(Value::Null)));
            }
        }
    }
    let records: Vec<epcis::EventRecord<'_>> = calls
        .iter()
        .map(|(i, method, args)| epcis::EventRecord { tx_hash: hist[*i].tx_hash, method, args, org: &orgs[*i] })
        .collect();
    let base = q.base.unwrap_or_else(|| "https://id.jialing.example".into());
    Ok(Json(epcis::export_lot(&base, &lot, product.as_ref(), &records)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jialing_core::{Keypair, Transaction};

    /// A transaction's hex decodes to the same transaction (spaces around it ignored);
    /// an odd length, a non-hex character and a truncated transaction are each refused
    /// as `malformed_tx`, saying what was wrong.
    #[test]
    fn hex_transactions_decode_or_say_what_is_wrong() {
        let k = Keypair::from_label("a");
        let stx = Transaction {
            chain_id: "c".into(),
            signer: k.public(),
            nonce: 3,
            contract: "x".into(),
            method: "y".into(),
            payload: vec![1, 2],
        }
        .sign(&k);
        let hex = hex::encode(stx.to_bytes());
        let (back, hash, bytes) = decode_hex_tx(&format!(" {hex}\n")).unwrap();
        assert_eq!((back, hash, bytes), (stx.clone(), stx.hash(), stx.to_bytes()));
        for (bad, says) in [
            (hex[1..].to_string(), "Odd number of digits"),
            (format!("zz{}", &hex[2..]), "Invalid character"),
            (hex[..hex.len() - 2].to_string(), ""),
        ] {
            let e = decode_hex_tx(&bad).unwrap_err();
            assert_eq!(e.code(), "malformed_tx");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
