//! The client's error type: every failure says what was wrong and what to do.

use std::path::PathBuf;

use jialing_contracts::error::ContractError;
use jialing_genesis::keyfile::KeyFileError;

/// Everything that can go wrong in the SDK or the CLI.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node could not be reached at all.
    #[error(
        "could not reach the node at {url}: {reason} (is the node running? point at it with --node URL or JIALING_NODE)"
    )]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The node answered with an API error body (`{"error": {code, message}}`).
    #[error("the node refused the request (HTTP {status}, {code}): {message}{}", hint(code))]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code from docs/api.md (`bad_nonce`, `not_member`, ...).
        code: String,
        /// The node's explanation.
        message: String,
    },
    /// The node answered with an error status but no API error body.
    #[error("the node answered HTTP {status} for {url}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The URL requested.
        url: String,
        /// The start of the body.
        body: String,
    },
    /// A response did not have the shape docs/api.md promises.
    #[error("unexpected response from the node for {what}: {reason} (is the node the same version as this client?)")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The decoder's explanation.
        reason: String,
    },
    /// A key file could not be read or written.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A file other than a key file could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A command-line argument is invalid.
    #[error("{0}")]
    Args(String),
    /// No such contract method (see `jialing tx list`).
    #[error("unknown method {contract}.{method}: run `jialing tx list` to see every method")]
    UnknownMethod {
        /// The contract named.
        contract: String,
        /// The method named.
        method: String,
    },
    /// The arguments do not fit the method's payload.
    #[error("arguments do not fit {contract}.{method}: {reason}{}", payload_hint(reason))]
    BadArgs {
        /// The contract.
        contract: String,
        /// The method.
        method: String,
        /// The decoder's explanation.
        reason: String,
    },
    /// The transaction was included in a block but refused by a contract rule.
    #[error("transaction {hash} was refused at height {height}: {message}")]
    Refused {
        /// The transaction hash.
        hash: String,
        /// The block that holds it.
        height: u64,
        /// The rule's stable code.
        code: String,
        /// What exactly was wrong.
        message: String,
    },
    /// The transaction was not committed in time.
    #[error(
        "transaction {hash} was not committed within {secs} s (last seen: {last}); check later with `jialing query tx {hash}` or raise --wait-secs"
    )]
    Timeout {
        /// The transaction hash.
        hash: String,
        /// The wait.
        secs: u64,
        /// Its last known status.
        last: String,
    },
    /// Bad usage of the dynamic `tx` command (includes `--help`, which is not a failure).
    #[error("{0}")]
    Usage(#[from] clap::Error),
    /// A proof, a block or a report did not verify.
    #[error("verification FAILED: {0}")]
    Verification(String),
}

impl ClientError {
    /// The stable code for `--json` error output.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Api { code, .. } => code,
            ClientError::Http { .. } => "http",
            ClientError::Decode { .. } => "bad_response",
            ClientError::KeyFile(_) => "key_file",
            ClientError::Io { .. } => "io",
            ClientError::Args(_) => "bad_args",
            ClientError::UnknownMethod { .. } => "unknown_method",
            ClientError::BadArgs { .. } => "bad_args",
            ClientError::Refused { code, .. } => code,
            ClientError::Timeout { .. } => "timeout",
            ClientError::Usage(_) => "usage",
            ClientError::Verification(_) => "verification_failed",
        }
    }

    /// The process exit code: 2 usage, 3 refused by a rule, 4 timed out, 5 node
    /// unreachable, 6 verification failed, 1 anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(e) => u8::try_from(e.exit_code()).unwrap_or(2),
            ClientError::Args(_) | ClientError::UnknownMethod { .. } | ClientError::BadArgs { .. } => 2,
            ClientError::Refused { .. } => 3,
            ClientError::Timeout { .. } => 4,
            ClientError::Unreachable { .. } => 5,
            ClientError::Verification(_) => 6,
            _ => 1,
        }
    }

    /// Maps a registry `from_json` error to [`ClientError::BadArgs`].
    pub fn bad_args(contract: &str, method: &str, e: ContractError) -> Self {
        let reason = match e {
            ContractError::BadPayload { reason, .. } => reason,
            other => other.to_string(),
        };
        ClientError::BadArgs { contract: contract.into(), method: method.into(), reason }
    }
}

/// A hint for API error codes whose fix is on the client side.
fn hint(code: &str) -> &'static str {
    match code {
        "not_member" => " (ask your organisation's admin to certify this key: jialing keys certify)",
        "expired" => " (ask your organisation's admin to renew the key: jialing keys certify)",
        "revoked" => " (a revoked key never signs again: generate a new one with jialing keys new)",
        "bad_nonce" => " (another transaction from this key raced this one: retry)",
        "mempool_full" => " (the node is overloaded: retry in a few seconds)",
        "too_many_pending" => {
            " (this key has the most pending transactions one key may have: wait for blocks to commit them, then send the rest)"
        }
        "nonce_too_far" => {
            " (the nonce is too far beyond this key's committed next nonce: wait for the pending ones to commit, or send the missing lower nonces first)"
        }
        "rate_limited" => " (too many requests from this address: wait the Retry-After seconds and retry)",
        "overloaded" => " (the node is busy: retry in a few seconds)",
        "timeout" => " (the request took too long: retry, or ask for less, e.g. a smaller ?limit=)",
        "body_too_large" => " (split the batch into smaller POST /v1/txs requests)",
        _ => "",
    }
}

/// A hint for payload decoding errors.
fn payload_hint(reason: &str) -> &'static str {
    if reason.contains("expected a string") {
        " (a key=value value that parses as JSON is taken as JSON: quote it to force a string, e.g. id='\"2024\"')"
    } else if reason.contains("missing field") {
        " (see the method's fields in its payload type; pass them with --args JSON or key=value)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_refusals_tell_what_to_do() {
        for code in ["too_many_pending", "nonce_too_far", "rate_limited", "overloaded", "timeout", "body_too_large"] {
            assert!(!hint(code).is_empty(), "{code} has no hint");
        }
        let e = ClientError::Api { status: 429, code: "too_many_pending".into(), message: "x".into() };
        assert!(e.to_string().contains("wait for blocks to commit them"), "{e}");
    }
}
