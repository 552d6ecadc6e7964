//! GS1 identifiers: the mod-10 check digit, GTIN forms, and the conversion of EPC URNs
//! (GS1 EPC Tag Data Standard 2.0, section 6: `urn:epc:id:sgtin`, `urn:epc:class:lgtin`,
//! `urn:epc:idpat:sgtin`, `urn:epc:id:sscc`, `urn:epc:id:sgln`, `urn:epc:id:pgln`) to
//! GS1 Digital Link URIs (GS1 Digital Link URI syntax 1.2), and back from a Digital
//! Link to the GTIN, lot and serial it names.

use std::fmt::Write as _;

/// The GS1 Digital Link resolver used when an identifier has none (the standard's
/// canonical stem).
pub const CANONICAL_STEM: &str = "https://id.gs1.org";

/// The GS1 mod-10 check digit of `digits` (weights 3, 1, 3, ... from the right), or
/// `None` when `digits` is empty or holds a non-digit.
pub fn check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 =
        digits.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether the last digit of `data` is the GS1 check digit of the digits before it.
pub fn check_digit_valid(data: &str) -> bool {
    match data.len() {
        0 | 1 => false,
        n => check_digit(&data[..n - 1]).is_some_and(|c| data.as_bytes()[n - 1] == b'0' + c),
    }
}

/// `digits` followed by its check digit.
fn with_check(digits: &str) -> Option<String> {
    check_digit(digits).map(|c| format!("{digits}{c}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a Digital Link path
/// component).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes; a malformed escape is an error naming it.
pub fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("truncated percent-escape in {s:?}"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("bad percent-escape %{hex} in {s:?}"))?;
            if v == 0 {
                return Err(format!("%00 (NUL) in {s:?}"));
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-escapes in {s:?} are not UTF-8"))
}

/// A GTIN-8, -12, -13 or -14 left-padded to 14 digits, with its check digit verified.
pub fn gtin14(code: &str) -> Result<String, String> {
    if !matches!(code.len(), 8 | 12 | 13 | 14) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{code:?} is not a GTIN (8, 12, 13 or 14 digits)"));
    }
    if !check_digit_valid(code) {
        return Err(format!(
            "GTIN {code} has a wrong check digit (expected {:?})",
            check_digit(&code[..code.len() - 1])
        ));
    }
    Ok(format!("{code:0>14}"))
}

/// What an EPC URN or a Digital Link URI names, in GS1 element terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gs1Key {
    /// A trade item (GTIN-14), optionally with lot (AI 10) and serial (AI 21).
    Gtin {
        /// GTIN-14.
        gtin: String,
        /// Batch or lot, AI (10).
        lot: Option<String>,
        /// Serial, AI (21).
        serial: Option<String>,
    },
    /// A logistic unit, SSCC-18, AI (00).
    Sscc(String),
    /// A location, GLN-13 AI (414), with an extension AI (254) if not `0`.
    Location {
        /// GLN-13.
        gln: String,
        /// Extension.
        extension: Option<String>,
    },
    /// A party, GLN-13 AI (417).
    Party(String),
}

impl Gs1Key {
    /// The canonical GS1 Digital Link URI under `stem` (`/01/{gtin}/10/{lot}/21/{serial}`
    /// and so on, values percent-encoded).
    pub fn digital_link(&self, stem: &str) -> String {
        let stem = stem.trim_end_matches('/');
        match self {
            Gs1Key::Gtin { gtin, lot, serial } => {
                let mut s = format!("{stem}/01/{gtin}");
                if let Some(l) = lot {
                    let _ = write!(s, "/10/{}", percent_encode(l));
                }
                if let Some(x) = serial {
                    let _ = write!(s, "/21/{}", percent_encode(x));
                }
                s
            }
            Gs1Key::Sscc(c) => format!("{stem}/00/{c}"),
            Gs1Key::Location { gln, extension: Some(e) } => format!("{stem}/414/{gln}/254/{}", percent_encode(e)),
            Gs1Key::Location { gln, extension: None } => format!("{stem}/414/{gln}"),
            Gs1Key::Party(g) => format!("{stem}/417/{g}"),
        }
    }
}

/// EPC URN component escapes (TDS 2.0 section 6.3: `%XX` for the few characters that
/// cannot appear literally).
fn urn_unescape(s: &str) -> Result<String, String> {
    percent_decode(s)
}

/// Converts a GS1 EPC pure-identity, class or pattern URN to what it names. `Ok(None)`
/// for a URN of another scheme (kept as given by the caller); an error when the URN is
/// of a GS1 scheme but malformed.
pub fn parse_epc_urn(urn: &str) -> Result<Option<Gs1Key>, String> {
    let Some((scheme, body)) = urn
        .strip_prefix("urn:epc:id:")
        .or_else(|| urn.strip_prefix("urn:epc:class:"))
        .or_else(|| urn.strip_prefix("urn:epc:idpat:"))
        .and_then(|r| r.split_once(':'))
    else {
        return Ok(None);
    };
    let parts: Vec<&str> = body.split('.').collect();
    let bad = |what: &str| format!("{urn:?} is not a valid {scheme} URN: {what}");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match scheme {
        "sgtin" | "lgtin" => {
            let [cp, iir, rest] = parts[..] else {
                return Err(bad("expected CompanyPrefix.IndicatorItemRef.Value"));
            };
            if !digits(cp) || !digits(iir) || cp.len() + iir.len() != 13 {
                return Err(bad("company prefix and indicator/item reference must be 13 digits together"));
            }
            let gtin = with_check(&format!("{}{cp}{}", &iir[..1], &iir[1..])).ok_or_else(|| bad("digits"))?;
            let value = if rest == "*" { None } else { Some(urn_unescape(rest)?) };
            Ok(Some(if scheme == "sgtin" {
                Gs1Key::Gtin { gtin, lot: None, serial: value }
            } else {
                Gs1Key::Gtin { gtin, lot: value, serial: None }
            }))
        }
        "sscc" => {
            let [cp, sr] = parts[..] else { return Err(bad("expected CompanyPrefix.SerialReference")) };
            if !digits(cp) || !digits(sr) || cp.len() + sr.len() != 17 {
                return Err(bad("company prefix and serial reference must be 17 digits together"));
            }
            let sscc = with_check(&format!("{}{cp}{}", &sr[..1], &sr[1..])).ok_or_else(|| bad("digits"))?;
            Ok(Some(Gs1Key::Sscc(sscc)))
        }
        "sgln" => {
            let [cp, loc, ext] = parts[..] else { return Err(bad("expected CompanyPrefix.LocationRef.Extension")) };
            if !digits(cp) || !(cp.len() + loc.len() == 12 && (loc.is_empty() || digits(loc))) {
                return Err(bad("company prefix and location reference must be 12 digits together"));
            }
            let gln = with_check(&format!("{cp}{loc}")).ok_or_else(|| bad("digits"))?;
            let extension = match ext {
                "0" | "*" => None,
                e => Some(urn_unescape(e)?),
            };
            Ok(Some(Gs1Key::Location { gln, extension }))
        }
        "pgln" => {
            let [cp, pr] = parts[..] else { return Err(bad("expected CompanyPrefix.PartyRef")) };
            if !digits(cp) || !(cp.len() + pr.len() == 12 && (pr.is_empty() || digits(pr))) {
                return Err(bad("company prefix and party reference must be 12 digits together"));
            }
            Ok(Some(Gs1Key::Party(with_check(&format!("{cp}{pr}")).ok_or_else(|| bad("digits"))?)))
        }
        _ => Ok(None),
    }
}

/// Parses the GS1 part of a Digital Link URI (any stem): primary key `/01/`, `/00/`,
/// `/414/` or `/417/` and the qualifiers that follow it. `Ok(None)` when the URI has no
/// GS1 primary key (not a Digital Link); an error when it has one but is malformed.
pub fn parse_digital_link(uri: &str) -> Result<Option<Gs1Key>, String> {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or(""),
        None => path,
    };
    let segs: Vec<&str> = path.split('/').collect();
    // The primary key is the last position at which a key AI is followed by a value and
    // then only qualifier pairs.
    for start in 0..segs.len() {
        let ai = segs[start];
        if !matches!(ai, "01" | "00" | "414" | "417") || start + 1 >= segs.len() {
            continue;
        }
        let rest = &segs[start + 2..];
        if !rest.len().is_multiple_of(2) {
            continue;
        }
        let value = percent_decode(segs[start + 1])?;
        let mut pairs = Vec::new();
        for p in rest.chunks(2) {
            pairs.push((p[0], percent_decode(p[1])?));
        }
        return match ai {
            "01" => {
                let gtin = gtin14(&value)?;
                let (mut lot, mut serial, mut order) = (None, None, 0);
                for (q, v) in pairs {
                    let rank = match q {
                        "22" => 1,
                        "10" => 2,
                        "21" => 3,
                        other => return Err(format!("/{other}/ is not a qualifier of /01/ (22, 10, 21)")),
                    };
                    if rank <= order {
                        return Err(format!("qualifier /{q}/ is out of order (22, then 10, then 21)"));
                    }
                    order = rank;
                    match q {
                        "10" => lot = Some(v),
                        "21" => serial = Some(v),
                        _ => {}
                    }
                }
                Ok(Some(Gs1Key::Gtin { gtin, lot, serial }))
            }
            "00" => {
                if value.len() != 18 || !check_digit_valid(&value) {
                    return Err(format!("{value:?} is not an SSCC-18 with a valid check digit"));
                }
                Ok(Some(Gs1Key::Sscc(value)))
            }
            "414" | "417" => {
                if value.len() != 13 || !check_digit_valid(&value) {
                    return Err(format!("{value:?} is not a GLN-13 with a valid check digit"));
                }
                if ai == "417" {
                    return Ok(Some(Gs1Key::Party(value)));
                }
                let extension = pairs.into_iter().find(|(q, _)| *q == "254").map(|(_, v)| v);
                Ok(Some(Gs1Key::Location { gln: value, extension }))
            }
            _ => Ok(None),
        };
    }
    Ok(None)
}

/// A consumer's Digital Link path, `/01/{gtin}` with `/22/{cpv}`, `/10/{lot}` and
/// `/21/{serial}` in that order (each optional, at most once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GtinPath {
    /// GTIN-14 (GTIN-8/12/13 padded), or the ledger's own product code when the item is
    /// not numeric.
    pub item: String,
    /// Consumer product variant, AI (22).
    pub cpv: Option<String>,
    /// Batch or lot, AI (10).
    pub lot: Option<String>,
    /// Serial, AI (21).
    pub serial: Option<String>,
}

/// GS1 AI encodable character set 82 (GS1 General Specifications 7.11, figure 7.11-1).
fn cset82(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b))
}

/// Whether a raw path byte may appear in a URI path (RFC 3986: unreserved, sub-delims,
/// `:`, `@`, `/` and `%` escapes).
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// Parses the path of a Digital Link under this resolver (`/01/...`, raw, still
/// percent-encoded). The error says what is wrong, for the 400 page.
pub fn parse_gtin_path(path: &str) -> Result<GtinPath, String> {
    if let Some(b) = path.bytes().find(|b| !path_byte(*b)) {
        return Err(format!("the character {:?} may not appear in a Digital Link path: percent-encode it", b as char));
    }
    let rest = path.strip_prefix("/01/").ok_or("a Digital Link for a product starts with /01/{GTIN}")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err("the path has an empty segment (//)".into());
    }
    let item = percent_decode(segs[0])?;
    let item = if item.bytes().all(|b| b.is_ascii_digit()) {
        gtin14(&item)?
    } else {
        crate::trace::rules::id_format("product code", &item).map_err(|e| e.to_string())?;
        item
    };
    let pairs = &segs[1..];
    if !pairs.len().is_multiple_of(2) {
        return Err(format!("/{}/ has no value", pairs[pairs.len() - 1]));
    }
    let mut out = GtinPath { item, cpv: None, lot: None, serial: None };
    let mut order = 0;
    for p in pairs.chunks(2) {
        let (ai, raw) = (p[0], p[1]);
        let rank = match ai {
            "22" => 1,
            "10" => 2,
            "21" => 3,
            other => {
                return Err(format!(
                    "/{other}/ is not a key qualifier of a GTIN: after /01/ come /22/ (variant), /10/ (lot) and /21/ (serial)"
                ));
            }
        };
        if rank <= order {
            return Err(format!("/{ai}/ is out of order or repeated: the order is /22/, /10/, /21/"));
        }
        order = rank;
        let v = percent_decode(raw)?;
        // GS1 allows 20 characters; the ledger's lot ids go up to 64 (trace.id_format),
        // and every lot must stay reachable by its code.
        let max = if ai == "10" { 64 } else { 20 };
        if v.is_empty() || v.chars().count() > max || !cset82(&v) {
            return Err(format!(
                "the value of /{ai}/ must be 1 to {max} characters of the GS1 character set 82 (letters, digits and !\"%&'()*+,-./:;<=>?_)"
            ));
        }
        match ai {
            "22" => out.cpv = Some(v),
            "10" => out.lot = Some(v),
            _ => out.serial = Some(v),
        }
    }
    Ok(out)
}

/// Any identifier in its canonical Digital Link form under [`CANONICAL_STEM`] when it is
/// a GS1 EPC URN or a Digital Link; otherwise the identifier unchanged.
pub fn canonical_identifier(id: &str) -> String {
    match parse_epc_urn(id) {
        Ok(Some(k)) => return k.digital_link(CANONICAL_STEM),
        Ok(None) => {}
        Err(_) => return id.to_string(),
    }
    if (id.starts_with("http://") || id.starts_with("https://"))
        && let Ok(Some(k)) = parse_digital_link(id)
    {
        return k.digital_link(CANONICAL_STEM);
    }
    id.to_string()
}

/// The GS1 key of an EPC URN or Digital Link, if it is either.
pub fn key_of(id: &str) -> Result<Option<Gs1Key>, String> {
    match parse_epc_urn(id)? {
        Some(k) => Ok(Some(k)),
        None if id.starts_with("http://") || id.starts_with("https://") => parse_digital_link(id),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epc_urns_convert_to_digital_links_with_check_digits() {
        let k = parse_epc_urn("urn:epc:id:sgtin:0614141.107346.2017").unwrap().unwrap();
        assert_eq!(k.digital_link(CANONICAL_STEM), "https://id.gs1.org/01/10614141073464/21/2017");
        let k = parse_epc_urn("urn:epc:class:lgtin:4012345.012345.998877").unwrap().unwrap();
        assert_eq!(k.digital_link(CANONICAL_STEM), "https://id.gs1.org/01/04012345123456/10/998877");
        let k = parse_epc_urn("urn:epc:id:sscc:0614141.1234567890").unwrap().unwrap();
        assert_eq!(k.digital_link(CANONICAL_STEM), "https://id.gs1.org/00/106141412345678908");
        let k = parse_epc_urn("urn:epc:id:sgln:0614141.07346.1234").unwrap().unwrap();
        assert_eq!(k.digital_link(CANONICAL_STEM), "https://id.gs1.org/414/0614141073467/254/1234");
        let k = parse_epc_urn("urn:epc:id:sgln:0012345.11111.0").unwrap().unwrap();
        assert_eq!(k.digital_link(CANONICAL_STEM), "https://id.gs1.org/414/0012345111112");
        assert_eq!(parse_epc_urn("urn:epc:id:grai:0614141.12345.400").unwrap(), None);
        assert!(parse_epc_urn("urn:epc:id:sgtin:0614141.10734.2017").is_err());
    }

    #[test]
    fn digital_links_parse_in_qualifier_order() {
        let k = parse_digital_link("https://example.com/01/9520123456788/10/L%201/21/S").unwrap().unwrap();
        assert_eq!(
            k,
            Gs1Key::Gtin { gtin: "09520123456788".into(), lot: Some("L 1".into()), serial: Some("S".into()) }
        );
        assert!(parse_digital_link("https://example.com/01/09520123456788/21/S/10/L").is_err());
        assert!(parse_digital_link("https://example.com/01/09520123456789").is_err());
        assert_eq!(parse_digital_link("https://example.com/about").unwrap(), None);
    }
}
