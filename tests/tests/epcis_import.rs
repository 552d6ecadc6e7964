//! EPCIS 2.0 import and export against a real node process: GS1's 47 example documents
//! (`../shared/testdata/epcis/JSON/`, or `$JIALING_TESTDATA`) import with `--dry-run`
//! and then for real (every event recorded under its CBV 2.0 event hash ID; events
//! repeated across documents and a second import are duplicates); a lot created through
//! EPCIS gets a partner's sensor event attached, and its export keeps the partner's
//! event hash ID and re-imports as duplicates only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use jialing_tests::{OneNode, binary};
use serde_json::{Value, json};

fn testdata(rel: &str) -> PathBuf {
    let base = std::env::var_os("JIALING_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    base.join(rel)
}

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
