//! The traceability contract (register 1): products, lots and the EPCIS-style events of
//! the lot life cycle, with the rules of domain.md.
//!
//! Events carry their own EPCIS event time and time-zone offset; rules compare them
//! with the lot's last event and with block time, never with a clock. A lot's history
//! is the list of transactions tagged with it (the store's index), so state holds only
//! the lot's current facts.

pub mod epcis;
pub mod epcis_capture;
pub mod epcis_event;
pub mod epcis_hash;
pub mod epcis_import;
pub mod gs1;
pub mod methods;
pub mod rules;
pub mod types;

use jialing_core::Role;

use crate::registry::{Method, from_json_of, json_of};
use methods::*;

/// `trace/product/{code}` → [`types::Product`].
pub fn product_key(code: &str) -> Vec<u8> {
    crate::keys::with_id("trace/product/", code)
}

/// `trace/lot/{id}` → [`types::Lot`].
pub fn lot_key(id: &str) -> Vec<u8> {
    crate::keys::with_id("trace/lot/", id)
}

/// Roles that may record partner EPCIS events (and capture documents of them) and
/// declare errors: every trace role.
const EVENT_RECORDERS: &[Role] = &[
    Role::ProduceRegulator,
    Role::MarketRegulator,
    Role::Producer,
    Role::Processor,
    Role::Logistics,
    Role::Retailer,
    Role::Inspector,
];

/// Roles that may hold goods and so record custody events (the custodian rule does
/// the real check).
const HOLDERS: &[Role] = &[Role::Producer, Role::Processor, Role::Logistics, Role::Retailer];

macro_rules! method {
    ($name:literal, $roles:expr, $summary:literal, $run:path, $p:ty) => {
        Method {
            contract: "trace",
            name: $name,
            roles: $roles,
            summary: $summary,
            run: $run,
            to_json: json_of::<$p>,
            from_json: from_json_of::<$p>,
        }
    };
}

/// The traceability contract's methods.
pub const METHODS: &[Method] = &[
    method!(
        "register_product",
        &[Role::Producer, Role::Processor],
        "register a product (GTIN or own code, name, category, standard)",
        register_product,
        RegisterProduct
    ),
    method!(
        "create_lot",
        &[Role::Producer],
        "create (commission) a lot with its master data: product, origin, quantity",
        create_lot,
        CreateLot
    ),
    method!(
        "record_input",
        HOLDERS,
        "record a farming input (fertiliser, feed, veterinary drug, pesticide with its interval)",
        record_input,
        RecordInput
    ),
    method!(
        "harvest",
        HOLDERS,
        "record harvest, catch or slaughter (refused before pre-harvest intervals end)",
        harvest,
        Harvest
    ),
    method!(
        "record_test",
        &[Role::Inspector],
        "record an inspection: items, measured values, limits, pass/fail, report hash",
        record_test,
        RecordTest
    ),
    method!(
        "issue_certificate",
        &[Role::Producer],
        "issue the certificate of compliance (promise, basis, quantity)",
        issue_certificate,
        IssueCertificate
    ),
    method!("ship", HOLDERS, "ship a lot to another organisation", ship, Ship),
    method!("receive", HOLDERS, "receive a lot shipped to the signer's organisation (custody moves)", receive, Receive),
    method!("sell", HOLDERS, "record a retail sale of part or all of a lot", sell, Sell),
    method!(
        "recall",
        &[Role::ProduceRegulator, Role::MarketRegulator],
        "recall a lot and every lot made from or packed with it (regulators)",
        recall,
        Recall
    ),
    method!(
        "hold",
        &[
            Role::ProduceRegulator,
            Role::MarketRegulator,
            Role::Producer,
            Role::Processor,
            Role::Logistics,
            Role::Retailer
        ],
        "hold a lot (a regulator, or its custodian)",
        hold,
        Hold
    ),
    method!(
        "release",
        &[Role::ProduceRegulator, Role::MarketRegulator],
        "release a held lot (regulators)",
        release,
        Release
    ),
    method!("destroy", HOLDERS, "destroy a held, non-conformant or recalled lot (its custodian)", destroy, Destroy),
    method!(
        "transform",
        &[Role::Processor],
        "process input lots into new lots (quantity conserved within the declared yield)",
        transform,
        Transform
    ),
    method!("pack", HOLDERS, "pack lots into a new pack lot (aggregation)", pack, Pack),
    Method {
        contract: "trace",
        name: "record_epcis_event",
        roles: EVENT_RECORDERS,
        summary: "record an EPCIS 2.0 event under its CBV 2.0 event hash ID, attached to the lots it names",
        run: epcis_event::record_epcis_event,
        to_json: json_of::<epcis_event::RecordEpcisEvent>,
        from_json: from_json_of::<epcis_event::RecordEpcisEvent>,
    },
    Method {
        contract: "trace",
        name: "epcis_capture",
        roles: EVENT_RECORDERS,
        summary: "capture an EPCIS 2.0 document: record every event and apply the rule calls they map to, all or nothing (duplicates skipped)",
        run: epcis_capture::epcis_capture,
        to_json: json_of::<epcis_capture::EpcisCapture>,
        from_json: from_json_of::<epcis_capture::EpcisCapture>,
    },
    method!(
        "declare_error",
        EVENT_RECORDERS,
        "declare an earlier event of a lot erroneous (corrections are never edits)",
        declare_error,
        DeclareError
    ),
];
