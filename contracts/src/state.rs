//! Reading committed state, and the in-memory map used by tests and replays.

use std::collections::BTreeMap;

/// Read access to the committed state (the node implements it over its store).
pub trait StateView {
    /// The value at `key`, if any. An `Err` is a storage failure, never "absent".
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
}

/// A state held in a sorted map: for tests, simulations and audit replays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState {
    /// The entries.
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemState {
    /// Applies a block's writes (`None` deletes).
    pub fn apply(&mut self, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        for (k, v) in writes {
            match v {
                Some(v) => {
                    self.map.insert(k.clone(), v.clone());
                }
                None => {
                    self.map.remove(k);
                }
            }
        }
    }
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(self.map.get(key).cloned())
    }
}

/// A state reader as a closure (committed state, or committed state under overlays).
pub type StateRead<'a> = dyn Fn(&[u8]) -> Result<Option<Vec<u8>>, String> + 'a;

/// A block's state writes: key → new value, or `None` to delete. Sorted by key.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
