//! Proleptic Gregorian calendar arithmetic on day numbers since 1970-01-01, in
//! integers (Howard Hinnant's civil-from-days algorithms). Used for RFC 3339 times and
//! for calendar-month rule periods; deterministic and clock-free.

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i128, m: u32, d: u32) -> i128 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i128::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i128::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(z: i128) -> (i128, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a leap year.
pub fn is_leap(y: i128) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1 to 12) of year `y`.
pub fn days_in_month(y: i128, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` (UTC, years 1970 to 9999) into ms since the
/// Unix epoch; fractions below a millisecond are dropped.
pub fn parse_rfc3339_utc(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 UTC time like 2026-11-01T00:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
        || !matches!(b[b.len() - 1], b'Z' | b'z')
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
        let t = s.get(r).ok_or_else(bad)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u32>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..s.len() - 1).ok_or_else(bad)?;
    let ms = if rest.is_empty() {
        0
    } else {
        let frac = rest
            .strip_prefix('.')
            .filter(|f| !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()))
            .ok_or_else(bad)?;
        let padded = format!("{frac:0<3}");
        padded.get(..3).and_then(|p| p.parse::<u64>().ok()).ok_or_else(bad)?
    };
    let y = i128::from(y);
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || se > 59
    {
        return Err(bad());
    }
    let days = u64::try_from(days_from_civil(y, mo, d)).map_err(|_| bad())?;
    Ok(days * 86_400_000 + (u64::from(h) * 3600 + u64::from(mi) * 60 + u64::from(se)) * 1000 + ms)
}

/// Formats ms since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: u64) -> String {
    let (y, m, d) = civil_from_days(i128::from(ms / 86_400_000));
    let t = ms % 86_400_000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", t / 3_600_000, t / 60_000 % 60, t / 1000 % 60, t % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_utc("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339_utc("2024-02-29T12:34:56.789Z"), Ok(1_709_210_096_789));
        assert_eq!(format_rfc3339_ms(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00+08:00",
            "",
            "1969-12-31T23:59:59Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "+026-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339_utc(bad).is_err(), "{bad}");
        }
        for ms in (0..4_000_000_000_000u64).step_by(7_777_777_777) {
            assert_eq!(parse_rfc3339_utc(&format_rfc3339_ms(ms)), Ok(ms));
        }
    }

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
