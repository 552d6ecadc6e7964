//! Blocks, votes, validator sets and commit certificates.
//!
//! A block header commits to its parent, height, time, the history of every earlier
//! block (an RFC 9162 tree head over their hashes, [`crate::history`]), proposer, the
//! Merkle root of its transactions, the state root after executing it, the root of its receipts and the
//! hash of the validator set that must certify it. A [`CommitCertificate`] carries the
//! precommit signatures of more than two thirds of that set's voting power; with the
//! genesis file alone a client can check a block and anything proven under it.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::crypto::{Keypair, PublicKey, Purpose, Signature, SignedDigest, verify_batch};
use crate::encoding;
use crate::error::CoreError;
use crate::hash::Hash;
use crate::merkle;
use crate::tx::{SignedTransaction, TxHash};

/// A block header. Its hash is the block's identity.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The chain id.
    pub chain_id: String,
    /// Height: 0 for the genesis block, then consecutive.
    pub height: u64,
    /// Block time, milliseconds since the Unix epoch (UTC), agreed by consensus.
    pub time_ms: u64,
    /// Hash of the previous block's header ([`Hash::ZERO`] for genesis).
    pub parent_hash: Hash,
    /// Head of the history tree of size `height` ([`crate::history`]): the RFC 9162
    /// Merkle tree over the hashes of blocks `0..height`, every block before this one
    /// (the empty-tree head for genesis).
    pub history_root: Hash,
    /// The validator that proposed the block.
    pub proposer: PublicKey,
    /// RFC 9162 Merkle root over the transactions' entry hashes
    /// ([`crate::tx::entry_hash`]: body hash and signature), in block order.
    pub tx_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
    /// Root of the state tree after executing this block.
    pub state_root: Hash,
    /// RFC 9162 Merkle root over the hashes of this block's receipts.
    pub receipts_root: Hash,
    /// Hash of the validator set that certifies this block.
    pub validator_set_hash: Hash,
}

impl BlockHeader {
    /// The block hash: SHA-256 of the canonical header encoding.
    pub fn hash(&self) -> Hash {
        encoding::sha256_of(self)
    }
}

/// A block: header and transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

/// The most transactions any block may hold, whatever the consensus parameters say: a
/// bound for decoders, which run before the parameters in force are known.
pub const MAX_BLOCK_TXS: usize = 100_000;
/// The most bytes of transactions any block may hold (sum of their encodings), likewise
/// a bound for decoders.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024 * 1024;
/// The largest encoded block (header, transactions and their length prefixes) a
/// decoder accepts.
pub const MAX_ENCODED_BLOCK: usize = MAX_BLOCK_BYTES + 64 * 1024;
/// The greatest voting power of one validator.
pub const MAX_VALIDATOR_POWER: u64 = 1 << 40;
/// The greatest total voting power of a validator set: 2^53 - 1, so sums stay exact in
/// every verifier, JavaScript's numbers included, and `3 * total` cannot overflow.
pub const MAX_TOTAL_POWER: u64 = (1 << 53) - 1;

impl Block {
    /// The Merkle root over the given entry hashes ([`crate::tx::entry_hash`], not
    /// bare transaction hashes).
    pub fn tx_root_of_entries(entries: &[Hash]) -> Hash {
        merkle::root_of_hashes(entries)
    }

    /// The `tx_root` this block's transactions give (what its header must hold).
    pub fn computed_tx_root(&self) -> Hash {
        let hashes: Vec<TxHash> = self.txs.iter().map(SignedTransaction::hash).collect();
        Block::tx_root_of_txs(&self.txs, &hashes)
    }

    /// The `tx_root` of these transactions, given their hashes.
    pub fn tx_root_of_txs(txs: &[SignedTransaction], hashes: &[TxHash]) -> Hash {
        let entries: Vec<Hash> = txs.iter().zip(hashes).map(|(t, h)| t.entry_hash(h)).collect();
        merkle::root_of_hashes(&entries)
    }
}

/// One validator: its consensus key and voting power.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Validator {
    /// The consensus (signing) key.
    pub public_key: PublicKey,
    /// Voting power (> 0).
    pub power: u64,
}

/// The validators that certify blocks, sorted by key, without duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ValidatorSet {
    /// The validators, sorted by public key.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// Builds a set, sorting by key; refuses empty sets, zero power, duplicates, a
    /// power above [`MAX_VALIDATOR_POWER`] and a total above [`MAX_TOTAL_POWER`].
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, CoreError> {
        if validators.is_empty() {
            return Err(CoreError::InvalidField { field: "validators", reason: "the validator set is empty".into() });
        }
        validators.sort();
        for w in validators.windows(2) {
            if w[0].public_key == w[1].public_key {
                return Err(CoreError::InvalidField {
                    field: "validators",
                    reason: format!("validator key {} is listed twice", w[0].public_key),
                });
            }
        }
        if let Some(v) = validators.iter().find(|v| v.power == 0) {
            return Err(CoreError::InvalidField {
                field: "validators",
                reason: format!("validator {} has zero voting power", v.public_key),
            });
        }
        if let Some(v) = validators.iter().find(|v| v.power > MAX_VALIDATOR_POWER) {
            return Err(CoreError::InvalidField {
                field: "validators",
                reason: format!(
                    "validator {} has voting power {}, above the limit {MAX_VALIDATOR_POWER}",
                    v.public_key, v.power
                ),
            });
        }
        let total = validators.iter().fold(0u128, |n, v| n + v.power as u128);
        if total > MAX_TOTAL_POWER as u128 {
            return Err(CoreError::InvalidField {
                field: "validators",
                reason: format!("total voting power {total} is above the limit {MAX_TOTAL_POWER}"),
            });
        }
        Ok(ValidatorSet { validators })
    }

    /// Checks the rules of [`ValidatorSet::new`] on a set that was decoded rather than
    /// built (sorted, distinct, powers and total within the limits).
    pub fn check(&self) -> Result<(), CoreError> {
        let rebuilt = ValidatorSet::new(self.validators.clone())?;
        if rebuilt.validators != self.validators {
            return Err(CoreError::InvalidField { field: "validators", reason: "not sorted by public key".into() });
        }
        Ok(())
    }

    /// Hash of the canonical encoding.
    pub fn hash(&self) -> Hash {
        encoding::sha256_of(self)
    }

    /// Total voting power.
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).fold(0u64, u64::saturating_add)
    }

    /// The validator with this key.
    pub fn get(&self, key: &PublicKey) -> Option<&Validator> {
        self.validators.binary_search_by(|v| v.public_key.cmp(key)).ok().map(|i| &self.validators[i])
    }

    /// Whether `power` is more than two thirds of the total.
    pub fn is_quorum(&self, power: u64) -> bool {
        (power as u128) * 3 > (self.total_power() as u128) * 2
    }
}

/// The kind of a consensus vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum VoteKind {
    /// First-round vote.
    Prevote,
    /// Commit vote.
    Precommit,
}

/// A consensus vote. Its signature covers the canonical encoding of this struct only
/// (never any vote extension), under [`Purpose::Vote`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Vote {
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// Height voted on.
    pub height: u64,
    /// Consensus round.
    pub round: u32,
    /// The block voted for, or `None` for nil.
    pub block_hash: Option<Hash>,
    /// The voter.
    pub validator: PublicKey,
}

impl Vote {
    /// The digest that is signed.
    pub fn digest(&self) -> Hash {
        encoding::sha256_of(self)
    }

    /// Signs the vote.
    pub fn sign(&self, chain_id: &str, key: &Keypair) -> Signature {
        key.sign(chain_id, Purpose::Vote, &self.digest())
    }
}

/// A precommit signature inside a certificate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitSignature {
    /// The validator that signed.
    pub validator: PublicKey,
    /// Its signature over the precommit for the certified block.
    pub signature: Signature,
}

/// Proof that a block was committed: precommits from more than two thirds of the
/// validator set's power for the block at `height` in `round`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// Height of the block.
    pub height: u64,
    /// Round in which it was decided.
    pub round: u32,
    /// Hash of the block header.
    pub block_hash: Hash,
    /// The precommit signatures.
    pub signatures: Vec<CommitSignature>,
}

impl CommitCertificate {
    /// Builds a certificate by signing precommits with the given keys (used by a
    /// single-validator node and by tests).
    pub fn sign(chain_id: &str, height: u64, round: u32, block_hash: Hash, keys: &[&Keypair]) -> Self {
        let signatures = keys
            .iter()
            .map(|k| {
                let vote = Vote {
                    kind: VoteKind::Precommit,
                    height,
                    round,
                    block_hash: Some(block_hash),
                    validator: k.public(),
                };
                CommitSignature { validator: k.public(), signature: vote.sign(chain_id, k) }
            })
            .collect();
        CommitCertificate { height, round, block_hash, signatures }
    }

    /// Checks the certificate against `header` and `set`: same height and block hash,
    /// distinct known validators, valid signatures, and more than two thirds of the
    /// power. Returns the power that signed.
    pub fn verify(&self, chain_id: &str, header: &BlockHeader, set: &ValidatorSet) -> Result<u64, CoreError> {
        let bad = |m: String| Err(CoreError::InvalidCertificate(m));
        if header.chain_id != chain_id {
            return Err(CoreError::WrongChain { expected: chain_id.into(), got: header.chain_id.clone() });
        }
        if self.height != header.height {
            return bad(format!("certificate is for height {}, block is at {}", self.height, header.height));
        }
        let hash = header.hash();
        if self.block_hash != hash {
            return bad(format!("certificate is for block {}, header hashes to {}", self.block_hash, hash));
        }
        if set.hash() != header.validator_set_hash {
            return bad(format!(
                "header names validator set {}, but the set given hashes to {}",
                header.validator_set_hash,
                set.hash()
            ));
        }
        let mut seen = BTreeSet::new();
        let mut power = 0u64;
        let mut items = Vec::with_capacity(self.signatures.len());
        for s in &self.signatures {
            let Some(v) = set.get(&s.validator) else {
                return bad(format!("signer {} is not in the validator set", s.validator));
            };
            if !seen.insert(s.validator) {
                return bad(format!("validator {} signed twice", s.validator));
            }
            power = power.saturating_add(v.power);
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: self.height,
                round: self.round,
                block_hash: Some(hash),
                validator: s.validator,
            };
            items.push(SignedDigest {
                signer: s.validator,
                purpose: Purpose::Vote,
                digest: vote.digest(),
                signature: s.signature,
            });
        }
        if !set.is_quorum(power) {
            return bad(format!(
                "signers hold {power} of {} voting power, more than two thirds is needed",
                set.total_power()
            ));
        }
        if verify_batch(chain_id, &items).is_err() {
            for it in &items {
                if it.signer.verify(chain_id, Purpose::Vote, &it.digest, &it.signature).is_err() {
                    return bad(format!("precommit signature of validator {} does not verify", it.signer));
                }
            }
        }
        Ok(power)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Keypair> {
        (0..n).map(|i| Keypair::from_label(&format!("val{i}"))).collect()
    }

    fn setup(n: usize) -> (Vec<Keypair>, ValidatorSet, BlockHeader) {
        let ks = keys(n);
        let set =
            ValidatorSet::new(ks.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap();
        let header = BlockHeader {
            chain_id: "c".into(),
            height: 5,
            time_ms: 1_700_000_000_000,
            parent_hash: Hash::ZERO,
            history_root: merkle::empty_root(),
            proposer: ks[0].public(),
            tx_root: merkle::empty_root(),
            tx_count: 0,
            state_root: Hash::ZERO,
            receipts_root: merkle::empty_root(),
            validator_set_hash: set.hash(),
        };
        (ks, set, header)
    }

    #[test]
    fn quorum_certificate_verifies() {
        let (ks, set, h) = setup(4);
        let c = CommitCertificate::sign("c", 5, 0, h.hash(), &[&ks[0], &ks[1], &ks[2]]);
        assert_eq!(c.verify("c", &h, &set).unwrap(), 3);
    }

    #[test]
    fn two_of_four_is_not_a_quorum() {
        let (ks, set, h) = setup(4);
        let c = CommitCertificate::sign("c", 5, 0, h.hash(), &[&ks[0], &ks[1]]);
        let err = c.verify("c", &h, &set).unwrap_err().to_string();
        assert!(err.contains("more than two thirds"), "{err}");
    }

    #[test]
    fn duplicate_outsider_and_forged_signers_are_caught() {
        let (ks, set, h) = setup(4);
        let mut c = CommitCertificate::sign("c", 5, 0, h.hash(), &[&ks[0], &ks[1], &ks[2]]);
        c.signatures[2] = c.signatures[1].clone();
        assert!(c.verify("c", &h, &set).unwrap_err().to_string().contains("signed twice"));
        let outsider = Keypair::from_label("outsider");
        let c = CommitCertificate::sign("c", 5, 0, h.hash(), &[&ks[0], &ks[1], &outsider]);
        assert!(c.verify("c", &h, &set).unwrap_err().to_string().contains("not in the validator set"));
        let mut c = CommitCertificate::sign("c", 5, 0, h.hash(), &[&ks[0], &ks[1], &ks[2]]);
        c.signatures[1].signature.0[3] ^= 1;
        assert!(c.verify("c", &h, &set).unwrap_err().to_string().contains("does not verify"));
    }

    #[test]
    fn certificate_for_another_block_or_height_fails() {
        let (ks, set, h) = setup(4);
        let mut other = h.clone();
        other.tx_count = 1;
        let c = CommitCertificate::sign("c", 5, 0, other.hash(), &[&ks[0], &ks[1], &ks[2]]);
        assert!(c.verify("c", &h, &set).is_err());
        let c = CommitCertificate::sign("c", 6, 0, h.hash(), &[&ks[0], &ks[1], &ks[2]]);
        assert!(c.verify("c", &h, &set).is_err());
    }

    #[test]
    fn validator_set_rules() {
        let k = Keypair::from_label("x").public();
        assert!(ValidatorSet::new(vec![]).is_err());
        assert!(
            ValidatorSet::new(vec![Validator { public_key: k, power: 1 }, Validator { public_key: k, power: 2 }])
                .is_err()
        );
        assert!(ValidatorSet::new(vec![Validator { public_key: k, power: 0 }]).is_err());
        assert!(ValidatorSet::new(vec![Validator { public_key: k, power: MAX_VALIDATOR_POWER + 1 }]).is_err());
        ValidatorSet::new(vec![Validator { public_key: k, power: MAX_VALIDATOR_POWER }]).unwrap();
    }

    #[test]
    fn total_power_is_capped_so_sums_never_saturate() {
        // Before the cap, u64::MAX / 2 + 2 validators saturated the total and a single
        // validator's precommit counted as a quorum's worth of "more than two thirds".
        let many: Vec<Validator> = (0..9000)
            .map(|i| Validator {
                public_key: Keypair::from_label(&format!("p{i}")).public(),
                power: MAX_VALIDATOR_POWER,
            })
            .collect();
        let err = ValidatorSet::new(many).unwrap_err().to_string();
        assert!(err.contains("total voting power"), "{err}");
        let huge = ValidatorSet {
            validators: vec![Validator { public_key: Keypair::from_label("h").public(), power: u64::MAX }],
        };
        assert!(huge.check().is_err(), "a decoded set is checked by the same rules");
    }

    #[test]
    fn header_frozen_hash() {
        // Changing this hash means the header format changed: every stored block breaks
        // (it last changed when headers gained `history_root`).
        let (_, _, h) = setup(4);
        assert_eq!(h.hash().to_hex(), "f0e58b826065a9d96cc7f8c602eb5ea83a52b643117f9dfbda4809d14a909011");
    }
}
