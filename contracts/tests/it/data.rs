//! Data-trading rules, one test per rule (named after it), and the happy path.

use jialing_contracts::data::methods::*;
use jialing_contracts::data::trade_key;
use jialing_contracts::data::types::*;
use jialing_contracts::testkit::{TestLedger, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{Receipt, keys};
use jialing_core::{Hash, Keypair};

const DAY: u64 = 86_400_000;
const V: Hash = Hash([0xab; 32]);

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
    before.remove(&keys::nonce(&signer.public()));
    after.remove(&keys::nonce(&signer.public()));
    assert_eq!(after, before, "refused tx changed state");
    msg
}

fn register(l: &mut TestLedger, id: &str, class: Classification, category: &str) -> Receipt {
    let p = Register {
        id: id.into(),
        title: "县域农产品价格指数".into(),
        category: category.into(),
        kind: DataKind::Index,
        classification: class,
        personal_info: false,
        version_hash: V,
        size_bytes: 1 << 20,
    };
    l.call(&key("provider"), &p).unwrap()
}

/// A registered, listed product P1.
fn listed(l: &mut TestLedger) {
    expect_ok(&register(l, "P1", Classification::Internal, "agriculture"));
    expect_ok(&l.call(&key("exchange"), &Review { product: "P1".into(), report: Hash([1; 32]) }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P1".into() }).unwrap());
    expect_ok(&l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1_000_000 }).unwrap());
}

fn terms(l: &TestLedger, transferable: bool) -> Terms {
    Terms {
        purpose: "price forecasting".into(),
        scenario: "county dashboard".into(),
        fields: vec!["price".into()],
        start_ms: l.time_ms,
        end_ms: l.time_ms + 30 * DAY,
        price_fen: 1_000_000,
        transferable,
        derived_resale: false,
        delivery_mode: DeliveryMode::Api,
    }
}

/// Listed, contracted and escrowed trade T1.
fn escrowed(l: &mut TestLedger, transferable: bool) {
    listed(l);
    let t = terms(l, transferable);
    expect_ok(
        &l.call(&key("exchange"), &Contract { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
            .unwrap(),
    );
    expect_ok(&l.call(&key("exchange"), &Escrow { trade: "T1".into(), amount_fen: 1_000_000 }).unwrap());
}

fn settled(l: &mut TestLedger, transferable: bool) {
    escrowed(l, transferable);
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V }).unwrap());
    expect_ok(&l.call(&key("buyer"), &Accept { trade: "T1".into() }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Settle { trade: "T1".into() }).unwrap());
}

fn trade(l: &TestLedger) -> Trade {
    l.get(&trade_key("T1")).unwrap()
}

#[test]
fn data_happy_path_settles_minus_fee_and_records_lineage() {
    let mut l = TestLedger::new();
    settled(&mut l, false);
    let t = trade(&l);
    assert_eq!((t.status, t.fee_fen, t.paid_fen), (TradeStatus::Settled, 20_000, 980_000));
    expect_ok(
        &l.call(
            &key("buyer"),
            &RecordUse { trade: "T1".into(), purpose: "price forecasting".into(), derived: Some(Hash([7; 32])) },
        )
        .unwrap(),
    );
    assert_eq!(trade(&l).derived, vec![Hash([7; 32])]);
}

#[test]
fn data_negative_list() {
    let mut l = TestLedger::new();
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| register(l, "P9", Classification::Public, "national_core_data"),
        "data.negative_list",
    );
}

#[test]
fn data_important_needs_regulator() {
    let mut l = TestLedger::new();
    expect_ok(&register(&mut l, "P2", Classification::Important, "agriculture"));
    expect_ok(&l.call(&key("exchange"), &Review { product: "P2".into(), report: Hash([1; 32]) }).unwrap());
    refused_unchanged(
        &mut l,
        &key("exchange"),
        |l| l.call(&key("exchange"), &Confirm { product: "P2".into() }).unwrap(),
        "data.important_needs_regulator",
    );
    expect_ok(&l.call(&key("bigdata"), &ApproveImportant { product: "P2".into() }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P2".into() }).unwrap());
}

#[test]
fn data_product_must_be_registered() {
    let mut l = TestLedger::new();
    expect_ok(&register(&mut l, "P1", Classification::Internal, "agriculture"));
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1 }).unwrap(),
        "data.product_must_be_registered",
    );
    let t = terms(&l, false);
    refused_unchanged(
        &mut l,
        &key("exchange"),
        |l| {
            l.call(
                &key("exchange"),
                &Contract { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t },
            )
            .unwrap()
        },
        "data.product_must_be_registered",
    );
}

#[test]
fn data_delivery_digest_matches() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: Hash([0xcd; 32]) }).unwrap(),
        "data.delivery_digest_matches",
    );
}

#[test]
fn data_delivery_within_term() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    l.advance(31 * DAY);
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V }).unwrap(),
        "data.delivery_within_term",
    );
}

#[test]
fn data_inspection_period() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V }).unwrap());
    l.advance(8 * DAY);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &Accept { trade: "T1".into() }).unwrap(),
        "data.inspection_period",
    );
}

#[test]
fn data_no_settlement_before_acceptance() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V }).unwrap());
    refused_unchanged(
        &mut l,
        &key("exchange"),
        |l| l.call(&key("exchange"), &Settle { trade: "T1".into() }).unwrap(),
        "data.no_settlement_before_acceptance",
    );
    expect_ok(&l.call(&key("buyer"), &Dispute { trade: "T1".into(), grounds: "fields missing".into() }).unwrap());
    refused_unchanged(
        &mut l,
        &key("exchange"),
        |l| l.call(&key("exchange"), &Settle { trade: "T1".into() }).unwrap(),
        "data.no_settlement_before_acceptance",
    );
}

#[test]
fn data_final_states() {
    let mut l = TestLedger::new();
    settled(&mut l, true);
    expect_ok(
        &l.call(&key("exchange"), &Revoke { trade: "T1".into(), reasons: "resold outside the licence".into() })
            .unwrap(),
    );
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &Transfer { trade: "T1".into(), to: uscc("buyer") }).unwrap(),
        "data.final_states",
    );
    let mut l = TestLedger::new();
    settled(&mut l, false);
    l.advance(31 * DAY);
    refused_unchanged(
        &mut l,
        &key("exchange"),
        |l| l.call(&key("exchange"), &Revoke { trade: "T1".into(), reasons: "x".into() }).unwrap(),
        "data.final_states",
    );
}

#[test]
fn data_transfer_only_if_transferable() {
    let mut l = TestLedger::new();
    settled(&mut l, false);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &Transfer { trade: "T1".into(), to: uscc("buyer") }).unwrap(),
        "data.transfer_only_if_transferable",
    );
}

#[test]
fn data_use_within_scope_and_term() {
    let mut l = TestLedger::new();
    settled(&mut l, false);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &RecordUse { trade: "T1".into(), purpose: "credit scoring".into(), derived: None })
                .unwrap()
        },
        "data.use_within_scope",
    );
    l.advance(31 * DAY);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &RecordUse { trade: "T1".into(), purpose: "price forecasting".into(), derived: None })
                .unwrap()
        },
        "data.use_within_term",
    );
}

#[test]
fn data_owner_and_party_only() {
    let mut l = TestLedger::new();
    listed(&mut l);
    // Another provider cannot relist someone else's product; the exchange records deliveries for no one.
    let t = terms(&l, false);
    expect_ok(
        &l.call(&key("exchange"), &Contract { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
            .unwrap(),
    );
    expect_ok(&l.call(&key("exchange"), &Escrow { trade: "T1".into(), amount_fen: 1_000_000 }).unwrap());
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V }).unwrap());
    // Only the buyer accepts.
    let r = l.call(&key("exchange"), &Accept { trade: "T1".into() }).unwrap();
    expect_refused(&r, "wrong_role");
}

#[test]
fn data_joint_punishment() {
    use jialing_contracts::credit::{Category, Domain, ListKind, RecordDishonesty, SetList, Subject};
    let mut l = TestLedger::new();
    let now = l.time_ms;
    expect_ok(
        &l.call(
            &key("credit"),
            &RecordDishonesty {
                id: "R1".into(),
                subject: Subject::Org(uscc("provider")),
                category: Category::Serious,
                domain: Domain::Other,
                summary: "false registration materials".into(),
                decision_document: Hash([5; 32]),
                decision_date_ms: now - 1000,
            },
        )
        .unwrap(),
    );
    expect_ok(
        &l.call(
            &key("credit"),
            &SetList {
                record_id: "R1".into(),
                list: ListKind::SeriousDishonesty,
                enter: true,
                reasons: "serious".into(),
            },
        )
        .unwrap(),
    );
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| register(l, "P1", Classification::Public, "agriculture"),
        "data.joint_punishment",
    );
}

#[test]
fn data_terminated_is_final_and_deletion_after_licence() {
    let mut l = TestLedger::new();
    settled(&mut l, false);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &AttestDeletion { trade: "T1".into(), certificate: Hash([9; 32]) }).unwrap(),
        "data.deletion_after_licence",
    );
    expect_ok(
        &l.call(&key("exchange"), &Terminate { trade: "T1".into(), reasons: "both parties agree".into() }).unwrap(),
    );
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &RecordUse { trade: "T1".into(), purpose: "price forecasting".into(), derived: None })
                .unwrap()
        },
        "data.use_within_term",
    );
    expect_ok(&l.call(&key("buyer"), &AttestDeletion { trade: "T1".into(), certificate: Hash([9; 32]) }).unwrap());
    assert_eq!(trade(&l).deletion_attested, Some(Hash([9; 32])));
}

#[test]
fn data_withdrawn_products_are_final() {
    let mut l = TestLedger::new();
    listed(&mut l);
    expect_ok(
        &l.call(&key("exchange"), &RevokeProduct(Withdraw { product: "P1".into(), reasons: "false materials".into() }))
            .unwrap(),
    );
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1 }).unwrap(),
        "data.product_must_be_registered",
    );
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &Deregister(Withdraw { product: "P1".into(), reasons: "x".into() })).unwrap(),
        "data.status",
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn allowed(from: TradeStatus, to: TradeStatus) -> bool {
        use TradeStatus::*;
        from == to
            || matches!(
                (from, to),
                (Contracted, Escrowed)
                    | (Escrowed, Delivered)
                    | (Disputed, Delivered)
                    | (Delivered, Accepted)
                    | (Delivered, Disputed)
                    | (Accepted, Settled)
                    | (Settled, Revoked)
                    | (Contracted | Escrowed | Disputed | Settled, Terminated)
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Random sequences of trade calls by random parties: trades move only along the
        /// state machine, money is never created (fee + paid = price), and refused calls
        /// change nothing but the signer's nonce.
        #[test]
        fn data_random_sequences_keep_invariants(ops in proptest::collection::vec((0u8..11, 0usize..3, 0u64..10), 1..30)) {
            let mut l = TestLedger::new();
            escrowed(&mut l, true);
            let who = ["provider", "buyer", "exchange"];
            for (op, w, dt) in ops {
                l.advance(dt * DAY);
                let k = key(who[w]);
                let before = l.snapshot();
                let prev = trade(&l);
                let t = "T1".to_string();
                let r = match op {
                    0 => l.call(&k, &Deliver { trade: t, digest: if dt % 3 == 0 { Hash([1; 32]) } else { V } }),
                    1 => l.call(&k, &Accept { trade: t }),
                    2 => l.call(&k, &Dispute { trade: t, grounds: "g".into() }),
                    3 => l.call(&k, &Settle { trade: t }),
                    4 => l.call(&k, &Revoke { trade: t, reasons: "r".into() }),
                    5 => l.call(&k, &Terminate { trade: t, reasons: "r".into() }),
                    6 => l.call(&k, &Transfer { trade: t, to: uscc("buyer") }),
                    7 => l.call(&k, &RecordUse { trade: t, purpose: "price forecasting".into(), derived: None }),
                    8 => l.call(&k, &AttestDeletion { trade: t, certificate: Hash([2; 32]) }),
                    9 => l.call(&k, &Escrow { trade: t, amount_fen: 1_000_000 }),
                    _ => l.call(&k, &Suspend { product: "P1".into() }),
                }
                .unwrap();
                let now = trade(&l);
                if r.is_ok() {
                    prop_assert!(allowed(prev.status, now.status), "{:?} -> {:?}", prev.status, now.status);
                    if now.status == TradeStatus::Settled {
                        prop_assert_eq!(now.fee_fen + now.paid_fen, now.terms.price_fen);
                    }
                } else {
                    let mut after = l.snapshot();
                    let mut b = before.clone();
                    after.remove(&keys::nonce(&k.public()));
                    b.remove(&keys::nonce(&k.public()));
                    prop_assert!(after == b, "refused op {} changed state", op);
                }
            }
        }
    }
}
