//! A downsampled trailing window of one variable: means of fixed time
//! buckets (e.g. 10 s), so a 10-minute lookback of 1 Hz data is 60 numbers
//! of host state instead of 600.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The recent history of one variable, kept as bucket means.
///
/// Serialized compactly (`b`: completed buckets as `[start_ms, mean]`, oldest
/// first; `c`: the bucket being filled as `[start_ms, sum, count]`; `l`: the
/// timestamp of the newest sample) because it lives in host state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketWindow {
    /// Completed buckets, oldest first: (bucket start in ms, mean).
    #[serde(default, rename = "b")]
    buckets: VecDeque<(i64, f64)>,
    /// The bucket being filled: (start in ms, sum, count).
    #[serde(default, rename = "c")]
    current: Option<(i64, f64, u32)>,
    /// Timestamp of the newest sample taken.
    #[serde(default, rename = "l")]
    last_ts: Option<i64>,
}

impl BucketWindow {
    /// Adds a sample. Samples older than the bucket being filled are ignored
    /// (input is expected in time order); completed buckets that started more
    /// than `keep_ms` before `ts` are dropped. `value` must be finite.
    pub fn push(&mut self, ts: i64, value: f64, bucket_ms: i64, keep_ms: i64) {
        let start = ts.div_euclid(bucket_ms) * bucket_ms;
        match self.current {
            Some((current, ref mut sum, ref mut count)) if current == start => {
                *sum += value;
                *count += 1;
            }
            Some((current, _, _)) if current > start => return,
            Some((current, sum, count)) => {
                self.buckets.push_back((current, sum / f64::from(count.max(1))));
                self.current = Some((start, value, 1));
            }
            None => self.current = Some((start, value, 1)),
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |last| last.max(ts)));
        let oldest = ts.saturating_sub(keep_ms);
        while self.buckets.front().is_some_and(|&(s, _)| s < oldest) {
            self.buckets.pop_front();
        }
    }

    /// The current level: the mean of the bucket being filled, if the newest
    /// sample is at most `stale_ms` older than `now`.
    pub fn level(&self, now: i64, stale_ms: i64) -> Option<f64> {
        let last = self.last_ts?;
        if now.saturating_sub(last) > stale_ms {
            return None;
        }
        self.current.map(|(_, sum, count)| sum / f64::from(count.max(1)))
    }

    /// The highest completed-bucket mean among buckets starting at or after `since`.
    pub fn max_since(&self, since: i64) -> Option<f64> {
        self.recent(since).map(|&(_, mean)| mean).reduce(f64::max)
    }

    /// The oldest completed-bucket mean among buckets starting at or after
    /// `since` (the level about one lookback ago).
    pub fn oldest_since(&self, since: i64) -> Option<f64> {
        self.recent(since).next().map(|&(_, mean)| mean)
    }

    /// How many completed buckets are kept.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no completed bucket is kept.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn recent(&self, since: i64) -> impl Iterator<Item = &(i64, f64)> {
        self.buckets.iter().skip_while(move |&&(start, _)| start < since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: i64 = 10_000;

    fn filled(points: &[(i64, f64)], keep_ms: i64) -> BucketWindow {
        let mut window = BucketWindow::default();
        for &(ts, v) in points {
            window.push(ts, v, BUCKET, keep_ms);
        }
        window
    }

    #[test]
    fn buckets_hold_means_and_the_current_level_is_the_open_bucket() {
        let window = filled(&[(0, 1.0), (5_000, 3.0), (10_000, 10.0), (12_000, 20.0), (20_000, 7.0)], 600_000);
        assert_eq!(window.len(), 2);
        assert_eq!(window.max_since(0), Some(15.0));
        assert_eq!(window.oldest_since(0), Some(2.0));
        assert_eq!(window.oldest_since(10_000), Some(15.0));
        assert_eq!(window.max_since(20_000), None);
        assert_eq!(window.level(20_000, 60_000), Some(7.0));
    }

    #[test]
    fn stale_level_is_unavailable() {
        let window = filled(&[(0, 1.0)], 600_000);
        assert_eq!(window.level(60_000, 60_000), Some(1.0));
        assert_eq!(window.level(60_001, 60_000), None);
        assert_eq!(BucketWindow::default().level(0, 60_000), None);
    }

    #[test]
    fn old_buckets_are_dropped_and_late_samples_ignored() {
        let points: Vec<(i64, f64)> = (0..100).map(|i| (i * 1_000, i as f64)).collect();
        let mut window = filled(&points, 30_000);
        // Buckets starting before 99 s − 30 s = 69 s are gone: 70, 80 remain (90 is open).
        assert_eq!(window.len(), 2);
        assert_eq!(window.oldest_since(0), Some(74.5));
        window.push(5_000, 1e9, BUCKET, 30_000);
        assert_eq!(window.max_since(0), Some(84.5));
        assert_eq!(window.level(99_000, 1_000), Some(94.5));
    }

    #[test]
    fn serializes_compactly_and_round_trips() {
        let window = filled(&[(0, 1.5), (10_000, 2.0)], 600_000);
        let text = serde_json::to_string(&window).expect("encode");
        assert_eq!(text, r#"{"b":[[0,1.5]],"c":[10000,2.0,1],"l":10000}"#);
        let back: BucketWindow = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, window);
        assert!(BucketWindow::default().is_empty());
    }
}
