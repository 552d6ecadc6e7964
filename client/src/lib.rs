//! # jialing-client
//!
//! The Rust SDK for a Jialing node and the `jialing` command line built on it.
//!
//! - [`sdk::Client`]: blocking HTTP client for the node API (docs/api.md).
//! - [`api`]: the API's request and response types and their decoding.
//! - [`txbuild::TxBuilder`]: signs transactions for one key with locally tracked nonces.
//! - [`keys`]: key files, member keys, roles and expiry times.
//! - [`output`]: human text or `--json`.
//! - [`report`]: signed audit reports and their verification.
//! - [`cli`]: the `jialing` commands (clap), one module per command group.
//!
//! ```no_run
//! use jialing_client::{Client, TxBuilder};
//! use jialing_contracts::membership::Revoke;
//! # fn main() -> Result<(), jialing_client::ClientError> {
//! let client = Client::new("http://127.0.0.1:8700");
//! let admin = jialing_client::keys::load("admin.json".as_ref())?;
//! let member = "aa".repeat(32).parse().map_err(|_| jialing_client::ClientError::Args("bad key".into()))?;
//! let mut b = TxBuilder::from_node(&client, admin)?;
//! let hash = client.submit(&b.build(&Revoke { member }))?;
//! let info = client.wait_committed(&hash, std::time::Duration::from_secs(30))?;
//! println!("{:?}", info.receipt);
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod cli;
pub mod error;
pub mod keys;
pub mod national;
pub mod output;
pub mod report;
pub mod sdk;
pub mod txbuild;

pub use error::ClientError;
pub use sdk::Client;
pub use txbuild::TxBuilder;
