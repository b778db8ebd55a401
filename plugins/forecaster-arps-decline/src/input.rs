//! The rate history: a telemetry key's stored samples read page by page
//! through `host.history` and averaged per UTC day, or the oil rates of the
//! well's recorded tests.
//!
//! The host caps each history call (64 KiB by default: about 1600 rows of
//! a short key), oldest rows first, so a year of hourly samples takes
//! several calls: each page starts 1 ms after the newest sample of the last.

use std::collections::BTreeMap;

use nexus_plugin_sdk::{Column, PluginError, Series, WellTest};

/// One day, ms.
pub const DAY_MS: i64 = 86_400_000;
/// Rows asked of one history call (the host caps it further).
pub const PAGE_ROWS: u32 = 10_000;
/// Most history calls in one run.
pub const MAX_PAGES: usize = 64;

/// Daily means of a telemetry key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Daily {
    /// `(mid-day ts, mean rate)` of each day with a usable sample, oldest first.
    pub points: Vec<(i64, f64)>,
    /// Samples read.
    pub samples: usize,
    /// Samples left out: not positive and finite (shut-in, bad values) or of quality 0.
    pub dropped: usize,
    /// History calls made.
    pub pages: usize,
    /// Whether [`MAX_PAGES`] calls did not reach the end of the window.
    pub truncated: bool,
}

/// Reads `key` of `device` in `[start, end)` through `history` (the host's
/// `history(device, key, start, end, limit)` or a test's stand-in), page by
/// page, and averages the usable samples per UTC day.
pub fn read_daily<H>(history: &mut H, device: &str, key: &str, start: i64, end: i64) -> Result<Daily, PluginError>
where
    H: FnMut(&str, &str, i64, i64, u32) -> Result<Vec<Series>, PluginError>,
{
    let mut days: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    let mut daily = Daily::default();
    let mut from = start;
    loop {
        if daily.pages == MAX_PAGES {
            daily.truncated = true;
            break;
        }
        let page = history(device, key, from, end, PAGE_ROWS)?;
        daily.pages += 1;
        let mut newest = None::<i64>;
        for series in page.iter().filter(|s| s.key == key) {
            newest = series.ts.iter().copied().max().max(newest);
            if !matches!(series.values, Column::Number(_) | Column::Integer(_)) {
                continue;
            }
            for (ts, value, quality) in series.numbers_with_quality() {
                daily.samples += 1;
                if !(value.is_finite() && value > 0.0 && quality > 0.0 && (start..end).contains(&ts)) {
                    daily.dropped += 1;
                    continue;
                }
                let day = days.entry(ts.div_euclid(DAY_MS)).or_insert((0.0, 0));
                day.0 += value;
                day.1 += 1;
            }
        }
        match newest {
            Some(ts) if ts >= from && ts + 1 < end => from = ts + 1,
            _ => break,
        }
    }
    daily.points =
        days.into_iter().map(|(day, (sum, count))| (day * DAY_MS + DAY_MS / 2, sum / count as f64)).collect();
    Ok(daily)
}

/// `(ts, oil rate)` of the well tests with a positive, finite oil rate, oldest first.
pub fn well_test_points(tests: &[WellTest]) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> =
        tests.iter().filter(|t| t.oil_bbl_d.is_finite() && t.oil_bbl_d > 0.0).map(|t| (t.ts, t.oil_bbl_d)).collect();
    points.sort_by_key(|p| p.0);
    points
}
