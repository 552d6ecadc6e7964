//! Signed query requests: how a member proves who is asking for a restricted view.
//!
//! The signer signs, under [`crate::Purpose::QueryRequest`] and the chain id, the
//! digest of `"{METHOD} {path}\n{time_ms}"`. The node checks the signature, that the
//! time is within its replay window, and that the signer may see the view.

use crate::hash::{Hash, sha256};

/// The digest a query request's signature covers.
pub fn request_digest(method: &str, path: &str, time_ms: u64) -> Hash {
    sha256(format!("{method} {path}\n{time_ms}").as_bytes())
}

/// Header carrying the signer's public key (hex).
pub const HEADER_KEY: &str = "x-jialing-key";
/// Header carrying the request time (ms since the Unix epoch).
pub const HEADER_TIME: &str = "x-jialing-time";
/// Header carrying the signature (hex).
pub const HEADER_SIGNATURE: &str = "x-jialing-signature";
