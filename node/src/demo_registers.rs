//! The demo scenario's register part: a red-heart pomelo lot from the cooperative's
//! orchard to the supermarket (inputs, a refused early harvest, harvest, laboratory
//! test, certificate of compliance, shipping, receiving, sale).

use std::sync::Arc;
use std::time::Duration;

use jialing_contracts::trace::methods::*;
use jialing_contracts::trace::types::{Category, CertificateBasis, Origin};
use jialing_core::Hash;
use jialing_genesis::{sample_key, sample_uscc};

use crate::app::Ledger;
use crate::demo::call;

/// The demo lot's id.
pub const DEMO_LOT: &str = "FD-POMELO-2026-001";
/// The demo dataset's bytes (its digest is the registered version hash; `jialing data
/// digest` on a file holding them prints the same root).
pub const DEMO_DATASET: &[u8] =
    b"date,product,price_fen_per_kg\n2026-03-01,red-heart pomelo,860\n2026-03-01,beef,7200\n";

/// The demo's data asset voucher (pledged to the bank).
pub const DEMO_VOUCHER: &str = "DAV-2026-0001";

/// The demo product's GTIN-14.
pub const DEMO_GTIN: &str = "06901234567892";

fn at(ledger: &Arc<Ledger>, back_days: u64) -> EventTime {
    let now = ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
    EventTime { time_ms: now.saturating_sub(back_days * 86_400_000), tz_offset_min: 480 }
}

/// Submits the register scenarios.
pub fn run(ledger: &Arc<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    let farm = sample_key("pomelo", "op");
    let lab = sample_key("lab", "op");
    let shop = sample_key("market-shop", "op");
    let shop_org = sample_uscc("market-shop")?;
    call(
        ledger,
        &farm,
        &RegisterProduct {
            code: DEMO_GTIN.into(),
            name: "丰都红心柚 (Fengdu red-heart pomelo)".into(),
            category: Category::Fruit,
            standard: "NY/T 2315".into(),
        },
        timeout,
    )?;
    // The lot's story is dated in the past (30 days ago onwards), as a farm records it.
    let origin = Origin {
        county: "丰都县".into(),
        township: "三合街道".into(),
        village: "长江村".into(),
        lat_micro: 29_880_000,
        lon_micro: 107_730_000,
    };
    call(
        ledger,
        &farm,
        &CreateLot {
            lot: DEMO_LOT.into(),
            product: DEMO_GTIN.into(),
            origin,
            quantity_milli: 2_000_000_000,
            unit: "kg".into(),
            at: at(ledger, 30),
        },
        timeout,
    )?;
    call(
        ledger,
        &farm,
        &RecordInput {
            lot: DEMO_LOT.into(),
            kind: InputKind::Fertiliser,
            name: "有机肥 (organic fertiliser)".into(),
            amount_milli: 500_000_000,
            unit: "kg".into(),
            interval_days: 0,
            at: at(ledger, 29),
        },
        timeout,
    )?;
    // Irrigation-season fertigation, twice a day for five and a half days: a lot with a
    // realistic number of events (about twenty) for the consumer page.
    let start = at(ledger, 28).time_ms;
    for i in 0..11u64 {
        call(
            ledger,
            &farm,
            &RecordInput {
                lot: DEMO_LOT.into(),
                kind: InputKind::Fertiliser,
                name: "水溶肥 (water-soluble fertiliser)".into(),
                amount_milli: 20_000_000,
                unit: "kg".into(),
                interval_days: 0,
                at: EventTime { time_ms: start + i * 12 * 3_600_000, tz_offset_min: 480 },
            },
            timeout,
        )?;
    }
    call(
        ledger,
        &farm,
        &RecordInput {
            lot: DEMO_LOT.into(),
            kind: InputKind::Pesticide,
            name: "苯醚甲环唑 PD20070088 (difenoconazole)".into(),
            amount_milli: 20_000,
            unit: "L".into(),
            interval_days: 14,
            at: at(ledger, 20),
        },
        timeout,
    )?;
    // Harvest 10 days after spraying: refused by the pre-harvest interval rule.
    call(ledger, &farm, &Harvest { lot: DEMO_LOT.into(), quantity_milli: 1_800_000_000, at: at(ledger, 10) }, timeout)?;
    call(ledger, &farm, &Harvest { lot: DEMO_LOT.into(), quantity_milli: 1_800_000_000, at: at(ledger, 5) }, timeout)?;
    let items = vec![
        TestItem {
            name: "苯醚甲环唑 difenoconazole".into(),
            measured_milli: 20,
            limit_milli: 200,
            unit: "mg/kg".into(),
            pass: true,
        },
        TestItem {
            name: "毒死蜱 chlorpyrifos".into(),
            measured_milli: 0,
            limit_milli: 20,
            unit: "mg/kg".into(),
            pass: true,
        },
    ];
    call(
        ledger,
        &lab,
        &RecordTest {
            lot: DEMO_LOT.into(),
            items,
            report_hash: Hash(jialing_core::sha256(b"demo lab report FD-2026-001").0),
            at: at(ledger, 4),
        },
        timeout,
    )?;
    call(ledger, &farm, &IssueCertificate { lot: DEMO_LOT.into(), contact: "138-0000-0001".into(), promise: "我承诺对生产销售的食用农产品：不使用禁用农药兽药、停用兽药和非法添加物；常规农药兽药残留不超标；对承诺的真实性负责。".into(), basis: CertificateBasis::CommissionedTest, quantity_milli: 1_800_000_000, at: at(ledger, 3) }, timeout)?;
    call(ledger, &farm, &Ship { lot: DEMO_LOT.into(), to: shop_org, at: at(ledger, 2) }, timeout)?;
    call(ledger, &shop, &Receive { lot: DEMO_LOT.into(), at: at(ledger, 1) }, timeout)?;
    call(ledger, &shop, &Sell { lot: DEMO_LOT.into(), quantity_milli: 12_500, at: at(ledger, 0) }, timeout)?;
    tracing::info!(target: "jialing::demo", lot = DEMO_LOT, "traceability scenario on the ledger: GET /v1/lot/{DEMO_LOT}");
    credit(ledger, timeout)?;
    crate::demo_credit::run(ledger, timeout)?;
    data(ledger, timeout)
}

/// The data-trading scenario: a price index registered, reviewed, registered and
/// listed; an important dataset that needs the data regulator first; a negative-list
/// submission refused; then licences negotiated by the buyer, compliance-checked by the
/// exchange, signed by both parties (same contract document hash) and escrowed: one
/// delivered by compute in place, accepted with the result's hash, settled minus the
/// fee and used with a derived dataset recorded; one whose buyer stays silent past the
/// agreed inspection period (deemed acceptance, then settlement); one disputed and
/// settled by the exchange's arbitration with a partial refund; and the dataset valued by
/// a certified appraiser, its data asset voucher issued and pledged to the bank; and the
/// bank's data demand answered by the provider and matched by the exchange.
fn data(ledger: &Arc<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    use jialing_contracts::data::disputes::Arbitrate;
    use jialing_contracts::data::methods::{
        Accept, ApproveImportant, Confirm, Deliver, Dispute, Escrow, List, RecordUse, Register, Review, Settle,
    };
    use jialing_contracts::data::negotiation::{CheckCompliance, Negotiate, Sign};
    use jialing_contracts::data::types::{Classification, ComputeJob, DataKind, DeliveryMode, Outcome, Terms};
    let provider = sample_key("dataco", "op");
    let exchange = sample_key("exchange", "op");
    let buyer = sample_key("buyer", "op");
    let h = |s: &[u8]| Hash(jialing_core::sha256(s).0);
    let version = jialing_contracts::data::digest::digest(DEMO_DATASET).root;
    let reg = |id: &str, title: &str, category: &str, classification| Register {
        id: id.into(),
        title: title.into(),
        category: category.into(),
        kind: DataKind::Dataset,
        classification,
        personal_info: false,
        version_hash: version,
        size_bytes: DEMO_DATASET.len() as u64,
        source_licence: None,
        holders: vec![],
    };
    call(
        ledger,
        &provider,
        &reg(
            "FD-PRICE-2026",
            "丰都农产品价格数据 2026 (Fengdu produce prices 2026)",
            "agriculture",
            Classification::Internal,
        ),
        timeout,
    )?;
    call(ledger, &exchange, &Review { product: "FD-PRICE-2026".into(), report: h(b"compliance report") }, timeout)?;
    call(ledger, &exchange, &Confirm { product: "FD-PRICE-2026".into() }, timeout)?;
    call(ledger, &provider, &List { product: "FD-PRICE-2026".into(), price_fen: 5_000_000 }, timeout)?;
    // Important data: registration waits for the data regulator.
    call(
        ledger,
        &provider,
        &reg("FD-FARMLAND-2026", "耕地地块数据 (farmland parcels)", "agriculture", Classification::Important),
        timeout,
    )?;
    call(
        ledger,
        &exchange,
        &Review { product: "FD-FARMLAND-2026".into(), report: h(b"compliance report 2") },
        timeout,
    )?;
    call(ledger, &exchange, &Confirm { product: "FD-FARMLAND-2026".into() }, timeout)?;
    call(ledger, &sample_key("bigdata", "op"), &ApproveImportant { product: "FD-FARMLAND-2026".into() }, timeout)?;
    call(ledger, &exchange, &Confirm { product: "FD-FARMLAND-2026".into() }, timeout)?;
    // Negative list: refused outright.
    call(ledger, &provider, &reg("FD-CORE", "core data", "national_core_data", Classification::Important), timeout)?;
    // Licences: negotiated by the buyer, checked by the exchange, signed by both, escrowed.
    let now = ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
    let terms = |mode, inspection_period_ms| Terms {
        purpose: "price forecasting".into(),
        scenario: "county agricultural dashboard".into(),
        fields: vec!["date".into(), "product".into(), "price".into()],
        start_ms: now,
        end_ms: now + 365 * 86_400_000,
        price_fen: 5_000_000,
        transferable: false,
        derived_resale: false,
        delivery_mode: mode,
        inspection_period_ms,
    };
    let buyer_org = sample_uscc("buyer")?;
    let open = |id: &str, terms: Terms| -> anyhow::Result<()> {
        let trade = id.to_string();
        let product = "FD-PRICE-2026".to_string();
        call(ledger, &buyer, &Negotiate { id: trade.clone(), product, buyer: buyer_org.clone(), terms }, timeout)?;
        call(ledger, &exchange, &CheckCompliance { trade: trade.clone(), report: h(b"deal compliance") }, timeout)?;
        let document = h(format!("contract document {id}").as_bytes());
        call(ledger, &provider, &Sign { trade: trade.clone(), document }, timeout)?;
        call(ledger, &buyer, &Sign { trade: trade.clone(), document }, timeout)?;
        call(ledger, &exchange, &Escrow { trade, amount_fen: 5_000_000 }, timeout)?;
        Ok(())
    };
    // 1. Compute in place ("usable but not visible"): the job and its result's hash.
    open("LIC-2026-0001", terms(DeliveryMode::ComputeInPlace, None))?;
    let job =
        ComputeJob { job_id: "JOB-0001".into(), job_hash: h(b"forecast job"), result_hash: h(b"forecast result") };
    let result = job.result_hash;
    call(ledger, &provider, &Deliver { trade: "LIC-2026-0001".into(), digest: version, job: Some(job) }, timeout)?;
    call(ledger, &buyer, &Accept { trade: "LIC-2026-0001".into(), digest: result }, timeout)?;
    call(ledger, &exchange, &Settle { trade: "LIC-2026-0001".into() }, timeout)?;
    call(
        ledger,
        &buyer,
        &RecordUse {
            trade: "LIC-2026-0001".into(),
            purpose: "price forecasting".into(),
            scenario: "county agricultural dashboard".into(),
            fields: vec!["date".into(), "price".into()],
            mode: DeliveryMode::ComputeInPlace,
            derived: Some(h(b"derived forecast")),
        },
        timeout,
    )?;
    // 2. A silent buyer: a download with a 2-second agreed inspection period, never
    //    accepted nor disputed; once it has passed, the exchange settles (deemed acceptance).
    open("LIC-2026-0002", terms(DeliveryMode::Download, Some(2_000)))?;
    call(ledger, &provider, &Deliver { trade: "LIC-2026-0002".into(), digest: version, job: None }, timeout)?;
    let delivered_ms = ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
    // 3. A dispute settled by arbitration with a partial refund.
    open("LIC-2026-0003", terms(DeliveryMode::Download, None))?;
    call(ledger, &provider, &Deliver { trade: "LIC-2026-0003".into(), digest: version, job: None }, timeout)?;
    call(
        ledger,
        &buyer,
        &Dispute {
            trade: "LIC-2026-0003".into(),
            grounds: "the 2026-03 price rows are missing".into(),
            evidence: Some(h(b"row count report")),
        },
        timeout,
    )?;
    call(
        ledger,
        &exchange,
        &Arbitrate {
            trade: "LIC-2026-0003".into(),
            outcome: Outcome::PartialRefund { refund_fen: 1_500_000 },
            document: h(b"arbitration award 2026-0003"),
        },
        timeout,
    )?;
    // 4. The product as an asset: the data regulator certifies the testing laboratory
    //    for valuation, it values the dataset, the exchange issues a data asset voucher
    //    to the provider, who pledges it to the rural commercial bank for a loan.
    use jialing_contracts::data::assets::{Appraise, CertifyAppraiser, IssueVoucher, PledgeVoucher};
    use jialing_contracts::data::types::ValuationMethod;
    let year_on = now + 365 * 86_400_000;
    call(
        ledger,
        &sample_key("bigdata", "op"),
        &CertifyAppraiser {
            org: sample_uscc("lab")?,
            certificate: h(b"appraiser certificate"),
            valid_until_ms: year_on,
        },
        timeout,
    )?;
    call(
        ledger,
        &sample_key("lab", "op"),
        &Appraise {
            product: "FD-PRICE-2026".into(),
            method: ValuationMethod::Income,
            value_fen: 80_000_000,
            report: h(b"valuation report FD-PRICE-2026"),
            valid_until_ms: year_on,
        },
        timeout,
    )?;
    call(ledger, &exchange, &IssueVoucher { id: DEMO_VOUCHER.into(), product: "FD-PRICE-2026".into() }, timeout)?;
    call(
        ledger,
        &provider,
        &PledgeVoucher { voucher: DEMO_VOUCHER.into(), lender: sample_uscc("bank")?, contract: h(b"pledge contract") },
        timeout,
    )?;
    // 5. Matching: the bank posts a demand, the provider answers with its dataset, the
    //    exchange records the match, which opens a negotiation for the bank.
    use jialing_contracts::data::market::{AnswerDemand, PostDemand, RecordMatch};
    call(
        ledger,
        &sample_key("bank", "op"),
        &PostDemand {
            id: "DEM-2026-0001".into(),
            category: "agriculture".into(),
            purpose: "farm loan credit scoring".into(),
            budget_min_fen: 1_000_000,
            budget_max_fen: 6_000_000,
            expires_ms: now + 30 * 86_400_000,
        },
        timeout,
    )?;
    call(
        ledger,
        &provider,
        &AnswerDemand { demand: "DEM-2026-0001".into(), product: "FD-PRICE-2026".into() },
        timeout,
    )?;
    let mut matched = terms(DeliveryMode::Api, None);
    matched.purpose = "farm loan credit scoring".into();
    call(
        ledger,
        &exchange,
        &RecordMatch {
            demand: "DEM-2026-0001".into(),
            product: "FD-PRICE-2026".into(),
            trade: "LIC-2026-0004".into(),
            terms: matched,
        },
        timeout,
    )?;
    crate::devnet::wait_clock_past(delivered_ms + 2_000, timeout)?;
    call(ledger, &exchange, &Settle { trade: "LIC-2026-0002".into() }, timeout)?;
    tracing::info!(target: "jialing::demo", "data-trading scenario on the ledger: GET /v1/data/product/FD-PRICE-2026");
    Ok(())
}

/// The credit scenario: the market bureau records a general dishonesty record against
/// the cattle farm (published), the farm publishes a credit commitment; then a serious
/// record puts the fish farm on the serious-dishonesty list, and joint punishment
/// refuses its certificate of compliance.
fn credit(ledger: &Arc<Ledger>, timeout: Duration) -> anyhow::Result<()> {
    use jialing_contracts::credit::{Category as C, Commit, Domain, ListKind, RecordDishonesty, SetList, Subject};
    let market = sample_key("market", "op");
    let credit_office = sample_key("credit", "op");
    let now = ledger.tip.read().map(|t| t.header.time_ms).unwrap_or(0);
    call(
        ledger,
        &market,
        &RecordDishonesty {
            id: "FDSJ-2026-017".into(),
            subject: Subject::Org(sample_uscc("cattle")?),
            category: C::General,
            domain: Domain::Food,
            summary: "未执行兽药休药期即出栏 (slaughtered before the withdrawal period ended)".into(),
            decision_document: Hash(jialing_core::sha256(b"demo decision FDSJ-2026-017").0),
            decision_date_ms: now.saturating_sub(86_400_000),
        },
        timeout,
    )?;
    let commitment = Commit {
        id: "CM-CATTLE-2026-1".into(),
        promise:
            "严格执行休药期制度，接受社会监督。(We will observe withdrawal periods and accept public supervision.)"
                .into(),
        document: Hash(jialing_core::sha256(b"demo commitment").0),
        person: None,
    };
    call(ledger, &sample_key("cattle", "op"), &commitment, timeout)?;
    call(
        ledger,
        &credit_office,
        &RecordDishonesty {
            id: "FDXY-2026-003".into(),
            subject: Subject::Org(sample_uscc("fish")?),
            category: C::Serious,
            domain: Domain::Food,
            summary: "孔雀石绿超标 (malachite green in farmed fish)".into(),
            decision_document: Hash(jialing_core::sha256(b"demo decision FDXY-2026-003").0),
            decision_date_ms: now.saturating_sub(86_400_000),
        },
        timeout,
    )?;
    call(
        ledger,
        &credit_office,
        &SetList {
            record_id: "FDXY-2026-003".into(),
            list: ListKind::SeriousDishonesty,
            enter: true,
            reasons: "serious food-safety violation".into(),
        },
        timeout,
    )?;
    // Joint punishment across registers: the fish farm's certificate is refused.
    let fish = sample_key("fish", "op");
    call(
        ledger,
        &fish,
        &RegisterProduct {
            code: "FD-FISH".into(),
            name: "丰都冷水鱼 (cold-water fish)".into(),
            category: Category::Aquatic,
            standard: String::new(),
        },
        timeout,
    )?;
    let origin = Origin {
        county: "丰都县".into(),
        township: "南天湖镇".into(),
        village: "南天湖村".into(),
        lat_micro: 29_700_000,
        lon_micro: 107_800_000,
    };
    call(
        ledger,
        &fish,
        &CreateLot {
            lot: "FD-FISH-2026-001".into(),
            product: "FD-FISH".into(),
            origin,
            quantity_milli: 500_000_000,
            unit: "kg".into(),
            at: at(ledger, 1),
        },
        timeout,
    )?;
    call(
        ledger,
        &fish,
        &Harvest { lot: "FD-FISH-2026-001".into(), quantity_milli: 480_000_000, at: at(ledger, 0) },
        timeout,
    )?;
    call(
        ledger,
        &fish,
        &IssueCertificate {
            lot: "FD-FISH-2026-001".into(),
            contact: "138-0000-0003".into(),
            promise: "承诺达标".into(),
            basis: CertificateBasis::OwnControl,
            quantity_milli: 480_000_000,
            at: at(ledger, 0),
        },
        timeout,
    )?;
    tracing::info!(target: "jialing::demo", "credit scenario on the ledger: GET /v1/credit/<USCC>");
    Ok(())
}
