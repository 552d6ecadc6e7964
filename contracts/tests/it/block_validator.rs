//! The one block validator (issue 9, items 5 and 11): header, consensus limits, roots,
//! admission and signatures, judged the same by every caller.

use jialing_contracts::block_validator::{BlockError, InvalidBlock};
use jialing_contracts::membership::Certify;
use jialing_contracts::params::{BlockLimits, Params};
use jialing_contracts::registry::CallPayload;
use jialing_contracts::testkit::{TestLedger, admin, key};
use jialing_core::{Block, Keypair, SignedTransaction};

fn certify(l: &TestLedger, nonce: u64, who: &str) -> SignedTransaction {
    let member = Keypair::from_label(who).public();
    let payload = Certify { member, roles: vec![jialing_core::Role::Producer], expires_ms: u64::MAX };
    l.sign_with_nonce(&admin("farm"), &payload, nonce)
}

fn retx_root(b: &mut Block) {
    let hashes: Vec<_> = b.txs.iter().map(|t| t.hash()).collect();
    b.header.tx_root = Block::tx_root_of_txs(&b.txs, &hashes);
}

fn invalid(l: &mut TestLedger, b: &Block) -> InvalidBlock {
    match l.apply_block(b) {
        Err(BlockError::Invalid(e)) => e,
        Err(e) => panic!("expected an invalid block, got {e}"),
        Ok(_) => panic!("an invalid block was accepted"),
    }
}

#[test]
fn a_built_block_validates_and_applies() {
    let mut l = TestLedger::new();
    let txs: Vec<_> = (0..3).map(|i| certify(&l, i, &format!("m{i}"))).collect();
    let b = l.build_block(&txs).unwrap();
    assert_eq!(l.apply_block(&b).unwrap().len(), 3);
    assert_eq!(l.height, 1);
}

#[test]
fn block_limits_in_force_are_enforced_by_the_validator() {
    let params = Params { block: BlockLimits { max_txs: 2, max_bytes: 64 * 1024 }, ..Params::default() };
    let mut l = TestLedger::with_params(params);
    let txs: Vec<_> = (0..3).map(|i| certify(&l, i, &format!("m{i}"))).collect();
    let b = l.build_block(&txs).unwrap();
    assert!(matches!(invalid(&mut l, &b), InvalidBlock::Limit { what: "transactions", limit: 2, got: 3 }));
    let b = l.build_block(&txs[..2]).unwrap();
    l.apply_block(&b).unwrap();
}

#[test]
fn a_proposer_outside_the_validator_set_is_refused() {
    // The audit replay did not check this before it called the shared validator.
    let mut l = TestLedger::new();
    let mut b = l.build_block(&[certify(&l, 0, "m")]).unwrap();
    b.header.proposer = key("farm").public();
    assert!(matches!(invalid(&mut l, &b), InvalidBlock::Header { field: "proposer", .. }));
}

#[test]
fn a_forged_history_root_is_refused() {
    // A block that rewrites the history of the blocks before it (another root, or the
    // root of a shorter or longer history) is refused by every node.
    let mut l = TestLedger::new();
    let genesis = l.tip.hash();
    l.apply_block(&l.build_block(&[certify(&l, 0, "a")]).unwrap()).unwrap();
    let b = l.build_block(&[certify(&l, 1, "b")]).unwrap();
    assert_eq!(b.header.history_root, jialing_core::merkle::root_of_hashes(&[genesis, l.tip.hash()]));
    let mut forged = b.clone();
    forged.header.history_root.0[7] ^= 1;
    assert!(matches!(invalid(&mut l, &forged), InvalidBlock::Header { field: "history_root", .. }));
    let mut shorter = b.clone();
    shorter.header.history_root = jialing_core::merkle::root_of_hashes(&[genesis]);
    assert!(matches!(invalid(&mut l, &shorter), InvalidBlock::Header { field: "history_root", .. }));
    l.apply_block(&b).unwrap();
}

#[test]
fn cheap_checks_come_before_signatures() {
    // A block with a bad signature and a non-member's transaction is refused for
    // admission, found before any signature is checked.
    let mut l = TestLedger::new();
    let stranger = Keypair::from_label("stranger");
    let mut txs = vec![certify(&l, 0, "m")];
    let (c, m, p) = CallPayload::to_call(&Certify {
        member: Keypair::from_label("z").public(),
        roles: vec![jialing_core::Role::Producer],
        expires_ms: u64::MAX,
    });
    txs.push(
        jialing_core::Transaction {
            chain_id: l.chain_id.clone(),
            signer: stranger.public(),
            nonce: 0,
            contract: c,
            method: m,
            payload: p,
        }
        .sign(&stranger),
    );
    let mut b = l.build_block(&txs[..1]).unwrap();
    b.txs = txs;
    b.txs[0].signature.0[5] ^= 1;
    b.header.tx_count = 2;
    retx_root(&mut b);
    assert!(matches!(invalid(&mut l, &b), InvalidBlock::Inadmissible { index: 1, .. }));
}

#[test]
fn signatures_and_roots_are_checked() {
    let mut l = TestLedger::new();
    let b = l.build_block(&[certify(&l, 0, "a"), certify(&l, 1, "b")]).unwrap();
    let mut bad = b.clone();
    bad.txs[1].signature.0[3] ^= 1;
    assert!(matches!(invalid(&mut l, &bad), InvalidBlock::Root { what: "tx_root", .. }));
    retx_root(&mut bad);
    assert!(matches!(invalid(&mut l, &bad), InvalidBlock::BadSignature { index: 1, .. }));
    let mut bad = b.clone();
    bad.header.state_root.0[0] ^= 1;
    assert!(matches!(invalid(&mut l, &bad), InvalidBlock::Root { what: "state_root", .. }));
    let mut bad = b.clone();
    bad.header.time_ms = l.tip.time_ms;
    assert!(matches!(invalid(&mut l, &bad), InvalidBlock::Header { field: "time_ms", .. }));
    let mut bad = b.clone();
    bad.header.tx_count = 3;
    assert!(matches!(invalid(&mut l, &bad), InvalidBlock::Header { field: "tx_count", .. }));
    l.apply_block(&b).unwrap();
}

/// A caller that hands over its own transaction hashes gets the same verdict as one
/// that does not, and a hash list of the wrong length is a local error, never a
/// verdict on the block.
#[test]
fn precomputed_hashes_give_the_same_verdict() {
    use jialing_contracts::block_validator::{Parent, validate_block, validate_block_hashed};
    let l = TestLedger::new();
    let txs: Vec<_> = (0..3).map(|i| certify(&l, i, &format!("m{i}"))).collect();
    let b = l.build_block(&txs).unwrap();
    let set = l.validators();
    let parent = || Parent { header: &l.tip, hash: l.tip.hash(), validators: &set, history: &l.history };
    let hashes: Vec<_> = b.txs.iter().map(|t| t.hash()).collect();
    let plain = validate_block(parent(), &l.state, &l.tree, &b, &|_, _, _| false).unwrap();
    let hashed = validate_block_hashed(parent(), &l.state, &l.tree, &b, &hashes, &|_, _, _| false).unwrap();
    assert_eq!((plain.hashes, plain.outcome.state_root), (hashed.hashes, hashed.outcome.state_root));
    match validate_block_hashed(parent(), &l.state, &l.tree, &b, &hashes[..2], &|_, _, _| false) {
        Err(BlockError::Storage(e)) => assert!(e.contains("2 transaction hashes"), "{e}"),
        other => panic!("a short hash list must be a local error: {other:?}"),
    }
}
