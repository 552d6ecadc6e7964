//! The ledger application in process: submission checks, propose/validate/commit, and
//! reopening a store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jialing_contracts::membership::Certify;
use jialing_contracts::params::Params;
use jialing_contracts::testkit::{GENESIS_MS, admin, initial_state, key, validator};
use jialing_contracts::{CallPayload, genesis_state::InitialState};
use jialing_core::{CommitCertificate, Keypair, Role, SignedTransaction, Transaction};
use jialing_node::app::{App, AppError, Durability, InvalidBlock, SubmitError};
use jialing_node::mempool::{Admit, Mempool, Priority};
use jialing_node::store::Store;

fn init() -> InitialState {
    initial_state(Params::default())
}

fn open(dir: &std::path::Path) -> App {
    App::open(Store::open(dir).unwrap(), &init(), Mempool::new(1 << 24, 10_000)).unwrap().1
}

fn certify_tx(signer: &Keypair, nonce: u64, member: &Keypair) -> SignedTransaction {
    let (contract, method, payload) =
        Certify { member: member.public(), roles: vec![Role::Producer], expires_ms: u64::MAX }.to_call();
    Transaction { chain_id: "jialing-test".into(), signer: signer.public(), nonce, contract, method, payload }
        .sign(signer)
}

fn submit(app: &App, txs: Vec<SignedTransaction>) -> Vec<Result<jialing_core::TxHash, SubmitError>> {
    let items = txs
        .into_iter()
        .map(|t| {
            let b = t.to_bytes();
            let h = t.hash();
            (t, h, b)
        })
        .collect();
    app.ledger().submit(items)
}

fn validators() -> Vec<Keypair> {
    ["agri", "market", "credit", "bigdata"].iter().map(|n| validator(n)).collect()
}

fn commit_next(app: &mut App, time: u64) -> jialing_core::Hash {
    let vals = validators();
    let p = app.propose(vals[0].public(), time, 1000, 1 << 22).unwrap();
    let refs: Vec<&Keypair> = vals.iter().take(3).collect();
    let cert = CommitCertificate::sign("jialing-test", p.header.height, 0, p.hash(), &refs);
    let h = p.hash();
    app.commit(p, &cert).unwrap();
    h
}

#[test]
fn submit_rejects_bad_signature_non_member_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path());
    let a = admin("farm");
    let mut forged = certify_tx(&a, 0, &Keypair::from_label("m"));
    forged.signature.0[0] ^= 1;
    let stranger = Keypair::from_label("stranger");
    let r = submit(&app, vec![forged, certify_tx(&stranger, 0, &Keypair::from_label("m"))]);
    assert_eq!(r[0].as_ref().unwrap_err().code(), "bad_signature");
    assert_eq!(r[1].as_ref().unwrap_err().code(), "not_member");

    let good = certify_tx(&a, 0, &Keypair::from_label("m"));
    assert!(submit(&app, vec![good.clone()])[0].is_ok());
    assert_eq!(submit(&app, vec![good.clone()])[0].as_ref().unwrap_err().code(), "duplicate");
    commit_next(&mut app, GENESIS_MS + 10_000);
    assert_eq!(submit(&app, vec![good])[0].as_ref().unwrap_err().code(), "bad_nonce");
    assert!(app.ledger().mempool.lock().unwrap().is_empty());
}

#[test]
fn committed_blocks_survive_reopen_and_state_root_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root;
    {
        let mut app = open(dir.path());
        let a = admin("farm");
        let txs: Vec<_> = (0..20).map(|i| certify_tx(&a, i, &Keypair::from_label(&format!("m{i}")))).collect();
        assert!(submit(&app, txs).iter().all(|r| r.is_ok()));
        commit_next(&mut app, GENESIS_MS + 10_000);
        assert_eq!(app.tip().header.tx_count, 20);
        root = app.tip().header.state_root;
    }
    {
        let app = open(dir.path());
        assert_eq!(app.tip().header.height, 1);
        assert_eq!(app.tip().header.state_root, root);
    }
    let other = initial_state(Params { max_text_len: 7, ..Params::default() });
    let err = match App::open(Store::open(dir.path()).unwrap(), &other, Mempool::new(1 << 20, 10)) {
        Ok(_) => panic!("opened a store of another chain"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("different chain"), "{err}");
}

#[test]
fn another_node_validates_the_block_and_rejects_tampering() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(d1.path());
    let b = open(d2.path());
    let txs: Vec<_> = (0..5).map(|i| certify_tx(&admin("farm"), i, &Keypair::from_label(&format!("m{i}")))).collect();
    assert!(submit(&a, txs).iter().all(|r| r.is_ok()));
    let p = a.propose(validators()[0].public(), GENESIS_MS + 5_000, 1000, 1 << 22).unwrap();
    let block = p.block();
    let checked = b.validate(&block).unwrap();
    assert_eq!(checked.hash(), p.hash());

    let mut bad = block.clone();
    bad.header.state_root.0[0] ^= 1;
    assert!(matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::Root { what: "state_root", .. }))));
    let mut bad = block.clone();
    bad.txs[1].signature.0[9] ^= 1;
    assert!(
        matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::Root { what: "tx_root", .. }))),
        "tx_root commits to the signatures"
    );
    retx_root(&mut bad);
    assert!(matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::BadSignature { index: 1, .. }))));
    let mut bad = block.clone();
    bad.txs.swap(0, 1);
    assert!(matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::Root { what: "tx_root", .. }))));
    let mut bad = block.clone();
    bad.header.time_ms = GENESIS_MS;
    assert!(matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::Header { field: "time_ms", .. }))));
    // A non-member's transaction in a proposal makes the block invalid.
    let stranger = Keypair::from_label("stranger");
    let mut bad = block;
    bad.txs.push(certify_tx(&stranger, 0, &Keypair::from_label("z")));
    bad.header.tx_count += 1;
    retx_root(&mut bad);
    assert!(matches!(b.validate(&bad), Err(AppError::Invalid(InvalidBlock::Inadmissible { .. }))));
    let _ = key("farm");
}

fn retx_root(b: &mut jialing_core::Block) {
    let hashes: Vec<_> = b.txs.iter().map(|t| t.hash()).collect();
    b.header.tx_root = jialing_core::Block::tx_root_of_txs(&b.txs, &hashes);
}

/// Issue 9, item 2: a Byzantine proposer attaches a garbage signature to bodies the
/// other validators already hold. Before, the validator looked the body up in its
/// mempool, skipped the signature and stored its own copy: nodes stored different
/// bytes for one certified block. Now the signature is checked unless that exact
/// signature is known, and the proposal keeps the proposer's bytes.
#[test]
fn a_known_body_with_a_forged_signature_is_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(d1.path());
    let b = open(d2.path());
    let txs: Vec<_> = (0..3).map(|i| certify_tx(&admin("farm"), i, &Keypair::from_label(&format!("f{i}")))).collect();
    assert!(submit(&a, txs.clone()).iter().all(|r| r.is_ok()));
    assert!(submit(&b, txs).iter().all(|r| r.is_ok()));
    let p = a.propose(validators()[0].public(), GENESIS_MS + 5_000, 1000, 1 << 22).unwrap();
    let mut forged = p.block();
    forged.txs[2].signature.0[40] ^= 0x55;
    retx_root(&mut forged);
    assert!(matches!(b.validate(&forged), Err(AppError::Invalid(InvalidBlock::BadSignature { index: 2, .. }))));
    // The honest block validates and keeps exactly the proposer's bytes.
    let block = p.block();
    let checked = b.validate(&block).unwrap();
    for (p, t) in checked.txs.iter().zip(&block.txs) {
        assert_eq!(*p.bytes, t.to_bytes());
    }
}

#[test]
fn commit_refuses_a_certificate_without_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path());
    let vals = validators();
    let p = app.propose(vals[0].public(), GENESIS_MS + 5_000, 1000, 1 << 22).unwrap();
    let cert = CommitCertificate::sign("jialing-test", p.header.height, 0, p.hash(), &[&vals[0], &vals[1]]);
    let err = app.commit(p, &cert).unwrap_err().to_string();
    assert!(err.contains("two thirds"), "{err}");
    assert_eq!(app.tip().header.height, 0);
}

#[test]
fn expired_signers_transactions_are_evicted_at_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path());
    let a = admin("farm");
    let temp = Keypair::from_label("temp");
    // Certify `temp` until shortly after the next block.
    let (contract, method, payload) =
        Certify { member: temp.public(), roles: vec![Role::Producer], expires_ms: GENESIS_MS + 20_000 }.to_call();
    let tx = Transaction { chain_id: "jialing-test".into(), signer: a.public(), nonce: 0, contract, method, payload }
        .sign(&a);
    assert!(submit(&app, vec![tx]).iter().all(|r| r.is_ok()));
    commit_next(&mut app, GENESIS_MS + 10_000);
    // `temp` has a transaction pending while still certified...
    let (contract, method, payload) =
        Certify { member: Keypair::from_label("y").public(), roles: vec![Role::Producer], expires_ms: u64::MAX }
            .to_call();
    let t2 =
        Transaction { chain_id: "jialing-test".into(), signer: temp.public(), nonce: 0, contract, method, payload }
            .sign(&temp);
    let bytes = t2.to_bytes();
    app.ledger()
        .mempool
        .lock()
        .unwrap()
        .insert(
            t2.hash(),
            std::sync::Arc::new(t2),
            std::sync::Arc::new(bytes),
            Admit { height: 1, committed_next: 0, priority: Priority::Normal },
        )
        .unwrap();
    // ...but the next block is after its expiry: the proposal leaves it out and evicts it.
    let p = app.propose(validators()[0].public(), GENESIS_MS + 30_000, 1000, 1 << 22).unwrap();
    assert_eq!(p.txs.len(), 0);
    assert!(app.ledger().mempool.lock().unwrap().is_empty());
}

fn open_with(dir: &std::path::Path, limits: jialing_node::mempool::MempoolLimits) -> App {
    App::open(Store::open(dir).unwrap(), &init(), Mempool::with_limits(limits)).unwrap().1
}

fn call_tx(signer: &Keypair, nonce: u64, call: (String, String, Vec<u8>)) -> SignedTransaction {
    let (contract, method, payload) = call;
    Transaction { chain_id: "jialing-test".into(), signer: signer.public(), nonce, contract, method, payload }
        .sign(signer)
}

/// Issue 9 item 9: a member fills the pool (its normal room); the regulators' revocation
/// of its key still gets in through the reserve, and the flooder cannot use the reserve
/// with governance calls it holds no role for.
#[test]
fn flooded_pool_still_takes_the_regulators_revocation() {
    use jialing_contracts::governance::{Action, Propose};
    use jialing_contracts::membership::Revoke;
    use jialing_node::mempool::MempoolLimits;
    let dir = tempfile::tempdir().unwrap();
    let app = open_with(dir.path(), MempoolLimits { reserved_txs: 3, ..MempoolLimits::new(1 << 24, 10) });
    let flooder = key("farm");
    let flood: Vec<SignedTransaction> =
        (0..20).map(|n| certify_tx(&flooder, n, &Keypair::from_label(&format!("m{n}")))).collect();
    let r = submit(&app, flood);
    assert_eq!(r.iter().filter(|r| r.is_ok()).count(), 7);
    assert!(r[7..].iter().all(|r| r.as_ref().unwrap_err().code() == "mempool_full"));
    // The flooder's own "governance" call gets no reserved room: it holds no regulator role.
    let revoke_call = Propose { action: Action::RevokeKey { key: flooder.public() }, effective_height: 5 }.to_call();
    let r = submit(&app, vec![call_tx(&flooder, 7, revoke_call.clone())]);
    assert_eq!(r[0].as_ref().unwrap_err().code(), "mempool_full");
    // A regulator's proposal, and the organisation admin's own revocation, do.
    let r = submit(&app, vec![call_tx(&key("agri"), 0, revoke_call)]);
    assert!(r[0].is_ok(), "{:?}", r[0]);
    let r = submit(&app, vec![call_tx(&admin("farm"), 0, Revoke { member: flooder.public() }.to_call())]);
    assert!(r[0].is_ok(), "{:?}", r[0]);
}

/// Issue 9 item 9: per-signer cap and nonce window refuse with their own codes.
#[test]
fn per_signer_cap_and_nonce_window_have_codes() {
    use jialing_node::mempool::MempoolLimits;
    let dir = tempfile::tempdir().unwrap();
    let app = open_with(
        dir.path(),
        MempoolLimits { max_per_signer: 3, nonce_window: 5, ..MempoolLimits::new(1 << 24, 1000) },
    );
    let a = admin("farm");
    let r = submit(&app, (0..4).map(|n| certify_tx(&a, n, &Keypair::from_label(&format!("m{n}")))).collect());
    assert_eq!(r[3].as_ref().unwrap_err().code(), "too_many_pending");
    let r = submit(&app, vec![certify_tx(&admin("market"), 5, &Keypair::from_label("x"))]);
    assert_eq!(r[0].as_ref().unwrap_err().code(), "nonce_too_far");
}

/// Issue 9 item 10: membership comes before signatures, so a non-member's batch with
/// garbage signatures is refused as `not_member` without verifying it.
#[test]
fn membership_is_checked_before_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let stranger = Keypair::from_label("stranger");
    let mut t = certify_tx(&stranger, 0, &Keypair::from_label("m"));
    t.signature.0[0] ^= 1;
    assert_eq!(submit(&app, vec![t])[0].as_ref().unwrap_err().code(), "not_member");
}

/// A node that signs nothing executes block h+1 while block h is written: the next
/// block validates against h's writes (nonces, members) before h is durable, the
/// shared tip (what the API serves) moves only once h is stored, and after a reopen
/// both blocks are there with the same state root.
#[test]
fn deferred_commits_execute_on_pending_writes_and_publish_only_durable_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let proposer_dir = tempfile::tempdir().unwrap();
    let vals = validators();
    let refs: Vec<&Keypair> = vals.iter().take(3).collect();
    let a = admin("farm");
    // A validator builds two blocks; the second's nonces follow the first's.
    let mut proposer = open(proposer_dir.path());
    let mut blocks = Vec::new();
    for (round, range) in [(0u64, 0..10u64), (1, 10..20)] {
        let txs: Vec<_> = range.map(|i| certify_tx(&a, i, &Keypair::from_label(&format!("d{i}")))).collect();
        assert!(submit(&proposer, txs).iter().all(|r| r.is_ok()));
        let p = proposer.propose(vals[0].public(), GENESIS_MS + 10_000 * (round + 1), 1000, 1 << 22).unwrap();
        let cert = CommitCertificate::sign("jialing-test", p.header.height, 0, p.hash(), &refs);
        blocks.push((p.block(), cert.clone()));
        proposer.commit(p, &cert).unwrap();
    }
    let root = proposer.tip().header.state_root;
    let mut app = open(dir.path());
    let ledger = app.ledger().clone();
    let (b1, c1) = &blocks[0];
    let p1 = app.validate(b1).unwrap();
    app.commit_with(p1, c1, Durability::Deferred).unwrap();
    assert_eq!(app.tip().header.height, 1, "block production moves on at once");
    // Block 2 spends nonces 10..20 of the admin: it validates only on block 1's writes.
    let (b2, c2) = &blocks[1];
    let p2 = app.validate(b2).expect("validated against the pending block's writes");
    let published = ledger.tip.read().unwrap().header.height;
    let stored = ledger.store.tip().unwrap();
    assert!(published <= stored.unwrap(), "the API never sees a block before it is stored");
    app.commit_with(p2, c2, Durability::Deferred).unwrap();
    app.settle().unwrap();
    assert_eq!(ledger.tip.read().unwrap().header.height, 2);
    assert_eq!(ledger.store.tip().unwrap(), Some(2));
    drop((app, ledger));
    let app = open(dir.path());
    assert_eq!(app.tip().header.height, 2);
    assert_eq!(app.tip().header.state_root, root);
}
