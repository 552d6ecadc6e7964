//! Calendar arithmetic for publication periods and decision deadlines, in integers.
//!
//! - Months are calendar months in the rules' time zone (China Standard Time, UTC+8 by
//!   default): `add_months(t, n)` is the same local time of day, `n` months later,
//!   on the same day of the month, or on the month's last day if it is shorter
//!   (31 January + 1 month = 28/29 February).
//! - Working days are Monday to Friday in that time zone, minus the public holidays and
//!   plus the make-up working days (调休) of the [`WorkCalendar`] parameter, which
//!   governance updates each year. A deadline of `n` working days after an acceptance
//!   ends at local midnight after the `n`-th working day following the day of
//!   acceptance.
//!
//! Results saturate at 0 and `u64::MAX` instead of overflowing.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use jialing_core::calendar::{civil_from_days, days_from_civil, days_in_month};
use serde::{Deserialize, Serialize};

use crate::params::DAY_MS;

/// Most working days a decision deadline may count (a governance parameter bound).
pub const MAX_DEADLINE_WORKING_DAYS: u32 = 250;

/// The working-day calendar: public holidays that fall on weekdays and make-up working
/// days (调休) that fall on weekends, as local dates `YYYY-MM-DD`. Governance adds the
/// coming year's dates each year (the State Council publishes them in the autumn).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkCalendar {
    /// Days off that would otherwise be working days (Monday to Friday).
    pub holidays: Vec<String>,
    /// Days worked that would otherwise be weekend days.
    pub workdays: Vec<String>,
}

/// Parses a local date `YYYY-MM-DD` into its day number (days since 1970-01-01).
pub fn parse_date(s: &str) -> Result<i128, String> {
    let bad = || format!("{s:?} is not a date YYYY-MM-DD");
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i128::from(y), m) {
        return Err(bad());
    }
    Ok(days_from_civil(i128::from(y), m, d))
}

/// A checked [`WorkCalendar`]: day numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Days {
    holidays: BTreeSet<i128>,
    workdays: BTreeSet<i128>,
}

impl WorkCalendar {
    /// Checks every date and that no date is both a holiday and a make-up working day.
    pub fn days(&self) -> Result<Days, String> {
        let mut out = Days::default();
        for d in &self.holidays {
            out.holidays.insert(parse_date(d)?);
        }
        for d in &self.workdays {
            let n = parse_date(d)?;
            if out.holidays.contains(&n) {
                return Err(format!("{d} is listed both as a holiday and as a make-up working day"));
            }
            out.workdays.insert(n);
        }
        Ok(out)
    }
}

impl Days {
    /// Whether local day number `day` is a working day.
    pub fn is_working(&self, day: i128) -> bool {
        if self.workdays.contains(&day) {
            return true;
        }
        weekday(day) < 5 && !self.holidays.contains(&day)
    }
}

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

/// The end (local midnight) of the `working_days`-th working day after the local day
/// of `t_ms`, counting Monday to Friday except the calendar's holidays, plus its
/// make-up working days. With 0 working days: the end of that day. At most
/// [`MAX_DEADLINE_WORKING_DAYS`] are counted (governance keeps the parameter below it).
pub fn working_days_deadline(t_ms: u64, working_days: u32, utc_offset_minutes: i32, days: &Days) -> u64 {
    let off = offset_ms(utc_offset_minutes);
    let mut day = (i128::from(t_ms) + off).div_euclid(DAY);
    let mut left = working_days.min(MAX_DEADLINE_WORKING_DAYS);
    while left > 0 {
        day += 1;
        if days.is_working(day) {
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
        let none = Days::default();
        // Thursday 1 Jan 2026, 08:00 CST: 3 working days = Fri, Mon, Tue; deadline is
        // Wednesday 7 Jan 00:00 CST = 6 Jan 16:00 UTC.
        let midnight_jan1_cst = JAN1 - 8 * 3_600_000;
        assert_eq!(working_days_deadline(JAN1, 3, CST, &none), midnight_jan1_cst + 6 * DAY_MS);
        // 7 working days: Fri 2, Mon 5 .. Fri 9, Mon 12 -> ends Tue 13 00:00 CST.
        assert_eq!(working_days_deadline(JAN1, 7, CST, &none), midnight_jan1_cst + 12 * DAY_MS);
        // From a Saturday (3 Jan): 5 working days = Mon 5 .. Fri 9 -> Sat 10 00:00.
        assert_eq!(working_days_deadline(JAN1 + 2 * DAY_MS, 5, CST, &none), midnight_jan1_cst + 9 * DAY_MS);
        assert_eq!(working_days_deadline(JAN1, 0, CST, &none), midnight_jan1_cst + DAY_MS);
    }

    #[test]
    fn credit_deadline_counts_working_days() {
        // 2026 Spring Festival (hypothetical dates for the test): Mon 16 Feb to Fri 20
        // Feb off, Saturday 14 Feb worked. Accepted Thursday 12 Feb 2026 08:00 CST.
        let cal = WorkCalendar {
            holidays: ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"].map(String::from).to_vec(),
            workdays: vec!["2026-02-14".into()],
        };
        let days = cal.days().unwrap();
        let feb12 = JAN1 + 42 * DAY_MS;
        let midnight_feb12 = feb12 - 8 * 3_600_000;
        // 3 working days: Fri 13, Sat 14 (make-up), Mon 23 -> ends Tue 24 00:00 CST.
        assert_eq!(working_days_deadline(feb12, 3, CST, &days), midnight_feb12 + 12 * DAY_MS);
        // Without the calendar: Fri 13, Mon 16, Tue 17 -> ends Wed 18 00:00.
        assert_eq!(working_days_deadline(feb12, 3, CST, &Days::default()), midnight_feb12 + 6 * DAY_MS);
        assert!(WorkCalendar { holidays: vec!["2026-02-30".into()], workdays: vec![] }.days().is_err());
        assert!(WorkCalendar { holidays: vec!["2026-2-3".into()], workdays: vec![] }.days().is_err());
        let both = WorkCalendar { holidays: vec!["2026-02-14".into()], workdays: vec!["2026-02-14".into()] };
        assert!(both.days().is_err());
    }
}
