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
                    LotStatus::Recalled => vec![],
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
