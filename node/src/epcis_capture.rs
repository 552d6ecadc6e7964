//! The capture part of the EPCIS 2.0 REST interface: `POST /epcis/capture` takes an
//! EPCIS document signed by a member and submits it as one `trace.epcis_capture`
//! transaction; `GET /epcis/capture/{captureID}` is the capture job, read from the
//! transaction and its receipt.
//!
//! A node holds no member's key, so the request carries the member's signature of
//! exactly the transaction the node rebuilds from the body:
//! `Transaction { chain_id, signer, nonce, "trace", "epcis_capture",
//! borsh(EpcisCapture { error_behaviour, document: body }) }`, with the signer, nonce and
//! signature in the [`SIGNER`], [`NONCE`] and [`SIGNATURE`] headers and the behaviour in
//! [`ERROR_BEHAVIOUR`] (`rollback`, the default, or `proceed`). The node checks the signature, then
//! submits through the same mempool path as `POST /v1/tx` (membership, nonce, overload
//! answers), and answers 202 with `Location: /epcis/capture/{captureID}`; the capture ID
//! is the transaction hash. `jialing_client::sdk::capture_headers` builds the headers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jialing_contracts::trace::epcis_capture::{
    self, CaptureErrorBehaviour, CaptureOutcome, EpcisCapture, RefusedEvent, capture_outcome_key,
};
use jialing_contracts::trace::epcis_event::{EpcisEventRef, epcis_event_key};
use jialing_contracts::trace::epcis_import::ImportedEvent;
use jialing_contracts::{CallPayload, ContractError, StateView, TxStatus};
use jialing_core::{Hash, PublicKey, Purpose, Signature, SignedTransaction, encoding};
use serde_json::{Value, json};

use crate::api::{Api, ApiError, blocking};
use crate::app::Ledger;

pub use jialing_api_types::capture_headers::{ERROR_BEHAVIOUR, NONCE, SIGNATURE, SIGNER};

/// What a caller must send, for the 401 answers.
fn how_to_sign(chain: &str) -> String {
    format!(
        "POST /epcis/capture must be signed by a member: send {SIGNER}: <public key hex>, {NONCE}: <the key's next \
         nonce, GET /v1/nonce/{{key}}> and {SIGNATURE}: <hex signature, for chain {chain:?}, of the transaction \
         {{chain_id, signer, nonce, contract \"trace\", method \"epcis_capture\", payload borsh(EpcisCapture \
         {{error_behaviour, document: the body bytes}})}}>; jialing epcis capture and jialing_client::sdk::capture_headers \
         build them (docs/api.md)"
    )
}

fn unauthorized(code: &'static str, what: String, chain: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, format!("{what}. {}", how_to_sign(chain)))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    h.get(name).map(|v| v.to_str().map(str::trim).map_err(|_| format!("{name} is not ASCII"))).transpose()
}

/// The signed transaction a capture request stands for, rebuilt from its headers and
/// body; checks the headers (401 unsigned or badly signed, 400 a bad behaviour, 415 a
/// media type other than JSON), the size (413) and the signature.
pub fn rebuild(chain: &str, headers: &HeaderMap, body: &[u8]) -> Result<SignedTransaction, ApiError> {
    let bad = |m: String| unauthorized("missing_signature", m, chain);
    let (signer, nonce, sig) = match (
        header(headers, SIGNER).map_err(bad)?,
        header(headers, NONCE).map_err(bad)?,
        header(headers, SIGNATURE).map_err(bad)?,
    ) {
        (Some(k), Some(n), Some(s)) => (k, n, s),
        _ => return Err(bad("the request is not signed".into())),
    };
    let bad = |m: String| unauthorized("bad_signature", m, chain);
    let signer =
        PublicKey::from_hex(signer).map_err(|e| bad(format!("{SIGNER} {signer:?} is not a public key: {e}")))?;
    let nonce: u64 = nonce.parse().map_err(|_| bad(format!("{NONCE} {nonce:?} is not a decimal number")))?;
    let signature =
        Signature::from_hex(sig).map_err(|e| bad(format!("{SIGNATURE} is not a 64-byte hex signature: {e}")))?;
    let behaviour = match header(headers, ERROR_BEHAVIOUR).map_err(ApiError::bad_request)? {
        None => CaptureErrorBehaviour::Rollback,
        Some(v) => CaptureErrorBehaviour::parse(v).map_err(ApiError::bad_request)?,
    };
    if let Some(ct) = header(headers, header::CONTENT_TYPE.as_str()).map_err(ApiError::bad_request)? {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && mime != "application/ld+json" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type {ct:?}: send the EPCIS document as application/json or application/ld+json"),
            ));
        }
    }
    let max = epcis_capture::max_document_bytes(chain);
    if body.len() > max {
        return Err(too_large(&format!("{} bytes", body.len()), max));
    }
    let document = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("the document is not UTF-8 (JSON must be): {e}")))?;
    let tx = epcis_capture::capture_tx(chain, signer, nonce, behaviour, document);
    let hash = tx.hash();
    signer.verify(chain, Purpose::Transaction, &hash, &signature).map_err(|_| {
        bad(format!(
            "{SIGNATURE} is not {signer}'s signature of the capture transaction with nonce {nonce} and this body \
             (a forged signature, another key's, another nonce, or a body changed after signing)"
        ))
    })?;
    Ok(SignedTransaction { tx, signature })
}

fn too_large(size: &str, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "document_too_large",
        format!(
            "the document is {size}; one capture carries at most {max} bytes (a transaction is at most 64 KiB): \
             split the document into several captures"
        ),
    )
}

/// `POST /epcis/capture`.
pub async fn capture(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let chain = api.ledger.chain_id.clone();
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let max = epcis_capture::max_document_bytes(&chain);
            return too_large("larger than this listener takes", max).into_response();
        }
        Err(e) => return ApiError::bad_request(format!("the body could not be read: {e}")).into_response(),
    };
    let ledger = api.ledger.clone();
    let r = blocking(api.reads.clone(), move || {
        let stx = rebuild(&chain, &headers, &body)?;
        let plan = epcis_capture::plan_document(std::str::from_utf8(&body).unwrap_or_default()).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_document", format!("the document cannot be captured: {e}"))
        })?;
        let hash = stx.hash();
        let bytes = stx.to_bytes();
        match ledger.submit(vec![(stx, hash, bytes)]).pop() {
            Some(Ok(h)) => Ok((h, plan.events.len())),
            Some(Err(e)) => Err(ApiError::from(e)),
            None => Err(ApiError::bad_request("submission failed")),
        }
    })
    .await;
    match r {
        Ok((h, events)) => {
            let location = format!("/epcis/capture/{h}");
            (
                StatusCode::ACCEPTED,
                [(header::LOCATION, location.clone())],
                Json(json!({"captureID": h.to_hex(), "location": location, "running": true, "events": events})),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// What became of one event of a committed, successful capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Recorded by this capture.
    Recorded,
    /// Already on the ledger (or earlier in the document): skipped.
    Duplicate,
    /// Refused and left out (`proceed`); the capture's [`CaptureOutcome`] says why.
    Refused,
}

impl EventOutcome {
    fn name(self) -> &'static str {
        match self {
            EventOutcome::Recorded => "recorded",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Refused => "refused",
        }
    }
}

fn read_state<T: borsh::BorshDeserialize>(ledger: &Ledger, key: &[u8]) -> Result<Option<T>, ApiError> {
    let bytes = ledger.store.get(key).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", e))?;
    bytes
        .map(|b| encoding::decode("state value", &b))
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))
}

/// A committed, successful capture's events.
pub struct Captured {
    /// Every event of the document, in order, with what became of it.
    pub events: Vec<(ImportedEvent, EventOutcome)>,
    /// The events a `proceed` capture left out, and why (empty otherwise).
    pub refused: Vec<RefusedEvent>,
}

/// The events of a committed, successful capture (see [`Captured`]).
pub fn captured_events(ledger: &Ledger, capture: &Hash, document: &str) -> Result<Captured, ApiError> {
    let plan = epcis_capture::plan_document(document).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", format!("a committed capture: {e}"))
    })?;
    let refused =
        read_state::<CaptureOutcome>(ledger, &capture_outcome_key(capture))?.map(|o| o.refused).unwrap_or_default();
    let mut out: Vec<(ImportedEvent, EventOutcome)> = Vec::with_capacity(plan.events.len());
    for e in plan.events {
        let outcome = if refused.iter().any(|r| r.index as usize == e.index) {
            EventOutcome::Refused
        } else {
            let r = read_state::<EpcisEventRef>(ledger, &epcis_event_key(&e.record.event_hash))?;
            let first = !out.iter().any(|(p, o)| p.hash_id == e.hash_id && *o == EventOutcome::Recorded);
            if r.is_some_and(|r| r.tx == *capture) && first { EventOutcome::Recorded } else { EventOutcome::Duplicate }
        };
        out.push((e, outcome));
    }
    Ok(Captured { events: out, refused })
}

/// `GET /epcis/capture/{captureID}`.
pub async fn job(State(api): State<Api>, Path(id): Path<String>) -> Response {
    match blocking(api.reads.clone(), move || job_read(&api, &id)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn job_read(api: &Api, id: &str) -> Result<Value, ApiError> {
    let hash = Hash::from_hex(id)
        .map_err(|e| ApiError::bad_request(format!("{id:?} is not a capture ID (a transaction hash): {e}")))?;
    let not_capture = || ApiError::not_found(format!("{hash} is not an EPCIS capture"));
    if let Some(p) = api.ledger.mempool.lock().ok().and_then(|p| p.get(&hash).cloned()) {
        let t = &p.tx.tx;
        if (t.contract.as_str(), t.method.as_str()) != (EpcisCapture::CONTRACT, EpcisCapture::METHOD) {
            return Err(not_capture());
        }
        let behaviour = encoding::decode::<EpcisCapture>("capture", &t.payload).map(|c| c.error_behaviour).ok();
        return Ok(json!({
            "captureID": hash.to_hex(), "running": true, "success": true,
            "captureErrorBehaviour": behaviour.unwrap_or_default().name(), "errors": [],
        }));
    }
    let Some((rec, stx)) = api.ledger.store.signed_tx(&hash)? else {
        return Err(ApiError::not_found(format!("capture {hash} is neither pending nor committed")));
    };
    if (stx.tx.contract.as_str(), stx.tx.method.as_str()) != (EpcisCapture::CONTRACT, EpcisCapture::METHOD) {
        return Err(not_capture());
    }
    let capture: EpcisCapture = encoding::decode("capture", &stx.tx.payload)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state", e.to_string()))?;
    let receipt = api.ledger.store.receipt(rec.height, rec.index)?;
    let time = api.ledger.store.header(rec.height)?.map(|h| jialing_core::calendar::format_rfc3339_ms(h.time_ms));
    let mut v = json!({
        "captureID": hash.to_hex(), "createdAt": time, "finishedAt": time, "running": false,
        "captureErrorBehaviour": capture.error_behaviour.name(), "height": rec.height, "index": rec.index,
        "signer": stx.tx.signer,
    });
    match receipt.map(|r| r.status) {
        Some(TxStatus::Ok) => {
            let Captured { events, refused } = captured_events(&api.ledger, &hash, &capture.document)?;
            let list: Vec<Value> = events
                .iter()
                .map(|(e, outcome)| {
                    json!({"index": e.index, "eventID": e.hash_id, "type": e.record.event_type,
                        "status": outcome.name(), "mapped": e.mapped.as_ref().map(|(m, _)| format!("trace.{m}"))})
                })
                .collect();
            let count = |o: EventOutcome| events.iter().filter(|(_, x)| *x == o).count();
            let errors: Vec<Value> = refused
                .iter()
                .map(|r| {
                    json!({"type": "epcisException:ValidationException", "title": "event refused and left out",
                        "status": 409, "detail": r.message, "instance": format!("/epcis/capture/{hash}"),
                        "code": r.code, "eventIndex": r.index, "eventID": r.hash_id})
                })
                .collect();
            v["success"] = json!(errors.is_empty());
            v["errors"] = json!(errors);
            v["recorded"] = json!(count(EventOutcome::Recorded));
            v["duplicates"] = json!(count(EventOutcome::Duplicate));
            v["refused"] = json!(count(EventOutcome::Refused));
            v["events"] = json!(list);
        }
        Some(TxStatus::Refused { code, message }) => {
            let (index, event_id) = ContractError::capture_event_of(&message).unzip();
            v["success"] = json!(false);
            v["errors"] = json!([{
                "type": "epcisException:ValidationException", "title": "capture refused: nothing was recorded",
                "status": 409, "detail": message, "instance": format!("/epcis/capture/{hash}"),
                "code": code, "eventIndex": index, "eventID": event_id,
            }]);
        }
        None => return Err(ApiError::not_found(format!("capture {hash} has no receipt yet"))),
    }
    Ok(v)
}
