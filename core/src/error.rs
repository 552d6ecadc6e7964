//! The error type of the core crate.

use crate::hash::Hash;

/// Everything that can go wrong in pure core operations: decoding untrusted bytes,
/// checking signatures, certificates and proofs, parsing identifiers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// Bytes could not be decoded as the expected type.
    #[error("malformed {what}: {reason}")]
    Decode {
        /// The type being decoded.
        what: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// An input exceeded a size limit.
    #[error("{what} is too large: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A field violated a format rule.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Hex text could not be parsed.
    #[error("invalid hex for {what}: {reason}")]
    Hex {
        /// What was being parsed.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A public key is not a valid ed25519 point.
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// A signature did not verify.
    #[error("bad signature by {signer} on {purpose}")]
    BadSignature {
        /// Who was supposed to have signed.
        signer: String,
        /// What the signature was for.
        purpose: &'static str,
    },
    /// At least one signature in a batch did not verify.
    #[error("batch signature verification failed")]
    BadBatch,
    /// A message was signed for another chain.
    #[error("wrong chain id: expected {expected}, got {got}")]
    WrongChain {
        /// The chain this node or verifier serves.
        expected: String,
        /// The chain id in the message.
        got: String,
    },
    /// A commit certificate does not prove a commit.
    #[error("invalid commit certificate: {0}")]
    InvalidCertificate(String),
    /// A Merkle proof does not match.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
    /// A hash differed from the one expected.
    #[error("{what} mismatch: expected {expected}, got {got}")]
    HashMismatch {
        /// What was compared.
        what: &'static str,
        /// The expected hash.
        expected: Hash,
        /// The hash found.
        got: Hash,
    },
}
