//! A chain's identity that a verifier does not take from the node it asks.
//!
//! The chain is named by a short *fingerprint*: the first [`FINGERPRINT_BYTES`] bytes of
//! the genesis block's hash, in hex. The traceability code carries it, so a phone that
//! scans a lot knows which chain it should see before it asks any node. A
//! [`PinnedHistory`] then proves, from the fingerprint alone, the validator set in
//! force at every height: the genesis header (whose hash starts with the fingerprint)
//! names the genesis set, and each later change is the certified block that wrote the
//! new set, signed by the set in force before it, with a state proof of the
//! `validators` key under that block's state root. A node that serves a set of its own
//! has no certificate from the real set and fails.

use serde::{Deserialize, Serialize};

use crate::block::{BlockHeader, ValidatorSet};
use crate::error::CoreError;
use crate::hash::Hash;
use crate::proof::{TrustedSets, ValidatorChange};

/// Bytes of the genesis hash in a fingerprint (96 bits: finding another genesis
/// header with the same prefix takes about 2^96 hashes).
pub const FINGERPRINT_BYTES: usize = 12;

/// The state key holding the validator set in force for the next block.
pub const VALIDATORS_KEY: &[u8] = b"validators";

/// The fingerprint of a chain: the first [`FINGERPRINT_BYTES`] bytes of its genesis
/// block hash, lowercase hex.
pub fn fingerprint(genesis_hash: &Hash) -> String {
    hex::encode(&genesis_hash.0[..FINGERPRINT_BYTES])
}

/// The validator sets of a chain from genesis on, provable from its fingerprint: the
/// genesis header and set, then every certified change ([`ValidatorChange`], as `jialing
/// audit replay` writes them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedHistory {
    /// The genesis header (height 0, not certified: its hash is the identity).
    #[serde(with = "genesis_header")]
    pub genesis: BlockHeader,
    /// The set the genesis header names.
    pub genesis_validators: ValidatorSet,
    /// The changes since genesis, in height order.
    pub changes: Vec<ValidatorChange>,
}

impl PinnedHistory {
    /// Checks the history against `fingerprint_hex` (as the traceability code carries
    /// it) and returns the chain id and the proven sets.
    pub fn verify(&self, fingerprint_hex: &str) -> Result<(String, TrustedSets), CoreError> {
        let bad = |m: String| Err(CoreError::InvalidProof(m));
        let g = &self.genesis;
        if g.height != 0 {
            return bad(format!("the genesis header is at height {}, not 0", g.height));
        }
        let fp = fingerprint(&g.hash());
        if fingerprint_hex.len() != 2 * FINGERPRINT_BYTES || !fp.eq_ignore_ascii_case(fingerprint_hex) {
            return bad(format!(
                "the genesis header hashes to fingerprint {fp}, not the chain's {fingerprint_hex}: another chain"
            ));
        }
        self.genesis_validators.check()?;
        if self.genesis_validators.hash() != g.validator_set_hash {
            return bad("the genesis validator set is not the one the genesis header names".into());
        }
        let mut sets = TrustedSets::from_genesis(self.genesis_validators.clone());
        for c in &self.changes {
            sets.apply(&g.chain_id, c, VALIDATORS_KEY)?;
        }
        Ok((g.chain_id.clone(), sets))
    }
}

/// Serde of the genesis header, whose proposer is all zeros: a key no signer may use
/// (small order), so [`crate::PublicKey`]'s checked deserializer refuses it. Here the
/// proposer is read as 32 raw bytes; the header's hash is still checked against the
/// fingerprint.
pub mod genesis_header {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::block::BlockHeader;
    use crate::crypto::PublicKey;
    use crate::hash::Hash;

    #[derive(Deserialize)]
    struct Raw {
        chain_id: String,
        height: u64,
        time_ms: u64,
        parent_hash: Hash,
        history_root: Hash,
        proposer: String,
        tx_root: Hash,
        tx_count: u32,
        state_root: Hash,
        receipts_root: Hash,
        validator_set_hash: Hash,
    }

    /// Serializes as any header.
    pub fn serialize<S: Serializer>(h: &BlockHeader, s: S) -> Result<S::Ok, S::Error> {
        h.serialize(s)
    }

    /// Deserializes a header without the proposer key check.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BlockHeader, D::Error> {
        let r = Raw::deserialize(d)?;
        let proposer: [u8; 32] = hex::decode(&r.proposer)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("proposer is not 64 hex digits"))?;
        Ok(BlockHeader {
            chain_id: r.chain_id,
            height: r.height,
            time_ms: r.time_ms,
            parent_hash: r.parent_hash,
            history_root: r.history_root,
            proposer: PublicKey(proposer),
            tx_root: r.tx_root,
            tx_count: r.tx_count,
            state_root: r.state_root,
            receipts_root: r.receipts_root,
            validator_set_hash: r.validator_set_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::block::{CommitCertificate, Validator};
    use crate::crypto::Keypair;
    use crate::proof::CertifiedHeader;
    use crate::state_tree::StateTree;
    use std::collections::BTreeMap;

    fn set(keys: &[&Keypair]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap()
    }

    fn header(h: u64, state_root: Hash, vs: &ValidatorSet, parent: Hash) -> BlockHeader {
        BlockHeader {
            chain_id: "c".into(),
            height: h,
            time_ms: 1000 + h,
            parent_hash: parent,
            history_root: crate::merkle::empty_root(),
            proposer: if h == 0 { crate::PublicKey([0; 32]) } else { Keypair::from_label("proposer").public() },
            tx_root: crate::merkle::empty_root(),
            tx_count: 0,
            state_root,
            receipts_root: crate::merkle::empty_root(),
            validator_set_hash: vs.hash(),
        }
    }

    /// A genesis with set A and one change at height 3 to set B (certified by A).
    fn history(signers: &[&Keypair]) -> (PinnedHistory, Vec<Keypair>) {
        let ks: Vec<Keypair> = (0..6).map(|i| Keypair::from_label(&format!("ch/{i}"))).collect();
        let a = set(&[&ks[0], &ks[1], &ks[2]]);
        let b = set(&[&ks[3], &ks[4], &ks[5]]);
        let mut w = BTreeMap::new();
        w.insert(VALIDATORS_KEY.to_vec(), Some(crate::encoding::encode(&a)));
        let t0 = StateTree::new().apply(&w);
        let genesis = header(0, t0.root(), &a, Hash::ZERO);
        w.insert(VALIDATORS_KEY.to_vec(), Some(crate::encoding::encode(&b)));
        w.insert(b"other".to_vec(), Some(b"x".to_vec()));
        let t3 = t0.apply(&w);
        let h3 = header(3, t3.root(), &a, Hash([7; 32]));
        let certificate = CommitCertificate::sign("c", 3, 0, h3.hash(), signers);
        let change = ValidatorChange {
            block: CertifiedHeader { header: h3, certificate },
            validators: b,
            proof: t3.prove(VALIDATORS_KEY),
        };
        (PinnedHistory { genesis_validators: a, genesis, changes: vec![change] }, ks)
    }

    #[test]
    fn history_from_fingerprint_proves_each_set() {
        let ks: Vec<Keypair> = (0..6).map(|i| Keypair::from_label(&format!("ch/{i}"))).collect();
        let (h, _) = history(&[&ks[0], &ks[1], &ks[2]]);
        let fp = fingerprint(&h.genesis.hash());
        assert_eq!(fp.len(), 24);
        let (chain, sets) = h.verify(&fp).unwrap();
        assert_eq!(chain, "c");
        assert_eq!(sets.set_for(1), &h.genesis_validators);
        assert_eq!(sets.set_for(3), &h.genesis_validators);
        assert_eq!(sets.set_for(4), &h.changes[0].validators);
        assert_eq!(sets.set_for(999), &h.changes[0].validators);
        assert!(h.verify(&fp.to_uppercase()).is_ok());
        // The genesis proposer is all zeros (not a usable key): JSON still round-trips.
        let back: PinnedHistory = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn another_genesis_or_a_forged_set_fails() {
        let ks: Vec<Keypair> = (0..6).map(|i| Keypair::from_label(&format!("ch/{i}"))).collect();
        let (h, _) = history(&[&ks[0], &ks[1], &ks[2]]);
        let fp = fingerprint(&h.genesis.hash());
        // Wrong fingerprint (another chain), or a shortened one.
        assert!(h.verify(&"00".repeat(FINGERPRINT_BYTES)).is_err());
        assert!(h.verify(&fp[..16]).is_err());
        // A node that swaps the genesis set for its own.
        let mut forged = h.clone();
        let mallory = Keypair::from_label("mallory");
        forged.genesis_validators = set(&[&mallory]);
        assert!(forged.verify(&fp).is_err());
        // ... and also rewrites the genesis header: another fingerprint.
        forged.genesis.validator_set_hash = forged.genesis_validators.hash();
        assert!(forged.verify(&fp).is_err());
        // A change certified by keys outside the set in force.
        let (h2, _) = history(&[&ks[3], &ks[4], &ks[5]]);
        assert!(h2.verify(&fingerprint(&h2.genesis.hash())).is_err());
        // A change whose proven set is not the one claimed.
        let mut h3 = h.clone();
        h3.changes[0].validators = set(&[&mallory]);
        assert!(h3.verify(&fp).is_err());
    }
}
