//! The credit register's stored objects and their states.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

/// Who a record or commitment is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An organisation, by its Unified Social Credit Code.
    Org(Uscc),
    /// A natural person, by the salted SHA-256 hash of their ID number (the ledger never
    /// holds the number itself).
    Person(Hash),
}

impl Subject {
    /// The subject's id in keys and index tags: the USCC (18 characters) or the
    /// person hash (64 hex digits).
    pub fn id(&self) -> String {
        match self {
            Subject::Org(u) => u.to_string(),
            Subject::Person(h) => h.to_hex(),
        }
    }
}

/// Category of a dishonesty record.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Minor: never published; effect lasts at most the minor maximum.
    Minor,
    /// General: published between the general minimum and maximum.
    General,
    /// Serious (licence revocation, suspension, employment bans, serious-dishonesty
    /// list): published between the serious minimum and maximum.
    Serious,
}

/// The field a record belongs to; some fields carry a longer minimum publication.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Food safety.
    Food,
    /// Drugs.
    Drugs,
    /// Special equipment (boilers, lifts, pressure vessels ...).
    SpecialEquipment,
    /// Work safety.
    WorkSafety,
    /// Fire safety.
    Fire,
    /// Anything else.
    Other,
}

impl Domain {
    /// Whether the special-domain minimum publication period applies.
    pub fn is_special(self) -> bool {
        !matches!(self, Domain::Other)
    }
}

/// The stored status of a record. What a reader sees also depends on block time: see
/// [`Phase`] and [`crate::credit::phase`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded, not published (minor records).
    Recorded,
    /// In publication.
    Published,
    /// A repair application is waiting to be accepted.
    Applied,
    /// The application was accepted; the decision deadline runs.
    Accepted,
    /// The application was returned as incomplete; the subject may apply again.
    Incomplete,
    /// Repair was denied; publication goes on and the subject may apply again.
    Denied,
    /// Repaired: publication and joint punishment stop; the record is kept.
    Repaired,
    /// Repair was revoked because the commitment proved false; published again.
    Reinstated,
    /// An objection was upheld: the record is withdrawn from publication (kept).
    Withdrawn,
}

/// What a reader sees at a given block time: the stored [`Status`] refined by time
/// (eligible after the minimum, expired after the maximum).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Minor record: recorded, never published.
    Recorded,
    /// Published, minimum period not yet reached.
    Published,
    /// Published and the minimum period reached: repair may be applied for.
    Eligible,
    /// Application waiting to be accepted.
    Applied,
    /// Application accepted, decision pending.
    Accepted,
    /// Application returned as incomplete.
    Incomplete,
    /// Repair denied (still published).
    Denied,
    /// Repaired.
    Repaired,
    /// Reinstated after a false commitment (published again).
    Reinstated,
    /// Past its maximum: publication stopped by itself.
    Expired,
    /// Withdrawn after an upheld objection.
    Withdrawn,
}

/// Which list.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// The serious-dishonesty list (joint punishment).
    SeriousDishonesty,
    /// The watch list (重点关注名单).
    Watch,
}

/// A record's place on a list.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ListEntry {
    /// Organisation that entered it.
    pub by: Uscc,
    /// Block time of entry (ms).
    pub entered_ms: u64,
    /// Reasons given.
    pub reasons: String,
}

/// The rule version applied to a record and the window computed from it at recording.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Window {
    /// The [`crate::credit::CreditRules::version`] in force when recorded.
    pub rules_version: u32,
    /// Start of publication (block time of recording).
    pub from_ms: u64,
    /// Repair may be applied for from this block time on (minimum reached).
    pub min_until_ms: u64,
    /// Publication (for minor records: the effect) stops by itself at this block time.
    pub max_until_ms: u64,
    /// Working days the authority has to decide after accepting an application.
    pub decision_working_days: u32,
    /// Time-zone offset (minutes) used for months and working days.
    pub utc_offset_minutes: i32,
}

/// The authority's decision on an application.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Decision {
    /// Approved (repaired) or denied.
    pub approved: bool,
    /// Reasons given.
    pub reasons: String,
    /// Deciding organisation.
    pub by: Uscc,
    /// Block time of the decision.
    pub decided_ms: u64,
    /// Whether it came after the deadline.
    pub late: bool,
}

/// The latest repair application on a record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Application {
    /// Organisation that filed it (the subject, or the authority for a person).
    pub filed_by: Uscc,
    /// Block time of filing.
    pub applied_ms: u64,
    /// SHA-256 of the proof materials (obligations fulfilled).
    pub materials: Vec<Hash>,
    /// The credit commitment it relies on.
    pub commitment_id: String,
    /// When it was accepted.
    pub accepted_ms: Option<u64>,
    /// The decision deadline (set on acceptance).
    pub deadline_ms: Option<u64>,
    /// What was missing, if returned as incomplete.
    pub incomplete_reasons: Option<String>,
    /// The decision, once made.
    pub decision: Option<Decision>,
}

/// Why a repaired record was reinstated.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reinstatement {
    /// Reinstating organisation.
    pub by: Uscc,
    /// Block time.
    pub reinstated_ms: u64,
    /// Reasons.
    pub reasons: String,
    /// SHA-256 of the evidence that the commitment was false.
    pub evidence: Hash,
}

/// The outcome of an objection.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Resolution {
    /// Upheld (record withdrawn) or dismissed.
    pub upheld: bool,
    /// Reasons.
    pub reasons: String,
    /// Resolving organisation.
    pub by: Uscc,
    /// Block time.
    pub resolved_ms: u64,
}

/// An objection to a record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Objection {
    /// Filing organisation.
    pub by: Uscc,
    /// Block time of filing.
    pub filed_ms: u64,
    /// Grounds.
    pub reasons: String,
    /// SHA-256 of the supporting evidence.
    pub evidence: Hash,
    /// The outcome, once resolved.
    pub resolution: Option<Resolution>,
}

/// A dishonesty record (`credit/record/{id}`). Never deleted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DishonestyRecord {
    /// Record id (the authority's decision number or another unique code).
    pub id: String,
    /// Who it is about.
    pub subject: Subject,
    /// Category.
    pub category: Category,
    /// Field.
    pub domain: Domain,
    /// What was done, as published.
    pub summary: String,
    /// The recording authority (the signer's organisation).
    pub authority: Uscc,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
    /// Date of the decision (ms), not after recording.
    pub decision_date_ms: u64,
    /// Block height of recording.
    pub recorded_height: u64,
    /// Rule version and publication window.
    pub window: Window,
    /// Stored status.
    pub status: Status,
    /// On the serious-dishonesty list.
    pub serious_list: Option<ListEntry>,
    /// On the watch list.
    pub watch_list: Option<ListEntry>,
    /// The latest repair application.
    pub application: Option<Application>,
    /// Block time it was repaired, if it was.
    pub repaired_ms: Option<u64>,
    /// The reinstatement, if any.
    pub reinstatement: Option<Reinstatement>,
    /// Objections, in filing order.
    pub objections: Vec<Objection>,
}

/// A published credit commitment (`credit/commitment/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Commitment {
    /// Commitment id.
    pub id: String,
    /// Who promises.
    pub subject: Subject,
    /// Organisation that submitted it (the subject itself, or the authority filing a
    /// person's signed commitment).
    pub filed_by: Uscc,
    /// The promise, as published.
    pub promise: String,
    /// SHA-256 of the signed commitment document.
    pub document: Hash,
    /// Block time of publication.
    pub made_ms: u64,
    /// Set when a record relying on it was reinstated because it proved false.
    pub proven_false_ms: Option<u64>,
}

/// Per-subject index (`credit/subject/{subject id}`): the ids of its records and
/// commitments, so rules (joint punishment) need only point reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubjectIndex {
    /// Record ids, in recording order.
    pub records: Vec<String>,
    /// Commitment ids, in publication order.
    pub commitments: Vec<String>,
    /// Government commitment ids (government bodies only), in recording order.
    pub gov_commitments: Vec<String>,
}
