//! Errors of contract execution.
//!
//! [`AdmissionError`]: the transaction may not enter a block at all (not a member, wrong
//! nonce); a block containing one is invalid. [`ContractError`]: the transaction is
//! included but refused; its receipt carries the error's code and message, and it
//! changes nothing but its signer's nonce.

use jialing_core::{PublicKey, Role};

/// Why a transaction cannot be included in a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The transaction names another chain.
    #[error("transaction is for chain {got:?}, this ledger is {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The transaction's chain id.
        got: String,
    },
    /// The signer's key is not certified by any organisation.
    #[error(
        "signer {0} is not a member of the consortium: ask your organisation's admin to certify the key (jialing keys certify)"
    )]
    UnknownSigner(PublicKey),
    /// The signer's certification has expired.
    #[error(
        "signer {key}'s certification expired at {expired_ms} ms (block time {now_ms} ms): ask your admin to renew it"
    )]
    Expired {
        /// The key.
        key: PublicKey,
        /// When it expired.
        expired_ms: u64,
        /// Block time.
        now_ms: u64,
    },
    /// The signer's key was revoked.
    #[error("signer {0}'s key was revoked")]
    Revoked(PublicKey),
    /// The signer's organisation is no longer a member.
    #[error("signer {key}'s organisation {org} is not an active member")]
    OrgInactive {
        /// The key.
        key: PublicKey,
        /// The organisation.
        org: String,
    },
    /// The nonce is not the next one.
    #[error("wrong nonce for {key}: expected {expected}, got {got}{hint}")]
    BadNonce {
        /// The key.
        key: PublicKey,
        /// The next nonce the ledger expects.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
        /// A hint (replay or gap).
        hint: &'static str,
    },
    /// The same transaction is already in this block.
    #[error("transaction {0} appears twice")]
    Duplicate(String),
    /// Committed state could not be read.
    #[error("state read failed: {0}")]
    Storage(String),
}

/// Why an included transaction was refused. The receipt holds [`ContractError::code`]
/// and the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// No such contract or method.
    #[error("unknown method {contract}.{method}")]
    UnknownMethod {
        /// The contract named.
        contract: String,
        /// The method named.
        method: String,
    },
    /// The payload does not decode as the method's arguments.
    #[error("malformed payload for {method}: {reason}")]
    BadPayload {
        /// The method.
        method: String,
        /// The decoder's explanation.
        reason: String,
    },
    /// The signer lacks every role the method allows.
    #[error("{method} needs one of the roles [{needed}], the signer's key has [{have}]")]
    WrongRole {
        /// The method.
        method: String,
        /// Roles that may call it.
        needed: String,
        /// Roles the signer has.
        have: String,
    },
    /// A referenced object does not exist.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// The kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// An object to be created already exists.
    #[error("{what} {id:?} already exists")]
    AlreadyExists {
        /// The kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// An argument is invalid on its own.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The argument.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A rule of the contract refused the transaction.
    #[error("{rule}: {detail}")]
    Rule {
        /// The rule's stable name (for example `trace.custodian_only`).
        rule: &'static str,
        /// What exactly was wrong.
        detail: String,
    },
    /// An event of an EPCIS capture (`trace.epcis_capture`) was refused, so the whole
    /// capture is (all or nothing): which event, and why.
    #[error("EPCIS capture refused at event {index} ({hash_id}): {error}")]
    CaptureEvent {
        /// The event's position in the document's event list.
        index: u32,
        /// Its CBV 2.0 event hash ID (`ni:///sha-256;...?ver=CBV2.0`).
        hash_id: String,
        /// Why it was refused: the same error the separate call would give.
        error: Box<ContractError>,
    },
    /// Committed state could not be read.
    #[error("state read failed: {0}")]
    Storage(String),
    /// A stored value did not decode (corrupt state).
    #[error("corrupt state at {key}: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// The decoder's explanation.
        reason: String,
    },
}

impl ContractError {
    /// A stable machine-readable code for receipts and clients.
    pub fn code(&self) -> String {
        match self {
            ContractError::UnknownMethod { .. } => "unknown_method".into(),
            ContractError::BadPayload { .. } => "bad_payload".into(),
            ContractError::WrongRole { .. } => "wrong_role".into(),
            ContractError::NotFound { .. } => "not_found".into(),
            ContractError::AlreadyExists { .. } => "already_exists".into(),
            ContractError::InvalidArgument { .. } => "invalid_argument".into(),
            ContractError::Rule { rule, .. } => (*rule).into(),
            ContractError::CaptureEvent { error, .. } => error.code(),
            ContractError::Storage(_) => "storage".into(),
            ContractError::Corrupt { .. } => "corrupt_state".into(),
        }
    }

    /// The event index and hash ID that a refused capture's receipt message names (the
    /// text of [`ContractError::CaptureEvent`]), if it names one.
    pub fn capture_event_of(message: &str) -> Option<(u32, String)> {
        let rest = message.strip_prefix("EPCIS capture refused at event ")?;
        let (index, rest) = rest.split_once(" (")?;
        let (id, _) = rest.split_once("): ")?;
        Some((index.parse().ok()?, id.to_string()))
    }

    /// Shorthand for a rule refusal.
    pub fn rule(rule: &'static str, detail: impl Into<String>) -> Self {
        ContractError::Rule { rule, detail: detail.into() }
    }
}

/// Formats roles as a comma-separated list.
pub fn role_list(roles: &[Role]) -> String {
    roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
}
