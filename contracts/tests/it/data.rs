//! Data-trading rules, one test per rule (named after it), and the happy path.

use jialing_contracts::data::disputes::*;
use jialing_contracts::data::freeze::*;
use jialing_contracts::data::methods::*;
use jialing_contracts::data::negotiation::*;
use jialing_contracts::data::product_key;
use jialing_contracts::data::trade_key;
use jialing_contracts::data::types::*;
use jialing_contracts::testkit::{TestLedger, expect_ok, expect_refused, key, uscc};
use jialing_contracts::{Receipt, keys};
use jialing_core::Uscc;
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
        source_licence: None,
        holders: vec![],
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
        delivery_mode: DeliveryMode::Download,
        inspection_period_ms: None,
    }
}

const DOC: Hash = Hash([0xd0; 32]);

/// Trade `id` on P1 negotiated by the buyer, checked by the exchange and signed by
/// both parties.
fn contracted_trade(l: &mut TestLedger, id: &str, t: Terms) {
    expect_ok(
        &l.call(&key("buyer"), &Negotiate { id: id.into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
            .unwrap(),
    );
    expect_ok(&l.call(&key("exchange"), &CheckCompliance { trade: id.into(), report: Hash([3; 32]) }).unwrap());
    expect_ok(&l.call(&key("provider"), &Sign { trade: id.into(), document: DOC }).unwrap());
    expect_ok(&l.call(&key("buyer"), &Sign { trade: id.into(), document: DOC }).unwrap());
}

/// Listed, contracted and escrowed trade T1.
fn escrowed(l: &mut TestLedger, transferable: bool) {
    listed(l);
    let t = terms(l, transferable);
    contracted_trade(l, "T1", t);
    expect_ok(&escrow(l, 1_000_000));
}

fn settle(l: &mut TestLedger) -> Receipt {
    l.call(&key("exchange"), &Settle { trade: "T1".into() }).unwrap()
}

fn escrow(l: &mut TestLedger, amount_fen: u64) -> Receipt {
    l.call(&key("exchange"), &Escrow { trade: "T1".into(), amount_fen }).unwrap()
}

fn deliver(l: &mut TestLedger) -> Receipt {
    l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V, job: None }).unwrap()
}

fn accept(l: &mut TestLedger, digest: Hash) -> Receipt {
    l.call(&key("buyer"), &Accept { trade: "T1".into(), digest }).unwrap()
}

fn settled(l: &mut TestLedger, transferable: bool) {
    escrowed(l, transferable);
    expect_ok(&deliver(l));
    expect_ok(&accept(l, V));
    expect_ok(&settle(l));
}

/// A use within the licence of `terms` (scenario, fields, mode), with `purpose`.
fn uses(trade: &str, purpose: &str, derived: Option<Hash>) -> RecordUse {
    RecordUse {
        trade: trade.into(),
        purpose: purpose.into(),
        scenario: "county dashboard".into(),
        fields: vec!["price".into()],
        mode: DeliveryMode::Download,
        derived,
    }
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
    expect_ok(&l.call(&key("buyer"), &uses("T1", "price forecasting", Some(Hash([7; 32])))).unwrap());
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
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
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
        |l| l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: Hash([0xcd; 32]), job: None }).unwrap(),
        "data.delivery_digest_matches",
    );
}

#[test]
fn data_delivery_within_term() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    l.advance(31 * DAY);
    refused_unchanged(&mut l, &key("provider"), deliver, "data.delivery_within_term");
}

#[test]
fn data_inspection_period() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&deliver(&mut l));
    l.advance(8 * DAY);
    refused_unchanged(&mut l, &key("buyer"), |l| accept(l, V), "data.inspection_period");
}

#[test]
fn data_no_settlement_before_acceptance() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&deliver(&mut l));
    refused_unchanged(&mut l, &key("exchange"), settle, "data.no_settlement_before_acceptance");
    expect_ok(
        &l.call(&key("buyer"), &Dispute { trade: "T1".into(), grounds: "fields missing".into(), evidence: None })
            .unwrap(),
    );
    refused_unchanged(&mut l, &key("exchange"), settle, "data.no_settlement_before_acceptance");
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
        |l| l.call(&key("buyer"), &uses("T1", "credit scoring", None)).unwrap(),
        "data.use_within_scope",
    );
    l.advance(31 * DAY);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &uses("T1", "price forecasting", None)).unwrap(),
        "data.use_within_term",
    );
}

#[test]
fn data_owner_and_party_only() {
    let mut l = TestLedger::new();
    listed(&mut l);
    // A buyer opens negotiations only for itself; the provider does not open them.
    let t = terms(&l, false);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("shop"), terms: t })
                .unwrap()
        },
        "data.party_only",
    );
    let t = terms(&l, false);
    let r = l
        .call(&key("provider"), &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
        .unwrap();
    expect_refused(&r, "wrong_role");
    let t = terms(&l, false);
    contracted_trade(&mut l, "T1", t);
    expect_ok(&escrow(&mut l, 1_000_000));
    expect_ok(&deliver(&mut l));
    // Only the buyer accepts.
    let r = l.call(&key("exchange"), &Accept { trade: "T1".into(), digest: V }).unwrap();
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
        |l| l.call(&key("buyer"), &uses("T1", "price forecasting", None)).unwrap(),
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

fn product(l: &TestLedger) -> DataProduct {
    l.get(&product_key("P1")).unwrap()
}

fn arbitrate(l: &mut TestLedger, outcome: Outcome) -> Receipt {
    l.call(&key("exchange"), &Arbitrate { trade: "T1".into(), outcome, document: Hash([0xaa; 32]) }).unwrap()
}

fn disputed(l: &mut TestLedger) {
    escrowed(l, false);
    expect_ok(&deliver(l));
    expect_ok(
        &l.call(&key("buyer"), &Dispute { trade: "T1".into(), grounds: "rows missing".into(), evidence: None })
            .unwrap(),
    );
}

#[test]
fn data_deemed_acceptance() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&deliver(&mut l));
    // Within the inspection period the exchange cannot settle for a silent buyer.
    l.advance(6 * DAY);
    refused_unchanged(&mut l, &key("exchange"), settle, "data.no_settlement_before_acceptance");
    l.advance(2 * DAY);
    expect_ok(&settle(&mut l));
    let t = trade(&l);
    assert_eq!(
        (t.status, t.acceptance, t.fee_fen, t.paid_fen),
        (TradeStatus::Settled, Some(Acceptance::Deemed), 20_000, 980_000)
    );
    assert!(t.escrow_balances());
    // An agreed, shorter inspection period ends sooner; a longer one than the exchange's is refused.
    let mut l = TestLedger::new();
    listed(&mut l);
    let mut t = terms(&l, false);
    t.inspection_period_ms = Some(8 * DAY);
    let r = l
        .call(
            &key("buyer"),
            &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t.clone() },
        )
        .unwrap();
    expect_refused(&r, "invalid_argument");
    t.inspection_period_ms = Some(DAY);
    contracted_trade(&mut l, "T1", t);
    expect_ok(&escrow(&mut l, 1_000_000));
    expect_ok(&deliver(&mut l));
    l.advance(2 * DAY);
    refused_unchanged(&mut l, &key("buyer"), |l| accept(l, V), "data.inspection_period");
    expect_ok(&settle(&mut l));
    assert_eq!(trade(&l).acceptance, Some(Acceptance::Deemed));
}

#[test]
fn data_acceptance_digest_mismatch_disputes() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&deliver(&mut l));
    expect_ok(&accept(&mut l, Hash([0x11; 32])));
    let t = trade(&l);
    assert_eq!(t.status, TradeStatus::Disputed);
    assert_eq!(t.buyer_digest, Some(Hash([0x11; 32])));
    assert!(t.dispute.as_ref().is_some_and(|d| d.automatic));
    // A disputed trade is not settled by the exchange alone: it is arbitrated.
    refused_unchanged(&mut l, &key("exchange"), settle, "data.no_settlement_before_acceptance");
}

#[test]
fn data_arbitration_redeliver_then_accept() {
    let mut l = TestLedger::new();
    disputed(&mut l);
    // Disputes end by arbitration, not by delivering over them.
    refused_unchanged(&mut l, &key("provider"), deliver, "data.status");
    expect_ok(&arbitrate(&mut l, Outcome::Redeliver));
    assert_eq!(trade(&l).status, TradeStatus::Escrowed);
    expect_ok(&deliver(&mut l));
    expect_ok(&accept(&mut l, V));
    expect_ok(&settle(&mut l));
    let t = trade(&l);
    assert_eq!((t.status, t.acceptance, t.arbitrations.len()), (TradeStatus::Settled, Some(Acceptance::Buyer), 1));
    assert_eq!(t.arbitrations[0].document, Hash([0xaa; 32]));
}

#[test]
fn data_arbitration_partial_refund_settles_the_rest() {
    let mut l = TestLedger::new();
    disputed(&mut l);
    expect_ok(&arbitrate(&mut l, Outcome::PartialRefund { refund_fen: 300_000 }));
    let t = trade(&l);
    assert_eq!(
        (t.status, t.acceptance, t.refunded_fen, t.fee_fen, t.paid_fen),
        (TradeStatus::Settled, Some(Acceptance::Arbitrated), 300_000, 14_000, 686_000)
    );
    assert!(t.escrow_balances());
    // The licence is active at the reduced price.
    expect_ok(&l.call(&key("buyer"), &uses("T1", "price forecasting", None)).unwrap());
}

#[test]
fn data_arbitration_full_refund_is_final() {
    let mut l = TestLedger::new();
    disputed(&mut l);
    expect_ok(&arbitrate(&mut l, Outcome::FullRefund));
    let t = trade(&l);
    assert_eq!((t.status, t.refunded_fen, t.paid_fen, t.fee_fen), (TradeStatus::Refunded, 1_000_000, 0, 0));
    assert!(t.escrow_balances());
    refused_unchanged(&mut l, &key("exchange"), |l| arbitrate(l, Outcome::Settle), "data.final_states");
    let mut l = TestLedger::new();
    disputed(&mut l);
    expect_ok(&arbitrate(&mut l, Outcome::Settle));
    assert_eq!((trade(&l).status, trade(&l).paid_fen), (TradeStatus::Settled, 980_000));
}

#[test]
fn data_refund_within_escrow() {
    let mut l = TestLedger::new();
    disputed(&mut l);
    for refund_fen in [0, 1_000_000, 2_000_000] {
        refused_unchanged(
            &mut l,
            &key("exchange"),
            |l| arbitrate(l, Outcome::PartialRefund { refund_fen }),
            "data.refund_within_escrow",
        );
    }
    // Only a disputed trade is arbitrated.
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    refused_unchanged(&mut l, &key("exchange"), |l| arbitrate(l, Outcome::FullRefund), "data.status");
}

#[test]
fn data_termination_refunds_escrow() {
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&deliver(&mut l));
    expect_ok(&l.call(&key("exchange"), &Terminate { trade: "T1".into(), reasons: "both agree".into() }).unwrap());
    let t = trade(&l);
    assert_eq!((t.status, t.refunded_fen, t.paid_fen), (TradeStatus::Terminated, 1_000_000, 0));
    assert!(t.escrow_balances());
}

#[test]
fn data_exchange_suspension() {
    let mut l = TestLedger::new();
    listed(&mut l);
    expect_ok(&l.call(&key("exchange"), &Suspend { product: "P1".into() }).unwrap());
    assert!(product(&l).suspended_by_exchange);
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1 }).unwrap(),
        "data.exchange_suspension",
    );
    let r = l.call(&key("provider"), &Reinstate { product: "P1".into() }).unwrap();
    expect_refused(&r, "wrong_role");
    expect_ok(&l.call(&key("exchange"), &Reinstate { product: "P1".into() }).unwrap());
    assert_eq!(product(&l).status, ProductStatus::Listed);
    // The owner's own suspension is the owner's to lift.
    expect_ok(&l.call(&key("provider"), &Suspend { product: "P1".into() }).unwrap());
    expect_ok(&l.call(&key("provider"), &List { product: "P1".into(), price_fen: 2 }).unwrap());
}

#[test]
fn data_objection_disputes_then_exchange_decides() {
    let mut l = TestLedger::new();
    listed(&mut l);
    expect_ok(
        &l.call(&key("farm"), &Object { product: "P1".into(), grounds: "our data".into(), evidence: Hash([4; 32]) })
            .unwrap(),
    );
    assert_eq!(product(&l).status, ProductStatus::Disputed);
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1 }).unwrap(),
        "data.product_must_be_registered",
    );
    let r = l
        .call(&key("provider"), &DecideObjection { product: "P1".into(), upheld: false, document: Hash([5; 32]) })
        .unwrap();
    expect_refused(&r, "wrong_role");
    expect_ok(
        &l.call(&key("exchange"), &DecideObjection { product: "P1".into(), upheld: false, document: Hash([5; 32]) })
            .unwrap(),
    );
    let d = product(&l);
    assert_eq!((d.status, d.objections[0].upheld), (ProductStatus::Registered, Some(false)));
    expect_ok(
        &l.call(&key("buyer"), &Object { product: "P1".into(), grounds: "stolen".into(), evidence: Hash([6; 32]) })
            .unwrap(),
    );
    expect_ok(
        &l.call(&key("exchange"), &DecideObjection { product: "P1".into(), upheld: true, document: Hash([7; 32]) })
            .unwrap(),
    );
    assert_eq!(product(&l).status, ProductStatus::Cancelled);
    refused_unchanged(
        &mut l,
        &key("farm"),
        |l| {
            l.call(&key("farm"), &Object { product: "P1".into(), grounds: "x".into(), evidence: Hash([4; 32]) })
                .unwrap()
        },
        "data.status",
    );
}

#[test]
fn data_frozen() {
    let mut l = TestLedger::new();
    settled(&mut l, true);
    let freeze = |target| Freeze { target, reasons: "investigation".into(), document: Hash([8; 32]) };
    let r = l.call(&key("exchange"), &freeze(FreezeTarget::Licence("T1".into()))).unwrap();
    expect_refused(&r, "wrong_role");
    expect_ok(&l.call(&key("bigdata"), &freeze(FreezeTarget::Licence("T1".into()))).unwrap());
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &uses("T1", "price forecasting", None)).unwrap(),
        "data.frozen",
    );
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &Transfer { trade: "T1".into(), to: uscc("buyer") }).unwrap(),
        "data.frozen",
    );
    refused_unchanged(
        &mut l,
        &key("bigdata"),
        |l| l.call(&key("bigdata"), &freeze(FreezeTarget::Licence("T1".into()))).unwrap(),
        "data.status",
    );
    expect_ok(&l.call(&key("bigdata"), &Unfreeze { target: FreezeTarget::Licence("T1".into()) }).unwrap());
    expect_ok(&l.call(&key("buyer"), &uses("T1", "price forecasting", None)).unwrap());
    // A frozen product: no listing, no new trade, no delivery.
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&l.call(&key("bigdata"), &freeze(FreezeTarget::Product("P1".into()))).unwrap());
    refused_unchanged(&mut l, &key("provider"), deliver, "data.frozen");
    let t = terms(&l, false);
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| {
            l.call(&key("buyer"), &Negotiate { id: "T2".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
                .unwrap()
        },
        "data.frozen",
    );
    expect_ok(&l.call(&key("provider"), &Suspend { product: "P1".into() }).unwrap());
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1 }).unwrap(),
        "data.frozen",
    );
    // A frozen licence is not delivered either.
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    expect_ok(&l.call(&key("bigdata"), &freeze(FreezeTarget::Licence("T1".into()))).unwrap());
    refused_unchanged(&mut l, &key("provider"), deliver, "data.frozen");
}

#[test]
fn data_contract_document_matches() {
    let mut l = TestLedger::new();
    listed(&mut l);
    let t = terms(&l, false);
    expect_ok(
        &l.call(&key("buyer"), &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("buyer"), terms: t })
            .unwrap(),
    );
    // No signature before the compliance check; no escrow before the contract.
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &Sign { trade: "T1".into(), document: DOC }).unwrap(),
        "data.status",
    );
    let mut revised = terms(&l, false);
    revised.price_fen = 900_000;
    expect_ok(&l.call(&key("provider"), &Revise { trade: "T1".into(), terms: revised }).unwrap());
    expect_ok(&l.call(&key("exchange"), &CheckCompliance { trade: "T1".into(), report: Hash([3; 32]) }).unwrap());
    expect_ok(&l.call(&key("provider"), &Sign { trade: "T1".into(), document: DOC }).unwrap());
    assert_eq!(trade(&l).status, TradeStatus::ComplianceChecked);
    refused_unchanged(&mut l, &key("exchange"), |l| escrow(l, 900_000), "data.status");
    refused_unchanged(
        &mut l,
        &key("buyer"),
        |l| l.call(&key("buyer"), &Sign { trade: "T1".into(), document: Hash([0xd1; 32]) }).unwrap(),
        "data.contract_document_matches",
    );
    expect_ok(&l.call(&key("buyer"), &Sign { trade: "T1".into(), document: DOC }).unwrap());
    let t = trade(&l);
    assert_eq!((t.status, t.contract_document, t.terms.price_fen), (TradeStatus::Contracted, Some(DOC), 900_000));
    expect_ok(&escrow(&mut l, 900_000));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn allowed(from: TradeStatus, to: TradeStatus) -> bool {
        use TradeStatus::*;
        from == to
            || matches!(
                (from, to),
                (Negotiating, ComplianceChecked)
                    | (ComplianceChecked, Contracted)
                    | (Contracted, Escrowed)
                    | (Escrowed, Delivered)
                    | (Delivered, Accepted | Disputed | Settled)
                    | (Accepted, Settled)
                    | (Disputed, Escrowed | Settled | Refunded)
                    | (Settled, Revoked)
                    | (
                        Negotiating
                            | ComplianceChecked
                            | Contracted
                            | Escrowed
                            | Delivered
                            | Accepted
                            | Disputed
                            | Settled,
                        Terminated
                    )
            )
    }

    const FINAL: [TradeStatus; 3] = [TradeStatus::Revoked, TradeStatus::Terminated, TradeStatus::Refunded];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Random sequences of calls over two trades by random parties, with disputes,
        /// arbitration, freezes, objections and suspensions: trades move only along the
        /// state machine, final states stay final, escrow is conserved on every trade
        /// and over the ledger (money in = settled + fees + refunds + held), and
        /// refused calls change nothing but the signer's nonce.
        #[test]
        fn data_random_sequences_keep_invariants(ops in proptest::collection::vec((0u8..50, 0usize..8, 0usize..2, 0u64..5), 1..80)) {
            let mut l = TestLedger::new();
            listed(&mut l);
            for id in ["T1", "T2"] {
                let mut t = terms(&l, true);
                t.end_ms = t.start_ms + 200 * DAY;
                expect_ok(&l.call(&key("buyer"), &Negotiate { id: id.into(), product: "P1".into(), buyer: uscc("buyer"), terms: t }).unwrap());
            }
            let who = ["provider", "buyer", "exchange", "bigdata"];
            let get = |l: &TestLedger, id: &str| -> Trade { l.get(&trade_key(id)).unwrap() };
            for (op, w, ti, dt) in ops {
                l.advance(dt * DAY / 2);
                let id = ["T1", "T2"][ti];
                let prev = get(&l, id);
                // Ops 25.. take the trade's next step, so runs reach every state.
                let op = if op > 24 {
                    use TradeStatus::*;
                    match prev.status {
                        Negotiating => 0,
                        ComplianceChecked => 1,
                        Contracted => 2,
                        Escrowed => 3,
                        Delivered => [4, 4, 5, 10, 4][dt as usize],
                        Accepted => 10,
                        Disputed => [6, 7, 8, 9, 7][dt as usize],
                        Settled => [14, 13, 11, 14, 12][dt as usize],
                        _ => 15,
                    }
                } else {
                    op
                };
                // Mostly the party the method is meant for, sometimes anyone.
                let natural = match op {
                    1 if prev.provider_signed => "buyer",
                    1 => "provider",
                    3 | 24 => "provider",
                    4 | 5 | 13 | 14 | 15 => "buyer",
                    16..=19 => "bigdata",
                    22 => "farm",
                    _ => "exchange",
                };
                let k = key(if w < 4 { who[w] } else { natural });
                let before = l.snapshot();
                let t = id.to_string();
                let doc = if dt == 4 && w < 2 { Hash([0xd1; 32]) } else { DOC };
                let r = match op {
                    0 => l.call(&k, &CheckCompliance { trade: t, report: Hash([3; 32]) }),
                    1 => l.call(&k, &Sign { trade: t, document: doc }),
                    2 => l.call(&k, &Escrow { trade: t, amount_fen: 1_000_000 }),
                    3 => l.call(&k, &Deliver { trade: t, digest: if dt == 3 { Hash([1; 32]) } else { V }, job: None }),
                    4 => l.call(&k, &Accept { trade: t, digest: if dt == 2 { Hash([1; 32]) } else { V } }),
                    5 => l.call(&k, &Dispute { trade: t, grounds: "g".into(), evidence: None }),
                    6 => l.call(&k, &Arbitrate { trade: t, outcome: Outcome::Redeliver, document: doc }),
                    7 => l.call(&k, &Arbitrate { trade: t, outcome: Outcome::PartialRefund { refund_fen: dt * 300_000 }, document: doc }),
                    8 => l.call(&k, &Arbitrate { trade: t, outcome: Outcome::FullRefund, document: doc }),
                    9 => l.call(&k, &Arbitrate { trade: t, outcome: Outcome::Settle, document: doc }),
                    10 => l.call(&k, &Settle { trade: t }),
                    11 => l.call(&k, &Revoke { trade: t, reasons: "r".into() }),
                    12 => l.call(&k, &Terminate { trade: t, reasons: "r".into() }),
                    13 => l.call(&k, &Transfer { trade: t, to: uscc("buyer") }),
                    14 => l.call(&k, &uses(&t, "price forecasting", None)),
                    15 => l.call(&k, &AttestDeletion { trade: t, certificate: Hash([2; 32]) }),
                    16 => l.call(&k, &Freeze { target: FreezeTarget::Licence(t), reasons: "r".into(), document: doc }),
                    17 => l.call(&k, &Unfreeze { target: FreezeTarget::Licence(t) }),
                    18 => l.call(&k, &Freeze { target: FreezeTarget::Product("P1".into()), reasons: "r".into(), document: doc }),
                    19 => l.call(&k, &Unfreeze { target: FreezeTarget::Product("P1".into()) }),
                    20 => l.call(&k, &Suspend { product: "P1".into() }),
                    21 => l.call(&k, &Reinstate { product: "P1".into() }),
                    22 => l.call(&k, &Object { product: "P1".into(), grounds: "g".into(), evidence: doc }),
                    24 => l.call(&k, &List { product: "P1".into(), price_fen: 1_000_000 }),
                    _ => l.call(&k, &DecideObjection { product: "P1".into(), upheld: dt == 0, document: doc }),
                }
                .unwrap();
                let now = get(&l, id);
                if r.is_ok() {
                    prop_assert!(allowed(prev.status, now.status), "{:?} -> {:?}", prev.status, now.status);
                    prop_assert!(!FINAL.contains(&prev.status) || prev.status == now.status, "final {:?} moved", prev.status);
                } else {
                    let mut after = l.snapshot();
                    let mut b = before.clone();
                    after.remove(&keys::nonce(&k.public()));
                    b.remove(&keys::nonce(&k.public()));
                    prop_assert!(after == b, "refused op {} changed state", op);
                }
                // Escrow conservation, per trade and over the ledger.
                let (mut money_in, mut out) = (0u128, 0u128);
                for id in ["T1", "T2"] {
                    let t = get(&l, id);
                    prop_assert!(t.escrow_balances(), "trade {} does not balance: {:?}", id, t);
                    if t.paid_fen > 0 {
                        prop_assert_eq!(t.payouts.iter().map(|p| p.fen).sum::<u64>(), t.paid_fen);
                    }
                    if FINAL.contains(&t.status) || t.status == TradeStatus::Settled {
                        prop_assert_eq!(t.held_fen(), 0);
                    }
                    money_in += u128::from(t.escrowed_fen);
                    out += u128::from(t.paid_fen) + u128::from(t.fee_fen) + u128::from(t.refunded_fen) + u128::from(t.held_fen());
                }
                prop_assert_eq!(money_in, out);
            }
        }
    }
}

#[test]
fn data_delivery_matches_mode() {
    let job = ComputeJob { job_id: "JOB-1".into(), job_hash: Hash([0x21; 32]), result_hash: Hash([0x22; 32]) };
    // A download carries no job.
    let mut l = TestLedger::new();
    escrowed(&mut l, false);
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V, job: Some(job.clone()) }).unwrap(),
        "data.delivery_matches_mode",
    );
    // Compute in place records the job; the buyer accepts with the result's hash.
    let mut l = TestLedger::new();
    listed(&mut l);
    let mut t = terms(&l, false);
    t.delivery_mode = DeliveryMode::ComputeInPlace;
    contracted_trade(&mut l, "T1", t);
    expect_ok(&escrow(&mut l, 1_000_000));
    refused_unchanged(&mut l, &key("provider"), deliver, "data.delivery_matches_mode");
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: V, job: Some(job.clone()) }).unwrap());
    assert_eq!(trade(&l).compute_job, Some(job));
    expect_ok(&accept(&mut l, Hash([0x22; 32])));
    assert_eq!((trade(&l).status, trade(&l).acceptance), (TradeStatus::Accepted, Some(Acceptance::Buyer)));
}

#[test]
fn data_version_hash_is_the_chunk_merkle_root() {
    // A provider registers the digest `jialing data digest` prints; a buyer's digest of
    // the same bytes accepts, a digest of other bytes disputes.
    use jialing_contracts::data::digest::digest;
    let data = b"date,product,price\n2026-03-01,pomelo,860\n".repeat(1000);
    let root = digest(&data).root;
    let mut l = TestLedger::new();
    let p = Register {
        id: "P1".into(),
        title: "prices".into(),
        category: "agriculture".into(),
        kind: DataKind::Dataset,
        classification: Classification::Internal,
        personal_info: false,
        version_hash: root,
        size_bytes: data.len() as u64,
        source_licence: None,
        holders: vec![],
    };
    expect_ok(&l.call(&key("provider"), &p).unwrap());
    expect_ok(&l.call(&key("exchange"), &Review { product: "P1".into(), report: Hash([1; 32]) }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Confirm { product: "P1".into() }).unwrap());
    expect_ok(&l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1_000_000 }).unwrap());
    let t = terms(&l, false);
    contracted_trade(&mut l, "T1", t);
    expect_ok(&escrow(&mut l, 1_000_000));
    expect_ok(&l.call(&key("provider"), &Deliver { trade: "T1".into(), digest: root, job: None }).unwrap());
    let mut truncated = data.clone();
    truncated.pop();
    expect_ok(&accept(&mut l, digest(&truncated).root));
    assert_eq!(trade(&l).status, TradeStatus::Disputed);
}

#[test]
fn data_use_within_scope_fields_scenario_mode() {
    let mut l = TestLedger::new();
    settled(&mut l, false);
    let mut u = uses("T1", "price forecasting", None);
    u.scenario = "credit scoring app".into();
    let bad_scenario = u;
    let mut u = uses("T1", "price forecasting", None);
    u.fields.push("farmer_name".into());
    let bad_field = u;
    let mut u = uses("T1", "price forecasting", None);
    u.mode = DeliveryMode::Api;
    let bad_mode = u;
    for (u, what) in [(bad_scenario, "scenario"), (bad_field, "farmer_name"), (bad_mode, "delivery mode")] {
        let msg =
            refused_unchanged(&mut l, &key("buyer"), |l| l.call(&key("buyer"), &u).unwrap(), "data.use_within_scope");
        assert!(msg.contains(what), "{msg}");
    }
    // A subset of the licensed fields is within scope.
    let mut u = uses("T1", "price forecasting", None);
    u.fields.clear();
    expect_ok(&l.call(&key("buyer"), &u).unwrap());
}

/// The reseller holds a settled licence T1 on P1 (`derived_resale` as given) and
/// recorded a derived dataset `D`.
const D: Hash = Hash([0xde; 32]);

fn reseller_with_derived(l: &mut TestLedger, derived_resale: bool) {
    listed(l);
    let mut t = terms(l, false);
    t.derived_resale = derived_resale;
    expect_ok(
        &l.call(
            &key("reseller"),
            &Negotiate { id: "T1".into(), product: "P1".into(), buyer: uscc("reseller"), terms: t },
        )
        .unwrap(),
    );
    expect_ok(&l.call(&key("exchange"), &CheckCompliance { trade: "T1".into(), report: Hash([3; 32]) }).unwrap());
    expect_ok(&l.call(&key("provider"), &Sign { trade: "T1".into(), document: DOC }).unwrap());
    expect_ok(&l.call(&key("reseller"), &Sign { trade: "T1".into(), document: DOC }).unwrap());
    expect_ok(&escrow(l, 1_000_000));
    expect_ok(&deliver(l));
    expect_ok(&l.call(&key("reseller"), &Accept { trade: "T1".into(), digest: V }).unwrap());
    expect_ok(&settle(l));
    expect_ok(&l.call(&key("reseller"), &uses("T1", "price forecasting", Some(D))).unwrap());
}

fn register_derived(l: &mut TestLedger, who: &str, id: &str, hash: Hash) -> Receipt {
    let p = Register {
        id: id.into(),
        title: "derived price forecast".into(),
        category: "agriculture".into(),
        kind: DataKind::Report,
        classification: Classification::Internal,
        personal_info: false,
        version_hash: hash,
        size_bytes: 1024,
        source_licence: Some("T1".into()),
        holders: vec![],
    };
    l.call(&key(who), &p).unwrap()
}

fn confirm_and_list(l: &mut TestLedger, id: &str) -> Receipt {
    expect_ok(&l.call(&key("exchange"), &Review { product: id.into(), report: Hash([1; 32]) }).unwrap());
    expect_ok(&l.call(&key("exchange"), &Confirm { product: id.into() }).unwrap());
    l.call(&key("reseller"), &List { product: id.into(), price_fen: 10 }).unwrap()
}

#[test]
fn data_derived_from_own_licence() {
    let mut l = TestLedger::new();
    reseller_with_derived(&mut l, true);
    // Not the licensee; not a recorded derived dataset.
    refused_unchanged(
        &mut l,
        &key("provider"),
        |l| register_derived(l, "provider", "P2", D),
        "data.derived_from_own_licence",
    );
    refused_unchanged(
        &mut l,
        &key("reseller"),
        |l| register_derived(l, "reseller", "P2", Hash([0xdf; 32])),
        "data.derived_from_own_licence",
    );
    expect_ok(&register_derived(&mut l, "reseller", "P2", D));
    let p2: DataProduct = l.get(&product_key("P2")).unwrap();
    assert_eq!(p2.source_licence.as_deref(), Some("T1"));
    assert_eq!(product(&l).derived_products, vec!["P2".to_string()]);
}

#[test]
fn data_derived_resale() {
    let mut l = TestLedger::new();
    reseller_with_derived(&mut l, false);
    expect_ok(&register_derived(&mut l, "reseller", "P2", D));
    let r = confirm_and_list(&mut l, "P2");
    expect_refused(&r, "data.derived_resale");
    assert_eq!(l.get::<DataProduct>(&product_key("P2")).unwrap().status, ProductStatus::Registered);
    let mut l = TestLedger::new();
    reseller_with_derived(&mut l, true);
    expect_ok(&register_derived(&mut l, "reseller", "P2", D));
    expect_ok(&confirm_and_list(&mut l, "P2"));
}

#[test]
fn data_lineage_both_ways() {
    use jialing_contracts::data::lineage::lineage;
    let mut l = TestLedger::new();
    reseller_with_derived(&mut l, true);
    expect_ok(&register_derived(&mut l, "reseller", "P2", D));
    let down = lineage(&l.state, "P1").unwrap().unwrap();
    assert!(down.upstream.is_empty());
    assert_eq!(down.downstream.len(), 1);
    assert_eq!((down.downstream[0].product.as_str(), down.downstream[0].depth), ("P2", 1));
    assert_eq!(down.downstream[0].licence.as_deref(), Some("T1"));
    let up = lineage(&l.state, "P2").unwrap().unwrap();
    assert_eq!(up.upstream.len(), 1);
    assert_eq!((up.upstream[0].product.as_str(), up.upstream[0].licence.as_str()), ("P1", "T1"));
    assert!(up.upstream[0].derived_resale);
    assert!(up.downstream.is_empty());
    assert!(lineage(&l.state, "P9").unwrap().is_none());
}

mod assets {
    use super::*;
    use jialing_contracts::data::assets::*;
    use jialing_contracts::data::types::{RightsHolder, ValuationMethod, Voucher, VoucherStatus};
    use jialing_contracts::data::voucher_key;

    fn certify(l: &mut TestLedger, who: &str, days: u64) -> Receipt {
        let until = l.time_ms + days * DAY;
        l.call(
            &key("bigdata"),
            &CertifyAppraiser { org: uscc(who), certificate: Hash([0xce; 32]), valid_until_ms: until },
        )
        .unwrap()
    }

    fn appraise(l: &mut TestLedger, who: &str) -> Receipt {
        let until = l.time_ms + 90 * DAY;
        l.call(
            &key(who),
            &Appraise {
                product: "P1".into(),
                method: ValuationMethod::Income,
                value_fen: 8_000_000,
                report: Hash([0xee; 32]),
                valid_until_ms: until,
            },
        )
        .unwrap()
    }

    fn voucher(l: &TestLedger) -> Voucher {
        l.get(&voucher_key("V1")).unwrap()
    }

    #[test]
    fn data_appraiser_certified() {
        let mut l = TestLedger::new();
        listed(&mut l);
        refused_unchanged(&mut l, &key("lab"), |l| appraise(l, "lab"), "data.appraiser_certified");
        let r = l
            .call(
                &key("exchange"),
                &CertifyAppraiser { org: uscc("lab"), certificate: Hash([1; 32]), valid_until_ms: u64::MAX },
            )
            .unwrap();
        expect_refused(&r, "wrong_role");
        expect_ok(&certify(&mut l, "lab", 30));
        expect_ok(&appraise(&mut l, "lab"));
        let v = &product(&l).valuations[0];
        assert_eq!((v.appraiser.clone(), v.value_fen, v.method), (uscc("lab"), 8_000_000, ValuationMethod::Income));
        // The certification ends.
        l.advance(31 * DAY);
        refused_unchanged(&mut l, &key("lab"), |l| appraise(l, "lab"), "data.appraiser_certified");
        // Auditors write nothing, certified or not.
        expect_ok(&certify(&mut l, "audit", 30));
        expect_refused(&appraise(&mut l, "audit"), "wrong_role");
    }

    #[test]
    fn data_appraiser_independent() {
        let mut l = TestLedger::new();
        listed(&mut l);
        expect_ok(&certify(&mut l, "provider", 30));
        refused_unchanged(&mut l, &key("provider"), |l| appraise(l, "provider"), "data.appraiser_independent");
    }

    #[test]
    fn data_voucher_issue_transfer_pledge_release() {
        let mut l = TestLedger::new();
        listed(&mut l);
        expect_ok(&certify(&mut l, "lab", 30));
        expect_ok(&appraise(&mut l, "lab"));
        let r = l.call(&key("provider"), &IssueVoucher { id: "V1".into(), product: "P1".into() }).unwrap();
        expect_refused(&r, "wrong_role");
        expect_ok(&l.call(&key("exchange"), &IssueVoucher { id: "V1".into(), product: "P1".into() }).unwrap());
        let v = voucher(&l);
        assert_eq!(
            (v.holder.clone(), v.status, v.value_fen),
            (uscc("provider"), VoucherStatus::Active, Some(8_000_000))
        );
        assert_eq!(product(&l).voucher.as_deref(), Some("V1"));
        // Only the holder moves it.
        refused_unchanged(
            &mut l,
            &key("buyer"),
            |l| l.call(&key("buyer"), &TransferVoucher { voucher: "V1".into(), to: uscc("buyer") }).unwrap(),
            "data.owner_only",
        );
        expect_ok(&l.call(&key("provider"), &TransferVoucher { voucher: "V1".into(), to: uscc("reseller") }).unwrap());
        expect_ok(
            &l.call(
                &key("reseller"),
                &PledgeVoucher { voucher: "V1".into(), lender: uscc("shop"), contract: Hash([0x9a; 32]) },
            )
            .unwrap(),
        );
        assert_eq!((voucher(&l).status, voucher(&l).pledgee), (VoucherStatus::Pledged, Some(uscc("shop"))));
        refused_unchanged(
            &mut l,
            &key("reseller"),
            |l| l.call(&key("reseller"), &TransferVoucher { voucher: "V1".into(), to: uscc("provider") }).unwrap(),
            "data.pledged_voucher_locked",
        );
        refused_unchanged(
            &mut l,
            &key("reseller"),
            |l| l.call(&key("reseller"), &ReleaseVoucher { voucher: "V1".into(), document: Hash([0x9b; 32]) }).unwrap(),
            "data.party_only",
        );
        expect_ok(&l.call(&key("shop"), &ReleaseVoucher { voucher: "V1".into(), document: Hash([0x9b; 32]) }).unwrap());
        expect_ok(&l.call(&key("reseller"), &TransferVoucher { voucher: "V1".into(), to: uscc("provider") }).unwrap());
        let kinds: Vec<String> = voucher(&l).events.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(kinds, ["issued", "transferred", "pledged", "released", "transferred"]);
        // A frozen product's voucher does not move; nor does one whose product left the register.
        let freeze =
            Freeze { target: FreezeTarget::Product("P1".into()), reasons: "probe".into(), document: Hash([8; 32]) };
        expect_ok(&l.call(&key("bigdata"), &freeze).unwrap());
        refused_unchanged(
            &mut l,
            &key("provider"),
            |l| l.call(&key("provider"), &TransferVoucher { voucher: "V1".into(), to: uscc("reseller") }).unwrap(),
            "data.frozen",
        );
        expect_ok(&l.call(&key("bigdata"), &Unfreeze { target: FreezeTarget::Product("P1".into()) }).unwrap());
        let w = Withdraw { product: "P1".into(), reasons: "false materials".into() };
        expect_ok(&l.call(&key("exchange"), &RevokeProduct(w)).unwrap());
        refused_unchanged(
            &mut l,
            &key("provider"),
            |l| l.call(&key("provider"), &TransferVoucher { voucher: "V1".into(), to: uscc("reseller") }).unwrap(),
            "data.product_must_be_registered",
        );
    }

    #[test]
    fn data_one_voucher_per_product() {
        let mut l = TestLedger::new();
        listed(&mut l);
        expect_ok(&l.call(&key("exchange"), &IssueVoucher { id: "V1".into(), product: "P1".into() }).unwrap());
        refused_unchanged(
            &mut l,
            &key("exchange"),
            |l| l.call(&key("exchange"), &IssueVoucher { id: "V2".into(), product: "P1".into() }).unwrap(),
            "data.one_voucher_per_product",
        );
        // Not for an unregistered product.
        expect_ok(&register(&mut l, "P3", Classification::Internal, "agriculture"));
        refused_unchanged(
            &mut l,
            &key("exchange"),
            |l| l.call(&key("exchange"), &IssueVoucher { id: "V3".into(), product: "P3".into() }).unwrap(),
            "data.product_must_be_registered",
        );
    }

    fn register_shared(l: &mut TestLedger, holders: Vec<RightsHolder>) -> Receipt {
        let p = Register {
            id: "P1".into(),
            title: "co-owned prices".into(),
            category: "agriculture".into(),
            kind: DataKind::Dataset,
            classification: Classification::Internal,
            personal_info: false,
            version_hash: V,
            size_bytes: 10,
            source_licence: None,
            holders,
        };
        l.call(&key("provider"), &p).unwrap()
    }

    #[test]
    fn data_holder_shares_split_settlement() {
        let h = |n: &str, share_bps| RightsHolder { org: uscc(n), share_bps };
        let mut l = TestLedger::new();
        for bad in [
            vec![h("provider", 7_000)],
            vec![h("provider", 10_000), h("farm", 0)],
            vec![h("farm", 5_000), h("farm", 5_000)],
        ] {
            refused_unchanged(&mut l, &key("provider"), |l| register_shared(l, bad), "data.holder_shares");
        }
        expect_ok(&register_shared(&mut l, vec![h("provider", 6_667), h("farm", 3_333)]));
        expect_ok(&l.call(&key("exchange"), &Review { product: "P1".into(), report: Hash([1; 32]) }).unwrap());
        expect_ok(&l.call(&key("exchange"), &Confirm { product: "P1".into() }).unwrap());
        expect_ok(&l.call(&key("provider"), &List { product: "P1".into(), price_fen: 1_000_000 }).unwrap());
        let mut t = terms(&l, false);
        t.price_fen = 1_000_001;
        contracted_trade(&mut l, "T1", t);
        expect_ok(&escrow(&mut l, 1_000_001));
        expect_ok(&deliver(&mut l));
        expect_ok(&accept(&mut l, V));
        expect_ok(&settle(&mut l));
        let t = trade(&l);
        assert_eq!(t.paid_fen, 980_001);
        let parts: Vec<(Uscc, u64)> = t.payouts.iter().map(|p| (p.org.clone(), p.fen)).collect();
        assert_eq!(parts, vec![(uscc("provider"), 653_367), (uscc("farm"), 326_634)]);
        assert_eq!(t.payouts.iter().map(|p| p.fen).sum::<u64>(), t.paid_fen);
    }
}

mod matching {
    use super::*;
    use jialing_contracts::data::demand_key;
    use jialing_contracts::data::market::*;

    fn post(l: &mut TestLedger, id: &str, min: u64, max: u64) -> Receipt {
        let expires_ms = l.time_ms + 10 * DAY;
        l.call(
            &key("buyer"),
            &PostDemand {
                id: id.into(),
                category: "agriculture".into(),
                purpose: "price forecasting".into(),
                budget_min_fen: min,
                budget_max_fen: max,
                expires_ms,
            },
        )
        .unwrap()
    }

    fn answer(l: &mut TestLedger, who: &str, demand: &str) -> Receipt {
        l.call(&key(who), &AnswerDemand { demand: demand.into(), product: "P1".into() }).unwrap()
    }

    fn record(l: &mut TestLedger, demand: &str, t: Terms) -> Receipt {
        l.call(
            &key("exchange"),
            &RecordMatch { demand: demand.into(), product: "P1".into(), trade: "T1".into(), terms: t },
        )
        .unwrap()
    }

    fn demand(l: &TestLedger, id: &str) -> Demand {
        l.get(&demand_key(id)).unwrap()
    }

    #[test]
    fn data_demand_answer_and_match_open_a_negotiation() {
        let mut l = TestLedger::new();
        listed(&mut l);
        assert!(listing(&product(&l), l.time_ms).is_some());
        expect_ok(&post(&mut l, "D1", 500_000, 2_000_000));
        expect_ok(&answer(&mut l, "provider", "D1"));
        let t = terms(&l, false);
        expect_ok(&record(&mut l, "D1", t));
        let d = demand(&l, "D1");
        assert_eq!((d.status, d.matched_trade.as_deref()), (DemandStatus::Matched, Some("T1")));
        let tr = trade(&l);
        assert_eq!((tr.status, tr.licensee.clone()), (TradeStatus::Negotiating, uscc("buyer")));
        // A matched demand is no longer open.
        assert!(!d.open_at(l.time_ms));
        // A suspended product is not on sale.
        expect_ok(&l.call(&key("provider"), &Suspend { product: "P1".into() }).unwrap());
        assert!(listing(&product(&l), l.time_ms).is_none());
    }

    #[test]
    fn data_demand_open() {
        let mut l = TestLedger::new();
        listed(&mut l);
        expect_ok(&post(&mut l, "D1", 0, 2_000_000));
        expect_ok(&answer(&mut l, "provider", "D1"));
        let t = terms(&l, false);
        expect_ok(&record(&mut l, "D1", t));
        let t = terms(&l, false);
        refused_unchanged(&mut l, &key("exchange"), |l| record(l, "D1", t), "data.demand_open");
        expect_ok(&post(&mut l, "D2", 0, 2_000_000));
        l.advance(11 * DAY);
        refused_unchanged(&mut l, &key("provider"), |l| answer(l, "provider", "D2"), "data.demand_open");
    }

    #[test]
    fn data_answer_matches_demand() {
        let mut l = TestLedger::new();
        listed(&mut l);
        // Listed at 1 000 000 fen: outside a budget of at most 999 999.
        expect_ok(&post(&mut l, "D1", 0, 999_999));
        refused_unchanged(&mut l, &key("provider"), |l| answer(l, "provider", "D1"), "data.answer_matches_demand");
        // Only the product's provider answers with it.
        expect_ok(&post(&mut l, "D2", 0, 2_000_000));
        refused_unchanged(&mut l, &key("reseller"), |l| answer(l, "reseller", "D2"), "data.owner_only");
        // The exchange matches only an answer, with the demand's purpose and budget.
        let t = terms(&l, false);
        refused_unchanged(&mut l, &key("exchange"), |l| record(l, "D2", t), "data.answer_matches_demand");
        expect_ok(&answer(&mut l, "provider", "D2"));
        let mut t = terms(&l, false);
        t.purpose = "marketing".into();
        refused_unchanged(&mut l, &key("exchange"), |l| record(l, "D2", t), "data.answer_matches_demand");
        let mut t = terms(&l, false);
        t.price_fen = 3_000_000;
        refused_unchanged(&mut l, &key("exchange"), |l| record(l, "D2", t), "data.answer_matches_demand");
        // Another category.
        let expires_ms = l.time_ms + DAY;
        let p = PostDemand {
            id: "D3".into(),
            category: "health".into(),
            purpose: "price forecasting".into(),
            budget_min_fen: 0,
            budget_max_fen: 2_000_000,
            expires_ms,
        };
        expect_ok(&l.call(&key("buyer"), &p).unwrap());
        refused_unchanged(&mut l, &key("provider"), |l| answer(l, "provider", "D3"), "data.answer_matches_demand");
    }
}
