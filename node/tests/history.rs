//! The history accumulator in the node: every header commits to the RFC 9162 tree over
//! the hashes of the blocks before it, a block with another history root is refused,
//! the store keeps the tree's nodes across a reopen, and `GET /v1/proof/consistency`
//! serves `O(log n)` proofs that verify against the genesis validator set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use jialing_contracts::params::Params;
use jialing_contracts::testkit::{GENESIS_MS, initial_state, validator};
use jialing_core::proof::{Proof, Verified};
use jialing_core::{CommitCertificate, Hash, Keypair, merkle};
use jialing_node::app::{App, AppError, InvalidBlock};
use jialing_node::mempool::Mempool;
use jialing_node::store::Store;
use tower::ServiceExt;

const CHAIN: &str = "jialing-test";

fn open(dir: &std::path::Path) -> App {
    App::open(Store::open(dir).unwrap(), &initial_state(Params::default()), Mempool::new(1 << 24, 10_000)).unwrap().1
}

fn validators() -> Vec<Keypair> {
    ["agri", "market", "credit", "bigdata"].iter().map(|n| validator(n)).collect()
}

/// Proposes and commits the next (empty) block; returns its hash.
fn commit_next(app: &mut App) -> Hash {
    let vals = validators();
    let time = app.tip().header.time_ms + 1000;
    let p = app.propose(vals[0].public(), time, 1000, 1 << 22).unwrap();
    let refs: Vec<&Keypair> = vals.iter().take(3).collect();
    let cert = CommitCertificate::sign(CHAIN, p.header.height, 0, p.hash(), &refs);
    let h = p.hash();
    app.commit(p, &cert).unwrap();
    h
}

fn router(app: &App, dir: &std::path::Path) -> axum::Router {
    let info = jialing_node::api::NodeInfo {
        node_key: None,
        validator_keys: vec![],
        max_batch: 100,
        public_api: None,
        query_audience: "history-test".into(),
        initial_state: Arc::new(initial_state(Params::default())),
        consumer_max_block_age_ms: 120_000,
        checkpoint_every: 8,
    };
    let audit = Arc::new(jialing_node::audit_log::AuditLog::open(&dir.join("queries.jsonl")).unwrap());
    jialing_node::api::router(jialing_node::api::state(app.ledger().clone(), info, audit, 2))
}

async fn get(router: &axum::Router, path: &str) -> (u16, String) {
    let resp = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn a_proposed_block_with_a_forged_history_root_is_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, mut b) = (open(d1.path()), open(d2.path()));
    let genesis = a.tip().hash;
    // Both nodes commit block 1, then judge a's proposal of block 2.
    let vals = validators();
    let p1 = a.propose(vals[0].public(), GENESIS_MS + 5_000, 1000, 1 << 22).unwrap();
    let refs: Vec<&Keypair> = vals.iter().take(3).collect();
    let cert = CommitCertificate::sign(CHAIN, 1, 0, p1.hash(), &refs);
    let checked = b.validate(&p1.block()).unwrap();
    b.commit(checked, &cert).unwrap();
    let h1 = p1.hash();
    a.commit(p1, &cert).unwrap();

    let p2 = a.propose(vals[0].public(), GENESIS_MS + 9_000, 1000, 1 << 22).unwrap();
    assert_eq!(p2.header.history_root, merkle::root_of_hashes(&[genesis, h1]));
    b.validate(&p2.block()).unwrap();
    for forged_root in [
        merkle::root_of_hashes(&[genesis]),
        merkle::root_of_hashes(&[genesis, h1, h1]),
        merkle::root_of_hashes(&[Hash([7; 32]), h1]),
    ] {
        let mut forged = p2.block();
        forged.header.history_root = forged_root;
        assert!(
            matches!(b.validate(&forged), Err(AppError::Invalid(InvalidBlock::Header { field: "history_root", .. }))),
            "a block rewriting the history is refused"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_proofs_are_logarithmic_verify_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    {
        let mut app = open(&dir.path().join("db"));
        hashes.push(app.tip().hash);
        for _ in 0..70 {
            hashes.push(commit_next(&mut app));
        }
    }
    // Reopened: the accumulator is read back from the store's nodes.
    let mut app = open(&dir.path().join("db"));
    assert_eq!(app.tip().history.root(), merkle::root_of_hashes(&hashes));
    hashes.push(commit_next(&mut app));
    let tip = app.tip();
    assert_eq!(tip.header.height, 71);
    assert_eq!(tip.header.history_root, merkle::root_of_hashes(&hashes[..71]));

    let r = router(&app, dir.path());
    let trusted = initial_state(Params::default()).validator_set().unwrap();
    for (from, to) in [(0u64, 71u64), (1, 71), (5, 6), (31, 64), (33, 70), (70, 71), (12, 0)] {
        let path = if to == 0 {
            format!("/v1/proof/consistency?from={from}")
        } else {
            format!("/v1/proof/consistency?from={from}&to={to}")
        };
        let (status, body) = get(&r, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        println!("{path}: {} bytes of JSON", body.len());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let proof: Proof = serde_json::from_value(v["proof"].clone()).unwrap();
        let to = if to == 0 { 71 } else { to };
        match proof.verify(CHAIN, &trusted).unwrap() {
            Verified::Consistency { from_height, from_hash, to: vh } => {
                assert_eq!((from_height, from_hash, vh.height), (from, hashes[from as usize], to));
            }
            other => panic!("{other:?}"),
        }
        let Proof::Consistency(p) = &proof else { unreachable!() };
        let bound = 2 * (64 - to.leading_zeros()) as usize;
        assert!(
            p.history.inclusion.path.len() <= bound,
            "{path}: inclusion path of {}",
            p.history.inclusion.path.len()
        );
        if let Some(c) = &p.history.consistency {
            assert!(c.path.len() <= bound, "{path}: consistency path of {}", c.path.len());
        }
        // Tampering with the lower header breaks the proof.
        let mut forged = proof.clone();
        if let Proof::Consistency(p) = &mut forged {
            p.from.time_ms += 1;
        }
        assert!(forged.verify(CHAIN, &trusted).is_err(), "{path}");
    }
    for bad in
        ["/v1/proof/consistency?from=5&to=5", "/v1/proof/consistency?from=9&to=3", "/v1/proof/consistency?from=1&to=72"]
    {
        let (status, body) = get(&r, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // The checkpoint note carries the block's history root.
    let (status, note) = get(&r, "/v1/checkpoint/64").await;
    assert_eq!(status, 200, "{note}");
    let parsed = jialing_core::checkpoint::parse(&note).unwrap();
    assert_eq!(parsed.checkpoint.history_root, merkle::root_of_hashes(&hashes[..64]));
    parsed.verify(&trusted).unwrap();
}
