//! The data-trading contract (register 2): data products registered with their
//! content hash, reviewed and registered by the exchange (important data needs the data
//! regulator's approval; negative-list categories are refused), listed, objected to
//! (disputed -> registered or cancelled by the exchange), frozen by the data regulator,
//! and traded: negotiating -> compliance-checked -> contracted (both parties sign the
//! same document hash) -> escrow -> delivery (digest must equal the registered version
//! hash, within the licence term) -> acceptance with the buyer's digest within the
//! inspection period (a mismatch is a dispute), deemed acceptance after it, or dispute
//! -> arbitration (deliver again, partial or full refund, settle) -> settlement minus
//! the exchange's fee -> licence active until it expires, is revoked or is terminated.
//! Every fen paid in ends as settlement, fee or refund ([`types::Trade::escrow_balances`]).
//! Licences move only if transferable; use is recorded with its purpose and any
//! derived dataset (lineage).

/// Implements [`crate::registry::CallPayload`] for a data-contract payload.
macro_rules! payload {
    ($t:ident, $m:literal) => {
        impl crate::registry::CallPayload for $t {
            const CONTRACT: &'static str = "data";
            const METHOD: &'static str = $m;
        }
    };
}

pub mod assets;
pub mod digest;
pub mod disputes;
pub mod freeze;
pub mod lineage;
pub mod market;
pub mod methods;
pub mod negotiation;
pub mod types;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Role;
use serde::{Deserialize, Serialize};

use crate::registry::{Method, from_json_of, json_of};
use assets::*;
use disputes::*;
use freeze::*;
use market::*;
use methods::*;
use negotiation::*;

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
    crate::keys::with_id(PRODUCT_PREFIX, id)
}

/// `data/voucher/{id}` → [`types::Voucher`].
pub fn voucher_key(id: &str) -> Vec<u8> {
    crate::keys::with_id("data/voucher/", id)
}

/// The prefix of demand keys.
pub const DEMAND_PREFIX: &str = "data/demand/";

/// The prefix of product keys.
pub const PRODUCT_PREFIX: &str = "data/product/";

/// `data/demand/{id}` → [`market::Demand`].
pub fn demand_key(id: &str) -> Vec<u8> {
    crate::keys::with_id(DEMAND_PREFIX, id)
}

/// `data/appraiser/{uscc}` → [`types::Appraiser`].
pub fn appraiser_key(org: &jialing_core::Uscc) -> Vec<u8> {
    crate::keys::with_id("data/appraiser/", org.as_str())
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

/// Who may act for its own organisation (object, appraise if certified, hold and
/// pledge vouchers): every role but admin and the read-only auditor, as for credit
/// subjects.
pub const MEMBER_ROLES: &[Role] = crate::credit::SUBJECT_ROLES;

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
        "reinstate",
        &[Role::Exchange],
        "lift a suspension (the exchange's own suspension is lifted only this way)",
        reinstate,
        Reinstate
    ),
    method!(
        "object",
        MEMBER_ROLES,
        "object to a product's registration, with the evidence's hash (any member)",
        object,
        Object
    ),
    method!(
        "decide_objection",
        &[Role::Exchange],
        "uphold (product cancelled) or dismiss (registered again) the objections to a product",
        decide_objection,
        DecideObjection
    ),
    method!("freeze", &[Role::DataRegulator], "freeze a product or a licence (data regulator)", freeze, Freeze),
    method!("unfreeze", &[Role::DataRegulator], "lift a freeze (data regulator)", unfreeze, Unfreeze),
    method!(
        "negotiate",
        &[Role::DataBuyer, Role::Exchange],
        "open a trade on a listed product with proposed terms (the buyer, or the exchange after a match)",
        negotiate,
        Negotiate
    ),
    method!(
        "revise",
        &[Role::DataProvider, Role::DataBuyer],
        "revise the terms while negotiating (either party)",
        revise,
        Revise
    ),
    method!(
        "check_compliance",
        &[Role::Exchange],
        "record the exchange's compliance check of a negotiated deal",
        check_compliance,
        CheckCompliance
    ),
    method!(
        "sign",
        &[Role::DataProvider, Role::DataBuyer],
        "sign the contract document by its hash; the second party's signature makes the contract",
        sign,
        Sign
    ),
    method!("escrow", &[Role::Exchange], "record the buyer's payment into escrow", escrow, Escrow),
    method!(
        "deliver",
        &[Role::DataProvider],
        "record a delivery by its digest (must equal the registered version hash)",
        deliver,
        Deliver
    ),
    method!(
        "accept",
        &[Role::DataBuyer],
        "accept a delivery within the inspection period with the digest computed on it (a mismatch disputes)",
        accept,
        Accept
    ),
    method!("dispute", &[Role::DataBuyer], "dispute a delivery within the inspection period", dispute, Dispute),
    method!(
        "arbitrate",
        &[Role::Exchange],
        "decide a dispute: deliver again, partial or full refund, or settle (award document hash)",
        arbitrate,
        Arbitrate
    ),
    method!(
        "settle",
        &[Role::Exchange],
        "settle an accepted trade, or one whose inspection period passed without dispute (deemed acceptance)",
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
        "post_demand",
        &[Role::DataBuyer],
        "post a data demand: category, purpose, budget range, expiry",
        post_demand,
        PostDemand
    ),
    method!(
        "answer_demand",
        &[Role::DataProvider],
        "answer an open demand with a listed product of the signer's in its category and budget",
        answer_demand,
        AnswerDemand
    ),
    method!(
        "record_match",
        &[Role::Exchange],
        "match a demand with an answer: opens the negotiation for the demand's buyer",
        record_match,
        RecordMatch
    ),
    method!(
        "certify_appraiser",
        &[Role::DataRegulator],
        "certify a member organisation for data valuation, until a date (data regulator)",
        certify_appraiser,
        CertifyAppraiser
    ),
    method!(
        "appraise",
        MEMBER_ROLES,
        "record a valuation of a registered product (certified appraisers: method, value, report hash, validity)",
        appraise,
        Appraise
    ),
    method!(
        "issue_voucher",
        &[Role::Exchange],
        "issue a data asset voucher to the rights holder of a registered product",
        issue_voucher,
        IssueVoucher
    ),
    method!(
        "transfer_voucher",
        MEMBER_ROLES,
        "transfer a voucher the signer's organisation holds (not while pledged)",
        transfer_voucher,
        TransferVoucher
    ),
    method!(
        "pledge_voucher",
        MEMBER_ROLES,
        "pledge a voucher the signer's organisation holds to a lender",
        pledge_voucher,
        PledgeVoucher
    ),
    method!("release_voucher", MEMBER_ROLES, "release a pledged voucher (the lender)", release_voucher, ReleaseVoucher),
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
