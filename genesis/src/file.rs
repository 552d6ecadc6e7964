//! The genesis file: the consortium at height 0, in TOML. Field by field in
//! `docs/genesis.md`.

use std::collections::BTreeSet;
use std::path::Path;

use jialing_contracts::genesis_state::{ChainInfo, InitialState};
use jialing_contracts::membership::{Member, Organisation};
use jialing_contracts::params::Params;
use jialing_core::{Hash, PublicKey, Role, Uscc, Validator, ValidatorSet, encoding, sha256};
use serde::{Deserialize, Serialize};

use crate::error::GenesisError;
use crate::time::{format_rfc3339, parse_rfc3339};

/// The whole genesis file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id: 1 to 64 characters of `a-z`, `0-9` and `-`.
    pub chain_id: String,
    /// Genesis time, RFC 3339 in UTC (`2026-11-01T00:00:00Z`).
    pub genesis_time: String,
    /// The organisations.
    #[serde(rename = "organisation", default)]
    pub organisations: Vec<OrgEntry>,
    /// Contract parameters (every field optional).
    #[serde(default)]
    pub params: Params,
}

/// One organisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgEntry {
    /// Unified Social Credit Code, with a valid check character.
    pub uscc: Uscc,
    /// Registered name.
    pub name: String,
    /// Roles (snake_case).
    pub roles: Vec<Role>,
    /// Admin public key (hex).
    pub admin_key: PublicKey,
    /// Public contact.
    #[serde(default)]
    pub contact: String,
    /// Peer (libp2p) public keys of its nodes.
    #[serde(default)]
    pub node_keys: Vec<PublicKey>,
    /// Its validator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<ValidatorEntry>,
    /// Member keys certified at genesis.
    #[serde(rename = "member", default)]
    pub members: Vec<MemberEntry>,
}

/// A validator.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorEntry {
    /// Consensus public key (hex).
    pub key: PublicKey,
    /// Voting power (> 0).
    pub power: u64,
}

/// A member key certified at genesis.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Public key (hex).
    pub key: PublicKey,
    /// Roles: a subset of the organisation's, never `admin`.
    pub roles: Vec<Role>,
    /// Expiry, RFC 3339 UTC; omitted = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Genesis {
    /// Reads and validates a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Io { path: path.display().to_string(), source })?;
        Self::parse(&text)
    }

    /// Parses and validates genesis TOML.
    pub fn parse(text: &str) -> Result<Self, GenesisError> {
        let g: Genesis = toml::from_str(text).map_err(|e| GenesisError::Parse(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> Result<String, GenesisError> {
        toml::to_string_pretty(self).map_err(|e| GenesisError::Parse(e.to_string()))
    }

    /// Genesis time in ms since the Unix epoch.
    pub fn genesis_time_ms(&self) -> Result<u64, GenesisError> {
        parse_rfc3339(&self.genesis_time).map_err(|reason| GenesisError::Field { field: "genesis_time".into(), reason })
    }

    /// Checks every rule; the error names the organisation and field.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let field = |f: String, reason: String| GenesisError::Field { field: f, reason };
        let id = &self.chain_id;
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(field("chain_id".into(), format!("{id:?} must be 1 to 64 characters of a-z, 0-9 and '-'")));
        }
        self.genesis_time_ms()?;
        if self.organisations.is_empty() {
            return Err(field("organisation".into(), "no organisations".into()));
        }
        let mut usccs = BTreeSet::new();
        let mut keys: BTreeSet<PublicKey> = BTreeSet::new();
        let mut dup_key = |k: &PublicKey, what: String| -> Result<(), GenesisError> {
            if !keys.insert(*k) {
                return Err(GenesisError::DuplicateKey { key: k.to_hex(), at: what });
            }
            Ok(())
        };
        for o in &self.organisations {
            let at = |f: &str| format!("organisation {} ({}).{f}", o.uscc, o.name);
            if !usccs.insert(o.uscc.clone()) {
                return Err(GenesisError::DuplicateUscc(o.uscc.to_string()));
            }
            if o.name.trim().is_empty() {
                return Err(field(at("name"), "must not be empty".into()));
            }
            if o.contact.trim().is_empty() {
                return Err(field(at("contact"), "must not be empty: consumers are shown it".into()));
            }
            if o.validator.is_some() && o.node_keys.is_empty() {
                return Err(field(
                    at("node_keys"),
                    "an organisation with a validator must list its node (peer) key".into(),
                ));
            }
            if o.roles.is_empty() {
                return Err(field(at("roles"), "an organisation needs at least one role".into()));
            }
            if o.roles.contains(&Role::Admin) {
                return Err(field(at("roles"), "`admin` is not an organisation role (the admin_key has it)".into()));
            }
            dup_key(&o.admin_key, at("admin_key"))?;
            for k in &o.node_keys {
                dup_key(k, at("node_keys"))?;
            }
            if let Some(v) = &o.validator {
                dup_key(&v.key, at("validator.key"))?;
                if v.power == 0 {
                    return Err(field(at("validator.power"), "must be greater than 0".into()));
                }
            }
            for (i, m) in o.members.iter().enumerate() {
                let mat = at(&format!("member[{i}]"));
                dup_key(&m.key, mat.clone())?;
                if m.roles.is_empty() {
                    return Err(field(mat, "a member needs at least one role".into()));
                }
                if let Some(r) = m.roles.iter().find(|r| **r == Role::Admin || !o.roles.contains(r)) {
                    return Err(field(mat, format!("role {r} is not one of the organisation's roles")));
                }
                if let Some(e) = &m.expires {
                    let ms = parse_rfc3339(e).map_err(|reason| field(format!("{mat}.expires"), reason))?;
                    if ms <= self.genesis_time_ms()? {
                        return Err(field(
                            format!("{mat}.expires"),
                            format!("{e} is not after genesis_time {}", self.genesis_time),
                        ));
                    }
                }
            }
        }
        if !self.organisations.iter().any(|o| o.validator.is_some()) {
            return Err(field(
                "organisation.validator".into(),
                "at least one organisation must run a validator".into(),
            ));
        }
        // Voting power limits (per validator and in total) and the consensus limits in
        // the parameters: the same rules governance applies later.
        self.initial_state()
            .validator_set()
            .map_err(|e| field("organisation.validator.power".into(), e.to_string()))?;
        jialing_contracts::governance::actions::rule_params_valid(&self.params)
            .map_err(|e| field("params".into(), e.to_string()))?;
        Ok(())
    }

    /// The state at height 0.
    pub fn initial_state(&self) -> InitialState {
        let orgs = self
            .organisations
            .iter()
            .map(|o| Organisation {
                uscc: o.uscc.clone(),
                name: o.name.clone(),
                roles: o.roles.clone(),
                admin: o.admin_key,
                node_keys: o.node_keys.clone(),
                validator: o.validator.as_ref().map(|v| Validator { public_key: v.key, power: v.power }),
                contact: o.contact.clone(),
                active: true,
            })
            .collect();
        let members = self
            .organisations
            .iter()
            .flat_map(|o| {
                o.members.iter().map(move |m| {
                    let expires_ms = m.expires.as_deref().and_then(|e| parse_rfc3339(e).ok()).unwrap_or(u64::MAX);
                    (m.key, Member { org: o.uscc.clone(), roles: m.roles.clone(), expires_ms, revoked: false })
                })
            })
            .collect();
        InitialState {
            chain: ChainInfo { chain_id: self.chain_id.clone(), genesis_time_ms: self.genesis_time_ms().unwrap_or(0) },
            orgs,
            members,
            params: self.params.clone(),
        }
    }

    /// The validator set at genesis.
    pub fn validator_set(&self) -> Result<ValidatorSet, GenesisError> {
        self.initial_state()
            .validator_set()
            .map_err(|e| GenesisError::Field { field: "validators".into(), reason: e.to_string() })
    }

    /// SHA-256 of the canonical encoding of the genesis state (not of the TOML text, so
    /// formatting and comments do not matter).
    pub fn hash(&self) -> Result<Hash, GenesisError> {
        let writes = self
            .initial_state()
            .writes()
            .map_err(|e| GenesisError::Field { field: "state".into(), reason: e.to_string() })?;
        Ok(sha256(&encoding::encode(&writes)))
    }

    /// Formats a time in ms as the file's RFC 3339 form.
    pub fn time_string(ms: u64) -> String {
        format_rfc3339(ms)
    }
}
