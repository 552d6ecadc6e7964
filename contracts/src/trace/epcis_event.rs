//! `trace.record_epcis_event`: an EPCIS 2.0 event as a partner sent it, kept on the
//! ledger under its CBV 2.0 event hash ID and attached to the lots it names.
//!
//! Every imported event is recorded this way, so nothing a partner sends is lost; an
//! event that also maps to a ledger rule (harvest, ship, ...) names that method in
//! `mapped` and the importer submits the rule call after it. The event hash is
//! recomputed here from the stored body, so a record cannot claim another event's ID,
//! and a second record with the same ID is refused (duplicate import).

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Hash;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, decode_payload};
use crate::trace::methods::EventTime;
use crate::trace::{epcis_hash, rules};

/// The id under which every recorded EPCIS event is tagged ([`TagKind::EpcisEvent`]).
pub const EPCIS_EVENTS_TAG: &str = "all";

/// Largest event body kept on the ledger, bytes of compact JSON.
pub const MAX_EPCIS_EVENT_BYTES: usize = 16 * 1024;

/// `trace/epcis/{event hash hex}` → [`EpcisEventRef`].
pub fn epcis_event_key(hash: &Hash) -> Vec<u8> {
    format!("trace/epcis/{hash}").into_bytes()
}

/// `trace.record_epcis_event`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordEpcisEvent {
    /// SHA-256 of the CBV 2.0 pre-hash string (the `ni:///sha-256;...` event hash ID).
    pub event_hash: Hash,
    /// `ObjectEvent`, `AggregationEvent`, `TransformationEvent`, `TransactionEvent` or
    /// `AssociationEvent`.
    pub event_type: String,
    /// The event's bizStep as given (empty when none).
    pub biz_step: String,
    /// Ledger lot ids it names (LGTIN classes and Digital Links with a lot).
    pub lots: Vec<String>,
    /// Every identifier it names, canonical (Digital Link for GS1 keys).
    pub identifiers: Vec<String>,
    /// The ledger method the importer also calls for it, if it maps to one.
    pub mapped: Option<String>,
    /// The event, compact JSON, with the document's namespace prefixes under
    /// `@context`.
    pub body: String,
    /// Event time.
    pub at: EventTime,
}

impl CallPayload for RecordEpcisEvent {
    const CONTRACT: &'static str = "trace";
    const METHOD: &'static str = "record_epcis_event";
}

/// What `trace/epcis/{hash}` holds: where the event was recorded.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EpcisEventRef {
    /// The transaction that recorded it.
    pub tx: Hash,
    /// Block height.
    pub height: u64,
    /// The ledger method it also mapped to.
    pub mapped: Option<String>,
}

/// `trace.epcis_event_hash_matches`: the body's CBV 2.0 event hash is the claimed one.
pub fn epcis_event_hash_matches(body: &str, claimed: &Hash) -> Result<Value, ContractError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| ContractError::InvalidArgument { field: "body", reason: format!("not JSON: {e}") })?;
    if !v.is_object() || !v["type"].is_string() {
        return Err(ContractError::InvalidArgument { field: "body", reason: "not an EPCIS event object".into() });
    }
    let ns = epcis_hash::namespaces(&v["@context"]);
    let h = Hash(epcis_hash::event_hash(&v, &ns));
    if &h != claimed {
        return Err(ContractError::rule(
            "trace.epcis_event_hash_matches",
            format!("the body's event hash is {h}, the call claims {claimed}"),
        ));
    }
    Ok(v)
}

pub(crate) fn record_epcis_event(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordEpcisEvent = decode_payload(payload)?;
    if p.body.len() > MAX_EPCIS_EVENT_BYTES {
        return Err(ContractError::InvalidArgument {
            field: "body",
            reason: format!("{} bytes, the limit is {MAX_EPCIS_EVENT_BYTES}", p.body.len()),
        });
    }
    tx.check_text("event_type", &p.event_type, true)?;
    tx.check_text("biz_step", &p.biz_step, false)?;
    tx.check_list("lots", p.lots.len())?;
    tx.check_list("identifiers", p.identifiers.len())?;
    for i in &p.identifiers {
        tx.check_text("identifiers", i, true)?;
    }
    if let Some(m) = &p.mapped {
        tx.check_text("mapped", m, true)?;
    }
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    epcis_event_hash_matches(&p.body, &p.event_hash)?;
    let key = epcis_event_key(&p.event_hash);
    if tx.get_raw(&key)?.is_some() {
        return Err(ContractError::rule(
            "trace.epcis_event_unique",
            format!("EPCIS event ni:///sha-256;{}?ver=CBV2.0 is already on the ledger", p.event_hash),
        ));
    }
    for id in &p.lots {
        rules::id_format("lot id", id)?;
        // Attached to the lot's history whether or not the lot is on the ledger yet (a
        // commissioning event is recorded just before the call that creates the lot).
        tx.tag(TagKind::Lot, id.clone());
    }
    tx.tag(TagKind::EpcisEvent, EPCIS_EVENTS_TAG);
    let r = EpcisEventRef { tx: tx.tx_hash(), height: tx.height(), mapped: p.mapped.clone() };
    tx.put(key, &r);
    Ok(())
}
