//! Calendar arithmetic for publication periods and decision deadlines, in integers.
//!
//! - Months are calendar months in the rules' time zone (China Standard Time, UTC+8 by
//!   default): `add_months(t, n)` is the same local time of day, `n` months later,
//!   on the same day of the month, or on the month's last day if it is shorter
//!   (31 January + 1 month = 28/29 February).
//! - Working days are Monday to Friday in that time zone. Public holidays and the
//!   make-up working days around them are NOT modelled (a deliberate simplification:
//!   a deadline may therefore show as overdue during a holiday week; the deciding
//!   authority's late flag is informative, it does not refuse anything). A deadline of
//!   `n` working days after an acceptance ends at local midnight after the `n`-th
//!   working day following the day of acceptance.
//!
//! Results saturate at 0 and `u64::MAX` instead of overflowing.

use jialing_core::calendar::{civil_from_days, days_from_civil, days_in_month};

use crate::params::DAY_MS;

const DAY: i128 = DAY_MS as i128;

fn clamp_ms(v: i128) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

fn offset_ms(utc_offset_minutes: i32) -> i128 {
    i128::from(utc_offset_minutes) * 60_000
}

/// `t_ms` plus `months` calendar months, in the time zone `utc_offset_minutes`.
pub fn add_months(t_ms: u64, months: u32, utc_offset_minutes: i32) -> u64 {
    let off = offset_ms(utc_offset_minutes);
    let local = i128::from(t_ms) + off;
    let day = local.div_euclid(DAY);
    let time_of_day = local.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(day);
    let total = y * 12 + i128::from(m - 1) + i128::from(months);
    let ny = total.div_euclid(12);
    let nm = (total.rem_euclid(12) + 1) as u32;
    let nd = d.min(days_in_month(ny, nm));
    clamp_ms(days_from_civil(ny, nm, nd) * DAY + time_of_day - off)
}

/// Day of the week of a local day number: 0 = Monday ... 6 = Sunday
/// (1970-01-01 was a Thursday).
fn weekday(day: i128) -> i128 {
    (day + 3).rem_euclid(7)
}

/// The end (local midnight) of the `working_days`-th working day (Monday to Friday)
/// after the local day of `t_ms`. With 0 working days: the end of that day.
pub fn working_days_deadline(t_ms: u64, working_days: u32, utc_offset_minutes: i32) -> u64 {
    let off = offset_ms(utc_offset_minutes);
    let mut day = (i128::from(t_ms) + off).div_euclid(DAY);
    if working_days == 0 {
        return clamp_ms((day + 1) * DAY - off);
    }
    // Counting from a Saturday or Sunday is counting from the Friday before it.
    day -= (weekday(day) - 4).max(0);
    // Seven calendar days always hold exactly five working days.
    day += i128::from(working_days / 5) * 7;
    let mut left = working_days % 5;
    while left > 0 {
        day += 1;
        if weekday(day) < 5 {
            left -= 1;
        }
    }
    clamp_ms((day + 1) * DAY - off)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CST: i32 = 480;
    /// 2026-01-01T00:00:00Z (a Thursday; 08:00 in China).
    const JAN1: u64 = 1_767_225_600_000;

    #[test]
    fn civil_round_trip() {
        for day in [-800_000i128, -1, 0, 1, 20_454, 60_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(add_months(JAN1, 3, CST), JAN1 + 90 * DAY_MS);
        assert_eq!(add_months(JAN1, 12, CST), JAN1 + 365 * DAY_MS);
        // 2026-01-31 08:00 CST + 1 month = 2026-02-28 08:00 CST.
        assert_eq!(add_months(JAN1 + 30 * DAY_MS, 1, CST), JAN1 + 58 * DAY_MS);
        // 2028 is a leap year: 36 months from 2026-01-01 is 1096 days.
        assert_eq!(add_months(JAN1, 36, CST), JAN1 + 1096 * DAY_MS);
        assert_eq!(add_months(u64::MAX - 1, 12, CST), u64::MAX);
    }

    #[test]
    fn working_days_skip_weekends() {
        // Thursday 1 Jan 2026, 08:00 CST: 3 working days = Fri, Mon, Tue; deadline is
        // Wednesday 7 Jan 00:00 CST = 6 Jan 16:00 UTC.
        let midnight_jan1_cst = JAN1 - 8 * 3_600_000;
        assert_eq!(working_days_deadline(JAN1, 3, CST), midnight_jan1_cst + 6 * DAY_MS);
        // 7 working days: Fri 2, Mon 5 .. Fri 9, Mon 12 -> ends Tue 13 00:00 CST.
        assert_eq!(working_days_deadline(JAN1, 7, CST), midnight_jan1_cst + 12 * DAY_MS);
        // From a Saturday (3 Jan): 5 working days = Mon 5 .. Fri 9 -> Sat 10 00:00.
        assert_eq!(working_days_deadline(JAN1 + 2 * DAY_MS, 5, CST), midnight_jan1_cst + 9 * DAY_MS);
        assert_eq!(working_days_deadline(JAN1, 0, CST), midnight_jan1_cst + DAY_MS);
    }
}
