//! `trace.epcis_capture`: a whole EPCIS document in one signed transaction. Mapped
//! events apply their rules, a refused event rolls the whole capture back, duplicates
//! are skipped, only members (with the roles of each call) capture, and a capture
//! leaves the ledger as the separate import calls would.

use jialing_contracts::testkit::{TestLedger, expect_ok, expect_refused, key, sample_origin, uscc};
use jialing_contracts::trace::epcis_capture::{CaptureErrorBehaviour, EpcisCapture};
use jialing_contracts::trace::epcis_event::{EpcisEventRef, epcis_event_key};
use jialing_contracts::trace::methods::{CreateLot, EventTime, RegisterProduct};
use jialing_contracts::trace::types::{Category, Lot};
use jialing_contracts::trace::{epcis_capture, lot_key};
use jialing_contracts::{AdmissionError, CallPayload, keys, registry};
use jialing_core::{Hash, Keypair, SignedTransaction, Transaction};
use proptest::prelude::*;
use serde_json::{Value, json};

const GTIN: &str = "06901234567892";

/// A ledger with lot L1 at the farm, created at the returned time.
fn with_lot() -> (TestLedger, u64) {
    let mut l = TestLedger::new();
    let farm = key("farm");
    let p =
        RegisterProduct { code: GTIN.into(), name: "pomelo".into(), category: Category::Fruit, standard: "s".into() };
    expect_ok(&l.call(&farm, &p).unwrap());
    let created = l.time_ms;
    let origin = sample_origin();
    let c = CreateLot {
        lot: "L1".into(),
        product: GTIN.into(),
        origin,
        quantity_milli: 1_000_000,
        unit: "kg".into(),
        at: EventTime { time_ms: created, tz_offset_min: 480 },
    };
    expect_ok(&l.call(&farm, &c).unwrap());
    (l, created)
}

fn time(ms: u64) -> String {
    jialing_core::calendar::format_rfc3339_ms(ms)
}

fn class() -> Value {
    json!([{"epcClass": format!("https://id.jialing.example/01/{GTIN}/10/L1"), "quantity": 900, "uom": "KGM"}])
}

/// An observation (maps to no rule) of serial `n`.
fn observe(n: u64, ms: u64) -> Value {
    json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting", "eventTime": time(ms),
        "eventTimeZoneOffset": "+00:00", "epcList": [format!("urn:epc:id:sgtin:0614141.107346.{n}")]})
}

/// Harvest of L1 (`trace.harvest`).
fn harvest(ms: u64) -> Value {
    json!({"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "eventTime": time(ms),
        "eventTimeZoneOffset": "+00:00", "quantityList": class()})
}

/// Hold of L1 (`trace.hold`).
fn hold(ms: u64) -> Value {
    json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "holding", "eventTime": time(ms),
        "eventTimeZoneOffset": "+00:00", "quantityList": class(), "jialing:reason": "check"})
}

/// Shipment of L1 to the shop (`trace.ship`).
fn ship(ms: u64) -> Value {
    json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "eventTime": time(ms),
        "eventTimeZoneOffset": "+00:00", "quantityList": class(),
        "destinationList": [{"type": "owning_party", "destination": format!("urn:jialing:org:{}", uscc("shop"))}]})
}

fn document(events: &[Value]) -> String {
    json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": events}})
    .to_string()
}

fn capture(doc: String) -> EpcisCapture {
    EpcisCapture { error_behaviour: CaptureErrorBehaviour::Rollback, document: doc }
}

fn lot(l: &TestLedger) -> Lot {
    l.get(&lot_key("L1")).unwrap()
}

/// The ledger state without `signer`'s nonce.
fn without_nonce(l: &TestLedger, signer: &Keypair) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let mut s = l.snapshot();
    s.remove(&keys::nonce(&signer.public()));
    s
}

#[test]
fn trace_epcis_capture_applies_mapped_rules() {
    let (mut l, t) = with_lot();
    let farm = key("farm");
    let doc = document(&[harvest(t + 1), observe(1, t + 2), hold(t + 3)]);
    let plan = epcis_capture::plan_document(&doc).unwrap();
    let stx = l.sign(&farm, &capture(doc));
    let r = l.block(std::slice::from_ref(&stx)).unwrap().remove(0);
    expect_ok(&r);
    // The rules ran: harvested, then held by its custodian.
    let lot = lot(&l);
    assert_eq!(lot.quantity_milli, 900_000);
    assert!(lot.held);
    // Every event is recorded under its hash ID by this transaction, with its mapping.
    for (e, mapped) in plan.events.iter().zip([Some("harvest"), None, Some("hold")]) {
        let r: EpcisEventRef = l.get(&epcis_event_key(&e.record.event_hash)).unwrap();
        assert_eq!(r.tx, stx.hash());
        assert_eq!(r.mapped.as_deref(), mapped);
    }
    // Tagged with the lot (its history) and as EPCIS events (GET /epcis/events).
    let tags: Vec<_> = r.tags.iter().map(|t| (format!("{:?}", t.kind), t.id.clone())).collect();
    assert!(tags.contains(&("Lot".into(), "L1".into())) && tags.contains(&("EpcisEvent".into(), "all".into())));
    // A call the signer's roles do not allow is refused inside the capture too: the
    // inspector may record events but not ship.
    let doc = document(&[observe(2, t + 4), ship(t + 5)]);
    let r = l.call(&key("lab"), &capture(doc)).unwrap();
    let msg = expect_refused(&r, "wrong_role");
    assert!(msg.contains("event 1") && msg.contains("trace.ship"), "{msg}");
}

#[test]
fn trace_epcis_capture_all_or_nothing() {
    let (mut l, t) = with_lot();
    let farm = key("farm");
    let doc = document(&[observe(1, t + 1), harvest(t + 2), ship(t + 3), observe(2, t + 4)]);
    let plan = epcis_capture::plan_document(&doc).unwrap();
    let before = without_nonce(&l, &farm);
    let r = l.call(&farm, &capture(doc)).unwrap();
    // No certificate yet: the shipment is refused, and with it the whole capture.
    let msg = expect_refused(&r, "trace.certificate_before_shipment");
    assert!(msg.contains("event 2") && msg.contains(&plan.events[2].hash_id), "{msg}");
    assert_eq!(jialing_contracts::ContractError::capture_event_of(&msg), Some((2, plan.events[2].hash_id.clone())));
    assert_eq!(without_nonce(&l, &farm), before, "a refused capture changed state");
    assert!(l.get::<EpcisEventRef>(&epcis_event_key(&plan.events[0].record.event_hash)).is_none());
    // A malformed document is refused as a whole, naming the event and field.
    let r = l.call(&farm, &capture(document(&[observe(3, t + 5), json!({"type": "ObjectEvent"})]))).unwrap();
    let msg = expect_refused(&r, "invalid_argument");
    assert!(msg.contains("event 1") && msg.contains("action"), "{msg}");
    let r = l.call(&farm, &capture("{\"type\": \"EPCISDocument\"".into())).unwrap();
    assert!(expect_refused(&r, "invalid_argument").contains("not JSON"));
}

#[test]
fn trace_epcis_capture_proceed_leaves_out_refused_events() {
    use jialing_contracts::trace::epcis_capture::{CaptureOutcome, capture_outcome_key};
    let (mut l, t) = with_lot();
    let farm = key("farm");
    let doc = document(&[observe(1, t + 1), harvest(t + 2), ship(t + 3), observe(2, t + 4)]);
    let plan = epcis_capture::plan_document(&doc).unwrap();
    let p = EpcisCapture { error_behaviour: CaptureErrorBehaviour::Proceed, document: doc };
    let stx = l.sign(&farm, &p);
    let r = l.block(std::slice::from_ref(&stx)).unwrap().remove(0);
    expect_ok(&r);
    // The refused shipment is left out, record and all; the others are captured.
    for (i, e) in plan.events.iter().enumerate() {
        let recorded = l.get::<EpcisEventRef>(&epcis_event_key(&e.record.event_hash)).is_some();
        assert_eq!(recorded, i != 2, "event {i}");
    }
    assert_eq!(lot(&l).quantity_milli, 900_000);
    assert!(lot(&l).in_transit_to.is_none());
    let outcome: CaptureOutcome = l.get(&capture_outcome_key(&stx.hash())).unwrap();
    assert_eq!(outcome.refused.len(), 1);
    let refused = &outcome.refused[0];
    assert_eq!((refused.index, refused.hash_id.as_str()), (2, plan.events[2].hash_id.as_str()));
    assert_eq!(refused.code, "trace.certificate_before_shipment");
    // A proceed capture without a refusal writes no outcome.
    let stx = l.sign(
        &farm,
        &EpcisCapture { error_behaviour: CaptureErrorBehaviour::Proceed, document: document(&[observe(3, t + 5)]) },
    );
    expect_ok(&l.block(std::slice::from_ref(&stx)).unwrap()[0]);
    assert!(l.get::<CaptureOutcome>(&capture_outcome_key(&stx.hash())).is_none());
}

#[test]
fn trace_epcis_capture_duplicates_skipped() {
    let (mut l, t) = with_lot();
    let farm = key("farm");
    // The same event twice in one document: recorded once, harvested once.
    let doc = document(&[harvest(t + 1), observe(1, t + 2), harvest(t + 1)]);
    expect_ok(&l.call(&farm, &capture(doc.clone())).unwrap());
    assert_eq!(lot(&l).quantity_milli, 900_000);
    let events = lot(&l).events;
    // The whole document again: every event a duplicate, nothing changes.
    let before = l.snapshot();
    expect_ok(&l.call(&key("shop"), &capture(doc)).unwrap());
    assert_eq!(without_nonce(&l, &key("shop")), before, "only the shop's nonce moved");
    assert_eq!(lot(&l).events, events);
    // A duplicate next to a new event: the new one is recorded.
    let doc = document(&[observe(1, t + 2), observe(9, t + 3)]);
    let plan = epcis_capture::plan_document(&doc).unwrap();
    expect_ok(&l.call(&farm, &capture(doc)).unwrap());
    assert!(l.get::<EpcisEventRef>(&epcis_event_key(&plan.events[1].record.event_hash)).is_some());
}

#[test]
fn trace_epcis_capture_member_only() {
    let (mut l, t) = with_lot();
    let doc = document(&[observe(1, t + 1)]);
    // A key no organisation certified cannot sign a capture at all.
    let stranger = Keypair::from_label("stranger");
    match l.call(&stranger, &capture(doc.clone())) {
        Err(AdmissionError::UnknownSigner(k)) => assert_eq!(k, stranger.public()),
        other => panic!("expected UnknownSigner, got {other:?}"),
    }
    // A member without a trace role is refused by the capture's own role check.
    let msg = expect_refused(&l.call(&key("audit"), &capture(doc)).unwrap(), "wrong_role");
    assert!(msg.contains("trace.epcis_capture"), "{msg}");
}

/// What a capture or the separate calls leave, comparable: without the signer's nonce,
/// and with each EPCIS event's recording transaction blanked (one capture transaction
/// against one transaction per record).
fn comparable(l: &TestLedger, signer: &Keypair) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let mut s = without_nonce(l, signer);
    for (k, v) in s.iter_mut() {
        if k.starts_with(b"trace/epcis/") {
            let mut r: EpcisEventRef = jialing_core::encoding::decode("ref", v).unwrap();
            r.tx = Hash([0; 32]);
            *v = jialing_core::encoding::encode(&r);
        }
    }
    s
}

/// The separate calls `jialing epcis import` submits for `events`: each new event's
/// record, then its rule call; an event seen before is a duplicate and not submitted.
fn separate_calls(l: &TestLedger, signer: &Keypair, doc: &str) -> Vec<SignedTransaction> {
    let plan = epcis_capture::plan_document(doc).unwrap();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    let mut nonce = l.nonce(&signer.public());
    let mut push = |contract: String, method: String, payload: Vec<u8>| {
        out.push(
            Transaction { chain_id: l.chain_id.clone(), signer: signer.public(), nonce, contract, method, payload }
                .sign(signer),
        );
        nonce += 1;
    };
    for e in &plan.events {
        if seen.contains(&e.record.event_hash) {
            continue;
        }
        seen.push(e.record.event_hash);
        let (c, m, p) = e.record.to_call();
        push(c, m, p);
        if let Some((m, args)) = &e.mapped {
            let bytes = (registry::find("trace", m).unwrap().from_json)(args.clone()).unwrap();
            push("trace".into(), m.clone(), bytes);
        }
    }
    out
}

fn event_of(kind: u8, i: u64, t: u64) -> Value {
    match kind {
        0 => observe(i, t + 1 + i),
        1 => harvest(t + 1 + i),
        2 => hold(t + 1 + i),
        3 => ship(t + 1 + i),
        _ => observe(1000, t),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Capturing a document leaves the ledger as the separate import calls do when they
    /// all succeed; when one of them is refused the capture is refused and changes
    /// nothing.
    #[test]
    fn trace_epcis_capture_equals_separate_calls(kinds in proptest::collection::vec(0u8..5, 1..8)) {
        let farm = key("farm");
        let (mut a, t) = with_lot();
        let (mut b, _) = with_lot();
        let events: Vec<Value> = kinds.iter().enumerate().map(|(i, k)| event_of(*k, i as u64, t)).collect();
        let doc = document(&events);
        let txs = separate_calls(&a, &farm, &doc);
        let separate = a.block(&txs).unwrap();
        let all_ok = separate.iter().all(|r| r.is_ok());
        let before = without_nonce(&b, &farm);
        let captured = b.call(&farm, &capture(doc)).unwrap();
        prop_assert_eq!(captured.is_ok(), all_ok, "{:?} / {:?}", captured.status, separate);
        if all_ok {
            prop_assert_eq!(comparable(&a, &farm), comparable(&b, &farm));
        } else {
            prop_assert_eq!(without_nonce(&b, &farm), before);
            let first = separate.iter().find(|r| !r.is_ok()).unwrap();
            let (jialing_contracts::TxStatus::Refused { code: c1, .. }, jialing_contracts::TxStatus::Refused { code: c2, .. }) =
                (&first.status, &captured.status) else { unreachable!() };
            prop_assert_eq!(c1, c2);
        }
    }
}

/// An EPCIS-shaped JSON value: fields events use, with plausible and implausible values.
fn fuzz_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop::sample::select(vec![
            "ObjectEvent",
            "TransformationEvent",
            "AggregationEvent",
            "ADD",
            "OBSERVE",
            "DELETE",
            "commissioning",
            "shipping",
            "receiving",
            "holding",
            "2026-01-01T00:00:00Z",
            "2026-01-01T08:00:00+08:00",
            "+08:00",
            "-99:99",
            "urn:epc:class:lgtin:4012345.012345.998877",
            "https://id.jialing.example/01/06901234567892/10/L1",
            "urn:jialing:org:x",
            "",
            "ni:///sha-256;00?ver=CBV2.0",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "action",
                    "eventTime",
                    "eventTimeZoneOffset",
                    "epcList",
                    "quantityList",
                    "epcClass",
                    "quantity",
                    "uom",
                    "bizStep",
                    "destinationList",
                    "destination",
                    "parentID",
                    "childQuantityList",
                    "inputQuantityList",
                    "outputQuantityList",
                    "ilmd",
                    "@context",
                    "errorDeclaration",
                    "sensorElementList",
                    "value",
                    "jialing:reason",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any EPCIS-shaped document (what `POST /epcis/capture` takes from anyone) is
    /// planned and executed without a panic: captured or refused, never a crash (the
    /// fuzz target `capture_document` does the same with raw bytes).
    #[test]
    fn trace_epcis_capture_of_any_document_never_panics(
        events in prop::collection::vec(fuzz_value(), 0..4),
        proceed in any::<bool>(),
    ) {
        let (mut l, _) = with_lot();
        let doc = document(&events);
        let _ = epcis_capture::plan_document(&doc);
        let error_behaviour = if proceed { CaptureErrorBehaviour::Proceed } else { CaptureErrorBehaviour::Rollback };
        let r = l.call(&key("farm"), &EpcisCapture { error_behaviour, document: doc }).unwrap();
        if !r.is_ok() {
            let jialing_contracts::TxStatus::Refused { message, .. } = &r.status else { unreachable!() };
            prop_assert!(!message.is_empty());
        }
    }
}
