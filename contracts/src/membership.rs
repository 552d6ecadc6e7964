//! The membership contract: organisations and the certification of member keys.
//!
//! An organisation's admin key certifies member keys with a subset of the
//! organisation's roles and an expiry (like a Fabric MSP). Only currently certified,
//! unrevoked keys of active organisations may sign transactions. Adding or removing
//! organisations and rotating admin, validator or node keys are governance matters.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{PublicKey, Role, Uscc, Validator};
use serde::{Deserialize, Serialize};

use crate::error::{ContractError, role_list};
use crate::executor::Tx;
use crate::keys;
use crate::receipt::TagKind;
use crate::registry::{CallPayload, Method, decode_payload, from_json_of, json_of};

/// An organisation of the consortium.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Organisation {
    /// Unified Social Credit Code.
    pub uscc: Uscc,
    /// Registered name.
    pub name: String,
    /// Roles the organisation holds (its members get subsets).
    pub roles: Vec<Role>,
    /// The admin key that certifies members.
    pub admin: PublicKey,
    /// libp2p (peer) keys of the organisation's nodes.
    pub node_keys: Vec<PublicKey>,
    /// Its validator, if it runs one.
    pub validator: Option<Validator>,
    /// Public contact (phone or address) shown to consumers.
    pub contact: String,
    /// Whether it is a current member.
    pub active: bool,
}

/// A certified member key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Member {
    /// The organisation that certified it.
    pub org: Uscc,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Valid until this block time (ms, exclusive).
    pub expires_ms: u64,
    /// Revoked keys never sign again.
    pub revoked: bool,
}

/// `membership.certify`: the signer (an org admin) certifies `member` with `roles`
/// until `expires_ms`. Re-certifying a key of the same organisation renews it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Certify {
    /// The key to certify.
    pub member: PublicKey,
    /// Roles granted: a non-empty subset of the organisation's roles, never `admin`.
    pub roles: Vec<Role>,
    /// Expiry, block time in ms.
    pub expires_ms: u64,
}

impl CallPayload for Certify {
    const CONTRACT: &'static str = "membership";
    const METHOD: &'static str = "certify";
}

/// `membership.revoke`: the admin of the member's organisation revokes a key for good.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Revoke {
    /// The key to revoke.
    pub member: PublicKey,
}

impl CallPayload for Revoke {
    const CONTRACT: &'static str = "membership";
    const METHOD: &'static str = "revoke";
}

/// The membership contract's methods.
pub const METHODS: &[Method] = &[
    Method {
        contract: "membership",
        name: "certify",
        roles: &[Role::Admin],
        summary: "certify (or renew) a member key of the signer's organisation with roles and an expiry",
        run: run_certify,
        to_json: json_of::<Certify>,
        from_json: from_json_of::<Certify>,
    },
    Method {
        contract: "membership",
        name: "revoke",
        roles: &[Role::Admin],
        summary: "revoke a member key of the signer's organisation",
        run: run_revoke,
        to_json: json_of::<Revoke>,
        from_json: from_json_of::<Revoke>,
    },
];

fn run_certify(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Certify = decode_payload(payload)?;
    let org: Organisation = tx.require("organisation", tx.org().as_str(), &keys::org(tx.org()))?;
    rule_roles_within_org(&p.roles, &org)?;
    if p.expires_ms <= tx.time_ms() {
        return Err(ContractError::rule(
            "membership.expiry_in_future",
            format!("expiry {} ms is not after block time {} ms", p.expires_ms, tx.time_ms()),
        ));
    }
    if let Some(existing) = tx.get::<Member>(&keys::member(&p.member))? {
        if existing.org != org.uscc {
            return Err(ContractError::rule(
                "membership.one_org_per_key",
                format!("key {} belongs to organisation {}", p.member, existing.org),
            ));
        }
        if existing.revoked {
            return Err(ContractError::rule(
                "membership.revoked_is_final",
                format!("key {} was revoked; generate a new key", p.member),
            ));
        }
        if existing.roles.contains(&Role::Admin) {
            return Err(ContractError::rule(
                "membership.admin_by_governance",
                "the admin key is changed only by governance",
            ));
        }
    }
    tx.put(
        keys::member(&p.member),
        &Member { org: org.uscc.clone(), roles: p.roles, expires_ms: p.expires_ms, revoked: false },
    );
    tx.tag(TagKind::Key, p.member.to_hex());
    Ok(())
}

/// Rule `membership.roles_within_org`: granted roles are a non-empty subset of the
/// organisation's roles and never `admin`.
pub fn rule_roles_within_org(roles: &[Role], org: &Organisation) -> Result<(), ContractError> {
    if roles.is_empty() {
        return Err(ContractError::rule("membership.roles_within_org", "at least one role must be granted"));
    }
    if roles.contains(&Role::Admin) {
        return Err(ContractError::rule("membership.roles_within_org", "the admin role is granted only by governance"));
    }
    if let Some(r) = roles.iter().find(|r| !org.roles.contains(r)) {
        return Err(ContractError::rule(
            "membership.roles_within_org",
            format!("organisation {} does not hold role {r} (it holds [{}])", org.uscc, role_list(&org.roles)),
        ));
    }
    Ok(())
}

fn run_revoke(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Revoke = decode_payload(payload)?;
    let mut m: Member = tx.require("member key", &p.member.to_hex(), &keys::member(&p.member))?;
    if &m.org != tx.org() {
        return Err(ContractError::rule(
            "membership.own_org_only",
            format!("key {} belongs to {}, not to the signer's organisation {}", p.member, m.org, tx.org()),
        ));
    }
    if m.roles.contains(&Role::Admin) {
        return Err(ContractError::rule(
            "membership.admin_by_governance",
            "the admin key is changed only by governance",
        ));
    }
    m.revoked = true;
    tx.put(keys::member(&p.member), &m);
    tx.tag(TagKind::Key, p.member.to_hex());
    Ok(())
}
