//! Credit repair: application, acceptance or return as incomplete, decision within the
//! deadline, and reinstatement when the commitment proves false.

use jialing_core::Role;

use super::calendar;
use super::payloads::{AcceptApplication, ApplyRepair, DecideRepair, MarkIncomplete, Reinstate};
use super::records::{check_hash, finish};
use super::rules::{
    rule_commitment_valid, rule_decided_by_recorder, rule_materials_required, rule_phase_allows,
    rule_repair_after_minimum, rule_subject_only,
};
use super::store;
use super::types::{Application, Decision, DishonestyRecord, Phase, Reinstatement, Status};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::decode_payload;

/// The list of accepted applications awaiting a decision (`credit/lists/pending_decisions`),
/// from which the public list of overdue decisions is read.
pub const PENDING_DECISIONS: &str = "pending_decisions";

/// Phases from which the subject may apply (the minimum period permitting).
pub const APPLICABLE: &[Phase] =
    &[Phase::Recorded, Phase::Published, Phase::Eligible, Phase::Incomplete, Phase::Denied, Phase::Reinstated];

fn load_for_decision(tx: &Tx<'_>, id: &str) -> Result<DishonestyRecord, ContractError> {
    let r = store::load_record(tx, id)?;
    rule_decided_by_recorder(&r, tx.org(), tx.has_role(Role::CreditAuthority))?;
    Ok(r)
}

fn application_mut(r: &mut DishonestyRecord) -> Result<&mut Application, ContractError> {
    let id = r.id.clone();
    r.application.as_mut().ok_or_else(|| ContractError::Corrupt {
        key: format!("credit/record/{id}"),
        reason: "the record's status needs an application but it holds none".into(),
    })
}

/// `credit.apply`.
pub fn run_apply(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: ApplyRepair = decode_payload(payload)?;
    tx.check_list("materials", p.materials.len())?;
    for m in &p.materials {
        check_hash("materials", m)?;
    }
    let mut r = store::load_record(tx, &p.record_id)?;
    let now = tx.time_ms();
    rule_subject_only(&r.subject, tx.org(), tx.has_role(Role::CreditAuthority), &r.authority)?;
    rule_phase_allows(&r, now, "applying for repair", APPLICABLE)?;
    rule_repair_after_minimum(&r, now)?;
    rule_materials_required(&p.materials)?;
    let c = store::load_commitment(tx, &p.commitment_id)?;
    rule_commitment_valid(&c, &r.subject)?;
    r.application = Some(Application {
        filed_by: tx.org().clone(),
        applied_ms: now,
        materials: p.materials,
        commitment_id: p.commitment_id,
        accepted_ms: None,
        deadline_ms: None,
        incomplete_reasons: None,
        decision: None,
    });
    r.status = Status::Applied;
    finish(tx, &r)
}

/// `credit.accept`: starts the decision deadline (working days of the record's rules).
pub fn run_accept(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: AcceptApplication = decode_payload(payload)?;
    let mut r = load_for_decision(tx, &p.record_id)?;
    let now = tx.time_ms();
    rule_phase_allows(&r, now, "accepting an application", &[Phase::Applied])?;
    let days = tx.params().credit.calendar.days().map_err(|e| ContractError::rule("credit.calendar_valid", e))?;
    let deadline =
        calendar::working_days_deadline(now, r.window.decision_working_days, r.window.utc_offset_minutes, &days);
    let a = application_mut(&mut r)?;
    a.accepted_ms = Some(now);
    a.deadline_ms = Some(deadline);
    r.status = Status::Accepted;
    store::list_add(tx, PENDING_DECISIONS, &r.id)?;
    finish(tx, &r)
}

/// `credit.mark_incomplete`.
pub fn run_mark_incomplete(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: MarkIncomplete = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut r = load_for_decision(tx, &p.record_id)?;
    rule_phase_allows(&r, tx.time_ms(), "returning an application", &[Phase::Applied])?;
    application_mut(&mut r)?.incomplete_reasons = Some(p.reasons);
    r.status = Status::Incomplete;
    finish(tx, &r)
}

/// `credit.decide`: a decision after the deadline is still recorded (refusing it would
/// only hurt the subject) but marked late; the record's view shows an undecided
/// application past its deadline as overdue.
pub fn run_decide(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: DecideRepair = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut r = load_for_decision(tx, &p.record_id)?;
    let now = tx.time_ms();
    rule_phase_allows(&r, now, "deciding", &[Phase::Accepted])?;
    let by = tx.org().clone();
    let a = application_mut(&mut r)?;
    let late = a.deadline_ms.is_some_and(|d| now >= d);
    a.decision = Some(Decision { approved: p.approve, reasons: p.reasons, by, decided_ms: now, late });
    if p.approve {
        r.status = Status::Repaired;
        r.repaired_ms = Some(now);
    } else {
        r.status = Status::Denied;
    }
    store::list_remove(tx, PENDING_DECISIONS, &r.id)?;
    finish(tx, &r)
}

/// `credit.reinstate`: publication (and joint punishment, if listed) resumes until the
/// record's original maximum; the commitment the repair relied on is marked false.
pub fn run_reinstate(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Reinstate = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    check_hash("evidence", &p.evidence)?;
    let mut r = load_for_decision(tx, &p.record_id)?;
    let now = tx.time_ms();
    rule_phase_allows(&r, now, "reinstating", &[Phase::Repaired])?;
    let commitment_id = match &r.application {
        Some(a) => a.commitment_id.clone(),
        None => {
            return Err(ContractError::Corrupt {
                key: format!("credit/record/{}", r.id),
                reason: "repaired without an application".into(),
            });
        }
    };
    let mut c = store::load_commitment(tx, &commitment_id)?;
    if c.proven_false_ms.is_none() {
        c.proven_false_ms = Some(now);
        tx.put(store::commitment_key(&commitment_id), &c);
    }
    r.reinstatement =
        Some(Reinstatement { by: tx.org().clone(), reinstated_ms: now, reasons: p.reasons, evidence: p.evidence });
    r.status = Status::Reinstated;
    finish(tx, &r)
}
