//! Public credit lists, grades and governance proposals against a real node, and the
//! `jialing gov propose --dry-run` diff against its state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jialing_contracts::CallPayload;
use jialing_contracts::credit::{Category, Domain, ListKind, RecordDishonesty, SetList, Subject};
use jialing_core::{Hash, Keypair, Transaction};
use jialing_tests::{NodeProc, OneNode, run_bin};
use serde_json::json;

fn submit<P: CallPayload>(n: &NodeProc, chain: &str, key: &Keypair, nonce: u64, p: &P) {
    let (contract, method, payload) = p.to_call();
    let tx = Transaction { chain_id: chain.into(), signer: key.public(), nonce, contract, method, payload }.sign(key);
    let (s, v) = n.post("/v1/tx", &json!({"tx": hex::encode(tx.to_bytes())})).unwrap();
    assert_eq!(s, 202, "{v}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while n.get(&format!("/v1/tx/{}", tx.hash())).unwrap()["status"] != "committed" {
        assert!(std::time::Instant::now() < deadline, "not committed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn status_of(url: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    agent.get(url).call().unwrap().status().as_u16()
}

#[test]
fn public_lists_grades_and_governance_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let net = OneNode::start(dir.path()).unwrap();
    let n = &net.node;
    let chain = net.chain_id.clone();
    let market = net.key("market", "operator.json").unwrap();
    let cattle = net.init.orgs.iter().find(|o| o.name.contains("Cattle")).unwrap().uscc.clone();
    assert_eq!(n.get(&format!("/v1/credit/{cattle}/grade")).unwrap()["grade"]["grade"], "A");
    let now = n.get("/status").unwrap()["time_ms"].as_u64().unwrap();
    let record = RecordDishonesty {
        id: "SCJG-2026-009".into(),
        subject: Subject::Org(cattle.clone()),
        category: Category::Serious,
        domain: Domain::Food,
        summary: "clenbuterol found".into(),
        decision_document: Hash([7; 32]),
        decision_date_ms: now,
    };
    submit(n, &chain, &market, 0, &record);
    let g = n.get(&format!("/v1/credit/{cattle}/grade")).unwrap();
    assert_eq!(
        (g["grade"]["grade"].as_str(), g["grade"]["inputs"]["serious_published"].as_u64()),
        (Some("C"), Some(1)),
        "{g}"
    );
    let list = SetList {
        record_id: "SCJG-2026-009".into(),
        list: ListKind::SeriousDishonesty,
        enter: true,
        reasons: "serious food case".into(),
    };
    submit(n, &chain, &market, 1, &list);
    assert_eq!(n.get(&format!("/v1/credit/{cattle}/grade")).unwrap()["grade"]["grade"], "D");
    let page = n.get("/v1/credit/lists/serious?limit=10").unwrap();
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["subject"], cattle.as_str());
    assert_eq!(page["items"][0]["record_id"], "SCJG-2026-009");
    assert_eq!(n.get("/v1/credit/lists/serious?offset=1").unwrap()["items"], json!([]));
    assert_eq!(n.get("/v1/credit/lists/red").unwrap()["total"], 0);
    assert_eq!(status_of(&format!("{}/v1/credit/lists/black", n.url)), 404);
    assert_eq!(status_of(&format!("{}/v1/credit/lists/watch?limit=0", n.url)), 400);
    assert_eq!(
        status_of(&format!("{}/v1/credit/{}/grade", n.url, "ab".repeat(32))),
        403,
        "a person's grade is restricted"
    );

    // Governance: the dry run diffs against the node's parameters and submits nothing.
    let height = n.get("/status").unwrap()["height"].as_u64().unwrap();
    let out = run_bin(
        "jialing",
        &[
            "--node",
            &n.url,
            "--json",
            "gov",
            "propose",
            "set-params",
            "--set",
            "block.max_txs=5000",
            "--after",
            "7",
            "--dry-run",
        ],
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["diff"], json!([{"field": "params.block.max_txs", "before": 20000, "after": 5000}]), "{v}");
    assert!(v["effective_height"].as_u64().unwrap() >= height + 7);
    assert_eq!(n.get("/v1/governance/proposals").unwrap()["total"], 0, "a dry run submits nothing");
    let bad =
        run_bin("jialing", &["--node", &n.url, "gov", "propose", "set-params", "--set", "block.max_tx=1", "--dry-run"]);
    assert!(bad.unwrap_err().to_string().contains("governance.param_field_known"));
    // Proposed for real, it is listed with its approvals and state.
    let key = net.net.join("org-keys/agri/operator.json");
    run_bin(
        "jialing",
        &[
            "--node",
            &n.url,
            "gov",
            "propose",
            "set-params",
            "--set",
            "block.max_txs=5000",
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .unwrap();
    let props = n.get("/v1/governance/proposals?status=pending").unwrap();
    assert_eq!(props["total"], 1, "{props}");
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(props["proposals"][0]["approvals"].as_array().unwrap().len(), 1);
    let shown = run_bin("jialing", &["--node", &n.url, "gov", "show", &id]).unwrap();
    assert!(shown.contains("status: pending"), "{shown}");
}
