//! Credit grading, supervision by grade, the red list, the public lists, government
//! integrity records, the working-day calendar and the publication window start: one
//! test per rule, named after it, and a property test of grade monotonicity.

use jialing_contracts::credit::calendar::WorkCalendar;
use jialing_contracts::credit::grading::{GradeInputs, GradeRecord, GradeRule, grade_key, grade_with};
use jialing_contracts::credit::public_lists::{PublicList, page};
use jialing_contracts::credit::{
    AcceptApplication, ApplyRepair, Category, Commit, CreditParams, CreditRules, DecideRepair, DishonestyRecord,
    Domain, GovCommit, GovOutcome, ListKind, RecordDishonesty, SetList, SetRedList, Subject, WindowStart, store,
};
use jialing_contracts::data::methods::{ApproveImportant, Confirm, Register, Review};
use jialing_contracts::data::types::{Classification, DataKind};
use jialing_contracts::params::{DAY_MS, Params};
use jialing_contracts::testkit::{GENESIS_MS, TestLedger, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{CallPayload, keys};
use jialing_core::{Hash, sha256};
use proptest::prelude::*;

fn h(label: &str) -> Hash {
    sha256(label.as_bytes())
}

fn record_on(l: &mut TestLedger, by: &str, id: &str, subject: &str, category: Category, decided_ms: u64) {
    let p = RecordDishonesty {
        id: id.into(),
        subject: Subject::Org(uscc(subject)),
        category,
        domain: Domain::Other,
        summary: format!("{id}: late delivery of contracted produce"),
        decision_document: h(id),
        decision_date_ms: decided_ms,
    };
    expect_ok(&l.call(&key(by), &p).unwrap());
}

fn record(l: &mut TestLedger, id: &str, subject: &str, category: Category) {
    let t = l.time_ms;
    record_on(l, "market", id, subject, category, t);
}

fn list(l: &mut TestLedger, id: &str, kind: ListKind) {
    let p = SetList { record_id: id.into(), list: kind, enter: true, reasons: "decision 2026-9".into() };
    expect_ok(&l.call(&key("market"), &p).unwrap());
}

fn refused<P: CallPayload>(l: &mut TestLedger, by: &str, p: &P, code: &str) -> String {
    let mut before = l.snapshot();
    let r = l.call(&key(by), p).unwrap();
    let msg = expect_refused(&r, code);
    let mut after = l.snapshot();
    after.remove(&keys::nonce(&key(by).public()));
    before.remove(&keys::nonce(&key(by).public()));
    assert_eq!(after, before, "refused {code} changed state");
    msg
}

fn grade_now(l: &TestLedger, name: &str) -> GradeRecord {
    let read = |k: &[u8]| Ok(jialing_contracts::StateView::get(&l.state, k).unwrap());
    grade_with(&read, &Params::default().credit, uscc(name).as_str(), l.time_ms).unwrap()
}

fn stored_grade(l: &TestLedger, name: &str) -> GradeRecord {
    l.get(&grade_key(uscc(name).as_str())).expect("stored grade")
}

fn list_page(l: &TestLedger, kind: PublicList, offset: usize, limit: usize) -> Vec<String> {
    let read = |k: &[u8]| Ok(jialing_contracts::StateView::get(&l.state, k).unwrap());
    let p = page(&read, &Params::default().credit, kind, l.time_ms, offset, limit).unwrap();
    p.items.into_iter().map(|i| i.record_id.or(i.subject).unwrap_or_default()).collect()
}

#[test]
fn credit_grade_recomputed_on_every_change() {
    let mut l = TestLedger::new();
    assert_eq!(grade_now(&l, "farm").grade, "A", "nothing recorded: the best grade");
    record(&mut l, "G1", "farm", Category::General);
    let g = stored_grade(&l, "farm");
    assert_eq!((g.grade.as_str(), g.score, g.rule_version), ("B", 85, 1));
    assert_eq!(g.inputs.general_published, 1, "the inputs are stored with the grade");
    record(&mut l, "S1", "farm", Category::Serious);
    assert_eq!(stored_grade(&l, "farm").grade, "D", "85 - 40 = 45: below C's 50");
    // Repair of the general record (minimum 3 months) raises the grade to C again.
    expect_ok(
        &l.call(
            &key("farm"),
            &Commit { id: "C1".into(), promise: "we keep contracts".into(), document: h("c1"), person: None },
        )
        .unwrap(),
    );
    l.advance(100 * DAY_MS);
    let apply = ApplyRepair { record_id: "G1".into(), materials: vec![h("paid")], commitment_id: "C1".into() };
    expect_ok(&l.call(&key("farm"), &apply).unwrap());
    expect_ok(&l.call(&key("market"), &AcceptApplication { record_id: "G1".into() }).unwrap());
    let decide = DecideRepair { record_id: "G1".into(), approve: true, reasons: "fulfilled".into() };
    expect_ok(&l.call(&key("market"), &decide).unwrap());
    let g = stored_grade(&l, "farm");
    assert_eq!((g.grade.as_str(), g.inputs.repaired), ("C", 1));
    // Past the serious record's maximum the live grade is the best again, with no
    // transaction.
    l.advance(3 * 366 * DAY_MS);
    assert_eq!(grade_now(&l, "farm").grade, "A");
    assert_eq!(grade_now(&l, "farm2").grade, "A", "another subject is unaffected");
}

#[test]
fn credit_grade_joint_punishment_is_the_last_grade() {
    let mut l = TestLedger::new();
    record(&mut l, "S1", "farm", Category::Serious);
    assert_eq!(stored_grade(&l, "farm").grade, "C");
    list(&mut l, "S1", ListKind::SeriousDishonesty);
    let g = stored_grade(&l, "farm");
    assert_eq!((g.grade.as_str(), g.inputs.joint_punishment), ("D", true));
}

fn inputs() -> impl Strategy<Value = GradeInputs> {
    (0u32..5, 0u32..5, 0u32..5, 0u32..5, any::<bool>(), 0u32..5, 0u32..5).prop_map(
        |(minor, general, serious, watch, jp, broken, breaches)| GradeInputs {
            minor_in_effect: minor,
            general_published: general,
            serious_published: serious,
            watch_listed: watch,
            joint_punishment: jp,
            commitments_broken: broken,
            government_breaches: breaches,
            repaired: 0,
        },
    )
}

fn rules() -> impl Strategy<Value = GradeRule> {
    (0u32..200, 0u32..60, 0u32..60, 0u32..60, 0u32..60, 100u32..200, 0u32..100).prop_map(
        |(start, minor, general, serious, watch, a, b)| GradeRule {
            start_score: start,
            minor_points: minor,
            general_points: general,
            serious_points: serious,
            watch_list_points: watch,
            thresholds: vec![a, b.min(a - 1), b.min(a - 1) / 2],
            ..GradeRule::default()
        },
    )
}

proptest! {
    /// Adding a serious record (or a listing, or a breach) never raises a grade.
    #[test]
    fn credit_grade_monotone(rule in rules(), base in inputs(), listed in any::<bool>()) {
        prop_assume!(rule.check().is_ok());
        let (_, before) = rule.grade(&base);
        let mut worse = base.clone();
        worse.serious_published += 1;
        worse.joint_punishment |= listed;
        let (_, after) = rule.grade(&worse);
        prop_assert!(after >= before, "rank {before} -> {after} for {base:?} + serious");
        let mut breach = base.clone();
        breach.government_breaches += 1;
        prop_assert!(rule.grade(&breach).1 >= before);
    }

    /// The same on the ledger: recording one more serious record against a subject
    /// never improves its stored grade.
    #[test]
    fn credit_grade_monotone_on_the_ledger(cats in proptest::collection::vec(0u8..3, 0..5)) {
        let mut l = TestLedger::new();
        for (i, c) in cats.iter().enumerate() {
            let category = [Category::Minor, Category::General, Category::Serious][*c as usize];
            record(&mut l, &format!("R{i}"), "farm", category);
        }
        let before = grade_now(&l, "farm").rank;
        record(&mut l, "X", "farm", Category::Serious);
        prop_assert!(stored_grade(&l, "farm").rank >= before);
    }
}

#[test]
fn credit_grade_params_valid() {
    let mut bad = Params::default();
    bad.credit.grading.thresholds = vec![50, 70, 90];
    let err = jialing_contracts::governance::actions::rule_params_valid(&bad).unwrap_err();
    assert_eq!(err.code(), "governance.params_valid");
    let mut bad = Params::default();
    bad.credit.supervision[0].grades = vec!["E".into()];
    assert!(jialing_contracts::governance::actions::rule_params_valid(&bad).is_err());
    let mut bad = Params::default();
    bad.credit.calendar.holidays = vec!["2026-13-01".into()];
    assert!(jialing_contracts::governance::actions::rule_params_valid(&bad).is_err());
    jialing_contracts::governance::actions::rule_params_valid(&Params::default()).unwrap();
}

fn register_product(l: &mut TestLedger, id: &str) {
    let p = Register {
        id: id.into(),
        title: "县域农产品价格指数".into(),
        category: "agriculture".into(),
        kind: DataKind::Index,
        classification: Classification::Internal,
        personal_info: false,
        version_hash: Hash([0xab; 32]),
        size_bytes: 1 << 20,
        source_licence: None,
        holders: vec![],
    };
    expect_ok(&l.call(&key("provider"), &p).unwrap());
    expect_ok(&l.call(&key("exchange"), &Review { product: id.into(), report: Hash([1; 32]) }).unwrap());
}

/// Data register: a C-grade provider's product needs a second review.
#[test]
fn data_supervision_second_review() {
    let mut l = TestLedger::new();
    register_product(&mut l, "P0");
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P0".into() }).unwrap());
    record(&mut l, "S1", "provider", Category::Serious);
    assert_eq!(stored_grade(&l, "provider").grade, "C");
    register_product(&mut l, "P1");
    let msg = refused(&mut l, "exchange", &Confirm { product: "P1".into() }, "data.supervision_second_review");
    assert!(msg.contains("graded C"), "{msg}");
    expect_ok(&l.call(&key("bigdata"), &ApproveImportant { product: "P1".into() }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P1".into() }).unwrap());
}

/// Data register: a watch-list provider gets the same measure whatever its grade.
#[test]
fn data_supervision_second_review_watch_list() {
    let mut params = Params::default();
    params.credit.grading.general_points = 0;
    params.credit.grading.watch_list_points = 0;
    let mut l = TestLedger::with_params(params);
    record(&mut l, "G1", "provider", Category::General);
    register_product(&mut l, "P1");
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P1".into() }).unwrap());
    list(&mut l, "G1", ListKind::Watch);
    register_product(&mut l, "P2");
    let msg = refused(&mut l, "exchange", &Confirm { product: "P2".into() }, "data.supervision_second_review");
    assert!(msg.contains("watch list"), "{msg}");
}

fn red(subject: &str, enter: bool) -> SetRedList {
    SetRedList {
        subject: uscc(subject),
        enter,
        reasons: "ten years of honest trading".into(),
        decision_document: h("red"),
    }
}

#[test]
fn credit_red_list_entry() {
    let mut l = TestLedger::new();
    expect_ok(&l.call(&key("credit"), &red("farm2", true)).unwrap());
    assert_eq!(list_page(&l, PublicList::Red, 0, 10), vec![uscc("farm2").to_string()]);
    refused(&mut l, "credit", &red("farm2", true), "credit.invalid_transition");
    record(&mut l, "G1", "farm", Category::General);
    let msg = refused(&mut l, "credit", &red("farm", true), "credit.red_list_entry");
    assert!(msg.contains("graded B"), "{msg}");
    refused(&mut l, "market", &red("farm2", true), "wrong_role");
    // A record against a red-list subject takes it off the public list at once.
    record(&mut l, "G2", "farm2", Category::General);
    assert!(list_page(&l, PublicList::Red, 0, 10).is_empty());
    // Exit by the credit authority; a second exit is refused.
    expect_ok(&l.call(&key("credit"), &red("farm2", false)).unwrap());
    refused(&mut l, "credit", &red("farm2", false), "credit.invalid_transition");
}

#[test]
fn credit_public_lists_page() {
    let mut l = TestLedger::new();
    for (i, who) in ["farm", "farm2", "plant"].iter().enumerate() {
        record(&mut l, &format!("S{i}"), who, Category::Serious);
        list(&mut l, &format!("S{i}"), ListKind::SeriousDishonesty);
    }
    record(&mut l, "W1", "shop", Category::General);
    list(&mut l, "W1", ListKind::Watch);
    assert_eq!(list_page(&l, PublicList::Serious, 0, 10), vec!["S0", "S1", "S2"]);
    assert_eq!(list_page(&l, PublicList::Serious, 1, 1), vec!["S1"]);
    assert_eq!(list_page(&l, PublicList::Watch, 0, 10), vec!["W1"]);
    let exit = SetList { record_id: "S1".into(), list: ListKind::SeriousDishonesty, enter: false, reasons: "x".into() };
    expect_ok(&l.call(&key("market"), &exit).unwrap());
    assert_eq!(list_page(&l, PublicList::Serious, 0, 10), vec!["S0", "S2"]);
    // The watch-list record expires at its maximum (12 months) and leaves the list.
    l.advance(367 * DAY_MS);
    assert!(list_page(&l, PublicList::Watch, 0, 10).is_empty());
    assert_eq!(list_page(&l, PublicList::Serious, 0, 10), vec!["S0", "S2"]);
}

#[test]
fn credit_government_body() {
    let mut l = TestLedger::new();
    let c = |id: &str, body: &str| GovCommit {
        id: id.into(),
        body: uscc(body),
        promise: "pay the farm co-operative's invoices within 30 days".into(),
        document: h(id),
        due_ms: GENESIS_MS + 30 * DAY_MS,
    };
    refused(&mut l, "credit", &c("GC0", "farm"), "credit.government_body");
    refused(&mut l, "market", &c("GC0", "agri"), "wrong_role");
    expect_ok(&l.call(&key("credit"), &c("GC1", "agri")).unwrap());
    expect_ok(&l.call(&key("credit"), &c("GC2", "agri")).unwrap());
    let out = |id: &str, kept: bool| GovOutcome { id: id.into(), kept, reasons: "invoices".into(), evidence: h("e") };
    expect_ok(&l.call(&key("credit"), &out("GC1", true)).unwrap());
    assert_eq!(stored_grade(&l, "agri").grade, "A", "a kept commitment costs nothing");
    expect_ok(&l.call(&key("credit"), &out("GC2", false)).unwrap());
    let g = stored_grade(&l, "agri");
    assert_eq!((g.grade.as_str(), g.inputs.government_breaches), ("B", 1), "a breach enters the grade");
    refused(&mut l, "credit", &out("GC2", true), "credit.invalid_transition");
}

#[test]
fn credit_overdue_decisions_listed_with_the_calendar() {
    let mut params = Params::default();
    // 2026-04-06 to 04-08 off (Mon-Wed), Sunday 04-12 worked.
    params.credit.calendar = WorkCalendar {
        holidays: vec!["2026-04-06".into(), "2026-04-07".into(), "2026-04-08".into()],
        workdays: vec!["2026-04-12".into()],
    };
    let mut l = TestLedger::with_params(params);
    record(&mut l, "G1", "farm", Category::General);
    expect_ok(
        &l.call(&key("farm"), &Commit { id: "C1".into(), promise: "p".into(), document: h("c"), person: None })
            .unwrap(),
    );
    // Thursday 2026-04-02 02:00 UTC (10:00 CST): accepted.
    l.advance(1_775_095_200_000 - l.time_ms);
    let apply = ApplyRepair { record_id: "G1".into(), materials: vec![h("paid")], commitment_id: "C1".into() };
    expect_ok(&l.call(&key("farm"), &apply).unwrap());
    expect_ok(&l.call(&key("market"), &AcceptApplication { record_id: "G1".into() }).unwrap());
    let deadline =
        l.get::<DishonestyRecord>(&store::record_key("G1")).unwrap().application.unwrap().deadline_ms.unwrap();
    // 7 working days (market regulator): Fri 3, Thu 9, Fri 10, Sun 12, Mon 13, Tue 14,
    // Wed 15 -> ends Thursday 16 April 00:00 CST = 15 April 16:00 UTC.
    assert_eq!(deadline, 1_776_268_800_000);
    assert!(list_page(&l, PublicList::Overdue, 0, 10).is_empty());
    l.advance(deadline - l.time_ms);
    assert_eq!(list_page(&l, PublicList::Overdue, 0, 10), vec!["G1"]);
    let decide = DecideRepair { record_id: "G1".into(), approve: false, reasons: "not paid".into() };
    expect_ok(&l.call(&key("market"), &decide).unwrap());
    assert!(list_page(&l, PublicList::Overdue, 0, 10).is_empty(), "decided: off the list");
}

#[test]
fn credit_window_from_decision_date() {
    let mut l = TestLedger::new();
    let decided = GENESIS_MS - 60 * DAY_MS;
    record_on(&mut l, "market", "G1", "farm", Category::General, decided);
    let r = l.get::<DishonestyRecord>(&store::record_key("G1")).unwrap();
    assert_eq!(r.window.from_ms, decided, "periods count from the decision date by default");
    let rules = CreditRules { window_from: WindowStart::Recording, ..CreditRules::default() };
    let params = Params { credit: CreditParams { versions: vec![rules], ..Default::default() }, ..Params::default() };
    let mut l = TestLedger::with_params(params);
    let recorded = l.time_ms;
    record_on(&mut l, "market", "G1", "farm", Category::General, decided);
    assert_eq!(l.get::<DishonestyRecord>(&store::record_key("G1")).unwrap().window.from_ms, recorded);
}
