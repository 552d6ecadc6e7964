//! A small read/write view over state used by governance actions, so the same action
//! code validates a proposal (against a scratch overlay inside a transaction) and
//! applies it (at block start, into the block's writes).

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::encoding;

use crate::error::ContractError;
use crate::executor::Tx;
use crate::state::StateView;

/// Point reads and writes of raw state values.
pub trait Store {
    /// Reads a raw value through all overlays.
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ContractError>;
    /// Writes a raw value.
    fn write(&mut self, key: Vec<u8>, value: Vec<u8>);
}

/// Typed read.
pub fn get<T: BorshDeserialize>(s: &dyn Store, key: &[u8]) -> Result<Option<T>, ContractError> {
    match s.read(key)? {
        Some(bytes) => encoding::decode("state value", &bytes).map(Some).map_err(|e| ContractError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: e.to_string(),
        }),
        None => Ok(None),
    }
}

/// Typed write.
pub fn put<T: BorshSerialize>(s: &mut dyn Store, key: Vec<u8>, value: &T) {
    s.write(key, encoding::encode(value));
}

/// Scratch overlay over a transaction: reads see the transaction, writes are kept
/// here and discarded (used to validate an action when it is proposed).
pub struct Scratch<'t, 'a> {
    /// The transaction read through.
    pub tx: &'t Tx<'a>,
    /// Discarded writes.
    pub writes: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Store for Scratch<'_, '_> {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ContractError> {
        match self.writes.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None => self.tx.get_raw(key),
        }
    }
    fn write(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, value);
    }
}

/// The block-start view: committed state under the block's writes. Writes made by
/// one proposal land in `pending` and are merged only if the whole action succeeds.
pub struct BlockStart<'a> {
    /// Committed state.
    pub base: &'a dyn StateView,
    /// The block's writes so far.
    pub writes: &'a BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// This action's writes.
    pub pending: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Store for BlockStart<'_> {
    fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ContractError> {
        if let Some(v) = self.pending.get(key) {
            return Ok(Some(v.clone()));
        }
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key).map_err(ContractError::Storage),
        }
    }
    fn write(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, value);
    }
}
