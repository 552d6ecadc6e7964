//! Canonical binary encoding.
//!
//! Every value that is hashed, signed, sent over the wire or stored is encoded with
//! borsh: one encoding per value, specified and deterministic. Decoding untrusted bytes
//! goes through [`decode`], which bounds the input size and refuses trailing bytes, so
//! two different byte strings never decode to the same value.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::CoreError;

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail; borsh only errors on IO writers.
    let mut out = Vec::new();
    match value.serialize(&mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// Decodes a value from untrusted bytes: at most `limit` bytes, no trailing bytes.
pub fn decode_limited<T: BorshDeserialize>(what: &'static str, bytes: &[u8], limit: usize) -> Result<T, CoreError> {
    if bytes.len() > limit {
        return Err(CoreError::TooLarge { what, size: bytes.len(), limit });
    }
    let mut slice = bytes;
    let value = T::deserialize(&mut slice).map_err(|e| CoreError::Decode { what, reason: e.to_string() })?;
    if !slice.is_empty() {
        return Err(CoreError::Decode { what, reason: format!("{} trailing bytes after the value", slice.len()) });
    }
    Ok(value)
}

/// The default bound for [`decode`]: 16 MiB.
pub const DEFAULT_DECODE_LIMIT: usize = 16 * 1024 * 1024;

/// Decodes a value from untrusted bytes with the default size bound.
pub fn decode<T: BorshDeserialize>(what: &'static str, bytes: &[u8]) -> Result<T, CoreError> {
    decode_limited(what, bytes, DEFAULT_DECODE_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&7u64);
        bytes.push(0);
        let err = decode::<u64>("u64", &bytes).unwrap_err();
        assert!(err.to_string().contains("1 trailing bytes"), "{err}");
    }

    #[test]
    fn oversized_input_is_refused() {
        let err = decode_limited::<Vec<u8>>("blob", &[0u8; 10], 9).unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { size: 10, limit: 9, .. }));
    }

    #[test]
    fn truncated_input_is_refused() {
        let bytes = encode(&String::from("hello"));
        assert!(decode::<String>("s", &bytes[..bytes.len() - 1]).is_err());
    }
}
