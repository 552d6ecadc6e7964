//! `trace.epcis_capture`: a whole EPCIS 2.0 document captured in one signed
//! transaction, the ledger side of the standard's capture interface
//! (`POST /epcis/capture`).
//!
//! The payload carries the document exactly as the partner sent it. Executing it plans
//! the document with [`epcis_import::plan`] (the same planning as `jialing epcis import`)
//! and applies, in document order, each event's `trace.record_epcis_event` and then the
//! ledger call it maps to (harvest, ship, receive, ...), through
//! [`crate::registry::dispatch`]: the same handlers and role checks as the separate
//! calls, under the signer's authority, so no rule is restated here.
//!
//! Error behaviour, the standard's `captureErrorBehaviour`:
//! - `rollback` (the default), all or nothing. The first event refused refuses the
//!   whole transaction (nothing it did stays, only the signer's nonce moves) with
//!   [`ContractError::CaptureEvent`]: the event's index, its hash ID, and the error the
//!   separate call would give (its code is the receipt's code).
//! - `proceed`: each event is all or nothing on its own. A refused event is undone (its
//!   record and its rule call) and the others stay; the transaction succeeds, and
//!   [`CaptureOutcome`] at [`capture_outcome_key`] names each refused event with its
//!   code and message. A storage failure still refuses the whole capture.
//!
//! An event whose hash ID is already on the ledger, or earlier in the same document, is
//! a duplicate: it is skipped (neither recorded nor its rule call applied again), not an
//! error; the capture job (`GET /epcis/capture/{id}`) lists it.
//!
//! Numbers: the document is parsed with `serde_json`, whose non-integer numbers are f64.
//! The contracts crate enables `float_roundtrip`, so every binary parses a number to the
//! correctly rounded f64 (an exactly defined IEEE 754 result, the same on every
//! platform) and prints it back in its shortest round-trip form; event hash IDs and
//! stored bodies are therefore the same bytes on every node. No arithmetic is done on
//! them.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::{CallPayload, decode_payload, dispatch};
use crate::trace::epcis_event::{RecordEpcisEvent, epcis_event_key};
use crate::trace::epcis_import::{self, ImportPlan, ImportedEvent};

/// The standard's `captureErrorBehaviour` (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureErrorBehaviour {
    /// The first refused event refuses the whole capture.
    #[default]
    Rollback,
    /// A refused event is left out; the others are captured.
    Proceed,
}

impl CaptureErrorBehaviour {
    /// The standard's name (`rollback`, `proceed`).
    pub fn name(self) -> &'static str {
        match self {
            CaptureErrorBehaviour::Rollback => "rollback",
            CaptureErrorBehaviour::Proceed => "proceed",
        }
    }

    /// Parses the `GS1-Capture-Error-Behaviour` header value.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "rollback" => Ok(CaptureErrorBehaviour::Rollback),
            "proceed" => Ok(CaptureErrorBehaviour::Proceed),
            other => Err(format!("GS1-Capture-Error-Behaviour {other:?} is neither rollback nor proceed")),
        }
    }
}

/// An event a `proceed` capture left out.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RefusedEvent {
    /// Its position in the document's event list.
    pub index: u32,
    /// Its CBV 2.0 event hash ID.
    pub hash_id: String,
    /// The error code the separate call would give (the rule's name).
    pub code: String,
    /// What exactly was wrong.
    pub message: String,
}

/// What `trace/epcis_capture/{tx hash}` holds: the events a `proceed` capture left out
/// (written only when it left one out).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CaptureOutcome {
    /// The refused events, in document order.
    pub refused: Vec<RefusedEvent>,
}

/// `trace/epcis_capture/{tx hash}` → [`CaptureOutcome`].
pub fn capture_outcome_key(tx: &jialing_core::Hash) -> Vec<u8> {
    format!("trace/epcis_capture/{tx}").into_bytes()
}

/// `trace.epcis_capture`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EpcisCapture {
    /// What to do when an event is refused.
    pub error_behaviour: CaptureErrorBehaviour,
    /// The EPCIS 2.0 JSON/JSON-LD document (`EPCISDocument`, `EPCISQueryDocument` or one
    /// event) exactly as sent.
    pub document: String,
}

impl CallPayload for EpcisCapture {
    const CONTRACT: &'static str = "trace";
    const METHOD: &'static str = "epcis_capture";
}

/// The `trace.epcis_capture` transaction of `document`: what a member signs for
/// `POST /epcis/capture` and what the node rebuilds from the request to check that
/// signature.
pub fn capture_tx(
    chain_id: &str,
    signer: jialing_core::PublicKey,
    nonce: u64,
    error_behaviour: CaptureErrorBehaviour,
    document: &str,
) -> jialing_core::Transaction {
    let (contract, method, payload) = EpcisCapture { error_behaviour, document: document.to_string() }.to_call();
    jialing_core::Transaction { chain_id: chain_id.to_string(), signer, nonce, contract, method, payload }
}

/// Bytes a signed `trace.epcis_capture` transaction takes besides the document: the
/// chain id, signer, nonce, names, lengths, behaviour and signature.
pub fn capture_overhead(chain_id: &str) -> usize {
    let names = EpcisCapture::CONTRACT.len() + EpcisCapture::METHOD.len();
    // chain id, key, nonce, contract, method, payload length, behaviour, document
    // length, signature.
    (4 + chain_id.len()) + 32 + 8 + 4 + 4 + names + 4 + 1 + 4 + 64
}

/// The largest document one capture transaction carries on `chain_id`
/// ([`jialing_core::tx::MAX_TX_BYTES`] less [`capture_overhead`]).
pub fn max_document_bytes(chain_id: &str) -> usize {
    jialing_core::tx::MAX_TX_BYTES.saturating_sub(capture_overhead(chain_id))
}

/// Parses and plans a captured document: the events in document order, or what is wrong
/// (the event index and field, from [`epcis_import::plan`]).
pub fn plan_document(document: &str) -> Result<ImportPlan, String> {
    let doc: Value = serde_json::from_str(document).map_err(|e| format!("the document is not JSON: {e}"))?;
    let plan = epcis_import::plan(&doc)?;
    if plan.events.is_empty() {
        return Err("the document holds no event: nothing to capture".into());
    }
    Ok(plan)
}

pub(crate) fn epcis_capture(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: EpcisCapture = decode_payload(payload)?;
    let plan =
        plan_document(&p.document).map_err(|reason| ContractError::InvalidArgument { field: "document", reason })?;
    let mut refused = Vec::new();
    for e in &plan.events {
        // A duplicate (already on the ledger, or earlier in this document) is skipped.
        if tx.get_raw(&epcis_event_key(&e.record.event_hash))?.is_some() {
            continue;
        }
        let index = u32::try_from(e.index).unwrap_or(u32::MAX);
        let savepoint = (p.error_behaviour == CaptureErrorBehaviour::Proceed).then(|| tx.savepoint());
        match (apply_event(tx, e), savepoint) {
            (Ok(()), _) => {}
            // Storage failures are the node's, not the event's: never proceed past them.
            (Err(error @ (ContractError::Storage(_) | ContractError::Corrupt { .. })), _) | (Err(error), None) => {
                return Err(ContractError::CaptureEvent { index, hash_id: e.hash_id.clone(), error: Box::new(error) });
            }
            (Err(error), Some(savepoint)) => {
                tx.restore(savepoint);
                refused.push(RefusedEvent {
                    index,
                    hash_id: e.hash_id.clone(),
                    code: error.code(),
                    message: error.to_string(),
                });
            }
        }
    }
    if !refused.is_empty() {
        let key = capture_outcome_key(&tx.tx_hash());
        tx.put(key, &CaptureOutcome { refused });
    }
    Ok(())
}

/// One event: its record, then the rule call it maps to, as the separate calls.
fn apply_event(tx: &mut Tx<'_>, e: &ImportedEvent) -> Result<(), ContractError> {
    dispatch(tx, RecordEpcisEvent::CONTRACT, RecordEpcisEvent::METHOD, &jialing_core::encoding::encode(&e.record))?;
    let Some((method, args)) = &e.mapped else { return Ok(()) };
    if method == EpcisCapture::METHOD || method == RecordEpcisEvent::METHOD {
        return Err(ContractError::InvalidArgument {
            field: "document",
            reason: format!("an event cannot map to trace.{method}"),
        });
    }
    let m = crate::registry::find(EpcisCapture::CONTRACT, method).ok_or_else(|| ContractError::UnknownMethod {
        contract: EpcisCapture::CONTRACT.into(),
        method: method.clone(),
    })?;
    let bytes = (m.from_json)(args.clone())?;
    dispatch(tx, EpcisCapture::CONTRACT, method, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overhead_is_the_encoded_size_around_the_document() {
        let k = jialing_core::Keypair::from_label("x");
        let doc = "{\"type\":\"ObjectEvent\"}".to_string();
        let stx = capture_tx("jialing-test", k.public(), 7, CaptureErrorBehaviour::Rollback, &doc).sign(&k);
        assert_eq!(stx.to_bytes().len(), doc.len() + capture_overhead("jialing-test"));
        assert_eq!(
            max_document_bytes("jialing-test") + capture_overhead("jialing-test"),
            jialing_core::tx::MAX_TX_BYTES
        );
    }

    #[test]
    fn error_behaviour_header_values() {
        assert_eq!(CaptureErrorBehaviour::parse("rollback"), Ok(CaptureErrorBehaviour::Rollback));
        assert_eq!(CaptureErrorBehaviour::parse(" proceed"), Ok(CaptureErrorBehaviour::Proceed));
        assert!(CaptureErrorBehaviour::parse("maybe").is_err());
    }

    /// A number the default (fast, not correctly rounded) serde_json parser reads one
    /// ulp off: with `float_roundtrip` every node reads the exact f64, so the stored
    /// body and the event hash ID do not depend on how the binary was built.
    #[test]
    fn sensor_values_parse_to_the_correctly_rounded_number() {
        let doc = r#"{"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-01-01T08:00:00+08:00",
            "eventTimeZoneOffset": "+08:00", "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
            "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 4090099382673551.5e-17}]}]}"#;
        let plan = plan_document(doc).unwrap();
        let exact: f64 = "4090099382673551.5e-17".parse().unwrap();
        assert_eq!(exact.to_string(), "0.04090099382673552");
        assert!(plan.events[0].record.body.contains("0.04090099382673552"), "{}", plan.events[0].record.body);
    }
}
