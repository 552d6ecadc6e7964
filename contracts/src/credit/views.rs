//! Pure read models of a record at a block time, for rules and for the node's API:
//! the phase, whether it is published, the public view (records in publication only,
//! minor never) and the full view for authorised roles (authorities, auditors).

use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use super::types::{Category, DishonestyRecord, Domain, Phase, Status, Subject};

/// The record's phase at block time `now_ms`: repaired and withdrawn records stay so;
/// any other record is expired from its maximum on; a published record is eligible
/// from its minimum on.
pub fn phase(r: &DishonestyRecord, now_ms: u64) -> Phase {
    match r.status {
        Status::Repaired => Phase::Repaired,
        Status::Withdrawn => Phase::Withdrawn,
        _ if now_ms >= r.window.max_until_ms => Phase::Expired,
        Status::Recorded => Phase::Recorded,
        Status::Published if now_ms >= r.window.min_until_ms => Phase::Eligible,
        Status::Published => Phase::Published,
        Status::Applied => Phase::Applied,
        Status::Accepted => Phase::Accepted,
        Status::Incomplete => Phase::Incomplete,
        Status::Denied => Phase::Denied,
        Status::Reinstated => Phase::Reinstated,
    }
}

/// Whether the record is in publication at `now_ms` (never for minor records).
pub fn is_published(r: &DishonestyRecord, now_ms: u64) -> bool {
    r.category != Category::Minor
        && matches!(
            phase(r, now_ms),
            Phase::Published
                | Phase::Eligible
                | Phase::Applied
                | Phase::Accepted
                | Phase::Incomplete
                | Phase::Denied
                | Phase::Reinstated
        )
}

/// Whether this record puts its subject under joint punishment at `now_ms`: serious,
/// on the serious-dishonesty list, published (so neither repaired, withdrawn nor
/// expired).
pub fn joint_punishment(r: &DishonestyRecord, now_ms: u64) -> bool {
    r.category == Category::Serious && r.serious_list.is_some() && is_published(r, now_ms)
}

/// Whether an accepted application has passed its decision deadline undecided.
pub fn is_overdue(r: &DishonestyRecord, now_ms: u64) -> bool {
    phase(r, now_ms) == Phase::Accepted
        && r.application.as_ref().and_then(|a| a.deadline_ms).is_some_and(|d| now_ms >= d)
}

/// What the public sees of a record in publication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRecordView {
    /// Record id.
    pub id: String,
    /// Subject (a person only as the salted hash).
    pub subject: Subject,
    /// Category.
    pub category: Category,
    /// Field.
    pub domain: Domain,
    /// What was done.
    pub summary: String,
    /// Recording authority.
    pub authority: Uscc,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
    /// Date of the decision.
    pub decision_date_ms: u64,
    /// Published since.
    pub published_from_ms: u64,
    /// Publication ends by itself at.
    pub published_until_ms: u64,
    /// Phase now.
    pub phase: Phase,
    /// On the serious-dishonesty list.
    pub serious_list: bool,
    /// On the watch list.
    pub watch_list: bool,
    /// Rule version applied.
    pub rules_version: u32,
}

/// The public view of a record at `now_ms`: `None` unless it is in publication
/// (minor, repaired, withdrawn and expired records are not shown).
pub fn public_view(r: &DishonestyRecord, now_ms: u64) -> Option<PublicRecordView> {
    if !is_published(r, now_ms) {
        return None;
    }
    Some(PublicRecordView {
        id: r.id.clone(),
        subject: r.subject.clone(),
        category: r.category,
        domain: r.domain,
        summary: r.summary.clone(),
        authority: r.authority.clone(),
        decision_document: r.decision_document,
        decision_date_ms: r.decision_date_ms,
        published_from_ms: r.window.from_ms,
        published_until_ms: r.window.max_until_ms,
        phase: phase(r, now_ms),
        serious_list: r.serious_list.is_some(),
        watch_list: r.watch_list.is_some(),
        rules_version: r.window.rules_version,
    })
}

/// The full view for authorised roles: the stored record plus what time makes of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    /// The stored record.
    pub record: DishonestyRecord,
    /// Phase now.
    pub phase: Phase,
    /// In publication now.
    pub published: bool,
    /// The minimum period is reached (repair may be applied for, phase permitting).
    pub eligible: bool,
    /// The decision deadline of an accepted application.
    pub decision_deadline_ms: Option<u64>,
    /// An accepted application is past its deadline undecided.
    pub overdue: bool,
    /// This record puts its subject under joint punishment now.
    pub joint_punishment: bool,
}

/// The full view of a record at `now_ms`.
pub fn full_view(r: &DishonestyRecord, now_ms: u64) -> RecordView {
    RecordView {
        record: r.clone(),
        phase: phase(r, now_ms),
        published: is_published(r, now_ms),
        eligible: now_ms >= r.window.min_until_ms,
        decision_deadline_ms: r.application.as_ref().and_then(|a| a.deadline_ms),
        overdue: is_overdue(r, now_ms),
        joint_punishment: joint_punishment(r, now_ms),
    }
}
