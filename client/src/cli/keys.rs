//! `jialing keys`: key files and membership certification.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use jialing_contracts::membership::{Certify, Revoke};
use serde_json::json;

use super::{WaitArgs, submit_fresh};
use crate::error::ClientError;
use crate::keys;
use crate::output::Output;
use crate::sdk::Client;
use crate::txbuild::TxBuilder;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new key into a file (mode 0600, never overwrites) and print its public key.
    New {
        /// Where to write the key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// A label stored in the file, for humans.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Show a key file's public key and label (checks the file).
    Show {
        /// The key file.
        file: PathBuf,
    },
    /// Certify (or renew) a member key of your organisation, signed by its admin key.
    Certify(CertifyArgs),
    /// Revoke a member key of your organisation for good, signed by its admin key.
    Revoke(RevokeArgs),
}

/// `keys certify` arguments.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("expiry").required(true).args(["expires", "days"]))]
pub struct CertifyArgs {
    /// The organisation admin's key file.
    #[arg(long, value_name = "FILE")]
    pub admin_key: PathBuf,
    /// The member's public key (64 hex digits) or key file.
    #[arg(long, value_name = "PUBKEY")]
    pub member: String,
    /// Comma-separated roles, a subset of the organisation's (e.g. producer,inspector).
    #[arg(long, value_name = "ROLES")]
    pub roles: String,
    /// Expiry in UTC, e.g. 2027-12-31T00:00:00Z.
    #[arg(long, value_name = "TIME")]
    pub expires: Option<String>,
    /// Expiry as days from now.
    #[arg(long, value_name = "N")]
    pub days: Option<u64>,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `keys revoke` arguments.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The organisation admin's key file.
    #[arg(long, value_name = "FILE")]
    pub admin_key: PathBuf,
    /// The member's public key (64 hex digits) or key file.
    #[arg(long, value_name = "PUBKEY")]
    pub member: String,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Runs a key command.
pub fn run(cmd: &KeysCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        KeysCommand::New { out: path, label } => {
            let key = keys::create(path, label)?;
            let pk = key.public();
            out.emit(&json!({"public_key": pk, "file": path, "label": label}), || {
                format!("{pk}\n(wrote {}; keep it secret, and have your admin certify it)", path.display())
            })
        }
        KeysCommand::Show { file } => {
            let f = keys::show(file)?;
            out.emit(&json!({"public_key": f.public_key, "label": f.label, "file": file}), || {
                format!("{}\nlabel: {}", f.public_key, f.label)
            })
        }
        KeysCommand::Certify(a) => {
            let payload = Certify {
                member: keys::parse_member(&a.member)?,
                roles: keys::parse_roles(&a.roles)?,
                expires_ms: keys::expiry_ms(a.expires.as_deref(), a.days)?,
            };
            let admin = keys::load(&a.admin_key)?;
            let builder = TxBuilder::from_node(client, admin)?;
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
        KeysCommand::Revoke(a) => {
            let payload = Revoke { member: keys::parse_member(&a.member)? };
            let admin = keys::load(&a.admin_key)?;
            let builder = TxBuilder::from_node(client, admin)?;
            submit_fresh(client, builder, |b| Ok(b.build(&payload)), a.wait, out)
        }
    }
}
