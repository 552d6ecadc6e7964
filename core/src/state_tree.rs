//! The authenticated state tree.
//!
//! A compact binary Merkle trie over 256-bit key hashes (`SHA-256(key)`), holding the
//! hash of each value (`SHA-256(value)`). A subtree with no keys is empty (hash zero), a
//! subtree with exactly one key is a leaf placed as high as it can go, and a subtree
//! with two or more keys is a branch splitting on the next bit. That shape is unique for
//! a set of keys, so the root depends only on the contents, never on the order of
//! updates. Proofs list the sibling hashes on the path to a key and show either its leaf
//! (inclusion) or the empty slot or other leaf found there (exclusion).
//!
//! The tree is persistent: [`StateTree::apply`] returns a new version sharing unchanged
//! nodes with the old one, so a node can execute a proposed block on a copy and drop it
//! if the block is not decided. Updating `k` keys in a tree of `n` costs about
//! `k * log2(n)` hashes.

use std::collections::BTreeMap;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::hash::{Hash, sha256, sha256_parts};

/// A subtree: nothing, one key, or a split on the next bit. Leaves and branches are
/// separate allocations of their own size (a branch is 80 bytes with its counts, a
/// leaf 112), so more of a large tree stays in cache than with one enum sized for the
/// leaf; an empty subtree allocates nothing.
#[derive(Clone, Debug)]
enum Node {
    Empty,
    Leaf(Arc<Leaf>),
    Branch(Arc<Branch>),
}

// The hash first, beside the reference counts: a subtree that an update leaves alone
// is read for its hash and its count only, from the allocation's first cache line.
#[derive(Debug)]
#[repr(C)]
struct Leaf {
    hash: Hash,
    key: Hash,
    value: Hash,
}

#[derive(Debug)]
#[repr(C)]
struct Branch {
    hash: Hash,
    left: Node,
    right: Node,
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Empty => Hash::ZERO,
            Node::Leaf(l) => l.hash,
            Node::Branch(b) => b.hash,
        }
    }

    fn leaf(key: Hash, value: Hash) -> Node {
        Node::Leaf(Arc::new(Leaf { key, value, hash: leaf_hash(&key, &value) }))
    }

    /// Joins two children into the canonical node for their union.
    fn join(left: Node, right: Node) -> Node {
        match (&left, &right) {
            (Node::Empty, Node::Empty) => Node::Empty,
            (Node::Empty, Node::Leaf(_)) => right,
            (Node::Leaf(_), Node::Empty) => left,
            _ => {
                let hash = branch_hash(&left.hash(), &right.hash());
                Node::Branch(Arc::new(Branch { left, right, hash }))
            }
        }
    }
}

fn leaf_hash(key: &Hash, value: &Hash) -> Hash {
    sha256_parts(&[&[0x00], &key.0, &value.0])
}

fn branch_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_parts(&[&[0x01], &left.0, &right.0])
}

fn bit(key: &Hash, depth: usize) -> bool {
    key.0[depth / 8] & (0x80 >> (depth % 8)) != 0
}

/// Builds the canonical subtree at `depth` for sorted, distinct entries.
fn build(entries: &[(Hash, Hash)], depth: usize) -> Node {
    match entries {
        [] => Node::Empty,
        [(k, v)] => Node::leaf(*k, *v),
        _ => {
            let split = entries.partition_point(|(k, _)| !bit(k, depth));
            Node::join(build(&entries[..split], depth + 1), build(&entries[split..], depth + 1))
        }
    }
}

/// The subtree at `depth` holding the leaf `old` (key `old_key`) and a new leaf `new`
/// (key `new_key`, different): the same shape [`build`] gives for the two, with the old
/// leaf shared rather than rebuilt.
fn split(old: &Node, old_key: &Hash, new: Node, new_key: &Hash, depth: usize) -> Node {
    let side = bit(new_key, depth);
    if bit(old_key, depth) == side {
        let below = split(old, old_key, new, new_key, depth + 1);
        if side { Node::join(Node::Empty, below) } else { Node::join(below, Node::Empty) }
    } else if side {
        Node::join(old.clone(), new)
    } else {
        Node::join(new, old.clone())
    }
}

/// Applies sorted, distinct updates (`None` deletes) below `node` at `depth`; returns
/// the new subtree and how many keys it gained (negative: lost). Counting here spares a
/// second walk from the root for every updated key.
fn update(node: &Node, depth: usize, updates: &[(Hash, Option<Hash>)]) -> (Node, i64) {
    if updates.is_empty() {
        return (node.clone(), 0);
    }
    match node {
        Node::Empty => {
            let entries: Vec<(Hash, Hash)> = updates.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
            let added = entries.len() as i64;
            (build(&entries, depth), added)
        }
        Node::Leaf(leaf) => {
            // The common case of a growing state: one new key meets one old leaf. The
            // old leaf keeps its allocation and hash (a leaf's hash does not depend on
            // its depth); only the branches down to where the keys part are new.
            if let [(k, Some(v))] = updates
                && *k != leaf.key
            {
                return (split(node, &leaf.key, Node::leaf(*k, *v), k, depth), 1);
            }
            let mut entries: Vec<(Hash, Hash)> = updates.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
            if !updates.iter().any(|(k, _)| *k == leaf.key) {
                let at = entries.partition_point(|(k, _)| *k < leaf.key);
                entries.insert(at, (leaf.key, leaf.value));
            }
            let gained = entries.len() as i64 - 1;
            (build(&entries, depth), gained)
        }
        Node::Branch(b) => {
            let split = updates.partition_point(|(k, _)| !bit(k, depth));
            let (l, dl) = update(&b.left, depth + 1, &updates[..split]);
            let (r, dr) = update(&b.right, depth + 1, &updates[split..]);
            (Node::join(l, r), dl + dr)
        }
    }
}

/// A version of the state tree. Cloning is cheap (shared nodes).
#[derive(Clone, Debug)]
pub struct StateTree {
    root: Node,
    len: u64,
}

impl Default for StateTree {
    fn default() -> Self {
        StateTree { root: Node::Empty, len: 0 }
    }
}

impl StateTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from `(key, value)` byte pairs.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut hashed: Vec<(Hash, Hash)> = entries.into_iter().map(|(k, v)| (sha256(k), sha256(v))).collect();
        hashed.sort();
        hashed.dedup_by(|a, b| a.0 == b.0);
        StateTree { len: hashed.len() as u64, root: build(&hashed, 0) }
    }

    /// The root hash ([`Hash::ZERO`] when empty).
    pub fn root(&self) -> Hash {
        self.root.hash()
    }

    /// Number of keys.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns a new version with the writes applied (`None` deletes a key).
    pub fn apply(&self, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> StateTree {
        let mut updates: Vec<(Hash, Option<Hash>)> =
            writes.iter().map(|(k, v)| (sha256(k), v.as_deref().map(sha256))).collect();
        // Keys are distinct (they come from a map), so an unstable sort is exact.
        updates.sort_unstable_by_key(|a| a.0);
        let (root, gained) = update(&self.root, 0, &updates);
        StateTree { root, len: self.len.saturating_add_signed(gained) }
    }

    /// The proof for `key` (inclusion if present, exclusion otherwise).
    pub fn prove(&self, key: &[u8]) -> StateProof {
        let kh = sha256(key);
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Node::Empty => return StateProof { siblings, terminal: Terminal::Empty },
                Node::Leaf(leaf) => {
                    return StateProof {
                        siblings,
                        terminal: Terminal::Leaf { key_hash: leaf.key, value_hash: leaf.value },
                    };
                }
                Node::Branch(b) => {
                    let (next, sib) = if bit(&kh, depth) { (&b.right, &b.left) } else { (&b.left, &b.right) };
                    siblings.push(sib.hash());
                    node = next;
                    depth += 1;
                }
            }
        }
    }
}

/// What a proof's path ends in.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum Terminal {
    /// An empty slot: the key is absent.
    Empty,
    /// A leaf: the key itself (inclusion) or another key sharing the path (exclusion).
    Leaf {
        /// SHA-256 of the leaf's key.
        key_hash: Hash,
        /// SHA-256 of the leaf's value.
        value_hash: Hash,
    },
}

/// A proof of a key's value, or of its absence, under a state root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StateProof {
    /// Sibling hashes from the root down.
    pub siblings: Vec<Hash>,
    /// The node the path ends in.
    pub terminal: Terminal,
}

impl StateProof {
    /// Checks that under `root`, `key` holds `value` (or is absent when `None`).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), CoreError> {
        let kh = sha256(key);
        if self.siblings.len() > 256 {
            return Err(CoreError::InvalidProof("state proof is deeper than 256 levels".into()));
        }
        let depth = self.siblings.len();
        let mut h = match (&self.terminal, value) {
            (Terminal::Leaf { key_hash, value_hash }, Some(v)) => {
                if *key_hash != kh {
                    return Err(CoreError::InvalidProof("the proof ends in another key's leaf, not this key".into()));
                }
                let vh = sha256(v);
                if *value_hash != vh {
                    return Err(CoreError::HashMismatch { what: "state value", expected: vh, got: *value_hash });
                }
                leaf_hash(key_hash, value_hash)
            }
            (Terminal::Leaf { key_hash, value_hash }, None) => {
                if *key_hash == kh {
                    return Err(CoreError::InvalidProof("the key is present, the proof cannot show it absent".into()));
                }
                if (0..depth).any(|d| bit(key_hash, d) != bit(&kh, d)) {
                    return Err(CoreError::InvalidProof("the leaf found is not on this key's path".into()));
                }
                leaf_hash(key_hash, value_hash)
            }
            (Terminal::Empty, None) => Hash::ZERO,
            (Terminal::Empty, Some(_)) => {
                return Err(CoreError::InvalidProof("the proof shows the key absent".into()));
            }
        };
        for d in (0..depth).rev() {
            let sib = &self.siblings[d];
            h = if bit(&kh, d) { branch_hash(sib, &h) } else { branch_hash(&h, sib) };
        }
        if h != *root {
            return Err(CoreError::HashMismatch { what: "state root from proof", expected: *root, got: h });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn writes(pairs: &[(&str, Option<&str>)]) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))).collect()
    }

    #[test]
    fn empty_tree_root_is_zero_and_proves_absence() {
        let t = StateTree::new();
        assert_eq!(t.root(), Hash::ZERO);
        t.prove(b"a").verify(&t.root(), b"a", None).unwrap();
        assert!(t.prove(b"a").verify(&t.root(), b"a", Some(b"x")).is_err());
    }

    #[test]
    fn inclusion_and_exclusion_proofs() {
        let t = StateTree::new().apply(&writes(&[("a", Some("1")), ("b", Some("2")), ("c", Some("3"))]));
        assert_eq!(t.len(), 3);
        let r = t.root();
        t.prove(b"b").verify(&r, b"b", Some(b"2")).unwrap();
        assert!(t.prove(b"b").verify(&r, b"b", Some(b"9")).is_err());
        assert!(t.prove(b"b").verify(&r, b"b", None).is_err());
        t.prove(b"zz").verify(&r, b"zz", None).unwrap();
        assert!(t.prove(b"zz").verify(&r, b"zz", Some(b"1")).is_err());
        let mut forged = t.prove(b"a");
        if let Some(s) = forged.siblings.first_mut() {
            s.0[0] ^= 1;
        }
        assert!(forged.verify(&r, b"a", Some(b"1")).is_err());
    }

    #[test]
    fn old_versions_are_untouched() {
        let t1 = StateTree::new().apply(&writes(&[("a", Some("1"))]));
        let r1 = t1.root();
        let t2 = t1.apply(&writes(&[("a", Some("2")), ("b", Some("3"))]));
        assert_eq!(t1.root(), r1);
        assert_ne!(t2.root(), r1);
        let t3 = t2.apply(&writes(&[("a", Some("1")), ("b", None)]));
        assert_eq!(t3.root(), r1);
        assert_eq!(t3.len(), 1);
    }

    proptest! {
        #[test]
        fn root_depends_only_on_contents(
            ops in proptest::collection::vec((0u8..40, proptest::option::of(0u8..5)), 1..120),
        ) {
            // Apply ops in chunks, then compare with a model and a from-scratch build.
            let mut tree = StateTree::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for chunk in ops.chunks(7) {
                let mut w = BTreeMap::new();
                for (k, v) in chunk {
                    let key = vec![*k];
                    let val = v.map(|v| vec![v]);
                    match &val { Some(v) => { model.insert(key.clone(), v.clone()); } None => { model.remove(&key); } }
                    w.insert(key, val);
                }
                tree = tree.apply(&w);
            }
            let fresh = StateTree::from_entries(model.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
            prop_assert_eq!(tree.root(), fresh.root());
            prop_assert_eq!(tree.len(), model.len() as u64);
            for k in 0u8..40 {
                let v = model.get(&vec![k]);
                prop_assert!(tree.prove(&[k]).verify(&tree.root(), &[k], v.map(|v| v.as_slice())).is_ok());
            }
        }
    }
}
