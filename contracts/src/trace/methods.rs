//! The traceability methods: payloads (EPCIS-style events with their own event time
//! and time-zone offset) and handlers.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use crate::credit::supervision::Measure::LabTestBeforeCertificate as LabTest;
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
    let mut lot = Lot::new(&p.lot, &p.product, tx.org(), p.origin, p.quantity_milli, &p.unit, LotStatus::Commissioned);
    lot.last_event_ms = p.at.time_ms;
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
    rules::not_held(&lot)?;
    rules::not_packed(&lot)?;
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
    rules::supervision_lab_test(&lot, crate::credit::supervision::applies(tx, tx.org(), LabTest)?)?;
    lot.certificate = Some(Certificate {
        issuer: tx.org().clone(),
        contact: p.contact,
        promise: p.promise,
        basis: p.basis,
        quantity_milli: p.quantity_milli,
        issued_ms: p.at.time_ms,
        inherited_from: vec![],
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
    rules::not_held(&lot)?;
    rules::not_packed(&lot)?;
    rules::status_in(&lot, &[LotStatus::Harvested, LotStatus::Received], "shipping")?;
    rules::certificate_before_shipment(&lot, certificate_mandatory(tx, &lot)?)?;
    for c in &lot.contents {
        let content: Lot = tx.require("lot", c, &lot_key(c))?;
        rules::no_shipment_while_nonconformant(&content)?;
        rules::not_held(&content)?;
        rules::certificate_before_shipment(&content, certificate_mandatory(tx, &content)?)?;
    }
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
    // Packed lots travel with their pack.
    for c in lot.contents.clone() {
        let mut content: Lot = tx.require("lot", &c, &lot_key(&c))?;
        content.custodian = tx.org().clone();
        content.status = LotStatus::Received;
        save(tx, content, &p.at);
    }
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
    rules::not_held(&lot)?;
    rules::not_packed(&lot)?;
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
    let lot = event_on(tx, &p.lot, &p.at)?;
    // Reach every lot made from it (transformation outputs), the pack it is in, and
    // the lots packed with it, transitively.
    let mut queue = std::collections::VecDeque::from([lot.id.clone()]);
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if seen.len() > RECALL_MAX_LOTS {
            return Err(ContractError::rule(
                "trace.recall_reaches_derived",
                format!(
                    "recall of {} reaches more than {RECALL_MAX_LOTS} lots; recall its derived lots in parts",
                    p.lot
                ),
            ));
        }
        let mut l: Lot = tx.require("lot", &id, &lot_key(&id))?;
        queue.extend(l.children.iter().cloned());
        queue.extend(l.contents.iter().cloned());
        queue.extend(l.packed_in.iter().cloned());
        if !matches!(l.status, LotStatus::Recalled | LotStatus::Destroyed) {
            l.status = LotStatus::Recalled;
            let t = EventTime { time_ms: p.at.time_ms.max(l.last_event_ms), tz_offset_min: p.at.tz_offset_min };
            save(tx, l, &t);
        }
    }
    Ok(())
}

/// Most lots one recall may reach (bounds the work of one transaction).
pub const RECALL_MAX_LOTS: usize = 10_000;

/// `trace.hold`: a regulator or the custodian holds a lot (e.g. pending investigation).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Hold {
    /// Lot id.
    pub lot: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: EventTime,
}
payload!(Hold, "hold");

/// `trace.release`: a regulator releases a held lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Release {
    /// Lot id.
    pub lot: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: EventTime,
}
payload!(Release, "release");

/// `trace.destroy`: the custodian destroys a held or recalled lot (CBV `destroyed`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Destroy {
    /// Lot id.
    pub lot: String,
    /// How and why.
    pub reason: String,
    /// When.
    pub at: EventTime,
}
payload!(Destroy, "destroy");

/// One input of a transformation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransformInput {
    /// Input lot.
    pub lot: String,
    /// Quantity consumed, milli-units.
    pub quantity_milli: u64,
}

/// One output of a transformation.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransformOutput {
    /// New lot id.
    pub lot: String,
    /// Its product.
    pub product: String,
    /// Quantity produced, milli-units.
    pub quantity_milli: u64,
    /// Unit.
    pub unit: String,
}

/// `trace.transform`: processing (EPCIS TransformationEvent): input lots → new lots.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transform {
    /// Inputs consumed.
    pub inputs: Vec<TransformInput>,
    /// Outputs produced.
    pub outputs: Vec<TransformOutput>,
    /// Declared yield: outputs may total at most inputs × this / 1000.
    pub yield_permille: u32,
    /// When.
    pub at: EventTime,
}
payload!(Transform, "transform");

/// `trace.pack`: aggregation (EPCIS AggregationEvent ADD): lots into a new pack lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Pack {
    /// The new pack's lot id.
    pub pack: String,
    /// The pack's product.
    pub product: String,
    /// Lots packed (all in the same unit).
    pub lots: Vec<String>,
    /// When.
    pub at: EventTime,
}
payload!(Pack, "pack");

/// Why an event is declared erroneous (EPCIS `errorDeclaration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    /// The event did not happen.
    DidNotOccur,
    /// The event's data were wrong (a corrective event follows).
    IncorrectData,
}

/// `trace.declare_error`: a correction is never an edit: it declares an earlier event
/// erroneous; a corrective event is recorded as a normal event.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DeclareError {
    /// Lot id.
    pub lot: String,
    /// The erroneous event's transaction hash.
    pub event_tx: Hash,
    /// Why.
    pub reason: ErrorReason,
    /// Explanation.
    pub note: String,
    /// When.
    pub at: EventTime,
}
payload!(DeclareError, "declare_error");

fn is_regulator(tx: &Tx<'_>) -> bool {
    tx.has_role(jialing_core::Role::ProduceRegulator) || tx.has_role(jialing_core::Role::MarketRegulator)
}

pub(crate) fn hold(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Hold = decode_payload(payload)?;
    tx.check_text("reason", &p.reason, true)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    if !is_regulator(tx) {
        rules::custodian_only(&lot, tx.org())?;
    }
    lot.held = true;
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn release(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Release = decode_payload(payload)?;
    tx.check_text("reason", &p.reason, true)?;
    let mut lot = event_on(tx, &p.lot, &p.at)?;
    if !lot.held {
        return Err(ContractError::rule("trace.status", format!("lot {} is not held", lot.id)));
    }
    lot.held = false;
    save(tx, lot, &p.at);
    Ok(())
}

pub(crate) fn destroy(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Destroy = decode_payload(payload)?;
    tx.check_text("reason", &p.reason, true)?;
    let mut lot: Lot = tx.require("lot", &p.lot, &lot_key(&p.lot))?;
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    rules::event_time_monotonic(&lot, p.at.time_ms)?;
    rules::custodian_only(&lot, tx.org())?;
    if !(lot.held || lot.nonconformant_open || lot.status == LotStatus::Recalled) {
        return Err(ContractError::rule(
            "trace.destroy_only_held",
            format!("lot {} is neither held, non-conformant nor recalled; only such lots are destroyed", lot.id),
        ));
    }
    lot.status = LotStatus::Destroyed;
    lot.quantity_milli = 0;
    save(tx, lot, &p.at);
    Ok(())
}

/// An input lot usable by a transformation or a pack: held by the signer, available,
/// not held, not non-conformant, not packed.
fn usable(tx: &Tx<'_>, lot: &Lot) -> Result<(), ContractError> {
    rules::custodian_only(lot, tx.org())?;
    rules::not_in_transit(lot)?;
    rules::no_shipment_while_nonconformant(lot)?;
    rules::not_held(lot)?;
    rules::not_packed(lot)?;
    rules::status_in(lot, &[LotStatus::Harvested, LotStatus::Received], "processing or packing")
}

fn new_lot(
    tx: &Tx<'_>,
    id: &str,
    product: &str,
    quantity_milli: u64,
    unit: &str,
    from: &Lot,
) -> Result<Lot, ContractError> {
    rules::id_format("lot id", id)?;
    tx.check_text("unit", unit, true)?;
    let _: Product = tx.require("product", product, &product_key(product))?;
    if tx.get_raw(&lot_key(id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "lot", id: id.into() });
    }
    Ok(Lot::new(id, product, tx.org(), from.origin.clone(), quantity_milli, unit, LotStatus::Harvested))
}

/// Gives a new pack or transformation output `out` every distinct origin of `inputs`
/// and, where rule `trace.certificate_inherited` allows (every input certified, same
/// product as the output, one origin, one issuer), a certificate carried over from
/// them for the output's quantity.
fn inherit(out: &mut Lot, inputs: &[Lot]) {
    let mut origins: Vec<Origin> = Vec::new();
    for i in inputs {
        for o in i.all_origins() {
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
    }
    out.origins = origins;
    out.certificate = rules::inherited_certificate(out, inputs);
}

pub(crate) fn transform(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Transform = decode_payload(payload)?;
    if p.inputs.is_empty() || p.outputs.is_empty() {
        return Err(ContractError::InvalidArgument {
            field: "inputs/outputs",
            reason: "a transformation has inputs and outputs".into(),
        });
    }
    tx.check_list("inputs", p.inputs.len())?;
    tx.check_list("outputs", p.outputs.len())?;
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    let mut inputs = Vec::new();
    let mut total_in: u128 = 0;
    for i in &p.inputs {
        if inputs.iter().any(|l: &Lot| l.id == i.lot) {
            return Err(ContractError::InvalidArgument {
                field: "inputs",
                reason: format!("lot {} is listed twice", i.lot),
            });
        }
        let lot = event_on(tx, &i.lot, &p.at)?;
        usable(tx, &lot)?;
        rules::quantity_available(&lot, i.quantity_milli)?;
        total_in += u128::from(i.quantity_milli);
        inputs.push(lot);
    }
    let total_out: u128 = p.outputs.iter().map(|o| u128::from(o.quantity_milli)).sum();
    rules::quantity_conserved(total_in, total_out, p.yield_permille, tx.params().max_transformation_yield_permille)?;
    let ids: Vec<String> = p.outputs.iter().map(|o| o.lot.clone()).collect();
    let parents: Vec<String> = inputs.iter().map(|l| l.id.clone()).collect();
    let mut outs = Vec::new();
    for o in &p.outputs {
        if o.quantity_milli == 0 {
            return Err(ContractError::InvalidArgument {
                field: "outputs.quantity_milli",
                reason: format!("output {} has no quantity", o.lot),
            });
        }
        if outs.iter().any(|l: &Lot| l.id == o.lot) {
            return Err(ContractError::InvalidArgument {
                field: "outputs",
                reason: format!("lot {} is listed twice", o.lot),
            });
        }
        let mut lot = new_lot(tx, &o.lot, &o.product, o.quantity_milli, &o.unit, &inputs[0])?;
        lot.parents = parents.clone();
        inherit(&mut lot, &inputs);
        outs.push(lot);
    }
    for (mut lot, i) in inputs.into_iter().zip(&p.inputs) {
        lot.quantity_milli -= i.quantity_milli;
        if lot.quantity_milli == 0 {
            lot.status = LotStatus::Consumed;
        }
        lot.children.extend(ids.iter().cloned());
        save(tx, lot, &p.at);
    }
    for lot in outs {
        save(tx, lot, &p.at);
    }
    Ok(())
}

pub(crate) fn pack(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Pack = decode_payload(payload)?;
    if p.lots.is_empty() {
        return Err(ContractError::InvalidArgument {
            field: "lots",
            reason: "a pack contains at least one lot".into(),
        });
    }
    tx.check_list("lots", p.lots.len())?;
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    let mut contents: Vec<Lot> = Vec::new();
    for id in &p.lots {
        if contents.iter().any(|l| &l.id == id) {
            return Err(ContractError::InvalidArgument { field: "lots", reason: format!("lot {id} is listed twice") });
        }
        let lot = event_on(tx, id, &p.at)?;
        usable(tx, &lot)?;
        if let Some(first) = contents.first()
            && first.unit != lot.unit
        {
            return Err(ContractError::rule(
                "trace.pack_same_unit",
                format!("lot {} is in {}, lot {} in {}", first.id, first.unit, lot.id, lot.unit),
            ));
        }
        contents.push(lot);
    }
    let total: u64 = contents.iter().map(|l| l.quantity_milli).fold(0u64, u64::saturating_add);
    let unit = contents[0].unit.clone();
    let mut pack = new_lot(tx, &p.pack, &p.product, total, &unit, &contents[0])?;
    pack.contents = p.lots.clone();
    inherit(&mut pack, &contents);
    for mut lot in contents {
        lot.packed_in = Some(p.pack.clone());
        save(tx, lot, &p.at);
    }
    save(tx, pack, &p.at);
    Ok(())
}

pub(crate) fn declare_error(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: DeclareError = decode_payload(payload)?;
    tx.check_text("note", &p.note, true)?;
    let mut lot: Lot = tx.require("lot", &p.lot, &lot_key(&p.lot))?;
    rules::event_time_not_future(p.at.time_ms, tx.time_ms(), tx.params().max_event_future_ms)?;
    let involved = &lot.producer == tx.org() || &lot.custodian == tx.org() || is_regulator(tx);
    if !involved {
        return Err(ContractError::rule(
            "trace.correction_by_author_or_regulator",
            format!("only lot {}'s producer, custodian or a regulator declares its events erroneous", lot.id),
        ));
    }
    lot.corrections = lot.corrections.saturating_add(1);
    let t = EventTime { time_ms: p.at.time_ms.max(lot.last_event_ms), tz_offset_min: p.at.tz_offset_min };
    save(tx, lot, &t);
    Ok(())
}
