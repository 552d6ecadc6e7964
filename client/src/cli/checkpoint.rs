//! `jialing checkpoint watch URL...`: a monitor. It polls each node's newest signed
//! checkpoint (`/v1/checkpoint/latest`, C2SP signed-note text), asks every node for
//! each checkpoint height any of them published, and reports any two different
//! checkpoint bodies for one height: proof that the nodes are on different chains (a
//! fork), with both notes. With `--genesis`, each note's origin must carry the chain's
//! fingerprint and its signatures must be a quorum of the genesis validator set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use jialing_core::ValidatorSet;
use jialing_core::checkpoint::{self, SignedCheckpoint};
use serde_json::json;

use crate::error::ClientError;
use crate::output::Output;
use crate::sdk::Client;

/// Checkpoint commands.
#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Poll nodes' signed checkpoints and report disagreement (exit code 6 on a fork or an
    /// invalid checkpoint).
    Watch(WatchArgs),
}

/// `jialing checkpoint watch` arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The nodes' API URLs (at least two to compare; one is checked alone).
    #[arg(required = true, value_name = "URL")]
    pub nodes: Vec<String>,
    /// The network's genesis file: check each note's fingerprint and signatures.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Seconds between polls.
    #[arg(long, default_value_t = 10)]
    pub interval: u64,
    /// Poll this many times, then stop (0: until a disagreement or Ctrl-C).
    #[arg(long, default_value_t = 0)]
    pub rounds: u64,
}

/// What the watcher trusts when given a genesis file.
struct Trust {
    fingerprint: String,
    set: ValidatorSet,
}

fn load_trust(path: &std::path::Path) -> Result<Trust, ClientError> {
    let g = jialing_genesis::Genesis::load(path)
        .map_err(|e| ClientError::Args(format!("genesis file {}: {e}", path.display())))?;
    let init = g.initial_state();
    let (header, _, _) =
        init.genesis_block().map_err(|e| ClientError::Args(format!("genesis file {}: {e}", path.display())))?;
    let set = init.validator_set().map_err(|e| ClientError::Args(format!("genesis file {}: {e}", path.display())))?;
    Ok(Trust { fingerprint: jialing_core::chain_identity::fingerprint(&header.hash()), set })
}

/// Why a node's checkpoint could not be taken.
enum FetchError {
    /// Unreachable or an HTTP error: reported, not evidence.
    Unavailable(String),
    /// A note that does not parse or verify: evidence against the node.
    Invalid(String),
}

/// Fetches and parses one note; `Ok(None)` when the node has none at that height.
fn fetch(client: &Client, path: &str, trust: Option<&Trust>) -> Result<Option<(SignedCheckpoint, String)>, FetchError> {
    let (status, text) = client.get_text(path).map_err(|e| FetchError::Unavailable(e.to_string()))?;
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(FetchError::Unavailable(format!(
            "{path}: HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        )));
    }
    let note = checkpoint::parse(&text).map_err(|e| FetchError::Invalid(format!("{path}: {e}")))?;
    if let Some(t) = trust {
        if note.checkpoint.fingerprint != t.fingerprint {
            return Err(FetchError::Invalid(format!(
                "{path}: the checkpoint is of chain {}, the genesis file's is {}",
                note.checkpoint.fingerprint, t.fingerprint
            )));
        }
        note.verify(&t.set)
            .map_err(|e| FetchError::Invalid(format!("{path}: {e} (against the genesis validator set)")))?;
    }
    Ok(Some((note, text)))
}

/// One poll: every node's latest, then every height seen, from every node. Returns
/// the report and whether two nodes disagreed or one served an invalid note.
fn poll(clients: &[Client], trust: Option<&Trust>) -> (serde_json::Value, bool) {
    let mut errors = Vec::new();
    let mut invalid = false;
    let mut note_error = |node: &str, e: FetchError| match e {
        FetchError::Unavailable(m) => json!({ "node": node, "error": m }),
        FetchError::Invalid(m) => {
            invalid = true;
            json!({ "node": node, "error": m, "invalid": true })
        }
    };
    let mut heights = std::collections::BTreeSet::new();
    for c in clients {
        match fetch(c, "/v1/checkpoint/latest", trust) {
            Ok(Some((n, _))) => {
                heights.insert(n.checkpoint.height);
            }
            Ok(None) => {}
            Err(e) => errors.push(note_error(c.url(), e)),
        }
    }
    let mut seen: BTreeMap<u64, Vec<(String, String, String)>> = BTreeMap::new();
    for &h in &heights {
        for c in clients {
            match fetch(c, &format!("/v1/checkpoint/{h}"), trust) {
                Ok(Some((n, text))) => seen.entry(h).or_default().push((c.url().to_string(), n.body, text)),
                Ok(None) => {}
                Err(e) => errors.push(note_error(c.url(), e)),
            }
        }
    }
    let mut forks = Vec::new();
    for (h, notes) in &seen {
        if let Some((first_node, first_body, first_text)) = notes.first() {
            for (node, body, text) in &notes[1..] {
                if body != first_body {
                    forks.push(json!({
                        "height": h,
                        "nodes": [first_node, node],
                        "notes": [first_text, text],
                    }));
                }
            }
        }
    }
    let agreed: Vec<serde_json::Value> = seen
        .iter()
        .filter(|(h, _)| !forks.iter().any(|f| f["height"] == json!(h)))
        .map(|(h, n)| json!({ "height": h, "nodes": n.len() }))
        .collect();
    let fork = !forks.is_empty() || invalid;
    (json!({ "agreed": agreed, "disagreements": forks, "errors": errors }), fork)
}

/// Runs a checkpoint command.
pub fn run(cmd: &CheckpointCommand, out: Output) -> Result<(), ClientError> {
    let CheckpointCommand::Watch(a) = cmd;
    let trust = a.genesis.as_deref().map(load_trust).transpose()?;
    let clients: Vec<Client> = a.nodes.iter().map(|u| Client::new(u)).collect();
    let mut round = 0u64;
    loop {
        round += 1;
        let (report, fork) = poll(&clients, trust.as_ref());
        out.emit(&report, || {
            let mut s = String::new();
            for f in report["disagreements"].as_array().into_iter().flatten() {
                s.push_str(&format!(
                    "DISAGREEMENT at height {}: {} and {} publish different checkpoints\n--- {}\n{}--- {}\n{}",
                    f["height"],
                    f["nodes"][0].as_str().unwrap_or_default(),
                    f["nodes"][1].as_str().unwrap_or_default(),
                    f["nodes"][0].as_str().unwrap_or_default(),
                    f["notes"][0].as_str().unwrap_or_default(),
                    f["nodes"][1].as_str().unwrap_or_default(),
                    f["notes"][1].as_str().unwrap_or_default(),
                ));
            }
            for e in report["errors"].as_array().into_iter().flatten() {
                s.push_str(&format!("error from {}: {}\n", e["node"].as_str().unwrap_or_default(), e["error"]));
            }
            for g in report["agreed"].as_array().into_iter().flatten() {
                s.push_str(&format!("height {}: {} node(s) agree\n", g["height"], g["nodes"]));
            }
            s.trim_end().to_string()
        })?;
        if fork {
            return Err(ClientError::Verification(
                "a node published an invalid checkpoint, or nodes published different checkpoints for one height \
                 (a fork); see above"
                    .into(),
            ));
        }
        if a.rounds != 0 && round >= a.rounds {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(a.interval.max(1)));
    }
}
