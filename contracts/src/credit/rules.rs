//! The credit rules, one small pure check each, named by their receipt code.

use jialing_core::{Hash, Role, Uscc};

use super::types::{Category, Commitment, DishonestyRecord, ListKind, Phase, Subject};
use super::views::phase;
use crate::error::ContractError;

/// `credit.decision_not_future`: a decision cannot be dated after block time.
pub fn rule_decision_not_future(decision_date_ms: u64, now_ms: u64) -> Result<(), ContractError> {
    if decision_date_ms > now_ms {
        return Err(ContractError::rule(
            "credit.decision_not_future",
            format!("decision date {decision_date_ms} ms is after block time {now_ms} ms"),
        ));
    }
    Ok(())
}

/// `credit.no_raw_resident_id`: a record names a natural person only by the salted
/// hash, so neither its subject nor its summary may be a raw resident ID number
/// (GB 11643: 17 digits, a birth date and a MOD 11-2 check character).
pub fn rule_no_raw_resident_id(subject: &Subject, summary: &str) -> Result<(), ContractError> {
    let raw_subject = match subject {
        Subject::Org(u) => jialing_core::resident_id::is_resident_id(u.as_str()),
        Subject::Person(_) => false,
    };
    if raw_subject || jialing_core::resident_id::find_in_text(summary).next().is_some() {
        return Err(ContractError::rule(
            "credit.no_raw_resident_id",
            "a resident ID number is personal data: name a person by the salted hash (Subject::Person) and keep ID numbers out of the summary",
        ));
    }
    Ok(())
}

/// `credit.subject_only`: only the subject acts on its own record or commitments: a
/// member of the subject organisation; for a person, the recording authority or the
/// credit authority files on the person's behalf.
pub fn rule_subject_only(
    subject: &Subject,
    signer_org: &Uscc,
    signer_is_credit_authority: bool,
    recorder: &Uscc,
) -> Result<(), ContractError> {
    match subject {
        Subject::Org(u) if u == signer_org => Ok(()),
        Subject::Org(u) => Err(ContractError::rule(
            "credit.subject_only",
            format!("the subject is organisation {u}; the signer belongs to {signer_org}"),
        )),
        Subject::Person(_) if signer_org == recorder || signer_is_credit_authority => Ok(()),
        Subject::Person(h) => Err(ContractError::rule(
            "credit.subject_only",
            format!(
                "person {h} acts through the recording authority {recorder} or the credit authority; the signer belongs to {signer_org}"
            ),
        )),
    }
}

/// `credit.decided_by_recorder`: "whoever determined it repairs it": only the recording
/// authority (or the credit authority) accepts, decides, reinstates and resolves
/// objections.
pub fn rule_decided_by_recorder(
    r: &DishonestyRecord,
    signer_org: &Uscc,
    signer_is_credit_authority: bool,
) -> Result<(), ContractError> {
    if &r.authority == signer_org || signer_is_credit_authority {
        return Ok(());
    }
    Err(ContractError::rule(
        "credit.decided_by_recorder",
        format!("record {} was recorded by {}; {signer_org} is neither it nor the credit authority", r.id, r.authority),
    ))
}

/// `credit.list_by_authority`: list entry and exit only by the recording authority or
/// the credit authority.
pub fn rule_list_by_authority(
    r: &DishonestyRecord,
    signer_org: &Uscc,
    signer_is_credit_authority: bool,
) -> Result<(), ContractError> {
    if &r.authority == signer_org || signer_is_credit_authority {
        return Ok(());
    }
    Err(ContractError::rule(
        "credit.list_by_authority",
        format!("record {} was recorded by {}; {signer_org} may not change its lists", r.id, r.authority),
    ))
}

/// `credit.repair_after_minimum`: repair may be applied for only once the minimum
/// publication period has passed.
pub fn rule_repair_after_minimum(r: &DishonestyRecord, now_ms: u64) -> Result<(), ContractError> {
    if now_ms < r.window.min_until_ms {
        return Err(ContractError::rule(
            "credit.repair_after_minimum",
            format!(
                "record {} ({:?}, {:?}) is published at least until {} ms (rules version {}); block time is {now_ms} ms",
                r.id, r.category, r.domain, r.window.min_until_ms, r.window.rules_version
            ),
        ));
    }
    Ok(())
}

/// `credit.invalid_transition`: the record's phase allows the step.
pub fn rule_phase_allows(
    r: &DishonestyRecord,
    now_ms: u64,
    step: &str,
    allowed: &[Phase],
) -> Result<(), ContractError> {
    let p = phase(r, now_ms);
    if allowed.contains(&p) {
        return Ok(());
    }
    Err(ContractError::rule(
        "credit.invalid_transition",
        format!("record {} is {p:?}; {step} needs one of {allowed:?}", r.id),
    ))
}

/// `credit.commitment_required`: repair needs the subject's own published commitment
/// that has not proved false.
pub fn rule_commitment_valid(c: &Commitment, subject: &Subject) -> Result<(), ContractError> {
    if &c.subject != subject {
        return Err(ContractError::rule(
            "credit.commitment_required",
            format!("commitment {} is by {}, not by the record's subject {}", c.id, c.subject.id(), subject.id()),
        ));
    }
    if let Some(t) = c.proven_false_ms {
        return Err(ContractError::rule(
            "credit.commitment_required",
            format!("commitment {} proved false at {t} ms; publish a new one", c.id),
        ));
    }
    Ok(())
}

/// `credit.materials_required`: an application carries at least one proof.
pub fn rule_materials_required(materials: &[Hash]) -> Result<(), ContractError> {
    if materials.is_empty() {
        return Err(ContractError::rule(
            "credit.materials_required",
            "an application needs at least one proof that the obligations are fulfilled",
        ));
    }
    Ok(())
}

/// `credit.serious_list_serious_only`: only serious records enter the
/// serious-dishonesty list. `credit.minor_not_published`: minor records enter no list
/// (a list is a publication).
pub fn rule_list_category(r: &DishonestyRecord, list: ListKind) -> Result<(), ContractError> {
    if r.category == Category::Minor {
        return Err(ContractError::rule(
            "credit.minor_not_published",
            format!("record {} is minor: it is never published, so it enters no list", r.id),
        ));
    }
    if list == ListKind::SeriousDishonesty && r.category != Category::Serious {
        return Err(ContractError::rule(
            "credit.serious_list_serious_only",
            format!("record {} is {:?}; only serious records enter the serious-dishonesty list", r.id, r.category),
        ));
    }
    Ok(())
}

/// Whether a signer's roles include the credit authority.
pub fn is_credit_authority(roles: &[Role]) -> bool {
    roles.contains(&Role::CreditAuthority)
}
