//! Credit register (domain.md "Register 3" and "Reference facts ... Credit repair"):
//! one test per rule, named after it, the happy path of a record's life, and a
//! property test of the state machine.

use jialing_contracts::credit::LogQuery;
use jialing_contracts::credit::{
    AcceptApplication, ApplyRepair, Category, Commit, CreditParams, CreditRules, DecideRepair, DishonestyRecord,
    Domain, ListKind, MarkIncomplete, Object, Phase, RecordDishonesty, Reinstate, ResolveObjection, SetList, Status,
    Subject, calendar, full_view, joint_punishment_in_state, phase, public_view, store,
};
use jialing_contracts::credit::{Commitment, RULES_2026_EFFECTIVE_MS};
use jialing_contracts::params::{DAY_MS, Params};
use jialing_contracts::testkit::{GENESIS_MS, TestLedger, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{Receipt, TagKind, keys, registry};
use jialing_core::{Hash, sha256};
use proptest::prelude::*;

const CST: i32 = 480;

fn h(label: &str) -> Hash {
    sha256(label.as_bytes())
}

fn org(name: &str) -> Subject {
    Subject::Org(uscc(name))
}

fn record_payload(
    id: &str,
    subject: Subject,
    category: Category,
    domain: Domain,
    decision_date_ms: u64,
) -> RecordDishonesty {
    RecordDishonesty {
        id: id.into(),
        subject,
        category,
        domain,
        summary: format!("{id}: sold produce over the pesticide residue limit"),
        decision_document: h(&format!("decision {id}")),
        decision_date_ms,
    }
}

/// `by` records `id` against farm, decided a day before genesis.
fn record(l: &mut TestLedger, by: &str, id: &str, category: Category, domain: Domain) {
    let p = record_payload(id, org("farm"), category, domain, GENESIS_MS - DAY_MS);
    expect_ok(&l.call(&key(by), &p).unwrap());
}

fn get(l: &TestLedger, id: &str) -> DishonestyRecord {
    l.get(&store::record_key(id)).unwrap_or_else(|| panic!("record {id} missing"))
}

fn commit(l: &mut TestLedger, by: &str, id: &str) {
    let p = Commit { id: id.into(), promise: "we will keep the law".into(), document: h(id), person: None };
    expect_ok(&l.call(&key(by), &p).unwrap());
}

fn apply(id: &str, commitment: &str) -> ApplyRepair {
    ApplyRepair { record_id: id.into(), materials: vec![h("fine paid")], commitment_id: commitment.into() }
}

fn decide(id: &str, approve: bool) -> DecideRepair {
    DecideRepair { record_id: id.into(), approve, reasons: "obligations fulfilled".into() }
}

/// Calls and asserts the refusal `code` changed nothing but the signer's nonce.
fn refused<P: jialing_contracts::CallPayload>(l: &mut TestLedger, by: &str, p: &P, code: &str) -> String {
    let before = l.snapshot();
    let r: Receipt = l.call(&key(by), p).unwrap();
    let msg = expect_refused(&r, code);
    let mut after = l.snapshot();
    let nonce_key = keys::nonce(&key(by).public());
    after.remove(&nonce_key);
    let mut before = before;
    before.remove(&nonce_key);
    assert_eq!(after, before, "refused {code} changed state");
    msg
}

fn punished(l: &TestLedger, name: &str) -> bool {
    joint_punishment_in_state(&l.state, &uscc(name), l.time_ms).unwrap()
}

#[test]
fn credit_happy_path_record_publish_repair_reinstate() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "R1", Category::Serious, Domain::Food);
    let r = get(&l, "R1");
    assert_eq!(r.status, Status::Published);
    assert_eq!(r.authority, uscc("market"));
    assert_eq!(r.window.rules_version, 1);
    assert_eq!(r.window.max_until_ms, calendar::add_months(r.window.from_ms, 36, CST));
    assert_eq!(r.window.min_until_ms, calendar::add_months(r.window.from_ms, 12, CST));
    assert!(public_view(&r, l.time_ms).is_some());
    assert!(!punished(&l, "farm"), "not listed yet");

    expect_ok(
        &l.call(
            &key("market"),
            &SetList {
                record_id: "R1".into(),
                list: ListKind::SeriousDishonesty,
                enter: true,
                reasons: "serious food case".into(),
            },
        )
        .unwrap(),
    );
    assert!(punished(&l, "farm"));
    assert!(!punished(&l, "farm2"));

    commit(&mut l, "farm", "C1");
    l.advance(r.window.min_until_ms - l.time_ms);
    assert_eq!(phase(&get(&l, "R1"), l.time_ms), Phase::Eligible);
    expect_ok(&l.call(&key("farm"), &apply("R1", "C1")).unwrap());
    assert_eq!(get(&l, "R1").status, Status::Applied);
    expect_ok(&l.call(&key("market"), &AcceptApplication { record_id: "R1".into() }).unwrap());
    assert_eq!(get(&l, "R1").status, Status::Accepted);
    assert!(punished(&l, "farm"), "still punished while the decision is pending");
    expect_ok(&l.call(&key("market"), &decide("R1", true)).unwrap());

    let r = get(&l, "R1");
    assert_eq!(r.status, Status::Repaired);
    assert_eq!(phase(&r, l.time_ms), Phase::Repaired);
    assert!(public_view(&r, l.time_ms).is_none(), "publication stops on repair");
    assert!(!punished(&l, "farm"), "joint punishment lifted");
    let d = r.application.as_ref().and_then(|a| a.decision.clone()).unwrap();
    assert!(d.approved && !d.late);
    assert!(!full_view(&r, l.time_ms).published, "kept on the ledger, visible to authorised roles only");

    expect_ok(
        &l.call(
            &key("credit"),
            &Reinstate { record_id: "R1".into(), reasons: "commitment broken".into(), evidence: h("inspection") },
        )
        .unwrap(),
    );
    let r = get(&l, "R1");
    assert_eq!(phase(&r, l.time_ms), Phase::Reinstated);
    assert!(public_view(&r, l.time_ms).is_some());
    assert!(punished(&l, "farm"), "joint punishment back");
    let c: Commitment = l.get(&store::commitment_key("C1")).unwrap();
    assert!(c.proven_false_ms.is_some());
    // A false commitment cannot carry a new application.
    refused(&mut l, "farm", &apply("R1", "C1"), "credit.commitment_required");
}

#[test]
fn credit_repair_after_minimum() {
    let mut l = TestLedger::new();
    record(&mut l, "agri", "G1", Category::General, Domain::Other);
    record(&mut l, "agri", "G2", Category::General, Domain::Food);
    commit(&mut l, "farm", "C1");
    let g1 = get(&l, "G1");
    assert_eq!(g1.window.min_until_ms, calendar::add_months(g1.window.from_ms, 3, CST));
    let g2 = get(&l, "G2");
    assert_eq!(g2.window.min_until_ms, calendar::add_months(g2.window.from_ms, 12, CST), "food: at least a year");
    assert_eq!(g2.window.max_until_ms, g2.window.min_until_ms, "never beyond the general maximum");

    l.advance(g1.window.min_until_ms - l.time_ms - 1);
    let msg = refused(&mut l, "farm", &apply("G1", "C1"), "credit.repair_after_minimum");
    assert!(msg.contains("G1") && msg.contains(&g1.window.min_until_ms.to_string()), "{msg}");
    // The next block is one second later: the minimum has been reached.
    expect_ok(&l.call(&key("farm"), &apply("G1", "C1")).unwrap());
    // Food records wait a year.
    refused(&mut l, "farm", &apply("G2", "C1"), "credit.repair_after_minimum");
}

#[test]
fn credit_decided_by_recorder() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "M1", Category::General, Domain::Other);
    commit(&mut l, "farm", "C1");
    l.advance(100 * DAY_MS);
    expect_ok(&l.call(&key("farm"), &apply("M1", "C1")).unwrap());
    let accept = AcceptApplication { record_id: "M1".into() };
    let msg = refused(&mut l, "agri", &accept, "credit.decided_by_recorder");
    assert!(msg.contains(uscc("market").as_str()), "{msg}");
    refused(&mut l, "farm", &accept, "wrong_role");
    refused(
        &mut l,
        "agri",
        &MarkIncomplete { record_id: "M1".into(), reasons: "x".into() },
        "credit.decided_by_recorder",
    );
    // The credit authority may act on any record.
    expect_ok(&l.call(&key("credit"), &accept).unwrap());
    refused(&mut l, "agri", &decide("M1", true), "credit.decided_by_recorder");
    refused(&mut l, "bigdata", &decide("M1", false), "credit.decided_by_recorder");
    expect_ok(&l.call(&key("market"), &decide("M1", false)).unwrap());
    assert_eq!(get(&l, "M1").status, Status::Denied);
    let r = Reinstate { record_id: "M1".into(), reasons: "x".into(), evidence: h("e") };
    refused(&mut l, "credit", &r, "credit.invalid_transition");
}

#[test]
fn credit_decision_deadline() {
    let mut l = TestLedger::new();
    record(&mut l, "agri", "A1", Category::General, Domain::Other);
    record(&mut l, "market", "M1", Category::General, Domain::Other);
    commit(&mut l, "farm", "C1");
    l.advance(100 * DAY_MS);
    expect_ok(&l.call(&key("farm"), &apply("A1", "C1")).unwrap());
    expect_ok(&l.call(&key("farm"), &apply("M1", "C1")).unwrap());
    let t_a = l.time_ms;
    expect_ok(&l.call(&key("agri"), &AcceptApplication { record_id: "A1".into() }).unwrap());
    let t_m = l.time_ms;
    expect_ok(&l.call(&key("market"), &AcceptApplication { record_id: "M1".into() }).unwrap());

    let a1 = get(&l, "A1");
    let m1 = get(&l, "M1");
    let none = calendar::Days::default();
    let da = calendar::working_days_deadline(t_a, 3, CST, &none);
    let dm = calendar::working_days_deadline(t_m, 7, CST, &none);
    assert_eq!(full_view(&a1, 0).decision_deadline_ms, Some(da));
    assert_eq!(full_view(&m1, 0).decision_deadline_ms, Some(dm), "market regulators: 7 working days");
    assert!(dm > da + 4 * DAY_MS);
    assert!(!full_view(&a1, da - 1).overdue);
    assert!(full_view(&a1, da).overdue, "undecided at the deadline: overdue");
    assert!(!full_view(&m1, da).overdue);
    assert!(full_view(&m1, dm).overdue);

    // A decision within the deadline is not late; one after it is recorded as late.
    expect_ok(&l.call(&key("market"), &decide("M1", true)).unwrap());
    l.advance(da - l.time_ms);
    expect_ok(&l.call(&key("agri"), &decide("A1", true)).unwrap());
    let late = |id: &str| get(&l, id).application.and_then(|a| a.decision).map(|d| d.late);
    assert_eq!(late("M1"), Some(false));
    assert_eq!(late("A1"), Some(true));
    assert!(!full_view(&get(&l, "A1"), l.time_ms).overdue, "decided: no longer overdue");
}

#[test]
fn credit_minor_not_published() {
    let mut l = TestLedger::new();
    record(&mut l, "credit", "N1", Category::Minor, Domain::Food);
    let r = get(&l, "N1");
    assert_eq!(r.status, Status::Recorded);
    assert_eq!(phase(&r, l.time_ms), Phase::Recorded);
    assert!(public_view(&r, l.time_ms).is_none(), "minor records are never published");
    assert!(!full_view(&r, l.time_ms).published);
    assert_eq!(r.window.max_until_ms, calendar::add_months(r.window.from_ms, 3, CST));
    for list in [ListKind::Watch, ListKind::SeriousDishonesty] {
        let p = SetList { record_id: "N1".into(), list, enter: true, reasons: "x".into() };
        refused(&mut l, "credit", &p, "credit.minor_not_published");
    }
    // Repairable once the obligations are met: no minimum period.
    commit(&mut l, "farm", "C1");
    expect_ok(&l.call(&key("farm"), &apply("N1", "C1")).unwrap());
    // Its effect ends at the 3-month maximum.
    assert_eq!(phase(&get(&l, "N1"), r.window.max_until_ms), Phase::Expired);
}

#[test]
fn credit_serious_list_serious_only() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "G1", Category::General, Domain::Other);
    let p = SetList { record_id: "G1".into(), list: ListKind::SeriousDishonesty, enter: true, reasons: "x".into() };
    refused(&mut l, "market", &p, "credit.serious_list_serious_only");
    // The watch list takes general records.
    expect_ok(&l.call(&key("market"), &SetList { list: ListKind::Watch, ..p }).unwrap());
    assert!(get(&l, "G1").watch_list.is_some());
    assert!(!punished(&l, "farm"), "the watch list is not joint punishment");
}

#[test]
fn credit_list_by_authority() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "S1", Category::Serious, Domain::Other);
    let enter = SetList { record_id: "S1".into(), list: ListKind::SeriousDishonesty, enter: true, reasons: "x".into() };
    refused(&mut l, "agri", &enter, "credit.list_by_authority");
    refused(&mut l, "farm", &enter, "wrong_role");
    expect_ok(&l.call(&key("credit"), &enter).unwrap());
    assert!(punished(&l, "farm"));
    refused(&mut l, "market", &enter, "credit.invalid_transition");
    let exit = SetList { enter: false, ..enter };
    refused(&mut l, "bigdata", &exit, "credit.list_by_authority");
    expect_ok(&l.call(&key("market"), &exit).unwrap());
    assert!(!punished(&l, "farm"), "exit lifts joint punishment");
    refused(&mut l, "market", &exit, "credit.invalid_transition");
}

#[test]
fn credit_subject_only() {
    let mut l = TestLedger::new();
    record(&mut l, "agri", "G1", Category::General, Domain::Other);
    commit(&mut l, "farm2", "C2");
    l.advance(100 * DAY_MS);
    let msg = refused(&mut l, "farm2", &apply("G1", "C2"), "credit.subject_only");
    assert!(msg.contains(uscc("farm").as_str()), "{msg}");
    refused(
        &mut l,
        "farm2",
        &Object { record_id: "G1".into(), reasons: "not us".into(), evidence: h("e") },
        "credit.subject_only",
    );
    refused(&mut l, "audit", &apply("G1", "C2"), "wrong_role");
}

#[test]
fn credit_commitment_required() {
    let mut l = TestLedger::new();
    record(&mut l, "agri", "G1", Category::General, Domain::Other);
    commit(&mut l, "farm2", "C2");
    l.advance(100 * DAY_MS);
    refused(&mut l, "farm", &apply("G1", "C2"), "credit.commitment_required");
    refused(&mut l, "farm", &apply("G1", "none"), "not_found");
    commit(&mut l, "farm", "C1");
    let no_materials = ApplyRepair { materials: vec![], ..apply("G1", "C1") };
    refused(&mut l, "farm", &no_materials, "credit.materials_required");
    expect_ok(&l.call(&key("farm"), &apply("G1", "C1")).unwrap());
}

#[test]
fn credit_decision_not_future() {
    let mut l = TestLedger::new();
    let p = record_payload("F1", org("farm"), Category::General, Domain::Other, l.time_ms + 1);
    refused(&mut l, "market", &p, "credit.decision_not_future");
    let p = RecordDishonesty { decision_date_ms: l.time_ms, ..p };
    expect_ok(&l.call(&key("market"), &p).unwrap());
    refused(&mut l, "market", &p, "already_exists");
    refused(&mut l, "farm", &p, "wrong_role");
}

#[test]
fn credit_expires_at_maximum() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "S1", Category::Serious, Domain::Other);
    let enter = SetList { record_id: "S1".into(), list: ListKind::SeriousDishonesty, enter: true, reasons: "x".into() };
    expect_ok(&l.call(&key("market"), &enter).unwrap());
    let r = get(&l, "S1");
    assert!(public_view(&r, r.window.max_until_ms - 1).is_some());
    assert!(public_view(&r, r.window.max_until_ms).is_none(), "publication stops by itself at the maximum");
    assert_eq!(phase(&r, r.window.max_until_ms), Phase::Expired);
    l.advance(r.window.max_until_ms - l.time_ms);
    assert!(!punished(&l, "farm"), "no transaction needed");
    commit(&mut l, "farm", "C1");
    refused(&mut l, "farm", &apply("S1", "C1"), "credit.invalid_transition");
    assert_eq!(get(&l, "S1").status, Status::Published, "the stored record is unchanged and kept");
}

#[test]
fn credit_invalid_transition() {
    let mut l = TestLedger::new();
    record(&mut l, "agri", "G1", Category::General, Domain::Other);
    commit(&mut l, "farm", "C1");
    l.advance(100 * DAY_MS);
    refused(&mut l, "agri", &AcceptApplication { record_id: "G1".into() }, "credit.invalid_transition");
    expect_ok(&l.call(&key("farm"), &apply("G1", "C1")).unwrap());
    refused(&mut l, "farm", &apply("G1", "C1"), "credit.invalid_transition");
    refused(&mut l, "agri", &decide("G1", true), "credit.invalid_transition");
    expect_ok(
        &l.call(&key("agri"), &MarkIncomplete { record_id: "G1".into(), reasons: "tax receipt missing".into() })
            .unwrap(),
    );
    assert_eq!(get(&l, "G1").status, Status::Incomplete);
    expect_ok(&l.call(&key("farm"), &apply("G1", "C1")).unwrap());
    assert_eq!(get(&l, "G1").status, Status::Applied);
}

#[test]
fn credit_objection_upheld_withdraws_record() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "S1", Category::Serious, Domain::Other);
    let enter = SetList { record_id: "S1".into(), list: ListKind::SeriousDishonesty, enter: true, reasons: "x".into() };
    expect_ok(&l.call(&key("market"), &enter).unwrap());
    expect_ok(
        &l.call(&key("farm"), &Object { record_id: "S1".into(), reasons: "wrong company".into(), evidence: h("e") })
            .unwrap(),
    );
    let resolve =
        ResolveObjection { record_id: "S1".into(), objection: 0, upheld: true, reasons: "mistaken identity".into() };
    refused(&mut l, "agri", &resolve, "credit.decided_by_recorder");
    refused(&mut l, "market", &ResolveObjection { objection: 1, ..resolve.clone() }, "not_found");
    expect_ok(&l.call(&key("market"), &resolve).unwrap());
    let r = get(&l, "S1");
    assert_eq!(phase(&r, l.time_ms), Phase::Withdrawn);
    assert!(public_view(&r, l.time_ms).is_none());
    assert!(!punished(&l, "farm"));
    refused(&mut l, "market", &resolve, "credit.invalid_transition");
}

#[test]
fn credit_person_subject_acts_through_the_authority() {
    let mut l = TestLedger::new();
    let person = sha256(b"salt|500230199001011234");
    let p = record_payload("P1", Subject::Person(person), Category::General, Domain::Other, GENESIS_MS);
    expect_ok(&l.call(&key("market"), &p).unwrap());
    let c = Commit { id: "PC1".into(), promise: "I will comply".into(), document: h("signed"), person: Some(person) };
    refused(&mut l, "farm", &c, "credit.subject_only");
    expect_ok(&l.call(&key("market"), &c).unwrap());
    l.advance(100 * DAY_MS);
    refused(&mut l, "agri", &apply("P1", "PC1"), "credit.subject_only");
    expect_ok(&l.call(&key("market"), &apply("P1", "PC1")).unwrap());
    let r = get(&l, "P1");
    assert_eq!(public_view(&r, l.time_ms).map(|v| v.subject), Some(Subject::Person(person)));
}

#[test]
fn credit_rule_version_stored_with_record() {
    let old = CreditRules { version: 7, effective_ms: 0, general_min_months: 6, ..CreditRules::default() };
    let params = Params {
        credit: CreditParams { versions: vec![old, CreditRules::default()], ..Default::default() },
        ..Params::default()
    };
    let mut l = TestLedger::with_params(params);
    record(&mut l, "agri", "OLD", Category::General, Domain::Other);
    l.advance(RULES_2026_EFFECTIVE_MS - l.time_ms);
    record(&mut l, "agri", "NEW", Category::General, Domain::Other);
    let (o, n) = (get(&l, "OLD"), get(&l, "NEW"));
    assert_eq!((o.window.rules_version, n.window.rules_version), (7, 1));
    assert_eq!(o.window.min_until_ms, calendar::add_months(o.window.from_ms, 6, CST));
    assert_eq!(n.window.min_until_ms, calendar::add_months(n.window.from_ms, 3, CST));
}

#[test]
fn credit_params_defaults_match_domain() {
    let p: CreditParams = serde_json::from_str("{}").unwrap();
    assert_eq!(p, CreditParams::default());
    let r: CreditRules = serde_json::from_str(r#"{"version": 2}"#).unwrap();
    assert_eq!(
        (r.minor_max_months, r.general_min_months, r.general_max_months, r.serious_min_months, r.serious_max_months),
        (3, 3, 12, 12, 36)
    );
    assert_eq!((r.special_domain_min_months, r.decision_working_days, r.market_decision_working_days), (12, 3, 7));
    assert_eq!(r.effective_ms, RULES_2026_EFFECTIVE_MS);
    assert_eq!(calendar::add_months(GENESIS_MS, 3, 0), RULES_2026_EFFECTIVE_MS + 8 * 3_600_000);
    assert!(serde_json::from_str::<CreditRules>(r#"{"bogus": 1}"#).is_err());
}

#[test]
fn credit_rules_in_force_by_effective_date() {
    let v = |version, effective_ms| CreditRules { version, effective_ms, ..CreditRules::default() };
    // Out of list order on purpose.
    let p = CreditParams { versions: vec![v(3, 300), v(1, 100), v(2, 200)], ..Default::default() };
    assert_eq!(p.in_force(250).unwrap().version, 2);
    assert_eq!(p.in_force(300).unwrap().version, 3);
    assert_eq!(p.in_force(50).unwrap().version, 1, "before every date: the earliest");
    let none = CreditParams { versions: vec![], ..Default::default() };
    assert_eq!(none.in_force(0).unwrap_err().code(), "credit.rules_in_force");
}

#[test]
fn credit_log_query() {
    let mut l = TestLedger::new();
    record(&mut l, "market", "S1", Category::Serious, Domain::Other);
    let q = LogQuery { record_id: Some("S1".into()), subject_id: None, purpose: "audit 2026-17".into() };
    let r = l.call(&key("audit"), &q).unwrap();
    expect_ok(&r);
    assert!(r.tags.iter().any(|t| t.kind == TagKind::CreditRecord && t.id == "S1"));
    assert!(r.tags.iter().any(|t| t.kind == TagKind::CreditSubject && t.id == uscc("farm").as_str()));
    let q = LogQuery { record_id: None, subject_id: Some(uscc("farm").to_string()), purpose: "case".into() };
    expect_ok(&l.call(&key("credit"), &q).unwrap());
    refused(&mut l, "farm", &q, "wrong_role");
    refused(&mut l, "credit", &LogQuery { subject_id: Some(uscc("shop").to_string()), ..q.clone() }, "not_found");
    refused(&mut l, "credit", &LogQuery { record_id: None, subject_id: None, purpose: "x".into() }, "invalid_argument");
}

#[test]
fn credit_payloads_round_trip_json() {
    let p = record_payload("J1", org("farm"), Category::Serious, Domain::SpecialEquipment, GENESIS_MS);
    let m = registry::find("credit", "record").unwrap();
    let json = (m.to_json)(&jialing_core::encoding::encode(&p)).unwrap();
    assert_eq!(json["subject"]["org"], uscc("farm").as_str());
    assert_eq!(json["domain"], "special_equipment");
    let bytes = (m.from_json)(json).unwrap();
    let back: RecordDishonesty = jialing_core::encoding::decode("payload", &bytes).unwrap();
    assert_eq!(back, p);
    assert_eq!(registry::methods().filter(|m| m.contract == "credit").count(), 14);
}

// ---- property test: random sequences never leave the state machine ----

#[derive(Clone, Debug)]
enum Op {
    Record { by: usize, category: u8, special: bool },
    Commit { by: usize },
    Apply { rec: usize, by: usize, commitment: usize },
    Accept { rec: usize, by: usize },
    Incomplete { rec: usize, by: usize },
    Decide { rec: usize, by: usize, approve: bool },
    Reinstate { rec: usize, by: usize },
    List { rec: usize, by: usize, serious: bool, enter: bool },
    Object { rec: usize, by: usize },
    Resolve { rec: usize, by: usize, upheld: bool },
    Advance { days: u64 },
}

/// Acting authorities (the credit authority, which may act on every record, twice as
/// likely) and acting organisations (the subject, farm, three times as likely).
const AUTHORITIES: [&str; 4] = ["market", "agri", "credit", "credit"];
const SUBJECTS: [&str; 4] = ["farm", "farm", "farm", "farm2"];

fn op() -> impl Strategy<Value = Op> {
    let a = 0..AUTHORITIES.len();
    let s = 0..SUBJECTS.len();
    // Few records and commitments, so that random operations often hit a live one and
    // sequences reach the late phases (repaired, reinstated).
    let rec = || 0..2usize;
    prop_oneof![
        1 => (a.clone(), 0u8..3, any::<bool>()).prop_map(|(by, category, special)| Op::Record { by, category, special }),
        1 => s.clone().prop_map(|by| Op::Commit { by }),
        4 => (rec(), s.clone(), 0..2usize).prop_map(|(rec, by, commitment)| Op::Apply { rec, by, commitment }),
        4 => (rec(), a.clone()).prop_map(|(rec, by)| Op::Accept { rec, by }),
        1 => (rec(), a.clone()).prop_map(|(rec, by)| Op::Incomplete { rec, by }),
        4 => (rec(), a.clone(), any::<bool>()).prop_map(|(rec, by, approve)| Op::Decide { rec, by, approve }),
        3 => (rec(), a.clone()).prop_map(|(rec, by)| Op::Reinstate { rec, by }),
        2 => (rec(), a.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(rec, by, serious, enter)| Op::List { rec, by, serious, enter }),
        1 => (rec(), s).prop_map(|(rec, by)| Op::Object { rec, by }),
        1 => (rec(), a, any::<bool>()).prop_map(|(rec, by, upheld)| Op::Resolve { rec, by, upheld }),
        4 => (0u64..150).prop_map(|days| Op::Advance { days }),
    ]
}

/// Whether a successful transaction moved a record's stored status legally.
fn legal(op: &Op, before: Option<Status>, after: Status) -> bool {
    use Status::*;
    match (op, before) {
        (Op::Record { category: 0, .. }, None) => after == Recorded,
        (Op::Record { .. }, None) => after == Published,
        (Op::Apply { .. }, Some(Recorded | Published | Incomplete | Denied | Reinstated)) => after == Applied,
        (Op::Accept { .. }, Some(Applied)) => after == Accepted,
        (Op::Incomplete { .. }, Some(Applied)) => after == Incomplete,
        (Op::Decide { approve: true, .. }, Some(Accepted)) => after == Repaired,
        (Op::Decide { approve: false, .. }, Some(Accepted)) => after == Denied,
        (Op::Reinstate { .. }, Some(Repaired)) => after == Reinstated,
        (Op::List { .. } | Op::Object { .. }, Some(s)) => after == s,
        (Op::Resolve { upheld: true, .. }, Some(_)) => after == Withdrawn,
        (Op::Resolve { upheld: false, .. }, Some(s)) => after == s,
        _ => false,
    }
}

fn run_ops(random: Vec<Op>) {
    // A prelude so that random operations find live records and a commitment.
    let mut ops = vec![
        Op::Record { by: 0, category: 2, special: false },
        Op::Record { by: 1, category: 1, special: false },
        Op::Commit { by: 0 },
    ];
    ops.extend(random);
    let mut l = TestLedger::new();
    let mut records: Vec<String> = Vec::new();
    let mut commitments: Vec<String> = Vec::new();
    // Indexes pick among the existing ids (modulo their number), or a missing id.
    let id_of = |v: &Vec<String>, i: usize, prefix: &str| match v.len() {
        0 => format!("{prefix}-missing"),
        n => v[i % n].clone(),
    };
    for (n, op) in ops.into_iter().enumerate() {
        let rec = match &op {
            Op::Apply { rec, .. }
            | Op::Accept { rec, .. }
            | Op::Incomplete { rec, .. }
            | Op::Decide { rec, .. }
            | Op::Reinstate { rec, .. }
            | Op::List { rec, .. }
            | Op::Object { rec, .. }
            | Op::Resolve { rec, .. } => id_of(&records, *rec, "R"),
            Op::Record { .. } => format!("R{n}"),
            _ => String::new(),
        };
        let before_status = l.get::<DishonestyRecord>(&store::record_key(&rec)).map(|r| r.status);
        let before = l.snapshot();
        let (signer, receipt) = match &op {
            Op::Advance { days } => {
                l.advance(days * DAY_MS);
                continue;
            }
            Op::Record { by, category, special } => {
                let category = [Category::Minor, Category::General, Category::Serious][*category as usize];
                let domain = if *special { Domain::Fire } else { Domain::Other };
                let p = record_payload(&rec, org("farm"), category, domain, GENESIS_MS);
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &p).unwrap())
            }
            Op::Commit { by } => {
                let id = format!("C{n}");
                let p = Commit { id: id.clone(), promise: "p".into(), document: h(&id), person: None };
                let r = l.call(&key(SUBJECTS[*by]), &p).unwrap();
                if r.is_ok() {
                    commitments.push(id);
                }
                (SUBJECTS[*by], r)
            }
            Op::Apply { by, commitment, .. } => {
                let p = apply(&rec, &id_of(&commitments, *commitment, "C"));
                (SUBJECTS[*by], l.call(&key(SUBJECTS[*by]), &p).unwrap())
            }
            Op::Accept { by, .. } => (
                AUTHORITIES[*by],
                l.call(&key(AUTHORITIES[*by]), &AcceptApplication { record_id: rec.clone() }).unwrap(),
            ),
            Op::Incomplete { by, .. } => {
                let p = MarkIncomplete { record_id: rec.clone(), reasons: "more".into() };
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &p).unwrap())
            }
            Op::Decide { by, approve, .. } => {
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &decide(&rec, *approve)).unwrap())
            }
            Op::Reinstate { by, .. } => {
                let p = Reinstate { record_id: rec.clone(), reasons: "false".into(), evidence: h("e") };
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &p).unwrap())
            }
            Op::List { by, serious, enter, .. } => {
                let list = if *serious { ListKind::SeriousDishonesty } else { ListKind::Watch };
                let p = SetList { record_id: rec.clone(), list, enter: *enter, reasons: "r".into() };
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &p).unwrap())
            }
            Op::Object { by, .. } => {
                let p = Object { record_id: rec.clone(), reasons: "no".into(), evidence: h("e") };
                (SUBJECTS[*by], l.call(&key(SUBJECTS[*by]), &p).unwrap())
            }
            Op::Resolve { by, upheld, .. } => {
                let p = ResolveObjection { record_id: rec.clone(), objection: 0, upheld: *upheld, reasons: "r".into() };
                (AUTHORITIES[*by], l.call(&key(AUTHORITIES[*by]), &p).unwrap())
            }
        };
        let nonce_key = keys::nonce(&key(signer).public());
        if receipt.is_ok() {
            if matches!(op, Op::Record { .. }) {
                records.push(rec.clone());
            }
            if !rec.is_empty() {
                let after = get(&l, &rec).status;
                assert!(legal(&op, before_status, after), "{op:?}: {before_status:?} -> {after:?}");
            }
        } else {
            let mut a = l.snapshot();
            let mut b = before;
            a.remove(&nonce_key);
            b.remove(&nonce_key);
            assert_eq!(a, b, "refused {op:?} changed state: {:?}", receipt.status);
        }
        // Invariants over every record.
        let now = l.time_ms;
        let mut any_punishing = false;
        for id in &records {
            let r = get(&l, id);
            let v = full_view(&r, now);
            if r.category == Category::Minor {
                assert!(public_view(&r, now).is_none(), "minor {id} published");
            }
            assert_eq!(public_view(&r, now).is_some(), v.published);
            if v.phase == Phase::Repaired {
                assert!(r.repaired_ms.is_some() && !v.published && !v.joint_punishment);
            }
            if r.status == Status::Accepted {
                assert!(r.application.as_ref().and_then(|a| a.deadline_ms).is_some());
            }
            any_punishing |= v.joint_punishment;
        }
        assert_eq!(punished(&l, "farm"), any_punishing, "joint punishment disagrees with the records");
        assert!(!punished(&l, "farm2"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn credit_state_machine_holds_and_refusals_change_only_the_nonce(ops in proptest::collection::vec(op(), 1..80)) {
        run_ops(ops);
    }
}

/// A 17-digit prefix (born 1980-01-01 in region 500230) whose USCC completion is
/// also a valid resident ID number: a raw ID that passes as an organisation code.
fn resident_id_as_uscc() -> jialing_core::Uscc {
    (0..1000)
        .filter_map(|seq| jialing_core::Uscc::complete(&format!("50023019800101{seq:03}")).ok())
        .find(|u| jialing_core::resident_id::is_resident_id(u.as_str()))
        .expect("one in about eleven prefixes completes to a valid ID")
}

#[test]
fn credit_no_raw_resident_id() {
    let mut l = TestLedger::new();
    let raw = record_payload("R1", Subject::Org(resident_id_as_uscc()), Category::General, Domain::Food, GENESIS_MS);
    refused(&mut l, "market", &raw, "credit.no_raw_resident_id");
    let mut in_summary = record_payload("R2", org("farm"), Category::General, Domain::Food, GENESIS_MS);
    in_summary.summary = "manager 11010519491231002X sold produce over the limit".into();
    refused(&mut l, "market", &in_summary, "credit.no_raw_resident_id");
    // A person named by the salted hash is fine.
    let hashed = record_payload("R3", Subject::Person(h("salted person")), Category::General, Domain::Food, GENESIS_MS);
    expect_ok(&l.call(&key("market"), &hashed).unwrap());
}
