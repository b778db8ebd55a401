//! When a scheduled binding (optimizer, field optimizer, forecaster) runs
//! next: every `schedule_ms`, or at the times of a cron expression read in
//! an IANA time zone (five fields: minute, hour, day of month, month, day
//! of week; `*`, lists, ranges, steps and names, as in Vixie cron). The
//! time zone's daylight-saving changes are the zone database's: a time
//! the clocks skip does not fire that day.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use nexus_model::{Binding, CronSchedule, TimestampMs};

use crate::optimizers::default_schedule_ms;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub(crate) enum Schedule {
    /// Every so many ms.
    Every(i64),
    /// At the times of a cron expression in a time zone.
    Cron(Box<Cron>, Tz),
}

impl Schedule {
    /// The schedule of a binding as stored (an unreadable stored cron
    /// schedule, which the API never accepts, falls back to the default
    /// interval).
    pub(crate) fn of(binding: &Binding) -> Self {
        if let Some(cron) = &binding.schedule_cron {
            match parse_cron(cron) {
                Ok(schedule) => return schedule,
                Err(error) => tracing::error!(binding = %binding.id, %error, "Stored cron schedule unreadable."),
            }
        }
        Schedule::Every(binding.schedule_ms.unwrap_or_else(|| default_schedule_ms(binding.kind)))
    }

    /// The first run after `after` (ms), given the last run (`None`: never
    /// ran). An interval runs at once the first time; a cron schedule waits
    /// for its next time.
    pub(crate) fn next(&self, last: Option<TimestampMs>, after: TimestampMs) -> Option<TimestampMs> {
        match self {
            Schedule::Every(ms) => Some(last.map_or(after, |last| last + ms)),
            Schedule::Cron(cron, tz) => {
                let from = Utc.timestamp_millis_opt(last.unwrap_or(after).max(after)).single()?.with_timezone(tz);
                cron.find_next_occurrence(&from, false).ok().map(|t| t.timestamp_millis())
            }
        }
    }
}

/// Checks a cron schedule: five fields and a known IANA time zone; the
/// problem names which is wrong.
pub(crate) fn parse_cron(schedule: &CronSchedule) -> Result<Schedule, String> {
    let fields = schedule.expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "schedule_cron `{}` has {fields} fields; it takes five: minute hour day-of-month month day-of-week",
            schedule.expression
        ));
    }
    let cron =
        Cron::from_str(&schedule.expression).map_err(|e| format!("schedule_cron `{}`: {e}", schedule.expression))?;
    let tz: Tz = schedule
        .time_zone
        .parse()
        .map_err(|_| format!("schedule_tz `{}` is not an IANA time zone (e.g. America/Chicago)", schedule.time_zone))?;
    Ok(Schedule::Cron(Box::new(cron), tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expression: &str, time_zone: &str) -> Schedule {
        parse_cron(&CronSchedule { expression: expression.into(), time_zone: time_zone.into() }).expect("valid")
    }

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339).expect("time").timestamp_millis()
    }

    #[test]
    fn weekdays_at_six_in_chicago_follow_daylight_saving() {
        let s = cron("0 6 * * 1-5", "America/Chicago");
        // Friday 2026-03-06 10:00 UTC → Monday 09 March 06:00 CDT (11:00 UTC;
        // the clocks went forward on Sunday the 8th).
        assert_eq!(s.next(None, ms("2026-03-06T13:00:00Z")), Some(ms("2026-03-09T11:00:00Z")));
        // Before the change: Thursday 5 March 06:00 CST is 12:00 UTC.
        assert_eq!(s.next(None, ms("2026-03-05T00:00:00Z")), Some(ms("2026-03-05T12:00:00Z")));
        // After a run, the next is the next weekday.
        assert_eq!(
            s.next(Some(ms("2026-03-09T11:00:00Z")), ms("2026-03-09T11:00:00Z")),
            Some(ms("2026-03-10T11:00:00Z"))
        );
    }

    #[test]
    fn an_interval_runs_at_once_then_every_period() {
        let s = Schedule::Every(60_000);
        assert_eq!(s.next(None, 1_000), Some(1_000));
        assert_eq!(s.next(Some(1_000), 5_000), Some(61_000));
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        let bad = |e: &str, z: &str| {
            parse_cron(&CronSchedule { expression: e.into(), time_zone: z.into() }).expect_err("refused")
        };
        assert!(bad("0 6 * *", "UTC").contains("has 4 fields"));
        assert!(bad("0 6 * * * *", "UTC").contains("has 6 fields"));
        assert!(bad("61 6 * * *", "UTC").contains("schedule_cron `61 6 * * *`"));
        assert!(bad("0 6 * * 1-5", "Mars/Olympus").contains("schedule_tz `Mars/Olympus`"));
    }
}
