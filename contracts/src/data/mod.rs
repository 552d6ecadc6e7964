//! The data-trading contract (register 2): data products registered with their
//! content hash, reviewed and registered by the exchange (important data needs the data
//! regulator's approval; negative-list categories are refused), listed, and traded:
//! contract -> escrow -> delivery (digest must equal the registered version hash,
//! within the licence term) -> acceptance within the inspection period (or dispute)
//! -> settlement minus the exchange's fee -> licence active until it expires, is
//! revoked or is terminated. Licences move only if transferable; use is recorded with
//! its purpose and any derived dataset (lineage).

pub mod methods;
pub mod types;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Role;
use serde::{Deserialize, Serialize};

use crate::registry::{Method, from_json_of, json_of};
use methods::*;

/// Data-trading parameters.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataParams {
    /// The exchange's fee, basis points of the price.
    pub fee_bps: u32,
    /// How long the buyer has to accept or dispute a delivery, ms.
    pub inspection_period_ms: u64,
    /// Categories that may never be registered (negative list).
    pub negative_list: Vec<String>,
}

impl Default for DataParams {
    fn default() -> Self {
        DataParams {
            fee_bps: 200,
            inspection_period_ms: 7 * crate::params::DAY_MS,
            negative_list: vec!["national_core_data".into(), "unlawful_source".into(), "ownership_disputed".into()],
        }
    }
}

/// `data/product/{id}` → [`types::DataProduct`].
pub fn product_key(id: &str) -> Vec<u8> {
    crate::keys::with_id("data/product/", id)
}

/// `data/trade/{id}` → [`types::Trade`] (the trade and the licence it becomes).
pub fn trade_key(id: &str) -> Vec<u8> {
    crate::keys::with_id("data/trade/", id)
}

macro_rules! method {
    ($name:literal, $roles:expr, $summary:literal, $run:path, $p:ty) => {
        Method {
            contract: "data",
            name: $name,
            roles: $roles,
            summary: $summary,
            run: $run,
            to_json: json_of::<$p>,
            from_json: from_json_of::<$p>,
        }
    };
}

/// The data-trading contract's methods.
pub const METHODS: &[Method] = &[
    method!(
        "register",
        &[Role::DataProvider],
        "submit a data product with its version hash and classification",
        register,
        Register
    ),
    method!(
        "review",
        &[Role::Exchange],
        "record the exchange's compliance review of a submitted product",
        review,
        Review
    ),
    method!(
        "approve_important",
        &[Role::DataRegulator],
        "approve a product classified as important data (data regulator)",
        approve_important,
        ApproveImportant
    ),
    method!(
        "confirm",
        &[Role::Exchange],
        "register a reviewed product: certificate number and data code",
        confirm,
        Confirm
    ),
    method!("reject", &[Role::Exchange], "reject a submitted or reviewed product, with reasons", reject, Reject),
    method!("list", &[Role::DataProvider], "list a registered product with its price", list, List),
    method!("suspend", &[Role::Exchange, Role::DataProvider], "suspend a listing", suspend, Suspend),
    method!(
        "contract",
        &[Role::Exchange],
        "record the licence contract between provider and buyer (scope, term, price)",
        contract,
        Contract
    ),
    method!("escrow", &[Role::Exchange], "record the buyer's payment into escrow", escrow, Escrow),
    method!(
        "deliver",
        &[Role::DataProvider],
        "record a delivery by its digest (must equal the registered version hash)",
        deliver,
        Deliver
    ),
    method!("accept", &[Role::DataBuyer], "accept a delivery within the inspection period", accept, Accept),
    method!("dispute", &[Role::DataBuyer], "dispute a delivery within the inspection period", dispute, Dispute),
    method!(
        "settle",
        &[Role::Exchange],
        "settle an accepted trade (provider paid minus the fee): the licence becomes active",
        settle,
        Settle
    ),
    method!("revoke", &[Role::Exchange], "revoke a licence for breach (final)", revoke, Revoke),
    method!("transfer", &[Role::DataBuyer], "transfer a transferable licence to another buyer", transfer, Transfer),
    method!(
        "record_use",
        &[Role::DataBuyer],
        "record a use of licensed data (purpose) and any derived dataset (lineage)",
        record_use,
        RecordUse
    ),
    method!(
        "terminate",
        &[Role::Exchange],
        "record a licence terminated early by agreement (final)",
        terminate,
        Terminate
    ),
    method!(
        "attest_deletion",
        &[Role::DataBuyer],
        "attest deletion of the data once the licence has ended",
        attest_deletion,
        AttestDeletion
    ),
    method!(
        "deregister",
        &[Role::DataProvider],
        "withdraw the signer's product from the register (final)",
        deregister,
        Deregister
    ),
    method!(
        "revoke_product",
        &[Role::Exchange],
        "revoke a product's registration, e.g. for false materials (final)",
        revoke_product,
        RevokeProduct
    ),
];
