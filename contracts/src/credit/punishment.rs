//! Joint punishment (失信联合惩戒): whether a subject has a serious record on the
//! serious-dishonesty list that is published and not repaired. Point reads only: the
//! subject's index, then each record it names. The same logic serves contracts (through
//! a transaction's reads) and the node (through committed state).

use borsh::BorshDeserialize;
use jialing_core::{Uscc, encoding};

use super::store;
use super::types::{DishonestyRecord, SubjectIndex};
use super::views;
use crate::error::ContractError;
use crate::state::StateView;

pub(crate) fn decode<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, ContractError> {
    encoding::decode("credit state", bytes)
        .map_err(|e| ContractError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

/// A point read of state: the value at a key, if any.
pub type ReadFn<'a> = dyn Fn(&[u8]) -> Result<Option<Vec<u8>>, ContractError> + 'a;

/// Joint punishment of the subject with id `subject_id` at `now_ms`, reading state
/// through `read`.
pub fn joint_punishment_with(read: &ReadFn<'_>, subject_id: &str, now_ms: u64) -> Result<bool, ContractError> {
    let key = store::index_key(subject_id);
    let Some(bytes) = read(&key)? else {
        return Ok(false);
    };
    let index: SubjectIndex = decode(&key, &bytes)?;
    for id in &index.records {
        let key = store::record_key(id);
        let bytes = read(&key)?.ok_or_else(|| ContractError::Corrupt {
            key: String::from_utf8_lossy(&key).into_owned(),
            reason: format!("subject {subject_id}'s index names record {id}, which is missing"),
        })?;
        let record: DishonestyRecord = decode(&key, &bytes)?;
        if views::joint_punishment(&record, now_ms) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Joint punishment of organisation `subject` at `now_ms` in committed state (for the
/// node's API and for tests).
pub fn joint_punishment_in_state(state: &dyn StateView, subject: &Uscc, now_ms: u64) -> Result<bool, ContractError> {
    joint_punishment_with(&|k| state.get(k).map_err(ContractError::Storage), subject.as_str(), now_ms)
}
