//! The consumer page's farming inputs: product, kind, dose and pre-harvest interval or
//! withdrawal period of each `trace.record_input`, grouped per season (China Standard
//! Time) so a year of inputs stays short on a phone; the latest season is open.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jialing_api_types::HistoryEntry;

const DAY_MS: u64 = 86_400_000;
const CST_MS: u64 = 8 * 3_600_000;

/// `(year, season 0..4)` of an event time: spring (Mar-May), summer (Jun-Aug), autumn
/// (Sep-Nov), winter (Dec-Feb, counted in the year it starts).
pub fn season(ms: u64) -> (i128, u32) {
    let days = i128::from(ms.saturating_add(CST_MS) / DAY_MS);
    let (y, m, _) = jialing_core::calendar::civil_from_days(days);
    match m {
        3..=5 => (y, 0),
        6..=8 => (y, 1),
        9..=11 => (y, 2),
        12 => (y, 3),
        _ => (y - 1, 3),
    }
}

fn date(ms: u64) -> String {
    let s = jialing_core::calendar::format_rfc3339_ms(ms.saturating_add(CST_MS));
    s.get(..10).unwrap_or(&s).to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Milli-units as a decimal without trailing zeros.
fn amount(milli: u64) -> String {
    let frac = format!("{:03}", milli % 1000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { (milli / 1000).to_string() } else { format!("{}.{frac}", milli / 1000) }
}

/// The `<section id="farming-inputs">` for the lot's successful `record_input` entries
/// (empty string when there are none).
pub fn section(en: bool, entries: &[&HistoryEntry]) -> String {
    let t = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let mut seasons: BTreeMap<(i128, u32), Vec<&HistoryEntry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.method == "record_input") {
        let at = e.args["at"]["time_ms"].as_u64().unwrap_or(e.time_ms);
        seasons.entry(season(at)).or_default().push(e);
    }
    if seasons.is_empty() {
        return String::new();
    }
    let mut h = String::new();
    let _ = write!(h, "<section id=\"farming-inputs\"><h2>{}</h2>", t("农事投入品", "Farming inputs"));
    let last = seasons.keys().next_back().copied();
    for (key, list) in &seasons {
        let names = [t("春季", "Spring"), t("夏季", "Summer"), t("秋季", "Autumn"), t("冬季", "Winter")];
        let open = if Some(*key) == last { " open" } else { "" };
        let _ = write!(
            h,
            "<details{open}><summary>{} {} · {} {}</summary><ul>",
            key.0,
            names[key.1 as usize],
            list.len(),
            t("次", if list.len() == 1 { "input" } else { "inputs" })
        );
        for e in list {
            let a = &e.args;
            let at = a["at"]["time_ms"].as_u64().unwrap_or(e.time_ms);
            let kind = match a["kind"].as_str().unwrap_or("") {
                "fertiliser" => t("肥料", "fertiliser"),
                "feed" => t("饲料", "feed"),
                "veterinary_drug" => t("兽药", "veterinary drug"),
                "pesticide" => t("农药", "pesticide"),
                _ => t("投入品", "input"),
            };
            let days = a["interval_days"].as_u64().unwrap_or(0);
            let interval = if days == 0 {
                String::new()
            } else {
                let safe = date(at.saturating_add(days.saturating_mul(DAY_MS)));
                if en {
                    format!(" · interval {days} days (harvest from {safe})")
                } else {
                    format!(" · 安全间隔期 {days} 天（{safe} 起可采收）")
                }
            };
            let _ = write!(
                h,
                "<li><time>{}</time> {} <b>{}</b> · {} {}{}</li>",
                date(at),
                kind,
                esc(a["name"].as_str().unwrap_or("")),
                amount(a["amount_milli"].as_u64().unwrap_or(0)),
                esc(a["unit"].as_str().unwrap_or("")),
                interval
            );
        }
        h.push_str("</ul></details>");
    }
    h.push_str("</section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasons_follow_china_time() {
        // 2026-02-28T20:00Z is 1 March in China: spring.
        let ms = jialing_core::calendar::parse_rfc3339_utc("2026-02-28T20:00:00Z").unwrap();
        assert_eq!(season(ms), (2026, 0));
        let jan = jialing_core::calendar::parse_rfc3339_utc("2026-01-10T00:00:00Z").unwrap();
        assert_eq!(season(jan), (2025, 3));
        assert_eq!(amount(20_500), "20.5");
        assert_eq!(amount(3_000), "3");
    }
}
