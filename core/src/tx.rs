//! Transactions.
//!
//! A [`Transaction`] names the chain, its signer's key, a nonce (the signer's next
//! sequence number: replay protection), the contract and method it calls, and the
//! method's borsh payload. Its hash is SHA-256 of its canonical encoding; the signature
//! covers that hash under [`Purpose::Transaction`]. On the wire and in the store a
//! [`SignedTransaction`] is `borsh(tx) || signature`, so the hash of received bytes is
//! computed from the bytes themselves, without re-encoding.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

use crate::crypto::{Keypair, PublicKey, Purpose, Signature, SignedDigest};
use crate::encoding;
use crate::error::CoreError;
use crate::hash::{Hash, sha256};

/// A transaction's identifier: SHA-256 of the canonical encoding of its body.
pub type TxHash = Hash;

/// The largest encoded signed transaction accepted anywhere: 64 KiB.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// The longest contract or method name.
pub const MAX_NAME_LEN: usize = 64;
/// The longest chain id.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// A block's `tx_root` commits to the exact signed bytes of each transaction: its leaf
/// is `SHA-256(tx hash || signature)`, so two blocks with the same header cannot carry
/// the same bodies under different signatures. A proof of inclusion carries the
/// signature next to the transaction hash to recompute it.
pub fn entry_hash(hash: &TxHash, signature: &Signature) -> Hash {
    crate::hash::sha256_parts(&[&hash.0, &signature.0])
}

/// An unsigned transaction body.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Transaction {
    /// The chain this transaction is for.
    pub chain_id: String,
    /// The signer's public key.
    pub signer: PublicKey,
    /// The signer's sequence number: must equal the next nonce the ledger expects.
    pub nonce: u64,
    /// The contract called (`trace`, `membership`, ...).
    pub contract: String,
    /// The method called.
    pub method: String,
    /// The method's arguments, borsh-encoded.
    #[serde(with = "hex_bytes")]
    pub payload: Vec<u8>,
}

impl Transaction {
    /// The transaction hash.
    pub fn hash(&self) -> TxHash {
        encoding::sha256_of(self)
    }

    /// Signs the transaction.
    pub fn sign(self, key: &Keypair) -> SignedTransaction {
        let signature = key.sign(&self.chain_id, Purpose::Transaction, &self.hash());
        SignedTransaction { tx: self, signature }
    }

    /// Checks the shape rules that do not need ledger state.
    pub fn check_shape(&self) -> Result<(), CoreError> {
        check_name("chain_id", &self.chain_id, MAX_CHAIN_ID_LEN)?;
        check_name("contract", &self.contract, MAX_NAME_LEN)?;
        check_name("method", &self.method, MAX_NAME_LEN)?;
        Ok(())
    }
}

fn check_name(field: &'static str, value: &str, max: usize) -> Result<(), CoreError> {
    if value.is_empty() || value.len() > max {
        return Err(CoreError::InvalidField {
            field,
            reason: format!("must be 1 to {max} bytes, got {}", value.len()),
        });
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        return Err(CoreError::InvalidField {
            field,
            reason: format!("{value:?} may only contain ASCII letters, digits, '_', '-' and '.'"),
        });
    }
    Ok(())
}

/// A transaction with its signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct SignedTransaction {
    /// The body.
    pub tx: Transaction,
    /// The signer's signature over the body hash.
    pub signature: Signature,
}

impl SignedTransaction {
    /// The transaction hash (of the body).
    pub fn hash(&self) -> TxHash {
        self.tx.hash()
    }

    /// Canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Length of the canonical encoding, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        let t = &self.tx;
        (4 + t.chain_id.len()) + 32 + 8 + (4 + t.contract.len()) + (4 + t.method.len()) + (4 + t.payload.len()) + 64
    }

    /// The leaf this transaction contributes to its block's `tx_root`: it commits to
    /// the signature as well as the body (see [`entry_hash`]).
    pub fn entry_hash(&self, hash: &TxHash) -> Hash {
        entry_hash(hash, &self.signature)
    }

    /// Decodes untrusted bytes, checks size and shape, and returns the transaction with
    /// its hash (computed from the received bytes). Does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<(SignedTransaction, TxHash), CoreError> {
        let stx: SignedTransaction = encoding::decode_limited("transaction", bytes, MAX_TX_BYTES)?;
        stx.tx.check_shape()?;
        // borsh is bijective for these types, so the body is exactly the bytes before the
        // trailing 64-byte signature.
        let hash = sha256(&bytes[..bytes.len() - 64]);
        Ok((stx, hash))
    }

    /// Verifies the signature against the signer's key, for `chain_id`.
    pub fn verify(&self, chain_id: &str, hash: &TxHash) -> Result<(), CoreError> {
        if self.tx.chain_id != chain_id {
            return Err(CoreError::WrongChain { expected: chain_id.into(), got: self.tx.chain_id.clone() });
        }
        self.tx.signer.verify(chain_id, Purpose::Transaction, hash, &self.signature)
    }

    /// The item to feed to [`crate::crypto::verify_batch`].
    pub fn signed_digest(&self, hash: TxHash) -> SignedDigest {
        SignedDigest { signer: self.tx.signer, purpose: Purpose::Transaction, digest: hash, signature: self.signature }
    }
}

/// Serde helper: byte vectors as hex strings.
pub mod hex_bytes {
    /// Serialises bytes as hex.
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }
    /// Deserialises bytes from hex.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str> as serde::Deserialize<'de>>::deserialize(d)?;
        hex::decode(s.as_ref()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Transaction {
        Transaction {
            chain_id: "jialing-test".into(),
            signer: Keypair::from_label("alice").public(),
            nonce: 7,
            contract: "trace".into(),
            method: "create_lot".into(),
            payload: vec![1, 2, 3],
        }
    }

    #[test]
    fn decode_hash_matches_body_hash_and_signature_verifies() {
        let key = Keypair::from_label("alice");
        let stx = sample().sign(&key);
        let bytes = stx.to_bytes();
        let (back, hash) = SignedTransaction::decode(&bytes).unwrap();
        assert_eq!(back, stx);
        assert_eq!(hash, stx.hash());
        back.verify("jialing-test", &hash).unwrap();
    }

    #[test]
    fn frozen_bytes_fixture() {
        // If this test fails, the wire and storage format of transactions has changed:
        // that is a breaking change for every node and every stored block.
        let bytes = encoding::encode(&sample());
        assert_eq!(
            hex::encode(&bytes),
            concat!(
                "0c0000006a69616c696e672d74657374",
                "c27aec410bee36518ceac3a51e670280e7fec6cfec2181c26b4e4157d0f94ec3",
                "0700000000000000",
                "050000007472616365",
                "0a0000006372656174655f6c6f74",
                "03000000010203"
            )
        );
    }

    #[test]
    fn frozen_entry_hash_and_encoded_len() {
        // The leaf of `tx_root`: SHA-256(tx hash || signature). Ed25519 signatures are
        // deterministic, so this is fixed; the consumer page computes the same bytes.
        let stx = sample().sign(&Keypair::from_label("alice"));
        let h = stx.hash();
        assert_eq!(stx.entry_hash(&h), crate::hash::sha256(&[&h.0[..], &stx.signature.0[..]].concat()));
        assert_eq!(stx.entry_hash(&h).to_hex(), "1cd694a03e03aa73f86dfc48c6bbb1d44a0d0788f598bbe43c0dba56efbef75a");
        assert_eq!(stx.encoded_len(), stx.to_bytes().len());
        let mut other = stx.clone();
        other.signature.0[0] ^= 1;
        assert_ne!(other.entry_hash(&h), stx.entry_hash(&h), "the leaf commits to the signature");
    }

    #[test]
    fn wrong_chain_and_tampering_are_caught() {
        let key = Keypair::from_label("alice");
        let stx = sample().sign(&key);
        let h = stx.hash();
        assert!(matches!(stx.verify("other", &h), Err(CoreError::WrongChain { .. })));
        let mut bad = stx.clone();
        bad.tx.nonce = 8;
        let h2 = bad.hash();
        assert!(matches!(bad.verify("jialing-test", &h2), Err(CoreError::BadSignature { .. })));
    }

    #[test]
    fn bad_shape_is_refused() {
        let key = Keypair::from_label("alice");
        let mut tx = sample();
        tx.method = "drop table".into();
        let err = SignedTransaction::decode(&tx.sign(&key).to_bytes()).unwrap_err();
        assert!(err.to_string().contains("method"), "{err}");
    }

    #[test]
    fn oversized_is_refused() {
        let key = Keypair::from_label("alice");
        let mut tx = sample();
        tx.payload = vec![0; MAX_TX_BYTES];
        let err = SignedTransaction::decode(&tx.sign(&key).to_bytes()).unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { .. }));
    }

    proptest! {
        #[test]
        fn round_trip(nonce in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512), method in "[a-z_]{1,20}") {
            let key = Keypair::from_label("p");
            let mut tx = sample();
            tx.nonce = nonce; tx.payload = payload; tx.method = method;
            let stx = tx.sign(&key);
            let (back, hash) = SignedTransaction::decode(&stx.to_bytes()).unwrap();
            prop_assert_eq!(&back, &stx);
            prop_assert_eq!(hash, stx.hash());
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = SignedTransaction::decode(&bytes);
        }
    }
}
