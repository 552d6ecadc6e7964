//! Recording dishonesty, and objections to records.

use jialing_core::{Hash, Role};

use super::payloads::{LogQuery, Object, RecordDishonesty, ResolveObjection};
use super::rules::{is_credit_authority, rule_decided_by_recorder, rule_decision_not_future, rule_subject_only};
use super::store::{self, check_id};
use super::types::{Category, DishonestyRecord, Objection, Resolution, Status, Subject, Window};
use super::{CreditRules, WindowStart, calendar, grading};
use crate::error::ContractError;
use crate::executor::Tx;
use crate::receipt::TagKind;
use crate::registry::decode_payload;

/// Refuses the all-zero hash (a digest that was never computed).
pub fn check_hash(field: &'static str, h: &Hash) -> Result<(), ContractError> {
    if *h == Hash::ZERO {
        return Err(ContractError::InvalidArgument {
            field,
            reason: "the all-zero hash is not a document digest".into(),
        });
    }
    Ok(())
}

/// The publication window of a new record under `rules`, starting at `from_ms` (the
/// decision date or the recording time, as [`CreditRules::window_from`] says).
/// The minimum is the category's minimum, raised to the special-domain minimum for
/// food, drugs, special equipment, work safety and fire, and never beyond the maximum.
/// Minor records have no minimum (repairable once the obligations are met).
pub fn window_for(
    rules: &CreditRules,
    category: Category,
    domain: super::Domain,
    from_ms: u64,
    recorder_is_market: bool,
) -> Window {
    let (min_months, max_months) = match category {
        Category::Minor => (0, rules.minor_max_months),
        Category::General => (rules.general_min_months, rules.general_max_months),
        Category::Serious => (rules.serious_min_months, rules.serious_max_months),
    };
    let min_months = match (category, domain.is_special()) {
        (Category::Minor, _) | (_, false) => min_months,
        (_, true) => min_months.max(rules.special_domain_min_months),
    };
    let min_months = min_months.min(max_months);
    let off = rules.utc_offset_minutes;
    Window {
        rules_version: rules.version,
        from_ms,
        min_until_ms: calendar::add_months(from_ms, min_months, off),
        max_until_ms: calendar::add_months(from_ms, max_months, off),
        decision_working_days: if recorder_is_market {
            rules.market_decision_working_days
        } else {
            rules.decision_working_days
        },
        utc_offset_minutes: off,
    }
}

/// `credit.record`.
pub fn run_record(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: RecordDishonesty = decode_payload(payload)?;
    check_id("id", &p.id)?;
    tx.check_text("summary", &p.summary, true)?;
    check_hash("decision_document", &p.decision_document)?;
    super::rules::rule_no_raw_resident_id(&p.subject, &p.summary)?;
    if let Subject::Person(h) = &p.subject {
        check_hash("subject", h)?;
    }
    let now = tx.time_ms();
    rule_decision_not_future(p.decision_date_ms, now)?;
    if tx.get_raw(&store::record_key(&p.id))?.is_some() {
        return Err(ContractError::AlreadyExists { what: "credit record", id: p.id });
    }
    let rules = tx.params().credit.in_force(now)?.clone();
    let from_ms = match rules.window_from {
        WindowStart::Decision => p.decision_date_ms,
        WindowStart::Recording => now,
    };
    let window = window_for(&rules, p.category, p.domain, from_ms, tx.has_role(Role::MarketRegulator));
    let subject_id = p.subject.id();
    let record = DishonestyRecord {
        id: p.id.clone(),
        subject: p.subject,
        category: p.category,
        domain: p.domain,
        summary: p.summary,
        authority: tx.org().clone(),
        decision_document: p.decision_document,
        decision_date_ms: p.decision_date_ms,
        recorded_height: tx.height(),
        window,
        status: if p.category == Category::Minor { Status::Recorded } else { Status::Published },
        serious_list: None,
        watch_list: None,
        application: None,
        repaired_ms: None,
        reinstatement: None,
        objections: Vec::new(),
    };
    let mut index = store::load_index(tx, &subject_id)?.unwrap_or_default();
    index.records.push(p.id.clone());
    store::save_index(tx, &subject_id, &index);
    store::save_record(tx, &record);
    grading::refresh(tx, &subject_id)?;
    tx.tag(TagKind::CreditSubject, subject_id);
    tx.tag(TagKind::CreditRecord, p.id);
    Ok(())
}

/// `credit.object`: objections are possible at any time, in any phase.
pub fn run_object(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: Object = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    check_hash("evidence", &p.evidence)?;
    let mut r = store::load_record(tx, &p.record_id)?;
    rule_subject_only(&r.subject, tx.org(), tx.has_role(Role::CreditAuthority), &r.authority)?;
    tx.check_list("objections", r.objections.len() + 1)?;
    r.objections.push(Objection {
        by: tx.org().clone(),
        filed_ms: tx.time_ms(),
        reasons: p.reasons,
        evidence: p.evidence,
        resolution: None,
    });
    finish(tx, &r)
}

/// `credit.resolve_objection`: an upheld objection withdraws the record (kept on the
/// ledger, no longer published, no joint punishment).
pub fn run_resolve_objection(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: ResolveObjection = decode_payload(payload)?;
    tx.check_text("reasons", &p.reasons, true)?;
    let mut r = store::load_record(tx, &p.record_id)?;
    rule_decided_by_recorder(&r, tx.org(), is_credit_authority(&tx.member().roles))?;
    let by = tx.org().clone();
    let now = tx.time_ms();
    let n = r.objections.len();
    let o = r.objections.get_mut(p.objection as usize).ok_or_else(|| ContractError::NotFound {
        what: "objection",
        id: format!("{}#{} (the record has {n})", p.record_id, p.objection),
    })?;
    if o.resolution.is_some() {
        return Err(ContractError::rule(
            "credit.invalid_transition",
            format!("objection {} on record {} is already resolved", p.objection, p.record_id),
        ));
    }
    o.resolution = Some(Resolution { upheld: p.upheld, reasons: p.reasons, by, resolved_ms: now });
    if p.upheld {
        r.status = Status::Withdrawn;
    }
    finish(tx, &r)
}

/// Saves a changed record, recomputes its subject's grade and tags the transaction
/// with the record and its subject.
pub fn finish(tx: &mut Tx<'_>, r: &DishonestyRecord) -> Result<(), ContractError> {
    store::save_record(tx, r);
    grading::refresh(tx, &r.subject.id())?;
    tx.tag(TagKind::CreditSubject, r.subject.id());
    tx.tag(TagKind::CreditRecord, r.id.clone());
    Ok(())
}

/// `credit.log_query`: writes no state; the transaction and its index tags are the log.
/// Named objects must exist, so the log is never about something that is not there.
pub fn run_log_query(tx: &mut Tx<'_>, payload: &[u8]) -> Result<(), ContractError> {
    let p: LogQuery = decode_payload(payload)?;
    tx.check_text("purpose", &p.purpose, true)?;
    if p.record_id.is_none() && p.subject_id.is_none() {
        return Err(ContractError::InvalidArgument {
            field: "record_id",
            reason: "name the record or the subject queried".into(),
        });
    }
    if let Some(id) = &p.record_id {
        let r = store::load_record(tx, id)?;
        tx.tag(TagKind::CreditSubject, r.subject.id());
        tx.tag(TagKind::CreditRecord, id.clone());
    }
    if let Some(subject) = &p.subject_id {
        if store::load_index(tx, subject)?.is_none() {
            return Err(ContractError::NotFound { what: "credit subject", id: subject.clone() });
        }
        tx.tag(TagKind::CreditSubject, subject.clone());
    }
    Ok(())
}
