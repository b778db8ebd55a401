//! Time zones for schedules, without a time-zone database: a fixed UTC
//! offset plus, optionally, one of three daylight-saving rules (US, EU,
//! southern Australia), and a small table of IANA names mapped to them.
//!
//! The civil-date arithmetic is Howard Hinnant's `days_from_civil` /
//! `civil_from_days` on the proleptic Gregorian calendar.

/// Milliseconds in a minute.
const MINUTE_MS: i64 = 60_000;
/// Milliseconds in an hour.
const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A daylight-saving rule: clocks go forward one hour between two instants
/// of each year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstRule {
    /// No daylight saving time.
    None,
    /// United States and Canada (since 2007): from the second Sunday of March
    /// at 02:00 local standard time to the first Sunday of November at
    /// 02:00 local daylight time.
    Us,
    /// European Union and UK: from the last Sunday of March to the last
    /// Sunday of October, both at 01:00 UTC.
    Eu,
    /// South-eastern Australia (southern hemisphere): from the first Sunday
    /// of October at 02:00 local standard time to the first Sunday of April
    /// at 03:00 local daylight time.
    AuSouth,
}

impl DstRule {
    /// Parses `none`, `us`, `eu` or `au` (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "us" => Some(Self::Us),
            "eu" => Some(Self::Eu),
            "au" => Some(Self::AuSouth),
            _ => None,
        }
    }
}

/// A time zone: a standard offset from UTC and a daylight-saving rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    /// Standard (winter) offset east of UTC, minutes.
    pub std_offset_min: i32,
    /// Daylight-saving rule.
    pub dst: DstRule,
}

/// IANA names this crate knows, with their standard offset (minutes) and DST
/// rule as of 2025. Anything else must be written as a fixed offset.
const ZONES: &[(&str, i32, DstRule)] = &[
    ("UTC", 0, DstRule::None),
    ("Etc/UTC", 0, DstRule::None),
    ("GMT", 0, DstRule::None),
    ("America/St_Johns", -210, DstRule::Us),
    ("America/Halifax", -240, DstRule::Us),
    ("America/New_York", -300, DstRule::Us),
    ("America/Toronto", -300, DstRule::Us),
    ("America/Chicago", -360, DstRule::Us),
    ("America/Winnipeg", -360, DstRule::Us),
    ("America/Denver", -420, DstRule::Us),
    ("America/Edmonton", -420, DstRule::Us),
    ("America/Los_Angeles", -480, DstRule::Us),
    ("America/Anchorage", -540, DstRule::Us),
    ("America/Phoenix", -420, DstRule::None),
    ("America/Regina", -360, DstRule::None),
    ("America/Mexico_City", -360, DstRule::None),
    ("America/Bogota", -300, DstRule::None),
    ("America/Lima", -300, DstRule::None),
    ("America/Caracas", -240, DstRule::None),
    ("America/Sao_Paulo", -180, DstRule::None),
    ("America/Argentina/Buenos_Aires", -180, DstRule::None),
    ("Europe/London", 0, DstRule::Eu),
    ("Europe/Dublin", 0, DstRule::Eu),
    ("Europe/Lisbon", 0, DstRule::Eu),
    ("Europe/Oslo", 60, DstRule::Eu),
    ("Europe/Copenhagen", 60, DstRule::Eu),
    ("Europe/Amsterdam", 60, DstRule::Eu),
    ("Europe/Paris", 60, DstRule::Eu),
    ("Europe/Berlin", 60, DstRule::Eu),
    ("Europe/Rome", 60, DstRule::Eu),
    ("Europe/Madrid", 60, DstRule::Eu),
    ("Europe/Warsaw", 60, DstRule::Eu),
    ("Europe/Bucharest", 120, DstRule::Eu),
    ("Europe/Athens", 120, DstRule::Eu),
    ("Europe/Helsinki", 120, DstRule::Eu),
    ("Europe/Kyiv", 120, DstRule::Eu),
    ("Europe/Istanbul", 180, DstRule::None),
    ("Europe/Moscow", 180, DstRule::None),
    ("Africa/Algiers", 60, DstRule::None),
    ("Africa/Lagos", 60, DstRule::None),
    ("Africa/Luanda", 60, DstRule::None),
    ("Africa/Johannesburg", 120, DstRule::None),
    ("Asia/Baghdad", 180, DstRule::None),
    ("Asia/Riyadh", 180, DstRule::None),
    ("Asia/Qatar", 180, DstRule::None),
    ("Asia/Kuwait", 180, DstRule::None),
    ("Asia/Tehran", 210, DstRule::None),
    ("Asia/Dubai", 240, DstRule::None),
    ("Asia/Muscat", 240, DstRule::None),
    ("Asia/Baku", 240, DstRule::None),
    ("Asia/Karachi", 300, DstRule::None),
    ("Asia/Tashkent", 300, DstRule::None),
    ("Asia/Kolkata", 330, DstRule::None),
    ("Asia/Jakarta", 420, DstRule::None),
    ("Asia/Kuala_Lumpur", 480, DstRule::None),
    ("Asia/Singapore", 480, DstRule::None),
    ("Asia/Shanghai", 480, DstRule::None),
    ("Asia/Tokyo", 540, DstRule::None),
    ("Australia/Perth", 480, DstRule::None),
    ("Australia/Brisbane", 600, DstRule::None),
    ("Australia/Adelaide", 570, DstRule::AuSouth),
    ("Australia/Sydney", 600, DstRule::AuSouth),
    ("Australia/Melbourne", 600, DstRule::AuSouth),
];

impl TimeZone {
    /// UTC.
    pub const UTC: Self = Self { std_offset_min: 0, dst: DstRule::None };

    /// Parses a zone: a known IANA name (see the README), or a fixed offset
    /// `Z`, `UTC`, `GMT`, `+05:30`, `-03`, `UTC-06:00`, `GMT+1`. `dst` (only
    /// allowed with a fixed offset) adds a daylight-saving rule.
    pub fn parse(name: &str, dst: Option<&str>) -> Result<Self, String> {
        let trimmed = name.trim();
        let named = ZONES.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(trimmed) && n.contains('/'));
        if let Some(&(_, std_offset_min, rule)) = named {
            if dst.is_some() {
                return Err(format!("`dst` cannot be combined with the named zone {name:?}"));
            }
            return Ok(Self { std_offset_min, dst: rule });
        }
        let std_offset_min = parse_offset(trimmed).ok_or_else(|| {
            format!(
                "unknown time zone {name:?}: use a fixed offset such as \"-06:00\" (with `dst`: \"us\", \"eu\" or \
                 \"au\" if needed) or one of the built-in names such as \"America/Chicago\""
            )
        })?;
        let dst = match dst {
            None => DstRule::None,
            Some(rule) => DstRule::parse(rule)
                .ok_or_else(|| format!("unknown `dst` rule {rule:?} (expected none, us, eu or au)"))?,
        };
        Ok(Self { std_offset_min, dst })
    }

    /// The offset east of UTC in effect at `utc_ms`, minutes.
    pub fn offset_min(&self, utc_ms: i64) -> i32 {
        if self.in_dst(utc_ms) { self.std_offset_min + 60 } else { self.std_offset_min }
    }

    /// Local time of `utc_ms`: (days since 1970-01-01 local, ms since local midnight).
    pub fn local(&self, utc_ms: i64) -> (i64, i64) {
        let local = utc_ms.saturating_add(i64::from(self.offset_min(utc_ms)) * MINUTE_MS);
        (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS))
    }

    /// Whether daylight saving time is in effect at `utc_ms`.
    fn in_dst(&self, utc_ms: i64) -> bool {
        let std_ms = i64::from(self.std_offset_min) * MINUTE_MS;
        // The year of the local standard time decides which transitions apply.
        let (year, _, _) = civil_from_days(utc_ms.saturating_add(std_ms).div_euclid(DAY_MS));
        // A transition given in local standard time, as a UTC instant.
        let at_std = |day: i64, hour: i64| day * DAY_MS + hour * HOUR_MS - std_ms;
        match self.dst {
            DstRule::None => false,
            DstRule::Us => {
                let start = at_std(nth_sunday(year, 3, 2), 2);
                // 02:00 daylight time is 01:00 standard time.
                let end = at_std(nth_sunday(year, 11, 1), 1);
                start <= utc_ms && utc_ms < end
            }
            DstRule::Eu => {
                let start = last_sunday(year, 3) * DAY_MS + HOUR_MS;
                let end = last_sunday(year, 10) * DAY_MS + HOUR_MS;
                start <= utc_ms && utc_ms < end
            }
            DstRule::AuSouth => {
                // 03:00 daylight time is 02:00 standard time.
                let end = at_std(nth_sunday(year, 4, 1), 2);
                let start = at_std(nth_sunday(year, 10, 1), 2);
                utc_ms < end || utc_ms >= start
            }
        }
    }
}

/// Parses `Z`, `UTC`, `GMT`, `[UTC|GMT]±H[H][:MM]` or `±HHMM` into minutes east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let upper = text.to_ascii_uppercase();
    if matches!(upper.as_str(), "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let rest = upper.strip_prefix("UTC").or_else(|| upper.strip_prefix("GMT")).unwrap_or(&upper);
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None => (digits, "0"),
    };
    if hours.is_empty()
        || hours.len() > 2
        || minutes.len() > 2
        || !(hours.chars().chain(minutes.chars()).all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if minutes >= 60 || hours * 60 + minutes > 14 * 60 {
        return None;
    }
    Some(sign * (hours * 60 + minutes))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `(year, month 1–12, day 1–31)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Day of week of a day count since 1970-01-01: 0 = Monday … 6 = Sunday.
pub fn weekday(days: i64) -> usize {
    // 1970-01-01 was a Thursday (3). The value is in 0..7.
    usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0)
}

/// The day (since 1970-01-01) of the `n`-th Sunday of a month.
fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    let to_sunday = (6 - weekday(first) as i64).rem_euclid(7);
    first + to_sunday + 7 * (n - 1)
}

/// The day (since 1970-01-01) of the last Sunday of a month.
fn last_sunday(year: i64, month: u32) -> i64 {
    let next_first = if month == 12 { days_from_civil(year + 1, 1, 1) } else { days_from_civil(year, month + 1, 1) };
    let last = next_first - 1;
    last - ((weekday(last) as i64 + 1) % 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UTC milliseconds of a civil date and time.
    fn utc(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS
    }

    #[test]
    fn civil_round_trip_and_weekdays() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday(0), 3, "1970-01-01 was a Thursday");
        for days in [-800_000, -1, 0, 59, 365, 11_016, 19_782, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        // 2025-06-02 was a Monday.
        assert_eq!(weekday(days_from_civil(2025, 6, 2)), 0);
    }

    #[test]
    fn transition_days_match_published_calendars() {
        assert_eq!(civil_from_days(nth_sunday(2024, 3, 2)), (2024, 3, 10));
        assert_eq!(civil_from_days(nth_sunday(2024, 11, 1)), (2024, 11, 3));
        assert_eq!(civil_from_days(last_sunday(2024, 3)), (2024, 3, 31));
        assert_eq!(civil_from_days(last_sunday(2024, 10)), (2024, 10, 27));
        assert_eq!(civil_from_days(nth_sunday(2025, 3, 2)), (2025, 3, 9));
        assert_eq!(civil_from_days(last_sunday(2025, 12)), (2025, 12, 28));
        assert_eq!(civil_from_days(nth_sunday(2025, 10, 1)), (2025, 10, 5));
    }

    #[test]
    fn us_rule_switches_at_two_local() {
        let chicago = TimeZone::parse("America/Chicago", None).expect("zone");
        // 2024-03-10 01:59 CST = 07:59 UTC; 02:00 CST = 08:00 UTC is 03:00 CDT.
        assert_eq!(chicago.offset_min(utc(2024, 3, 10, 7, 59)), -360);
        assert_eq!(chicago.offset_min(utc(2024, 3, 10, 8, 0)), -300);
        // 2024-11-03 02:00 CDT = 07:00 UTC goes back to 01:00 CST.
        assert_eq!(chicago.offset_min(utc(2024, 11, 3, 6, 59)), -300);
        assert_eq!(chicago.offset_min(utc(2024, 11, 3, 7, 0)), -360);
        assert_eq!(chicago.offset_min(utc(2024, 1, 15, 12, 0)), -360);
    }

    #[test]
    fn eu_and_au_rules() {
        let oslo = TimeZone::parse("europe/oslo", None).expect("zone");
        assert_eq!(oslo.offset_min(utc(2024, 3, 31, 0, 59)), 60);
        assert_eq!(oslo.offset_min(utc(2024, 3, 31, 1, 0)), 120);
        assert_eq!(oslo.offset_min(utc(2024, 10, 27, 0, 59)), 120);
        assert_eq!(oslo.offset_min(utc(2024, 10, 27, 1, 0)), 60);
        let sydney = TimeZone::parse("Australia/Sydney", None).expect("zone");
        assert_eq!(sydney.offset_min(utc(2024, 1, 10, 0, 0)), 660);
        assert_eq!(sydney.offset_min(utc(2024, 7, 10, 0, 0)), 600);
        // 2024-10-06 02:00 AEST = 2024-10-05 16:00 UTC.
        assert_eq!(sydney.offset_min(utc(2024, 10, 5, 15, 59)), 600);
        assert_eq!(sydney.offset_min(utc(2024, 10, 5, 16, 0)), 660);
        // 2025-04-06 03:00 AEDT = 2025-04-05 16:00 UTC.
        assert_eq!(sydney.offset_min(utc(2025, 4, 5, 15, 59)), 660);
        assert_eq!(sydney.offset_min(utc(2025, 4, 5, 16, 0)), 600);
    }

    #[test]
    fn fixed_offsets_parse() {
        for (text, minutes) in [
            ("Z", 0),
            ("utc", 0),
            ("+05:30", 330),
            ("-03", -180),
            ("UTC-06:00", -360),
            ("GMT+1", 60),
            ("+0545", 345),
            ("-9:30", -570),
        ] {
            assert_eq!(
                TimeZone::parse(text, None),
                Ok(TimeZone { std_offset_min: minutes, dst: DstRule::None }),
                "{text}"
            );
        }
        for bad in ["", "+", "+15", "05:00", "+05:60", "Mars/Olympus", "+1:2:3", "UTC+x"] {
            assert!(TimeZone::parse(bad, None).is_err(), "{bad}");
        }
        assert!(TimeZone::parse("America/Chicago", Some("us")).is_err());
        assert!(TimeZone::parse("-06:00", Some("mars")).is_err());
        let with_dst = TimeZone::parse("-06:00", Some("US")).expect("zone");
        assert_eq!(with_dst, TimeZone::parse("America/Chicago", None).expect("zone"));
    }

    #[test]
    fn local_time_splits_day_and_time() {
        let tz = TimeZone::parse("-05:00", None).expect("zone");
        // 1970-01-01 03:00 UTC is 1969-12-31 22:00 at -05:00.
        assert_eq!(tz.local(3 * HOUR_MS), (-1, 22 * HOUR_MS));
        assert_eq!(TimeZone::UTC.local(DAY_MS + 1), (1, 1));
    }
}
