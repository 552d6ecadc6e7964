//! The `jialing-node` command line: `run`, `init`, `testnet`, `devnet`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use jialing_core::Keypair;

use crate::config::{LogConfig, NodeConfig};
use crate::consensus::host::ProposalHook;

/// Jialing permissioned ledger node.
#[derive(Parser, Debug)]
#[command(name = "jialing-node", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a node from its config file.
    ///
    /// `validator_keys` in the config lists the validator key files this node may sign
    /// with. At every height it signs with the one key in that height's validator set,
    /// so a validator key is rotated without an outage: list the current and the next
    /// key (`validator_keys = ["keys/validator.json", "keys/validator-next.json"]`),
    /// have governance approve `jialing gov propose rotate-validator`, and the node
    /// switches to the next key by itself at the height the change takes effect. The
    /// list is re-read whenever the validator set changes, so the next key can be added
    /// to a running node's config (see docs/operations.md, "Rotating a validator key").
    Run {
        /// The node's TOML config.
        #[arg(long, short, env = "JIALING_CONFIG", default_value = "node.toml")]
        config: PathBuf,
        /// Stop when standard input closes (used by `devnet` for its child nodes, so
        /// they never outlive it).
        #[arg(long, hide = true)]
        stop_on_stdin_eof: bool,
    },
    /// Create a node directory (peer key and config) to join an existing network.
    Init {
        /// The network's genesis file (copied into the directory).
        #[arg(long)]
        genesis: PathBuf,
        /// Directory to create.
        #[arg(long)]
        out: PathBuf,
        /// API listen address.
        #[arg(long, default_value = "127.0.0.1:8700")]
        api: std::net::SocketAddr,
    },
    /// Generate a fresh local network: keys, genesis and one config per node.
    Testnet {
        /// Number of validators (1 to 16).
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Number of non-validating full nodes.
        #[arg(long, default_value_t = 0)]
        full_nodes: usize,
        /// Output directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
        /// Chain id.
        #[arg(long, default_value = "jialing-testnet")]
        chain_id: String,
        /// API port of node 0; node i listens on base + i.
        #[arg(long, default_value_t = 8700)]
        base_port: u16,
        /// Consensus port of node 0; node i uses base + 2i (and the next port for
        /// transaction gossip).
        #[arg(long, default_value_t = 26600)]
        p2p_port: u16,
        /// Use the sample consortium's well-known keys instead of fresh random keys.
        #[arg(long)]
        sample_keys: bool,
    },
    /// Write the chain in a stopped node's data directory to a file (one hex line per
    /// block with its certificate, from genesis) for `jialing audit replay --blocks`.
    Export {
        /// The node's TOML config (its data_dir is read).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write the blocks.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Run the embedded sample consortium locally with a demo scenario (until Ctrl-C).
    Devnet {
        /// Working directory for the ledger (default: ./.devnet).
        #[arg(long, default_value = ".devnet")]
        dir: PathBuf,
        /// API port of node 0; node i serves its API on port + i.
        #[arg(long, default_value_t = 8700)]
        port: u16,
        /// Consensus port of node 0; node i uses p2p-port + 2i and the next port for
        /// transaction gossip.
        #[arg(long, default_value_t = 26600)]
        p2p_port: u16,
        /// Start from an empty ledger, deleting the previous devnet data.
        #[arg(long)]
        reset: bool,
        /// Do not submit the demo scenario.
        #[arg(long)]
        no_demo: bool,
        /// Per-client request rate of both API listeners, requests per second (0: no
        /// limit, e.g. for a load test from one address); default: the config defaults.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { config, stop_on_stdin_eof } => {
            if stop_on_stdin_eof {
                std::thread::spawn(|| {
                    let mut sink = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
                    std::process::exit(0);
                });
            }
            run_config(&config, None)
        }
        Command::Init { genesis, out, api } => init_node(&genesis, &out, api),
        Command::Testnet { validators, full_nodes, out, chain_id, base_port, p2p_port, sample_keys } => {
            let nodes = crate::genesis_glue::testnet(
                validators,
                full_nodes,
                &out,
                &chain_id,
                base_port,
                p2p_port,
                !sample_keys,
            )?;
            println!("wrote a {validators}-validator network to {}", out.display());
            for n in nodes {
                println!(
                    "  {}  api http://{}  {}",
                    n.config.display(),
                    n.api,
                    if n.validator { "validator" } else { "full node" }
                );
            }
            println!("start a node with: jialing-node run --config {}/node-0/config.toml", out.display());
            Ok(())
        }
        Command::Export { config, out } => {
            let cfg = NodeConfig::load(&config)?;
            let tip = crate::export::export(&cfg.data_dir, &out)?;
            println!("exported blocks 0..{tip} from {} to {}", cfg.data_dir.display(), out.display());
            Ok(())
        }
        Command::Devnet { dir, port, p2p_port, reset, no_demo, rate_limit } => {
            init_logging(&LogConfig::default())?;
            runtime()?.block_on(crate::devnet::run(&dir, port, p2p_port, reset, !no_demo, rate_limit))
        }
    }
}

/// `jialing-node run --config CONFIG`: loads the config, logging, genesis and keys and
/// runs the node until Ctrl-C or a fatal error. `hook` is `None` for real nodes; the
/// test suite's Byzantine node passes one.
pub fn run_config(config: &Path, hook: Option<std::sync::Arc<dyn ProposalHook>>) -> anyhow::Result<()> {
    let cfg = NodeConfig::load(config)?;
    init_logging(&cfg.log)?;
    let init = crate::genesis_glue::load(&cfg.genesis)?;
    let validator_keys = cfg
        .validator_keys
        .iter()
        .map(|p| {
            jialing_genesis::keyfile::read(p).with_context(|| format!("reading validator key file {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<Keypair>>>()?;
    let node_key = cfg.node_key.as_ref().map(|p| jialing_genesis::keyfile::read(p)).transpose()?;
    runtime()?.block_on(crate::runner::run_hooked(cfg, init, validator_keys, node_key, |_| {}, hook))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Sets up `tracing` (text or JSON lines; `RUST_LOG` overrides the configured level).
pub fn init_logging(cfg: &LogConfig) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},lsm_tree=warn,fjall=warn", cfg.level)))
        .with_context(|| format!("log.level {:?} is not a valid filter", cfg.level))?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let r = if cfg.format == "json" { builder.json().try_init() } else { builder.try_init() };
    r.map_err(|e| anyhow::anyhow!("setting up logging: {e}"))
}

fn init_node(genesis: &Path, out: &Path, api: std::net::SocketAddr) -> anyhow::Result<()> {
    crate::genesis_glue::load(genesis).context("checking the genesis file")?;
    if out.exists() && out.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty; choose a new directory", out.display());
    }
    std::fs::create_dir_all(out.join("keys"))?;
    std::fs::copy(genesis, out.join("genesis.toml")).context("copying the genesis file")?;
    let key = Keypair::generate();
    jialing_genesis::keyfile::write(&out.join("keys/node.json"), &key, "node (peer) key")?;
    let cfg = NodeConfig {
        genesis: "genesis.toml".into(),
        data_dir: "data".into(),
        validator_keys: vec![],
        node_key: Some("keys/node.json".into()),
        api: crate::config::ApiConfig { listen: api, ..Default::default() },
        block: Default::default(),
        mempool: Default::default(),
        log: Default::default(),
        consensus: Default::default(),
        query_log: Default::default(),
        source: None,
    };
    std::fs::write(out.join("config.toml"), cfg.to_toml())?;
    println!("created {}", out.display());
    println!("node (peer) public key: {}", key.public());
    println!("ask the consortium's regulators to add this key to your organisation (a governance proposal), then run:");
    println!("  jialing-node run --config {}", out.join("config.toml").display());
    Ok(())
}
