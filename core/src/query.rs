//! Signed query requests: how a member proves who is asking for a restricted view.
//!
//! The signer signs, under [`crate::Purpose::QueryRequest`] and the chain id, the
//! digest of `"{METHOD} {target}\n{time_ms}\n{audience}\n{nonce}"` ([`request_digest`]):
//! `target` is the path with its query string, `audience` the node's query identity
//! (its node key, or its validator key, or its member listener; `/status` says which
//! as `query_audience`), and `nonce` a fresh random hex string. The node checks the
//! signature, that the time is within its window, that the audience is itself, that
//! the signature was not seen before in the window (replay cache), and that the
//! signer may see what it asks for.

use crate::crypto::{Keypair, Purpose};
use crate::hash::{Hash, sha256};

/// The digest a query request's signature covers.
pub fn request_digest(method: &str, target: &str, time_ms: u64, audience: &str, nonce: &str) -> Hash {
    sha256(format!("{method} {target}\n{time_ms}\n{audience}\n{nonce}").as_bytes())
}

/// Whether `nonce` is acceptable: 16 to 64 lowercase hex digits (64 to 256 bits).
pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The headers `(name, value)` of a query request `method target` signed by `key` for
/// the node `audience` of chain `chain_id` at `time_ms` with `nonce`.
pub fn signed_headers(
    key: &Keypair,
    chain_id: &str,
    method: &str,
    target: &str,
    time_ms: u64,
    audience: &str,
    nonce: &str,
) -> [(&'static str, String); 4] {
    let sig = key.sign(chain_id, Purpose::QueryRequest, &request_digest(method, target, time_ms, audience, nonce));
    [
        (HEADER_KEY, key.public().to_hex()),
        (HEADER_TIME, time_ms.to_string()),
        (HEADER_NONCE, nonce.to_string()),
        (HEADER_SIGNATURE, sig.to_hex()),
    ]
}

/// Header carrying the signer's public key (hex).
pub const HEADER_KEY: &str = "x-jialing-key";
/// Header carrying the request time (ms since the Unix epoch).
pub const HEADER_TIME: &str = "x-jialing-time";
/// Header carrying the signature (hex).
pub const HEADER_SIGNATURE: &str = "x-jialing-signature";
/// Header carrying the request's nonce (16 to 64 lowercase hex digits).
pub const HEADER_NONCE: &str = "x-jialing-nonce";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_binds_path_time_audience_and_nonce() {
        let d = request_digest("GET", "/v1/x?a=1", 5, "node", "00112233445566778");
        assert_ne!(d, request_digest("GET", "/v1/x?a=2", 5, "node", "00112233445566778"));
        assert_ne!(d, request_digest("GET", "/v1/x?a=1", 6, "node", "00112233445566778"));
        assert_ne!(d, request_digest("GET", "/v1/x?a=1", 5, "other", "00112233445566778"));
        assert_ne!(d, request_digest("GET", "/v1/x?a=1", 5, "node", "00112233445566779"));
        assert!(nonce_ok("0123456789abcdef") && !nonce_ok("0123456789ABCDEF") && !nonce_ok("0123"));
    }
}
