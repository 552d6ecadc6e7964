//! Reading committed state, and the in-memory map used by tests and replays.

use std::cell::RefCell;
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

/// Most bytes of values [`RememberedReads`] keeps for one block.
pub const MAX_REMEMBERED_BYTES: usize = 8 << 20;

/// Committed state read through a memory of what one block has read so far.
///
/// Committed state does not change while a block executes (the block's own writes are
/// an overlay above this), so a value read once is the value for the rest of the block.
/// A block's transactions read the same few records again and again: every new lot
/// names its product, and each read of the store walks its in-memory table and sorted
/// tables (for 20,000 lots of one product, 20,000 walks). Only present values are
/// kept, up to [`MAX_REMEMBERED_BYTES`]: an absent key is usually a new object's id,
/// read once. What is returned is what the inner view returns, so the verdicts do not
/// depend on it.
pub struct RememberedReads<'a> {
    inner: &'a dyn StateView,
    seen: RefCell<Remembered>,
}

/// The values kept, and their bytes (keys and values).
#[derive(Default)]
struct Remembered {
    values: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl<'a> RememberedReads<'a> {
    /// Reads through `inner`, remembering present values.
    pub fn new(inner: &'a dyn StateView) -> Self {
        RememberedReads { inner, seen: RefCell::new(Remembered::default()) }
    }
}

impl StateView for RememberedReads<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if let Some(v) = self.seen.borrow().values.get(key) {
            return Ok(Some(v.clone()));
        }
        let value = self.inner.get(key)?;
        if let Some(v) = &value {
            let mut seen = self.seen.borrow_mut();
            let size = key.len() + v.len();
            if seen.bytes + size <= MAX_REMEMBERED_BYTES {
                seen.bytes += size;
                seen.values.insert(key.to_vec(), v.clone());
            }
        }
        Ok(value)
    }
}

/// A state reader as a closure (committed state, or committed state under overlays).
pub type StateRead<'a> = dyn Fn(&[u8]) -> Result<Option<Vec<u8>>, String> + 'a;

/// A block's state writes: key → new value, or `None` to delete. Sorted by key.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::cell::Cell;

    use super::*;

    /// A view that counts the reads that reach it.
    struct Counting {
        state: MemState,
        reads: Cell<usize>,
    }

    impl StateView for Counting {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
            self.reads.set(self.reads.get() + 1);
            self.state.get(key)
        }
    }

    #[test]
    fn a_present_value_is_read_from_the_store_once_per_block() {
        let mut state = MemState::default();
        state.map.insert(b"product/apple".to_vec(), b"record".to_vec());
        state.map.insert(b"big".to_vec(), vec![7; MAX_REMEMBERED_BYTES]);
        let inner = Counting { state, reads: Cell::new(0) };
        let view = RememberedReads::new(&inner);
        for _ in 0..100 {
            assert_eq!(view.get(b"product/apple").unwrap(), Some(b"record".to_vec()));
        }
        assert_eq!(inner.reads.get(), 1, "read once, then remembered");
        // Absent keys are not remembered (each new object's id is read once).
        for _ in 0..3 {
            assert_eq!(view.get(b"lot/new").unwrap(), None);
        }
        assert_eq!(inner.reads.get(), 4);
        // A value over the budget is returned but not kept.
        for _ in 0..2 {
            assert_eq!(view.get(b"big").unwrap().map(|v| v.len()), Some(MAX_REMEMBERED_BYTES));
        }
        assert_eq!(inner.reads.get(), 6);
    }
}
