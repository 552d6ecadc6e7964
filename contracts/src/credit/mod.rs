//! The credit contract (register 3): dishonesty records, their publication window,
//! credit commitments, credit repair, the serious-dishonesty, watch and red lists,
//! objections, joint punishment, grades, supervision by grade and government integrity
//! records.
//!
//! Record life (see [`types::Phase`]): recorded (minor, never published) or published
//! -> eligible (the minimum publication period reached) -> applied -> accepted or
//! incomplete -> repaired (approved) or denied -> ... ; repaired -> reinstated when the
//! commitment proves false; any published phase -> expired at the maximum (computed on
//! read from block time, no transaction needed); an upheld objection withdraws a record.
//!
//! Every number (periods, deadlines) comes from the versioned [`CreditRules`] in
//! [`CreditParams`]; a record stores the version it was recorded under and the window
//! computed from it, so a later governance change never rewrites an existing record.
//!
//! Putting an organisation under joint punishment (for other registers' tests): an
//! authority calls `credit.record` with a [`RecordDishonesty`] of category
//! [`Category::Serious`] against `Subject::Org(uscc)`, then `credit.set_list` with a
//! [`SetList`] entering [`ListKind::SeriousDishonesty`]; [`is_under_joint_punishment`]
//! is then true until the record is repaired, withdrawn or past its maximum (36
//! months by default), or leaves the list. [`joint_punishment_in_state`] answers the
//! same question over committed state for the node.
//!
//! Grades and what they drive: [`grading`] computes a grade per subject from its
//! records, list entries, broken commitments and (for government bodies)
//! [`government`] breaches, by the versioned rule in [`CreditParams::grading`], stored
//! at every change and recomputed at read time; [`supervision`] maps grades and the
//! watch list to measures the traceability and data registers apply; [`red_list`] is
//! the credit authority's list of the trustworthy; [`public_lists`] pages the serious,
//! watch and red lists and the overdue repair decisions for the node's API.
//!
//! Modules: [`types`] (records and states), [`calendar`] (months and working days in
//! China Standard Time, with the holiday calendar), [`rules`] (one pure check per rule),
//! [`payloads`] (method arguments), [`punishment`] (joint punishment), [`store`] (keys,
//! the per-subject index and the list indexes), [`records`] (recording and objections),
//! [`commitments`], [`repair`], [`lists`], [`views`] (pure read models), [`grading`],
//! [`supervision`], [`red_list`], [`government`], [`public_lists`].

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::{Role, Uscc};
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::executor::Tx;
use crate::registry::{Method, from_json_of, json_of};

pub mod calendar;
pub mod commitments;
pub mod government;
pub mod grading;
pub mod lists;
pub mod payloads;
pub mod public_lists;
pub mod punishment;
pub mod records;
pub mod red_list;
pub mod repair;
pub mod rules;
pub mod store;
pub mod supervision;
pub mod types;
pub mod views;

pub use payloads::*;
pub use punishment::joint_punishment_in_state;
pub use types::*;
pub use views::{PublicRecordView, RecordView, full_view, is_published, phase, public_view};

/// 2026-04-01T00:00:00+08:00 (China Standard Time), when the current repair rules took
/// effect, in ms since the Unix epoch.
pub const RULES_2026_EFFECTIVE_MS: u64 = 1_774_972_800_000;

/// One version of the credit rules: the numbers of domain.md "Reference facts ...
/// Credit repair". Months are calendar months and working days are Monday to Friday,
/// both counted in the time zone `utc_offset_minutes` (see [`calendar`]).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditRules {
    /// Version number of this rule set (stored in every record recorded under it).
    pub version: u32,
    /// Block time (ms) from which this version is in force.
    pub effective_ms: u64,
    /// Offset of the legal time zone from UTC, in minutes (China Standard Time: 480).
    pub utc_offset_minutes: i32,
    /// Minor records: never published; their effect lasts at most this many months.
    pub minor_max_months: u32,
    /// General records: published at least this many months before repair.
    pub general_min_months: u32,
    /// General records: publication stops by itself after this many months.
    pub general_max_months: u32,
    /// Serious records: published at least this many months before repair.
    pub serious_min_months: u32,
    /// Serious records: publication stops by itself after this many months.
    pub serious_max_months: u32,
    /// Food, drugs, special equipment, work safety and fire records: published at least
    /// this many months (whatever their category, never beyond their maximum).
    pub special_domain_min_months: u32,
    /// Working days the deciding authority has after accepting an application.
    pub decision_working_days: u32,
    /// The same for records made by a market regulator.
    pub market_decision_working_days: u32,
    /// Where the publication periods are counted from (see [`WindowStart`]).
    pub window_from: WindowStart,
}

/// Where a record's publication periods (minimum and maximum) start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowStart {
    /// The date of the penalty decision (the 2023 repair measures count the periods
    /// from the day the decision was made; docs/rules.md cites the rule).
    #[default]
    Decision,
    /// The block time the record was put on the ledger.
    Recording,
}

impl Default for CreditRules {
    fn default() -> Self {
        CreditRules {
            version: 1,
            effective_ms: RULES_2026_EFFECTIVE_MS,
            utc_offset_minutes: 8 * 60,
            minor_max_months: 3,
            general_min_months: 3,
            general_max_months: 12,
            serious_min_months: 12,
            serious_max_months: 36,
            special_domain_min_months: 12,
            decision_working_days: 3,
            market_decision_working_days: 7,
            window_from: WindowStart::Decision,
        }
    }
}

/// Credit parameters: the rule versions (oldest first), the working-day calendar, the
/// grading rule and the supervision measures by grade.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditParams {
    /// Rule versions, normally oldest first. The version in force at a block time is
    /// the one with the latest `effective_ms` not after it; before every version's date
    /// the earliest applies (the ledger holds no older rules). See [`Self::in_force`].
    pub versions: Vec<CreditRules>,
    /// Public holidays and make-up working days for decision deadlines.
    pub calendar: calendar::WorkCalendar,
    /// The grading rule (信用等级评价).
    pub grading: grading::GradeRule,
    /// Measures other registers apply by grade or watch list (信用分类监管).
    pub supervision: Vec<supervision::SupervisionRule>,
}

impl Default for CreditParams {
    fn default() -> Self {
        CreditParams {
            versions: vec![CreditRules::default()],
            calendar: Default::default(),
            grading: Default::default(),
            supervision: supervision::default_rules(),
        }
    }
}

impl CreditParams {
    /// The rule version in force at block time `now_ms`: the one with the latest
    /// `effective_ms` not after `now_ms` (the later in the list on a tie); before every
    /// version's date, the earliest version.
    pub fn in_force(&self, now_ms: u64) -> Result<&CreditRules, ContractError> {
        let mut in_force: Option<&CreditRules> = None;
        let mut earliest: Option<&CreditRules> = None;
        for v in &self.versions {
            if v.effective_ms <= now_ms && in_force.is_none_or(|b| v.effective_ms >= b.effective_ms) {
                in_force = Some(v);
            }
            if earliest.is_none_or(|e| v.effective_ms < e.effective_ms) {
                earliest = Some(v);
            }
        }
        in_force
            .or(earliest)
            .ok_or_else(|| ContractError::rule("credit.rules_in_force", "the parameters hold no credit rule version"))
    }

    /// Checks the credit parameters (governance `governance.params_valid`): at least one
    /// rule version, deadlines within [`calendar::MAX_DEADLINE_WORKING_DAYS`], a valid
    /// calendar, grading rule and supervision grades.
    pub fn check(&self) -> Result<(), String> {
        if self.versions.is_empty() {
            return Err("credit.versions holds no rule version".into());
        }
        for v in &self.versions {
            let max = calendar::MAX_DEADLINE_WORKING_DAYS;
            if v.decision_working_days > max || v.market_decision_working_days > max {
                return Err(format!(
                    "credit rules version {}: decision deadlines must be at most {max} working days",
                    v.version
                ));
            }
        }
        self.calendar.days().map_err(|e| format!("credit.calendar: {e}"))?;
        self.grading.check()?;
        for s in &self.supervision {
            for g in &s.grades {
                if !self.grading.scale.contains(g) {
                    return Err(format!(
                        "credit.supervision: grade {g:?} is not on the scale {:?}",
                        self.grading.scale
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Roles that may record dishonesty (and, for their own records, decide on them).
pub const AUTHORITY_ROLES: &[Role] =
    &[Role::CreditAuthority, Role::MarketRegulator, Role::ProduceRegulator, Role::DataRegulator];

/// Roles that may see full records and must log each such query (`credit.log_query`):
/// the authorities and the auditors (logging its own queries is the one write an
/// auditor makes).
pub const QUERY_ROLES: &[Role] =
    &[Role::CreditAuthority, Role::MarketRegulator, Role::ProduceRegulator, Role::DataRegulator, Role::Auditor];

/// Roles with which a member may act for its own organisation as a credit subject
/// (every role but admin and the read-only auditor).
pub const SUBJECT_ROLES: &[Role] = &[
    Role::ProduceRegulator,
    Role::MarketRegulator,
    Role::CreditAuthority,
    Role::DataRegulator,
    Role::Exchange,
    Role::Producer,
    Role::Processor,
    Role::Inspector,
    Role::Logistics,
    Role::Retailer,
    Role::DataProvider,
    Role::DataBuyer,
];

/// The credit contract's methods.
pub const METHODS: &[Method] = &[
    Method {
        contract: "credit",
        name: "record",
        roles: AUTHORITY_ROLES,
        summary: "record a dishonesty decision against an organisation or a (hashed) person",
        run: records::run_record,
        to_json: json_of::<RecordDishonesty>,
        from_json: from_json_of::<RecordDishonesty>,
    },
    Method {
        contract: "credit",
        name: "commit",
        roles: SUBJECT_ROLES,
        summary: "publish a credit commitment of the signer's organisation (or file a person's)",
        run: commitments::run_commit,
        to_json: json_of::<Commit>,
        from_json: from_json_of::<Commit>,
    },
    Method {
        contract: "credit",
        name: "apply",
        roles: SUBJECT_ROLES,
        summary: "apply for credit repair of a record with proof materials and a commitment",
        run: repair::run_apply,
        to_json: json_of::<ApplyRepair>,
        from_json: from_json_of::<ApplyRepair>,
    },
    Method {
        contract: "credit",
        name: "accept",
        roles: AUTHORITY_ROLES,
        summary: "accept a complete repair application (starts the decision deadline)",
        run: repair::run_accept,
        to_json: json_of::<AcceptApplication>,
        from_json: from_json_of::<AcceptApplication>,
    },
    Method {
        contract: "credit",
        name: "mark_incomplete",
        roles: AUTHORITY_ROLES,
        summary: "return a repair application as incomplete, saying what is missing",
        run: repair::run_mark_incomplete,
        to_json: json_of::<MarkIncomplete>,
        from_json: from_json_of::<MarkIncomplete>,
    },
    Method {
        contract: "credit",
        name: "decide",
        roles: AUTHORITY_ROLES,
        summary: "approve (repair) or deny an accepted repair application, with reasons",
        run: repair::run_decide,
        to_json: json_of::<DecideRepair>,
        from_json: from_json_of::<DecideRepair>,
    },
    Method {
        contract: "credit",
        name: "reinstate",
        roles: AUTHORITY_ROLES,
        summary: "reinstate a repaired record whose credit commitment proved false",
        run: repair::run_reinstate,
        to_json: json_of::<Reinstate>,
        from_json: from_json_of::<Reinstate>,
    },
    Method {
        contract: "credit",
        name: "set_list",
        roles: AUTHORITY_ROLES,
        summary: "enter a record on, or remove it from, the serious-dishonesty or watch list",
        run: lists::run_set_list,
        to_json: json_of::<SetList>,
        from_json: from_json_of::<SetList>,
    },
    Method {
        contract: "credit",
        name: "set_red_list",
        roles: &[Role::CreditAuthority],
        summary: "enter an organisation of the best grade on the red list (守信激励), or remove it",
        run: red_list::run_set_red_list,
        to_json: json_of::<SetRedList>,
        from_json: from_json_of::<SetRedList>,
    },
    Method {
        contract: "credit",
        name: "gov_commit",
        roles: &[Role::CreditAuthority],
        summary: "record a government body's commitment (政务承诺) with its due date",
        run: government::run_gov_commit,
        to_json: json_of::<GovCommit>,
        from_json: from_json_of::<GovCommit>,
    },
    Method {
        contract: "credit",
        name: "gov_outcome",
        roles: &[Role::CreditAuthority],
        summary: "record whether a government commitment was kept or breached (a breach enters the body's grade)",
        run: government::run_gov_outcome,
        to_json: json_of::<GovOutcome>,
        from_json: from_json_of::<GovOutcome>,
    },
    Method {
        contract: "credit",
        name: "object",
        roles: SUBJECT_ROLES,
        summary: "file an objection to a record (at any time)",
        run: records::run_object,
        to_json: json_of::<Object>,
        from_json: from_json_of::<Object>,
    },
    Method {
        contract: "credit",
        name: "resolve_objection",
        roles: AUTHORITY_ROLES,
        summary: "uphold (withdraw the record) or dismiss an objection, with reasons",
        run: records::run_resolve_objection,
        to_json: json_of::<ResolveObjection>,
        from_json: from_json_of::<ResolveObjection>,
    },
    Method {
        contract: "credit",
        name: "log_query",
        roles: QUERY_ROLES,
        summary: "log a restricted query (full view of a record or a subject's records) with its purpose",
        run: records::run_log_query,
        to_json: json_of::<LogQuery>,
        from_json: from_json_of::<LogQuery>,
    },
];

/// Whether `subject` is under joint punishment at the transaction's block time: it has
/// a serious record that is on the serious-dishonesty list, still published (not past
/// its maximum, not withdrawn) and not repaired. Point reads only: the subject's index,
/// then each of its records. Other registers call this.
pub fn is_under_joint_punishment(tx: &Tx<'_>, subject: &Uscc) -> Result<bool, ContractError> {
    punishment::joint_punishment_with(&|k| tx.get_raw(k), subject.as_str(), tx.time_ms())
}
