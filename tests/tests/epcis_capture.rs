//! EPCIS 2.0 capture against four validator processes: one of GS1's example documents
//! (`../shared/testdata/epcis/JSON/`, or `$JIALING_TESTDATA`), sensor values and all,
//! is captured through `POST /epcis/capture` on one node, signed by a member; every
//! validator executes it; the capture job on another node lists each event's hash ID;
//! `GET /epcis/events` on a third serves the events; a forged capture is refused; and
//! `jialing epcis capture` captures a second document and prints its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::Duration;

use jialing_contracts::trace::epcis_capture::{CaptureErrorBehaviour, capture_tx, plan_document};
use jialing_tests::{Network, binary, get, testdata, wait_tx};
use serde_json::Value;

/// POSTs `document` to `{url}/epcis/capture` with `headers`: status, JSON body, Location.
fn post_capture(url: &str, headers: &[(&str, String)], document: &str) -> (u16, Value, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(&format!("{url}/epcis/capture")).header("content-type", "application/ld+json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let mut resp = req.send(document.as_bytes()).unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (status, resp.body_mut().read_json().unwrap_or(Value::Null), location)
}

#[test]
fn a_gs1_example_captured_over_http_is_executed_by_every_validator_and_queried_back() -> anyhow::Result<()> {
    let file = testdata("epcis/JSON/WithSensorData/SensorDataExample1.jsonld");
    let document = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; GS1's EPCIS examples live in ../shared/testdata", file.display()));
    let plan = plan_document(&document).unwrap();
    let ids: Vec<String> = plan.events.iter().map(|e| e.hash_id.clone()).collect();

    let dir = tempfile::tempdir()?;
    let mut net = Network::generate(dir.path(), 4, 0, |_, t| t)?;
    for i in 0..4 {
        net.start(i)?;
    }
    net.node(0)?.wait_height(1, Duration::from_secs(60))?;
    let key = net.key("pomelo", "operator.json")?;
    let url = |i: usize| net.node(i).map(|n| n.url.clone());

    // Signed by the member, byte for byte the document sent.
    let nonce = get(&format!("{}/v1/nonce/{}", url(1)?, key.public()))?["pending_next_nonce"].as_u64().unwrap();
    let stx = capture_tx(&net.chain_id, key.public(), nonce, CaptureErrorBehaviour::Rollback, &document).sign(&key);
    let headers = vec![
        ("Jialing-Signer", key.public().to_hex()),
        ("Jialing-Nonce", nonce.to_string()),
        ("Jialing-Signature", stx.signature.to_hex()),
    ];
    // A forged one first: the signature of another nonce.
    let forged = capture_tx(&net.chain_id, key.public(), nonce + 7, CaptureErrorBehaviour::Rollback, &document);
    let mut bad = headers.clone();
    bad[2].1 = forged.sign(&key).signature.to_hex();
    let (status, body, _) = post_capture(&url(1)?, &bad, &document);
    assert_eq!((status, &body["error"]["code"]), (401, &Value::from("bad_signature")), "{body}");

    let (status, body, location) = post_capture(&url(1)?, &headers, &document);
    assert_eq!(status, 202, "{body}");
    let id = stx.hash();
    assert_eq!(body["captureID"], Value::from(id.to_hex()), "{body}");
    assert_eq!(location, Some(format!("/epcis/capture/{id}")));
    for i in 0..4 {
        wait_tx(&url(i)?, &id, Duration::from_secs(90))?;
    }

    // The job, from another node.
    let job = get(&format!("{}/epcis/capture/{id}", url(2)?))?;
    assert_eq!((&job["running"], &job["success"]), (&Value::from(false), &Value::from(true)), "{job}");
    let job_ids: Vec<&str> = job["events"].as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(job_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(job["recorded"], Value::from(ids.len()), "{job}");

    // EPCIS query on a third node serves the captured events, sensor values as sent.
    let q = get(&format!("{}/epcis/events?perPage=1000", url(3)?))?;
    let served = q["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap();
    let served_ids: Vec<&str> = served.iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(served_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let sent: Value = serde_json::from_str(&document)?;
    let first = &sent["epcisBody"]["eventList"][0];
    assert_eq!(served[0]["sensorElementList"], first["sensorElementList"]);

    // The CLI captures a second example and prints the job.
    let keyfile = net.net.join("org-keys/pomelo/operator.json");
    let other = testdata("epcis/JSON/Example_9.6.1-ObjectEvent.jsonld");
    let out = Command::new(binary("jialing")?)
        .args(["--json", "--node", &url(0)?, "epcis", "capture"])
        .arg(&other)
        .arg("--key")
        .arg(&keyfile)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let job: Value = serde_json::from_str(&stdout)?;
    assert_eq!(job["success"], Value::from(true), "{job}");
    let planned = plan_document(&std::fs::read_to_string(&other)?).unwrap();
    assert_eq!(job["events"].as_array().unwrap().len(), planned.events.len(), "{job}");
    let cli_id: jialing_core::Hash = jialing_core::Hash::from_hex(job["captureID"].as_str().unwrap())?;

    // Every validator holds the same chain with both captures.
    let h = (0..4).map(|i| wait_tx(&url(i)?, &cli_id, Duration::from_secs(90))).collect::<anyhow::Result<Vec<_>>>()?;
    let h = h.into_iter().max().unwrap_or(0);
    for i in 0..4 {
        net.node(i)?.wait_height(h, Duration::from_secs(60))?;
    }
    let reference = net.block_at(0, h)?;
    for i in 1..4 {
        assert_eq!(net.block_at(i, h)?, reference, "node {i} differs at height {h}");
    }
    Ok(())
}
