//! What a proposal does, and how it is checked and applied. Every action writes the
//! membership state directly (`org/`, `member/`, `validators`, `params`) and keeps the
//! organisation list `gov/orgs`, from which the validator set and the regulator count
//! are recomputed by point reads.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{PublicKey, Role, Uscc, Validator, ValidatorSet};
use serde::{Deserialize, Serialize};

use super::store::{Store, get, put};
use super::{ORGS_KEY, ParamsRecord, params_key};
use crate::error::ContractError;
use crate::keys;
use crate::membership::{Member, Organisation, rule_roles_within_org};
use crate::params::Params;

/// Roles that make an organisation a regulator (proposes and approves).
pub const REGULATOR_ROLES: &[Role] =
    &[Role::ProduceRegulator, Role::MarketRegulator, Role::CreditAuthority, Role::DataRegulator];

/// A governance action.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Adds an organisation (active, with its admin key certified).
    AddOrg {
        /// The new organisation.
        org: Organisation,
    },
    /// Deactivates an organisation (its keys stop signing; its validator leaves).
    RemoveOrg {
        /// Its code.
        uscc: Uscc,
    },
    /// Certifies (or renews) a member key of an organisation.
    CertifyKey {
        /// The organisation.
        org: Uscc,
        /// The key.
        key: PublicKey,
        /// Roles: a non-empty subset of the organisation's roles, never admin.
        roles: Vec<Role>,
        /// Expiry, block time in ms.
        expires_ms: u64,
    },
    /// Revokes any member key (not an admin key: rotate it instead).
    RevokeKey {
        /// The key.
        key: PublicKey,
    },
    /// Rotates an organisation's admin key: the old one is revoked.
    RotateAdmin {
        /// The organisation.
        org: Uscc,
        /// The new admin key.
        admin: PublicKey,
    },
    /// Sets (or removes, with `None`) an organisation's validator key and power.
    SetValidator {
        /// The organisation.
        org: Uscc,
        /// The new validator.
        validator: Option<Validator>,
    },
    /// Replaces a current validator key with a new one, keeping its organisation and
    /// voting power (rule `governance.rotate_validator`). The node holding both keys
    /// signs with `new` from the first height the changed set decides.
    RotateValidator {
        /// The validator key in the current set.
        old: PublicKey,
        /// The key that replaces it.
        new: PublicKey,
    },
    /// Replaces the libp2p peer keys of an organisation's nodes.
    SetNodeKeys {
        /// The organisation.
        org: Uscc,
        /// The keys.
        node_keys: Vec<PublicKey>,
    },
    /// Changes named parameter fields (applied to the parameters in force at the
    /// effective height; the version is bumped on application).
    SetParams {
        /// The changes, one per field.
        changes: Vec<super::changes::ParamChange>,
    },
}

impl Action {
    /// The organisations this action affects (for index tags).
    pub fn orgs(&self) -> Vec<Uscc> {
        match self {
            Action::AddOrg { org } => vec![org.uscc.clone()],
            Action::RemoveOrg { uscc } => vec![uscc.clone()],
            Action::CertifyKey { org, .. }
            | Action::RotateAdmin { org, .. }
            | Action::SetValidator { org, .. }
            | Action::SetNodeKeys { org, .. } => vec![org.clone()],
            Action::RevokeKey { .. } | Action::SetParams { .. } | Action::RotateValidator { .. } => vec![],
        }
    }
}

/// Whether an organisation counts as a regulator: active and holding a regulator role.
pub fn is_regulator(org: &Organisation) -> bool {
    org.active && org.roles.iter().any(|r| REGULATOR_ROLES.contains(r))
}

/// The organisation list `gov/orgs`.
pub fn org_list(s: &dyn Store) -> Result<Vec<Uscc>, ContractError> {
    get::<Vec<Uscc>>(s, ORGS_KEY)?
        .ok_or_else(|| ContractError::NotFound { what: "organisation list", id: "gov/orgs".into() })
}

/// Every listed organisation, in list order.
pub fn all_orgs(s: &dyn Store) -> Result<Vec<Organisation>, ContractError> {
    let mut out = Vec::new();
    for u in org_list(s)? {
        out.push(require_org(s, &u)?);
    }
    Ok(out)
}

fn require_org(s: &dyn Store, u: &Uscc) -> Result<Organisation, ContractError> {
    get::<Organisation>(s, &keys::org(u))?
        .ok_or_else(|| ContractError::NotFound { what: "organisation", id: u.to_string() })
}

/// The active regulator organisations.
pub fn regulators(s: &dyn Store) -> Result<Vec<Uscc>, ContractError> {
    Ok(all_orgs(s)?.into_iter().filter(is_regulator).map(|o| o.uscc).collect())
}

/// Rule `governance.keeps_a_validator`: recomputes the validator set from active
/// organisations and refuses a change that would leave it empty or invalid.
fn recompute_validators(s: &mut dyn Store) -> Result<(), ContractError> {
    let vals: Vec<Validator> = all_orgs(s)?.into_iter().filter(|o| o.active).filter_map(|o| o.validator).collect();
    if vals.is_empty() {
        return Err(ContractError::rule("governance.keeps_a_validator", "the change would leave no validator"));
    }
    let set = ValidatorSet::new(vals).map_err(|e| {
        ContractError::rule("governance.valid_validator_set", format!("the resulting validator set is invalid: {e}"))
    })?;
    put(s, keys::VALIDATORS.to_vec(), &set);
    Ok(())
}

fn check_new_key(s: &dyn Store, key: &PublicKey, org: &Uscc) -> Result<(), ContractError> {
    if let Some(m) = get::<Member>(s, &keys::member(key))? {
        if &m.org != org {
            return Err(ContractError::rule(
                "membership.one_org_per_key",
                format!("key {key} belongs to organisation {}", m.org),
            ));
        }
        if m.revoked {
            return Err(ContractError::rule(
                "membership.revoked_is_final",
                format!("key {key} was revoked; generate a new key"),
            ));
        }
    }
    Ok(())
}

/// Rule `governance.rotate_validator`: `old` is the validator key of an active
/// organisation, `new` is a different key that no organisation uses as its validator
/// key; the organisation keeps its voting power.
fn rule_rotate_validator(s: &mut dyn Store, old: &PublicKey, new: &PublicKey) -> Result<(), ContractError> {
    let bad = |d: String| Err(ContractError::rule("governance.rotate_validator", d));
    if old == new {
        return bad(format!("the new validator key {new} is the old one"));
    }
    let orgs = all_orgs(s)?;
    if let Some(o) = orgs.iter().find(|o| o.validator.as_ref().is_some_and(|v| &v.public_key == new)) {
        return bad(format!("key {new} is already the validator key of organisation {}", o.uscc));
    }
    let Some(mut org) =
        orgs.into_iter().find(|o| o.active && o.validator.as_ref().is_some_and(|v| &v.public_key == old))
    else {
        return bad(format!("key {old} is not the validator key of an active organisation"));
    };
    if let Some(v) = org.validator.as_mut() {
        v.public_key = *new;
    }
    put(s, keys::org(&org.uscc), &org);
    recompute_validators(s)
}

/// Rule `governance.params_valid`: parameters must be usable.
pub fn rule_params_valid(p: &Params) -> Result<(), ContractError> {
    let bad = |d: String| Err(ContractError::rule("governance.params_valid", d));
    if p.max_text_len == 0 || p.max_list_len == 0 {
        return bad(format!("max_text_len {} and max_list_len {} must be positive", p.max_text_len, p.max_list_len));
    }
    let g = &p.governance;
    if g.quorum_denominator == 0 || g.quorum_numerator == 0 || g.quorum_numerator >= g.quorum_denominator {
        return bad(format!(
            "quorum {}/{} must satisfy 0 < numerator < denominator",
            g.quorum_numerator, g.quorum_denominator
        ));
    }
    if g.quorum_numerator.saturating_mul(2) < g.quorum_denominator {
        return bad(format!("quorum {}/{} is below one half", g.quorum_numerator, g.quorum_denominator));
    }
    if g.max_proposal_lifetime_blocks == 0 {
        return bad("max_proposal_lifetime_blocks must be positive".into());
    }
    p.credit.check().map_err(|e| ContractError::rule("governance.params_valid", e))?;
    let b = &p.block;
    if b.max_txs == 0 || b.max_txs as usize > jialing_core::block::MAX_BLOCK_TXS {
        return bad(format!("block.max_txs {} must be 1 to {}", b.max_txs, jialing_core::block::MAX_BLOCK_TXS));
    }
    if (b.max_bytes as usize) < jialing_core::tx::MAX_TX_BYTES
        || b.max_bytes as usize > jialing_core::block::MAX_BLOCK_BYTES
    {
        return bad(format!(
            "block.max_bytes {} must be {} to {} (one maximal transaction to the protocol bound)",
            b.max_bytes,
            jialing_core::tx::MAX_TX_BYTES,
            jialing_core::block::MAX_BLOCK_BYTES
        ));
    }
    Ok(())
}

/// Checks and applies `action` at `height` (writes go to `s`; the caller discards them
/// on `Err`).
pub fn apply(s: &mut dyn Store, action: &Action, height: u64) -> Result<(), ContractError> {
    match action {
        Action::AddOrg { org } => {
            Uscc::parse(org.uscc.as_str()).map_err(|e| ContractError::rule("governance.valid_uscc", e.to_string()))?;
            if get::<Organisation>(s, &keys::org(&org.uscc))?.is_some() {
                return Err(ContractError::AlreadyExists { what: "organisation", id: org.uscc.to_string() });
            }
            if org.roles.is_empty() || org.roles.contains(&Role::Admin) {
                return Err(ContractError::InvalidArgument {
                    field: "org.roles",
                    reason: "non-empty and without admin".into(),
                });
            }
            if !org.active {
                return Err(ContractError::InvalidArgument {
                    field: "org.active",
                    reason: "a new organisation is active".into(),
                });
            }
            if get::<Member>(s, &keys::member(&org.admin))?.is_some() {
                return Err(ContractError::AlreadyExists { what: "member key", id: org.admin.to_hex() });
            }
            let mut list = org_list(s)?;
            list.push(org.uscc.clone());
            put(s, ORGS_KEY.to_vec(), &list);
            put(s, keys::org(&org.uscc), org);
            let m = Member { org: org.uscc.clone(), roles: vec![Role::Admin], expires_ms: u64::MAX, revoked: false };
            put(s, keys::member(&org.admin), &m);
            if org.validator.is_some() {
                recompute_validators(s)?;
            }
        }
        Action::RemoveOrg { uscc } => {
            let mut o = require_org(s, uscc)?;
            if !o.active {
                return Err(ContractError::rule(
                    "governance.org_active",
                    format!("organisation {uscc} is already inactive"),
                ));
            }
            o.active = false;
            put(s, keys::org(uscc), &o);
            if regulators(s)?.is_empty() {
                return Err(ContractError::rule("governance.keeps_a_regulator", "the change would leave no regulator"));
            }
            recompute_validators(s)?;
        }
        Action::CertifyKey { org, key, roles, expires_ms } => {
            let o = require_org(s, org)?;
            rule_roles_within_org(roles, &o)?;
            check_new_key(s, key, org)?;
            if get::<Member>(s, &keys::member(key))?.is_some_and(|m| m.roles.contains(&Role::Admin)) {
                return Err(ContractError::rule(
                    "governance.rotate_admin",
                    "an admin key is changed with rotate_admin",
                ));
            }
            put(
                s,
                keys::member(key),
                &Member { org: org.clone(), roles: roles.clone(), expires_ms: *expires_ms, revoked: false },
            );
        }
        Action::RevokeKey { key } => {
            let mut m = get::<Member>(s, &keys::member(key))?
                .ok_or_else(|| ContractError::NotFound { what: "member key", id: key.to_hex() })?;
            if m.roles.contains(&Role::Admin) {
                return Err(ContractError::rule(
                    "governance.rotate_admin",
                    "an admin key is replaced with rotate_admin, not revoked",
                ));
            }
            m.revoked = true;
            put(s, keys::member(key), &m);
        }
        Action::RotateAdmin { org, admin } => {
            let mut o = require_org(s, org)?;
            if get::<Member>(s, &keys::member(admin))?.is_some() {
                return Err(ContractError::AlreadyExists { what: "member key", id: admin.to_hex() });
            }
            if let Some(mut old) = get::<Member>(s, &keys::member(&o.admin))? {
                old.revoked = true;
                put(s, keys::member(&o.admin), &old);
            }
            o.admin = *admin;
            put(s, keys::org(org), &o);
            put(
                s,
                keys::member(admin),
                &Member { org: org.clone(), roles: vec![Role::Admin], expires_ms: u64::MAX, revoked: false },
            );
        }
        Action::SetValidator { org, validator } => {
            let mut o = require_org(s, org)?;
            o.validator = validator.clone();
            put(s, keys::org(org), &o);
            recompute_validators(s)?;
        }
        Action::RotateValidator { old, new } => rule_rotate_validator(s, old, new)?,
        Action::SetNodeKeys { org, node_keys } => {
            let mut o = require_org(s, org)?;
            let mut sorted = node_keys.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != node_keys.len() {
                return Err(ContractError::InvalidArgument {
                    field: "node_keys",
                    reason: "a key is listed twice".into(),
                });
            }
            o.node_keys = node_keys.clone();
            put(s, keys::org(org), &o);
        }
        Action::SetParams { changes } => {
            let current: Params = get(s, keys::PARAMS)?.unwrap_or_default();
            let mut next = super::changes::apply_changes(&current, changes)?;
            next.version = current.version.saturating_add(1);
            put(
                s,
                params_key(next.version),
                &ParamsRecord { version: next.version, effective_height: height, params: next.clone() },
            );
            put(s, keys::PARAMS.to_vec(), &next);
        }
    }
    Ok(())
}
