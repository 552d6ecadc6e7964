//! Records for the national agricultural product quality-safety traceability platform
//! (国家农产品质量安全追溯管理信息平台) and provincial platforms: entity (主体), product
//! (产品), batch (批次), trace code (追溯码), inspection (检测) and certificate (合格证)
//! records from committed traceability transactions, one JSON object per line. The field
//! mapping is documented in docs/national-platform.md. Pure: the same transactions give
//! the same bytes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One committed, successful traceability transaction.
pub struct LedgerTx<'a> {
    /// Block height.
    pub height: u64,
    /// Transaction hash (hex): the record id, so a receiver drops repeats.
    pub tx_hash: String,
    /// Method (`register_product`, `create_lot`, ...).
    pub method: &'a str,
    /// Decoded arguments.
    pub args: &'a Value,
    /// The signer's organisation (USCC).
    pub org: &'a str,
}

fn date(ms: u64) -> String {
    // The platform's dates are China Standard Time calendar dates.
    let s = jialing_core::calendar::format_rfc3339_ms(ms.saturating_add(8 * 3_600_000));
    s.get(..10).unwrap_or(&s).to_string()
}

fn decimal(milli: u64) -> String {
    let frac = format!("{:03}", milli % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { (milli / 1000).to_string() } else { format!("{}.{frac}", milli / 1000) }
}

fn category(c: &str) -> &'static str {
    match c {
        "livestock" => "畜牧",
        "poultry" => "畜牧",
        "aquatic" => "渔业",
        "fruit" | "vegetable" => "种植",
        "processed" => "加工",
        _ => "其他",
    }
}

/// The records of a run of transactions, in chain order. `org_names` names the
/// organisations (USCC → registered name); `resolver` is the Digital Link resolver of
/// trace codes. An entity record precedes the first record of each organisation.
pub fn records(txs: &[LedgerTx<'_>], org_names: &BTreeMap<String, String>, resolver: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut entities_sent = std::collections::BTreeSet::new();
    // Lot → product code, from the lots created in this run (for trace codes).
    for t in txs {
        let a = t.args;
        let at = a["at"]["time_ms"].as_u64().unwrap_or(0);
        let mut entity = |out: &mut Vec<Value>| {
            if entities_sent.insert(t.org.to_string()) {
                out.push(json!({
                    "recordType": "entity", "recordId": format!("entity-{}", t.org),
                    "entCode": t.org, "entName": org_names.get(t.org).cloned().unwrap_or_default(),
                }));
            }
        };
        match t.method {
            "register_product" => {
                entity(&mut out);
                out.push(json!({
                    "recordType": "product", "recordId": t.tx_hash, "blockHeight": t.height,
                    "productCode": a["code"], "productName": a["name"],
                    "productCategory": category(a["category"].as_str().unwrap_or("")),
                    "standard": a["standard"], "entCode": t.org,
                }));
            }
            "create_lot" => {
                entity(&mut out);
                let product = a["product"].as_str().unwrap_or("");
                let lot = a["lot"].as_str().unwrap_or("");
                let o = &a["origin"];
                out.push(json!({
                    "recordType": "batch", "recordId": t.tx_hash, "blockHeight": t.height,
                    "batchNo": lot, "productCode": product, "entCode": t.org,
                    "productionDate": date(at),
                    "origin": format!("{}{}{}", o["county"].as_str().unwrap_or(""), o["township"].as_str().unwrap_or(""), o["village"].as_str().unwrap_or("")),
                    "latitude": micro_degrees(o["lat_micro"].as_i64().unwrap_or(0)),
                    "longitude": micro_degrees(o["lon_micro"].as_i64().unwrap_or(0)),
                    "quantity": decimal(a["quantity_milli"].as_u64().unwrap_or(0)), "unit": a["unit"],
                }));
                out.push(json!({
                    "recordType": "traceCode", "recordId": format!("{}-code", t.tx_hash), "blockHeight": t.height,
                    "traceCode": format!("{}{}", resolver.trim_end_matches('/'), jialing_contracts::trace::epcis::digital_link_path(product, lot)),
                    "batchNo": lot, "productCode": product, "entCode": t.org,
                }));
            }
            "record_test" => {
                entity(&mut out);
                let items = a["items"].as_array().cloned().unwrap_or_default();
                let pass = items.iter().all(|i| i["pass"] == json!(true));
                out.push(json!({
                    "recordType": "inspection", "recordId": t.tx_hash, "blockHeight": t.height,
                    "batchNo": a["lot"], "testOrgCode": t.org, "testDate": date(at),
                    "testResult": if pass { "合格" } else { "不合格" },
                    "testItems": items.iter().map(|i| json!({
                        "itemName": i["name"],
                        "measuredValue": decimal_signed(i["measured_milli"].as_i64().unwrap_or(0)),
                        "limitValue": decimal_signed(i["limit_milli"].as_i64().unwrap_or(0)),
                        "unit": i["unit"], "itemResult": if i["pass"] == json!(true) { "合格" } else { "不合格" },
                    })).collect::<Vec<_>>(),
                    "reportHash": a["report_hash"],
                }));
            }
            "issue_certificate" => {
                entity(&mut out);
                let basis = match a["basis"].as_str().unwrap_or("") {
                    "own_control" => "质量安全控制符合要求",
                    "own_test" => "自行检测合格",
                    "commissioned_test" => "委托检测合格",
                    _ => "",
                };
                out.push(json!({
                    "recordType": "certificate", "recordId": t.tx_hash, "blockHeight": t.height,
                    "batchNo": a["lot"], "entCode": t.org, "issueDate": date(at),
                    "promise": a["promise"], "basis": basis,
                    "quantity": decimal(a["quantity_milli"].as_u64().unwrap_or(0)), "contact": a["contact"],
                }));
            }
            _ => {}
        }
    }
    out
}

/// Micro-degrees as decimal degrees without trailing zeros.
fn micro_degrees(v: i64) -> String {
    let a = v.unsigned_abs();
    let frac = format!("{:06}", a % 1_000_000);
    let frac = frac.trim_end_matches('0');
    let s = if frac.is_empty() { (a / 1_000_000).to_string() } else { format!("{}.{frac}", a / 1_000_000) };
    if v < 0 { format!("-{s}") } else { s }
}

/// Milli-units as a signed decimal without trailing zeros.
fn decimal_signed(v: i64) -> String {
    let s = decimal(v.unsigned_abs());
    if v < 0 { format!("-{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden file `client/tests/golden/national.jsonl`: regenerate with
    /// `JIALING_WRITE_GOLDEN=1 cargo test -p jialing-client national`.
    #[test]
    fn national_records_match_the_golden_file() {
        let at = |ms: u64| json!({"time_ms": ms, "tz_offset_min": 480});
        let t0 = 1_767_225_600_000u64; // 2026-01-01T00:00:00Z
        let args = [
            json!({"code": "06901234567892", "name": "红心柚", "category": "fruit", "standard": "NY/T 2315"}),
            json!({"lot": "FD-1", "product": "06901234567892", "origin": {"county": "丰都县", "township": "三合街道", "village": "长江村", "lat_micro": 29_880_000, "lon_micro": 107_730_000}, "quantity_milli": 1_500_500, "unit": "kg", "at": at(t0)}),
            json!({"lot": "FD-1", "items": [{"name": "毒死蜱", "measured_milli": 12, "limit_milli": 500, "unit": "mg/kg", "pass": true}], "report_hash": "ab".repeat(32), "at": at(t0 + 86_400_000)}),
            json!({"lot": "FD-1", "contact": "023-70000000", "promise": "不使用禁用农药", "basis": "own_test", "quantity_milli": 1_500_000, "at": at(t0 + 2 * 86_400_000)}),
            json!({"lot": "FD-1", "to": "x", "at": at(t0)}),
        ];
        let methods = ["register_product", "create_lot", "record_test", "issue_certificate", "ship"];
        let orgs = [
            "91500230MA5U10001X",
            "91500230MA5U10001X",
            "12500230MB1234567A",
            "91500230MA5U10001X",
            "91500230MA5U10001X",
        ];
        let txs: Vec<LedgerTx<'_>> = (0..5)
            .map(|i| LedgerTx {
                height: i as u64 + 1,
                tx_hash: format!("{:064x}", i + 1),
                method: methods[i],
                args: &args[i],
                org: orgs[i],
            })
            .collect();
        let names: BTreeMap<String, String> = [
            ("91500230MA5U10001X".to_string(), "丰都县红心柚合作社".to_string()),
            ("12500230MB1234567A".to_string(), "丰都县农产品质量安全检测站".to_string()),
        ]
        .into();
        let lines: String =
            records(&txs, &names, "https://id.jialing.example").iter().map(|r| format!("{r}\n")).collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/national.jsonl");
        if std::env::var("JIALING_WRITE_GOLDEN").is_ok() {
            std::fs::write(path, &lines).unwrap();
        }
        let golden = std::fs::read_to_string(path).unwrap();
        assert_eq!(lines, golden, "national records changed: check docs/national-platform.md, then regenerate");
    }
}
