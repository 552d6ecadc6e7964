//! GS1 EPCIS 2.0 JSON export of a lot's history, and GS1 Digital Link identifiers.
//!
//! Mapping (CBV 2.0 bizSteps and dispositions):
//!
//! | ledger method | EPCIS event | bizStep | disposition |
//! | --- | --- | --- | --- |
//! | create_lot | ObjectEvent ADD (with `ilmd`) | creating_class_instance | active |
//! | record_input | ObjectEvent OBSERVE | other (`jialing:input`) | active |
//! | harvest | ObjectEvent OBSERVE | commissioning | active |
//! | record_test | ObjectEvent OBSERVE | inspecting | conformant / non_conformant |
//! | issue_certificate | ObjectEvent OBSERVE (`certificationInfo`) | other | conformant |
//! | ship / receive | ObjectEvent OBSERVE (+ destination / source lists) | shipping / receiving | in_transit / in_progress |
//! | sell | ObjectEvent OBSERVE | retail_selling | retail_sold |
//! | hold / release | ObjectEvent OBSERVE | holding / other | non_sellable_other / active |
//! | recall | ObjectEvent OBSERVE | holding | recalled |
//! | destroy | ObjectEvent OBSERVE | destroying | destroyed |
//! | transform | TransformationEvent | commissioning | active |
//! | pack | AggregationEvent ADD | packing | active |
//! | declare_error | ObjectEvent OBSERVE with `errorDeclaration` | other | |
//!
//! Each exported event's `eventID` is its CBV 2.0 event hash ID (`epcis_hash`), and
//! `jialing:tx` names the ledger transaction that recorded it. Events imported from a
//! partner (`record_epcis_event`) are exported as the partner sent them, so their hash
//! IDs survive the round trip.

use jialing_core::Hash;
use serde_json::{Value, json};

use crate::trace::types::{Lot, Product};

/// The GS1 Digital Link path of a lot: `/01/{GTIN-14}/10/{lot}` when the product code
/// is a GTIN (8, 12, 13 or 14 digits, left-padded to 14), else the ledger's own code in
/// the same scheme (`/01/{code}/10/{lot}`); reserved characters are percent-encoded.
pub fn digital_link_path(product_code: &str, lot: &str) -> String {
    let is_gtin = matches!(product_code.len(), 8 | 12 | 13 | 14) && product_code.bytes().all(|b| b.is_ascii_digit());
    let item = if is_gtin { format!("{product_code:0>14}") } else { percent_encode(product_code) };
    format!("/01/{item}/10/{}", percent_encode(lot))
}

pub use crate::trace::gs1::percent_encode;

/// One recorded event of a lot (a committed, successful transaction).
pub struct EventRecord<'a> {
    /// The transaction hash.
    pub tx_hash: Hash,
    /// The method called.
    pub method: &'a str,
    /// Its arguments as JSON (`Method::to_json`).
    pub args: &'a Value,
    /// The signer's organisation (USCC).
    pub org: &'a str,
}

fn rfc3339(ms: u64) -> String {
    jialing_core::calendar::format_rfc3339_ms(ms)
}

fn tz(min: i64) -> String {
    let sign = if min < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", min.abs() / 60, min.abs() % 60)
}

fn uom(unit: &str) -> &str {
    match unit {
        "kg" => "KGM",
        "g" => "GRM",
        "t" => "TNE",
        "L" | "l" => "LTR",
        "head" | "box" | "pack" | "piece" => "H87",
        other => other,
    }
}

fn qty(milli: u64) -> Value {
    // Quantities are integers in milli-units; EPCIS wants a decimal number.
    json!(format!("{}.{:03}", milli / 1000, milli % 1000).parse::<f64>().unwrap_or(0.0))
}

/// A recorded event's body as a document lists it: its CBV 2.0 hash ID as `eventID`,
/// its namespace prefixes moved from its own `@context` into the document's `context`.
pub fn with_event_id(mut body: Value, context: &mut serde_json::Map<String, Value>) -> Value {
    let ns = crate::trace::epcis_hash::namespaces(&body["@context"]);
    let id = crate::trace::epcis_hash::event_hash_id(&body, &ns);
    if let Value::Object(o) = &mut body {
        o.remove("@context");
        o.insert("eventID".into(), json!(id));
    }
    for (k, v) in ns {
        context.entry(k).or_insert(json!(v));
    }
    body
}

/// Exports a lot's recorded events as an EPCIS 2.0 document. `base` is the Digital
/// Link resolver (e.g. `https://trace.example.gov.cn`); `product` is the lot's product.
pub fn export_lot(base: &str, lot: &Lot, product: Option<&Product>, events: &[EventRecord<'_>]) -> Value {
    let class = |lot_id: &str| format!("{base}{}", digital_link_path(&lot.product, lot_id));
    let org_urn = |uscc: &str| format!("urn:jialing:org:{uscc}");
    let mut list = Vec::new();
    let mut context = serde_json::Map::new();
    context.insert("jialing".into(), json!("https://jialing.example/epcis/"));
    // Ledger calls that an imported EPCIS record stands for: the record's body is
    // exported instead, so the partner's event keeps its hash ID.
    let covered: Vec<(String, Value)> = events
        .iter()
        .filter(|e| e.method == "record_epcis_event")
        .filter_map(|e| Some((e.args["mapped"].as_str()?.to_string(), e.args["at"].clone())))
        .collect();
    for e in events {
        let a = e.args;
        if e.method == "record_epcis_event" {
            let Some(body) = a["body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok()) else {
                continue;
            };
            list.push(with_event_id(body, &mut context));
            continue;
        }
        if covered.iter().any(|(m, at)| m == e.method && at == &a["at"]) {
            continue;
        }
        let time = a["at"]["time_ms"].as_u64().unwrap_or(0);
        let offset = a["at"]["tz_offset_min"].as_i64().unwrap_or(480);
        let mut ev = json!({
            "type": "ObjectEvent",
            "eventID": format!("ni:///sha-256;{}?ver=CBV2.0", e.tx_hash),
            "eventTime": rfc3339(time),
            "eventTimeZoneOffset": tz(offset),
            "action": "OBSERVE",
            "quantityList": [{"epcClass": class(&lot.id)}],
            "readPoint": {"id": org_urn(e.org)},
        });
        let set = |ev: &mut Value, k: &str, v: Value| {
            if let Value::Object(o) = ev {
                o.insert(k.to_string(), v);
            }
        };
        let (step, disp): (&str, Option<&str>) = match e.method {
            "create_lot" => {
                set(&mut ev, "action", json!("ADD"));
                set(
                    &mut ev,
                    "quantityList",
                    json!([{"epcClass": class(&lot.id), "quantity": qty(a["quantity_milli"].as_u64().unwrap_or(0)), "uom": uom(a["unit"].as_str().unwrap_or(""))}]),
                );
                set(
                    &mut ev,
                    "ilmd",
                    json!({"jialing:origin": a["origin"], "jialing:product": product.map(|p| json!({"code": p.code, "name": p.name, "category": p.category, "standard": p.standard}))}),
                );
                ("creating_class_instance", Some("active"))
            }
            "record_input" => {
                set(
                    &mut ev,
                    "jialing:input",
                    json!({"kind": a["kind"], "name": a["name"], "amount": qty(a["amount_milli"].as_u64().unwrap_or(0)), "unit": a["unit"], "intervalDays": a["interval_days"]}),
                );
                ("other", Some("active"))
            }
            "harvest" => {
                set(
                    &mut ev,
                    "quantityList",
                    json!([{"epcClass": class(&lot.id), "quantity": qty(a["quantity_milli"].as_u64().unwrap_or(0)), "uom": uom(&lot.unit)}]),
                );
                ("commissioning", Some("active"))
            }
            "record_test" => {
                let pass = a["items"].as_array().is_some_and(|i| i.iter().all(|x| x["pass"] == json!(true)));
                set(&mut ev, "jialing:test", json!({"items": a["items"], "reportSha256": a["report_hash"]}));
                ("inspecting", Some(if pass { "conformant" } else { "non_conformant" }))
            }
            "issue_certificate" => {
                set(&mut ev, "certificationInfo", json!(format!("urn:jialing:certificate:{}:{}", lot.id, e.tx_hash)));
                set(
                    &mut ev,
                    "jialing:certificate",
                    json!({"promise": a["promise"], "basis": a["basis"], "contact": a["contact"], "quantity": qty(a["quantity_milli"].as_u64().unwrap_or(0))}),
                );
                ("other", Some("conformant"))
            }
            "ship" => {
                set(
                    &mut ev,
                    "destinationList",
                    json!([{"type": "owning_party", "destination": org_urn(a["to"].as_str().unwrap_or(""))}]),
                );
                ("shipping", Some("in_transit"))
            }
            "receive" => {
                set(
                    &mut ev,
                    "sourceList",
                    json!([{"type": "owning_party", "source": org_urn(&lot.producer.to_string())}]),
                );
                ("receiving", Some("in_progress"))
            }
            "sell" => {
                set(
                    &mut ev,
                    "quantityList",
                    json!([{"epcClass": class(&lot.id), "quantity": qty(a["quantity_milli"].as_u64().unwrap_or(0)), "uom": uom(&lot.unit)}]),
                );
                ("retail_selling", Some("retail_sold"))
            }
            "hold" => {
                set(&mut ev, "jialing:reason", a["reason"].clone());
                ("holding", Some("non_sellable_other"))
            }
            "release" => {
                set(&mut ev, "jialing:reason", a["reason"].clone());
                set(&mut ev, "jialing:release", json!(true));
                ("other", Some("active"))
            }
            "recall" => {
                set(&mut ev, "jialing:reason", a["reason"].clone());
                ("holding", Some("recalled"))
            }
            "destroy" => {
                set(&mut ev, "jialing:reason", a["reason"].clone());
                ("destroying", Some("destroyed"))
            }
            "transform" => {
                ev = json!({
                    "type": "TransformationEvent",
                    "eventID": format!("ni:///sha-256;{}?ver=CBV2.0", e.tx_hash),
                    "eventTime": rfc3339(time),
                    "eventTimeZoneOffset": tz(offset),
                    "inputQuantityList": a["inputs"].as_array().map(|v| v.iter().map(|i| json!({"epcClass": class(i["lot"].as_str().unwrap_or("")), "quantity": qty(i["quantity_milli"].as_u64().unwrap_or(0))})).collect::<Vec<_>>()),
                    "outputQuantityList": a["outputs"].as_array().map(|v| v.iter().map(|o| json!({"epcClass": format!("{base}{}", digital_link_path(o["product"].as_str().unwrap_or(""), o["lot"].as_str().unwrap_or(""))), "quantity": qty(o["quantity_milli"].as_u64().unwrap_or(0)), "uom": uom(o["unit"].as_str().unwrap_or(""))})).collect::<Vec<_>>()),
                    "readPoint": {"id": org_urn(e.org)},
                    "jialing:yieldPermille": a["yield_permille"],
                });
                ("commissioning", Some("active"))
            }
            "pack" => {
                ev = json!({
                    "type": "AggregationEvent",
                    "eventID": format!("ni:///sha-256;{}?ver=CBV2.0", e.tx_hash),
                    "eventTime": rfc3339(time),
                    "eventTimeZoneOffset": tz(offset),
                    "action": "ADD",
                    "parentID": class(a["pack"].as_str().unwrap_or("")),
                    "childQuantityList": a["lots"].as_array().map(|v| v.iter().map(|l| json!({"epcClass": class(l.as_str().unwrap_or(""))})).collect::<Vec<_>>()),
                    "readPoint": {"id": org_urn(e.org)},
                });
                ("packing", Some("active"))
            }
            "declare_error" => {
                let reason = if a["reason"] == "did_not_occur" { "did_not_occur" } else { "incorrect_data" };
                set(
                    &mut ev,
                    "errorDeclaration",
                    json!({"declarationTime": rfc3339(time), "reason": reason, "jialing:erroneousEventID": format!("ni:///sha-256;{}?ver=CBV2.0", a["event_tx"].as_str().unwrap_or("")), "jialing:note": a["note"]}),
                );
                ("other", None)
            }
            _ => ("other", None),
        };
        set(&mut ev, "bizStep", json!(step));
        if let Some(d) = disp {
            set(&mut ev, "disposition", json!(d));
        }
        set(&mut ev, "jialing:tx", json!(e.tx_hash.to_string()));
        let ns = crate::trace::epcis_hash::namespaces(&json!({"jialing": "https://jialing.example/epcis/"}));
        let id = crate::trace::epcis_hash::event_hash_id(&ev, &ns);
        set(&mut ev, "eventID", json!(id));
        list.push(ev);
    }
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", Value::Object(context)],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": list.last().and_then(|e| e["eventTime"].as_str()).map(str::to_string),
        "epcisBody": {"eventList": list},
    })
}

/// `(product, lot)` of a Digital Link with `/01/{item}/10/{lot}` (the ledger's own
/// links allow a non-GTIN item) or of an LGTIN class URN.
pub(crate) fn lot_of(uri: &str) -> Result<(String, String), String> {
    if let Ok(Some(crate::trace::gs1::Gs1Key::Gtin { gtin, lot: Some(lot), .. })) =
        crate::trace::gs1::parse_epc_urn(uri)
    {
        return Ok((gtin, lot));
    }
    let (_, rest) = uri
        .split_once("/01/")
        .ok_or_else(|| format!("{uri:?} is not a GS1 Digital Link with /01/{{gtin}}/10/{{lot}}"))?;
    let (item, lot) = rest.split_once("/10/").ok_or_else(|| format!("{uri:?} has no /10/{{lot}}"))?;
    let lot = lot.split(['/', '?']).next().unwrap_or_default();
    Ok((crate::trace::gs1::percent_decode(item)?, crate::trace::gs1::percent_decode(lot)?))
}

/// Decimal quantity text or number to milli-units, without floating point.
fn milli(v: &Value) -> Result<u64, String> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("quantity is missing".into()),
    };
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if frac.len() > 3
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || int.is_empty()
    {
        return Err(format!("quantity {s} is not a non-negative decimal with at most 3 decimals"));
    }
    let i: u64 = int.parse().map_err(|_| format!("quantity {s} is too large"))?;
    let f: u64 = format!("{frac:0<3}").parse().map_err(|_| format!("quantity {s} is malformed"))?;
    i.checked_mul(1000).and_then(|x| x.checked_add(f)).ok_or_else(|| format!("quantity {s} is too large"))
}

fn unit_of(uom: Option<&str>) -> &str {
    match uom {
        Some("KGM") => "kg",
        Some("GRM") => "g",
        Some("TNE") => "t",
        Some("LTR") => "L",
        Some("H87") | None => "piece",
        Some(other) => other,
    }
}

fn org_of(urn: &str) -> Result<String, String> {
    urn.strip_prefix("urn:jialing:org:")
        .map(str::to_string)
        .ok_or_else(|| format!("{urn:?} is not urn:jialing:org:{{USCC}}"))
}

/// The ledger call an EPCIS event maps to (the table above), or why it maps to none.
pub(crate) fn import_event(e: &Value) -> Result<(String, Value), String> {
    let at = crate::trace::epcis_import::event_time(e)?;
    let at = json!({"time_ms": at.time_ms, "tz_offset_min": at.tz_offset_min});
    let step = e["bizStep"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("https://ref.gs1.org/cbv/BizStep-")
        .trim_start_matches("urn:epcglobal:cbv:bizstep:");
    let disp = e["disposition"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("https://ref.gs1.org/cbv/Disp-")
        .trim_start_matches("urn:epcglobal:cbv:disp:");
    if !e["errorDeclaration"].is_null() {
        let d = &e["errorDeclaration"];
        let reason = if d["reason"].as_str().unwrap_or("").ends_with("did_not_occur") {
            "did_not_occur"
        } else {
            "incorrect_data"
        };
        let (_, lot) = lot_of(
            e["quantityList"][0]["epcClass"].as_str().ok_or("errorDeclaration without quantityList[0].epcClass")?,
        )?;
        // A ledger correction names the ledger transaction it corrects; a partner's
        // error declaration without one stays an observation.
        let erroneous = d["jialing:erroneousEventID"]
            .as_str()
            .ok_or("errorDeclaration without jialing:erroneousEventID (the ledger event it corrects)")?;
        let hash = erroneous.trim_start_matches("ni:///sha-256;").split('?').next().unwrap_or_default();
        return Ok((
            "declare_error".into(),
            json!({"lot": lot, "event_tx": hash, "reason": reason, "note": d["jialing:note"].as_str().unwrap_or("imported error declaration"), "at": at}),
        ));
    }
    let first_class = || -> Result<(String, String), String> {
        lot_of(e["quantityList"][0]["epcClass"].as_str().ok_or("missing quantityList[0].epcClass")?)
    };
    if let Some(c) = e.get("jialing:certificate").filter(|c| !c.is_null()) {
        let (_, lot) = first_class()?;
        return Ok((
            "issue_certificate".into(),
            json!({"lot": lot, "contact": c["contact"], "promise": c["promise"], "basis": c["basis"], "quantity_milli": milli(&c["quantity"])?, "at": at}),
        ));
    }
    if let Some(i) = e.get("jialing:input").filter(|c| !c.is_null()) {
        let (_, lot) = first_class()?;
        return Ok((
            "record_input".into(),
            json!({"lot": lot, "kind": i["kind"], "name": i["name"], "amount_milli": milli(&i["amount"])?, "unit": i["unit"], "interval_days": i["intervalDays"], "at": at}),
        ));
    }
    if e.get("jialing:release").is_some_and(|r| r == &json!(true)) {
        return Ok(("release".into(), json!({"lot": first_class()?.1, "reason": e["jialing:reason"], "at": at})));
    }
    match (e["type"].as_str().unwrap_or(""), step) {
        ("ObjectEvent", "creating_class_instance") => {
            let (product, lot) = first_class()?;
            let q = &e["quantityList"][0];
            let origin = e["ilmd"]["jialing:origin"].clone();
            if origin.is_null() {
                return Err(
                    "ilmd.jialing:origin (county, township, village, lat_micro, lon_micro) is required to create a lot"
                        .into(),
                );
            }
            Ok((
                "create_lot".into(),
                json!({"lot": lot, "product": product, "origin": origin, "quantity_milli": milli(&q["quantity"])?, "unit": unit_of(q["uom"].as_str()), "at": at}),
            ))
        }
        ("ObjectEvent", "commissioning") => {
            let (_, lot) = first_class()?;
            let q = milli(&e["quantityList"][0]["quantity"]).map_err(|m| format!("harvest {m}"))?;
            Ok(("harvest".into(), json!({"lot": lot, "quantity_milli": q, "at": at})))
        }
        ("ObjectEvent", "inspecting") => {
            let (_, lot) = first_class()?;
            let t = &e["jialing:test"];
            if t["items"].is_null() {
                return Err(
                    "an inspecting event needs jialing:test.items (name, measured_milli, limit_milli, unit, pass)"
                        .into(),
                );
            }
            Ok((
                "record_test".into(),
                json!({"lot": lot, "items": t["items"], "report_hash": t["reportSha256"], "at": at}),
            ))
        }
        ("ObjectEvent", "shipping") => {
            let (_, lot) = first_class()?;
            let to = org_of(
                e["destinationList"][0]["destination"]
                    .as_str()
                    .ok_or("shipping needs destinationList[0].destination")?,
            )?;
            Ok(("ship".into(), json!({"lot": lot, "to": to, "at": at})))
        }
        ("ObjectEvent", "receiving") => Ok(("receive".into(), json!({"lot": first_class()?.1, "at": at}))),
        ("ObjectEvent", "retail_selling") => {
            let (_, lot) = first_class()?;
            Ok((
                "sell".into(),
                json!({"lot": lot, "quantity_milli": milli(&e["quantityList"][0]["quantity"])?, "at": at}),
            ))
        }
        ("ObjectEvent", "holding") if disp == "recalled" => Ok((
            "recall".into(),
            json!({"lot": first_class()?.1, "reason": e["jialing:reason"].as_str().unwrap_or("recall (imported from EPCIS)"), "at": at}),
        )),
        ("ObjectEvent", "holding") => Ok((
            "hold".into(),
            json!({"lot": first_class()?.1, "reason": e["jialing:reason"].as_str().unwrap_or("hold (imported from EPCIS)"), "at": at}),
        )),
        ("ObjectEvent", "destroying") => Ok((
            "destroy".into(),
            json!({"lot": first_class()?.1, "reason": e["jialing:reason"].as_str().unwrap_or("destroyed (imported from EPCIS)"), "at": at}),
        )),
        ("TransformationEvent", _) => {
            let inputs = e["inputQuantityList"].as_array().ok_or("missing inputQuantityList")?;
            let outputs = e["outputQuantityList"].as_array().ok_or("missing outputQuantityList")?;
            let ins = inputs.iter().map(|q| Ok(json!({"lot": lot_of(q["epcClass"].as_str().ok_or("input without epcClass")?)?.1, "quantity_milli": milli(&q["quantity"])?}))).collect::<Result<Vec<_>, String>>()?;
            let outs = outputs
                .iter()
                .map(|q| {
                    let (product, lot) = lot_of(q["epcClass"].as_str().ok_or("output without epcClass")?)?;
                    Ok(json!({"lot": lot, "product": product, "quantity_milli": milli(&q["quantity"])?, "unit": unit_of(q["uom"].as_str())}))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let y = e["jialing:yieldPermille"].as_u64().unwrap_or(1000);
            Ok(("transform".into(), json!({"inputs": ins, "outputs": outs, "yield_permille": y, "at": at})))
        }
        ("AggregationEvent", _) if e["action"] == "ADD" => {
            let (product, pack) = lot_of(e["parentID"].as_str().ok_or("missing parentID")?)?;
            let lots = e["childQuantityList"]
                .as_array()
                .ok_or("missing childQuantityList")?
                .iter()
                .map(|c| Ok(lot_of(c["epcClass"].as_str().ok_or("child without epcClass")?)?.1))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(("pack".into(), json!({"pack": pack, "product": product, "lots": lots, "at": at})))
        }
        (t, s) => Err(format!(
            "{t} with bizStep {s:?} cannot be mapped to a ledger event (supported: creating_class_instance, commissioning, inspecting, shipping, receiving, retail_selling, holding, destroying, TransformationEvent, AggregationEvent ADD, errorDeclaration)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digital_link_pads_gtins_and_encodes_reserved_characters() {
        assert_eq!(digital_link_path("6901234567892", "L1"), "/01/06901234567892/10/L1");
        assert_eq!(digital_link_path("06901234567892", "A B/1"), "/01/06901234567892/10/A%20B%2F1");
        assert_eq!(digital_link_path("ZHACAI", "X.1"), "/01/ZHACAI/10/X.1");
    }

    #[test]
    fn export_maps_methods_to_cbv_events() {
        use crate::trace::types::{LotStatus, Origin};
        let uscc = jialing_core::Uscc::complete("91500230MA5U10001").unwrap();
        let origin =
            Origin { county: "c".into(), township: "t".into(), village: "v".into(), lat_micro: 0, lon_micro: 0 };
        let lot = Lot::new("L1", "6901234567892", &uscc, origin, 1500, "kg", LotStatus::Harvested);
        let at = json!({"time_ms": 1_767_225_600_000u64, "tz_offset_min": 480});
        let create = json!({"quantity_milli": 1500, "unit": "kg", "origin": {}, "at": at});
        let test = json!({"items": [{"pass": false}], "report_hash": "00", "at": at});
        let pack = json!({"pack": "P1", "lots": ["L1"], "at": at});
        let recs = [
            EventRecord { tx_hash: Hash([1; 32]), method: "create_lot", args: &create, org: "X" },
            EventRecord { tx_hash: Hash([2; 32]), method: "record_test", args: &test, org: "Y" },
            EventRecord { tx_hash: Hash([3; 32]), method: "pack", args: &pack, org: "X" },
        ];
        let doc = export_lot("https://r.example", &lot, None, &recs);
        let ev = doc["epcisBody"]["eventList"].as_array().unwrap();
        assert_eq!(doc["schemaVersion"], "2.0");
        assert_eq!(
            (ev[0]["action"].as_str(), ev[0]["bizStep"].as_str()),
            (Some("ADD"), Some("creating_class_instance"))
        );
        assert_eq!(ev[0]["quantityList"][0]["epcClass"], "https://r.example/01/06901234567892/10/L1");
        assert_eq!(ev[0]["quantityList"][0]["uom"], "KGM");
        assert_eq!(ev[1]["disposition"], "non_conformant");
        assert_eq!(
            (ev[2]["type"].as_str(), ev[2]["parentID"].as_str()),
            (Some("AggregationEvent"), Some("https://r.example/01/06901234567892/10/P1"))
        );
        assert!(ev[0]["eventID"].as_str().unwrap().starts_with("ni:///sha-256;"));
        assert!(ev[0]["jialing:tx"].as_str().unwrap().starts_with("0101"));
        assert_eq!(ev[0]["eventTimeZoneOffset"], "+08:00");
    }

    #[test]
    fn times_and_offsets() {
        assert_eq!(rfc3339(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(tz(480), "+08:00");
        assert_eq!(tz(-330), "-05:30");
    }
}
