//! Proofs a node hands to someone who trusts no node: a transaction's inclusion in a
//! certified block, a state value (or its absence) under a certified state root, and
//! that the ledger at one height extends the ledger at a lower one.
//!
//! Modelled on Certificate Transparency (RFC 9162 inclusion proofs) and the CometBFT
//! light client (a header is believed when more than two thirds of a trusted validator
//! set's power signed it). Everything here is pure: the verifier brings the trusted
//! validator set (from the genesis file, or from an earlier verified proof).

use serde::{Deserialize, Serialize};

use crate::block::{BlockHeader, CommitCertificate, ValidatorSet};
use crate::error::CoreError;
use crate::hash::Hash;
use crate::history::HistoryLink;
use crate::merkle::{self, InclusionProof};
use crate::state_tree::StateProof;
use crate::tx::TxHash;

/// A block header with the certificate that commits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedHeader {
    /// The header.
    pub header: BlockHeader,
    /// Precommits of more than two thirds of the validators.
    pub certificate: CommitCertificate,
}

/// What a verified header establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedHeader {
    /// Height.
    pub height: u64,
    /// Block hash.
    pub block_hash: Hash,
    /// Block time (ms).
    pub time_ms: u64,
    /// Number of validators that signed.
    pub signers: usize,
    /// Number of validators in the set.
    pub validators: usize,
    /// Voting power that signed.
    pub signed_power: u64,
    /// Total voting power.
    pub total_power: u64,
}

impl CertifiedHeader {
    /// Checks the certificate against `trusted` (the validator set in force at this
    /// height, which the header must name).
    pub fn verify(&self, chain_id: &str, trusted: &ValidatorSet) -> Result<VerifiedHeader, CoreError> {
        let power = self.certificate.verify(chain_id, &self.header, trusted)?;
        Ok(VerifiedHeader {
            height: self.header.height,
            block_hash: self.header.hash(),
            time_ms: self.header.time_ms,
            signers: self.certificate.signatures.len(),
            validators: trusted.validators.len(),
            signed_power: power,
            total_power: trusted.total_power(),
        })
    }
}

/// A transaction's inclusion in a certified block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxProof {
    /// The transaction hash (SHA-256 of its signed body).
    pub tx_hash: TxHash,
    /// The transaction's signature: the leaf is its entry hash
    /// ([`crate::tx::entry_hash`] of hash and signature).
    pub signature: crate::crypto::Signature,
    /// RFC 9162 path from the transaction's leaf to the header's `tx_root`.
    pub inclusion: InclusionProof,
    /// The block.
    pub block: CertifiedHeader,
    /// The transaction's receipt with its path to the header's `receipts_root`: what
    /// the execution did (applied or refused, and why). Absent in older proofs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptProof>,
}

/// A receipt's inclusion in a certified block's `receipts_root`, at the same position
/// as its transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProof {
    /// The receipt's canonical encoding (it starts with the transaction hash).
    #[serde(with = "crate::tx::hex_bytes")]
    pub bytes: Vec<u8>,
    /// RFC 9162 path from the leaf of `SHA-256(bytes)` to `receipts_root`.
    pub inclusion: InclusionProof,
}

/// A state value (or its absence) under a certified block's state root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateValueProof {
    /// The state key.
    #[serde(with = "crate::tx::hex_bytes")]
    pub key: Vec<u8>,
    /// Its value (canonical encoding), or `None` for absent.
    #[serde(with = "opt_hex")]
    pub value: Option<Vec<u8>>,
    /// The sparse Merkle path.
    pub proof: StateProof,
    /// The block whose `state_root` the path ends in.
    pub block: CertifiedHeader,
}

/// That the chain at `to` extends the chain at `from`, in `O(log n)` hashes: the header
/// at `from`, the certified header at `to`, the inclusion proof of block `from`'s hash
/// in the history tree of size `to` (which header `to` commits to) and the consistency
/// proof between the history trees of sizes `from` and `to` (the roots in the two
/// headers). See [`crate::history`] for the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The header at the lower height (the genesis header's proposer is the zero key,
    /// read without the key check).
    #[serde(with = "crate::chain_identity::genesis_header")]
    pub from: BlockHeader,
    /// The certified header at the upper height.
    pub to: CertifiedHeader,
    /// The two Merkle proofs.
    #[serde(flatten)]
    pub history: HistoryLink,
}

/// Any proof, tagged by kind (the JSON the API serves and `jialing verify` reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// Transaction inclusion.
    Tx(TxProof),
    /// State value.
    State(StateValueProof),
    /// Chain extension.
    Consistency(ConsistencyProof),
}

/// What a verified proof establishes, for printing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verified {
    /// The transaction is in the block.
    Tx {
        /// Transaction.
        tx_hash: TxHash,
        /// Position in the block.
        index: u64,
        /// The certified block.
        block: VerifiedHeader,
        /// The receipt's canonical bytes, when the proof carried a receipt and it
        /// checked out under the block's `receipts_root`.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex")]
        receipt: Option<Vec<u8>>,
    },
    /// The key holds the value (or is absent) in the block's state.
    State {
        /// Key (UTF-8 lossy, for display).
        key: String,
        /// Whether the key is present.
        present: bool,
        /// SHA-256 of the value, when present.
        value_hash: Option<Hash>,
        /// The certified block.
        block: VerifiedHeader,
    },
    /// The chain at `to` extends the chain at `from`.
    Consistency {
        /// Lower height.
        from_height: u64,
        /// Block hash at the lower height.
        from_hash: Hash,
        /// The certified upper block.
        to: VerifiedHeader,
    },
}

impl Proof {
    /// Verifies the proof against the validator set trusted for its block.
    pub fn verify(&self, chain_id: &str, trusted: &ValidatorSet) -> Result<Verified, CoreError> {
        match self {
            Proof::Tx(p) => {
                let block = p.block.verify(chain_id, trusted)?;
                if p.inclusion.tree_size != p.block.header.tx_count as u64 {
                    return Err(CoreError::InvalidProof(format!(
                        "inclusion proof is for a tree of {} transactions, the block has {}",
                        p.inclusion.tree_size, p.block.header.tx_count
                    )));
                }
                p.inclusion
                    .verify(
                        &merkle::leaf_hash(&crate::tx::entry_hash(&p.tx_hash, &p.signature).0),
                        &p.block.header.tx_root,
                    )
                    .map_err(|e| {
                        CoreError::InvalidProof(format!(
                            "transaction {} is not in block {}: {e}",
                            p.tx_hash, block.height
                        ))
                    })?;
                let receipt = match &p.receipt {
                    None => None,
                    Some(r) => {
                        let bad = |m: String| {
                            CoreError::InvalidProof(format!(
                                "receipt of transaction {} in block {}: {m}",
                                p.tx_hash, block.height
                            ))
                        };
                        if r.bytes.get(..32) != Some(&p.tx_hash.0[..]) {
                            return Err(bad("it is the receipt of another transaction".into()));
                        }
                        if r.inclusion.leaf_index != p.inclusion.leaf_index
                            || r.inclusion.tree_size != p.inclusion.tree_size
                        {
                            return Err(bad(format!(
                                "it is at position {} of {}, the transaction at {} of {}",
                                r.inclusion.leaf_index,
                                r.inclusion.tree_size,
                                p.inclusion.leaf_index,
                                p.inclusion.tree_size
                            )));
                        }
                        let leaf = merkle::leaf_hash(&crate::sha256(&r.bytes).0);
                        r.inclusion.verify(&leaf, &p.block.header.receipts_root).map_err(|e| bad(e.to_string()))?;
                        Some(r.bytes.clone())
                    }
                };
                Ok(Verified::Tx { tx_hash: p.tx_hash, index: p.inclusion.leaf_index, block, receipt })
            }
            Proof::State(p) => {
                let block = p.block.verify(chain_id, trusted)?;
                p.proof.verify(&p.block.header.state_root, &p.key, p.value.as_deref()).map_err(|e| {
                    CoreError::InvalidProof(format!(
                        "state key {:?} under the state root of block {}: {e}",
                        String::from_utf8_lossy(&p.key),
                        block.height
                    ))
                })?;
                Ok(Verified::State {
                    key: String::from_utf8_lossy(&p.key).into_owned(),
                    present: p.value.is_some(),
                    value_hash: p.value.as_deref().map(crate::hash::sha256),
                    block,
                })
            }
            Proof::Consistency(p) => {
                let to = p.to.verify(chain_id, trusted)?;
                if p.from.chain_id != chain_id {
                    return Err(CoreError::WrongChain { expected: chain_id.into(), got: p.from.chain_id.clone() });
                }
                let from_hash = p.from.hash();
                p.history.verify(
                    p.from.height,
                    &from_hash,
                    &p.from.history_root,
                    to.height,
                    &p.to.header.history_root,
                )?;
                Ok(Verified::Consistency { from_height: p.from.height, from_hash, to })
            }
        }
    }
}

/// One certified validator-set change: the block whose execution wrote the new set,
/// its certificate (by the set in force at that height), the new set and a state proof
/// of it under the block's `state_root`. The new set certifies blocks from the next
/// height, as the node reads the set for the next block from committed state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorChange {
    /// The block that changed the set.
    pub block: CertifiedHeader,
    /// The new set.
    pub validators: ValidatorSet,
    /// Proof of the validator-set key holding `validators` under `block`'s state root.
    pub proof: StateProof,
}

/// Every validator-set change since genesis, oldest first (what `jialing audit replay
/// --validator-history-out` writes and `jialing verify --validator-history` reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorHistory {
    /// The chain id.
    pub chain_id: String,
    /// The changes.
    pub changes: Vec<ValidatorChange>,
}

/// The validator sets a verifier trusts, each from the first height it certifies: the
/// genesis set from height 1, then each certified change (CometBFT-style light client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedSets {
    sets: Vec<(u64, ValidatorSet)>,
}

impl TrustedSets {
    /// Trust rooted in the genesis validator set.
    pub fn from_genesis(set: ValidatorSet) -> Self {
        TrustedSets { sets: vec![(1, set)] }
    }

    /// The set certifying blocks at `height`.
    pub fn set_for(&self, height: u64) -> &ValidatorSet {
        let i = self.sets.partition_point(|(from, _)| *from <= height);
        &self.sets[i.saturating_sub(1)].1
    }

    /// Applies a change after checking its certificate against the set in force at its
    /// height and its state proof under `validators_key`; changes must be in order.
    pub fn apply(&mut self, chain_id: &str, change: &ValidatorChange, validators_key: &[u8]) -> Result<(), CoreError> {
        let h = change.block.header.height;
        let last_from = self.sets.last().map_or(1, |(f, _)| *f);
        if h == 0 || h < last_from {
            return Err(CoreError::InvalidProof(format!(
                "validator change at height {h} is out of order (the last change applies from {last_from})"
            )));
        }
        change.block.verify(chain_id, self.set_for(h))?;
        let value = crate::encoding::encode(&change.validators);
        change.proof.verify(&change.block.header.state_root, validators_key, Some(&value)).map_err(|e| {
            CoreError::InvalidProof(format!(
                "the validator set after block {h} is not the one its state commits to: {e}"
            ))
        })?;
        self.sets.push((h + 1, change.validators.clone()));
        Ok(())
    }

    /// Applies every change of `history`.
    pub fn apply_history(&mut self, chain_id: &str, history: &ValidatorHistory, key: &[u8]) -> Result<(), CoreError> {
        if history.chain_id != chain_id {
            return Err(CoreError::InvalidProof(format!(
                "validator history is for chain {:?}, not {chain_id:?}",
                history.chain_id
            )));
        }
        history.changes.iter().try_for_each(|c| self.apply(chain_id, c, key))
    }
}

impl Proof {
    /// The height of the block whose certificate the proof rests on.
    pub fn height(&self) -> u64 {
        match self {
            Proof::Tx(p) => p.block.header.height,
            Proof::State(p) => p.block.header.height,
            Proof::Consistency(p) => p.to.header.height,
        }
    }

    /// Verifies against the set `trusted` holds for the proof's block.
    pub fn verify_trusted(&self, chain_id: &str, trusted: &TrustedSets) -> Result<Verified, CoreError> {
        self.verify(chain_id, trusted.set_for(self.height()))
    }
}

mod opt_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let o: Option<String> = Option::deserialize(d)?;
        o.map(|s| hex::decode(s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, Validator};
    use crate::crypto::Keypair;
    use crate::state_tree::StateTree;

    fn set(keys: &[Keypair]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap()
    }

    fn header(
        height: u64,
        parent: Hash,
        tx_root: Hash,
        tx_count: u32,
        state_root: Hash,
        set: &ValidatorSet,
    ) -> BlockHeader {
        BlockHeader {
            chain_id: "c".into(),
            height,
            time_ms: 1000 + height,
            parent_hash: parent,
            history_root: merkle::empty_root(),
            proposer: crate::PublicKey([1; 32]),
            tx_root,
            tx_count,
            state_root,
            receipts_root: merkle::empty_root(),
            validator_set_hash: set.hash(),
        }
    }

    fn certify(h: &BlockHeader, keys: &[Keypair]) -> CommitCertificate {
        let refs: Vec<&Keypair> = keys.iter().collect();
        CommitCertificate::sign("c", h.height, 0, h.hash(), &refs)
    }

    #[test]
    fn a_receipt_proof_ties_the_outcome_to_the_transaction() {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("v{i}"))).collect();
        let vs = set(&keys);
        let txs: Vec<Hash> = (0..5u8).map(|i| crate::hash::sha256(&[i])).collect();
        let sigs: Vec<crate::crypto::Signature> = (0..5u8).map(|i| crate::crypto::Signature([i; 64])).collect();
        let entries: Vec<Hash> = txs.iter().zip(&sigs).map(|(t, s)| crate::tx::entry_hash(t, s)).collect();
        // Receipts start with their transaction's hash; the rest is opaque to core.
        let receipts: Vec<Vec<u8>> = txs.iter().map(|t| [&t.0[..], b"ok"].concat()).collect();
        let r_hashes: Vec<Hash> = receipts.iter().map(|r| crate::hash::sha256(r)).collect();
        let mut h = header(1, Hash::ZERO, Block::tx_root_of_entries(&entries), 5, Hash::ZERO, &vs);
        h.receipts_root = merkle::root_of_hashes(&r_hashes);
        let block = CertifiedHeader { header: h.clone(), certificate: certify(&h, &keys[..3]) };
        let leaves: Vec<Hash> = entries.iter().map(|t| merkle::leaf_hash(&t.0)).collect();
        let r_leaves: Vec<Hash> = r_hashes.iter().map(|t| merkle::leaf_hash(&t.0)).collect();
        let proof = |tx: usize, rc: usize| {
            Proof::Tx(TxProof {
                tx_hash: txs[tx],
                signature: sigs[tx],
                inclusion: merkle::inclusion_proof(&leaves, tx).unwrap(),
                block: block.clone(),
                receipt: Some(ReceiptProof {
                    bytes: receipts[rc].clone(),
                    inclusion: merkle::inclusion_proof(&r_leaves, rc).unwrap(),
                }),
            })
        };
        match proof(2, 2).verify("c", &vs).unwrap() {
            Verified::Tx { receipt: Some(r), .. } => assert_eq!(r, receipts[2]),
            other => panic!("{other:?}"),
        }
        let e = proof(2, 3).verify("c", &vs).unwrap_err().to_string();
        assert!(e.contains("receipt of another transaction"), "{e}");
        // A receipt with a changed outcome is not under the root.
        let mut lie = proof(2, 2);
        if let Proof::Tx(p) = &mut lie
            && let Some(r) = p.receipt.as_mut()
        {
            r.bytes.truncate(32);
            r.bytes.extend_from_slice(b"no");
        }
        assert!(lie.verify("c", &vs).unwrap_err().to_string().contains("receipt of transaction"));
    }

    #[test]
    fn tx_state_and_consistency_proofs_verify_and_tampering_is_named() {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("v{i}"))).collect();
        let vs = set(&keys);
        let txs: Vec<Hash> = (0..5u8).map(|i| crate::hash::sha256(&[i])).collect();
        let sigs: Vec<crate::crypto::Signature> = (0..5u8).map(|i| crate::crypto::Signature([i; 64])).collect();
        let entries: Vec<Hash> = txs.iter().zip(&sigs).map(|(t, s)| crate::tx::entry_hash(t, s)).collect();
        let mut tree = StateTree::new();
        let mut w = std::collections::BTreeMap::new();
        w.insert(b"lot/A".to_vec(), Some(b"recalled".to_vec()));
        tree = tree.apply(&w);
        let h1 = header(1, Hash::ZERO, Block::tx_root_of_entries(&entries), 5, tree.root(), &vs);
        let c1 = certify(&h1, &keys[..3]);
        let block = CertifiedHeader { header: h1.clone(), certificate: c1.clone() };

        let leaves: Vec<Hash> = entries.iter().map(|t| merkle::leaf_hash(&t.0)).collect();
        let tx = Proof::Tx(TxProof {
            tx_hash: txs[3],
            signature: sigs[3],
            inclusion: merkle::inclusion_proof(&leaves, 3).unwrap(),
            block: block.clone(),
            receipt: None,
        });
        assert!(matches!(tx.verify("c", &vs).unwrap(), Verified::Tx { index: 3, .. }));
        // The leaf commits to the signature: another signature is not in the block.
        let mut other_sig = tx.clone();
        if let Proof::Tx(p) = &mut other_sig {
            p.signature.0[0] ^= 1;
        }
        assert!(other_sig.verify("c", &vs).unwrap_err().to_string().contains("is not in block"));
        // Round trip through JSON, as the API serves it.
        let back: Proof = serde_json::from_str(&serde_json::to_string(&tx).unwrap()).unwrap();
        assert_eq!(back, tx);

        // A forged transaction hash fails on the Merkle path.
        let mut forged = tx.clone();
        if let Proof::Tx(p) = &mut forged {
            p.tx_hash = txs[4];
        }
        assert!(forged.verify("c", &vs).unwrap_err().to_string().contains("is not in block 1"));
        // A flipped byte in the header breaks the certificate.
        let mut flipped = tx.clone();
        if let Proof::Tx(p) = &mut flipped {
            p.block.header.time_ms ^= 1;
        }
        assert!(flipped.verify("c", &vs).unwrap_err().to_string().contains("certificate"));
        // A wrong signature is named.
        let mut badsig = tx.clone();
        if let Proof::Tx(p) = &mut badsig {
            p.block.certificate.signatures[0].signature.0[0] ^= 1;
        }
        assert!(badsig.verify("c", &vs).is_err());
        // Too few signers: no quorum.
        let mut weak = tx.clone();
        if let Proof::Tx(p) = &mut weak {
            p.block.certificate.signatures.truncate(2);
        }
        assert!(weak.verify("c", &vs).unwrap_err().to_string().contains("two thirds"));
        // Another validator set (not the trusted one) is refused.
        let other = set(&(0..4).map(|i| Keypair::from_label(&format!("x{i}"))).collect::<Vec<_>>());
        assert!(tx.verify("c", &other).is_err());

        // State: present value verifies; a different value does not; absence verifies.
        let st = Proof::State(StateValueProof {
            key: b"lot/A".to_vec(),
            value: Some(b"recalled".to_vec()),
            proof: tree.prove(b"lot/A"),
            block: block.clone(),
        });
        assert!(matches!(st.verify("c", &vs).unwrap(), Verified::State { present: true, .. }));
        let mut lie = st.clone();
        if let Proof::State(p) = &mut lie {
            p.value = Some(b"ok".to_vec());
        }
        assert!(lie.verify("c", &vs).is_err());
        let absent = Proof::State(StateValueProof {
            key: b"lot/B".to_vec(),
            value: None,
            proof: tree.prove(b"lot/B"),
            block: block.clone(),
        });
        assert!(matches!(absent.verify("c", &vs).unwrap(), Verified::State { present: false, .. }));

        // Consistency: 1 -> 3, and from genesis.
        let hs = chain((0..6).map(|h| header(h, Hash::ZERO, merkle::empty_root(), 0, tree.root(), &vs)).collect());
        let cons = consistency(&hs, 1, 3, &keys);
        assert!(matches!(cons.verify("c", &vs).unwrap(), Verified::Consistency { from_height: 1, .. }));
        let back: Proof = serde_json::from_str(&serde_json::to_string(&cons).unwrap()).unwrap();
        assert_eq!(back, cons);
        consistency(&hs, 0, 5, &keys).verify("c", &vs).unwrap();
        consistency(&hs, 4, 5, &keys).verify("c", &vs).unwrap();
        // Another block at `from` (a fork) is not in the certified history.
        let mut fork = cons.clone();
        if let Proof::Consistency(p) = &mut fork {
            p.from.time_ms += 1;
        }
        assert!(fork.verify("c", &vs).unwrap_err().to_string().contains("not in the history certified at 3"));
        // A `from` header whose history root was rewritten does not extend.
        let mut rewritten = cons.clone();
        if let Proof::Consistency(p) = &mut rewritten {
            p.from.history_root = hs[2].history_root;
        }
        assert!(rewritten.verify("c", &vs).is_err());
        // Proofs for other heights than the headers' are refused.
        let mut shifted = consistency(&hs, 2, 5, &keys);
        if let (Proof::Consistency(p), Proof::Consistency(q)) = (&mut shifted, &cons) {
            p.history = q.history.clone();
        }
        assert!(shifted.verify("c", &vs).unwrap_err().to_string().contains("leaf 1 of 3"));
        // `from` must be below `to`.
        let mut same = cons.clone();
        if let Proof::Consistency(p) = &mut same {
            p.from = p.to.header.clone();
        }
        assert!(same.verify("c", &vs).is_err());
    }

    /// Links headers `0..n` by parent hash and history root, in order.
    fn chain(mut headers: Vec<BlockHeader>) -> Vec<BlockHeader> {
        let mut f = crate::history::Frontier::new();
        let mut parent = Hash::ZERO;
        for h in &mut headers {
            h.parent_hash = parent;
            h.history_root = f.root();
            parent = h.hash();
            f.append(&parent);
        }
        headers
    }

    /// The consistency proof from `from` to `to` over `chain`, certified by `keys`.
    fn consistency(chain: &[BlockHeader], from: usize, to: usize, keys: &[Keypair]) -> Proof {
        let leaves: Vec<Hash> = chain[..to].iter().map(|h| merkle::leaf_hash(&h.hash().0)).collect();
        Proof::Consistency(ConsistencyProof {
            from: chain[from].clone(),
            to: CertifiedHeader { header: chain[to].clone(), certificate: certify(&chain[to], keys) },
            history: HistoryLink {
                inclusion: merkle::inclusion_proof(&leaves, from).unwrap(),
                consistency: (from > 0).then(|| merkle::consistency_proof(&leaves, from).unwrap()),
            },
        })
    }

    #[test]
    fn validator_set_changes_are_followed_only_when_certified() {
        let old: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("v{i}"))).collect();
        let new: Vec<Keypair> = (0..4).map(|i| Keypair::from_label(&format!("w{i}"))).collect();
        let (s1, s2) = (set(&old), set(&new));
        let key = b"gov/validators";
        let mut w = std::collections::BTreeMap::new();
        w.insert(key.to_vec(), Some(crate::encoding::encode(&s2)));
        let tree = StateTree::new().apply(&w);
        // Block 2 (certified by the old set) writes the new set; block 3 is certified by it.
        let h2 = header(2, Hash::ZERO, merkle::empty_root(), 0, tree.root(), &s1);
        let change = ValidatorChange {
            block: CertifiedHeader { header: h2.clone(), certificate: certify(&h2, &old) },
            validators: s2.clone(),
            proof: tree.prove(key),
        };
        let hs = chain(vec![
            header(0, Hash::ZERO, merkle::empty_root(), 0, tree.root(), &s1),
            header(1, Hash::ZERO, merkle::empty_root(), 0, tree.root(), &s1),
            h2.clone(),
            header(3, Hash::ZERO, merkle::empty_root(), 0, tree.root(), &s2),
        ]);
        let p3 = consistency(&hs, 2, 3, &new);
        let mut trusted = TrustedSets::from_genesis(s1.clone());
        // Without the history: refused, naming the validator set.
        assert!(p3.verify_trusted("c", &trusted).unwrap_err().to_string().contains("validator set"));
        let history = ValidatorHistory { chain_id: "c".into(), changes: vec![change.clone()] };
        trusted.apply_history("c", &history, key).unwrap();
        assert!(p3.verify_trusted("c", &trusted).is_ok());
        assert_eq!(trusted.set_for(2), &s1);
        // A change certified by the wrong set, or with a set its state does not hold: refused.
        let mut forged = change.clone();
        forged.block.certificate = certify(&h2, &new);
        assert!(TrustedSets::from_genesis(s1.clone()).apply("c", &forged, key).is_err());
        let mut lying = change;
        lying.validators = set(&old[..3]);
        assert!(
            TrustedSets::from_genesis(s1).apply("c", &lying, key).unwrap_err().to_string().contains("state commits")
        );
    }
}
