//! Governance rules: proposals, approvals by regulator organisations, quorum and the
//! effective height applied at block start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use jialing_contracts::governance::{
    Action, Approve, ParamChange, ParamsRecord, Proposal, ProposalStatus, Propose, Withdraw, params_key, proposal_key,
};
use jialing_contracts::membership::{Certify, Member, Organisation};
use jialing_contracts::params::Params;
use jialing_contracts::testkit::{TestLedger, admin, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{AdmissionError, keys};
use jialing_core::{Keypair, Role, Uscc, Validator, ValidatorSet, encoding};

/// State without nonces (a refused tx still bumps its signer's nonce).
fn state(l: &TestLedger) -> BTreeMap<Vec<u8>, Vec<u8>> {
    l.snapshot().into_iter().filter(|(k, _)| !k.starts_with(b"nonce/")).collect()
}

fn new_org(name: &str, roles: Vec<Role>, validator: Option<Validator>) -> Organisation {
    Organisation {
        uscc: Uscc::complete("91500230MA0002000").unwrap(),
        name: name.into(),
        roles,
        admin: Keypair::from_label(&format!("{name}/admin")).public(),
        node_keys: vec![],
        validator,
        contact: "contact".into(),
        active: true,
    }
}

/// Proposes by `agri`; returns (proposal id, effective height).
fn propose(l: &mut TestLedger, action: Action, after: u64) -> (String, u64) {
    let eff = l.height + 1 + after;
    let r = l.call(&key("agri"), &Propose { action, effective_height: eff }).unwrap();
    expect_ok(&r);
    (r.tx_hash.to_hex(), eff)
}

fn approve(l: &mut TestLedger, org: &str, id: &str) {
    expect_ok(&l.call(&key(org), &Approve { id: id.into() }).unwrap());
}

/// Runs empty blocks until the block at `height` has been committed.
fn run_to(l: &mut TestLedger, height: u64) {
    while l.height < height {
        l.block(&[]).unwrap();
    }
}

fn proposal(l: &TestLedger, id: &str) -> Proposal {
    l.get(&proposal_key(id)).unwrap()
}

/// Proposes, approves by 3 of 4 regulators and runs to the effective height.
fn pass(l: &mut TestLedger, action: Action) -> Proposal {
    let (id, eff) = propose(l, action, 4);
    approve(l, "market", &id);
    approve(l, "credit", &id);
    run_to(l, eff);
    proposal(l, &id)
}

#[test]
fn governance_regulators_only() {
    let mut l = TestLedger::new();
    let before = state(&l);
    let p = Propose { action: Action::RemoveOrg { uscc: uscc("shop") }, effective_height: 10 };
    expect_refused(&l.call(&key("farm"), &p).unwrap(), "wrong_role");
    expect_refused(&l.call(&key("exchange"), &p).unwrap(), "wrong_role");
    assert_eq!(state(&l), before);
    let (id, _) = propose(&mut l, Action::RemoveOrg { uscc: uscc("shop") }, 4);
    let before = state(&l);
    expect_refused(&l.call(&key("farm"), &Approve { id: id.clone() }).unwrap(), "wrong_role");
    expect_refused(&l.call(&admin("market"), &Approve { id }).unwrap(), "wrong_role");
    assert_eq!(state(&l), before);
}

#[test]
fn governance_one_vote_per_org() {
    let mut l = TestLedger::new();
    let (id, _) = propose(&mut l, Action::RemoveOrg { uscc: uscc("shop") }, 5);
    let before = state(&l);
    expect_refused(&l.call(&key("agri"), &Approve { id: id.clone() }).unwrap(), "governance.one_vote_per_org");
    assert_eq!(state(&l), before);
    approve(&mut l, "market", &id);
    let before = state(&l);
    expect_refused(&l.call(&key("market"), &Approve { id: id.clone() }).unwrap(), "governance.one_vote_per_org");
    assert_eq!(state(&l), before);
    assert_eq!(proposal(&l, &id).approvals.len(), 2);
}

#[test]
fn governance_quorum_required() {
    let mut l = TestLedger::new();
    let (id, eff) = propose(&mut l, Action::RemoveOrg { uscc: uscc("shop") }, 4);
    approve(&mut l, "market", &id); // 2 of 4 is not more than two thirds
    run_to(&mut l, eff);
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Expired);
    assert!(l.get::<Organisation>(&keys::org(&uscc("shop"))).unwrap().active);
    // Approving after the effective height counts for nothing.
    expect_refused(&l.call(&key("credit"), &Approve { id: id.clone() }).unwrap(), "governance.pending_only");
    assert!(l.get::<Organisation>(&keys::org(&uscc("shop"))).unwrap().active);
}

#[test]
fn governance_effective_height() {
    let mut l = TestLedger::new();
    let (id, eff) = propose(&mut l, Action::RemoveOrg { uscc: uscc("shop") }, 6);
    approve(&mut l, "market", &id);
    approve(&mut l, "credit", &id);
    run_to(&mut l, eff - 1);
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Pending);
    assert!(l.get::<Organisation>(&keys::org(&uscc("shop"))).unwrap().active);
    l.block(&[]).unwrap();
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Applied);
    assert!(!l.get::<Organisation>(&keys::org(&uscc("shop"))).unwrap().active);
    assert!(matches!(l.call(&key("shop"), &Approve { id }), Err(AdmissionError::OrgInactive { .. })));
}

#[test]
fn governance_height_in_future() {
    let mut l = TestLedger::new();
    let before = state(&l);
    let now = l.height + 1;
    for h in [now, now - 1] {
        let p = Propose { action: Action::RemoveOrg { uscc: uscc("shop") }, effective_height: h };
        expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.height_in_future");
    }
    assert_eq!(state(&l), before);
}

#[test]
fn governance_add_org_validates_uscc_and_refuses_duplicates() {
    let mut l = TestLedger::new();
    let before = state(&l);
    let mut org = new_org("coop", vec![Role::Producer], None);
    org.uscc = encoding::decode("uscc", &encoding::encode(&"91500230MA00020001".to_string())).unwrap();
    let p = Propose { action: Action::AddOrg { org }, effective_height: l.height + 5 };
    expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.valid_uscc");
    let mut dup = new_org("coop", vec![Role::Producer], None);
    dup.uscc = uscc("farm");
    let p = Propose { action: Action::AddOrg { org: dup }, effective_height: l.height + 5 };
    expect_refused(&l.call(&key("agri"), &p).unwrap(), "already_exists");
    assert_eq!(state(&l), before);
}

#[test]
fn governance_keeps_a_validator() {
    let mut l = TestLedger::new();
    for org in ["market", "credit", "bigdata"] {
        let p = pass(&mut l, Action::SetValidator { org: uscc(org), validator: None });
        assert_eq!(p.status, ProposalStatus::Applied);
    }
    assert_eq!(l.get::<ValidatorSet>(keys::VALIDATORS).unwrap().validators.len(), 1);
    let before = state(&l);
    let p =
        Propose { action: Action::SetValidator { org: uscc("agri"), validator: None }, effective_height: l.height + 5 };
    expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.keeps_a_validator");
    assert_eq!(state(&l), before);
}

#[test]
fn governance_params_valid() {
    let mut l = TestLedger::new();
    let before = state(&l);
    let changes = vec![ParamChange { field: "governance.quorum_numerator".into(), value: "0".into() }];
    let p = Propose { action: Action::SetParams { changes }, effective_height: l.height + 5 };
    expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.params_valid");
    let changes = vec![ParamChange { field: "governance.quorum".into(), value: "1".into() }];
    let p = Propose { action: Action::SetParams { changes }, effective_height: l.height + 5 };
    expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.param_field_known");
    assert_eq!(state(&l), before);
}

#[test]
fn governance_withdraw_by_proposer() {
    let mut l = TestLedger::new();
    let (id, eff) = propose(&mut l, Action::RemoveOrg { uscc: uscc("shop") }, 5);
    approve(&mut l, "market", &id);
    approve(&mut l, "credit", &id);
    expect_refused(&l.call(&key("market"), &Withdraw { id: id.clone() }).unwrap(), "governance.proposer_withdraws");
    expect_ok(&l.call(&key("agri"), &Withdraw { id: id.clone() }).unwrap());
    run_to(&mut l, eff);
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Withdrawn);
    assert!(l.get::<Organisation>(&keys::org(&uscc("shop"))).unwrap().active);
}

#[test]
fn governance_end_to_end_add_org() {
    let mut l = TestLedger::new();
    let org = new_org("coop", vec![Role::Producer], None);
    let coop_admin = Keypair::from_label("coop/admin");
    let coop_key = Keypair::from_label("coop/op");
    let (id, eff) = propose(&mut l, Action::AddOrg { org: org.clone() }, 5);
    approve(&mut l, "market", &id);
    approve(&mut l, "credit", &id);
    run_to(&mut l, eff - 2);
    // The block at eff - 1 would not admit the new admin yet.
    let certify = Certify { member: coop_key.public(), roles: vec![Role::Producer], expires_ms: u64::MAX };
    assert!(matches!(l.call(&coop_admin, &certify), Err(AdmissionError::UnknownSigner(_))));
    l.block(&[]).unwrap();
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Pending);
    // The block at eff applies the proposal first, then admits the admin's certify.
    expect_ok(&l.call(&coop_admin, &certify).unwrap());
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Applied);
    assert_eq!(l.get::<Organisation>(&keys::org(&org.uscc)), Some(org.clone()));
    assert_eq!(l.get::<Member>(&keys::member(&coop_key.public())).unwrap().org, org.uscc);
    // The new key is admitted (its producer role cannot call governance, but it signs).
    let r = l.call(&coop_key, &Approve { id }).unwrap();
    expect_refused(&r, "wrong_role");
}

#[test]
fn governance_rotate_admin() {
    let mut l = TestLedger::new();
    let new_admin = Keypair::from_label("farm/admin2");
    let p = pass(&mut l, Action::RotateAdmin { org: uscc("farm"), admin: new_admin.public() });
    assert_eq!(p.status, ProposalStatus::Applied);
    let certify =
        Certify { member: Keypair::from_label("farm/x").public(), roles: vec![Role::Producer], expires_ms: u64::MAX };
    assert!(matches!(l.call(&admin("farm"), &certify), Err(AdmissionError::Revoked(_))));
    expect_ok(&l.call(&new_admin, &certify).unwrap());
}

#[test]
fn governance_params_change_at_height() {
    let mut l = TestLedger::new();
    let changes = vec![ParamChange { field: "governance.max_proposal_lifetime_blocks".into(), value: "3".into() }];
    let (id, eff) = propose(&mut l, Action::SetParams { changes }, 5);
    approve(&mut l, "market", &id);
    approve(&mut l, "bigdata", &id);
    run_to(&mut l, eff - 2);
    // Before the effective height the old lifetime (100 000 blocks) is in force.
    let far = Propose { action: Action::RemoveOrg { uscc: uscc("shop") }, effective_height: l.height + 10 };
    expect_ok(&l.call(&key("market"), &far).unwrap());
    assert_eq!(l.height, eff - 1);
    assert_eq!(l.get::<Params>(keys::PARAMS).unwrap().version, 1);
    let far = Propose { action: Action::RemoveOrg { uscc: uscc("shop") }, effective_height: l.height + 11 };
    let r = l.call(&key("market"), &far).unwrap(); // executed at the effective height
    expect_refused(&r, "governance.max_lifetime");
    let now: Params = l.get(keys::PARAMS).unwrap();
    assert_eq!((now.version, now.governance.max_proposal_lifetime_blocks), (2, 3));
    let rec: ParamsRecord = l.get(&params_key(2)).unwrap();
    assert_eq!((rec.version, rec.effective_height), (2, eff));
}

#[test]
fn governance_action_revalidated_at_height() {
    let mut l = TestLedger::new();
    let org = new_org("coop", vec![Role::Producer], None);
    let (first, eff1) = propose(&mut l, Action::AddOrg { org: org.clone() }, 6);
    let (second, eff2) = propose(&mut l, Action::AddOrg { org: org.clone() }, 6);
    for id in [&first, &second] {
        approve(&mut l, "market", id);
        approve(&mut l, "credit", id);
    }
    run_to(&mut l, eff2.max(eff1));
    assert_eq!(proposal(&l, &first).status, ProposalStatus::Applied);
    assert!(
        matches!(proposal(&l, &second).status, ProposalStatus::Failed { ref reason } if reason.starts_with("already_exists"))
    );
    assert_eq!(l.get::<Organisation>(&keys::org(&org.uscc)), Some(org));
}

#[test]
fn governance_set_params_changes_named_fields() {
    let mut l = TestLedger::new();
    let ch = |field: &str, value: &str| vec![ParamChange { field: field.into(), value: value.into() }];
    // Two proposals, made against the same parameters, change different fields and
    // take effect at different heights: the second keeps the first's change.
    let (a, eff_a) = propose(&mut l, Action::SetParams { changes: ch("block.max_txs", "5000") }, 4);
    let (b, eff_b) =
        propose(&mut l, Action::SetParams { changes: ch("credit.calendar.holidays", r#"["2027-01-01"]"#) }, 6);
    for id in [&a, &b] {
        approve(&mut l, "market", id);
        approve(&mut l, "credit", id);
    }
    run_to(&mut l, eff_a.max(eff_b));
    assert_eq!(proposal(&l, &a).status, ProposalStatus::Applied);
    assert_eq!(proposal(&l, &b).status, ProposalStatus::Applied);
    let now: Params = l.get(keys::PARAMS).unwrap();
    assert_eq!(now.version, 3);
    assert_eq!(now.block.max_txs, 5000, "the first change survives the second");
    assert_eq!(now.credit.calendar.holidays, vec!["2027-01-01".to_string()]);
    assert_eq!(now.data, Params::default().data, "untouched fields stay");
}

#[test]
fn governance_rotate_validator() {
    let mut l = TestLedger::new();
    let old = jialing_contracts::testkit::validator("market").public();
    let new = Keypair::from_label("market/validator2").public();
    let power = |l: &TestLedger, k: &jialing_core::PublicKey| l.validators().get(k).map(|v| v.power);
    assert_eq!(power(&l, &old), Some(1));

    // Refused when proposed: an old key that is not a validator, a new key that already
    // validates, the same key twice. Nothing changes.
    let before = state(&l);
    let eff = l.height + 5;
    let stranger = Keypair::from_label("nobody/validator").public();
    let other = jialing_contracts::testkit::validator("credit").public();
    for (o, n) in [(stranger, new), (old, other), (old, old)] {
        let p = Propose { action: Action::RotateValidator { old: o, new: n }, effective_height: eff };
        expect_refused(&l.call(&key("agri"), &p).unwrap(), "governance.rotate_validator");
    }
    assert_eq!(state(&l), before);

    // Applied at its height: same organisation, same power, the old key gone.
    let (id, eff) = propose(&mut l, Action::RotateValidator { old, new }, 4);
    approve(&mut l, "market", &id);
    approve(&mut l, "credit", &id);
    run_to(&mut l, eff - 1);
    assert_eq!(power(&l, &new), None, "the new key must not validate before the effective height");
    run_to(&mut l, eff);
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Applied);
    assert_eq!(power(&l, &old), None);
    assert_eq!(power(&l, &new), Some(1));
    assert_eq!(l.validators().validators.len(), 4);
    let org: Organisation = l.get(&keys::org(&uscc("market"))).unwrap();
    assert_eq!(org.validator, Some(Validator { public_key: new, power: 1 }));

    // Re-checked when due: of two rotations of the same key, the later one fails.
    let third = Keypair::from_label("market/validator3").public();
    let (id, eff) = propose(&mut l, Action::RotateValidator { old: new, new: stranger }, 8);
    let (id2, eff2) = propose(&mut l, Action::RotateValidator { old: new, new: third }, 8);
    assert!(eff2 > eff);
    for p in [&id, &id2] {
        approve(&mut l, "market", p);
        approve(&mut l, "credit", p);
    }
    run_to(&mut l, eff2);
    assert_eq!(proposal(&l, &id).status, ProposalStatus::Applied);
    assert!(matches!(proposal(&l, &id2).status, ProposalStatus::Failed { .. }), "{:?}", proposal(&l, &id2).status);
    assert_eq!(power(&l, &stranger), Some(1));
    assert_eq!(power(&l, &third), None);
}

proptest::proptest! {
    /// `rotate_validator` survives the wire (borsh) and the CLI's JSON unchanged.
    #[test]
    fn rotate_validator_action_roundtrips(old in 0u64..1_000_000, new in 0u64..1_000_000) {
        let key = |n: u64| Keypair::from_label(&format!("prop/validator/{n}")).public();
        let p = Propose { action: Action::RotateValidator { old: key(old), new: key(new) }, effective_height: old ^ new };
        let back: Propose = encoding::decode("propose", &encoding::encode(&p)).unwrap();
        proptest::prop_assert_eq!(&back, &p);
        let json: Propose = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        proptest::prop_assert_eq!(json, p);
    }
}
