//! RFC 3339 UTC timestamps (`YYYY-MM-DDTHH:MM:SSZ`) to and from Unix milliseconds,
//! without a date library (on `jialing_core::calendar`).

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` into ms since the Unix epoch (1970 or later).
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    jialing_core::calendar::parse_rfc3339_utc(s)
}

/// Formats ms since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (milliseconds dropped).
pub fn format_rfc3339(ms: u64) -> String {
    let full = jialing_core::calendar::format_rfc3339_ms(ms - ms % 1000);
    full.replace(".000Z", "Z")
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
