//! RFC 3339 UTC timestamps (`YYYY-MM-DDTHH:MM:SSZ`) to and from Unix milliseconds,
//! without a date library (on `jialing_core::calendar`).

use jialing_core::calendar::{civil_from_days, days_from_civil, days_in_month};

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into ms since the Unix epoch (1970 or later).
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 UTC time like 2026-11-01T00:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || !s.ends_with('Z')
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut ms = 0u64;
    let rest = &s[19..s.len() - 1];
    if !rest.is_empty() {
        let frac = rest
            .strip_prefix('.')
            .filter(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()))
            .ok_or_else(bad)?;
        let padded = format!("{frac:0<3}");
        ms = padded[..3].parse::<u64>().map_err(|_| bad())?;
    }
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(i128::from(y), mo)
        || h > 23
        || mi > 59
        || se > 59
    {
        return Err(bad());
    }
    let days = days_from_civil(i128::from(y), mo, d);
    Ok(days as u64 * 86_400_000 + (h as u64 * 3600 + mi as u64 * 60 + se as u64) * 1000 + ms)
}

/// Formats ms since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (milliseconds dropped).
pub fn format_rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days(i128::from(secs / 86_400));
    let t = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600_000);
        assert_eq!(parse_rfc3339("2024-02-29T12:30:15.250Z").unwrap(), 1_709_209_815_250);
        assert_eq!(format_rfc3339(1_767_225_600_000), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn bad_times_are_refused() {
        for s in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00+08:00",
            "",
            "1969-12-31T23:59:59Z",
            "2026-01-01T24:00:00Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn round_trip_many_days() {
        for day in (0..40_000u64).step_by(7) {
            let ms = day * 86_400_000 + 3_723_000;
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)).unwrap(), ms);
        }
    }
}
