//! Credit views against a real node: the public view shows records in publication; the
//! full view needs a signed request from an authority or auditor and is audit-logged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jialing_contracts::CallPayload;
use jialing_contracts::credit::{Category, Domain, RecordDishonesty, Subject};
use jialing_core::{Hash, Keypair, Transaction, query};
use jialing_tests::OneNode;
use serde_json::json;

fn signed_get(
    url: &str,
    path: &str,
    key: &Keypair,
    chain: &str,
    time_ms: u64,
    sign_path: &str,
) -> (u16, serde_json::Value) {
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let nonce = format!("{:032x}", NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let status: serde_json::Value = agent.get(&format!("{url}/status")).call().unwrap().body_mut().read_json().unwrap();
    let audience = status["query_audience"].as_str().unwrap();
    let mut req = agent.get(&format!("{url}{path}"));
    for (name, value) in query::signed_headers(key, chain, "GET", sign_path, time_ms, audience, &nonce) {
        req = req.header(name, value);
    }
    let mut r = req.call().unwrap();
    (r.status().as_u16(), r.body_mut().read_json().unwrap())
}

#[test]
fn public_and_restricted_credit_views() {
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let n = &net.node;
    let chain = net.chain_id.clone();
    let market = net.key("market", "operator.json").unwrap();
    let cattle = net.init.orgs.iter().find(|o| o.name.contains("Cattle")).unwrap().uscc.clone();
    let now = n.get("/status").unwrap()["time_ms"].as_u64().unwrap();
    let (contract, method, payload) = RecordDishonesty {
        id: "SCJG-2026-001".into(),
        subject: Subject::Org(cattle.clone()),
        category: Category::General,
        domain: Domain::Food,
        summary: "veterinary drug withdrawal period not observed".into(),
        decision_document: Hash([7; 32]),
        decision_date_ms: now,
    }
    .to_call();
    let tx = Transaction { chain_id: chain.clone(), signer: market.public(), nonce: 0, contract, method, payload }
        .sign(&market);
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(tx.to_bytes())})).unwrap();
    assert_eq!(s, 202, "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while n.get(&format!("/v1/tx/{}", tx.hash())).unwrap()["status"] != "committed" {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let public = n.get(&format!("/v1/credit/{cattle}")).unwrap();
    assert_eq!(public["publications"].as_array().unwrap().len(), 1, "{public}");

    let path = format!("/v1/credit/{cattle}/full");
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    // Unsigned, signed for another path, stale, and signed by a producer: refused.
    assert!(jialing_tests::get(&format!("{}{path}", n.url)).unwrap_err().to_string().contains("401"));
    let auditor = net.key("audit", "operator.json").unwrap();
    assert_eq!(signed_get(&n.url, &path, &auditor, &chain, clock, "/v1/credit/other/full").0, 401);
    assert_eq!(signed_get(&n.url, &path, &auditor, &chain, clock - 3_600_000, &path).0, 401);
    let producer = net.key("pomelo", "operator.json").unwrap();
    let (s, v) = signed_get(&n.url, &path, &producer, &chain, clock, &path);
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("wrong_role")), "{v}");
    let log = net.net.join("node-0/data/audit/queries.jsonl");
    assert!(
        std::fs::read_to_string(&log).unwrap_or_default().is_empty(),
        "refused queries must not be logged as served"
    );
    // The auditor gets the full view, and the query is on disk in the audit log.
    let (s, v) = signed_get(&n.url, &path, &auditor, &chain, clock, &path);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    assert_eq!(v["grade"]["grade"], "B", "the full view carries the grade (a person's grade is shown only here)");
    let logged = std::fs::read_to_string(&log).unwrap();
    let entry: serde_json::Value = serde_json::from_str(logged.lines().last().unwrap()).unwrap();
    assert_eq!(entry["signer"], auditor.public().to_hex());
    assert_eq!(entry["query"], path);
}
