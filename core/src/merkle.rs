//! Merkle trees in the style of RFC 9162 (Certificate Transparency v2), section 2.1.
//!
//! Leaves are hashed as `SHA-256(0x00 || data)` and interior nodes as
//! `SHA-256(0x01 || left || right)`; the tree of `n` leaves splits at the largest power
//! of two smaller than `n`. Inclusion proofs are `O(log n)` sibling hashes;
//! consistency proofs show that the tree of the first `m` leaves is a prefix of the
//! tree of `n` leaves. Blocks use this tree over their transaction hashes and receipt
//! hashes; the ledger's history uses it over block hashes.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::hash::{Hash, sha256, sha256_parts};

/// The hash of a leaf with data `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256_parts(&[&[0x00], data])
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_parts(&[&[0x01], &left.0, &right.0])
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(b"")
}

fn split(n: usize) -> usize {
    // Largest power of two strictly smaller than n (n >= 2).
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The Merkle tree head over already-hashed leaves (`leaf_hash` of each item).
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root_from_leaf_hashes(&leaves[..k]), &root_from_leaf_hashes(&leaves[k..]))
        }
    }
}

/// The Merkle tree head over 32-byte items (for example transaction hashes).
pub fn root_of_hashes(items: &[Hash]) -> Hash {
    let leaves: Vec<Hash> = items.iter().map(|h| leaf_hash(&h.0)).collect();
    root_from_leaf_hashes(&leaves)
}

/// A proof that one leaf is in a tree.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf, from 0.
    pub leaf_index: u64,
    /// Number of leaves in the tree.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root_from_leaf_hashes(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root_from_leaf_hashes(&leaves[..k]));
    }
}

/// Builds the inclusion proof of leaf `index` over leaf hashes.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<InclusionProof, CoreError> {
    if index >= leaves.len() {
        return Err(CoreError::InvalidProof(format!(
            "leaf index {index} is outside a tree of {} leaves",
            leaves.len()
        )));
    }
    let mut p = Vec::new();
    path(index, leaves, &mut p);
    Ok(InclusionProof { leaf_index: index as u64, tree_size: leaves.len() as u64, path: p })
}

impl InclusionProof {
    /// Recomputes the root from `leaf` (a leaf hash) and checks it equals `root`
    /// (RFC 9162 section 2.1.3.2).
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), CoreError> {
        if self.leaf_index >= self.tree_size {
            return Err(CoreError::InvalidProof(format!(
                "leaf index {} is outside a tree of {} leaves",
                self.leaf_index, self.tree_size
            )));
        }
        let mut f_n = self.leaf_index;
        let mut s_n = self.tree_size - 1;
        let mut r = *leaf;
        for p in &self.path {
            if s_n == 0 {
                return Err(CoreError::InvalidProof("inclusion path is longer than the tree is deep".into()));
            }
            if f_n & 1 == 1 || f_n == s_n {
                r = node_hash(p, &r);
                if f_n & 1 == 0 {
                    while f_n & 1 == 0 && f_n != 0 {
                        f_n >>= 1;
                        s_n >>= 1;
                    }
                }
            } else {
                r = node_hash(&r, p);
            }
            f_n >>= 1;
            s_n >>= 1;
        }
        if s_n != 0 {
            return Err(CoreError::InvalidProof("inclusion path is shorter than the tree is deep".into()));
        }
        if r != *root {
            return Err(CoreError::HashMismatch { what: "Merkle root from inclusion proof", expected: *root, got: r });
        }
        Ok(())
    }
}

/// A proof that the tree of the first `old_size` leaves is a prefix of the tree of
/// `new_size` leaves.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The proof hashes (RFC 9162 section 2.1.4.1).
    pub path: Vec<Hash>,
}

fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root_from_leaf_hashes(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root_from_leaf_hashes(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root_from_leaf_hashes(&leaves[..k]));
    }
}

/// Builds the consistency proof between the first `old_size` leaves and all of them.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Result<ConsistencyProof, CoreError> {
    let n = leaves.len();
    if old_size == 0 || old_size > n {
        return Err(CoreError::InvalidProof(format!(
            "consistency needs 0 < old size <= new size, got {old_size} and {n}"
        )));
    }
    let mut p = Vec::new();
    if old_size < n {
        subproof(old_size, leaves, true, &mut p);
    }
    Ok(ConsistencyProof { old_size: old_size as u64, new_size: n as u64, path: p })
}

impl ConsistencyProof {
    /// Checks that `old_root` (of `old_size` leaves) and `new_root` (of `new_size`
    /// leaves) are consistent (RFC 9162 section 2.1.4.2).
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), CoreError> {
        let (m, n) = (self.old_size, self.new_size);
        if m == 0 || m > n {
            return Err(CoreError::InvalidProof(format!("bad sizes {m} and {n}")));
        }
        if m == n {
            if !self.path.is_empty() {
                return Err(CoreError::InvalidProof("equal sizes need an empty proof".into()));
            }
            if old_root != new_root {
                return Err(CoreError::HashMismatch {
                    what: "root of equal-size trees",
                    expected: *old_root,
                    got: *new_root,
                });
            }
            return Ok(());
        }
        let mut path: Vec<Hash> = self.path.clone();
        if m.is_power_of_two() {
            path.insert(0, *old_root);
        }
        let Some((first, rest)) = path.split_first() else {
            return Err(CoreError::InvalidProof("empty consistency proof".into()));
        };
        let mut f_n = m - 1;
        let mut s_n = n - 1;
        while f_n & 1 == 1 {
            f_n >>= 1;
            s_n >>= 1;
        }
        let mut fr = *first;
        let mut sr = *first;
        for c in rest {
            if s_n == 0 {
                return Err(CoreError::InvalidProof("consistency path is too long".into()));
            }
            if f_n & 1 == 1 || f_n == s_n {
                fr = node_hash(c, &fr);
                sr = node_hash(c, &sr);
                if f_n & 1 == 0 {
                    while f_n & 1 == 0 && f_n != 0 {
                        f_n >>= 1;
                        s_n >>= 1;
                    }
                }
            } else {
                sr = node_hash(&sr, c);
            }
            f_n >>= 1;
            s_n >>= 1;
        }
        if s_n != 0 {
            return Err(CoreError::InvalidProof("consistency path is too short".into()));
        }
        if fr != *old_root {
            return Err(CoreError::HashMismatch {
                what: "old root from consistency proof",
                expected: *old_root,
                got: fr,
            });
        }
        if sr != *new_root {
            return Err(CoreError::HashMismatch {
                what: "new root from consistency proof",
                expected: *new_root,
                got: sr,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn rfc_shapes() {
        assert_eq!(root_from_leaf_hashes(&[]), empty_root());
        let l = leaves(3);
        assert_eq!(root_from_leaf_hashes(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        // RFC 6962/9162 empty-tree head.
        assert_eq!(empty_root().to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        for n in 1..=40 {
            let l = leaves(n);
            let root = root_from_leaf_hashes(&l);
            for i in 0..n {
                let p = inclusion_proof(&l, i).unwrap();
                p.verify(&l[i], &root).unwrap();
                let wrong = leaf_hash(b"other");
                assert!(p.verify(&wrong, &root).is_err(), "n={n} i={i}");
                if !p.path.is_empty() {
                    let mut bad = p.clone();
                    bad.path[0].0[0] ^= 1;
                    assert!(bad.verify(&l[i], &root).is_err());
                    let mut short = p.clone();
                    short.path.pop();
                    assert!(short.verify(&l[i], &root).is_err());
                }
                let mut other_index = p.clone();
                other_index.leaf_index = ((i + 1) % n) as u64;
                if n > 1 {
                    assert!(other_index.verify(&l[i], &root).is_err(), "n={n} i={i}");
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_tampering_fails() {
        for n in 1..=33 {
            let l = leaves(n);
            let new_root = root_from_leaf_hashes(&l);
            for m in 1..=n {
                let old_root = root_from_leaf_hashes(&l[..m]);
                let p = consistency_proof(&l, m).unwrap();
                p.verify(&old_root, &new_root).unwrap_or_else(|e| panic!("m={m} n={n}: {e}"));
                if m < n {
                    let fake_old = leaf_hash(b"forged");
                    assert!(p.verify(&fake_old, &new_root).is_err());
                    assert!(p.verify(&old_root, &fake_old).is_err());
                    let mut bad = p.clone();
                    bad.path[0].0[5] ^= 0x40;
                    assert!(bad.verify(&old_root, &new_root).is_err());
                }
            }
        }
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        assert!(inclusion_proof(&leaves(3), 3).is_err());
        assert!(consistency_proof(&leaves(3), 0).is_err());
        assert!(consistency_proof(&leaves(3), 4).is_err());
        let p = InclusionProof { leaf_index: 5, tree_size: 2, path: vec![] };
        assert!(p.verify(&Hash::ZERO, &Hash::ZERO).is_err());
    }
}
