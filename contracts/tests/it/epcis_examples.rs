//! EPCIS 2.0 import of GS1's own example documents (`../shared/testdata/epcis/JSON/`,
//! or `$JIALING_TESTDATA/epcis/JSON/`): every document plans, every event is recorded
//! under its CBV 2.0 event hash ID, a second import is recognised as duplicates, and the
//! record rules (`trace.epcis_event_unique`, `trace.epcis_event_hash_matches`).

use std::path::{Path, PathBuf};

use jialing_contracts::testkit::{TestLedger, expect_ok, expect_refused, key};
use jialing_contracts::trace::epcis_event::{RecordEpcisEvent, epcis_event_key};
use jialing_contracts::trace::epcis_import::{ImportPlan, plan};
use jialing_core::Hash;

fn testdata(rel: &str) -> PathBuf {
    let base = std::env::var_os("JIALING_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    base.join(rel)
}

fn documents(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!("{}: {e}; GS1's EPCIS examples live in ../shared/testdata (or set JIALING_TESTDATA)", dir.display())
        })
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            documents(&p, out);
        } else if p.extension().is_some_and(|x| x == "json" || x == "jsonld") {
            out.push(p);
        }
    }
}

/// Every example document, planned.
pub fn example_plans() -> Vec<(PathBuf, ImportPlan)> {
    let mut files = Vec::new();
    documents(&testdata("epcis/JSON"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let plan = plan(&doc).unwrap_or_else(|e| panic!("{} does not import: {e}", p.display()));
            (p, plan)
        })
        .collect()
}

#[test]
fn trace_epcis_every_gs1_example_imports() {
    let plans = example_plans();
    let events: usize = plans.iter().map(|(_, p)| p.events.len()).sum();
    let mapped: usize = plans.iter().map(|(_, p)| p.mapped()).sum();
    let observed: usize = plans.iter().map(|(_, p)| p.observed()).sum();
    let query_docs = plans.iter().filter(|(_, p)| p.document_type == "EPCISQueryDocument").count();
    eprintln!("documents {} events {events} mapped {mapped} observed {observed}", plans.len());
    assert_eq!(plans.len(), 47);
    assert_eq!(query_docs, 1);
    assert_eq!(events, mapped + observed);
    assert_eq!((events, mapped, observed), (EXPECTED_EVENTS, EXPECTED_MAPPED, EXPECTED_OBSERVED));
    // Each type of the standard appears and none is lost.
    for t in jialing_contracts::trace::epcis_import::EVENT_TYPES {
        assert!(plans.iter().any(|(_, p)| p.events.iter().any(|e| e.record.event_type == *t)), "{t}");
    }

    // A real import: every record executes; events repeated across documents and a
    // second import are recognised by their hash ID.
    let mut l = TestLedger::new();
    let signer = key("farm");
    let (mut recorded, mut duplicates) = (0, 0);
    for round in 0..2 {
        for (path, p) in &plans {
            for e in &p.events {
                let r = l.call(&signer, &e.record).unwrap();
                if r.is_ok() {
                    assert_eq!(round, 0, "{} event {} recorded twice", path.display(), e.index);
                    recorded += 1;
                } else {
                    expect_refused(&r, "trace.epcis_event_unique");
                    duplicates += 1;
                }
                assert!(
                    l.get::<jialing_contracts::trace::epcis_event::EpcisEventRef>(&epcis_event_key(
                        &e.record.event_hash
                    ))
                    .is_some()
                );
            }
        }
    }
    eprintln!("recorded {recorded} duplicates {duplicates}");
    assert_eq!(recorded + duplicates, 2 * events);
    assert!(recorded >= events - 10, "{recorded} unique events of {events}");
}

/// Events in GS1's 47 example documents.
const EXPECTED_EVENTS: usize = 56;
/// Of them, events carrying what a ledger rule needs (a lot and the rule's data).
const EXPECTED_MAPPED: usize = 2;
/// The rest, kept as EPCIS observations.
const EXPECTED_OBSERVED: usize = 54;

fn record() -> RecordEpcisEvent {
    let doc = serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting",
        "eventTime": "2026-01-01T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]});
    plan(&doc).unwrap().events.remove(0).record
}

#[test]
fn trace_epcis_event_unique() {
    let mut l = TestLedger::new();
    let r = record();
    expect_ok(&l.call(&key("farm"), &r).unwrap());
    let again = l.call(&key("shop"), &r).unwrap();
    expect_refused(&again, "trace.epcis_event_unique");
}

#[test]
fn trace_epcis_event_hash_matches() {
    let mut l = TestLedger::new();
    let mut r = record();
    r.event_hash = Hash([7; 32]);
    expect_refused(&l.call(&key("farm"), &r).unwrap(), "trace.epcis_event_hash_matches");
    let mut r = record();
    r.body = r.body.replace("OBSERVE", "ADD");
    expect_refused(&l.call(&key("farm"), &r).unwrap(), "trace.epcis_event_hash_matches");
}
