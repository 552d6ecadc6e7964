//! The read policy on every route: a ledger holding a minor credit record, a repaired
//! record and a licence, each with unique marker strings, is crawled route by route
//! unsigned (no marker anywhere), then signed by an auditor (every marker served),
//! then by the parties and by outsiders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use jialing_contracts::credit::{
    AcceptApplication, ApplyRepair, Category, Commit, DecideRepair, Domain, RecordDishonesty, Subject, store,
};
use jialing_contracts::data::methods::{Confirm, List, Register, Review};
use jialing_contracts::data::negotiation::Negotiate;
use jialing_contracts::data::types::{Classification, DataKind, DeliveryMode, Terms};
use jialing_contracts::params::{DAY_MS, Params};
use jialing_contracts::testkit::{GENESIS_MS, initial_state, key, sample_origin, uscc, validator};
use jialing_contracts::trace::methods::{CreateLot, EventTime, RegisterProduct};
use jialing_contracts::trace::types::{Category as Produce, Origin};
use jialing_contracts::{CallPayload, StateView};
use jialing_core::{CommitCertificate, Hash, Keypair, Transaction, TxHash, query};
use jialing_node::app::App;
use jialing_node::mempool::Mempool;
use jialing_node::store::Store;
use tower::ServiceExt;

const CHAIN: &str = "jialing-test";
const MINOR: &str = "MARKER-MINOR-SUMMARY-4f1c";
const REPAIRED: &str = "MARKER-REPAIRED-SUMMARY-8a2d";
const REPAIR_REASONS: &str = "MARKER-REPAIR-REASONS-51be";
const LICENCE: &str = "MARKER-LICENCE-PURPOSE-c0d9";
const MARKERS: &[&str] = &[MINOR, REPAIRED, REPAIR_REASONS, LICENCE];
const GTIN: &str = "06901234567892";

struct Net {
    app: App,
    time: u64,
    nonces: std::collections::BTreeMap<String, u64>,
    hashes: Vec<TxHash>,
    _dir: tempfile::TempDir,
}

impl Net {
    fn new() -> Net {
        let dir = tempfile::tempdir().unwrap();
        let init = initial_state(Params::default());
        let app = App::open(Store::open(dir.path()).unwrap(), &init, Mempool::new(1 << 24, 10_000)).unwrap().1;
        Net { app, time: GENESIS_MS + 1000, nonces: Default::default(), hashes: vec![], _dir: dir }
    }

    /// Commits what the mempool holds in one block.
    fn commit(&mut self) {
        let vals: Vec<Keypair> = ["agri", "market", "credit", "bigdata"].iter().map(|n| validator(n)).collect();
        let prop = self.app.propose(vals[0].public(), self.time, 1000, 1 << 22).unwrap();
        let refs: Vec<&Keypair> = vals.iter().take(3).collect();
        let cert = CommitCertificate::sign(CHAIN, prop.header.height, 0, prop.hash(), &refs);
        self.app.commit(prop, &cert).unwrap();
        self.time = self.app.tip().header.time_ms + 1000;
    }

    /// Submits one call by `who` and commits it in its own block; asserts it succeeded.
    fn call<P: CallPayload>(&mut self, who: &str, p: &P) {
        let signer = key(who);
        let n = self.nonces.entry(who.to_string()).or_insert(0);
        let (contract, method, payload) = p.to_call();
        let stx = Transaction { chain_id: CHAIN.into(), signer: signer.public(), nonce: *n, contract, method, payload }
            .sign(&signer);
        *n += 1;
        let (h, b) = (stx.hash(), stx.to_bytes());
        assert!(self.app.ledger().submit(vec![(stx, h, b)]).pop().unwrap().is_ok());
        let vals: Vec<Keypair> = ["agri", "market", "credit", "bigdata"].iter().map(|n| validator(n)).collect();
        let prop = self.app.propose(vals[0].public(), self.time, 1000, 1 << 22).unwrap();
        let refs: Vec<&Keypair> = vals.iter().take(3).collect();
        let cert = CommitCertificate::sign(CHAIN, prop.header.height, 0, prop.hash(), &refs);
        self.app.commit(prop, &cert).unwrap();
        let rec = self.app.ledger().store.receipt(self.app.tip().header.height, 0).unwrap().unwrap();
        assert_eq!(rec.status, jialing_contracts::TxStatus::Ok, "{who} {}", std::any::type_name::<P>());
        self.hashes.push(h);
        self.time = self.app.tip().header.time_ms + 1000;
    }
}

fn seed() -> Net {
    let mut net = Net::new();
    let farm = Subject::Org(uscc("farm"));
    let record = |id: &str, category, summary: &str| RecordDishonesty {
        id: id.into(),
        subject: farm.clone(),
        category,
        domain: Domain::Food,
        summary: summary.into(),
        decision_document: Hash([7; 32]),
        decision_date_ms: GENESIS_MS - DAY_MS,
    };
    net.call("market", &record("R-MINOR", Category::Minor, MINOR));
    net.call("market", &record("R-REP", Category::Serious, REPAIRED));
    net.call(
        "farm",
        &Commit { id: "C1".into(), promise: "we keep the law".into(), document: Hash([1; 32]), person: None },
    );
    let r: jialing_contracts::credit::DishonestyRecord = jialing_core::encoding::decode(
        "record",
        &net.app.ledger().store.get(&store::record_key("R-REP")).unwrap().unwrap(),
    )
    .unwrap();
    net.time = net.time.max(r.window.min_until_ms);
    net.call(
        "farm",
        &ApplyRepair { record_id: "R-REP".into(), materials: vec![Hash([2; 32])], commitment_id: "C1".into() },
    );
    net.call("market", &AcceptApplication { record_id: "R-REP".into() });
    net.call("market", &DecideRepair { record_id: "R-REP".into(), approve: true, reasons: REPAIR_REASONS.into() });

    net.call(
        "provider",
        &Register {
            id: "P1".into(),
            title: "county price index".into(),
            category: "agriculture".into(),
            kind: DataKind::Index,
            classification: Classification::Internal,
            personal_info: false,
            version_hash: Hash([0xab; 32]),
            size_bytes: 1 << 20,
            source_licence: None,
            holders: vec![],
        },
    );
    net.call("exchange", &Review { product: "P1".into(), report: Hash([1; 32]) });
    net.call("exchange", &Confirm { product: "P1".into() });
    net.call("provider", &List { product: "P1".into(), price_fen: 1_000_000 });
    let terms = Terms {
        purpose: LICENCE.into(),
        scenario: "county dashboard".into(),
        fields: vec!["price".into()],
        start_ms: net.time,
        end_ms: net.time + 30 * DAY_MS,
        price_fen: 1_000_000,
        transferable: false,
        derived_resale: false,
        delivery_mode: DeliveryMode::Api,
        inspection_period_ms: None,
    };
    net.call("buyer", &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms });

    farm_lot_l1(&mut net);
    net
}

/// The farm registers product GTIN and creates lot L1 of it.
fn farm_lot_l1(net: &mut Net) {
    net.call(
        "farm",
        &RegisterProduct {
            code: GTIN.into(),
            name: "pomelo".into(),
            category: Produce::Fruit,
            standard: "NY/T 2315".into(),
        },
    );
    let origin = sample_origin();
    let at = EventTime { time_ms: net.time, tz_offset_min: 480 };
    net.call(
        "farm",
        &CreateLot { lot: "L1".into(), product: GTIN.into(), origin, quantity_milli: 1000, unit: "kg".into(), at },
    );
}

/// Every GET route of the member router, as a pattern, with the concrete paths the
/// crawl asks for.
fn crawl_paths(net: &Net) -> Vec<(&'static str, String)> {
    let tip = net.app.tip().header.height;
    let orgs = ["farm", "market", "provider", "buyer", "exchange", "audit"];
    let mut out: Vec<(&'static str, String)> = vec![
        ("/health", "/health".into()),
        ("/status", "/status".into()),
        ("/openapi.json", "/openapi.json".into()),
        ("/metrics", "/metrics".into()),
        ("/v1/methods", "/v1/methods".into()),
        ("/v1/block/{height}", "/v1/block/latest".into()),
        ("/v1/blocks/raw", "/v1/blocks/raw?from=0".into()),
        ("/v1/audit/queries", "/v1/audit/queries".into()),
        ("/v1/lot/{id}", "/v1/lot/L1".into()),
        ("/v1/lot/{id}/epcis", "/v1/lot/L1/epcis".into()),
        ("/v1/product/{code}", format!("/v1/product/{GTIN}")),
        ("/01/{*path}", format!("/01/{GTIN}/10/L1")),
        ("/01/{*path}", format!("/01/{GTIN}/10/L1?lang=en")),
        ("/01/{*path}", format!("/01/{GTIN}/10/L1?linkType=linkset")),
        ("/.well-known/gs1resolver", "/.well-known/gs1resolver".into()),
        ("/epcis/events", "/epcis/events".into()),
        ("/epcis/capture/{captureID}", format!("/epcis/capture/{}", net.hashes[0])),
        ("/v1/data/product/{id}", "/v1/data/product/P1".into()),
        ("/v1/proof/consistency", format!("/v1/proof/consistency?from=1&to={tip}")),
        ("/v1/data/lineage/{id}", "/v1/data/lineage/P1".into()),
        ("/v1/data/voucher/{id}", "/v1/data/voucher/V1".into()),
        ("/v1/data/market", "/v1/data/market".into()),
        ("/v1/governance/proposals", "/v1/governance/proposals".into()),
        ("/v1/governance/proposals/{id}", "/v1/governance/proposals/1".into()),
        ("/v1/governance/params", "/v1/governance/params".into()),
        ("/assets/{file}", jialing_node::assets::verify_js_path()),
        ("/v1/proof/lot/{id}", "/v1/proof/lot/L1".into()),
        ("/v1/checkpoint/latest", "/v1/checkpoint/latest".into()),
        ("/v1/checkpoint/{height}", "/v1/checkpoint/2".into()),
    ];
    for list in ["serious", "watch", "red", "overdue"] {
        out.push(("/v1/credit/lists/{list}", format!("/v1/credit/lists/{list}")));
    }
    for h in 0..=tip {
        out.push(("/v1/block/{height}", format!("/v1/block/{h}")));
    }
    for h in &net.hashes {
        out.push(("/v1/tx/{hash}", format!("/v1/tx/{h}")));
        out.push(("/v1/proof/tx/{hash}", format!("/v1/proof/tx/{h}")));
    }
    for o in orgs {
        let u = uscc(o);
        out.push(("/v1/org/{uscc}", format!("/v1/org/{u}")));
        out.push(("/v1/credit/{subject}", format!("/v1/credit/{u}")));
        out.push(("/v1/credit/{subject}/full", format!("/v1/credit/{u}/full")));
        out.push(("/v1/data/licences/{uscc}/full", format!("/v1/data/licences/{u}/full")));
        out.push(("/v1/history/{kind}/{id}", format!("/v1/history/org/{u}")));
        out.push(("/v1/history/{kind}/{id}", format!("/v1/history/credit_subject/{u}")));
        out.push(("/v1/history/{kind}/{id}", format!("/v1/history/key/{}", key(o).public())));
        out.push(("/v1/nonce/{key}", format!("/v1/nonce/{}", key(o).public())));
        out.push(("/v1/credit/{subject}/grade", format!("/v1/credit/{u}/grade")));
        out.push(("/v1/credit/{subject}/government", format!("/v1/credit/{u}/government")));
        out.push(("/v1/governance/member/{key}", format!("/v1/governance/member/{}", key(o).public())));
    }
    for (kind, id) in [
        ("credit_record", "R-MINOR"),
        ("credit_record", "R-REP"),
        ("licence", "T1"),
        ("data_product", "P1"),
        ("lot", "L1"),
        ("product", GTIN),
    ] {
        out.push(("/v1/history/{kind}/{id}", format!("/v1/history/{kind}/{id}")));
    }
    let farm = uscc("farm");
    for k in [
        "credit/record/R-MINOR".to_string(),
        "credit/record/R-REP".into(),
        "credit/commitment/C1".into(),
        format!("credit/subject/{farm}"),
        "data/trade/T1".into(),
        "data/product/P1".into(),
        "trace/lot/L1".into(),
        format!("org/{farm}"),
    ] {
        out.push(("/v1/proof/state", format!("/v1/proof/state?key={k}")));
    }
    out
}

const AUDIENCE: &str = "node-under-test";

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A fresh nonce per signed request.
fn nonce() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{:032x}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

async fn get(router: &axum::Router, path: &str, signer: Option<&Keypair>) -> (u16, String) {
    let headers = signer.map(|k| query::signed_headers(k, CHAIN, "GET", path, now_ms(), AUDIENCE, &nonce()));
    send(router, path, headers.as_ref().map(|h| h.as_slice()).unwrap_or_default()).await
}

async fn send(router: &axum::Router, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut req = Request::get(path);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn routes_in_source() -> BTreeSet<String> {
    let src =
        [include_str!("../src/api.rs"), include_str!("../src/public_lists.rs"), include_str!("../src/data_views.rs")]
            .concat();
    src.split(".route(\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
}

/// The API state over the seeded ledger, its query log in `dir`.
fn api_state(net: &Net, dir: &std::path::Path) -> jialing_node::api::Api {
    let info = jialing_node::api::NodeInfo {
        node_key: None,
        validator_keys: vec![],
        max_batch: 100,
        public_api: None,
        query_audience: AUDIENCE.into(),
        initial_state: Arc::new(initial_state(Params::default())),
        consumer_max_block_age_ms: 120_000,
        checkpoint_every: 2,
    };
    let audit = Arc::new(jialing_node::audit_log::AuditLog::open(&dir.join("queries.jsonl")).unwrap());
    jialing_node::api::state(net.app.ledger().clone(), info, audit, 4)
}

/// The member router.
fn router(net: &Net, dir: &std::path::Path) -> axum::Router {
    jialing_node::api::router(api_state(net, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_callers_never_receive_restricted_content_on_any_route() {
    let net = seed();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let paths = crawl_paths(&net);
    let crawled: BTreeSet<String> = paths.iter().map(|(p, _)| p.to_string()).collect();
    for route in routes_in_source() {
        if (route.starts_with("/v1/tx") && !route.contains('{')) || route == "/epcis/capture" {
            continue; // submission (POST)
        }
        assert!(crawled.contains(&route), "the crawl misses the route {route}: add it to crawl_paths");
    }

    let mut statuses = std::collections::BTreeMap::new();
    for (_, path) in &paths {
        let (status, body) = get(&r, path, None).await;
        for m in MARKERS {
            assert!(!body.contains(m), "unsigned GET {path} ({status}) leaks {m}: {body}");
        }
        statuses.insert(path.clone(), status);
    }
    // The restricted items are refused, not missing; the public ones are served.
    assert_eq!(statuses["/v1/proof/state?key=credit/record/R-MINOR"], 401);
    assert_eq!(statuses["/v1/proof/state?key=data/trade/T1"], 401);
    assert_eq!(statuses["/v1/blocks/raw?from=0"], 401);
    assert_eq!(statuses["/v1/proof/state?key=trace/lot/L1"], 200);
    assert_eq!(statuses[&format!("/01/{GTIN}/10/L1")], 200);
    // A restricted transaction shows its public part.
    let (s, body) = get(&r, &format!("/v1/tx/{}", net.hashes[0]), None).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s, 200);
    assert_eq!(v["tx"]["restricted"], true, "{v}");
    assert_eq!((v["tx"]["contract"].as_str(), v["tx"]["method"].as_str()), (Some("credit"), Some("record")));
    assert_eq!(v["receipt"]["status"], "ok");
    assert!(v["tx"].get("args").is_none() && v["tx"].get("signer").is_none(), "{v}");

    // An auditor, signed, gets every marker somewhere.
    let auditor = key("audit");
    let mut seen = String::new();
    for (_, path) in &paths {
        let (_, body) = get(&r, path, Some(&auditor)).await;
        seen.push_str(&body);
    }
    for m in MARKERS {
        assert!(seen.contains(m), "a signed auditor never saw {m}");
    }
    // Signed queries answered are in the query log.
    let log = std::fs::read_to_string(dir.path().join("queries.jsonl")).unwrap();
    assert!(log.contains("/v1/proof/state?key=credit/record/R-MINOR") && log.contains("/v1/blocks/raw?from=0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_read_their_own_items_and_outsiders_do_not() {
    let net = seed();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let minor_tx = format!("/v1/proof/tx/{}", net.hashes[0]);
    let trade = "/v1/proof/state?key=data/trade/T1";
    // The subject reads its minor record; another producer does not.
    let (s, body) = get(&r, &minor_tx, Some(&key("farm"))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(get(&r, &minor_tx, Some(&key("farm2"))).await.0, 403);
    let (_, body) = get(&r, &format!("/v1/tx/{}", net.hashes[0]), Some(&key("farm"))).await;
    assert!(body.contains(MINOR), "{body}");
    let (_, body) = get(&r, &format!("/v1/tx/{}", net.hashes[0]), Some(&key("farm2"))).await;
    assert!(!body.contains(MINOR), "{body}");
    // The licence's parties and the exchange read the trade; a producer does not.
    for who in ["buyer", "provider", "exchange", "bigdata"] {
        let (s, body) = get(&r, trade, Some(&key(who))).await;
        assert_eq!(s, 200, "{who}: {body}");
    }
    assert_eq!(get(&r, trade, Some(&key("farm"))).await.0, 403);
    // The exchange is no credit reader and no party of the record.
    let (s, _) = get(&r, "/v1/proof/state?key=credit/record/R-REP", Some(&key("exchange"))).await;
    assert_eq!(s, 403);
    // A bad signature is refused, never served as public.
    let (s, _) = get(&r, "/v1/tx/00", Some(&Keypair::from_label("stranger"))).await;
    assert!(s == 400 || s == 403, "{s}");
    let (s, body) = get(&r, "/v1/lot/L1", Some(&Keypair::from_label("stranger"))).await;
    assert_eq!(s, 403, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_misaddressed_signed_query_is_refused() {
    let net = seed();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let path = "/v1/proof/state?key=credit/record/R-MINOR";
    let auditor = key("audit");
    let headers = query::signed_headers(&auditor, CHAIN, "GET", path, now_ms(), AUDIENCE, &nonce());
    let (s, body) = send(&r, path, &headers).await;
    assert_eq!(s, 200, "{body}");
    // The same request again: refused, and not logged a second time.
    let (s, body) = send(&r, path, &headers).await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("replayed_request"), "{body}");
    // Signed for another node: refused.
    let other = query::signed_headers(&auditor, CHAIN, "GET", path, now_ms(), "another-node", &nonce());
    let (s, body) = send(&r, path, &other).await;
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("bad_signature") && body.contains(AUDIENCE), "{body}");
    // Without a nonce, or with a malformed one: refused.
    let (s, _) = send(&r, path, &headers[..2]).await;
    assert_eq!(s, 401);
    let bad = query::signed_headers(&auditor, CHAIN, "GET", path, now_ms(), AUDIENCE, "xyz");
    assert_eq!(send(&r, path, &bad).await.0, 401);
    // The log holds the one answered query, with the signature's hash, not the signature.
    let log = std::fs::read_to_string(dir.path().join("queries.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    let sig = &headers[3].1;
    assert!(!log.contains(sig.as_str()) && log.contains("signature_sha256"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_log_head_is_anchored_on_the_ledger() {
    use jialing_contracts::anchor::{QueryAnchor, anchor_key};
    let mut net = seed();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    for path in ["/v1/lot/L1", "/v1/proof/state?key=data/trade/T1", "/v1/credit/91500230MA00010053/full"] {
        get(&r, path, Some(&key("audit"))).await;
    }
    let log = jialing_node::audit_log::AuditLog::open(&dir.path().join("queries.jsonl")).unwrap();
    assert_eq!(log.head().count, 3);
    let ledger = net.app.ledger().clone();
    let pending = jialing_node::audit_log::anchor_once(&ledger, &log, &key("audit"), AUDIENCE, None).unwrap();
    assert!(pending.is_some());
    // While it is pending, no second anchor.
    assert_eq!(jialing_node::audit_log::anchor_once(&ledger, &log, &key("audit"), AUDIENCE, pending).unwrap(), pending);
    net.commit();
    let a: QueryAnchor =
        jialing_core::encoding::decode("anchor", &ledger.store.get(&anchor_key(AUDIENCE)).unwrap().unwrap()).unwrap();
    assert_eq!((a.count, a.head, a.org), (3, log.head().hash, uscc("audit")));
    // Anchored and unchanged: nothing to do.
    assert_eq!(jialing_node::audit_log::anchor_once(&ledger, &log, &key("audit"), AUDIENCE, pending).unwrap(), None);
    // The anchor is public: an unsigned caller reads and proves it.
    let (s, _) = get(&r, &format!("/v1/proof/state?key=audit/anchor/{AUDIENCE}"), None).await;
    assert_eq!(s, 200);
    // The auditor downloads the log; others may not.
    let (s, body) = get(&r, "/v1/audit/queries", Some(&key("audit"))).await;
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let verified = jialing_core::query_log::verify(v["lines"].as_str().unwrap().as_bytes()).unwrap();
    assert!(verified.head.count >= 3);
    assert_eq!(verified.heads[2].hash, a.head);
    assert_eq!(get(&r, "/v1/audit/queries", Some(&key("market"))).await.0, 403);
    assert_eq!(get(&r, "/v1/audit/queries", None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_listener_serves_public_items_only_and_refuses_signed_reads() {
    let net = seed();
    let dir = tempfile::tempdir().unwrap();
    let api = api_state(&net, dir.path());
    let public = jialing_node::api::public_router(api.with_reads(4));
    let tx = format!("/v1/tx/{}", net.hashes[0]);
    let (s, body) = get(&public, &tx, None).await;
    assert!(s == 200 && !body.contains(MINOR) && body.contains("\"restricted\":true"), "{body}");
    let (s, body) = get(&public, &tx, Some(&key("audit"))).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("member_listener_only"), "{body}");
    assert_eq!(get(&public, &format!("/01/{GTIN}/10/L1"), None).await.0, 200);
    for member_only in ["/v1/blocks/raw?from=0", "/v1/history/lot/L1", "/v1/audit/queries", "/metrics"] {
        assert_eq!(get(&public, member_only, None).await.0, 404, "{member_only}");
    }
}

/// `/v1/proof/lot/{id}` after governance removed a validator: the history the node
/// serves (found from the headers, proven by replay) carries that change, proves from
/// the chain fingerprint alone the set that signs the lot's state block, and without
/// the change the new blocks do not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lot_proof_follows_a_validator_change_from_the_fingerprint() {
    use jialing_contracts::governance::{Action, Approve, Propose};
    use jialing_core::chain_identity::{PinnedHistory, fingerprint};
    use jialing_core::proof::StateValueProof;
    let mut net = seed();
    let eff = net.app.tip().header.height + 6;
    net.call(
        "agri",
        &Propose { action: Action::SetValidator { org: uscc("bigdata"), validator: None }, effective_height: eff },
    );
    let id = net.hashes.last().unwrap().to_hex();
    net.call("market", &Approve { id: id.clone() });
    net.call("credit", &Approve { id });
    while net.app.tip().header.height < eff + 2 {
        net.commit();
    }
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let (status, body) = get(&r, "/v1/proof/lot/L1", None).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let history: PinnedHistory = serde_json::from_value(v["history"].clone()).unwrap();
    let fp = fingerprint(&history.genesis.hash());
    assert_eq!(v["fingerprint"], serde_json::json!(fp));
    assert_eq!(history.changes.len(), 1, "one validator change");
    assert_eq!(history.changes[0].block.header.height, eff);
    eprintln!(
        "validator history: {} bytes JSON, one change {} bytes ({} state proof siblings)",
        v["history"].to_string().len(),
        serde_json::to_string(&history.changes[0]).unwrap().len(),
        history.changes[0].proof.siblings.len()
    );
    let (chain, sets) = history.verify(&fp).unwrap();
    assert_eq!(sets.set_for(eff + 1).validators.len(), 3);
    let state: StateValueProof = serde_json::from_value(v["state"].clone()).unwrap();
    let proof = jialing_core::proof::Proof::State(state.clone());
    proof.verify_trusted(&chain, &sets).unwrap();
    // Without the change, the genesis set does not certify the new blocks.
    let mut cut = history.clone();
    cut.changes.clear();
    let (_, genesis_only) = cut.verify(&fp).unwrap();
    assert!(proof.verify_trusted(&chain, &genesis_only).is_err());
    // A second request answers from the cache with the same history.
    let (_, again) = get(&r, "/v1/proof/lot/L1", None).await;
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["history"], v["history"]);
}

/// GS1 Digital Link on the public listener: zero-suppressed GTINs and qualifiers in
/// order resolve to the lot's page (which lists the farming inputs per season), the
/// `linkType` query, the resolver description, and 400 pages that say what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digital_links_resolve_and_malformed_ones_say_why() {
    use jialing_contracts::trace::methods::{InputKind, RecordInput};
    let mut net = Net::new();
    net.call(
        "farm",
        &RegisterProduct { code: GTIN.into(), name: "pomelo".into(), category: Produce::Fruit, standard: "NY".into() },
    );
    let origin = Origin { county: "c".into(), township: "t".into(), village: "v".into(), lat_micro: 0, lon_micro: 0 };
    let at = EventTime { time_ms: net.time, tz_offset_min: 480 };
    net.call(
        "farm",
        &CreateLot { lot: "L1".into(), product: GTIN.into(), origin, quantity_milli: 1000, unit: "kg".into(), at },
    );
    let at = EventTime { time_ms: net.time, tz_offset_min: 480 };
    net.call(
        "farm",
        &RecordInput {
            lot: "L1".into(),
            kind: InputKind::Pesticide,
            name: "MARKER-INPUT-abamectin".into(),
            amount_milli: 1500,
            unit: "L".into(),
            interval_days: 14,
            at,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let public = jialing_node::api::public_router(api_state(&net, dir.path()).with_reads(4));
    let (s, page) = get(&public, "/01/6901234567892/10/L1?lang=en", None).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Farming inputs") && page.contains("MARKER-INPUT-abamectin"), "{page}");
    assert!(page.contains("1.5 L") && page.contains("interval 14 days"), "{page}");
    assert_eq!(get(&public, &format!("/01/{GTIN}/22/V1/10/L1/21/S%2F1"), None).await.0, 200);
    for (path, why) in [
        (format!("/01/{GTIN}/21/S/10/L1"), "order"),
        ("/01/06901234567899/10/L1".to_string(), "check digit"),
        (format!("/01/{GTIN}/99/X/10/L1"), "not a key qualifier"),
        (format!("/01/{GTIN}/10/L%201"), "character set"),
        (format!("/01/{GTIN}"), "needs /10/"),
        ("/01//10/L1".to_string(), "empty segment"),
    ] {
        let (s, body) = get(&public, &path, None).await;
        assert_eq!(s, 400, "{path}: {body}");
        assert!(body.contains(why), "{path}: {body}");
    }
    let (s, body) = get(&public, &format!("/01/{GTIN}/10/L1?linkType=gs1:epcis"), None).await;
    assert_eq!(s, 307, "{body}");
    let (s, body) = get(&public, &format!("/01/{GTIN}/10/L1?linkType=linkset"), None).await;
    assert_eq!(s, 200);
    assert!(body.contains("https://gs1.org/voc/epcis") && body.contains("/v1/lot/L1/epcis"), "{body}");
    let (s, body) = get(&public, "/.well-known/gs1resolver", None).await;
    assert_eq!(s, 200);
    assert!(body.contains("supportedPrimaryKeys"), "{body}");
}

/// `GET /epcis/events`: the recorded EPCIS events as an EPCISQueryDocument, filtered by
/// bizStep, EPC (URN or Digital Link), event time and bizLocation, paged with a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_events_query_filters_and_pages() {
    let mut net = Net::new();
    let t = |ms: u64| jialing_core::calendar::format_rfc3339_ms(ms);
    let base = net.time - 3_600_000;
    let events = [
        ("shipping", "urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgln:0614141.07346.0", 0),
        ("receiving", "urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgln:0012345.11111.0", 60_000),
        ("receiving", "urn:epc:id:sgtin:0614141.107346.2019", "urn:epc:id:sgln:0012345.11111.0", 120_000),
    ];
    for (step, epc, loc, dt) in events {
        let doc = serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": step,
            "eventTime": t(base + dt), "eventTimeZoneOffset": "+08:00", "epcList": [epc], "bizLocation": {"id": loc}});
        let rec = jialing_contracts::trace::epcis_import::plan(&doc).unwrap().events.remove(0).record;
        net.call("farm", &rec);
    }
    let dir = tempfile::tempdir().unwrap();
    let public = jialing_node::api::public_router(api_state(&net, dir.path()).with_reads(4));
    let ids = |body: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], "EPCISQueryDocument");
        v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["epcList"][0].as_str().unwrap().to_string())
            .collect()
    };
    let (s, all) = get(&public, "/epcis/events", None).await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(ids(&all).len(), 3);
    let (_, r) = get(&public, "/epcis/events?EQ_bizStep=receiving", None).await;
    assert_eq!(ids(&r).len(), 2);
    let dl = "https://id.gs1.org/01/10614141073464/21/2017";
    let (_, r) = get(&public, &format!("/epcis/events?MATCH_anyEPC={dl}"), None).await;
    assert_eq!(ids(&r), vec!["urn:epc:id:sgtin:0614141.107346.2017".to_string()]);
    let (_, r) = get(&public, "/epcis/events?EQ_bizLocation=urn:epc:id:sgln:0012345.11111.0", None).await;
    assert_eq!(ids(&r).len(), 2);
    let ge = t(base + 60_000).replace('Z', "%2B00:00");
    let (_, r) =
        get(&public, &format!("/epcis/events?GE_eventTime={ge}&LT_eventTime={}", t(base + 120_000)), None).await;
    assert_eq!(ids(&r), vec!["urn:epc:id:sgtin:0614141.107346.2018".to_string()]);
    // Pages of one, following the token.
    let mut seen = Vec::new();
    let mut path = "/epcis/events?perPage=1".to_string();
    for _ in 0..5 {
        let req = Request::get(&path).body(Body::empty()).unwrap();
        let resp = public.clone().oneshot(req).await.unwrap();
        let link = resp.headers().get("link").map(|l| l.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        seen.extend(ids(&String::from_utf8_lossy(&body)));
        match link {
            Some(l) => {
                let next = l.trim_start_matches('<').split('>').next().unwrap().to_string();
                path = format!("{next}&perPage=1");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let (s, r) = get(&public, "/epcis/events?GE_eventTime=yesterday", None).await;
    assert_eq!(s, 400, "{r}");
    assert_eq!(get(&public, "/epcis/events?perPage=0", None).await.0, 400);
}

/// The headers of a capture of `doc` by `signer` with `nonce`, built from the protocol
/// (docs/api.md) rather than the client's SDK.
fn capture_headers(doc: &str, signer: &Keypair, nonce: u64) -> Vec<(&'static str, String)> {
    use jialing_contracts::trace::epcis_capture::{CaptureErrorBehaviour, capture_tx};
    let stx = capture_tx(CHAIN, signer.public(), nonce, CaptureErrorBehaviour::Rollback, doc).sign(signer);
    vec![
        ("Jialing-Signer", signer.public().to_hex()),
        ("Jialing-Nonce", nonce.to_string()),
        ("Jialing-Signature", stx.signature.to_hex()),
        ("content-type", "application/ld+json".into()),
    ]
}

/// POSTs `body` to `/epcis/capture`: status, body and `Location`.
async fn post_capture(router: &axum::Router, headers: &[(&str, String)], body: &str) -> (u16, String, Option<String>) {
    let mut req = Request::post("/epcis/capture");
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned(), location)
}

/// An EPCIS document of `n` observations with sensor values, from serial `from`.
fn capture_doc(from: u64, n: u64) -> String {
    let events: Vec<serde_json::Value> = (from..from + n)
        .map(|i| {
            serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting",
                "eventTime": jialing_core::calendar::format_rfc3339_ms(GENESIS_MS + i), "eventTimeZoneOffset": "+08:00",
                "epcList": [format!("urn:epc:id:sgtin:0614141.107346.{i}")],
                "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 4.25, "uom": "CEL"}]}]})
        })
        .collect();
    serde_json::json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events}})
    .to_string()
}

/// `POST /epcis/capture` signed by a member: 202 with the capture's Location; the job
/// runs until the block commits, then succeeds with each event's hash ID; the events
/// are served by `GET /epcis/events`; a second capture of the same document reports
/// duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_capture_signed_by_a_member_is_accepted_and_its_job_succeeds() {
    let mut net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let farm = key("farm");
    let doc = capture_doc(1, 3);
    let (s, body, location) = post_capture(&r, &capture_headers(&doc, &farm, 0), &doc).await;
    assert_eq!(s, 202, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["captureID"].as_str().unwrap().to_string();
    assert_eq!(location.as_deref(), Some(format!("/epcis/capture/{id}").as_str()));
    let (s, job) = get(&r, &format!("/epcis/capture/{id}"), None).await;
    assert_eq!(s, 200, "{job}");
    let job: serde_json::Value = serde_json::from_str(&job).unwrap();
    assert_eq!((job["running"].as_bool(), job["captureErrorBehaviour"].as_str()), (Some(true), Some("rollback")));
    net.commit();
    let (_, job) = get(&r, &format!("/epcis/capture/{id}"), None).await;
    let job: serde_json::Value = serde_json::from_str(&job).unwrap();
    assert_eq!((job["running"].as_bool(), job["success"].as_bool()), (Some(false), Some(true)), "{job}");
    assert_eq!((job["recorded"].as_u64(), job["duplicates"].as_u64()), (Some(3), Some(0)), "{job}");
    let ids: Vec<String> =
        job["events"].as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap().to_string()).collect();
    // The captured events, as EPCIS queries see them.
    let (s, q) = get(&r, "/epcis/events", None).await;
    assert_eq!(s, 200, "{q}");
    let q: serde_json::Value = serde_json::from_str(&q).unwrap();
    let served: Vec<String> = q["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(served, ids);
    // Pages of one step through the events of the one capture transaction.
    let (_, page) = get(&r, "/epcis/events?perPage=2", None).await;
    assert!(page.contains(&ids[1]) && !page.contains(&ids[2]), "{page}");
    // The same document again: every event a duplicate.
    let (s, body, _) = post_capture(&r, &capture_headers(&doc, &farm, 1), &doc).await;
    assert_eq!(s, 202, "{body}");
    let id2 = serde_json::from_str::<serde_json::Value>(&body).unwrap()["captureID"].as_str().unwrap().to_string();
    net.commit();
    let (_, job) = get(&r, &format!("/epcis/capture/{id2}"), None).await;
    let job: serde_json::Value = serde_json::from_str(&job).unwrap();
    assert_eq!((job["success"].as_bool(), job["duplicates"].as_u64()), (Some(true), Some(3)), "{job}");
    // A transaction that is no capture is not a capture job.
    net.nonces.insert("farm".into(), 2);
    net.call(
        "farm",
        &RegisterProduct { code: GTIN.into(), name: "p".into(), category: Produce::Fruit, standard: "s".into() },
    );
    let (s, _) = get(&r, &format!("/epcis/capture/{}", net.hashes[0]), None).await;
    assert_eq!(s, 404);
}

/// Capture authentication and limits: unsigned, forged, another key's signature and a
/// non-member are refused with what to send; a replayed nonce, a malformed document, a
/// wrong media type and a document over one transaction are refused before the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_capture_refuses_bad_signatures_replays_and_oversize() {
    let mut net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let farm = key("farm");
    let doc = capture_doc(1, 2);
    let code = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]["code"].clone();
    // Unsigned: 401, saying what to send.
    let (s, body, _) = post_capture(&r, &[], &doc).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(code(&body), "missing_signature");
    assert!(body.contains("Jialing-Signer") && body.contains("Jialing-Nonce") && body.contains("Jialing-Signature"));
    // Forged: the signature of another document.
    let mut forged = capture_headers(&capture_doc(7, 1), &farm, 0);
    let (s, body, _) = post_capture(&r, &forged, &doc).await;
    assert_eq!((s, code(&body)), (401, "bad_signature".into()), "{body}");
    // Another key's signature under the farm's name.
    let other = capture_headers(&doc, &key("farm2"), 0);
    forged[2] = other[2].clone();
    let (s, body, _) = post_capture(&r, &forged, &doc).await;
    assert_eq!((s, code(&body)), (401, "bad_signature".into()), "{body}");
    // A garbage signature.
    forged[2].1 = "zz".into();
    assert_eq!(post_capture(&r, &forged, &doc).await.0, 401);
    // A valid signature by a key no organisation certified.
    let stranger = Keypair::from_label("stranger");
    let (s, body, _) = post_capture(&r, &capture_headers(&doc, &stranger, 0), &doc).await;
    assert_eq!((s, code(&body)), (403, "not_member".into()), "{body}");
    // Malformed document (its event and field named), wrong media type, proceed.
    let bad = doc.replace("\"action\":\"OBSERVE\",", "");
    let (s, body, _) = post_capture(&r, &capture_headers(&bad, &farm, 0), &bad).await;
    assert_eq!((s, code(&body)), (400, "invalid_document".into()), "{body}");
    assert!(body.contains("event 0") && body.contains("action"), "{body}");
    let mut xml = capture_headers(&doc, &farm, 0);
    xml[3].1 = "application/xml".into();
    assert_eq!(post_capture(&r, &xml, &doc).await.0, 415);
    let mut unknown = capture_headers(&doc, &farm, 0);
    unknown.push(("GS1-Capture-Error-Behaviour", "sometimes".into()));
    let (s, body, _) = post_capture(&r, &unknown, &doc).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("rollback"), "{body}");
    // Larger than one transaction: 413, saying to split.
    let big = capture_doc(100, 400);
    assert!(big.len() > 64 * 1024);
    let (s, body, _) = post_capture(&r, &capture_headers(&big, &farm, 0), &big).await;
    assert_eq!((s, code(&body)), (413, "document_too_large".into()), "{body}");
    assert!(body.contains("split"), "{body}");
    // Accepted once; the same request again is a replay, before and after the commit.
    let headers = capture_headers(&doc, &farm, 0);
    assert_eq!(post_capture(&r, &headers, &doc).await.0, 202);
    let (s, body, _) = post_capture(&r, &headers, &doc).await;
    assert_eq!(s, 409, "{body}");
    net.commit();
    let (s, body, _) = post_capture(&r, &headers, &doc).await;
    assert_eq!((s, code(&body)), (409, "bad_nonce".into()), "{body}");
    assert!(body.contains("replay"), "{body}");
}

/// A captured event that names a lot joins the lot's EPCIS export (once, however often
/// it is captured); one that names another object does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_captured_events_join_their_lots_export() {
    let mut net = Net::new();
    farm_lot_l1(&mut net);
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let farm = key("farm");
    let of_lot = serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "sensor_reporting",
        "eventTime": jialing_core::calendar::format_rfc3339_ms(net.time), "eventTimeZoneOffset": "+08:00",
        "quantityList": [{"epcClass": format!("https://id.gs1.org/01/{GTIN}/10/L1")}],
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 3.5, "uom": "CEL"}]}]});
    let other: serde_json::Value = serde_json::from_str(&capture_doc(5, 1)).unwrap();
    let events = serde_json::json!([of_lot, other["epcisBody"]["eventList"][0]]);
    let doc =
        serde_json::json!({"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events}})
        .to_string();
    let plan = jialing_contracts::trace::epcis_capture::plan_document(&doc).unwrap();
    for nonce in [2, 3] {
        let (s, body, _) = post_capture(&r, &capture_headers(&doc, &farm, nonce), &doc).await;
        assert_eq!(s, 202, "{body}");
        net.commit();
    }
    let (s, export) = get(&r, "/v1/lot/L1/epcis", None).await;
    assert_eq!(s, 200, "{export}");
    let v: serde_json::Value = serde_json::from_str(&export).unwrap();
    let ids: Vec<&str> =
        v["epcisBody"]["eventList"].as_array().unwrap().iter().filter_map(|e| e["eventID"].as_str()).collect();
    assert_eq!(ids.iter().filter(|i| **i == plan.events[0].hash_id).count(), 1, "{v:#}");
    assert!(!ids.contains(&plan.events[1].hash_id.as_str()), "{v:#}");
}

/// More recorded events than one scan step of the index: each is served once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_events_pages_past_the_scan_step_without_repeats() {
    // Three blocks of 200 (a scan step spans blocks), then one block of 700 (a block
    // holds more entries than one scan step: before, the entries past the step were
    // skipped and only 500 of the 700 came back).
    for blocks in [vec![200u64, 200, 200], vec![700]] {
        let mut net = Net::new();
        let farm = key("farm");
        let mut nonce = 0;
        for (block, n) in blocks.iter().enumerate() {
            let mut txs = Vec::new();
            for i in 0..*n {
                let doc: serde_json::Value = serde_json::from_str(&capture_doc(block as u64 * 1000 + i, 1)).unwrap();
                let rec = jialing_contracts::trace::epcis_import::plan(&doc).unwrap().events.remove(0).record;
                let (contract, method, payload) = rec.to_call();
                let stx =
                    Transaction { chain_id: CHAIN.into(), signer: farm.public(), nonce, contract, method, payload }
                        .sign(&farm);
                nonce += 1;
                let (h, b) = (stx.hash(), stx.to_bytes());
                txs.push((stx, h, b));
            }
            assert!(net.app.ledger().submit(txs).iter().all(Result::is_ok));
            net.commit();
        }
        let total: u64 = blocks.iter().sum();
        assert_eq!(net.app.tip().header.height as usize, blocks.len(), "one block each");
        let dir = tempfile::tempdir().unwrap();
        let r = router(&net, dir.path());
        let (s, body) = get(&r, "/epcis/events?perPage=1000", None).await;
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut ids: Vec<&str> = v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventID"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len() as u64, total, "blocks {blocks:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len() as u64, total, "blocks {blocks:?}: each event once");
    }
}

/// A refused event: with `rollback` the whole capture is refused and its job names the
/// event; with `proceed` (signed as part of the transaction) the others are captured
/// and the job lists the refused one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_capture_job_names_the_refused_event_under_rollback_and_proceed() {
    use jialing_contracts::trace::epcis_capture::{CaptureErrorBehaviour, capture_tx};
    let mut net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let r = router(&net, dir.path());
    let farm = key("farm");
    // A producer may record events but not recall a lot (regulators only).
    let mut doc: serde_json::Value = serde_json::from_str(&capture_doc(1, 1)).unwrap();
    let recall = serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "holding", "disposition": "recalled",
        "eventTime": jialing_core::calendar::format_rfc3339_ms(GENESIS_MS + 5), "eventTimeZoneOffset": "+08:00",
        "quantityList": [{"epcClass": format!("https://id.gs1.org/01/{GTIN}/10/L9")}]});
    doc["epcisBody"]["eventList"].as_array_mut().unwrap().push(recall);
    let doc = doc.to_string();
    let plan = jialing_contracts::trace::epcis_capture::plan_document(&doc).unwrap();
    let job = |body: String| serde_json::from_str::<serde_json::Value>(&body).unwrap();

    let (s, body, _) = post_capture(&r, &capture_headers(&doc, &farm, 0), &doc).await;
    assert_eq!(s, 202, "{body}");
    let id = job(body)["captureID"].as_str().unwrap().to_string();
    net.commit();
    let v = job(get(&r, &format!("/epcis/capture/{id}"), None).await.1);
    assert_eq!((v["success"].as_bool(), v["captureErrorBehaviour"].as_str()), (Some(false), Some("rollback")), "{v}");
    let e = &v["errors"][0];
    assert_eq!((e["code"].as_str(), e["eventIndex"].as_u64()), (Some("wrong_role"), Some(1)), "{v}");
    assert_eq!(e["eventID"].as_str(), Some(plan.events[1].hash_id.as_str()));
    let (_, q) = get(&r, "/epcis/events", None).await;
    assert!(!q.contains(&plan.events[0].hash_id), "a refused capture recorded an event: {q}");

    // The same document with proceed: the header is part of what is signed.
    let stx = capture_tx(CHAIN, farm.public(), 1, CaptureErrorBehaviour::Proceed, &doc).sign(&farm);
    let mut headers = capture_headers(&doc, &farm, 1);
    headers.push(("GS1-Capture-Error-Behaviour", "proceed".into()));
    let (s, body, _) = post_capture(&r, &headers, &doc).await;
    assert_eq!((s, body.contains("bad_signature")), (401, true), "rollback's signature for a proceed capture: {body}");
    headers[2].1 = stx.signature.to_hex();
    let (s, body, _) = post_capture(&r, &headers, &doc).await;
    assert_eq!(s, 202, "{body}");
    net.commit();
    let v = job(get(&r, &format!("/epcis/capture/{}", stx.hash()), None).await.1);
    assert_eq!((v["success"].as_bool(), v["captureErrorBehaviour"].as_str()), (Some(false), Some("proceed")), "{v}");
    assert_eq!((v["recorded"].as_u64(), v["refused"].as_u64()), (Some(1), Some(1)), "{v}");
    assert_eq!(
        (v["events"][0]["status"].as_str(), v["events"][1]["status"].as_str()),
        (Some("recorded"), Some("refused"))
    );
    assert_eq!((v["errors"][0]["code"].as_str(), v["errors"][0]["eventIndex"].as_u64()), (Some("wrong_role"), Some(1)));
    let (_, q) = get(&r, "/epcis/events", None).await;
    assert!(q.contains(&plan.events[0].hash_id) && !q.contains(&plan.events[1].hash_id), "{q}");
}
