//! `jialing query`: read-only lookups.

use clap::Subcommand;
use jialing_core::{Hash, PublicKey};

use crate::api::BlockRef;
use crate::error::ClientError;
use crate::output::{self, Output};
use crate::sdk::Client;

/// Query commands.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// A block by height, or `latest`.
    Block {
        /// Height or `latest`.
        at: BlockRef,
    },
    /// A transaction and its receipt.
    Tx {
        /// The transaction hash (64 hex digits).
        hash: Hash,
    },
    /// A produce lot and its history.
    Lot {
        /// The lot id.
        id: String,
    },
    /// An organisation and its history.
    Org {
        /// Its Unified Social Credit Code.
        uscc: String,
        /// At most this many history entries.
        #[arg(long)]
        limit: Option<u64>,
        /// History from this height on.
        #[arg(long)]
        from_height: Option<u64>,
    },
    /// The contract methods the node knows (compare with `jialing tx list`).
    Methods,
    /// A credit subject's records: those in publication, or with `--full` every record
    /// (authorities and auditors; the request is signed and the node logs it).
    Credit {
        /// The subject: a USCC or a 64-hex salted person hash.
        subject: String,
        /// Every record, including repaired and expired ones (restricted).
        #[arg(long, requires = "key")]
        full: bool,
        /// Key file to sign the restricted request with.
        #[arg(long)]
        key: Option<std::path::PathBuf>,
    },
    /// Every data trade and licence a company is party to (restricted: the exchange,
    /// the data regulator, auditors or the company itself; signed; logged by the node).
    Licences {
        /// The company's USCC.
        uscc: String,
        /// Key file to sign the request with.
        #[arg(long)]
        key: std::path::PathBuf,
    },
    /// A key's next nonce (committed and counting the mempool).
    Nonce {
        /// The public key (64 hex digits).
        key: PublicKey,
    },
}

/// Runs a query.
pub fn run(cmd: &QueryCommand, client: &Client, out: Output) -> Result<(), ClientError> {
    match cmd {
        QueryCommand::Block { at } => {
            let b = client.block(*at)?;
            out.emit(&b, || output::block_human(&b))
        }
        QueryCommand::Tx { hash } => {
            let t = client.tx(hash)?;
            out.emit(&t, || output::tx_human(&t))
        }
        QueryCommand::Lot { id } => {
            let l = client.lot(id)?;
            out.emit(&l, || format!("lot {id}\n{}\n{}", output::pretty(&l.lot), output::history_human(&l.history)))
        }
        QueryCommand::Org { uscc, limit, from_height } => {
            let o = client.org_page(uscc, *limit, *from_height)?;
            out.emit(&o, || {
                format!("organisation {uscc}\n{}\n{}", output::pretty(&o.org), output::history_human(&o.history))
            })
        }
        QueryCommand::Methods => {
            let ms = client.methods()?;
            out.emit(&ms, || {
                ms.iter()
                    .map(|m| format!("{}.{}  [{}]  {}", m.contract, m.method, m.roles.join(","), m.summary))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        QueryCommand::Credit { subject, full, key } => {
            let v = match (full, key) {
                (true, Some(path)) => {
                    let k = crate::keys::load(path)?;
                    client.credit_full(subject, &k)?
                }
                _ => client.credit(subject)?,
            };
            out.emit(&v, || format!("credit {subject}\n{}", output::pretty(&v)))
        }
        QueryCommand::Licences { uscc, key } => {
            let k = crate::keys::load(key)?;
            let v: serde_json::Value = client.signed_get(&format!("/v1/data/licences/{uscc}/full"), &k)?;
            out.emit(&v, || format!("licences of {uscc}\n{}", output::pretty(&v)))
        }
        QueryCommand::Nonce { key } => {
            let n = client.nonce(key)?;
            out.emit(&n, || format!("next nonce {} (committed: {})", n.pending_next_nonce, n.committed_next_nonce))
        }
    }
}
