//! Loading the genesis file and generating local networks (node configs on top of the
//! genesis crate's generator).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jialing_contracts::genesis_state::InitialState;

use crate::config::{ApiConfig, ConsensusConfig, NodeConfig, PeerConfig, PublicApiConfig};

/// Loads and validates a genesis file.
pub fn load(path: &Path) -> anyhow::Result<InitialState> {
    let g = jialing_genesis::Genesis::load(path).with_context(|| format!("genesis file {}", path.display()))?;
    Ok(g.initial_state())
}

/// One generated node.
pub struct GeneratedNode {
    /// Its config file.
    pub config: PathBuf,
    /// Its API address.
    pub api: SocketAddr,
    /// Whether it validates.
    pub validator: bool,
}

/// Generates a local network into `out`: genesis, keys, and `node-<i>/config.toml`.
pub fn testnet(
    validators: usize,
    full_nodes: usize,
    out: &Path,
    chain_id: &str,
    base_port: u16,
    p2p_port: u16,
    fresh_keys: bool,
) -> anyhow::Result<Vec<GeneratedNode>> {
    if out.exists() && out.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty; choose a new directory", out.display());
    }
    let spec = jialing_genesis::NetworkSpec {
        chain_id: chain_id.to_string(),
        validators,
        full_nodes,
        genesis_time_ms: crate::solo::now_ms(),
        fresh_keys,
    };
    let net = jialing_genesis::generate(&spec)?;
    let layout = net.write(out)?;
    // Node i's consensus listens on p2p_port + 2i, its transaction gossip on the next port.
    let p2p = |i: usize| SocketAddr::from(([127, 0, 0, 1], p2p_port + 2 * i as u16));
    let peers: Vec<PeerConfig> =
        net.nodes.iter().map(|n| PeerConfig { node_key: n.node.public().to_hex(), address: p2p(n.index) }).collect();
    let multi = net.nodes.len() > 1;
    let mut nodes = Vec::new();
    for n in layout.nodes {
        let dir = out.join(format!("node-{}", n.index));
        let api: SocketAddr = SocketAddr::from(([127, 0, 0, 1], base_port + n.index as u16));
        let rel = |p: &Path| p.strip_prefix(&dir).map(Path::to_path_buf).unwrap_or_else(|_| p.to_path_buf());
        let cfg = NodeConfig {
            genesis: PathBuf::from("../genesis.toml"),
            data_dir: PathBuf::from("data"),
            validator_keys: n.validator_key.iter().map(|p| rel(p)).collect(),
            node_key: Some(rel(&n.node_key)),
            // The public listener on a port the kernel picks (shown in `/status`):
            // generated networks are local, and the block of ports is the API's.
            api: ApiConfig {
                listen: api,
                public: PublicApiConfig { listen: SocketAddr::from(([127, 0, 0, 1], 0)), ..Default::default() },
                ..Default::default()
            },
            block: Default::default(),
            mempool: Default::default(),
            log: Default::default(),
            consensus: ConsensusConfig {
                listen: p2p(n.index),
                peers: if multi {
                    peers.iter().filter(|p| p.address != p2p(n.index)).cloned().collect()
                } else {
                    vec![]
                },
                ..Default::default()
            },
            query_log: Default::default(),
            source: None,
        };
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("config.toml");
        std::fs::write(&path, cfg.to_toml()).with_context(|| format!("writing {}", path.display()))?;
        nodes.push(GeneratedNode { config: path, api, validator: n.validator_key.is_some() });
    }
    Ok(nodes)
}
