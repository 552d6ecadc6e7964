//! Arguments of the credit contract's methods.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Hash;
use serde::{Deserialize, Serialize};

use super::types::{Category, Domain, ListKind, Subject};
use crate::registry::CallPayload;

macro_rules! payload {
    ($t:ty, $m:literal) => {
        impl CallPayload for $t {
            const CONTRACT: &'static str = "credit";
            const METHOD: &'static str = $m;
        }
    };
}

/// `credit.record`: an authority records a dishonesty decision. Publication starts at
/// block time (minor records are never published).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RecordDishonesty {
    /// New record id: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    pub id: String,
    /// Who it is about.
    pub subject: Subject,
    /// Category.
    pub category: Category,
    /// Field.
    pub domain: Domain,
    /// What was done, as it will be published.
    pub summary: String,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
    /// Date of the decision (ms since the Unix epoch), not after block time.
    pub decision_date_ms: u64,
}
payload!(RecordDishonesty, "record");

/// `credit.commit`: publish a credit commitment. Without `person`, the signer's
/// organisation promises; with `person` (salted ID hash), an authority files that
/// person's signed commitment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Commit {
    /// New commitment id.
    pub id: String,
    /// The promise.
    pub promise: String,
    /// SHA-256 of the signed commitment document.
    pub document: Hash,
    /// A person subject, when an authority files for a person.
    pub person: Option<Hash>,
}
payload!(Commit, "commit");

/// `credit.apply`: the subject applies for repair.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ApplyRepair {
    /// The record.
    pub record_id: String,
    /// SHA-256 of each proof that the obligations are fulfilled (at least one).
    pub materials: Vec<Hash>,
    /// The subject's published credit commitment.
    pub commitment_id: String,
}
payload!(ApplyRepair, "apply");

/// `credit.accept`: the deciding authority accepts a complete application.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AcceptApplication {
    /// The record.
    pub record_id: String,
}
payload!(AcceptApplication, "accept");

/// `credit.mark_incomplete`: the deciding authority returns an application.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MarkIncomplete {
    /// The record.
    pub record_id: String,
    /// What is missing.
    pub reasons: String,
}
payload!(MarkIncomplete, "mark_incomplete");

/// `credit.decide`: approve (the record is repaired) or deny an accepted application.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DecideRepair {
    /// The record.
    pub record_id: String,
    /// Approve or deny.
    pub approve: bool,
    /// Reasons (required).
    pub reasons: String,
}
payload!(DecideRepair, "decide");

/// `credit.reinstate`: a repaired record is reinstated because the commitment proved
/// false; the commitment is marked false.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Reinstate {
    /// The record.
    pub record_id: String,
    /// Reasons (required).
    pub reasons: String,
    /// SHA-256 of the evidence.
    pub evidence: Hash,
}
payload!(Reinstate, "reinstate");

/// `credit.set_list`: enter a record on a list, or remove it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SetList {
    /// The record.
    pub record_id: String,
    /// Which list.
    pub list: ListKind,
    /// Enter (true) or exit (false).
    pub enter: bool,
    /// Reasons (required).
    pub reasons: String,
}
payload!(SetList, "set_list");

/// `credit.object`: the subject objects to a record.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Object {
    /// The record.
    pub record_id: String,
    /// Grounds (required).
    pub reasons: String,
    /// SHA-256 of the supporting evidence.
    pub evidence: Hash,
}
payload!(Object, "object");

/// `credit.resolve_objection`: uphold (withdraw the record) or dismiss an objection.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResolveObjection {
    /// The record.
    pub record_id: String,
    /// Index of the objection in the record's list (0 = first).
    pub objection: u32,
    /// Uphold or dismiss.
    pub upheld: bool,
    /// Reasons (required).
    pub reasons: String,
}
payload!(ResolveObjection, "resolve_objection");

/// `credit.log_query`: an authority or auditor logs a restricted query before the node
/// answers it (domain.md: "every restricted query is itself logged"). The transaction
/// itself is the log entry; it is indexed under the record and the subject named.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LogQuery {
    /// The record viewed, if one.
    pub record_id: Option<String>,
    /// The subject whose records were viewed, if one (USCC or person hash).
    pub subject_id: Option<String>,
    /// Why (case number, audit reference ...).
    pub purpose: String,
}
payload!(LogQuery, "log_query");

/// `credit.set_red_list`: the credit authority enters an organisation on the red list
/// (守信激励名单) or removes it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SetRedList {
    /// The organisation.
    pub subject: jialing_core::Uscc,
    /// Enter (true) or exit (false).
    pub enter: bool,
    /// Reasons (required).
    pub reasons: String,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
}
payload!(SetRedList, "set_red_list");

/// `credit.gov_commit`: the credit authority records a commitment of a government body
/// (政务承诺).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovCommit {
    /// New commitment id.
    pub id: String,
    /// The government body (a member organisation holding a regulator role).
    pub body: jialing_core::Uscc,
    /// The promise, as published.
    pub promise: String,
    /// SHA-256 of the document holding it (contract, plan, public notice).
    pub document: Hash,
    /// When it falls due (ms since the Unix epoch).
    pub due_ms: u64,
}
payload!(GovCommit, "gov_commit");

/// `credit.gov_outcome`: the credit authority records whether a government commitment
/// was kept or breached.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovOutcome {
    /// The commitment.
    pub id: String,
    /// Kept (true) or breached (false).
    pub kept: bool,
    /// Reasons (required).
    pub reasons: String,
    /// SHA-256 of the evidence.
    pub evidence: Hash,
}
payload!(GovOutcome, "gov_outcome");
