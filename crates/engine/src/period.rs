//! Periods: ISO weeks, months, days and quarters, as written in data and on the command line.

use std::cmp::Ordering;
use std::fmt;

use crate::model::Grain;
use chrono::{Datelike, Days, NaiveDate, Weekday};

/// One period of a grain. Periods of one grain are consecutive integers, so the previous
/// period is always `ordinal - 1`, across year ends too.
///
/// Periods order by when they start, across grains too; periods of different grains that
/// start on the same day order as they are written (`2026-01` before `2026-01-01` before
/// `2026-Q1`). [`Period::key`] is a text form whose order is exactly this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    grain: Grain,
    ordinal: i32,
}

/// A period that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {grain} period: expected {}", example(*grain))]
pub struct PeriodError {
    /// What was written.
    pub text: String,
    /// The grain it was read as.
    pub grain: Grain,
}

fn example(grain: Grain) -> &'static str {
    match grain {
        Grain::Day => "a day like 2026-11-23",
        Grain::Week => "an ISO week like 2026-W47",
        Grain::Month => "a month like 2026-11",
        Grain::Quarter => "a quarter like 2026-Q4",
    }
}

/// Days from the start of the common era to 0001-01-01 is 1, and that day is a Monday: so
/// `(days - 1) / 7` numbers weeks from Monday to Sunday.
fn week_ordinal(monday: NaiveDate) -> i32 {
    (monday.num_days_from_ce() - 1).div_euclid(7)
}

impl Period {
    /// How a period of `grain` is written, for help lines: "an ISO week like 2026-W47".
    pub fn form(grain: Grain) -> &'static str {
        example(grain)
    }

    /// Reads `text` as a period of `grain`.
    pub fn parse(text: &str, grain: Grain) -> Result<Period, PeriodError> {
        let error = || PeriodError {
            text: text.to_string(),
            grain,
        };
        let ordinal = match grain {
            Grain::Day => {
                let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| error())?;
                // chrono accepts `2026-1-5`; periods are written one way only.
                if text.len() != 10 {
                    return Err(error());
                }
                date.num_days_from_ce()
            }
            Grain::Week => {
                let (year, week) = split(text, "-W").ok_or_else(error)?;
                let monday =
                    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(error)?;
                week_ordinal(monday)
            }
            Grain::Month => {
                let (year, month) = split(text, "-").ok_or_else(error)?;
                if !(1..=12).contains(&month) {
                    return Err(error());
                }
                year * 12 + month as i32 - 1
            }
            Grain::Quarter => {
                let (year, quarter) = split(text, "-Q").ok_or_else(error)?;
                if !(1..=4).contains(&quarter) {
                    return Err(error());
                }
                year * 4 + quarter as i32 - 1
            }
        };
        Ok(Period { grain, ordinal })
    }

    /// Reads `text` as a period of a tree of `grain`; the error says when it is a period of
    /// another grain (`2026-11` is a month, but the tree's grain is week).
    pub fn parse_for(text: &str, grain: Grain) -> Result<Period, String> {
        let text = text.trim();
        Period::parse(text, grain).map_err(|e| match Period::grain_of(text) {
            Some(other) => format!("`{text}` is a {other}, but the tree's grain is {grain}"),
            None => e.to_string(),
        })
    }

    /// The grain `text` is written in, if it is a period of any grain.
    pub fn grain_of(text: &str) -> Option<Grain> {
        Grain::ALL
            .into_iter()
            .find(|&g| Period::parse(text, g).is_ok())
    }

    /// The period of `grain` that contains `date`.
    pub fn containing(date: NaiveDate, grain: Grain) -> Period {
        let ordinal = match grain {
            Grain::Day => date.num_days_from_ce(),
            Grain::Week => {
                let monday = date - Days::new(u64::from(date.weekday().num_days_from_monday()));
                week_ordinal(monday)
            }
            Grain::Month => date.year() * 12 + date.month0() as i32,
            Grain::Quarter => date.year() * 4 + (date.month0() / 3) as i32,
        };
        Period { grain, ordinal }
    }

    /// The period's number among the periods of its grain: consecutive periods have
    /// consecutive ordinals.
    pub fn ordinal(self) -> i32 {
        self.ordinal
    }

    /// The period of `grain` numbered `ordinal`.
    pub fn from_ordinal(grain: Grain, ordinal: i32) -> Period {
        Period { grain, ordinal }
    }

    /// The period's grain.
    pub fn grain(self) -> Grain {
        self.grain
    }

    /// The period `n` periods later (earlier for negative `n`).
    pub fn offset(self, n: i32) -> Period {
        Period {
            grain: self.grain,
            ordinal: self.ordinal + n,
        }
    }

    /// The period before this one.
    pub fn previous(self) -> Period {
        self.offset(-1)
    }

    /// How many periods `self` is after `earlier` (negative if before).
    pub fn since(self, earlier: Period) -> i32 {
        self.ordinal - earlier.ordinal
    }

    /// The same period a year earlier: the same month or quarter; for weeks, the same ISO
    /// week number of the ISO year before (week 53, which that year may lack, is its week
    /// 52); for days, the same weekday of that week, so that weekly patterns line up.
    pub fn year_before(self) -> Period {
        let same_week = |date: NaiveDate| {
            let week = date.iso_week();
            let earlier = |w: u32| NaiveDate::from_isoywd_opt(week.year() - 1, w, date.weekday());
            earlier(week.week())
                .or_else(|| earlier(52))
                .expect("every ISO year has 52 weeks")
        };
        match self.grain {
            Grain::Month => self.offset(-12),
            Grain::Quarter => self.offset(-4),
            Grain::Week | Grain::Day => Period::containing(same_week(self.start()), self.grain),
        }
    }

    /// The first day of the period.
    pub fn start(self) -> NaiveDate {
        let from_ce =
            |days: i32| NaiveDate::from_num_days_from_ce_opt(days).expect("a representable date");
        let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).expect("a representable date");
        match self.grain {
            Grain::Day => from_ce(self.ordinal),
            Grain::Week => from_ce(self.ordinal * 7 + 1),
            Grain::Month => ymd(
                self.ordinal.div_euclid(12),
                self.ordinal.rem_euclid(12) as u32 + 1,
            ),
            Grain::Quarter => ymd(
                self.ordinal.div_euclid(4),
                self.ordinal.rem_euclid(4) as u32 * 3 + 1,
            ),
        }
    }

    /// The first day after the period: periods are half-open, `[start, end)`.
    pub fn end(self) -> NaiveDate {
        self.offset(1).start()
    }

    /// The period as a text whose order is the periods' order, across grains too: its first
    /// day, then the period as written, `2026-11-16/2026-W47`. A history keeps periods so.
    pub fn key(self) -> String {
        format!("{}/{self}", self.start().format("%Y-%m-%d"))
    }

    /// Reads a [`Period::key`] back; `None` when `key` is not one.
    pub fn from_key(key: &str) -> Option<Period> {
        let (_, written) = key.split_once('/')?;
        let period = Period::parse(written, Period::grain_of(written)?).ok()?;
        (period.key() == key).then_some(period)
    }
}

/// `2026-W47` split at `-W` into (2026, 47), with exactly four digits of year and two of the
/// rest (one for quarters).
fn split(text: &str, separator: &str) -> Option<(i32, u32)> {
    let (year, rest) = text.split_once(separator)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rest_len = if separator == "-Q" { 1 } else { 2 };
    if year.len() != 4 || rest.len() != rest_len || !digits(year) || !digits(rest) {
        return None;
    }
    Some((year.parse().ok()?, rest.parse().ok()?))
}

impl Ord for Period {
    fn cmp(&self, other: &Period) -> Ordering {
        if self.grain == other.grain {
            return self.ordinal.cmp(&other.ordinal);
        }
        (self.start().cmp(&other.start())).then_with(|| self.to_string().cmp(&other.to_string()))
    }
}

/// A period is written in JSON as it is written everywhere: `"2026-W47"`.
impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Period) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.start();
        match self.grain {
            Grain::Day => write!(f, "{}", start.format("%Y-%m-%d")),
            Grain::Week => {
                let iso = start.iso_week();
                write!(f, "{}-W{:02}", iso.year(), iso.week())
            }
            Grain::Month => write!(f, "{}", start.format("%Y-%m")),
            Grain::Quarter => write!(f, "{}-Q{}", start.year(), start.month0() / 3 + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, grain: Grain, start: &str, end: &str) {
        let p = Period::parse(text, grain).unwrap();
        assert_eq!(p.to_string(), text);
        assert_eq!(p.start().to_string(), start, "start of {text}");
        assert_eq!(p.end().to_string(), end, "end of {text}");
        assert_eq!(Period::containing(p.start(), grain), p);
        assert_eq!(Period::containing(p.end().pred_opt().unwrap(), grain), p);
    }

    #[test]
    fn bounds_of_each_grain() {
        check("2026-W47", Grain::Week, "2026-11-16", "2026-11-23");
        check("2026-W01", Grain::Week, "2025-12-29", "2026-01-05");
        check("2020-W53", Grain::Week, "2020-12-28", "2021-01-04");
        check("2026-11", Grain::Month, "2026-11-01", "2026-12-01");
        check("2026-12", Grain::Month, "2026-12-01", "2027-01-01");
        check("2026-11-23", Grain::Day, "2026-11-23", "2026-11-24");
        check("2026-Q4", Grain::Quarter, "2026-10-01", "2027-01-01");
    }

    #[test]
    fn a_year_before_is_the_same_week_month_quarter_or_weekday() {
        let before = |text: &str, grain: Grain| {
            Period::parse(text, grain)
                .unwrap()
                .year_before()
                .to_string()
        };
        assert_eq!(before("2026-W47", Grain::Week), "2025-W47");
        assert_eq!(before("2026-W01", Grain::Week), "2025-W01");
        // 2026 has 53 ISO weeks, 2025 has 52.
        assert_eq!(before("2026-W53", Grain::Week), "2025-W52");
        assert_eq!(before("2027-W52", Grain::Week), "2026-W52");
        assert_eq!(before("2026-11", Grain::Month), "2025-11");
        assert_eq!(before("2026-01", Grain::Month), "2025-01");
        assert_eq!(before("2026-Q1", Grain::Quarter), "2025-Q1");
        // Monday 2026-11-23 (W48): Monday of 2025-W48.
        assert_eq!(before("2026-11-23", Grain::Day), "2025-11-24");
        assert_eq!(before("2024-02-29", Grain::Day), "2023-03-02");
    }

    #[test]
    fn neighbours_cross_year_ends() {
        let w = Period::parse("2026-W01", Grain::Week).unwrap();
        assert_eq!(w.previous().to_string(), "2025-W52");
        let q = Period::parse("2026-Q1", Grain::Quarter).unwrap();
        assert_eq!(q.previous().to_string(), "2025-Q4");
        assert_eq!(q.since(q.offset(-9)), 9);
    }

    #[test]
    fn malformed_periods_say_what_was_expected() {
        for (text, grain) in [
            ("2026-W54", Grain::Week),
            ("2026-w47", Grain::Week),
            ("2026-13", Grain::Month),
            ("2026-1", Grain::Month),
            ("2026-Q5", Grain::Quarter),
            ("2026-11-31", Grain::Day),
            ("2026-1-5", Grain::Day),
            ("W47", Grain::Week),
        ] {
            let err = Period::parse(text, grain).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("`{text}` is not a {grain} period: expected")),
                "{err}"
            );
        }
        assert_eq!(Period::grain_of("2026-11"), Some(Grain::Month));
        assert_eq!(Period::grain_of("2026-W47"), Some(Grain::Week));
        assert_eq!(Period::grain_of("soon"), None);
    }

    fn any_period() -> impl proptest::strategy::Strategy<Value = Period> {
        use proptest::prelude::*;
        let day = || {
            NaiveDate::from_ymd_opt(2000, 1, 1)
                .unwrap()
                .num_days_from_ce()
        };
        (0..4usize, 0..20_000i32).prop_map(move |(g, days)| {
            let date = NaiveDate::from_num_days_from_ce_opt(day() + days).unwrap();
            Period::containing(date, Grain::ALL[g])
        })
    }

    proptest::proptest! {
        #[test]
        fn keys_read_back_and_order_as_the_periods_do(a in any_period(), b in any_period()) {
            proptest::prop_assert_eq!(Period::from_key(&a.key()), Some(a));
            proptest::prop_assert_eq!(a.key().cmp(&b.key()), a.cmp(&b), "{} vs {}", a, b);
            if a.start() < b.start() {
                proptest::prop_assert!(a < b, "{} starts first", a);
            }
            if a.grain() == b.grain() {
                proptest::prop_assert_eq!(a.cmp(&b), a.ordinal().cmp(&b.ordinal()));
            }
        }
    }

    #[test]
    fn keys_order_across_grains_and_refuse_what_they_are_not() {
        let p = |t: &str| Period::parse(t, Period::grain_of(t).unwrap()).unwrap();
        assert_eq!(p("2026-W47").key(), "2026-11-16/2026-W47");
        let mut periods = [
            p("2026-Q1"),
            p("2026-01-01"),
            p("2025-W52"),
            p("2026-01"),
            p("2026-W01"),
        ];
        periods.sort();
        let written: Vec<String> = periods.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            written,
            ["2025-W52", "2026-W01", "2026-01", "2026-01-01", "2026-Q1"]
        );
        for bad in [
            "2026-W47",
            "2026-11-17/2026-W47",
            "2026-11-16/soon",
            "/2026-W47",
        ] {
            assert_eq!(Period::from_key(bad), None, "{bad}");
        }
    }
}
