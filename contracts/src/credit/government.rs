//! Government integrity records (政务诚信): commitments of government bodies and
//! whether they were kept, recorded by the credit authority, published like every
//! record about an organisation, and counted in the body's grade when breached.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use super::grading;
use super::payloads::{GovCommit, GovOutcome};
use super::records::check_hash;
use super::store::{self, check_id};
use super::types::Subject;
use crate::error::ContractError;
use crate::executor::Tx;
use crate::governance::REGULATOR_ROLES;
use crate::membership::Organisation;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// Whether a government commitment was kept.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovResult {
    /// Kept (true) or breached (false).
    pub kept: bool,
    /// Reasons.
    pub reasons: String,
    /// SHA-256 of the evidence.
    pub evidence: Hash,
    /// Recording organisation (the credit authority).
    pub by: Uscc,
    /// Block time it was recorded.
    pub decided_ms: u64,
}

/// A government body's commitment (`credit/gov/{id}`). Never deleted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GovCommitment {
    /// Id.
    pub id: String,
    /// The government body.
    pub body: Uscc,
    /// The promise.
    pub promise: String,
    /// SHA-256 of the document holding it.
    pub document: Hash,
    /// When it falls due.
    pub due_ms: u64,
    /// Recording organisation.
    pub recorded_by: Uscc,
    /// Block time recorded.
    pub recorded_ms: u64,
    /// Kept or breached, once known.
    pub outcome: Option<GovResult>,
}

/// `credit.government_body`: government integrity records are about government bodies:
/// active member organisations holding a regulator role.
pub fn rule_government_body(body: &Uscc, org: Option<&Organisation>) -> Result<(), ContractError> {
    match org {
        Some(o) if o.active && o.roles.iter().any(|r| REGULATOR_ROLES.contains(r)) => Ok(()),
        Some(_) => Err(ContractError::rule(
            "credit.government_body",
            format!(
                "{body} is not an active government body (no regulator role); record its commitments with credit.commit"
            ),
        )),
        None => Err(ContractError::NotFound { what: "member organisation", id: body.to_string() }),
    }
}

/// `credit.gov_commit`.
pub fn run_gov_commit(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: GovCommit = decode_payload(payload)?;
    check_id("id", &p.id)?;
    tx.check_text("promise", &p.promise, true)?;
    check_hash("document", &p.document)?;
    let org: Option<Organisation> = tx.get(&crate::keys::org(&p.body))?;
    rule_government_body(&p.body, org.as_ref())?;
    if tx.get_raw(&store::gov_commitment_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "government commitment", id: p.id });
    }
    let subject_id = Subject::Org(p.body.clone()).id();
    let c = GovCommitment {
        id: p.id.clone(),
        body: p.body,
        promise: p.promise,
        document: p.document,
        due_ms: p.due_ms,
        recorded_by: tx.org().clone(),
        recorded_ms: tx.time_ms(),
        outcome: None,
    };
    let mut index = store::load_index(tx, &subject_id)?.unwrap_or_default();
    tx.check_list("government commitments", index.gov_commitments.len() + 1)?;
    index.gov_commitments.push(p.id.clone());
    store::save_index(tx, &subject_id, &index);
    tx.put(store::gov_commitment_key(&p.id), &c);
    tx.tag(TagKind::CreditSubject, subject_id);
    Ok(())
}

/// `credit.gov_outcome`: once per commitment; a breach enters the body's grade.
pub fn run_gov_outcome(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: GovOutcome = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    check_hash("evidence", &p.evidence)?;
    let mut c: GovCommitment = tx.require("government commitment", &p.id, &store::gov_commitment_key(&p.id))?;
    if c.outcome.is_some() {
        return Err(ContractError::rule(
            "credit.invalid_transition",
            format!("government commitment {} already has its outcome", c.id),
        ));
    }
    c.outcome = Some(GovResult {
        kept: p.kept,
        reasons: p.reasons,
        evidence: p.evidence,
        by: tx.org().clone(),
        decided_ms: tx.time_ms(),
    });
    tx.put(store::gov_commitment_key(&p.id), &c);
    let subject_id = c.body.to_string();
    grading::refresh(tx, &subject_id)?;
    tx.tag(TagKind::CreditSubject, subject_id);
    Ok(())
}
