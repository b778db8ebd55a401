//! Schedules: when a rule may be true, in a time zone (ThingsBoard's "any
//! time", "specific time" and "custom" schedules).
//!
//! * `{}` (or no schedule): any time;
//! * `{"days": ["mon", …], "start": "08:00", "end": "18:00"}`: on the listed
//!   days (default: every day) from `start` (inclusive) to `end` (exclusive,
//!   `"24:00"` allowed); `end` before `start` is an overnight window that
//!   runs past midnight into the next day;
//! * `{"custom": {"mon": [{"start": "08:00", "end": "12:00"}, …], …}}`: per
//!   day, any number of intervals; days not listed are inactive.
//!
//! Every form takes `timezone` (default UTC) and `dst` (see [`crate::tz`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::tz::{DAY_MS, TimeZone, weekday};

/// Day names, Monday first, as accepted in configurations (or in full).
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Full day names, Monday first.
const FULL_DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// A schedule as written in JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    dst: Option<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    custom: Option<BTreeMap<String, Vec<RawInterval>>>,
}

/// One interval of a custom schedule as written in JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    start: String,
    end: String,
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    tz: TimeZone,
    kind: Kind,
}

/// The shape of a schedule.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Always active.
    AnyTime,
    /// The same window on selected days (Monday first); times in ms since
    /// local midnight, `end < start` meaning overnight.
    Weekly { days: [bool; 7], start: i64, end: i64 },
    /// Per day (Monday first), intervals `[start, end)` in ms since local midnight.
    Custom { days: [Vec<(i64, i64)>; 7] },
}

impl Schedule {
    /// Validates a schedule written in JSON; errors name the offending field.
    pub fn from_raw(raw: RawSchedule) -> Result<Self, String> {
        let tz = TimeZone::parse(raw.timezone.as_deref().unwrap_or("UTC"), raw.dst.as_deref())?;
        let weekly = raw.days.is_some() || raw.start.is_some() || raw.end.is_some();
        let kind = match (raw.custom, weekly) {
            (Some(_), true) => return Err("use either `custom` or `days`/`start`/`end`, not both".into()),
            (Some(custom), false) => custom_kind(custom)?,
            (None, true) => {
                let days = match raw.days {
                    None => [true; 7],
                    Some(names) => {
                        if names.is_empty() {
                            return Err("`days` must list at least one day".into());
                        }
                        let mut days = [false; 7];
                        for name in &names {
                            days[day_index(name)?] = true;
                        }
                        days
                    }
                };
                let start =
                    parse_time(raw.start.as_deref().unwrap_or("00:00"), false).map_err(|e| format!("`start`: {e}"))?;
                let end = parse_time(raw.end.as_deref().unwrap_or("24:00"), true).map_err(|e| format!("`end`: {e}"))?;
                if start == end {
                    return Err("`start` and `end` must differ (omit both for the whole day)".into());
                }
                Kind::Weekly { days, start, end }
            }
            (None, false) => Kind::AnyTime,
        };
        Ok(Self { tz, kind })
    }

    /// Whether the schedule is active at `utc_ms`.
    pub fn is_active(&self, utc_ms: i64) -> bool {
        let (day, time) = self.tz.local(utc_ms);
        let wd = weekday(day);
        match &self.kind {
            Kind::AnyTime => true,
            Kind::Weekly { days, start, end } if start < end => days[wd] && *start <= time && time < *end,
            Kind::Weekly { days, start, end } => (days[wd] && time >= *start) || (days[(wd + 6) % 7] && time < *end),
            Kind::Custom { days } => days[wd].iter().any(|&(s, e)| s <= time && time < e),
        }
    }
}

/// Builds a custom schedule from per-day intervals.
fn custom_kind(custom: BTreeMap<String, Vec<RawInterval>>) -> Result<Kind, String> {
    let mut days: [Vec<(i64, i64)>; 7] = Default::default();
    let mut seen = [false; 7];
    for (name, intervals) in custom {
        let index = day_index(&name).map_err(|e| format!("`custom`: {e}"))?;
        if seen[index] {
            return Err(format!("`custom`: day {name:?} is listed twice"));
        }
        seen[index] = true;
        for (i, interval) in intervals.iter().enumerate() {
            let at = |field: &str, e: String| format!("`custom.{name}[{i}].{field}`: {e}");
            let start = parse_time(&interval.start, false).map_err(|e| at("start", e))?;
            let end = parse_time(&interval.end, true).map_err(|e| at("end", e))?;
            if start >= end {
                return Err(format!(
                    "`custom.{name}[{i}]`: `start` must be before `end` (split an overnight interval over two days)"
                ));
            }
            days[index].push((start, end));
        }
    }
    Ok(Kind::Custom { days })
}

/// Index (Monday = 0) of a day name such as `mon` or `Monday`.
fn day_index(name: &str) -> Result<usize, String> {
    let lower = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == lower))
        .ok_or_else(|| format!("unknown day {name:?} (expected mon, tue, wed, thu, fri, sat or sun)"))
}

/// Parses `HH:MM` (or `HH:MM:SS`) into ms since midnight; `24:00` only if `allow_24`.
fn parse_time(text: &str, allow_24: bool) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a time of day (expected \"HH:MM\", 00:00–23:59, or 24:00 for an end)");
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts.iter().any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let number = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<i64>().map_err(|_| bad()));
    let (h, m, s) = (number(0)?, number(1)?, number(2)?);
    if m >= 60 || s >= 60 {
        return Err(bad());
    }
    let ms = ((h * 60 + m) * 60 + s) * 1000;
    if ms < DAY_MS || (allow_24 && ms == DAY_MS) { Ok(ms) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::days_from_civil;

    fn schedule(json: &str) -> Result<Schedule, String> {
        let raw: RawSchedule = serde_json::from_str(json).map_err(|e| e.to_string())?;
        Schedule::from_raw(raw)
    }

    /// UTC ms of a civil date and time.
    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS + (hour * 60 + minute) * 60_000
    }

    #[test]
    fn weekly_window_in_a_zone() {
        // 2025-06-02 is a Monday; Chicago is at -05:00 (CDT) in June.
        let s =
            schedule(r#"{"timezone": "America/Chicago", "days": ["mon", "Friday"], "start": "08:00", "end": "18:00"}"#)
                .expect("valid");
        assert!(!s.is_active(at(2025, 6, 2, 12, 59)), "07:59 local");
        assert!(s.is_active(at(2025, 6, 2, 13, 0)), "08:00 local");
        assert!(s.is_active(at(2025, 6, 2, 22, 59)), "17:59 local");
        assert!(!s.is_active(at(2025, 6, 2, 23, 0)), "18:00 local");
        assert!(!s.is_active(at(2025, 6, 3, 15, 0)), "Tuesday");
        assert!(s.is_active(at(2025, 6, 6, 15, 0)), "Friday");
        // In January Chicago is at -06:00: 08:00 local is 14:00 UTC.
        // 2025-01-06 is a Monday.
        assert!(!s.is_active(at(2025, 1, 6, 13, 30)));
        assert!(s.is_active(at(2025, 1, 6, 14, 0)));
    }

    #[test]
    fn overnight_window_runs_into_the_next_day() {
        let s = schedule(r#"{"days": ["fri"], "start": "22:00", "end": "06:00"}"#).expect("valid");
        // 2025-06-06 is a Friday.
        assert!(s.is_active(at(2025, 6, 6, 23, 0)));
        assert!(s.is_active(at(2025, 6, 7, 5, 59)), "Saturday morning belongs to Friday's window");
        assert!(!s.is_active(at(2025, 6, 7, 6, 0)));
        assert!(!s.is_active(at(2025, 6, 7, 23, 0)), "Saturday night is not listed");
        assert!(!s.is_active(at(2025, 6, 6, 5, 0)), "Friday morning belongs to Thursday");
    }

    #[test]
    fn custom_intervals_and_any_time() {
        let s = schedule(
            r#"{"timezone": "+03:00", "custom": {"mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}], "sun": []}}"#,
        )
        .expect("valid");
        assert!(s.is_active(at(2025, 6, 2, 5, 0)), "08:00 local Monday");
        assert!(!s.is_active(at(2025, 6, 2, 9, 30)), "12:30 local");
        assert!(s.is_active(at(2025, 6, 2, 20, 59)), "23:59 local");
        assert!(!s.is_active(at(2025, 6, 1, 12, 0)), "Sunday is empty");
        assert!(!s.is_active(at(2025, 6, 3, 12, 0)), "Tuesday is not listed");
        let any = schedule("{}").expect("valid");
        assert!(any.is_active(0) && any.is_active(at(2030, 1, 1, 0, 0)));
        let all_day = schedule(r#"{"days": ["sat", "sun"]}"#).expect("valid");
        assert!(all_day.is_active(at(2025, 6, 7, 0, 0)) && all_day.is_active(at(2025, 6, 8, 23, 59)));
        assert!(!all_day.is_active(at(2025, 6, 9, 0, 0)));
    }

    #[test]
    fn invalid_schedules_are_explained() {
        for (json, fragment) in [
            (r#"{"days": ["funday"]}"#, "unknown day"),
            (r#"{"days": []}"#, "at least one day"),
            (r#"{"start": "25:00"}"#, "`start`"),
            (r#"{"start": "24:00"}"#, "`start`"),
            (r#"{"end": "7pm"}"#, "`end`"),
            (r#"{"start": "08:00", "end": "08:00"}"#, "must differ"),
            (r#"{"days": ["mon"], "custom": {}}"#, "not both"),
            (r#"{"custom": {"mon": [{"start": "18:00", "end": "06:00"}]}}"#, "overnight"),
            (r#"{"custom": {"mon": [], "Monday": []}}"#, "twice"),
            (r#"{"timezone": "Mars/Base"}"#, "unknown time zone"),
        ] {
            let err = schedule(json).expect_err(json);
            assert!(err.contains(fragment), "{json}: {err}");
        }
        assert!(schedule(r#"{"when": "always"}"#).is_err(), "unknown fields are rejected");
    }
}
