//! Admission and membership rules.

use jialing_contracts::membership::{Certify, Member, Revoke};
use jialing_contracts::testkit::{TestLedger, admin, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{AdmissionError, keys};
use jialing_core::{Keypair, Role};

#[test]
fn admission_refuses_unknown_signer() {
    let mut l = TestLedger::new();
    let stranger = Keypair::from_label("stranger");
    let p = Certify { member: stranger.public(), roles: vec![Role::Producer], expires_ms: u64::MAX };
    let before = l.snapshot();
    assert!(matches!(l.call(&stranger, &p), Err(AdmissionError::UnknownSigner(_))));
    assert_eq!(l.snapshot(), before);
}

#[test]
fn admission_refuses_replayed_and_gapped_nonces() {
    let mut l = TestLedger::new();
    let a = admin("farm");
    let new = Keypair::from_label("farm/new");
    let p = Certify { member: new.public(), roles: vec![Role::Producer], expires_ms: u64::MAX };
    let tx0 = l.sign(&a, &p);
    expect_ok(&l.block(std::slice::from_ref(&tx0)).unwrap()[0]);
    let err = l.block(&[tx0]).unwrap_err();
    assert!(matches!(err, AdmissionError::BadNonce { expected: 1, got: 0, .. }), "{err}");
    assert!(err.to_string().contains("replay"));
    let gap = l.sign_with_nonce(&a, &p, 5);
    assert!(l.block(&[gap]).unwrap_err().to_string().contains("gap"));
}

#[test]
fn a_key_revoked_mid_block_is_refused_for_the_rest_of_that_block() {
    // The executor remembers admitted members within a block; a revocation in the same
    // block must still shut the key out from the next transaction on.
    let mut l = TestLedger::new();
    let (a, farm) = (admin("farm"), key("farm"));
    let probe = Keypair::from_label("farm/probe");
    let before = l.sign(&farm, &Revoke { member: probe.public() });
    let revoke = l.sign(&a, &Revoke { member: farm.public() });
    let after = l.sign_with_nonce(&farm, &Revoke { member: probe.public() }, l.nonce(&farm.public()) + 1);
    let err = l.block(&[before.clone(), revoke.clone(), after]).unwrap_err();
    assert!(matches!(err, AdmissionError::Revoked(_)), "{err}");
    // Without the late transaction the block is fine.
    assert_eq!(l.block(&[before, revoke]).unwrap().len(), 2);
}

#[test]
fn admission_refuses_wrong_chain() {
    let mut l = TestLedger::new();
    let a = admin("farm");
    let mut stx = l.sign(&a, &Revoke { member: key("farm").public() });
    stx.tx.chain_id = "other".into();
    assert!(matches!(l.block(&[stx]), Err(AdmissionError::WrongChain { .. })));
}

#[test]
fn admission_refuses_expired_and_revoked_keys() {
    let mut l = TestLedger::new();
    let a = admin("farm");
    let temp = Keypair::from_label("farm/temp");
    let expires = l.time_ms + 5_000;
    expect_ok(
        &l.call(&a, &Certify { member: temp.public(), roles: vec![Role::Producer], expires_ms: expires }).unwrap(),
    );
    l.advance(10_000);
    let err = l.call(&temp, &Revoke { member: temp.public() }).unwrap_err();
    assert!(matches!(err, AdmissionError::Expired { .. }), "{err}");

    expect_ok(&l.call(&a, &Revoke { member: key("farm").public() }).unwrap());
    let err = l.call(&key("farm"), &Revoke { member: temp.public() }).unwrap_err();
    assert!(matches!(err, AdmissionError::Revoked(_)), "{err}");
}

#[test]
fn wrong_role_is_refused_with_roles_named_and_changes_only_the_nonce() {
    let mut l = TestLedger::new();
    let before = l.snapshot();
    let r = l
        .call(
            &key("farm"),
            &Certify { member: Keypair::from_label("x").public(), roles: vec![Role::Producer], expires_ms: u64::MAX },
        )
        .unwrap();
    let msg = expect_refused(&r, "wrong_role");
    assert!(msg.contains("admin") && msg.contains("producer"), "{msg}");
    let mut after = l.snapshot();
    after.remove(&keys::nonce(&key("farm").public()));
    assert_eq!(after, before);
}

#[test]
fn membership_roles_within_org() {
    let mut l = TestLedger::new();
    let r = l
        .call(
            &admin("farm"),
            &Certify { member: Keypair::from_label("x").public(), roles: vec![Role::Inspector], expires_ms: u64::MAX },
        )
        .unwrap();
    assert!(expect_refused(&r, "membership.roles_within_org").contains("does not hold role inspector"));
    let r = l
        .call(
            &admin("farm"),
            &Certify { member: Keypair::from_label("x").public(), roles: vec![], expires_ms: u64::MAX },
        )
        .unwrap();
    expect_refused(&r, "membership.roles_within_org");
}

#[test]
fn membership_one_org_per_key() {
    let mut l = TestLedger::new();
    let r = l
        .call(
            &admin("farm2"),
            &Certify { member: key("farm").public(), roles: vec![Role::Producer], expires_ms: u64::MAX },
        )
        .unwrap();
    expect_refused(&r, "membership.one_org_per_key");
}

#[test]
fn membership_own_org_only_for_revocation() {
    let mut l = TestLedger::new();
    let r = l.call(&admin("farm2"), &Revoke { member: key("farm").public() }).unwrap();
    expect_refused(&r, "membership.own_org_only");
    let m: Member = l.get(&keys::member(&key("farm").public())).unwrap();
    assert!(!m.revoked);
    assert_eq!(m.org, uscc("farm"));
}

#[test]
fn membership_revoked_is_final() {
    let mut l = TestLedger::new();
    expect_ok(&l.call(&admin("farm"), &Revoke { member: key("farm").public() }).unwrap());
    let r = l
        .call(
            &admin("farm"),
            &Certify { member: key("farm").public(), roles: vec![Role::Producer], expires_ms: u64::MAX },
        )
        .unwrap();
    expect_refused(&r, "membership.revoked_is_final");
}

#[test]
fn membership_expiry_in_future() {
    let mut l = TestLedger::new();
    let now = l.time_ms;
    let r = l
        .call(
            &admin("farm"),
            &Certify { member: Keypair::from_label("x").public(), roles: vec![Role::Producer], expires_ms: now },
        )
        .unwrap();
    expect_refused(&r, "membership.expiry_in_future");
}

#[test]
fn unknown_method_is_refused() {
    let mut l = TestLedger::new();
    let mut stx = l.sign(&admin("farm"), &Revoke { member: key("farm").public() });
    stx.tx.method = "frobnicate".into();
    let stx = stx.tx.sign(&admin("farm"));
    let r = l.block(&[stx]).unwrap();
    expect_refused(&r[0], "unknown_method");
}

#[test]
fn execution_is_deterministic() {
    let run = || {
        let mut l = TestLedger::new();
        for i in 0..5 {
            let k = Keypair::from_label(&format!("m{i}"));
            l.call(&admin("farm"), &Certify { member: k.public(), roles: vec![Role::Producer], expires_ms: u64::MAX })
                .unwrap();
        }
        l.root()
    };
    assert_eq!(run(), run());
}
