//! `jialing gov`: governance proposals in one command each. `propose <action> --dry-run`
//! prints, field by field, what the proposal would change and the height it would take
//! effect, without submitting anything.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use jialing_contracts::governance::{
    Action, Approve, FieldDiff, ParamChange, Propose, Withdraw, apply_changes, json_diff,
};
use jialing_contracts::membership::Organisation;
use jialing_contracts::params::Params;
use jialing_core::{PublicKey, Uscc, Validator};
use serde_json::{Value, json};

use super::{WaitArgs, submit_fresh};
use crate::error::ClientError;
use crate::keys;
use crate::output::Output;
use crate::sdk::Client;
use crate::txbuild::TxBuilder;

/// Governance commands.
#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose a change (signed by a member key of a regulator organisation), or show
    /// what it would change with --dry-run.
    Propose(ProposeArgs),
    /// Show one proposal: its action, approvals and state.
    Show {
        /// The proposal id (the proposing transaction's hash).
        id: String,
    },
    /// List proposals, newest first.
    List {
        /// Only proposals in this state: pending, applied, failed, expired, withdrawn.
        #[arg(long)]
        status: Option<String>,
        /// Most proposals to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Approve a pending proposal for your regulator organisation.
    Approve(VoteArgs),
    /// Withdraw a pending proposal your organisation made.
    Withdraw(VoteArgs),
}

/// `gov approve` and `gov withdraw` arguments.
#[derive(Debug, Args)]
pub struct VoteArgs {
    /// The proposal id.
    pub id: String,
    /// A member key file of a regulator organisation.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `gov propose` arguments.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// What to propose.
    #[command(subcommand)]
    pub action: ActionArgs,
    /// A member key file of a regulator organisation (not needed with --dry-run).
    #[arg(long, value_name = "FILE", global = true)]
    pub key: Option<PathBuf>,
    /// Take effect at this height.
    #[arg(long, value_name = "HEIGHT", global = true, conflicts_with = "after")]
    pub at: Option<u64>,
    /// Take effect this many blocks after the current height (default 20).
    #[arg(long, value_name = "BLOCKS", global = true)]
    pub after: Option<u64>,
    /// Print what would change and when; submit nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Return once the node accepted the proposal into its mempool.
    #[arg(long, global = true)]
    pub no_wait: bool,
    /// How long to wait for the proposal to be committed.
    #[arg(long, default_value_t = 30, value_name = "SECS", global = true)]
    pub wait_secs: u64,
}

/// The actions `gov propose` builds.
#[derive(Debug, Subcommand)]
pub enum ActionArgs {
    /// Change named parameter fields: --set credit.grading.scale='["A","B","C"]' ...
    SetParams {
        /// FIELD=JSON, repeatable (dotted field path, JSON value).
        #[arg(long = "set", value_name = "FIELD=JSON", required = true)]
        set: Vec<String>,
    },
    /// Add an organisation described in a JSON file (uscc, name, roles, admin, ...).
    AddOrg {
        /// The organisation as JSON.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Deactivate an organisation.
    RemoveOrg {
        /// Its USCC.
        #[arg(long)]
        uscc: String,
    },
    /// Rotate an organisation's admin key.
    RotateAdmin {
        /// Its USCC.
        #[arg(long)]
        uscc: String,
        /// The new admin public key or key file.
        #[arg(long, value_name = "PUBKEY")]
        admin: String,
    },
    /// Set an organisation's validator key and power, or remove it with --remove.
    SetValidator {
        /// Its USCC.
        #[arg(long)]
        uscc: String,
        /// The validator public key (64 hex digits) or key file.
        #[arg(long, value_name = "PUBKEY", required_unless_present = "remove")]
        validator: Option<String>,
        /// Voting power.
        #[arg(long, default_value_t = 1)]
        power: u64,
        /// Remove the organisation's validator.
        #[arg(long, conflicts_with = "validator")]
        remove: bool,
    },
    /// Replace a validator key with a new one (same organisation and power). The node
    /// that lists both keys in `validator_keys` switches to the new one by itself at
    /// the effective height, without a restart.
    RotateValidator {
        /// The validator key in the current set: public key (64 hex digits) or key file.
        #[arg(long, value_name = "PUBKEY")]
        old: String,
        /// The new validator key: public key or key file (`jialing keys new`).
        #[arg(long, value_name = "PUBKEY")]
        new: String,
    },
    /// Certify (or renew) a member key of an organisation, never as admin.
    CertifyKey {
        /// The organisation's USCC.
        #[arg(long)]
        uscc: String,
        /// The member's public key or key file.
        #[arg(long, value_name = "PUBKEY")]
        member: String,
        /// Comma-separated roles, a subset of the organisation's.
        #[arg(long)]
        roles: String,
        /// Expiry as days from now.
        #[arg(long, value_name = "N", default_value_t = 365)]
        days: u64,
    },
    /// Revoke any organisation's member key (not an admin key: rotate it instead).
    RevokeKey {
        /// The member's public key or key file.
        #[arg(long, value_name = "PUBKEY")]
        member: String,
    },
    /// Replace an organisation's node (libp2p) keys.
    SetNodeKeys {
        /// Its USCC.
        #[arg(long)]
        uscc: String,
        /// Comma-separated public keys (may be empty).
        #[arg(long, value_name = "KEYS", default_value = "")]
        keys: String,
    },
}

/// Default distance, in blocks, from the current height to the effective height.
pub const DEFAULT_AFTER: u64 = 20;

fn parse_uscc(s: &str) -> Result<Uscc, ClientError> {
    Uscc::parse(s).map_err(|e| ClientError::Args(format!("--uscc {s:?}: {e}")))
}

/// Parses `FIELD=JSON` pairs into parameter changes (the JSON is checked here).
pub fn parse_changes(set: &[String]) -> Result<Vec<ParamChange>, ClientError> {
    set.iter()
        .map(|s| {
            let (field, value) = s
                .split_once('=')
                .ok_or_else(|| ClientError::Args(format!("--set {s:?}: write FIELD=JSON, e.g. block.max_txs=5000")))?;
            serde_json::from_str::<Value>(value).map_err(|e| {
                ClientError::Args(format!("--set {field}: {value:?} is not JSON ({e}); quote strings: '\"x\"'"))
            })?;
            Ok(ParamChange { field: field.trim().to_string(), value: value.to_string() })
        })
        .collect()
}

fn org_json(client: &Client, uscc: &Uscc) -> Result<Organisation, ClientError> {
    let v = client.get_json(&format!("/v1/org/{uscc}?limit=0"))?;
    serde_json::from_value(v["org"].clone())
        .map_err(|e| ClientError::Decode { what: format!("organisation {uscc}"), reason: e.to_string() })
}

/// The validator set before and after replacing `old` by `new` (same power), as
/// `/status` lists it; `old` must be in it and `new` must not.
fn rotated_set(client: &Client, old: &PublicKey, new: &PublicKey) -> Result<(Value, Value), ClientError> {
    let before = client.status()?.validators;
    let list: Vec<Validator> = serde_json::from_value(before.clone())
        .map_err(|e| ClientError::Decode { what: "validator set".into(), reason: e.to_string() })?;
    if !list.iter().any(|v| v.public_key == *old) {
        return Err(ClientError::Args(format!("--old {old} is not in the current validator set")));
    }
    if list.iter().any(|v| v.public_key == *new) {
        return Err(ClientError::Args(format!("--new {new} is already in the current validator set")));
    }
    let mut after: Vec<Validator> =
        list.into_iter().map(|v| if v.public_key == *old { Validator { public_key: *new, ..v } } else { v }).collect();
    after.sort_by_key(|v| v.public_key);
    Ok((before, to_value(&after)))
}

fn member_json(client: &Client, key: &PublicKey) -> Result<Value, ClientError> {
    Ok(client.get_json(&format!("/v1/governance/member/{key}"))?["member"].clone())
}

fn prefixed(prefix: &str, before: &Value, after: &Value) -> Vec<FieldDiff> {
    json_diff(before, after)
        .into_iter()
        .map(|d| FieldDiff {
            field: if d.field.is_empty() { prefix.into() } else { format!("{prefix}.{}", d.field) },
            ..d
        })
        .collect()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Builds the action and the field-by-field difference it makes to the node's current
/// state (parameters are changed with the contract's own code, so an invalid change
/// fails here exactly as it would on the ledger).
pub fn build(client: &Client, a: &ActionArgs) -> Result<(Action, Vec<FieldDiff>), ClientError> {
    let rule = |e: jialing_contracts::ContractError| ClientError::Args(format!("{}: {e}", e.code()));
    Ok(match a {
        ActionArgs::SetParams { set } => {
            let changes = parse_changes(set)?;
            let v = client.get_json("/v1/governance/params")?;
            let current: Params = serde_json::from_value(v["params"].clone())
                .map_err(|e| ClientError::Decode { what: "parameters".into(), reason: e.to_string() })?;
            let next = apply_changes(&current, &changes).map_err(rule)?;
            let diff = prefixed("params", &to_value(&current), &to_value(&next));
            (Action::SetParams { changes }, diff)
        }
        ActionArgs::AddOrg { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| ClientError::Args(format!("--file {}: {e}", file.display())))?;
            let org: Organisation = serde_json::from_str(&text)
                .map_err(|e| ClientError::Args(format!("--file {}: not an organisation: {e}", file.display())))?;
            let diff = prefixed(&format!("org.{}", org.uscc), &Value::Null, &to_value(&org));
            (Action::AddOrg { org }, diff)
        }
        ActionArgs::RemoveOrg { uscc } => {
            let u = parse_uscc(uscc)?;
            let before = org_json(client, &u)?;
            let after = Organisation { active: false, ..before.clone() };
            (
                Action::RemoveOrg { uscc: u.clone() },
                prefixed(&format!("org.{u}"), &to_value(&before), &to_value(&after)),
            )
        }
        ActionArgs::RotateAdmin { uscc, admin } => {
            let u = parse_uscc(uscc)?;
            let admin: PublicKey = keys::parse_member(admin)?;
            let before = org_json(client, &u)?;
            let after = Organisation { admin, ..before.clone() };
            let diff = prefixed(&format!("org.{u}"), &to_value(&before), &to_value(&after));
            (Action::RotateAdmin { org: u, admin }, diff)
        }
        ActionArgs::SetValidator { uscc, validator, power, remove } => {
            let u = parse_uscc(uscc)?;
            let validator = match (validator, remove) {
                (_, true) => None,
                (Some(v), false) => Some(Validator { public_key: keys::parse_member(v)?, power: *power }),
                (None, false) => return Err(ClientError::Args("give --validator or --remove".into())),
            };
            let before = org_json(client, &u)?;
            let after = Organisation { validator: validator.clone(), ..before.clone() };
            let diff = prefixed(&format!("org.{u}"), &to_value(&before), &to_value(&after));
            (Action::SetValidator { org: u, validator }, diff)
        }
        ActionArgs::RotateValidator { old, new } => {
            let old = keys::parse_member(old)?;
            let new = keys::parse_member(new)?;
            let (before, after) = rotated_set(client, &old, &new)?;
            (Action::RotateValidator { old, new }, prefixed("validators", &before, &after))
        }
        ActionArgs::CertifyKey { uscc, member, roles, days } => {
            let u = parse_uscc(uscc)?;
            let key = keys::parse_member(member)?;
            let roles = keys::parse_roles(roles)?;
            let expires_ms = keys::expiry_ms(None, Some(*days))?;
            let before = member_json(client, &key)?;
            let after = json!({"org": u, "roles": roles, "expires_ms": expires_ms, "revoked": false});
            let diff = prefixed(&format!("member.{key}"), &before, &after);
            (Action::CertifyKey { org: u, key, roles, expires_ms }, diff)
        }
        ActionArgs::RevokeKey { member } => {
            let key = keys::parse_member(member)?;
            let before = member_json(client, &key)?;
            if before.is_null() {
                return Err(ClientError::Args(format!("key {key} is not a member: nothing to revoke")));
            }
            let mut after = before.clone();
            after["revoked"] = json!(true);
            (Action::RevokeKey { key }, prefixed(&format!("member.{key}"), &before, &after))
        }
        ActionArgs::SetNodeKeys { uscc, keys: list } => {
            let u = parse_uscc(uscc)?;
            let node_keys = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(keys::parse_member)
                .collect::<Result<Vec<_>, _>>()?;
            let before = org_json(client, &u)?;
            let after = Organisation { node_keys: node_keys.clone(), ..before.clone() };
            let diff = prefixed(&format!("org.{u}"), &to_value(&before), &to_value(&after));
            (Action::SetNodeKeys { org: u, node_keys }, diff)
        }
    })
}

/// The human form of a difference: one `field: before -> after` line per field.
pub fn diff_human(diff: &[FieldDiff]) -> String {
    if diff.is_empty() {
        return "  (no field changes)".into();
    }
    diff.iter().map(|d| format!("  {}: {} -> {}", d.field, d.before, d.after)).collect::<Vec<_>>().join("\n")
}

fn action_name(a: &Action) -> String {
    to_value(a).as_object().and_then(|m| m.keys().next().cloned()).unwrap_or_default()
}

/// Runs a governance command.
pub fn run(cmd: &GovCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        GovCommand::Propose(p) => {
            let status = client.status()?;
            let effective_height = match p.at {
                Some(h) if h <= status.height => {
                    return Err(ClientError::Args(format!(
                        "--at {h} is not after the current height {}",
                        status.height
                    )));
                }
                Some(h) => h,
                None => status.height + p.after.unwrap_or(DEFAULT_AFTER),
            };
            let (action, diff) = build(client, &p.action)?;
            let name = action_name(&action);
            let summary = json!({
                "action": name,
                "effective_height": effective_height,
                "current_height": status.height,
                "diff": diff,
                "dry_run": p.dry_run,
            });
            if p.dry_run {
                return out.emit(&summary, || {
                    format!(
                        "proposal {name}: takes effect at the start of height {effective_height} (now {}, +{} blocks) if regulators above the quorum approve it by then\n{}\n(dry run: nothing submitted)",
                        status.height,
                        effective_height - status.height,
                        diff_human(&diff)
                    )
                });
            }
            let key = p
                .key
                .as_ref()
                .ok_or_else(|| ClientError::Args("--key FILE is needed to submit (or use --dry-run)".into()))?;
            let payload = Propose { action, effective_height };
            if !out.json {
                eprintln!("proposal {name} at height {effective_height}:\n{}", diff_human(&diff));
            }
            let builder = TxBuilder::from_node(client, keys::load(key)?)?;
            submit_fresh(
                client,
                builder,
                |b| Ok(b.build(&payload)),
                WaitArgs { no_wait: p.no_wait, wait_secs: p.wait_secs },
                out,
            )
        }
        GovCommand::Show { id } => {
            let v = client.get_json(&format!("/v1/governance/proposals/{id}"))?;
            out.emit(&v, || proposal_human(&v["proposal"]))
        }
        GovCommand::List { status, limit, offset } => {
            let mut path = format!("/v1/governance/proposals?limit={limit}&offset={offset}");
            if let Some(s) = status {
                path.push_str(&format!("&status={s}"));
            }
            let v = client.get_json(&path)?;
            out.emit(&v, || {
                let list = v["proposals"].as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    return "no proposals".into();
                }
                list.iter().map(proposal_human).collect::<Vec<_>>().join("\n\n")
            })
        }
        GovCommand::Approve(a) => {
            let builder = TxBuilder::from_node(client, keys::load(&a.key)?)?;
            let payload = Approve { id: a.id.clone() };
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
        GovCommand::Withdraw(a) => {
            let builder = TxBuilder::from_node(client, keys::load(&a.key)?)?;
            let payload = Withdraw { id: a.id.clone() };
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
    }
}

fn proposal_human(p: &Value) -> String {
    let approvals: Vec<String> = p["approvals"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default();
    format!(
        "{}\n  action: {}\n  by: {}  proposed at {}  effective at {}\n  status: {}\n  approvals ({}): {}",
        p["id"].as_str().unwrap_or("?"),
        p["action"],
        p["proposer_org"].as_str().unwrap_or("?"),
        p["proposed_height"],
        p["effective_height"],
        p["status"]["status"].as_str().unwrap_or("?"),
        approvals.len(),
        approvals.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_pairs_parse_and_bad_json_is_named() {
        let c = parse_changes(&["block.max_txs=5000".into(), r#"credit.grading.scale=["A","B"]"#.into()]).unwrap();
        assert_eq!(c[0], ParamChange { field: "block.max_txs".into(), value: "5000".into() });
        assert!(parse_changes(&["block.max_txs".into()]).unwrap_err().to_string().contains("FIELD=JSON"));
        assert!(
            parse_changes(&["credit.versions.0.window_from=decision".into()])
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

    #[test]
    fn propose_takes_its_options_after_the_action() {
        use clap::Parser;
        let c = crate::cli::Cli::try_parse_from([
            "jialing",
            "gov",
            "propose",
            "set-params",
            "--set",
            "block.max_txs=5000",
            "--after",
            "5",
            "--dry-run",
            "--no-wait",
        ])
        .unwrap();
        let crate::cli::Command::Gov(GovCommand::Propose(p)) = c.command else { panic!("not propose") };
        assert!(p.dry_run && p.no_wait);
        assert_eq!(p.after, Some(5));
        assert!(matches!(p.action, ActionArgs::SetParams { ref set } if set == &["block.max_txs=5000"]));
    }

    #[test]
    fn rotate_validator_takes_the_old_and_the_new_key() {
        use clap::Parser;
        let (old, new) = ("aa".repeat(32), "bb".repeat(32));
        let c = crate::cli::Cli::try_parse_from([
            "jialing",
            "gov",
            "propose",
            "rotate-validator",
            "--old",
            &old,
            "--new",
            &new,
            "--at",
            "120",
            "--dry-run",
        ])
        .unwrap();
        let crate::cli::Command::Gov(GovCommand::Propose(p)) = c.command else { panic!("not propose") };
        assert!(p.dry_run);
        assert_eq!(p.at, Some(120));
        assert!(matches!(p.action, ActionArgs::RotateValidator { old: ref o, new: ref n } if *o == old && *n == new));
        let missing = crate::cli::Cli::try_parse_from(["jialing", "gov", "propose", "rotate-validator", "--old", &old]);
        assert!(missing.is_err(), "--new is required");
    }

    #[test]
    fn diff_lines_name_each_field() {
        let d = prefixed(
            "params",
            &json!({"block": {"max_txs": 1, "max_bytes": 2}}),
            &json!({"block": {"max_txs": 3, "max_bytes": 2}}),
        );
        assert_eq!(diff_human(&d), "  params.block.max_txs: 1 -> 3");
    }
}
