//! Dataset digests anyone can recompute: the RFC 9162 Merkle tree head (the tree of
//! `jialing_core::merkle`) over the dataset cut into fixed-size chunks of
//! [`CHUNK_BYTES`] (the last chunk may be shorter; an empty dataset has the empty tree's
//! root). A provider registers this root as the product's version hash; a buyer
//! recomputes it on what it received (`jialing data digest FILE`), and an inclusion
//! proof of one chunk lets a buyer check part of a dataset against the registered root
//! without the rest.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::merkle::{InclusionProof, inclusion_proof, leaf_hash, root_from_leaf_hashes};
use jialing_core::{CoreError, Hash};
use serde::{Deserialize, Serialize};

/// Size of every chunk but the last, bytes (1 MiB). Fixed: changing it changes every
/// digest.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Computes a dataset digest from bytes fed in any pieces (streaming: holds at most one
/// chunk and one hash per chunk).
#[derive(Clone, Debug, Default)]
pub struct DigestBuilder {
    leaves: Vec<Hash>,
    pending: Vec<u8>,
    size: u64,
}

/// A computed dataset digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetDigest {
    /// The Merkle root: the value registered as the version hash.
    pub root: Hash,
    /// Dataset size, bytes.
    pub size_bytes: u64,
    /// Leaf hashes (`leaf_hash` of each chunk), in order.
    pub chunk_hashes: Vec<Hash>,
}

/// One chunk's place in a dataset: its index and the inclusion proof against the root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChunkProof {
    /// Chunk size used, bytes (must be [`CHUNK_BYTES`]).
    pub chunk_bytes: u64,
    /// The inclusion proof (leaf index, tree size, path).
    pub proof: InclusionProof,
}

impl DigestBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        DigestBuilder { leaves: Vec::new(), pending: Vec::with_capacity(CHUNK_BYTES), size: 0 }
    }

    /// Feeds the next bytes of the dataset.
    pub fn update(&mut self, mut data: &[u8]) {
        self.size = self.size.saturating_add(data.len() as u64);
        while !data.is_empty() {
            let take = (CHUNK_BYTES - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK_BYTES {
                self.leaves.push(leaf_hash(&self.pending));
                self.pending.clear();
            }
        }
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of everything fed.
    pub fn finish(mut self) -> DatasetDigest {
        if !self.pending.is_empty() {
            self.leaves.push(leaf_hash(&self.pending));
        }
        DatasetDigest { root: root_from_leaf_hashes(&self.leaves), size_bytes: self.size, chunk_hashes: self.leaves }
    }
}

/// The digest of a dataset held in memory.
pub fn digest(data: &[u8]) -> DatasetDigest {
    let mut b = DigestBuilder::new();
    b.update(data);
    b.finish()
}

impl DatasetDigest {
    /// The proof that chunk `index` belongs to this dataset.
    pub fn chunk_proof(&self, index: u64) -> Result<ChunkProof, CoreError> {
        let i =
            usize::try_from(index).map_err(|_| CoreError::InvalidProof(format!("chunk {index} is out of range")))?;
        Ok(ChunkProof { chunk_bytes: CHUNK_BYTES as u64, proof: inclusion_proof(&self.chunk_hashes, i)? })
    }
}

impl ChunkProof {
    /// Checks that `chunk` is chunk `proof.leaf_index` of the dataset whose digest is
    /// `root`.
    pub fn verify(&self, chunk: &[u8], root: &Hash) -> Result<(), CoreError> {
        if self.chunk_bytes != CHUNK_BYTES as u64 {
            return Err(CoreError::InvalidProof(format!(
                "the proof uses {}-byte chunks; Jialing digests use {CHUNK_BYTES}",
                self.chunk_bytes
            )));
        }
        let last = self.proof.leaf_index.saturating_add(1) == self.proof.tree_size;
        if chunk.is_empty() || chunk.len() > CHUNK_BYTES || (!last && chunk.len() != CHUNK_BYTES) {
            return Err(CoreError::InvalidProof(format!(
                "chunk {} has {} bytes; every chunk but the last has exactly {CHUNK_BYTES}",
                self.proof.leaf_index,
                chunk.len()
            )));
        }
        self.proof.verify(&leaf_hash(chunk), root).map_err(|e| {
            CoreError::InvalidProof(format!("chunk {} is not part of dataset {root}: {e}", self.proof.leaf_index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_dataset_has_the_empty_tree_root() {
        assert_eq!(digest(b"").root, jialing_core::merkle::empty_root());
        assert_eq!(digest(b"").chunk_hashes.len(), 0);
    }

    #[test]
    fn a_one_chunk_dataset_is_its_leaf_hash() {
        assert_eq!(digest(b"abc").root, leaf_hash(b"abc"));
    }

    #[test]
    fn chunks_are_fixed_size() {
        let data = vec![7u8; 2 * CHUNK_BYTES + 5];
        let d = digest(&data);
        assert_eq!(d.chunk_hashes.len(), 3);
        let leaves = [
            leaf_hash(&data[..CHUNK_BYTES]),
            leaf_hash(&data[CHUNK_BYTES..2 * CHUNK_BYTES]),
            leaf_hash(&data[2 * CHUNK_BYTES..]),
        ];
        assert_eq!(d.root, root_from_leaf_hashes(&leaves));
    }

    #[test]
    fn a_chunk_proof_checks_one_chunk_and_refuses_a_changed_one() {
        let data: Vec<u8> = (0..3 * CHUNK_BYTES + 10).map(|i| (i % 251) as u8).collect();
        let d = digest(&data);
        let p = d.chunk_proof(1).unwrap();
        let chunk = &data[CHUNK_BYTES..2 * CHUNK_BYTES];
        p.verify(chunk, &d.root).unwrap();
        let mut bad = chunk.to_vec();
        bad[0] ^= 1;
        assert!(p.verify(&bad, &d.root).is_err());
        assert!(p.verify(&chunk[..10], &d.root).is_err());
        d.chunk_proof(3).unwrap().verify(&data[3 * CHUNK_BYTES..], &d.root).unwrap();
        assert!(d.chunk_proof(4).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Feeding the same bytes in any pieces gives the same digest.
        #[test]
        fn streaming_in_any_pieces_gives_the_same_root(len in 0usize..(CHUNK_BYTES * 2 + 100), cuts in proptest::collection::vec(0usize..(CHUNK_BYTES * 3), 0..6)) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            let whole = digest(&data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
            cuts.sort_unstable();
            let mut b = DigestBuilder::new();
            let mut at = 0;
            for c in cuts {
                b.update(&data[at..c]);
                at = c;
            }
            b.update(&data[at..]);
            prop_assert_eq!(b.finish(), whole);
        }
    }
}
