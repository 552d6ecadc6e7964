//! State keys of the credit register and typed access to them.
//!
//! - `credit/record/{id}` -> [`DishonestyRecord`]
//! - `credit/commitment/{id}` -> [`Commitment`]
//! - `credit/subject/{subject id}` -> [`SubjectIndex`]
//! - `credit/gov/{id}` -> [`super::government::GovCommitment`]
//! - `credit/grade/{subject id}` -> [`super::grading::GradeRecord`]
//! - `credit/red/{uscc}` -> [`super::red_list::RedEntry`]
//! - `credit/lists/{serious|watch|red|pending_decisions}` -> `Vec<String>`: the ids on
//!   each list (record ids; USCCs for the red list; accepted applications awaiting a
//!   decision), so the public lists are point reads

use super::types::{Commitment, DishonestyRecord, SubjectIndex};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::keys;

/// Key of a record.
pub fn record_key(id: &str) -> Vec<u8> {
    keys::with_id("credit/record/", id)
}

/// Key of a commitment.
pub fn commitment_key(id: &str) -> Vec<u8> {
    keys::with_id("credit/commitment/", id)
}

/// Key of a subject's index.
pub fn index_key(subject_id: &str) -> Vec<u8> {
    keys::with_id("credit/subject/", subject_id)
}

/// Key of a government commitment.
pub fn gov_commitment_key(id: &str) -> Vec<u8> {
    keys::with_id("credit/gov/", id)
}

/// Key of a list's ids (`serious`, `watch`, `red`, `pending_decisions`).
pub fn list_key(name: &str) -> Vec<u8> {
    keys::with_id("credit/lists/", name)
}

/// Adds `id` to the list `name` (once).
pub fn list_add(tx: &mut Tx<'_>, name: &str, id: &str) -> Result<(), ContractError> {
    let mut ids: Vec<String> = tx.get(&list_key(name))?.unwrap_or_default();
    if !ids.iter().any(|x| x == id) {
        ids.push(id.to_string());
        tx.put(list_key(name), &ids);
    }
    Ok(())
}

/// Removes `id` from the list `name` (if there).
pub fn list_remove(tx: &mut Tx<'_>, name: &str, id: &str) -> Result<(), ContractError> {
    let mut ids: Vec<String> = tx.get(&list_key(name))?.unwrap_or_default();
    if let Some(i) = ids.iter().position(|x| x == id) {
        ids.remove(i);
        tx.put(list_key(name), &ids);
    }
    Ok(())
}

/// Loads a record that must exist.
pub fn load_record(tx: &Tx<'_>, id: &str) -> Result<DishonestyRecord, ContractError> {
    tx.require("credit record", id, &record_key(id))
}

/// Saves a record.
pub fn save_record(tx: &mut Tx<'_>, record: &DishonestyRecord) {
    tx.put(record_key(&record.id), record);
}

/// Loads a commitment that must exist.
pub fn load_commitment(tx: &Tx<'_>, id: &str) -> Result<Commitment, ContractError> {
    tx.require("credit commitment", id, &commitment_key(id))
}

/// Loads a subject's index, if it has one.
pub fn load_index(tx: &Tx<'_>, subject_id: &str) -> Result<Option<SubjectIndex>, ContractError> {
    tx.get(&index_key(subject_id))
}

/// Saves a subject's index.
pub fn save_index(tx: &mut Tx<'_>, subject_id: &str, index: &SubjectIndex) {
    tx.put(index_key(subject_id), index);
}

/// Checks an id for a new object: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub fn check_id(field: &'static str, id: &str) -> Result<(), ContractError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > 64 || !id.chars().all(ok_char) {
        return Err(ContractError::InvalidArgument {
            field,
            reason: format!("{id:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'"),
        });
    }
    Ok(())
}
