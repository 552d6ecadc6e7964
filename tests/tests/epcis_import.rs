//! EPCIS 2.0 import and export against a real node process: GS1's 47 example documents
//! (`../shared/testdata/epcis/JSON/`, or `$JIALING_TESTDATA`) import with `--dry-run`
//! and then for real (every event recorded under its CBV 2.0 event hash ID; events
//! repeated across documents and a second import are duplicates); a lot created through
//! EPCIS gets a partner's sensor event attached, and its export keeps the partner's
//! event hash ID and re-imports as duplicates only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use jialing_tests::{OneNode, binary, testdata};
use serde_json::{Value, json};

/// Runs `jialing --json --node URL ARGS`; the parsed stdout, or a panic with stderr.
fn jialing(node: &str, args: &[&str]) -> Value {
    let out = Command::new(binary("jialing").unwrap()).args(["--json", "--node", node]).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "jialing {args:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn gs1_examples_import_dry_then_for_real_and_duplicates_are_recognised() {
    let folder = testdata("epcis/JSON");
    assert!(
        folder.is_dir(),
        "{}: GS1's EPCIS examples live in ../shared/testdata (or set JIALING_TESTDATA)",
        folder.display()
    );
    let folder = folder.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let url = net.node.url.clone();
    let key = net.net.join("org-keys/pomelo/operator.json");
    let key = key.to_str().unwrap();

    let dry = jialing(&url, &["epcis", "import", "--dry-run", &folder]);
    assert_eq!(
        (&dry["documents"], &dry["events"], &dry["mapped"], &dry["observed"]),
        (&json!(47), &json!(56), &json!(2), &json!(54)),
        "{dry}"
    );
    let ids: Vec<&str> = dry["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["events"].as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()))
        .collect();
    assert!(ids.iter().all(|i| i.starts_with("ni:///sha-256;") && i.ends_with("?ver=CBV2.0")));
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();

    let real = jialing(&url, &["epcis", "import", "--key", key, &folder]);
    eprintln!("import of the whole folder: {real}");
    assert_eq!(real["recorded"], json!(unique.len()), "{real}");
    assert_eq!(real["duplicates"], json!(ids.len() - unique.len()), "{real}");
    // The mapped events name GS1's example lots, which this ledger does not hold: the
    // rules refuse them, and the events stay recorded as observations.
    let refused = real["mapped_refused"].as_array().unwrap();
    assert_eq!(real["mapped_ok"].as_u64().unwrap() + refused.len() as u64, 2, "{real}");
    for r in refused {
        assert!(r["code"].as_str().unwrap().len() > 3, "{r}");
    }

    let again = jialing(&url, &["epcis", "import", "--key", key, &folder]);
    assert_eq!((&again["recorded"], &again["duplicates"]), (&json!(0), &json!(56)), "{again}");
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn rfc3339(ms: u64) -> String {
    jialing_core::calendar::format_rfc3339_ms(ms)
}

/// The EPCIS 2.0 JSON schema GS1 publishes with the standard.
fn schema() -> jsonschema::Validator {
    let path = testdata("epcis/EPCIS-JSON-Schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::draft7::new(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate against the EPCIS 2.0 schema:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

#[test]
fn lot_export_validates_against_the_schema_and_round_trips_event_hash_ids() {
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let url = net.node.url.clone();
    let key = net.net.join("org-keys/pomelo/operator.json");
    let key = key.to_str().unwrap();
    let t0 = now_ms() - 3 * 3_600_000;
    jialing(
        &url,
        &[
            "tx",
            "trace",
            "register_product",
            "--key",
            key,
            "code=06901234567892",
            "name=红心柚",
            "category=fruit",
            "standard=NY/T 2315",
        ],
    );
    // A partner's document: commissioning with lot master data (maps to create_lot), a
    // farming input (maps to record_input), a sensor reading naming the lot by its
    // LGTIN (kept as an observation), all with a +08:00 offset.
    let class = "https://id.gs1.org/01/06901234567892/10/EXP-1";
    let doc = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"jialing": "https://jialing.example/epcis/"}],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": rfc3339(t0),
        "epcisBody": {"eventList": [
            {"type": "ObjectEvent", "action": "ADD", "bizStep": "creating_class_instance", "disposition": "active",
             "eventTime": rfc3339(t0).replace('Z', "+00:00"), "eventTimeZoneOffset": "+08:00",
             "quantityList": [{"epcClass": class, "quantity": 1500, "uom": "KGM"}],
             "ilmd": {"jialing:origin": {"county": "丰都县", "township": "三合街道", "village": "长江村", "lat_micro": 29_880_000, "lon_micro": 107_730_000}}},
            {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "other", "eventTime": rfc3339(t0 + 60_000), "eventTimeZoneOffset": "+08:00",
             "quantityList": [{"epcClass": class}],
             "jialing:input": {"kind": "fertiliser", "name": "有机肥", "amount": 20.5, "unit": "kg", "intervalDays": 0}},
            {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting", "eventTime": rfc3339(t0 + 120_000), "eventTimeZoneOffset": "+08:00",
             "quantityList": [{"epcClass": "urn:epc:class:lgtin:6901234.056789.EXP-1"}],
             "sensorElementList": [{"sensorMetadata": {"time": rfc3339(t0 + 120_000)}, "sensorReport": [{"type": "Temperature", "value": 12.5, "uom": "CEL"}]}]}
        ]}
    });
    let file = dir.path().join("partner.jsonld");
    std::fs::write(&file, doc.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let planned = jialing(&url, &["epcis", "import", "--dry-run", file]);
    assert_eq!((&planned["mapped"], &planned["observed"]), (&json!(2), &json!(1)), "{planned}");
    let real = jialing(&url, &["epcis", "import", "--key", key, file]);
    assert_eq!((&real["recorded"], &real["mapped_ok"]), (&json!(3), &json!(2)), "{real}");
    // A ledger-native event after the import.
    let t = (t0 + 180_000).to_string();
    jialing(
        &url,
        &[
            "tx",
            "trace",
            "harvest",
            "--key",
            key,
            "lot=EXP-1",
            "quantity_milli=1400000",
            &format!("at.time_ms={t}"),
            "at.tz_offset_min=480",
        ],
    );

    let validator = schema();
    let api = net.node.get("/v1/lot/EXP-1/epcis").unwrap();
    assert_valid(&validator, &api, "GET /v1/lot/EXP-1/epcis");
    let cli = jialing(&url, &["epcis", "export", "EXP-1"]);
    assert_valid(&validator, &cli, "jialing epcis export");
    // The validator does refuse: an ObjectEvent without its action is not EPCIS 2.0.
    let mut broken = api.clone();
    broken["epcisBody"]["eventList"][0].as_object_mut().unwrap().remove("action");
    assert!(!validator.is_valid(&broken));
    let events = api["epcisBody"]["eventList"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{api:#}");
    let exported: Vec<&str> = events.iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    // The partner's three events keep their hash IDs.
    let original: Vec<String> = planned["files"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&exported[..3], &original.iter().map(String::as_str).collect::<Vec<_>>()[..]);
    // import(export(x)) gives the same hash IDs, and the ledger knows them all but the
    // native harvest (mapped again, refused by the rules as a repeat would be).
    let out = dir.path().join("export.jsonld");
    std::fs::write(&out, api.to_string()).unwrap();
    let out = out.to_str().unwrap();
    let back = jialing(&url, &["epcis", "import", "--dry-run", out]);
    let back_ids: Vec<&str> =
        back["files"][0]["events"].as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(back_ids, exported);
    let again = jialing(&url, &["epcis", "import", "--key", key, out]);
    assert_eq!((&again["duplicates"], &again["recorded"]), (&json!(3), &json!(1)), "{again}");

    // The national platform export, incremental from a cursor: the second run finds
    // nothing new.
    let cursor = dir.path().join("bureau.cursor");
    let records = dir.path().join("national.jsonl");
    let (c, r) = (cursor.to_str().unwrap(), records.to_str().unwrap());
    let first = jialing(&url, &["export", "national", "--cursor", c, "--out", r]);
    let lines: Vec<Value> =
        std::fs::read_to_string(&records).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["recordType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["entity", "product", "batch", "traceCode"], "{first}");
    assert_eq!(lines[3]["traceCode"], "https://id.jialing.example/01/06901234567892/10/EXP-1");
    let second = jialing(&url, &["export", "national", "--cursor", c, "--out", r]);
    assert_eq!(second["records"], json!(0), "{second}");
}
