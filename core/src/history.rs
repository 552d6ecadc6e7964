//! The ledger's history accumulator: an RFC 9162 Merkle tree over block hashes.
//!
//! # Definition
//!
//! The *history tree of size `n`* is the RFC 9162 Merkle tree (section 2.1, as in
//! [`crate::merkle`]) whose leaves, in height order, are the block hashes of heights
//! `0..n`: leaf `i` is `SHA-256(0x00 ‖ hash of block i)`, i.e.
//! `merkle::root_of_hashes(&[hash(0), …, hash(n - 1)])`. The header of the block at
//! height `h` holds `history_root`: the head of the history tree of size `h`, over
//! every block *before* it (the genesis header holds the empty-tree head,
//! `SHA-256("")`). A block cannot commit to its own hash, so header `h` certifies the
//! tree of size `h` and its own hash is leaf `h` of every larger tree.
//!
//! So a certified header at `h2` proves, with `O(log n)` hashes each:
//! - that block `h1 < h2` is in its history: an inclusion proof of leaf `h1` in the
//!   tree of size `h2` (the hash of block `h1` commits to everything before it);
//! - that its history extends the history certified at `h1`: a consistency proof
//!   between the trees of sizes `h1` and `h2` (the roots in headers `h1` and `h2`).
//!
//! # Incremental form
//!
//! [`Frontier`] is the compact form a node or auditor keeps: the roots of the perfect
//! subtrees the tree of size `n` splits into (one per set bit of `n`, largest first),
//! `O(log n)` hashes, updated per appended block hash. [`Frontier::append`] returns the
//! perfect-subtree nodes the append completes; a node stores them (keyed by
//! [`NodeId`]) with the block, and [`inclusion_proof`] and [`consistency_proof`] build
//! any proof from `O(log n)` of those stored nodes without rehashing the history.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::hash::Hash;
use crate::merkle::{self, ConsistencyProof, InclusionProof};

/// A perfect subtree of the history tree: the `2^level` leaves from
/// `index * 2^level`. Level 0 is a leaf (the leaf hash of one block hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct NodeId {
    /// Height of the subtree (0 for a leaf).
    pub level: u8,
    /// Position among the subtrees of that level, from 0.
    pub index: u64,
}

impl NodeId {
    /// The first leaf the subtree covers.
    pub fn first_leaf(&self) -> u64 {
        self.index << self.level
    }
}

/// The perfect subtrees the history tree of `size` leaves splits into, largest first
/// (one per set bit of `size`): the nodes a [`Frontier`] holds.
pub fn peak_ids(size: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if (size >> level) & 1 == 1 {
            out.push(NodeId { level, index: start >> level });
            start += 1 << level;
        }
    }
    out
}

/// The compact history accumulator: the tree size and the roots of its perfect
/// subtrees, largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The empty history (before the genesis block).
    pub fn new() -> Self {
        Frontier::default()
    }

    /// Builds the frontier of `size` leaves from stored nodes (`O(log size)` lookups).
    pub fn from_nodes<E>(size: u64, mut node: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Self, E> {
        let peaks = peak_ids(size).into_iter().map(&mut node).collect::<Result<_, _>>()?;
        Ok(Frontier { size, peaks })
    }

    /// Number of block hashes appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The tree head: what the header at height `size` must hold as `history_root`.
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        let Some(last) = it.next() else { return merkle::empty_root() };
        it.fold(*last, |acc, p| merkle::node_hash(p, &acc))
    }

    /// Appends a block hash; returns every perfect-subtree node the append completes
    /// (the new leaf first, then each merge up), to be stored under its [`NodeId`].
    pub fn append(&mut self, block_hash: &Hash) -> Vec<(NodeId, Hash)> {
        self.append_leaf(merkle::leaf_hash(&block_hash.0))
    }

    /// Appends an already-hashed leaf (`merkle::leaf_hash` of the item), as
    /// [`Frontier::append`] does for a block hash.
    pub fn append_leaf(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut cur = leaf;
        let mut id = NodeId { level: 0, index: self.size };
        let mut out = vec![(id, cur)];
        while (self.size >> id.level) & 1 == 1 {
            let Some(left) = self.peaks.pop() else { break };
            cur = merkle::node_hash(&left, &cur);
            id = NodeId { level: id.level + 1, index: id.index >> 1 };
            out.push((id, cur));
        }
        self.peaks.push(cur);
        self.size += 1;
        out
    }
}

/// Fetches stored nodes once each while one proof is built.
struct Nodes<F> {
    fetch: F,
    seen: std::collections::BTreeMap<NodeId, Hash>,
}

impl<E, F: FnMut(NodeId) -> Result<Hash, E>> Nodes<F> {
    fn get(&mut self, id: NodeId) -> Result<Hash, E> {
        if let Some(h) = self.seen.get(&id) {
            return Ok(*h);
        }
        let h = (self.fetch)(id)?;
        self.seen.insert(id, h);
        Ok(h)
    }

    /// The RFC 9162 head of leaves `lo..hi`, for the ranges the RFC's recursion visits
    /// (`lo` a multiple of the largest power of two not above `hi - lo`): the perfect
    /// subtrees of the range, largest first, folded from the right.
    fn range_root(&mut self, lo: u64, hi: u64) -> Result<Hash, E> {
        let mut parts = Vec::new();
        let mut at = lo;
        while at < hi {
            let mut level = 0u8;
            while level < 63
                && at.trailing_zeros() > level as u32
                && at.checked_add(2u64 << level).is_some_and(|end| end <= hi)
            {
                level += 1;
            }
            parts.push(self.get(NodeId { level, index: at >> level })?);
            at += 1u64 << level;
        }
        let mut it = parts.into_iter().rev();
        let Some(last) = it.next() else { return Ok(merkle::empty_root()) };
        Ok(it.fold(last, |acc, p| merkle::node_hash(&p, &acc)))
    }

    fn path(&mut self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<(), E> {
        let n = hi - lo;
        if n <= 1 {
            return Ok(());
        }
        let k = split(n);
        if m - lo < k {
            self.path(m, lo, lo + k, out)?;
            out.push(self.range_root(lo + k, hi)?);
        } else {
            self.path(m, lo + k, hi, out)?;
            out.push(self.range_root(lo, lo + k)?);
        }
        Ok(())
    }

    fn subproof(&mut self, m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Hash>) -> Result<(), E> {
        let n = hi - lo;
        if m == n {
            if !complete {
                out.push(self.range_root(lo, hi)?);
            }
            return Ok(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, complete, out)?;
            out.push(self.range_root(lo + k, hi)?);
        } else {
            self.subproof(m - k, lo + k, hi, false, out)?;
            out.push(self.range_root(lo, lo + k)?);
        }
        Ok(())
    }
}

fn split(n: u64) -> u64 {
    // Largest power of two strictly smaller than n (n >= 2).
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The head of the history tree of `size` leaves from stored nodes.
pub fn root_at<E>(size: u64, node: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    Ok(Frontier::from_nodes(size, node)?.root())
}

/// The inclusion proof of leaf `index` in the history tree of `size` leaves, from
/// stored perfect-subtree nodes (each fetched at most once, `O(log size)` of them).
/// Equals [`merkle::inclusion_proof`] over the full leaf list.
pub fn inclusion_proof<E: From<CoreError>>(
    index: u64,
    size: u64,
    node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<InclusionProof, E> {
    if index >= size {
        return Err(CoreError::InvalidProof(format!("leaf index {index} is outside a tree of {size} leaves")).into());
    }
    let mut nodes = Nodes { fetch: node, seen: Default::default() };
    let mut path = Vec::new();
    nodes.path(index, 0, size, &mut path)?;
    Ok(InclusionProof { leaf_index: index, tree_size: size, path })
}

/// The consistency proof between the history trees of `old_size` and `new_size`
/// leaves, from stored perfect-subtree nodes. Equals [`merkle::consistency_proof`] over
/// the full leaf list.
pub fn consistency_proof<E: From<CoreError>>(
    old_size: u64,
    new_size: u64,
    node: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<ConsistencyProof, E> {
    if old_size == 0 || old_size > new_size {
        return Err(CoreError::InvalidProof(format!(
            "consistency needs 0 < old size <= new size, got {old_size} and {new_size}"
        ))
        .into());
    }
    let mut nodes = Nodes { fetch: node, seen: Default::default() };
    let mut path = Vec::new();
    if old_size < new_size {
        nodes.subproof(old_size, 0, new_size, true, &mut path)?;
    }
    Ok(ConsistencyProof { old_size, new_size, path })
}

/// That a block is in the history a later certified header commits to, and that this
/// history extends the one the block's own header commits to (what
/// `GET /v1/proof/consistency` serves besides the two headers).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct HistoryLink {
    /// Leaf `from` (the hash of the lower block) in the tree of size `to`.
    pub inclusion: InclusionProof,
    /// Between the trees of sizes `from` and `to` (absent when `from` is 0: the empty
    /// tree is a prefix of every tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyProof>,
}

impl HistoryLink {
    /// Checks that the block with header hash `from_hash` at height `from`, whose
    /// header commits to `from_root`, is in the history `to_root` of size `to`, and that
    /// `to_root` extends `from_root`.
    pub fn verify(
        &self,
        from: u64,
        from_hash: &Hash,
        from_root: &Hash,
        to: u64,
        to_root: &Hash,
    ) -> Result<(), CoreError> {
        if from >= to {
            return Err(CoreError::InvalidProof(format!(
                "block {from} is not in the history of size {to}: it must be below {to}"
            )));
        }
        if self.inclusion.leaf_index != from || self.inclusion.tree_size != to {
            return Err(CoreError::InvalidProof(format!(
                "the inclusion proof is for leaf {} of {}, leaf {from} of {to} expected",
                self.inclusion.leaf_index, self.inclusion.tree_size
            )));
        }
        self.inclusion.verify(&merkle::leaf_hash(&from_hash.0), to_root).map_err(|e| {
            CoreError::InvalidProof(format!("block {from} is not in the history certified at {to}: {e}"))
        })?;
        match (&self.consistency, from) {
            (None, 0) => {
                if *from_root != merkle::empty_root() {
                    return Err(CoreError::HashMismatch {
                        what: "history root of the genesis header",
                        expected: merkle::empty_root(),
                        got: *from_root,
                    });
                }
            }
            (Some(_), 0) => {
                return Err(CoreError::InvalidProof("a consistency proof from the empty history".into()));
            }
            (None, _) => return Err(CoreError::InvalidProof(format!("no consistency proof from size {from}"))),
            (Some(c), _) => {
                if c.old_size != from || c.new_size != to {
                    return Err(CoreError::InvalidProof(format!(
                        "the consistency proof is between sizes {} and {}, {from} and {to} expected",
                        c.old_size, c.new_size
                    )));
                }
                c.verify(from_root, to_root).map_err(|e| {
                    CoreError::InvalidProof(format!(
                        "the history certified at {to} does not extend the one certified at {from}: {e}"
                    ))
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn hashes(n: u64) -> Vec<Hash> {
        (0..n).map(|i| crate::sha256(&i.to_le_bytes())).collect()
    }

    /// Appends every hash, keeping each completed node as a store would.
    fn build(items: &[Hash]) -> (Frontier, BTreeMap<NodeId, Hash>) {
        let mut f = Frontier::new();
        let mut store = BTreeMap::new();
        for h in items {
            store.extend(f.append(h));
        }
        (f, store)
    }

    fn fetch(store: &BTreeMap<NodeId, Hash>) -> impl FnMut(NodeId) -> Result<Hash, CoreError> + '_ {
        |id| store.get(&id).copied().ok_or_else(|| CoreError::InvalidProof(format!("no node {id:?}")))
    }

    #[test]
    fn peaks_of_sizes() {
        assert!(peak_ids(0).is_empty());
        assert_eq!(peak_ids(1), vec![NodeId { level: 0, index: 0 }]);
        assert_eq!(
            peak_ids(7),
            vec![NodeId { level: 2, index: 0 }, NodeId { level: 1, index: 2 }, NodeId { level: 0, index: 6 }]
        );
        assert_eq!(Frontier::new().root(), merkle::empty_root());
    }

    #[test]
    fn appends_store_one_node_per_leaf_plus_merges() {
        let (f, store) = build(&hashes(8));
        // 8 leaves, 4 + 2 + 1 interior nodes.
        assert_eq!(store.len(), 15);
        assert_eq!(f.peaks().len(), 1);
        assert_eq!(store[&NodeId { level: 3, index: 0 }], f.root());
    }

    #[test]
    fn proof_lookups_are_logarithmic() {
        let n = 100_000u64;
        let (f, store) = build(&hashes(n));
        let mut count = 0usize;
        let counting = |id: NodeId| {
            count += 1;
            store.get(&id).copied().ok_or_else(|| CoreError::InvalidProof("missing".into()))
        };
        let p = consistency_proof(31_337, n, counting).unwrap();
        assert!(count <= 2 * 17 + 2, "{count} node lookups for one proof at {n} blocks");
        let old = root_at(31_337, fetch(&store)).unwrap();
        p.verify(&old, &f.root()).unwrap();
        assert!(p.path.len() <= 2 * 17, "{} hashes", p.path.len());
        // The figures docs/api.md quotes: the largest proofs between any sizes at n.
        let mut worst = (0usize, 0usize);
        for m in (1..n).step_by(997).chain([1, n / 2 + 1, n - 1]) {
            let link = HistoryLink {
                inclusion: inclusion_proof(m, n, fetch(&store)).unwrap(),
                consistency: Some(consistency_proof(m, n, fetch(&store)).unwrap()),
            };
            let hashes = link.inclusion.path.len() + link.consistency.as_ref().map_or(0, |c| c.path.len());
            let json = serde_json::to_string(&link).unwrap().len();
            worst = (worst.0.max(hashes), worst.1.max(json));
        }
        println!("at {n} blocks: at most {} hashes ({} bytes), {} bytes of JSON", worst.0, worst.0 * 32, worst.1);
        assert!(worst.0 <= 2 * 17 + 1, "{worst:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn incremental_root_equals_the_full_tree(n in 0u64..300) {
            let items = hashes(n);
            let mut f = Frontier::new();
            for (i, h) in items.iter().enumerate() {
                prop_assert_eq!(f.root(), merkle::root_of_hashes(&items[..i]));
                f.append(h);
            }
            prop_assert_eq!(f.root(), merkle::root_of_hashes(&items));
            prop_assert_eq!(f.size(), n);
        }

        #[test]
        fn stored_node_proofs_equal_the_reference(n in 1u64..200, a in any::<u64>(), b in any::<u64>()) {
            let items = hashes(n);
            let leaves: Vec<Hash> = items.iter().map(|h| merkle::leaf_hash(&h.0)).collect();
            let (f, store) = build(&items);
            prop_assert_eq!(Frontier::from_nodes(n, fetch(&store)).unwrap(), f.clone());
            // Any size up to n is served from the same store.
            let size = 1 + b % n;
            let index = a % size;
            let p = inclusion_proof(index, size, fetch(&store)).unwrap();
            prop_assert_eq!(&p, &merkle::inclusion_proof(&leaves[..size as usize], index as usize).unwrap());
            let root = root_at(size, fetch(&store)).unwrap();
            prop_assert_eq!(root, merkle::root_of_hashes(&items[..size as usize]));
            p.verify(&leaves[index as usize], &root).unwrap();
            let old = 1 + a % size;
            let c = consistency_proof(old, size, fetch(&store)).unwrap();
            prop_assert_eq!(&c, &merkle::consistency_proof(&leaves[..size as usize], old as usize).unwrap());
            c.verify(&root_at(old, fetch(&store)).unwrap(), &root).unwrap();
        }

        #[test]
        fn a_history_link_verifies_and_a_forged_one_fails(n in 2u64..120, a in any::<u64>(), b in any::<u64>()) {
            let items = hashes(n);
            let (_, store) = build(&items);
            let to = 1 + b % (n - 1) + 1; // 2..=n
            let to = to.min(n);
            let from = a % to;
            let link = HistoryLink {
                inclusion: inclusion_proof(from, to, fetch(&store)).unwrap(),
                consistency: (from > 0).then(|| consistency_proof(from, to, fetch(&store)).unwrap()),
            };
            let from_root = root_at(from, fetch(&store)).unwrap();
            let to_root = root_at(to, fetch(&store)).unwrap();
            link.verify(from, &items[from as usize], &from_root, to, &to_root).unwrap();
            let other = crate::sha256(b"another block");
            prop_assert!(link.verify(from, &other, &from_root, to, &to_root).is_err());
            prop_assert!(link.verify(from, &items[from as usize], &other, to, &to_root).is_err());
            prop_assert!(link.verify(from, &items[from as usize], &from_root, to, &other).is_err());
        }
    }

    #[test]
    fn the_largest_sizes_neither_overflow_nor_recurse_deeply() {
        // Sizes come from a node's tip, but the builder is pure and takes any u64.
        let any = |_: NodeId| Ok::<_, CoreError>(Hash([9; 32]));
        for (m, n) in [(u64::MAX - 1, u64::MAX), (1, u64::MAX), (1u64 << 63, u64::MAX), ((1 << 63) + 5, 1 << 63 | 7)] {
            let p = inclusion_proof(m, n, any).unwrap();
            assert!(p.path.len() <= 64);
            let c = consistency_proof(m, n, any).unwrap();
            assert!(c.path.len() <= 2 * 64);
        }
        assert_eq!(peak_ids(u64::MAX).len(), 64);
    }

    #[test]
    fn out_of_range_is_an_error() {
        let (_, store) = build(&hashes(5));
        assert!(inclusion_proof(5, 5, fetch(&store)).is_err());
        assert!(consistency_proof(0, 5, fetch(&store)).is_err());
        assert!(consistency_proof(6, 5, fetch(&store)).is_err());
        // A node the store lacks is the store's error, not a panic.
        assert!(inclusion_proof(3, 9, fetch(&store)).is_err());
    }
}
