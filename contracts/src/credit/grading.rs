//! Credit grading (信用等级评价): a grade per subject computed by a versioned rule from
//! the subject's records, commitments, list entries and (for government bodies) broken
//! government commitments.
//!
//! The score starts at [`GradeRule::start_score`] and loses points for each input in
//! effect; the grade is the first on the scale whose threshold the score reaches, and
//! the last grade whatever the score while the subject is under joint punishment. Every
//! penalty is a non-negative number, so adding a record, a list entry or a breach never
//! raises a grade (property test `credit_grade_monotone`).
//!
//! The grade is recomputed whenever a credit transaction changes one of its inputs and
//! stored at `credit/grade/{subject}` ([`GradeRecord`], with the rule version and the
//! inputs); rules and views compute it again at their own block time, so a record that
//! passes its maximum stops counting without a transaction.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use super::CreditParams;
use super::calendar;
use super::government::GovCommitment;
use super::punishment::{ReadFn, decode};
use super::store;
use super::types::{Category, Commitment, DishonestyRecord, Phase, SubjectIndex};
use super::views;
use crate::error::ContractError;
use crate::executor::Tx;

/// The grading rule, a governance parameter. Change `version` with every change: each
/// stored grade names the version that gave it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradeRule {
    /// Version of the rule.
    pub version: u32,
    /// Grade names, best first (for example A, B, C, D).
    pub scale: Vec<String>,
    /// Lowest score of each grade but the last, best first, strictly decreasing
    /// (one fewer than the scale).
    pub thresholds: Vec<u32>,
    /// Score of a subject with nothing against it.
    pub start_score: u32,
    /// Points lost per minor record still in effect.
    pub minor_points: u32,
    /// Points lost per general record in publication.
    pub general_points: u32,
    /// Points lost per serious record in publication.
    pub serious_points: u32,
    /// Points lost per published record on the watch list.
    pub watch_list_points: u32,
    /// Points lost per credit commitment proved false.
    pub broken_commitment_points: u32,
    /// Points lost per government commitment breached (government bodies).
    pub government_breach_points: u32,
    /// Months a broken commitment or a government breach counts after it was found.
    pub breach_effect_months: u32,
}

impl Default for GradeRule {
    fn default() -> Self {
        GradeRule {
            version: 1,
            scale: ["A", "B", "C", "D"].map(String::from).to_vec(),
            thresholds: vec![90, 70, 50],
            start_score: 100,
            minor_points: 5,
            general_points: 15,
            serious_points: 40,
            watch_list_points: 20,
            broken_commitment_points: 20,
            government_breach_points: 20,
            breach_effect_months: 36,
        }
    }
}

impl GradeRule {
    /// Checks the scale and thresholds.
    pub fn check(&self) -> Result<(), String> {
        let n = self.scale.len();
        if !(2..=10).contains(&n) {
            return Err(format!("credit.grading.scale has {n} grades; it needs 2 to 10"));
        }
        for (i, g) in self.scale.iter().enumerate() {
            if g.is_empty() || g.len() > 8 || !g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-') {
                return Err(format!("credit.grading.scale: {g:?} must be 1 to 8 characters of A-Z, a-z, 0-9, + or -"));
            }
            if self.scale[..i].contains(g) {
                return Err(format!("credit.grading.scale names {g:?} twice"));
            }
        }
        if self.thresholds.len() != n - 1 {
            return Err(format!(
                "credit.grading.thresholds has {} numbers; a scale of {n} grades needs {}",
                self.thresholds.len(),
                n - 1
            ));
        }
        if self.thresholds.windows(2).any(|w| w[0] <= w[1]) {
            return Err(format!("credit.grading.thresholds {:?} must decrease strictly", self.thresholds));
        }
        Ok(())
    }

    /// The score and the index on the scale (0 = best) for `inputs`.
    pub fn grade(&self, inputs: &GradeInputs) -> (u32, usize) {
        let lost = [
            (inputs.minor_in_effect, self.minor_points),
            (inputs.general_published, self.general_points),
            (inputs.serious_published, self.serious_points),
            (inputs.watch_listed, self.watch_list_points),
            (inputs.commitments_broken, self.broken_commitment_points),
            (inputs.government_breaches, self.government_breach_points),
        ]
        .iter()
        .fold(0u64, |acc, (n, pts)| acc.saturating_add(u64::from(*n).saturating_mul(u64::from(*pts))));
        let score = u64::from(self.start_score).saturating_sub(lost) as u32;
        let last = self.scale.len().saturating_sub(1);
        if inputs.joint_punishment {
            return (score, last);
        }
        let index = self.thresholds.iter().position(|t| score >= *t).unwrap_or(last);
        (score, index)
    }
}

/// What a grade was computed from: counts of what is in effect at the time.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GradeInputs {
    /// Minor records still in effect (not repaired, withdrawn or past their maximum).
    pub minor_in_effect: u32,
    /// General records in publication.
    pub general_published: u32,
    /// Serious records in publication.
    pub serious_published: u32,
    /// Published records on the watch list.
    pub watch_listed: u32,
    /// Under joint punishment (a published serious record on the serious list).
    pub joint_punishment: bool,
    /// Credit commitments proved false within the effect period.
    pub commitments_broken: u32,
    /// Government commitments breached within the effect period.
    pub government_breaches: u32,
    /// Records repaired (shown for the subject; they cost nothing).
    pub repaired: u32,
}

/// A subject's grade at a time, with the rule version and inputs that gave it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GradeRecord {
    /// Subject id (USCC or person hash).
    pub subject: String,
    /// The grade.
    pub grade: String,
    /// Position on the scale (0 = best).
    pub rank: u32,
    /// The score.
    pub score: u32,
    /// The grading rule version.
    pub rule_version: u32,
    /// The inputs.
    pub inputs: GradeInputs,
    /// Block time it was computed at (ms).
    pub as_of_ms: u64,
}

/// Key of a subject's stored grade.
pub fn grade_key(subject_id: &str) -> Vec<u8> {
    crate::keys::with_id("credit/grade/", subject_id)
}

fn read_as<T: BorshDeserialize>(read: &ReadFn<'_>, key: &[u8], what: &str) -> Result<T, ContractError> {
    let bytes = read(key)?.ok_or_else(|| ContractError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: format!("a subject index names {what}, which is missing"),
    })?;
    decode(key, &bytes)
}

/// Whether a record counts against its subject at `now_ms`, and how.
fn count_record(inputs: &mut GradeInputs, r: &DishonestyRecord, now_ms: u64) {
    let ph = views::phase(r, now_ms);
    if ph == Phase::Repaired {
        inputs.repaired += 1;
    }
    if r.category == Category::Minor {
        if ph == Phase::Recorded {
            inputs.minor_in_effect += 1;
        }
        return;
    }
    if !views::is_published(r, now_ms) {
        return;
    }
    match r.category {
        Category::General => inputs.general_published += 1,
        Category::Serious => inputs.serious_published += 1,
        Category::Minor => {}
    }
    if r.watch_list.is_some() {
        inputs.watch_listed += 1;
    }
    if views::joint_punishment(r, now_ms) {
        inputs.joint_punishment = true;
    }
}

/// The grade inputs of subject `subject_id` at `now_ms`, reading state through `read`.
pub fn inputs_with(
    read: &ReadFn<'_>,
    subject_id: &str,
    now_ms: u64,
    rule: &GradeRule,
    utc_offset_minutes: i32,
) -> Result<GradeInputs, ContractError> {
    let mut inputs = GradeInputs::default();
    let key = store::index_key(subject_id);
    let Some(bytes) = read(&key)? else {
        return Ok(inputs);
    };
    let index: SubjectIndex = decode(&key, &bytes)?;
    let in_effect = |t: u64| calendar::add_months(t, rule.breach_effect_months, utc_offset_minutes) > now_ms;
    for id in &index.records {
        let r: DishonestyRecord = read_as(read, &store::record_key(id), &format!("record {id}"))?;
        count_record(&mut inputs, &r, now_ms);
    }
    for id in &index.commitments {
        let c: Commitment = read_as(read, &store::commitment_key(id), &format!("commitment {id}"))?;
        if c.proven_false_ms.is_some_and(in_effect) {
            inputs.commitments_broken += 1;
        }
    }
    for id in &index.gov_commitments {
        let c: GovCommitment = read_as(read, &store::gov_commitment_key(id), &format!("government commitment {id}"))?;
        if c.outcome.as_ref().is_some_and(|o| !o.kept && in_effect(o.decided_ms)) {
            inputs.government_breaches += 1;
        }
    }
    Ok(inputs)
}

/// The grade of subject `subject_id` at `now_ms` under `params`.
pub fn grade_with(
    read: &ReadFn<'_>,
    params: &CreditParams,
    subject_id: &str,
    now_ms: u64,
) -> Result<GradeRecord, ContractError> {
    let rule = &params.grading;
    let off = params.in_force(now_ms)?.utc_offset_minutes;
    let inputs = inputs_with(read, subject_id, now_ms, rule, off)?;
    let (score, rank) = rule.grade(&inputs);
    Ok(GradeRecord {
        subject: subject_id.to_string(),
        grade: rule.scale.get(rank).cloned().unwrap_or_default(),
        rank: rank as u32,
        score,
        rule_version: rule.version,
        inputs,
        as_of_ms: now_ms,
    })
}

/// The grade of `subject_id` at the transaction's block time.
pub fn grade_in_tx(tx: &Tx<'_>, subject_id: &str) -> Result<GradeRecord, ContractError> {
    grade_with(&|k| tx.get_raw(k), &tx.params().credit, subject_id, tx.time_ms())
}

/// Recomputes and stores a subject's grade (called by every credit method that
/// changes a grade input).
pub fn refresh(tx: &mut Tx<'_>, subject_id: &str) -> Result<(), ContractError> {
    let g = grade_in_tx(tx, subject_id)?;
    tx.put(grade_key(subject_id), &g);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_is_valid_and_grades_by_threshold() {
        let r = GradeRule::default();
        r.check().unwrap();
        let none = GradeInputs::default();
        assert_eq!(r.grade(&none), (100, 0));
        let one_general = GradeInputs { general_published: 1, ..none.clone() };
        assert_eq!(r.grade(&one_general), (85, 1));
        let serious = GradeInputs { serious_published: 1, ..none.clone() };
        assert_eq!(r.grade(&serious), (60, 2));
        let listed = GradeInputs { serious_published: 1, joint_punishment: true, ..none };
        assert_eq!(r.grade(&listed), (60, 3));
    }

    #[test]
    fn bad_scales_are_refused() {
        let bad = |f: fn(&mut GradeRule)| {
            let mut r = GradeRule::default();
            f(&mut r);
            r.check().is_err()
        };
        assert!(bad(|r| r.thresholds = vec![90, 90, 50]));
        assert!(bad(|r| r.thresholds = vec![90, 70]));
        assert!(bad(|r| r.scale[1] = "A".into()));
        assert!(bad(|r| r.scale = vec!["A".into()]));
        assert!(bad(|r| r.scale[0] = String::new()));
    }
}
