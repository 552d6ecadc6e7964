//! Generating a fresh local network: a consortium with `n` validator bureaus plus the
//! sample's other organisations, all keys, and the files a node needs.

use std::path::{Path, PathBuf};

use jialing_core::{Keypair, Role, Uscc};

use crate::error::GenesisError;
use crate::file::{Genesis, MemberEntry, OrgEntry, ValidatorEntry};
use crate::sample::{SAMPLE_ORGS, sample_key};

/// What to generate.
#[derive(Clone, Debug)]
pub struct NetworkSpec {
    /// Chain id.
    pub chain_id: String,
    /// Validators (1 to 16).
    pub validators: usize,
    /// Non-validating full nodes.
    pub full_nodes: usize,
    /// Genesis time, ms since the Unix epoch.
    pub genesis_time_ms: u64,
    /// Fresh random keys (true) or the sample's public labelled keys (false).
    pub fresh_keys: bool,
}

/// One node of a generated network.
pub struct NodeKeys {
    /// Node index (validators first).
    pub index: usize,
    /// Short name of its organisation.
    pub org: String,
    /// Its organisation's USCC.
    pub uscc: Uscc,
    /// Validator key, for validators.
    pub validator: Option<Keypair>,
    /// Peer key.
    pub node: Keypair,
}

/// A generated network, in memory.
pub struct GeneratedNetwork {
    /// The genesis.
    pub genesis: Genesis,
    /// Per organisation: short name, admin key, operator key.
    pub org_keys: Vec<(String, Keypair, Keypair)>,
    /// The nodes.
    pub nodes: Vec<NodeKeys>,
}

/// Where [`GeneratedNetwork::write`] put a node's files.
pub struct NodeLayout {
    /// Node index.
    pub index: usize,
    /// Organisation USCC.
    pub uscc: Uscc,
    /// Validator key file, for validators.
    pub validator_key: Option<PathBuf>,
    /// Peer key file.
    pub node_key: PathBuf,
}

/// The files written.
pub struct NetworkLayout {
    /// `genesis.toml`.
    pub genesis: PathBuf,
    /// One entry per node.
    pub nodes: Vec<NodeLayout>,
}

const REGULATOR_ROLES: [Role; 4] =
    [Role::ProduceRegulator, Role::MarketRegulator, Role::CreditAuthority, Role::DataRegulator];

/// Builds the network.
pub fn generate(spec: &NetworkSpec) -> Result<GeneratedNetwork, GenesisError> {
    if !(1..=16).contains(&spec.validators) {
        return Err(GenesisError::Field {
            field: "validators".into(),
            reason: format!("{} is not between 1 and 16", spec.validators),
        });
    }
    let key = |short: &str, which: &str| if spec.fresh_keys { Keypair::generate() } else { sample_key(short, which) };
    let bad = |e: jialing_core::CoreError| GenesisError::Field { field: "uscc".into(), reason: e.to_string() };
    // Validator bureaus: the sample's four, then more regulators.
    let bureaus: Vec<(String, String, String, Role)> = (0..spec.validators.max(4))
        .map(|i| match SAMPLE_ORGS.iter().filter(|o| o.validator).nth(i) {
            Some(o) => (o.short.to_string(), o.uscc17.to_string(), o.name.to_string(), o.roles[0]),
            None => {
                (format!("bureau{i}"), format!("11500230MB16{i:05}"), format!("Bureau {i}"), REGULATOR_ROLES[i % 4])
            }
        })
        .collect();
    let mut organisations = Vec::new();
    let mut org_keys = Vec::new();
    let mut nodes = Vec::new();
    for (i, (short, uscc17, name, role)) in bureaus.iter().enumerate() {
        let (admin, op, node) = (key(short, "admin"), key(short, "op"), key(short, "node"));
        let validator = (i < spec.validators).then(|| key(short, "validator"));
        let uscc = Uscc::complete(uscc17).map_err(bad)?;
        organisations.push(OrgEntry {
            uscc: uscc.clone(),
            name: name.clone(),
            roles: vec![*role],
            admin_key: admin.public(),
            contact: format!("{name} office"),
            node_keys: if validator.is_some() { vec![node.public()] } else { vec![] },
            validator: validator.as_ref().map(|v| ValidatorEntry { key: v.public(), power: 1 }),
            members: vec![MemberEntry { key: op.public(), roles: vec![*role], expires: None }],
        });
        if let Some(v) = validator {
            nodes.push(NodeKeys { index: i, org: short.clone(), uscc, validator: Some(v), node });
        }
        org_keys.push((short.clone(), admin, op));
    }
    let others: Vec<_> = SAMPLE_ORGS.iter().filter(|o| !o.validator).collect();
    let mut full_node_keys: Vec<(usize, Keypair)> = Vec::new();
    for j in 0..spec.full_nodes {
        full_node_keys.push((j % others.len().max(1), Keypair::generate()));
    }
    for (k, o) in others.iter().enumerate() {
        let (admin, op) = (key(o.short, "admin"), key(o.short, "op"));
        let uscc = Uscc::complete(o.uscc17).map_err(bad)?;
        let mine: Vec<&Keypair> = full_node_keys.iter().filter(|(idx, _)| *idx == k).map(|(_, kp)| kp).collect();
        organisations.push(OrgEntry {
            uscc: uscc.clone(),
            name: o.name.into(),
            roles: o.roles.to_vec(),
            admin_key: admin.public(),
            contact: o.contact.into(),
            node_keys: mine.iter().map(|kp| kp.public()).collect(),
            validator: None,
            members: vec![MemberEntry { key: op.public(), roles: o.roles.to_vec(), expires: None }],
        });
        for kp in mine {
            nodes.push(NodeKeys {
                index: 0,
                org: o.short.into(),
                uscc: uscc.clone(),
                validator: None,
                node: kp.clone(),
            });
        }
        org_keys.push((o.short.to_string(), admin, op));
    }
    for (i, n) in nodes.iter_mut().enumerate() {
        n.index = i;
    }
    let genesis = Genesis {
        chain_id: spec.chain_id.clone(),
        genesis_time: Genesis::time_string(spec.genesis_time_ms),
        organisations,
        params: Default::default(),
    };
    genesis.validate()?;
    Ok(GeneratedNetwork { genesis, org_keys, nodes })
}

impl GeneratedNetwork {
    /// Writes `genesis.toml`, `org-keys/<short>/{admin,operator}.json` and
    /// `node-<i>/keys/{node,validator}.json` under `dir`.
    pub fn write(&self, dir: &Path) -> Result<NetworkLayout, GenesisError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| GenesisError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let genesis = dir.join("genesis.toml");
        std::fs::write(&genesis, self.genesis.to_toml()?).map_err(io(&genesis))?;
        for (short, admin, op) in &self.org_keys {
            crate::keyfile::write(
                &dir.join("org-keys").join(short).join("admin.json"),
                admin,
                &format!("{short} admin"),
            )?;
            crate::keyfile::write(
                &dir.join("org-keys").join(short).join("operator.json"),
                op,
                &format!("{short} operator"),
            )?;
        }
        let mut nodes = Vec::new();
        for n in &self.nodes {
            let keys = dir.join(format!("node-{}", n.index)).join("keys");
            let node_key = keys.join("node.json");
            crate::keyfile::write(&node_key, &n.node, &format!("node {} peer key ({})", n.index, n.org))?;
            let validator_key = match &n.validator {
                Some(v) => {
                    let p = keys.join("validator.json");
                    crate::keyfile::write(&p, v, &format!("node {} validator key ({})", n.index, n.org))?;
                    Some(p)
                }
                None => None,
            };
            nodes.push(NodeLayout { index: n.index, uscc: n.uscc.clone(), validator_key, node_key });
        }
        Ok(NetworkLayout { genesis, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_and_writes_a_valid_network() {
        for (v, f) in [(1, 0), (4, 1), (7, 2)] {
            let spec = NetworkSpec {
                chain_id: "t".into(),
                validators: v,
                full_nodes: f,
                genesis_time_ms: 1_767_225_600_000,
                fresh_keys: true,
            };
            let net = generate(&spec).unwrap();
            assert_eq!(net.genesis.validator_set().unwrap().validators.len(), v);
            let dir = tempfile::tempdir().unwrap();
            let layout = net.write(dir.path()).unwrap();
            assert_eq!(layout.nodes.len(), v + f);
            assert_eq!(layout.nodes.iter().filter(|n| n.validator_key.is_some()).count(), v);
            let back = Genesis::load(&layout.genesis).unwrap();
            assert_eq!(back.hash().unwrap(), net.genesis.hash().unwrap());
            for n in &layout.nodes {
                crate::keyfile::read(&n.node_key).unwrap();
            }
        }
        let bad =
            NetworkSpec { chain_id: "t".into(), validators: 0, full_nodes: 0, genesis_time_ms: 0, fresh_keys: true };
        assert!(generate(&bad).is_err());
    }
}
