//! The traceability methods: payloads (EPCIS-style events with their own event time
//! and time-zone offset) and handlers.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::params::DAY_MS;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, decode_payload};
use crate::trace::rules;
use crate::trace::types::{Category, Certificate, CertificateBasis, Lot, LotStatus, Origin, Product, TestSummary};
use crate::trace::{lot_key, product_key};

/// When an event happened (EPCIS `eventTime` and `eventTimeZoneOffset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EventTime {
    /// ms since the Unix epoch, UTC.
    pub time_ms: u64,
    /// Offset of the local time zone, minutes (+480 for China).
    pub tz_offset_min: i16,
}

macro_rules! payload {
    ($t:ident, $m:literal) => {
        impl CallPayload for $t {
            const CONTRACT: &'static str = "trace";
            const METHOD: &'static str = $m;
        }
    };
}

/// `trace.register_product`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterProduct {
    /// GTIN digits or the ledger's own code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// Applicable standard.
    pub standard: String,
}
payload!(RegisterProduct, "register_product");

/// `trace.create_lot`: commissioning with lot master data (EPCIS ObjectEvent ADD, ilmd).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CreateLot {
    /// Lot id.
    pub lot: String,
    /// Product code.
    pub product: String,
    /// Origin.
    pub origin: Origin,
    /// Quantity, milli-units.
    pub quantity_milli: u64,
    /// Unit.
    pub unit: String,
    /// When.
    pub at: EventTime,
}
payload!(CreateLot, "create_lot");

/// Kind of farming input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Fertiliser.
    Fertiliser,
    /// Feed.
    Feed,
    /// Veterinary drug (withdrawal period 休药期).
    VeterinaryDrug,
    /// Pesticide (pre-harvest interval 安全间隔期).
    Pesticide,
}

/// `trace.record_input`: a farming input applied to a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordInput {
    /// Lot id.
    pub lot: String,
    /// Kind.
    pub kind: InputKind,
    /// Product name and registration number.
    pub name: String,
    /// Amount, milli-units.
    pub amount_milli: u64,
    /// Unit of the amount.
    pub unit: String,
    /// Pre-harvest interval or withdrawal period, days (0 for none).
    pub interval_days: u32,
    /// When.
    pub at: EventTime,
}
payload!(RecordInput, "record_input");

/// `trace.harvest`: harvest, catch or slaughter (CBV bizStep `commissioning`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Harvest {
    /// Lot id.
    pub lot: String,
    /// Quantity harvested, milli-units (becomes the lot's quantity).
    pub quantity_milli: u64,
    /// When.
    pub at: EventTime,
}
payload!(Harvest, "harvest");

/// One tested item.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TestItem {
    /// What was tested (e.g. `chlorpyrifos`).
    pub name: String,
    /// Measured value, milli-units of `unit`.
    pub measured_milli: i64,
    /// Limit, milli-units of `unit`.
    pub limit_milli: i64,
    /// Unit (e.g. `mg/kg`).
    pub unit: String,
    /// Whether this item passed.
    pub pass: bool,
}

/// `trace.record_test`: an inspection by an accredited laboratory.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordTest {
    /// Lot id.
    pub lot: String,
    /// Items tested.
    pub items: Vec<TestItem>,
    /// SHA-256 of the report (kept off chain).
    pub report_hash: Hash,
    /// When.
    pub at: EventTime,
}
payload!(RecordTest, "record_test");

/// `trace.issue_certificate`: the producer's certificate of compliance (承诺达标合格证).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct IssueCertificate {
    /// Lot id.
    pub lot: String,
    /// Producer's contact.
    pub contact: String,
    /// The promise text.
    pub promise: String,
    /// Its basis.
    pub basis: CertificateBasis,
    /// Quantity certified, milli-units.
    pub quantity_milli: u64,
    /// When.
    pub at: EventTime,
}
payload!(IssueCertificate, "issue_certificate");

/// `trace.ship`: the custodian sends the lot to another organisation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Ship {
    /// Lot id.
    pub lot: String,
    /// Destination organisation.
    pub to: Uscc,
    /// When.
    pub at: EventTime,
}
payload!(Ship, "ship");

/// `trace.receive`: the destination takes custody.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receive {
    /// Lot id.
    pub lot: String,
    /// When.
    pub at: EventTime,
}
payload!(Receive, "receive");

/// `trace.sell`: retail sale of part or all of a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Sell {
    /// Lot id.
    pub lot: String,
    /// Quantity sold, milli-units.
    pub quantity_milli: u64,
    /// When.
    pub at: EventTime,
}
payload!(Sell, "sell");

/// `trace.recall`: a regulator recalls a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Recall {
    /// Lot id.
    pub lot: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: EventTime,
}
payload!(Recall, "recall");

/// Loads a lot and applies the checks every event shares: exists, not recalled, event
/// time not in the future and not before the lot's last event.
fn event_on(tx: &Tx<'_>, lot_id: &str, at: &EventTime) -> Result<Lot, ContractError> {
    let lot: Lot = tx.require("lot", lot_id, &lot_key(lot_id))?;
    rules::not_recalled(&lot)?;
    rules::event_time_not_future(at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    rules::event_time_monotonic(&lot, at.time_ms)?;
    Ok(lot)
}

fn save(tx: &mut Tx<'_>, mut lot: Lot, at: &EventTime) {
    lot.last_event_ms = at.time_ms;
    lot.events = lot.events.saturating_add(1);
    tx.tag(TagKind::Lot, lot.id.clone());
    tx.tag(TagKind::Product, lot.product.clone());
    tx.put(lot_key(&lot.id), &lot);
}

pub(crate) fn register_product(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RegisterProduct = decode_payload(payload)?;
    rules::id_format("product code", &p.code)?;
    tx.check_text("name", &p.name, true)?;
    tx.check_text("standard", &p.standard, false)?;
    if tx.get_raw(&product_key(&p.code))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "product", id: p.code });
    }
    let product = Product {
        code: p.code.clone(),
        name: p.name,
        category: p.category,
        standard: p.standard,
        owner: tx.org().clone(),
    };
    tx.put(product_key(&p.code), &product);
    tx.tag(TagKind::Product, p.code);
    Ok(())
}

pub(crate) fn create_lot(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: CreateLot = decode_payload(payload)?;
    rules::id_format("lot id", &p.lot)?;
    for (f, v) in [
        ("origin.county", &p.origin.county),
        ("origin.township", &p.origin.township),
        ("origin.village", &p.origin.village),
    ] {
        tx.check_text(f, v, false)?;
    }
    tx.check_text("unit", &p.unit, true)?;
    if p.quantity_milli == 0 {
        return Err(ContractError::InvalidArgument {
            field: "quantity_milli",
            reason: "must be greater than 0".into(),
        });
    }
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    let _: Product = tx.require("product", &p.product, &product_key(&p.product))?;
    if tx.get_raw(&lot_key(&p.lot))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "lot", id: p.lot });
    }
    let org = tx.org().clone();
    let lot = Lot {
        id: p.lot,
        product: p.product,
        producer: org.clone(),
        custodian: org,
        in_transit_to: None,
        origin: p.origin,
        quantity_milli: p.quantity_milli,
        unit: p.unit,
        status: LotStatus::Commissioned,
        last_event_ms: p.at.time_ms,
        harvest_not_before_ms: 0,
        nonconformant_open: false,
        last_test: None,
        certificate: None,
        events: 0,
    };
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn record_input(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordInput = decode_payload(payload)?;
    tx.check_text("name", &p.name, true)?;
    tx.check_text("unit", &p.unit, false)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    rules::custodian_only(&lot, tx.org())?;
    rules::status_in(&lot, &[LotStatus::Commissioned], "a farming input")?;
    if matches!(p.kind, InputKind::Pesticide | InputKind::VeterinaryDrug) {
        let until = p.at.time_ms.saturating_add(u64::from(p.interval_days).saturating_mul(DAY_MS));
        lot.harvest_not_before_ms = lot.harvest_not_before_ms.max(until);
    }
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn harvest(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Harvest = decode_payload(payload)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    rules::custodian_only(&lot, tx.org())?;
    rules::status_in(&lot, &[LotStatus::Commissioned], "harvest")?;
    rules::preharvest_interval(&lot, p.at.time_ms)?;
    if p.quantity_milli == 0 {
        return Err(ContractError::InvalidArgument {
            field: "quantity_milli",
            reason: "must be greater than 0".into(),
        });
    }
    lot.quantity_milli = p.quantity_milli;
    lot.status = LotStatus::Harvested;
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn record_test(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordTest = decode_payload(payload)?;
    if p.items.is_empty() {
        return Err(ContractError::InvalidArgument { field: "items", reason: "a test lists at least one item".into() });
    }
    tx.check_list("items", p.items.len())?;
    for it in &p.items {
        tx.check_text("items.name", &it.name, true)?;
        let within = it.measured_milli <= it.limit_milli;
        if within != it.pass {
            return Err(ContractError::rule(
                "trace.test_result_consistent",
                format!(
                    "item {}: measured {} against limit {} does not match pass = {}",
                    it.name, it.measured_milli, it.limit_milli, it.pass
                ),
            ));
        }
    }
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    let conformant = p.items.iter().all(|i| i.pass);
    // A conformant re-inspection closes an open non-conformant result; both stay on
    // the ledger.
    lot.nonconformant_open = !conformant;
    lot.last_test =
        Some(TestSummary { lab: tx.org().clone(), conformant, report_hash: p.report_hash, tested_ms: p.at.time_ms });
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn issue_certificate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: IssueCertificate = decode_payload(payload)?;
    tx.check_text("contact", &p.contact, true)?;
    tx.check_text("promise", &p.promise, true)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    rules::custodian_only(&lot, tx.org())?;
    if &lot.producer != tx.org() {
        return Err(ContractError::rule(
            "trace.certificate_by_producer",
            format!("only the producer {} certifies lot {}", lot.producer, lot.id),
        ));
    }
    rules::no_certificate_while_nonconformant(&lot)?;
    rules::quantity_available(&lot, p.quantity_milli)?;
    if crate::credit::is_under_joint_punishment(tx, tx.org())? {
        return Err(ContractError::rule(
            "trace.joint_punishment",
            format!(
                "organisation {} is on the serious-dishonesty list and may not issue certificates until repaired",
                tx.org()
            ),
        ));
    }
    lot.certificate = Some(Certificate {
        issuer: tx.org().clone(),
        contact: p.contact,
        promise: p.promise,
        basis: p.basis,
        quantity_milli: p.quantity_milli,
        issued_ms: p.at.time_ms,
    });
    save(tx, lot, &p.at);
    Ok(())
}

fn certificate_mandatory(tx: &Tx<'_>, lot: &Lot) -> Result<bool, ContractError> {
    let product: Product = tx.require("product", &lot.product, &product_key(&lot.product))?;
    Ok(product.category.certificate_mandatory())
}

pub(crate) fn ship(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Ship = decode_payload(payload)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    rules::custodian_only(&lot, tx.org())?;
    rules::not_in_transit(&lot)?;
    rules::no_shipment_while_nonconformant(&lot)?;
    rules::status_in(&lot, &[LotStatus::Harvested, LotStatus::Received], "shipping")?;
    rules::certificate_before_shipment(&lot, certificate_mandatory(tx, &lot)?)?;
    if &p.to == tx.org() {
        return Err(ContractError::InvalidArgument {
            field: "to",
            reason: "a lot is shipped to another organisation".into(),
        });
    }
    let dest: Option<crate::membership::Organisation> = tx.get(&crate::keys::org(&p.to))?;
    if !dest.is_some_and(|o| o.active) {
        return Err(ContractError::NotFound { what: "member organisation", id: p.to.to_string() });
    }
    tx.tag(TagKind::Org, p.to.to_string());
    lot.in_transit_to = Some(p.to);
    lot.status = LotStatus::InTransit;
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn receive(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Receive = decode_payload(payload)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    if lot.in_transit_to.as_ref() != Some(tx.org()) {
        return Err(ContractError::rule(
            "trace.receiver_is_destination",
            format!("lot {} is not in transit to the signer's organisation {}", lot.id, tx.org()),
        ));
    }
    tx.tag(TagKind::Org, lot.custodian.to_string());
    lot.custodian = tx.org().clone();
    lot.in_transit_to = None;
    lot.status = LotStatus::Received;
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn sell(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Sell = decode_payload(payload)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    rules::custodian_only(&lot, tx.org())?;
    rules::not_in_transit(&lot)?;
    rules::no_shipment_while_nonconformant(&lot)?;
    rules::status_in(&lot, &[LotStatus::Harvested, LotStatus::Received], "sale")?;
    rules::certificate_before_shipment(&lot, certificate_mandatory(tx, &lot)?)?;
    rules::quantity_available(&lot, p.quantity_milli)?;
    lot.quantity_milli -= p.quantity_milli;
    if lot.quantity_milli == 0 {
        lot.status = LotStatus::Sold;
    }
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn recall(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Recall = decode_payload(payload)?;
    tx.check_text("reason", &p.reason, true)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    lot.status = LotStatus::Recalled;
    save(tx, lot, &p.at);
    Ok(())
}
