//! The EPCIS event hash ID (CBV 2.0 section 8.9): a syntax-independent fingerprint of
//! an event, `ni:///sha-256;{hex}?ver=CBV2.0`.
//!
//! The pre-hash string is `eventType=...` followed by the event's fields in the
//! standard's canonical order (eventTime, eventTimeZoneOffset, epcList, parentID,
//! inputEPCList, childEPCs, quantityList, childQuantityList, inputQuantityList,
//! outputEPCList, outputQuantityList, action, transformationID, bizStep, disposition,
//! persistentDisposition, readPoint, bizLocation, bizTransactionList, sourceList,
//! destinationList, sensorElementList), then every other field (ilmd, errorDeclaration,
//! certificationInfo, extensions with their namespace expanded) sorted. Values are
//! normalised: times to UTC with milliseconds, CBV bare words and URNs to
//! `https://ref.gs1.org/cbv/...` URIs, EPC URNs and Digital Links to canonical
//! Digital Links at `https://id.gs1.org`, numbers without superfluous zeros; the
//! elements of a list are sorted. `eventID` and `recordTime` are not hashed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::trace::gs1;

/// Namespace prefixes a document's `@context` declares (prefix → IRI).
pub type Namespaces = BTreeMap<String, String>;

/// The prefixes a JSON-LD `@context` (string, object or list of both) declares.
pub fn namespaces(context: &Value) -> Namespaces {
    let mut out = Namespaces::new();
    let mut add = |o: &serde_json::Map<String, Value>| {
        for (k, v) in o {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    };
    match context {
        Value::Object(o) => add(o),
        Value::Array(a) => a.iter().filter_map(Value::as_object).for_each(&mut add),
        _ => {}
    }
    out
}

/// Normalises an RFC 3339 time with any offset to UTC with milliseconds
/// (`2005-04-04T02:33:31.116Z`); `None` if it is not one.
pub fn utc_ms(t: &str) -> Option<String> {
    parse_time_ms(t).map(jialing_core::calendar::format_rfc3339_ms)
}

/// ms since the Unix epoch of an RFC 3339 time with any offset (`Z`, `±hh:mm`) and any
/// number of fractional digits (cut to ms, rounding the fourth digit as the standard's
/// reference implementation does: half up).
pub fn parse_time_ms(t: &str) -> Option<u64> {
    let t = t.trim();
    if t.len() < 20 || !t.is_char_boundary(19) {
        return None;
    }
    let (date_time, rest) = t.split_at(19);
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            (&r[..n], &r[n..])
        }
        None => ("", rest),
    };
    let offset_min: i64 = match zone {
        "Z" | "z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) && &z[3..4] == ":" => {
            let h: i64 = z[1..3].parse().ok()?;
            let m: i64 = z[4..6].parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let v = h * 60 + m;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let base = jialing_core::calendar::parse_rfc3339_utc(&format!("{date_time}Z")).ok()?;
    let mut ms: u64 = format!("{:0<3}", frac.get(..3).unwrap_or(frac)).parse().ok()?;
    if frac.as_bytes().get(3).is_some_and(|d| *d >= b'5') {
        ms += 1;
    }
    let local = i128::from(base) + i128::from(ms) - i128::from(offset_min) * 60_000;
    u64::try_from(local).ok()
}

/// The vocabulary a field's bare-word values belong to (CBV 2.0 section 8.2).
fn vocabulary(field: &str) -> Option<&'static str> {
    Some(match field {
        "bizStep" => "BizStep-",
        "disposition" | "set" | "unset" => "Disp-",
        "bizTransactionType" => "BTT-",
        "sourceDestType" => "SDT-",
        "reason" => "ER-",
        _ => return None,
    })
}

/// Canonical form of one value of `field`.
fn canon(field: &str, v: &Value) -> String {
    match v {
        Value::Number(n) => canon_number(&n.to_string()),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => canon_str(field, s.trim()),
        _ => String::new(),
    }
}

fn canon_number(s: &str) -> String {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches(['-', '+']);
    if s.contains(['e', 'E']) {
        return s.to_string();
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    if neg && body != "0" { format!("-{body}") } else { body }
}

fn canon_str(field: &str, s: &str) -> String {
    if field.to_ascii_lowercase().contains("time")
        && !field.to_ascii_lowercase().contains("offset")
        && let Some(t) = utc_ms(s)
    {
        return t;
    }
    for (urn, web) in [
        ("urn:epcglobal:cbv:bizstep:", "BizStep-"),
        ("urn:epcglobal:cbv:disp:", "Disp-"),
        ("urn:epcglobal:cbv:btt:", "BTT-"),
        ("urn:epcglobal:cbv:sdt:", "SDT-"),
        ("urn:epcglobal:cbv:er:", "ER-"),
    ] {
        if let Some(rest) = s.strip_prefix(urn) {
            return format!("https://ref.gs1.org/cbv/{web}{rest}");
        }
    }
    if let Some(voc) = vocabulary(field)
        && !s.contains(':')
    {
        return format!("https://ref.gs1.org/cbv/{voc}{s}");
    }
    if let Some(rest) = s.strip_prefix("gs1:") {
        return format!("https://gs1.org/voc/{rest}");
    }
    if s.starts_with("urn:epc:") || s.starts_with("http://") || s.starts_with("https://") {
        return gs1::canonical_identifier(s);
    }
    s.to_string()
}

/// `key=value` for a scalar, or the key followed by its children.
fn scalar(key: &str, field: &str, v: &Value) -> String {
    let c = canon(field, v);
    if c.is_empty() { String::new() } else { format!("{key}={c}") }
}

fn sorted(mut parts: Vec<String>) -> String {
    parts.retain(|p| !p.is_empty());
    parts.sort();
    parts.concat()
}

fn epc_list(e: &Value, key: &str) -> String {
    let items = e[key].as_array().map(|a| a.iter().map(|v| scalar("epc", "epc", v)).collect()).unwrap_or_default();
    let s = sorted(items);
    if s.is_empty() { s } else { format!("{key}{s}") }
}

fn quantity_list(e: &Value, key: &str) -> String {
    let items = e[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|q| {
                    let inner =
                        ["epcClass", "quantity", "uom"].iter().map(|f| scalar(f, f, &q[*f])).collect::<String>();
                    if inner.is_empty() { inner } else { format!("quantityElement{inner}") }
                })
                .collect()
        })
        .unwrap_or_default();
    let s = sorted(items);
    if s.is_empty() { s } else { format!("{key}{s}") }
}

fn typed_list(e: &Value, key: &str, value_key: &str, type_voc: &str) -> String {
    let items = e[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!("{}{}", scalar(value_key, value_key, &x[value_key]), scalar("type", type_voc, &x["type"]))
                })
                .collect()
        })
        .unwrap_or_default();
    let s = sorted(items);
    if s.is_empty() { s } else { format!("{key}{s}") }
}

const META_ORDER: &[&str] =
    &["time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"];
const REPORT_ORDER: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
];

fn ordered_then_rest(o: &Value, order: &[&str], ns: &Namespaces) -> String {
    let mut s: String = order.iter().map(|f| scalar(f, f, &o[*f])).collect();
    if let Some(m) = o.as_object() {
        s.push_str(&sorted(
            m.iter().filter(|(k, _)| !order.contains(&k.as_str())).map(|(k, v)| generic(k, v, ns)).collect(),
        ));
    }
    s
}

fn sensors(e: &Value, ns: &Namespaces) -> String {
    let items = e["sensorElementList"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|el| {
                    let meta = if el["sensorMetadata"].is_object() {
                        format!("sensorMetadata{}", ordered_then_rest(&el["sensorMetadata"], META_ORDER, ns))
                    } else {
                        String::new()
                    };
                    let reports = sorted(
                        el["sensorReport"]
                            .as_array()
                            .map(|r| {
                                r.iter()
                                    .map(|x| format!("sensorReport{}", ordered_then_rest(x, REPORT_ORDER, ns)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    );
                    let rest = el.as_object().map(|m| {
                        sorted(
                            m.iter()
                                .filter(|(k, _)| !matches!(k.as_str(), "sensorMetadata" | "sensorReport"))
                                .map(|(k, v)| generic(k, v, ns))
                                .collect(),
                        )
                    });
                    format!("sensorElement{meta}{reports}{}", rest.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    let s = sorted(items);
    if s.is_empty() { s } else { format!("sensorElementList{s}") }
}

/// A field name with its namespace prefix expanded (`example:f` →
/// `{http://ns.example.com/epcis/}f`).
fn expand(key: &str, ns: &Namespaces) -> String {
    match key.split_once(':') {
        Some((p, local)) => match ns.get(p) {
            Some(iri) => format!("{{{iri}}}{local}"),
            None => key.to_string(),
        },
        None => key.to_string(),
    }
}

/// Any other field: scalars as `key=value`, objects as the key and their sorted fields,
/// lists as the sorted strings of their elements under the key.
fn generic(key: &str, v: &Value, ns: &Namespaces) -> String {
    let name = expand(key, ns);
    let local = key.rsplit(':').next().unwrap_or(key);
    match v {
        Value::Object(m) => {
            let inner =
                sorted(m.iter().filter(|(k, _)| k.as_str() != "@type").map(|(k, v)| generic(k, v, ns)).collect());
            format!("{name}{inner}")
        }
        Value::Array(a) => {
            let items = sorted(a.iter().map(|x| generic(local, x, ns)).collect());
            if items.is_empty() { String::new() } else { format!("{name}{items}") }
        }
        Value::Null => String::new(),
        other => scalar(&name, local, other),
    }
}

const ORDERED: &[&str] = &[
    "type",
    "eventID",
    "recordTime",
    "eventTime",
    "eventTimeZoneOffset",
    "epcList",
    "parentID",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "@context",
];

/// The pre-hash string of one event (see the module documentation).
pub fn pre_hash(e: &Value, ns: &Namespaces) -> String {
    let mut s = format!("eventType={}", e["type"].as_str().unwrap_or_default());
    s.push_str(&scalar("eventTime", "eventTime", &e["eventTime"]));
    s.push_str(&scalar("eventTimeZoneOffset", "eventTimeZoneOffset", &e["eventTimeZoneOffset"]));
    s.push_str(&epc_list(e, "epcList"));
    s.push_str(&scalar("parentID", "parentID", &e["parentID"]));
    s.push_str(&epc_list(e, "inputEPCList"));
    s.push_str(&epc_list(e, "childEPCs"));
    s.push_str(&quantity_list(e, "quantityList"));
    s.push_str(&quantity_list(e, "childQuantityList"));
    s.push_str(&quantity_list(e, "inputQuantityList"));
    s.push_str(&epc_list(e, "outputEPCList"));
    s.push_str(&quantity_list(e, "outputQuantityList"));
    for f in ["action", "transformationID", "bizStep", "disposition"] {
        s.push_str(&scalar(f, f, &e[f]));
    }
    let pd = &e["persistentDisposition"];
    if pd.is_object() {
        let list =
            |k: &str| sorted(pd[k].as_array().map(|a| a.iter().map(|v| scalar(k, k, v)).collect()).unwrap_or_default());
        s.push_str(&format!("persistentDisposition{}{}", list("set"), list("unset")));
    }
    for f in ["readPoint", "bizLocation"] {
        let id = scalar("id", "id", &e[f]["id"]);
        if !id.is_empty() {
            s.push_str(&format!("{f}{id}"));
        }
    }
    s.push_str(&typed_list(e, "bizTransactionList", "bizTransaction", "bizTransactionType"));
    s.push_str(&typed_list(e, "sourceList", "source", "sourceDestType"));
    s.push_str(&typed_list(e, "destinationList", "destination", "sourceDestType"));
    s.push_str(&sensors(e, ns));
    if let Some(m) = e.as_object() {
        // readPoint and bizLocation may carry extensions beside their id.
        let mut rest: Vec<String> =
            m.iter().filter(|(k, _)| !ORDERED.contains(&k.as_str())).map(|(k, v)| generic(k, v, ns)).collect();
        for f in ["readPoint", "bizLocation"] {
            if let Some(o) = e[f].as_object() {
                rest.extend(
                    o.iter().filter(|(k, _)| k.as_str() != "id").map(|(k, v)| format!("{f}{}", generic(k, v, ns))),
                );
            }
        }
        s.push_str(&sorted(rest));
    }
    s
}

/// The event hash ID, `ni:///sha-256;{hex}?ver=CBV2.0`.
pub fn event_hash_id(e: &Value, ns: &Namespaces) -> String {
    format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(event_hash(e, ns)))
}

/// The SHA-256 of the event's pre-hash string.
pub fn event_hash(e: &Value, ns: &Namespaces) -> [u8; 32] {
    jialing_core::hash::sha256(pre_hash(e, ns).as_bytes()).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_with_any_offset_normalise_to_utc_ms() {
        assert_eq!(utc_ms("2005-04-03T20:33:31.116000-06:00").as_deref(), Some("2005-04-04T02:33:31.116Z"));
        assert_eq!(utc_ms("2005-04-04T02:33:31Z").as_deref(), Some("2005-04-04T02:33:31.000Z"));
        assert_eq!(utc_ms("2020-01-01T08:00:00.1239+08:00").as_deref(), Some("2020-01-01T00:00:00.124Z"));
        assert_eq!(utc_ms("2020-01-01 08:00:00Z"), None);
    }

    /// The known answer of the standard's reference implementation
    /// (github.com/RalphTro/epcis-event-hash-generator, `epcisDocWithSingleEvent`).
    #[test]
    fn reference_event_hash_known_answer() {
        let e = json!({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
            "eventTime": "2022-02-16T20:33:31.116000-06:00", "eventTimeZoneOffset": "-06:00",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
            "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}]});
        let ns = Namespaces::new();
        assert_eq!(
            pre_hash(&e, &ns),
            "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00\
             epcListepc=https://id.gs1.org/01/10614141073464/21/2017epc=https://id.gs1.org/01/10614141073464/21/2018\
             action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition=https://ref.gs1.org/cbv/Disp-in_transit\
             readPointid=https://id.gs1.org/414/0614141073467/254/1234\
             bizTransactionListbizTransaction=http://transaction.acme.com/po/12345678type=https://ref.gs1.org/cbv/BTT-po"
        );
        assert_eq!(
            event_hash_id(&e, &ns),
            "ni:///sha-256;3e0f2437f4cb5e8a1b832b769c0eed1bf3e1421f14061132e9800ded03f10182?ver=CBV2.0"
        );
    }

    #[test]
    fn same_event_in_another_serialisation_has_the_same_hash() {
        let ns = Namespaces::new();
        let a = json!({"type": "ObjectEvent", "eventTime": "2005-04-03T20:33:31.116-06:00", "eventTimeZoneOffset": "-06:00",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
            "action": "OBSERVE", "bizStep": "shipping", "eventID": "x"});
        let b = json!({"eventID": "y", "bizStep": "urn:epcglobal:cbv:bizstep:shipping", "action": "OBSERVE",
            "epcList": ["https://id.gs1.org/01/10614141073464/21/2018", "urn:epc:id:sgtin:0614141.107346.2017"],
            "eventTimeZoneOffset": "-06:00", "eventTime": "2005-04-04T02:33:31.116Z", "type": "ObjectEvent"});
        assert_eq!(event_hash_id(&a, &ns), event_hash_id(&b, &ns));
        let mut c = a.clone();
        c["bizStep"] = json!("receiving");
        assert_ne!(event_hash_id(&a, &ns), event_hash_id(&c, &ns));
    }
}
