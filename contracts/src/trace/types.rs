//! Traceability state: products and lots.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

/// Product category (domain.md, register 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Cattle, pigs, sheep.
    Livestock,
    /// Chickens, ducks.
    Poultry,
    /// Fish and other farmed aquatic products.
    Aquatic,
    /// Fruit (pomelo, ...).
    Fruit,
    /// Vegetables (mustard tuber, ...).
    Vegetable,
    /// Processed food (preserved mustard tuber, ...).
    Processed,
    /// Anything else.
    Other,
}

impl Category {
    /// Whether a certificate of compliance is mandatory for this category (Agricultural
    /// Product Quality Safety Law 2022: vegetables, fruit, livestock, poultry, aquatic).
    pub fn certificate_mandatory(self) -> bool {
        !matches!(self, Category::Processed | Category::Other)
    }
}

/// A product: what lots are lots of.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Product {
    /// GTIN (digits) or the ledger's own code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Category.
    pub category: Category,
    /// Applicable standard (e.g. `NY/T 2315`).
    pub standard: String,
    /// Organisation that registered it.
    pub owner: Uscc,
}

/// Where a lot was produced.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Origin {
    /// County.
    pub county: String,
    /// Township.
    pub township: String,
    /// Village.
    pub village: String,
    /// Latitude in micro-degrees.
    pub lat_micro: i32,
    /// Longitude in micro-degrees.
    pub lon_micro: i32,
}

/// Where a lot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotStatus {
    /// Created (commissioned) by its producer, growing or in stock.
    Commissioned,
    /// Harvested, caught or slaughtered.
    Harvested,
    /// On its way to another organisation.
    InTransit,
    /// Received by a new custodian.
    Received,
    /// Entirely sold at retail.
    Sold,
    /// Recalled by a regulator: final.
    Recalled,
    /// Entirely consumed by processing into other lots.
    Consumed,
    /// Destroyed (after a hold): final.
    Destroyed,
}

/// The certificate of compliance (承诺达标合格证) issued for a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Certificate {
    /// Issuing organisation (the producer).
    pub issuer: Uscc,
    /// Producer's public contact.
    pub contact: String,
    /// The promise text.
    pub promise: String,
    /// Its basis.
    pub basis: CertificateBasis,
    /// Quantity certified (milli-units).
    pub quantity_milli: u64,
    /// Date issued (event time, ms).
    pub issued_ms: u64,
    /// For a pack or transformation output: the input lots whose certificates it
    /// carries (rule `trace.certificate_inherited`); empty for a certificate issued for
    /// the lot itself.
    pub inherited_from: Vec<String>,
}

/// The basis of a certificate of compliance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateBasis {
    /// The producer's own quality control.
    OwnControl,
    /// The producer's own test.
    OwnTest,
    /// A test commissioned from a laboratory.
    CommissionedTest,
}

/// The last inspection result of a lot.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TestSummary {
    /// Laboratory.
    pub lab: Uscc,
    /// Conformant or not.
    pub conformant: bool,
    /// SHA-256 of the lab report.
    pub report_hash: Hash,
    /// Event time (ms).
    pub tested_ms: u64,
}

/// A lot (batch) and its current state.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Lot {
    /// Lot id (URL-safe).
    pub id: String,
    /// Product code.
    pub product: String,
    /// Producing organisation.
    pub producer: Uscc,
    /// Organisation holding it now.
    pub custodian: Uscc,
    /// Destination while in transit.
    pub in_transit_to: Option<Uscc>,
    /// Origin (for a pack or transformation output: the first input's).
    pub origin: Origin,
    /// For a pack or transformation output: every distinct origin of its inputs, in
    /// input order (the first is `origin`); empty for a commissioned lot.
    pub origins: Vec<Origin>,
    /// Quantity still held, milli-units.
    pub quantity_milli: u64,
    /// Unit (`kg`, `head`, ...).
    pub unit: String,
    /// Status.
    pub status: LotStatus,
    /// Time of the last event (ms): events never go backwards.
    pub last_event_ms: u64,
    /// Earliest harvest time allowed by pre-harvest intervals / withdrawal periods.
    pub harvest_not_before_ms: u64,
    /// A non-conformant test result is open (blocks certificate, shipment, sale).
    pub nonconformant_open: bool,
    /// The last test.
    pub last_test: Option<TestSummary>,
    /// The certificate of compliance, if issued.
    pub certificate: Option<Certificate>,
    /// Number of events recorded.
    pub events: u32,
    /// Held (by a regulator or the custodian): no certificate, shipment or sale.
    pub held: bool,
    /// Lots this one was made from (transformation inputs) or packs it contains.
    pub parents: Vec<String>,
    /// Lots made from this one (transformation outputs).
    pub children: Vec<String>,
    /// The pack (aggregation) this lot is in, if any.
    pub packed_in: Option<String>,
    /// Lots packed into this one, when it is a pack.
    pub contents: Vec<String>,
    /// Error declarations recorded against this lot's events.
    pub corrections: u32,
}

impl Lot {
    /// Every origin of the lot: its inputs' for a pack or transformation output, its
    /// own otherwise.
    pub fn all_origins(&self) -> Vec<Origin> {
        if self.origins.is_empty() { vec![self.origin.clone()] } else { self.origins.clone() }
    }

    /// A new lot of `product` made and held by `org`, with nothing recorded yet.
    pub fn new(
        id: &str,
        product: &str,
        org: &Uscc,
        origin: Origin,
        quantity_milli: u64,
        unit: &str,
        status: LotStatus,
    ) -> Self {
        Lot {
            id: id.into(),
            product: product.into(),
            producer: org.clone(),
            custodian: org.clone(),
            in_transit_to: None,
            origin,
            origins: vec![],
            quantity_milli,
            unit: unit.into(),
            status,
            last_event_ms: 0,
            harvest_not_before_ms: 0,
            nonconformant_open: false,
            last_test: None,
            certificate: None,
            events: 0,
            held: false,
            parents: vec![],
            children: vec![],
            packed_in: None,
            contents: vec![],
            corrections: 0,
        }
    }
}
