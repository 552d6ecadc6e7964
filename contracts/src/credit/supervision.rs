//! Classified supervision by grade (信用分类监管): parameters that map grades (and the
//! watch list) to measures other registers apply. Each measure is a rule in the
//! register it affects:
//!
//! - [`Measure::LabTestBeforeCertificate`]: traceability rule
//!   `trace.supervision_lab_test`: the producer's lot needs a conformant laboratory
//!   test before a certificate of compliance.
//! - [`Measure::SecondReview`]: data rule `data.supervision_second_review`: the
//!   provider's product needs the data regulator's approval (a second review) before
//!   registration.

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::Uscc;
use serde::{Deserialize, Serialize};

use super::grading;
use crate::error::ContractError;
use crate::executor::Tx;

/// A supervision measure.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A lot needs a conformant laboratory test before its certificate of compliance.
    LabTestBeforeCertificate,
    /// A data product needs a second review (the data regulator's) before registration.
    SecondReview,
}

/// Which subjects a measure applies to.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionRule {
    /// The measure.
    pub measure: Measure,
    /// Grades it applies to (names on the grading scale).
    pub grades: Vec<String>,
    /// Whether it also applies to subjects with a published record on the watch list.
    pub watch_list: bool,
}

/// The default measures: D-grade producers test before certifying; C- and D-grade data
/// providers get a second review; watch-list subjects get both.
pub fn default_rules() -> Vec<SupervisionRule> {
    vec![
        SupervisionRule { measure: Measure::LabTestBeforeCertificate, grades: vec!["D".into()], watch_list: true },
        SupervisionRule { measure: Measure::SecondReview, grades: vec!["C".into(), "D".into()], watch_list: true },
    ]
}

/// Why `measure` applies to organisation `org` at the transaction's block time, or
/// `None` if it does not.
pub fn applies(tx: &Tx<'_>, org: &Uscc, measure: Measure) -> Result<Option<String>, ContractError> {
    let rules: Vec<&SupervisionRule> = tx.params().credit.supervision.iter().filter(|r| r.measure == measure).collect();
    if rules.is_empty() {
        return Ok(None);
    }
    let g = grading::grade_in_tx(tx, org.as_str())?;
    for r in rules {
        if r.grades.contains(&g.grade) {
            return Ok(Some(format!("{org} is graded {} (grading rule version {})", g.grade, g.rule_version)));
        }
        if r.watch_list && g.inputs.watch_listed > 0 {
            return Ok(Some(format!("{org} is on the watch list")));
        }
    }
    Ok(None)
}
