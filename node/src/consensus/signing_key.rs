//! Which of this node's validator keys signs at a height.
//!
//! A node may hold several validator keys (`validator_keys = [current, next]`): at every
//! height it signs with the one key that is in that height's validator set. Holding two
//! keys of one set would let the node vote twice in one round, so that is never done:
//! at start the node refuses to run, and when a governance change makes it so at
//! runtime the node signs with neither key (it follows the chain as a full node) and
//! logs an error until the operator removes one key.

use jialing_core::{Keypair, PublicKey, ValidatorSet};

/// The key this node signs with at one height.
#[derive(Clone, Debug)]
pub enum Choice {
    /// None of the held keys is in the set: the node follows as a full node.
    None,
    /// Exactly one held key is in the set.
    One(Keypair),
    /// Several held keys are in the set: the node signs with none of them.
    Conflict(Vec<PublicKey>),
}

impl Choice {
    /// The key to sign with (`None` for [`Choice::None`] and [`Choice::Conflict`]).
    pub fn key(&self) -> Option<&Keypair> {
        match self {
            Choice::One(k) => Some(k),
            Choice::None | Choice::Conflict(_) => None,
        }
    }

    /// Its public key.
    pub fn public(&self) -> Option<PublicKey> {
        self.key().map(Keypair::public)
    }
}

/// The held key in `set`, if exactly one is.
pub fn choose(keys: &[Keypair], set: &ValidatorSet) -> Choice {
    let mut in_set: Vec<&Keypair> = keys.iter().filter(|k| set.get(&k.public()).is_some()).collect();
    in_set.sort_by_key(|k| k.public());
    in_set.dedup_by_key(|k| k.public());
    match in_set.as_slice() {
        [] => Choice::None,
        [one] => Choice::One((*one).clone()),
        many => Choice::Conflict(many.iter().map(|k| k.public()).collect()),
    }
}

/// The hex public keys of `keys`, as the `key` label of `jialing_validator_key_active`.
pub fn labels(keys: &[Keypair]) -> Vec<String> {
    keys.iter().map(|k| k.public().to_hex()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use jialing_core::Validator;

    use super::*;

    fn set(keys: &[&Keypair]) -> ValidatorSet {
        ValidatorSet::new(keys.iter().map(|k| Validator { public_key: k.public(), power: 1 }).collect()).unwrap()
    }

    #[test]
    fn the_key_in_the_set_signs_at_each_height() {
        let old = Keypair::from_label("v/old");
        let new = Keypair::from_label("v/new");
        let other = Keypair::from_label("v/other");
        let held = [old.clone(), new.clone()];
        // Before the rotation takes effect: the old key; after it: the new key.
        assert_eq!(choose(&held, &set(&[&old, &other])).public(), Some(old.public()));
        assert_eq!(choose(&held, &set(&[&new, &other])).public(), Some(new.public()));
        // The order of the config list does not matter.
        let reversed = [new.clone(), old.clone()];
        assert_eq!(choose(&reversed, &set(&[&old, &other])).public(), Some(old.public()));
    }

    #[test]
    fn no_key_in_the_set_is_a_full_node() {
        let held = [Keypair::from_label("v/a")];
        assert!(matches!(choose(&held, &set(&[&Keypair::from_label("v/b")])), Choice::None));
        assert!(matches!(choose(&[], &set(&[&Keypair::from_label("v/b")])), Choice::None));
    }

    #[test]
    fn two_held_keys_in_one_set_sign_nothing() {
        let a = Keypair::from_label("v/a");
        let b = Keypair::from_label("v/b");
        let c = choose(&[a.clone(), b.clone()], &set(&[&a, &b]));
        assert!(c.key().is_none(), "a node must never sign with two keys of one set");
        let Choice::Conflict(keys) = c else { panic!("not a conflict") };
        assert_eq!(keys.len(), 2);
        // The same key listed twice is one key, not a conflict.
        assert_eq!(choose(&[a.clone(), a.clone()], &set(&[&a, &b])).public(), Some(a.public()));
    }
}
