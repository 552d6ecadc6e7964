//! Traceability rules, one test per rule (named after it), plus a property test.

use jialing_contracts::testkit::{TestLedger, expect_ok, expect_refused, key, uscc};
use jialing_contracts::trace::methods::*;
use jialing_contracts::trace::types::{Category, CertificateBasis, Lot, LotStatus, Origin};
use jialing_contracts::trace::{lot_key, rules};
use jialing_contracts::{Receipt, keys};
use jialing_core::{Hash, Keypair};
use proptest::prelude::*;

const DAY: u64 = 86_400_000;

fn at(l: &TestLedger) -> EventTime {
    EventTime { time_ms: l.time_ms, tz_offset_min: 480 }
}

fn origin() -> Origin {
    Origin {
        county: "丰都县".into(),
        township: "三合街道".into(),
        village: "长江村".into(),
        lat_micro: 29_880_000,
        lon_micro: 107_730_000,
    }
}

/// A ledger with a fruit product and lot L1 at the farm.
fn with_lot() -> TestLedger {
    let mut l = TestLedger::new();
    let farm = key("farm");
    expect_ok(
        &l.call(
            &farm,
            &RegisterProduct {
                code: "06901234567892".into(),
                name: "红心柚".into(),
                category: Category::Fruit,
                standard: "NY/T 2315".into(),
            },
        )
        .unwrap(),
    );
    let a = at(&l);
    expect_ok(
        &l.call(
            &farm,
            &CreateLot {
                lot: "L1".into(),
                product: "06901234567892".into(),
                origin: origin(),
                quantity_milli: 1_000_000,
                unit: "kg".into(),
                at: a,
            },
        )
        .unwrap(),
    );
    l
}

fn lot(l: &TestLedger) -> Lot {
    l.get(&lot_key("L1")).unwrap()
}

fn harvest(l: &mut TestLedger) {
    let a = at(l);
    expect_ok(&l.call(&key("farm"), &Harvest { lot: "L1".into(), quantity_milli: 900_000, at: a }).unwrap());
}

fn test(l: &mut TestLedger, pass: bool) -> Receipt {
    let a = at(l);
    let item = TestItem {
        name: "chlorpyrifos".into(),
        measured_milli: if pass { 10 } else { 900 },
        limit_milli: 500,
        unit: "mg/kg".into(),
        pass,
    };
    l.call(&key("lab"), &RecordTest { lot: "L1".into(), items: vec![item], report_hash: Hash([9; 32]), at: a }).unwrap()
}

fn certify(l: &mut TestLedger) -> Receipt {
    let a = at(l);
    l.call(
        &key("farm"),
        &IssueCertificate {
            lot: "L1".into(),
            contact: "138".into(),
            promise: "不使用禁用农药".into(),
            basis: CertificateBasis::CommissionedTest,
            quantity_milli: 900_000,
            at: a,
        },
    )
    .unwrap()
}

/// Asserts the receipt was refused with `code` and that only the signer's nonce changed.
fn refused_unchanged(
    l: &mut TestLedger,
    signer: &Keypair,
    f: impl FnOnce(&mut TestLedger) -> Receipt,
    code: &str,
) -> String {
    let mut before = l.snapshot();
    let r = f(l);
    let msg = expect_refused(&r, code);
    let mut after = l.snapshot();
    after.remove(&keys::nonce(&signer.public()));
    before.remove(&keys::nonce(&signer.public()));
    assert_eq!(after, before, "refused tx changed state");
    msg
}

#[test]
fn trace_producer_only() {
    let mut l = with_lot();
    let a = at(&l);
    // A laboratory cannot create lots: the method admits producers only.
    let r = l
        .call(
            &key("lab"),
            &CreateLot {
                lot: "L2".into(),
                product: "06901234567892".into(),
                origin: origin(),
                quantity_milli: 1,
                unit: "kg".into(),
                at: a,
            },
        )
        .unwrap();
    assert!(expect_refused(&r, "wrong_role").contains("producer"));
}

#[test]
fn trace_inspector_only() {
    let mut l = with_lot();
    let a = at(&l);
    let item = TestItem { name: "x".into(), measured_milli: 1, limit_milli: 2, unit: "mg/kg".into(), pass: true };
    let r = l
        .call(&key("farm"), &RecordTest { lot: "L1".into(), items: vec![item], report_hash: Hash::ZERO, at: a })
        .unwrap();
    assert!(expect_refused(&r, "wrong_role").contains("inspector"));
}

#[test]
fn trace_custodian_only() {
    let mut l = with_lot();
    let farm2 = key("farm2");
    let msg = refused_unchanged(
        &mut l,
        &farm2,
        |l| {
            let a = at(l);
            l.call(&key("farm2"), &Harvest { lot: "L1".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.custodian_only",
    );
    assert!(msg.contains(uscc("farm").as_str()), "{msg}");
}

#[test]
fn trace_no_certificate_while_nonconformant() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&test(&mut l, false));
    assert!(lot(&l).nonconformant_open);
    refused_unchanged(&mut l, &key("farm"), certify, "trace.no_certificate_while_nonconformant");
    // A conformant re-inspection closes the result; then the certificate is allowed.
    expect_ok(&test(&mut l, true));
    expect_ok(&certify(&mut l));
}

#[test]
fn trace_no_shipment_while_nonconformant() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&certify(&mut l));
    expect_ok(&test(&mut l, false));
    let to = uscc("logistics");
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Ship { lot: "L1".into(), to, at: a }).unwrap()
        },
        "trace.no_shipment_while_nonconformant",
    );
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Sell { lot: "L1".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.no_shipment_while_nonconformant",
    );
}

#[test]
fn trace_event_time_monotonic() {
    let mut l = with_lot();
    let back = EventTime { time_ms: lot(&l).last_event_ms - 1, tz_offset_min: 480 };
    let msg = refused_unchanged(
        &mut l,
        &key("farm"),
        |l| l.call(&key("farm"), &Harvest { lot: "L1".into(), quantity_milli: 1, at: back }).unwrap(),
        "trace.event_time_monotonic",
    );
    assert!(msg.contains("before lot L1's last event"), "{msg}");
}

#[test]
fn trace_event_time_not_future() {
    let mut l = with_lot();
    let future = EventTime { time_ms: l.time_ms + 10 * 60 * 1000, tz_offset_min: 480 };
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| l.call(&key("farm"), &Harvest { lot: "L1".into(), quantity_milli: 1, at: future }).unwrap(),
        "trace.event_time_not_future",
    );
}

#[test]
fn trace_preharvest_interval() {
    let mut l = with_lot();
    let a = at(&l);
    expect_ok(
        &l.call(
            &key("farm"),
            &RecordInput {
                lot: "L1".into(),
                kind: InputKind::Pesticide,
                name: "毒死蜱 PD20080001".into(),
                amount_milli: 500,
                unit: "L".into(),
                interval_days: 21,
                at: a,
            },
        )
        .unwrap(),
    );
    l.advance(20 * DAY);
    let msg = refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Harvest { lot: "L1".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.preharvest_interval",
    );
    assert!(msg.contains("pre-harvest interval"), "{msg}");
    l.advance(DAY);
    harvest(&mut l);
    assert_eq!(lot(&l).status, LotStatus::Harvested);
}

#[test]
fn trace_certificate_before_shipment() {
    let mut l = with_lot();
    harvest(&mut l);
    let to = uscc("logistics");
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Ship { lot: "L1".into(), to, at: a }).unwrap()
        },
        "trace.certificate_before_shipment",
    );
}

#[test]
fn trace_certificate_by_producer() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&certify(&mut l));
    let a = at(&l);
    expect_ok(&l.call(&key("farm"), &Ship { lot: "L1".into(), to: uscc("plant"), at: a }).unwrap());
    let a = at(&l);
    expect_ok(&l.call(&key("plant"), &Receive { lot: "L1".into(), at: a }).unwrap());
    // The plant holds the lot and is a producer too, but did not produce this lot.
    refused_unchanged(
        &mut l,
        &key("plant"),
        |l| {
            let a = at(l);
            l.call(
                &key("plant"),
                &IssueCertificate {
                    lot: "L1".into(),
                    contact: "1".into(),
                    promise: "p".into(),
                    basis: CertificateBasis::OwnControl,
                    quantity_milli: 1,
                    at: a,
                },
            )
            .unwrap()
        },
        "trace.certificate_by_producer",
    );
}

#[test]
fn trace_receiver_is_destination_and_custody_moves() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&certify(&mut l));
    let a = at(&l);
    expect_ok(&l.call(&key("farm"), &Ship { lot: "L1".into(), to: uscc("logistics"), at: a }).unwrap());
    refused_unchanged(
        &mut l,
        &key("shop"),
        |l| {
            let a = at(l);
            l.call(&key("shop"), &Receive { lot: "L1".into(), at: a }).unwrap()
        },
        "trace.receiver_is_destination",
    );
    // While in transit the old custodian can do nothing more with it.
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Sell { lot: "L1".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.not_in_transit",
    );
    let a = at(&l);
    expect_ok(&l.call(&key("logistics"), &Receive { lot: "L1".into(), at: a }).unwrap());
    assert_eq!(lot(&l).custodian, uscc("logistics"));
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Sell { lot: "L1".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.custodian_only",
    );
}

#[test]
fn trace_quantity_available() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&certify(&mut l));
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Sell { lot: "L1".into(), quantity_milli: 900_001, at: a }).unwrap()
        },
        "trace.quantity_available",
    );
    let a = at(&l);
    expect_ok(&l.call(&key("farm"), &Sell { lot: "L1".into(), quantity_milli: 900_000, at: a }).unwrap());
    assert_eq!(lot(&l).status, LotStatus::Sold);
}

#[test]
fn trace_recalled_is_final() {
    let mut l = with_lot();
    harvest(&mut l);
    let a = at(&l);
    // Only regulators recall.
    expect_refused(
        &l.call(&key("farm"), &Recall { lot: "L1".into(), reason: "x".into(), at: a }).unwrap(),
        "wrong_role",
    );
    let a = at(&l);
    expect_ok(&l.call(&key("agri"), &Recall { lot: "L1".into(), reason: "pesticide residue".into(), at: a }).unwrap());
    refused_unchanged(&mut l, &key("farm"), certify, "trace.recalled_is_final");
}

#[test]
fn trace_id_format_and_test_consistency() {
    assert!(rules::id_format("lot id", "L-1_2.x").is_ok());
    assert!(rules::id_format("lot id", "L/1").is_err());
    assert!(rules::id_format("lot id", "").is_err());
    let mut l = with_lot();
    let a = at(&l);
    let r = l
        .call(
            &key("farm"),
            &CreateLot {
                lot: "bad lot".into(),
                product: "06901234567892".into(),
                origin: origin(),
                quantity_milli: 1,
                unit: "kg".into(),
                at: a,
            },
        )
        .unwrap();
    expect_refused(&r, "trace.id_format");
    let a = at(&l);
    let lie = TestItem { name: "lead".into(), measured_milli: 900, limit_milli: 500, unit: "mg/kg".into(), pass: true };
    let r = l
        .call(&key("lab"), &RecordTest { lot: "L1".into(), items: vec![lie], report_hash: Hash::ZERO, at: a })
        .unwrap();
    expect_refused(&r, "trace.test_result_consistent");
}

#[test]
fn trace_full_life_cycle_tags_every_event() {
    let mut l = with_lot();
    harvest(&mut l);
    expect_ok(&test(&mut l, true));
    expect_ok(&certify(&mut l));
    let a = at(&l);
    let r = l.call(&key("farm"), &Ship { lot: "L1".into(), to: uscc("shop"), at: a }).unwrap();
    assert!(r.tags.iter().any(|t| t.id == "L1"));
    let a = at(&l);
    expect_ok(&l.call(&key("shop"), &Receive { lot: "L1".into(), at: a }).unwrap());
    let a = at(&l);
    expect_ok(&l.call(&key("shop"), &Sell { lot: "L1".into(), quantity_milli: 1000, at: a }).unwrap());
    let lot = lot(&l);
    assert_eq!((lot.status, lot.quantity_milli, lot.events), (LotStatus::Received, 899_000, 7));
}

/// A harvested, certified lot `id` at the plant (processor), made by the plant.
fn plant_lot(l: &mut TestLedger, id: &str, qty: u64) {
    let plant = key("plant");
    if l.get::<jialing_contracts::trace::types::Product>(&jialing_contracts::trace::product_key("ZHACAI")).is_none() {
        expect_ok(
            &l.call(
                &plant,
                &RegisterProduct {
                    code: "ZHACAI".into(),
                    name: "榨菜".into(),
                    category: Category::Processed,
                    standard: String::new(),
                },
            )
            .unwrap(),
        );
    }
    let a = at(l);
    expect_ok(
        &l.call(
            &plant,
            &CreateLot {
                lot: id.into(),
                product: "ZHACAI".into(),
                origin: origin(),
                quantity_milli: qty,
                unit: "kg".into(),
                at: a,
            },
        )
        .unwrap(),
    );
    let a = at(l);
    expect_ok(&l.call(&plant, &Harvest { lot: id.into(), quantity_milli: qty, at: a }).unwrap());
}

fn get_lot(l: &TestLedger, id: &str) -> Lot {
    l.get(&lot_key(id)).unwrap()
}

fn transform(l: &mut TestLedger, inputs: &[(&str, u64)], outputs: &[(&str, u64)], yield_permille: u32) -> Receipt {
    let a = at(l);
    let t = Transform {
        inputs: inputs.iter().map(|(id, q)| TransformInput { lot: (*id).into(), quantity_milli: *q }).collect(),
        outputs: outputs
            .iter()
            .map(|(id, q)| TransformOutput {
                lot: (*id).into(),
                product: "ZHACAI".into(),
                quantity_milli: *q,
                unit: "kg".into(),
            })
            .collect(),
        yield_permille,
        at: a,
    };
    l.call(&key("plant"), &t).unwrap()
}

#[test]
fn trace_quantity_conserved() {
    let mut l = TestLedger::new();
    plant_lot(&mut l, "RAW1", 1_000_000);
    plant_lot(&mut l, "RAW2", 500_000);
    // 1.5 t in at 800‰ allows 1.2 t out: 1.2 t + 1 g is refused.
    refused_unchanged(
        &mut l,
        &key("plant"),
        |l| transform(l, &[("RAW1", 1_000_000), ("RAW2", 500_000)], &[("OUT1", 1_200_001)], 800),
        "trace.quantity_conserved",
    );
    // A declared yield above the parameter (1000‰) is refused too.
    refused_unchanged(
        &mut l,
        &key("plant"),
        |l| transform(l, &[("RAW1", 1_000)], &[("OUT1", 1_000)], 1001),
        "trace.quantity_conserved",
    );
    expect_ok(&transform(
        &mut l,
        &[("RAW1", 1_000_000), ("RAW2", 200_000)],
        &[("OUT1", 700_000), ("OUT2", 500_000)],
        1000,
    ));
    let raw2 = get_lot(&l, "RAW2");
    assert_eq!((raw2.quantity_milli, raw2.children.clone()), (300_000, vec!["OUT1".to_string(), "OUT2".to_string()]));
    assert_eq!(get_lot(&l, "RAW1").status, LotStatus::Consumed);
    assert_eq!(get_lot(&l, "OUT1").parents, vec!["RAW1".to_string(), "RAW2".to_string()]);
    // Inputs never go negative.
    refused_unchanged(
        &mut l,
        &key("plant"),
        |l| transform(l, &[("RAW2", 300_001)], &[("OUT3", 1)], 1000),
        "trace.quantity_available",
    );
}

#[test]
fn trace_recall_reaches_derived() {
    let mut l = TestLedger::new();
    plant_lot(&mut l, "RAW1", 1_000_000);
    plant_lot(&mut l, "OTHER", 10_000);
    expect_ok(&transform(&mut l, &[("RAW1", 600_000)], &[("OUT1", 500_000)], 1000));
    expect_ok(&transform(&mut l, &[("OUT1", 500_000)], &[("OUT2", 400_000)], 1000));
    let a = at(&l);
    expect_ok(
        &l.call(
            &key("plant"),
            &Pack { pack: "PACK1".into(), product: "ZHACAI".into(), lots: vec!["OUT2".into(), "OTHER".into()], at: a },
        )
        .unwrap(),
    );
    let a = at(&l);
    let r = l.call(&key("market"), &Recall { lot: "RAW1".into(), reason: "nitrite".into(), at: a }).unwrap();
    expect_ok(&r);
    // Made from it (twice removed), the pack it went into, and the lot packed with it.
    for id in ["RAW1", "OUT1", "OUT2", "PACK1", "OTHER"] {
        assert_eq!(get_lot(&l, id).status, LotStatus::Recalled, "{id}");
        assert!(r.tags.iter().any(|t| t.id == id), "{id} not tagged");
    }
}

#[test]
fn trace_not_held_and_release_by_regulator() {
    let mut l = with_lot();
    harvest(&mut l);
    let a = at(&l);
    expect_ok(&l.call(&key("agri"), &Hold { lot: "L1".into(), reason: "investigation".into(), at: a }).unwrap());
    refused_unchanged(&mut l, &key("farm"), certify, "trace.not_held");
    // The custodian cannot release a hold.
    let a = at(&l);
    expect_refused(
        &l.call(&key("farm"), &Release { lot: "L1".into(), reason: "x".into(), at: a }).unwrap(),
        "wrong_role",
    );
    let a = at(&l);
    expect_ok(&l.call(&key("agri"), &Release { lot: "L1".into(), reason: "cleared".into(), at: a }).unwrap());
    expect_ok(&certify(&mut l));
}

#[test]
fn trace_destroy_only_held() {
    let mut l = with_lot();
    harvest(&mut l);
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            let a = at(l);
            l.call(&key("farm"), &Destroy { lot: "L1".into(), reason: "x".into(), at: a }).unwrap()
        },
        "trace.destroy_only_held",
    );
    expect_ok(&test(&mut l, false));
    let a = at(&l);
    expect_ok(
        &l.call(&key("farm"), &Destroy { lot: "L1".into(), reason: "buried under supervision".into(), at: a }).unwrap(),
    );
    assert_eq!((lot(&l).status, lot(&l).quantity_milli), (LotStatus::Destroyed, 0));
}

#[test]
fn trace_packed_moves_with_pack_and_pack_same_unit() {
    let mut l = TestLedger::new();
    plant_lot(&mut l, "A", 1_000);
    plant_lot(&mut l, "B", 2_000);
    let a = at(&l);
    expect_ok(
        &l.call(
            &key("plant"),
            &Pack { pack: "P".into(), product: "ZHACAI".into(), lots: vec!["A".into(), "B".into()], at: a },
        )
        .unwrap(),
    );
    assert_eq!(get_lot(&l, "P").quantity_milli, 3_000);
    refused_unchanged(
        &mut l,
        &key("plant"),
        |l| {
            let a = at(l);
            l.call(&key("plant"), &Sell { lot: "A".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.packed_moves_with_pack",
    );
    // The pack ships and is received; its contents change custodian with it.
    let a = at(&l);
    expect_ok(&l.call(&key("plant"), &Ship { lot: "P".into(), to: uscc("shop"), at: a }).unwrap());
    let a = at(&l);
    expect_ok(&l.call(&key("shop"), &Receive { lot: "P".into(), at: a }).unwrap());
    assert_eq!(get_lot(&l, "A").custodian, uscc("shop"));
    // Different units do not pack together.
    let plant = key("plant");
    let a = at(&l);
    expect_ok(
        &l.call(
            &plant,
            &CreateLot {
                lot: "C".into(),
                product: "ZHACAI".into(),
                origin: origin(),
                quantity_milli: 5,
                unit: "box".into(),
                at: a,
            },
        )
        .unwrap(),
    );
    let a = at(&l);
    expect_ok(&l.call(&plant, &Harvest { lot: "C".into(), quantity_milli: 5, at: a }).unwrap());
    plant_lot(&mut l, "D", 5);
    refused_unchanged(
        &mut l,
        &plant,
        |l| {
            let a = at(l);
            l.call(
                &key("plant"),
                &Pack { pack: "P2".into(), product: "ZHACAI".into(), lots: vec!["C".into(), "D".into()], at: a },
            )
            .unwrap()
        },
        "trace.pack_same_unit",
    );
}

#[test]
fn trace_correction_by_author_or_regulator() {
    let mut l = with_lot();
    refused_unchanged(
        &mut l,
        &key("farm2"),
        |l| {
            let a = at(l);
            l.call(
                &key("farm2"),
                &DeclareError {
                    lot: "L1".into(),
                    event_tx: Hash::ZERO,
                    reason: ErrorReason::IncorrectData,
                    note: "n".into(),
                    at: a,
                },
            )
            .unwrap()
        },
        "trace.correction_by_author_or_regulator",
    );
    let a = at(&l);
    expect_ok(
        &l.call(
            &key("farm"),
            &DeclareError {
                lot: "L1".into(),
                event_tx: Hash([1; 32]),
                reason: ErrorReason::IncorrectData,
                note: "quantity mistyped; corrected by the next event".into(),
                at: a,
            },
        )
        .unwrap(),
    );
    assert_eq!(lot(&l).corrections, 1);
}

#[test]
fn trace_joint_punishment() {
    use jialing_contracts::credit::{Category as CreditCategory, Domain, ListKind, RecordDishonesty, SetList, Subject};
    let mut l = with_lot();
    harvest(&mut l);
    let now = l.time_ms;
    let record = RecordDishonesty {
        id: "R1".into(),
        subject: Subject::Org(uscc("farm")),
        category: CreditCategory::Serious,
        domain: Domain::Food,
        summary: "sold produce with banned pesticide residues".into(),
        decision_document: Hash([5; 32]),
        decision_date_ms: now - 1000,
    };
    expect_ok(&l.call(&key("credit"), &record).unwrap());
    expect_ok(
        &l.call(
            &key("credit"),
            &SetList {
                record_id: "R1".into(),
                list: ListKind::SeriousDishonesty,
                enter: true,
                reasons: "serious food-safety case".into(),
            },
        )
        .unwrap(),
    );
    let msg = refused_unchanged(&mut l, &key("farm"), certify, "trace.joint_punishment");
    assert!(msg.contains("serious-dishonesty list"), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random sequences of trace calls from random signers: quantities never underflow,
    /// statuses stay in the machine, and a refused call changes nothing but the nonce.
    #[test]
    fn trace_random_sequences_keep_invariants(ops in proptest::collection::vec((0u8..8, 0usize..5, 0u64..2_000_000, 0u64..3), 1..40)) {
        let mut l = with_lot();
        let signers = ["farm", "farm2", "lab", "logistics", "shop"];
        for (op, who, qty, dt) in ops {
            l.advance(dt * DAY);
            let k = if op == 7 { key("agri") } else { key(signers[who]) };
            let a = at(&l);
            let before = l.snapshot();
            let prev = lot(&l);
            let r = match op {
                0 => l.call(&k, &Harvest { lot: "L1".into(), quantity_milli: qty, at: a }),
                1 => l.call(&k, &RecordTest { lot: "L1".into(), items: vec![TestItem { name: "x".into(), measured_milli: (qty % 1000) as i64, limit_milli: 500, unit: "u".into(), pass: qty % 1000 <= 500 }], report_hash: Hash::ZERO, at: a }),
                2 => l.call(&k, &IssueCertificate { lot: "L1".into(), contact: "c".into(), promise: "p".into(), basis: CertificateBasis::OwnTest, quantity_milli: qty, at: a }),
                3 => l.call(&k, &Ship { lot: "L1".into(), to: uscc(signers[(who + 1) % 5]), at: a }),
                4 => l.call(&k, &Receive { lot: "L1".into(), at: a }),
                5 => l.call(&k, &Sell { lot: "L1".into(), quantity_milli: qty, at: a }),
                6 => l.call(&k, &RecordInput { lot: "L1".into(), kind: InputKind::Pesticide, name: "p".into(), amount_milli: 1, unit: "L".into(), interval_days: (qty % 30) as u32, at: a }),
                _ => l.call(&k, &Recall { lot: "L1".into(), reason: "r".into(), at: a }),
            }.unwrap();
            let now = lot(&l);
            if r.is_ok() {
                prop_assert!(now.quantity_milli <= prev.quantity_milli.max(qty));
                let allowed = match prev.status {
                    LotStatus::Commissioned => vec![LotStatus::Commissioned, LotStatus::Harvested, LotStatus::Recalled],
                    LotStatus::Harvested | LotStatus::Received => vec![prev.status, LotStatus::InTransit, LotStatus::Sold, LotStatus::Recalled],
                    LotStatus::InTransit => vec![LotStatus::InTransit, LotStatus::Received, LotStatus::Recalled],
                    LotStatus::Sold => vec![LotStatus::Sold, LotStatus::Recalled],
                    LotStatus::Recalled | LotStatus::Consumed | LotStatus::Destroyed => vec![],
                };
                prop_assert!(allowed.contains(&now.status), "{:?} -> {:?}", prev.status, now.status);
            } else {
                let mut after = l.snapshot();
                after.remove(&keys::nonce(&k.public()));
                let mut b = before.clone();
                b.remove(&keys::nonce(&k.public()));
                prop_assert!(after == b, "refused op {} by {} changed state", op, signers[who]);
            }
        }
    }
}

/// Export a whole life cycle to EPCIS 2.0 and import it back: every call comes back
/// with the same method and byte-identical payload.
#[test]
fn trace_epcis_round_trip() {
    use jialing_contracts::CallPayload;
    use jialing_contracts::registry;
    use jialing_contracts::trace::epcis;
    let mut l = with_lot();
    let mut calls: Vec<(String, Vec<u8>)> = Vec::new();
    let mut go = |l: &mut TestLedger, k: &Keypair, p: &dyn Fn(EventTime) -> (String, String, Vec<u8>)| {
        let a = at(l);
        let (c, m, bytes) = p(a);
        let tx = jialing_core::Transaction {
            chain_id: l.chain_id.clone(),
            signer: k.public(),
            nonce: l.nonce(&k.public()),
            contract: c,
            method: m.clone(),
            payload: bytes.clone(),
        }
        .sign(k);
        let r = l.block(&[tx]).unwrap();
        expect_ok(&r[0]);
        calls.push((m, bytes));
    };
    let farm = key("farm");
    go(&mut l, &farm, &|a| {
        RecordInput {
            lot: "L1".into(),
            kind: InputKind::Pesticide,
            name: "p".into(),
            amount_milli: 1500,
            unit: "L".into(),
            interval_days: 0,
            at: a,
        }
        .to_call()
    });
    go(&mut l, &farm, &|a| Harvest { lot: "L1".into(), quantity_milli: 900_500, at: a }.to_call());
    go(&mut l, &key("lab"), &|a| {
        RecordTest {
            lot: "L1".into(),
            items: vec![TestItem {
                name: "x".into(),
                measured_milli: 1,
                limit_milli: 5,
                unit: "mg/kg".into(),
                pass: true,
            }],
            report_hash: Hash([3; 32]),
            at: a,
        }
        .to_call()
    });
    go(&mut l, &farm, &|a| {
        IssueCertificate {
            lot: "L1".into(),
            contact: "138".into(),
            promise: "ok".into(),
            basis: CertificateBasis::OwnTest,
            quantity_milli: 900_500,
            at: a,
        }
        .to_call()
    });
    go(&mut l, &farm, &|a| Ship { lot: "L1".into(), to: uscc("shop"), at: a }.to_call());
    go(&mut l, &key("shop"), &|a| Receive { lot: "L1".into(), at: a }.to_call());
    go(&mut l, &key("shop"), &|a| Sell { lot: "L1".into(), quantity_milli: 500, at: a }.to_call());
    go(&mut l, &key("agri"), &|a| Hold { lot: "L1".into(), reason: "check".into(), at: a }.to_call());
    go(&mut l, &key("agri"), &|a| Release { lot: "L1".into(), reason: "fine".into(), at: a }.to_call());
    go(&mut l, &key("agri"), &|a| Recall { lot: "L1".into(), reason: "residue".into(), at: a }.to_call());
    let args: Vec<serde_json::Value> =
        calls.iter().map(|(m, b)| (registry::find("trace", m).unwrap().to_json)(b).unwrap()).collect();
    let records: Vec<epcis::EventRecord<'_>> = calls
        .iter()
        .zip(&args)
        .map(|((m, _), a)| epcis::EventRecord { tx_hash: Hash([1; 32]), method: m, args: a, org: "X" })
        .collect();
    let doc = epcis::export_lot("https://r.example", &lot(&l), None, &records);
    let plan = jialing_contracts::trace::epcis_import::plan(&doc).unwrap();
    let back: Vec<(String, serde_json::Value)> = plan.events.iter().filter_map(|e| e.mapped.clone()).collect();
    assert_eq!(back.len(), calls.len());
    for ((m, bytes), (m2, a2)) in calls.iter().zip(back) {
        assert_eq!(m, &m2);
        let b2 = (registry::find("trace", &m2).unwrap().from_json)(a2).unwrap();
        assert_eq!(bytes, &b2, "{m} did not round-trip");
    }
    // The export's event IDs are the events' CBV 2.0 hash IDs, and survive import.
    for (ev, imported) in doc["epcisBody"]["eventList"].as_array().unwrap().iter().zip(&plan.events) {
        assert_eq!(ev["eventID"].as_str(), Some(imported.hash_id.as_str()));
    }
    // What maps to no rule is kept as an observation; what is invalid is named.
    let other = serde_json::json!({"type": "ObjectEvent", "action": "OBSERVE", "eventTime": "2026-01-01T00:00:00+08:00", "eventTimeZoneOffset": "+08:00", "bizStep": "repairing", "quantityList": [{"epcClass": "https://r/01/1/10/L"}]});
    let p = jialing_contracts::trace::epcis_import::plan(
        &serde_json::json!({"type": "EPCISDocument", "epcisBody": {"eventList": [other]}}),
    )
    .unwrap();
    assert_eq!((p.mapped(), p.observed()), (0, 1));
    let err = jialing_contracts::trace::epcis_import::plan(
        &serde_json::json!({"type": "ObjectEvent", "action": "ADD", "eventTimeZoneOffset": "+08:00"}),
    )
    .unwrap_err();
    assert!(err.contains("eventTime"), "{err}");
}

/// Records a serious and a general record against the farm (score 45: grade D, not on
/// the serious-dishonesty list, so no joint punishment).
fn grade_farm_d(l: &mut TestLedger) {
    use jialing_contracts::credit::{Category as C, Domain, RecordDishonesty, Subject};
    for (id, category) in [("S1", C::Serious), ("G1", C::General)] {
        let p = RecordDishonesty {
            id: id.into(),
            subject: Subject::Org(uscc("farm")),
            category,
            domain: Domain::Food,
            summary: "residue over the limit".into(),
            decision_document: Hash([7; 32]),
            decision_date_ms: l.time_ms,
        };
        expect_ok(&l.call(&key("market"), &p).unwrap());
    }
}

#[test]
fn trace_supervision_lab_test() {
    let mut l = with_lot();
    harvest(&mut l);
    grade_farm_d(&mut l);
    let msg = refused_unchanged(&mut l, &key("farm"), certify, "trace.supervision_lab_test");
    assert!(msg.contains("graded D"), "{msg}");
    expect_ok(&test(&mut l, true));
    expect_ok(&certify(&mut l));
}

/// Creates, harvests and certifies `id` at the farm with `o` as origin, and ships it to
/// the shop, which receives it.
fn certified_at_shop(l: &mut TestLedger, id: &str, o: Origin) {
    certified_at(l, id, o, "shop");
}

/// The same, shipped to `to`.
fn certified_at(l: &mut TestLedger, id: &str, o: Origin, to: &str) {
    let farm = key("farm");
    let a = at(l);
    let create = CreateLot {
        lot: id.into(),
        product: "06901234567892".into(),
        origin: o,
        quantity_milli: 1_000,
        unit: "kg".into(),
        at: a,
    };
    expect_ok(&l.call(&farm, &create).unwrap());
    let a = at(l);
    expect_ok(&l.call(&farm, &Harvest { lot: id.into(), quantity_milli: 1_000, at: a }).unwrap());
    let a = at(l);
    let cert = IssueCertificate {
        lot: id.into(),
        contact: "138".into(),
        promise: "不使用禁用农药".into(),
        basis: CertificateBasis::OwnControl,
        quantity_milli: 1_000,
        at: a,
    };
    expect_ok(&l.call(&farm, &cert).unwrap());
    let a = at(l);
    expect_ok(&l.call(&farm, &Ship { lot: id.into(), to: uscc(to), at: a }).unwrap());
    let a = at(l);
    expect_ok(&l.call(&key(to), &Receive { lot: id.into(), at: a }).unwrap());
}

fn pack_at_shop(l: &mut TestLedger, pack: &str, lots: &[&str]) {
    let a = at(l);
    let p = Pack {
        pack: pack.into(),
        product: "06901234567892".into(),
        lots: lots.iter().map(|s| s.to_string()).collect(),
        at: a,
    };
    expect_ok(&l.call(&key("shop"), &p).unwrap());
}

#[test]
fn trace_certificate_inherited() {
    let mut l = with_lot();
    certified_at_shop(&mut l, "A", origin());
    certified_at_shop(&mut l, "B", origin());
    // A retailer packs two certified lots of the same product and origin: the pack
    // carries their certificate, so the retailer can sell it.
    pack_at_shop(&mut l, "PK", &["A", "B"]);
    let pk = get_lot(&l, "PK");
    let c = pk.certificate.clone().expect("inherited certificate");
    assert_eq!((c.issuer, c.quantity_milli, c.inherited_from), (uscc("farm"), 2_000, vec!["A".into(), "B".into()]));
    assert_eq!(pk.origins, vec![origin()]);
    let a = at(&l);
    expect_ok(&l.call(&key("shop"), &Sell { lot: "PK".into(), quantity_milli: 500, at: a }).unwrap());
}

#[test]
fn trace_certificate_not_inherited_across_origins_and_origins_kept() {
    let mut l = with_lot();
    let other = Origin { village: "高家镇".into(), lat_micro: 29_900_000, ..origin() };
    certified_at_shop(&mut l, "A", origin());
    certified_at_shop(&mut l, "B", other.clone());
    pack_at_shop(&mut l, "PK", &["A", "B"]);
    let pk = get_lot(&l, "PK");
    assert_eq!(pk.origins, vec![origin(), other], "every input's origin is kept");
    assert!(pk.certificate.is_none(), "mixed origins need a new certificate");
    refused_unchanged(
        &mut l,
        &key("shop"),
        |l| {
            let a = at(l);
            l.call(&key("shop"), &Sell { lot: "PK".into(), quantity_milli: 1, at: a }).unwrap()
        },
        "trace.certificate_before_shipment",
    );
}

#[test]
fn trace_certificate_inherited_by_transformation_outputs() {
    let mut l = with_lot();
    certified_at(&mut l, "A", origin(), "plant");
    let out = |lot: &str, product: &str, q: u64| TransformOutput {
        lot: lot.into(),
        product: product.into(),
        quantity_milli: q,
        unit: "kg".into(),
    };
    let a = at(&l);
    expect_ok(
        &l.call(
            &key("plant"),
            &RegisterProduct {
                code: "ZHACAI".into(),
                name: "榨菜".into(),
                category: Category::Processed,
                standard: "GB 2714".into(),
            },
        )
        .unwrap(),
    );
    let t = Transform {
        inputs: vec![TransformInput { lot: "A".into(), quantity_milli: 1_000 }],
        outputs: vec![out("A1", "06901234567892", 400), out("Z1", "ZHACAI", 500)],
        yield_permille: 1000,
        at: a,
    };
    expect_ok(&l.call(&key("plant"), &t).unwrap());
    let a1 = get_lot(&l, "A1");
    let c = a1.certificate.expect("same product, one origin: inherited");
    assert_eq!((c.quantity_milli, c.inherited_from), (400, vec!["A".to_string()]));
    assert!(get_lot(&l, "Z1").certificate.is_none(), "another product needs its own certificate");
    assert_eq!(get_lot(&l, "Z1").origins, vec![origin()]);
}
