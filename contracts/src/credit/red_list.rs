//! The red list (守信激励名单): organisations the credit authority names as
//! trustworthy, kept by the credit authority alone.
//!
//! - Entry (`credit.red_list_entry`): an active member organisation whose grade is the
//!   best on the scale, with no record in publication or in effect.
//! - Exit: by the credit authority with reasons (`credit.set_red_list` with
//!   `enter = false`), or by itself: the public list shows an entry only while the
//!   subject still meets the entry conditions ([`still_eligible`]), so a new record or a
//!   breach takes it off the list at once.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use super::grading::{self, GradeRecord};
use super::payloads::SetRedList;
use super::records::check_hash;
use super::store;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::membership::Organisation;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// The red list's name in `credit/lists/`.
pub const RED: &str = "red";

/// A red-list entry (`credit/red/{uscc}`), kept after exit with the exit recorded.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RedEntry {
    /// The organisation.
    pub subject: Uscc,
    /// Entering organisation (the credit authority).
    pub by: Uscc,
    /// Block time of entry.
    pub entered_ms: u64,
    /// Reasons for entry.
    pub reasons: String,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
    /// Block time of an exit by decision, with its reasons.
    pub exited: Option<(u64, String)>,
}

/// Key of an organisation's red-list entry.
pub fn red_key(subject: &Uscc) -> Vec<u8> {
    crate::keys::with_id("credit/red/", subject.as_str())
}

/// Whether a grade still meets the red list's conditions: the best grade and nothing
/// in publication or in effect against the subject.
pub fn still_eligible(g: &GradeRecord) -> bool {
    let i = &g.inputs;
    g.rank == 0
        && i.minor_in_effect == 0
        && i.general_published == 0
        && i.serious_published == 0
        && i.commitments_broken == 0
        && i.government_breaches == 0
}

/// `credit.red_list_entry`.
pub fn rule_red_list_entry(subject: &Uscc, org: Option<&Organisation>, g: &GradeRecord) -> Result<(), ContractError> {
    if !org.is_some_and(|o| o.active) {
        return Err(ContractError::rule(
            "credit.red_list_entry",
            format!("{subject} is not an active member organisation"),
        ));
    }
    if !still_eligible(g) {
        return Err(ContractError::rule(
            "credit.red_list_entry",
            format!(
                "{subject} is graded {} (score {}, rule version {}) with {:?}; the red list takes the best grade with nothing in publication",
                g.grade, g.score, g.rule_version, g.inputs
            ),
        ));
    }
    Ok(())
}

/// `credit.set_red_list` (credit authority only, by the method's roles).
pub fn run_set_red_list(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: SetRedList = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    check_hash("decision_document", &p.decision_document)?;
    let now = tx.time_ms();
    let current: Option<RedEntry> = tx.get(&red_key(&p.subject))?;
    let on_list = current.as_ref().is_some_and(|e| e.exited.is_none());
    if p.enter {
        if on_list {
            return Err(ContractError::rule(
                "credit.invalid_transition",
                format!("{} is already on the red list", p.subject),
            ));
        }
        let org: Option<Organisation> = tx.get(&crate::keys::org(&p.subject))?;
        let g = grading::grade_in_tx(tx, p.subject.as_str())?;
        rule_red_list_entry(&p.subject, org.as_ref(), &g)?;
        let entry = RedEntry {
            subject: p.subject.clone(),
            by: tx.org().clone(),
            entered_ms: now,
            reasons: p.reasons,
            decision_document: p.decision_document,
            exited: None,
        };
        tx.put(red_key(&p.subject), &entry);
        store::list_add(tx, RED, p.subject.as_str())?;
    } else {
        let Some(mut entry) = current.filter(|_| on_list) else {
            return Err(ContractError::rule(
                "credit.invalid_transition",
                format!("{} is not on the red list", p.subject),
            ));
        };
        entry.exited = Some((now, p.reasons));
        tx.put(red_key(&p.subject), &entry);
        store::list_remove(tx, RED, p.subject.as_str())?;
    }
    tx.tag(TagKind::CreditSubject, p.subject.to_string());
    Ok(())
}
