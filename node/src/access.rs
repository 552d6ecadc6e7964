//! The one read-access mechanism every route goes through.
//!
//! A request is either unsigned ([`Caller::Public`]) or signed as a query request
//! (`jialing_core::query`) by a current member key ([`Caller::Member`]); a signed
//! request that does not check out is refused, never downgraded to public. Each item a
//! route would serve has a visibility from the read policy declared beside the
//! contracts (`jialing_contracts::visibility`): a caller who may not read a restricted
//! transaction gets its public part only ([`public_part`]: hash, height, contract,
//! method and outcome, never arguments, signer or refusal message); a restricted state
//! value or proof is refused ([`Caller::require`]). Every signed request that is
//! answered is written to the query log first.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use jialing_contracts::executor::check_signer;
use jialing_contracts::visibility::{self, Reader, Visibility};
use jialing_contracts::{StateView, TxStatus};
use jialing_core::{PublicKey, Purpose, Role, SignedTransaction, query};
use serde_json::{Value, json};

use crate::api::{Api, ApiError};
use crate::app::Ledger;
use jialing_api_types::{HistoryEntry, Outcome};

/// How far a request's time may be from the node's clock.
pub const REQUEST_WINDOW_MS: u64 = 5 * 60 * 1000;

/// What a handler needs to authenticate a read: the headers and the request target
/// (path and query, as signed).
pub struct ReadRequest {
    headers: HeaderMap,
    method: String,
    target: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ReadRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let target = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(ReadRequest { headers: parts.headers.clone(), method: parts.method.as_str().to_string(), target })
    }
}

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Caller {
    /// An unsigned request: public items only.
    Public,
    /// A request signed by a current member key.
    Member {
        /// The signing key.
        key: PublicKey,
        /// Its organisation and roles.
        reader: Reader,
    },
}

impl ReadRequest {
    /// The request target (path and query) as the caller signed it.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the request carries a query signature.
    pub fn is_signed(&self) -> bool {
        self.headers.contains_key(query::HEADER_SIGNATURE) || self.headers.contains_key(query::HEADER_KEY)
    }

    /// Authenticates the request, runs `read` for that caller and, for a signed
    /// request that `read` answered, writes the query log before the answer goes out
    /// (a query that cannot be logged is refused). Call it on the blocking pool.
    pub fn answer<T>(&self, api: &Api, read: impl FnOnce(&Caller) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let (caller, entry) = self.authenticate(api)?;
        let out = read(&caller)?;
        if let Some(entry) = entry {
            log_query(api, &entry)?;
        }
        Ok(out)
    }

    /// Unsigned: [`Caller::Public`]. Signed: the signature, time and membership are
    /// checked (any failure refuses the request) and the log entry to write once the
    /// request is answered is returned with the caller.
    fn authenticate(&self, api: &Api) -> Result<(Caller, Option<Value>), ApiError> {
        if !self.is_signed() {
            return Ok((Caller::Public, None));
        }
        if api.public_listener {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "member_listener_only",
                "this is the node's public listener: it serves public items only; send signed reads to the member API",
            ));
        }
        let unauthorised = |m: String| ApiError::new(StatusCode::UNAUTHORIZED, "unsigned_request", m);
        let h = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (Some(key), Some(time), Some(nonce), Some(sig)) =
            (h(query::HEADER_KEY), h(query::HEADER_TIME), h(query::HEADER_NONCE), h(query::HEADER_SIGNATURE))
        else {
            return Err(unauthorised(format!(
                "a signed request needs the headers {}, {}, {} and {}",
                query::HEADER_KEY,
                query::HEADER_TIME,
                query::HEADER_NONCE,
                query::HEADER_SIGNATURE
            )));
        };
        if !query::nonce_ok(&nonce) {
            return Err(unauthorised(format!(
                "bad {}: use 16 to 64 lowercase hex digits, fresh for every request",
                query::HEADER_NONCE
            )));
        }
        let key = PublicKey::from_hex(&key).map_err(|e| unauthorised(format!("bad {}: {e}", query::HEADER_KEY)))?;
        let time: u64 =
            time.parse().map_err(|_| unauthorised(format!("bad {}: not a number of ms", query::HEADER_TIME)))?;
        let sig = jialing_core::Signature::from_hex(&sig)
            .map_err(|e| unauthorised(format!("bad {}: {e}", query::HEADER_SIGNATURE)))?;
        let clock = crate::solo::now_ms();
        if time.abs_diff(clock) > REQUEST_WINDOW_MS {
            return Err(unauthorised(format!(
                "request time {time} is more than 5 minutes from the node's clock {clock}: sign a fresh request"
            )));
        }
        let audience = &api.info.query_audience;
        let digest = query::request_digest(&self.method, &self.target, time, audience, &nonce);
        key.verify(&api.ledger.chain_id, Purpose::QueryRequest, &digest, &sig).map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                format!(
                    "the request signature does not verify for this path, time, nonce and key on this node (query_audience {audience} in /status; a request signed for another node is refused)"
                ),
            )
        })?;
        let store = &api.ledger.store;
        let member = check_signer(&|k: &[u8]| store.get(k), &key, tip_time(&api.ledger).max(1))
            .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "not_member", e.to_string()))?;
        let sig_hash = jialing_core::sha256(&sig.0);
        api.replay.admit(sig_hash, time.saturating_add(REQUEST_WINDOW_MS), clock)?;
        let reader = Reader { org: member.org, roles: member.roles };
        let entry = json!({
            "logged_ms": crate::solo::now_ms(), "request_ms": time, "signer": key, "org": reader.org,
            "roles": reader.roles, "query": self.target, "signature_sha256": sig_hash,
        });
        Ok((Caller::Member { key, reader }, Some(entry)))
    }
}

/// Most signatures the replay cache holds (a full cache refuses signed queries until
/// entries expire: 100,000 in a five-minute window is over 300 signed queries a
/// second).
pub const REPLAY_CACHE_MAX: usize = 100_000;

/// The hashes of the query signatures seen within the request window, each kept until
/// its request time leaves the window: a signed query is answered once.
#[derive(Default)]
pub struct ReplayCache {
    seen: std::sync::Mutex<std::collections::BTreeMap<jialing_core::Hash, u64>>,
}

impl ReplayCache {
    /// Records `sig_hash` (valid until `expires_ms`) at node time `now_ms`; refuses a
    /// signature seen before, and any new one while the cache is full of live entries.
    pub fn admit(&self, sig_hash: jialing_core::Hash, expires_ms: u64, now_ms: u64) -> Result<(), ApiError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains_key(&sig_hash) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "replayed_request",
                "this signed request was already answered; sign a fresh one (new nonce and time)",
            ));
        }
        if seen.len() >= REPLAY_CACHE_MAX {
            seen.retain(|_, exp| *exp > now_ms);
        }
        if seen.len() >= REPLAY_CACHE_MAX {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many signed queries in the request window; retry shortly",
            )
            .retry_after(5));
        }
        seen.insert(sig_hash, expires_ms);
        Ok(())
    }
}

fn log_query(api: &Api, entry: &Value) -> Result<(), ApiError> {
    let log = &api.audit;
    log.record(entry).map(|_| ()).map_err(|e| {
        tracing::error!(target: "jialing::audit", error = %e, path = %log.path().display(), "audit log write failed; refusing the signed query");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "audit_log", "the query could not be recorded in the audit log, so it is refused")
    })?;
    tracing::info!(target: "jialing::audit", signer = %entry["signer"], org = %entry["org"], query = %entry["query"], "signed query");
    Ok(())
}

fn tip_time(ledger: &Ledger) -> u64 {
    ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0)
}

impl Caller {
    /// The reader, for a signed caller.
    pub fn reader(&self) -> Option<&Reader> {
        match self {
            Caller::Public => None,
            Caller::Member { reader, .. } => Some(reader),
        }
    }

    /// Whether the caller may read an item of visibility `v`.
    pub fn sees(&self, v: &Visibility) -> bool {
        v.allows(self.reader())
    }

    /// Refuses unless the caller may read `v`: 401 for an unsigned caller (sign the
    /// request), 403 for a member who is neither a reader nor a party. `what` names
    /// the item.
    pub fn require(&self, v: &Visibility, what: &str) -> Result<(), ApiError> {
        match self {
            _ if self.sees(v) => Ok(()),
            Caller::Public => Err(unsigned(what)),
            Caller::Member { .. } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "restricted",
                format!("{what} is restricted to its parties and the roles the read policy names (docs/api.md)"),
            )),
        }
    }

    /// Refuses unless the caller holds one of `roles`.
    pub fn require_role(&self, roles: &[Role], what: &str) -> Result<&Reader, ApiError> {
        match self.reader() {
            None => Err(unsigned(what)),
            Some(r) if r.roles.iter().any(|x| roles.contains(x)) => Ok(r),
            Some(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_role",
                format!("{what} needs one of the roles [{}]", jialing_contracts::error::role_list(roles)),
            )),
        }
    }

    /// Refuses an unsigned caller; any current member may go on.
    pub fn require_member(&self, what: &str) -> Result<&Reader, ApiError> {
        self.reader().ok_or_else(|| unsigned(what))
    }
}

/// The answer to an unsigned request for a restricted item.
fn unsigned(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unsigned_request",
        format!(
            "{what} is restricted: sign the request with an authorised member key (headers {}, {}, {}; the CLI's --query-key FILE does it)",
            query::HEADER_KEY,
            query::HEADER_TIME,
            query::HEADER_SIGNATURE
        ),
    )
}

/// The visibility of a transaction under the tip's state.
pub fn tx_visibility(ledger: &Ledger, stx: &SignedTransaction) -> Visibility {
    let store = &ledger.store;
    visibility::of_tx(&stx.tx.contract, &stx.tx.method, &stx.tx.signer, &stx.tx.payload, &|k: &[u8]| store.get(k))
}

/// The public part of a committed transaction the caller may not read: hash, height,
/// position, time, contract, method and outcome (status and refusal code).
pub fn public_part(
    height: u64,
    index: u32,
    time_ms: u64,
    stx: &SignedTransaction,
    status: Option<&TxStatus>,
) -> HistoryEntry {
    let (status, code) = outcome(status);
    HistoryEntry {
        height,
        index,
        time_ms,
        tx_hash: stx.hash(),
        contract: stx.tx.contract.clone(),
        method: stx.tx.method.clone(),
        signer: None,
        status,
        code,
        message: None,
        args: Value::Null,
        restricted: true,
    }
}

/// The outcome and refusal code of a receipt's status.
pub fn outcome(status: Option<&TxStatus>) -> (Outcome, Option<String>) {
    match status {
        Some(TxStatus::Ok) => (Outcome::Ok, None),
        Some(TxStatus::Refused { code, .. }) => (Outcome::Refused, Some(code.clone())),
        None => (Outcome::Unknown, None),
    }
}

/// The public part of a pending transaction the caller may not read.
pub fn pending_public_part(stx: &SignedTransaction) -> Value {
    json!({"tx_hash": stx.hash(), "contract": stx.tx.contract, "method": stx.tx.method, "restricted": true})
}
