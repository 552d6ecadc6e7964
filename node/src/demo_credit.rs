//! The demo scenario's credit-grading part: a grade change (the cattle farm falls from
//! B to D), a supervision measure biting in traceability (its next lot needs a
//! laboratory test before a certificate of compliance), the public lists (watch and
//! red), and a governance parameter change shown first as a dry-run diff, then
//! proposed and approved.

use std::sync::Arc;
use std::time::Duration;

use jialing_contracts::credit::grading::{GradeRecord, grade_with};
use jialing_contracts::credit::{Category as C, Domain, ListKind, RecordDishonesty, SetList, SetRedList, Subject};
use jialing_contracts::governance::{Action, Approve, ParamChange, Propose, apply_changes, json_diff};
use jialing_contracts::params::Params;
use jialing_contracts::trace::methods::*;
use jialing_contracts::trace::types::{Category, CertificateBasis, Origin};
use jialing_contracts::{ContractError, StateView, TxStatus};
use jialing_core::{Hash, sha256};
use jialing_genesis::{sample_key, sample_uscc};

use crate::app::Ledger;
use crate::demo::call;

/// The lot that shows supervision by grade.
pub const SUPERVISED_LOT: &str = "FD-BEEF-2026-001";

fn now(ledger: &Ledger) -> u64 {
    ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0)
}

fn params(ledger: &Ledger) -> anyhow::Result<Params> {
    Ok(match ledger.store.get(jialing_contracts::keys::PARAMS).map_err(anyhow::Error::msg)? {
        Some(b) => jialing_core::encoding::decode("params", &b)?,
        None => Params::default(),
    })
}

fn grade(ledger: &Ledger, short: &str) -> anyhow::Result<GradeRecord> {
    let read = |k: &[u8]| ledger.store.get(k).map_err(ContractError::Storage);
    Ok(grade_with(&read, &params(ledger)?.credit, sample_uscc(short)?.as_str(), now(ledger))?)
}

fn at(ledger: &Ledger) -> EventTime {
    EventTime { time_ms: now(ledger), tz_offset_min: 480 }
}

/// Runs the scenario.
pub fn run(ledger: &Arc<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    let market = sample_key("market", "op");
    let credit_office = sample_key("credit", "op");
    let cattle = sample_key("cattle", "op");
    // 1. A grade change: the cattle farm (one general record: B) gets a serious one.
    let before = grade(ledger, "cattle")?;
    call(
        ledger,
        &market,
        &RecordDishonesty {
            id: "FDSJ-2026-031".into(),
            subject: Subject::Org(sample_uscc("cattle")?),
            category: C::Serious,
            domain: Domain::Food,
            summary: "瘦肉精检出 (clenbuterol found in cattle)".into(),
            decision_document: Hash(sha256(b"demo decision FDSJ-2026-031").0),
            decision_date_ms: now(ledger).saturating_sub(86_400_000),
        },
        timeout,
    )?;
    let after = grade(ledger, "cattle")?;
    tracing::info!(target: "jialing::demo", from = %before.grade, to = %after.grade, score = after.score, rule_version = after.rule_version,
        "grade change on the ledger: GET /v1/credit/{}/grade", sample_uscc("cattle")?);
    // 2. Supervision by grade in traceability: the D-grade farm's lot needs a lab test.
    call(
        ledger,
        &cattle,
        &RegisterProduct {
            code: "FD-BEEF".into(),
            name: "丰都肉牛 (Fengdu beef cattle)".into(),
            category: Category::Livestock,
            standard: String::new(),
        },
        timeout,
    )?;
    let origin = Origin {
        county: "丰都县".into(),
        township: "龙河镇".into(),
        village: "龙河村".into(),
        lat_micro: 29_800_000,
        lon_micro: 107_900_000,
    };
    let lot = CreateLot {
        lot: SUPERVISED_LOT.into(),
        product: "FD-BEEF".into(),
        origin,
        quantity_milli: 40_000,
        unit: "head".into(),
        at: at(ledger),
    };
    call(ledger, &cattle, &lot, timeout)?;
    call(ledger, &cattle, &Harvest { lot: SUPERVISED_LOT.into(), quantity_milli: 40_000, at: at(ledger) }, timeout)?;
    let certificate = |l: &Ledger| IssueCertificate {
        lot: SUPERVISED_LOT.into(),
        contact: "138-0000-0002".into(),
        promise: "承诺达标".into(),
        basis: CertificateBasis::CommissionedTest,
        quantity_milli: 40_000,
        at: at(l),
    };
    let refused = call(ledger, &cattle, &certificate(ledger), timeout)?;
    if !matches!(&refused, TxStatus::Refused { code, .. } if code == "trace.supervision_lab_test") {
        anyhow::bail!("expected trace.supervision_lab_test for the D-grade farm, got {refused:?}");
    }
    let test = RecordTest {
        lot: SUPERVISED_LOT.into(),
        items: vec![TestItem {
            name: "克伦特罗 clenbuterol".into(),
            measured_milli: 0,
            limit_milli: 0,
            unit: "μg/kg".into(),
            pass: true,
        }],
        report_hash: Hash(sha256(b"demo lab report FD-BEEF-2026-001").0),
        at: at(ledger),
    };
    call(ledger, &sample_key("lab", "op"), &test, timeout)?;
    call(ledger, &cattle, &certificate(ledger), timeout)?;
    // 3. Public lists: the cattle farm's general record on the watch list; the zhacai
    //    processor (nothing against it: grade A) on the red list.
    let watch = SetList {
        record_id: "FDSJ-2026-017".into(),
        list: ListKind::Watch,
        enter: true,
        reasons: "repeat food-safety findings".into(),
    };
    call(ledger, &market, &watch, timeout)?;
    let red = SetRedList {
        subject: sample_uscc("zhacai")?,
        enter: true,
        reasons: "连续三年抽检合格 (three years of conformant sampling)".into(),
        decision_document: Hash(sha256(b"demo red list decision 2026-1").0),
    };
    call(ledger, &credit_office, &red, timeout)?;
    tracing::info!(target: "jialing::demo", "public lists: GET /v1/credit/lists/serious, /v1/credit/lists/watch, /v1/credit/lists/red, /v1/credit/lists/overdue");
    // 4. Governance: next year's holidays, first as a dry run, then proposed.
    let changes = vec![ParamChange {
        field: "credit.calendar.holidays".into(),
        value: r#"["2027-01-01","2027-02-15","2027-02-16","2027-02-17","2027-02-18","2027-02-19"]"#.into(),
    }];
    let current = params(ledger)?;
    let next = apply_changes(&current, &changes)?;
    let height = ledger.tip.read().map(|t| t.header.height).unwrap_or(0);
    let effective_height = height + 10;
    let diff = json_diff(&serde_json::to_value(&current)?, &serde_json::to_value(&next)?);
    for d in &diff {
        tracing::info!(target: "jialing::demo", field = %format!("params.{}", d.field), before = %d.before, after = %d.after, effective_height,
            "governance dry run (jialing gov propose set-params --set credit.calendar.holidays='[...]' --dry-run)");
    }
    let propose = Propose { action: Action::SetParams { changes }, effective_height };
    let agri = sample_key("agri", "op");
    call(ledger, &agri, &propose, timeout)?;
    let id = latest_proposal(ledger)?;
    for org in ["market", "credit"] {
        call(ledger, &sample_key(org, "op"), &Approve { id: id.clone() }, timeout)?;
    }
    tracing::info!(target: "jialing::demo", proposal = %id, effective_height, "governance proposal approved: GET /v1/governance/proposals");
    Ok(())
}

fn latest_proposal(ledger: &Ledger) -> anyhow::Result<String> {
    let ids: Vec<String> =
        match ledger.store.get(jialing_contracts::governance::PROPOSALS_KEY).map_err(anyhow::Error::msg)? {
            Some(b) => jialing_core::encoding::decode("proposal ids", &b)?,
            None => Vec::new(),
        };
    ids.last().cloned().ok_or_else(|| anyhow::anyhow!("the proposal is not on the ledger"))
}
