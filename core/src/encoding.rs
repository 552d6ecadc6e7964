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
    // Sized first (a pass that only adds up lengths), so the value is written into one
    // allocation of its exact size instead of growing through 8, 16, 32... bytes: a
    // contract's record of a dozen fields was copied five times on its way in.
    let mut out = Vec::with_capacity(borsh::object_length(value).unwrap_or(0));
    // Writing into a Vec cannot fail; borsh only errors on IO writers.
    match value.serialize(&mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// SHA-256 of a value's canonical encoding, without building the encoding: the bytes go
/// straight into the hash as they are written.
pub fn sha256_of<T: BorshSerialize + ?Sized>(value: &T) -> crate::Hash {
    use sha2::Digest;
    struct Hashing(sha2::Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(sha2::Sha256::new());
    // The writer cannot fail, so neither can serialising into it.
    let _ = value.serialize(&mut h);
    crate::Hash(h.0.finalize().into())
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
    fn encoding_is_exactly_sized_and_hashes_like_its_bytes() {
        let values: Vec<(String, Vec<u8>, u64)> =
            vec![(String::new(), vec![], 0), ("lot-1".into(), vec![7; 300], u64::MAX), ("x".repeat(5000), vec![1], 9)];
        for v in &values {
            let bytes = encode(v);
            assert_eq!(bytes.len(), bytes.capacity(), "one allocation of the exact size");
            assert_eq!(sha256_of(v), crate::hash::sha256(&bytes));
        }
        assert_eq!(sha256_of(&values), crate::hash::sha256(&encode(&values)));
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
