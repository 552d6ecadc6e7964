//! Import of any EPCIS 2.0 JSON/JSON-LD document: `EPCISDocument`,
//! `EPCISQueryDocument` or a single event, every event type.
//!
//! Each event becomes a [`RecordEpcisEvent`] (the event as sent, under its CBV 2.0
//! event hash ID, attached to the lots it names); an event that carries what a ledger
//! rule needs also becomes that rule's call (`mapped`, see [`crate::trace::epcis`]),
//! which the importer submits after the record so the rules still apply. Validation
//! follows the EPCIS 2.0 JSON schema's requirements for events (type, eventTime with an
//! offset, eventTimeZoneOffset, action where the type has one); the error names the
//! event and the field.

use serde_json::{Map, Value, json};

use crate::trace::epcis_event::{MAX_EPCIS_EVENT_BYTES, RecordEpcisEvent};
use crate::trace::epcis_hash::{self, Namespaces};
use crate::trace::gs1::{self, Gs1Key};
use crate::trace::methods::EventTime;

/// The five EPCIS 2.0 event types.
pub const EVENT_TYPES: &[&str] =
    &["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"];

/// One event of a document, ready to submit.
#[derive(Clone, Debug)]
pub struct ImportedEvent {
    /// Position in the document's event list.
    pub index: usize,
    /// `ni:///sha-256;{hex}?ver=CBV2.0`.
    pub hash_id: String,
    /// The record of the event (always submitted, first).
    pub record: RecordEpcisEvent,
    /// The ledger call it maps to, `(method, args)`, if any.
    pub mapped: Option<(String, Value)>,
}

/// A document's events in document order.
#[derive(Clone, Debug)]
pub struct ImportPlan {
    /// `EPCISDocument`, `EPCISQueryDocument` or the event type of a single event.
    pub document_type: String,
    /// The events.
    pub events: Vec<ImportedEvent>,
}

impl ImportPlan {
    /// Events that map to a ledger rule.
    pub fn mapped(&self) -> usize {
        self.events.iter().filter(|e| e.mapped.is_some()).count()
    }

    /// Events kept as EPCIS observations only.
    pub fn observed(&self) -> usize {
        self.events.len() - self.mapped()
    }
}

/// Plans the import of an EPCIS document (see the module documentation).
pub fn plan(doc: &Value) -> Result<ImportPlan, String> {
    let doc_type = doc["type"].as_str().ok_or("not an EPCIS document or event: no \"type\"")?;
    let mut ns = epcis_hash::namespaces(&doc["@context"]);
    let list = match doc_type {
        "EPCISDocument" => {
            doc["epcisBody"]["eventList"].as_array().ok_or("EPCISDocument without epcisBody.eventList")?
        }
        "EPCISQueryDocument" => doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .ok_or("EPCISQueryDocument without epcisBody.queryResults.resultsBody.eventList")?,
        t if EVENT_TYPES.contains(&t) => std::slice::from_ref(doc),
        t => return Err(format!("type {t:?} is neither an EPCIS document nor an event")),
    };
    if EVENT_TYPES.contains(&doc_type) {
        ns = Namespaces::new();
    }
    let events = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            plan_event(i, e, &ns).map_err(|m| format!("event {i} ({}): {m}", e["type"].as_str().unwrap_or("?")))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ImportPlan { document_type: doc_type.to_string(), events })
}

/// Event time of an event: any RFC 3339 offset, and its `eventTimeZoneOffset`.
pub fn event_time(e: &Value) -> Result<EventTime, String> {
    let t = e["eventTime"].as_str().ok_or("missing eventTime")?;
    let time_ms = epcis_hash::parse_time_ms(t)
        .ok_or_else(|| format!("eventTime {t:?} is not an RFC 3339 date-time with a time zone (Z or ±hh:mm)"))?;
    let off = e["eventTimeZoneOffset"].as_str().ok_or("missing eventTimeZoneOffset")?;
    let bad = || format!("eventTimeZoneOffset {off:?} is not ±hh:mm");
    let sign: i16 = match off.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(bad()),
    };
    let (h, m) = off[1..].split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i16, i16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(EventTime { time_ms, tz_offset_min: sign * (h * 60 + m) })
}

/// Every identifier an event names: EPCs, classes, parents, locations, parties.
fn identifiers(e: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["epcList", "inputEPCList", "outputEPCList", "childEPCs"] {
        out.extend(e[k].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
    }
    for k in ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"] {
        out.extend(e[k].as_array().into_iter().flatten().filter_map(|q| q["epcClass"].as_str()).map(str::to_string));
    }
    for s in [&e["parentID"], &e["readPoint"]["id"], &e["bizLocation"]["id"]] {
        out.extend(s.as_str().map(str::to_string));
    }
    for (k, f) in [("sourceList", "source"), ("destinationList", "destination")] {
        out.extend(e[k].as_array().into_iter().flatten().filter_map(|x| x[f].as_str()).map(str::to_string));
    }
    let mut out: Vec<String> = out.iter().map(|s| gs1::canonical_identifier(s)).collect();
    out.sort();
    out.dedup();
    out
}

/// The ledger lot an identifier names: a GS1 key with a lot (LGTIN class or Digital
/// Link `/10/`), or the ledger's own Digital Link with a non-GTIN product code.
pub fn lot_of_identifier(id: &str) -> Option<(String, String)> {
    match gs1::key_of(id) {
        Ok(Some(Gs1Key::Gtin { gtin, lot: Some(lot), .. })) => Some((gtin, lot)),
        Ok(Some(_)) => None,
        _ => crate::trace::epcis::lot_of(id).ok(),
    }
}

fn validate(e: &Value) -> Result<(), String> {
    let t = e["type"].as_str().ok_or("missing type")?;
    if !EVENT_TYPES.contains(&t) {
        return Err(format!("type {t:?} is not an EPCIS 2.0 event type ({})", EVENT_TYPES.join(", ")));
    }
    if t != "TransformationEvent" {
        match e["action"].as_str() {
            Some("ADD" | "OBSERVE" | "DELETE") => {}
            Some(a) => return Err(format!("action {a:?} is not ADD, OBSERVE or DELETE")),
            None => return Err("missing action".into()),
        }
    }
    Ok(())
}

fn plan_event(index: usize, e: &Value, doc_ns: &Namespaces) -> Result<ImportedEvent, String> {
    if !e.is_object() {
        return Err("an event must be a JSON object".into());
    }
    validate(e)?;
    let at = event_time(e)?;
    let mut ns = doc_ns.clone();
    ns.extend(epcis_hash::namespaces(&e["@context"]));
    let mut body: Map<String, Value> = e.as_object().cloned().unwrap_or_default();
    body.remove("@context");
    if !ns.is_empty() {
        body.insert("@context".into(), json!(ns));
    }
    let body = Value::Object(body);
    let hash = epcis_hash::event_hash(&body, &ns);
    let text = body.to_string();
    if text.len() > MAX_EPCIS_EVENT_BYTES {
        return Err(format!("{} bytes, the ledger keeps events up to {MAX_EPCIS_EVENT_BYTES} bytes", text.len()));
    }
    let ids = identifiers(e);
    let mut lots: Vec<String> = ids
        .iter()
        .filter_map(|i| lot_of_identifier(i))
        .map(|(_, l)| l)
        .filter(|l| crate::trace::rules::id_format("lot", l).is_ok())
        .collect();
    lots.sort();
    lots.dedup();
    // Mapped only when the arguments fit the method: otherwise the event is kept as an
    // observation rather than refused.
    let mapped = crate::trace::epcis::import_event(e)
        .ok()
        .filter(|(m, a)| crate::registry::find("trace", m).is_some_and(|method| (method.from_json)(a.clone()).is_ok()));
    let record = RecordEpcisEvent {
        event_hash: jialing_core::Hash(hash),
        event_type: e["type"].as_str().unwrap_or_default().to_string(),
        biz_step: e["bizStep"].as_str().unwrap_or_default().to_string(),
        lots,
        identifiers: ids,
        mapped: mapped.as_ref().map(|(m, _)| m.clone()),
        body: text,
        at,
    };
    Ok(ImportedEvent { index, hash_id: format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(hash)), record, mapped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_documents_offsets_and_urns_are_accepted() {
        let doc = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "http://ns.example.com/epcis/"}],
            "type": "EPCISQueryDocument", "schemaVersion": "2.0", "creationDate": "2005-07-11T11:30:47.0Z",
            "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": [
                {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving", "eventTime": "2005-04-04T20:33:31.116-06:00",
                 "eventTimeZoneOffset": "-06:00", "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}],
                 "example:myField": "x"}]}}}});
        let p = plan(&doc).unwrap();
        assert_eq!(p.events.len(), 1);
        let ev = &p.events[0];
        assert_eq!(ev.record.lots, vec!["998877".to_string()]);
        assert_eq!(ev.record.at.tz_offset_min, -360);
        assert_eq!(ev.mapped.as_ref().map(|m| m.0.as_str()), Some("receive"));
        let body: Value = serde_json::from_str(&ev.record.body).unwrap();
        assert_eq!(
            crate::trace::epcis_event::epcis_event_hash_matches(&ev.record.body, &ev.record.event_hash).unwrap(),
            body
        );
    }

    #[test]
    fn invalid_events_name_the_field() {
        let e = json!({"type": "ObjectEvent", "eventTime": "2005-04-04T20:33:31.116-06:00", "eventTimeZoneOffset": "-06:00"});
        assert!(plan(&e).unwrap_err().contains("missing action"));
        let e = json!({"type": "ObjectEvent", "action": "ADD", "eventTime": "2005-04-04T20:33:31", "eventTimeZoneOffset": "-06:00"});
        assert!(plan(&e).unwrap_err().contains("eventTime"));
        let e = json!({"type": "Event", "action": "ADD"});
        assert!(plan(&e).unwrap_err().contains("neither an EPCIS document"));
    }
}
