//! Bounded rolling statistics kept in host state:
//!
//! * [`Window`]: the gas-lock window of motor current (and intake pressure)
//!   in [`WINDOW_BUCKETS`] time buckets, each holding a count, mean and sum of
//!   squared deviations (Welford), merged exactly (Chan et al.) into the
//!   window's mean, CV, swing count and pressure trend;
//! * [`Baseline`]: per-bucket (default hourly) means of vibration over a long
//!   window (default 7 days), whose median is the vibration baseline.
//!
//! Both hold a fixed number of buckets whatever the sample rate, so the state
//! stays small (a few KiB).

use serde::{Deserialize, Serialize};

/// Number of buckets a gas-lock window is divided into.
pub const WINDOW_BUCKETS: i64 = 20;
/// Fewest samples for window statistics.
const MIN_WINDOW_SAMPLES: u32 = 10;
/// Fraction of the window the samples must span for window statistics.
const MIN_WINDOW_COVERAGE: f64 = 0.8;

/// Count, mean and sum of squared deviations of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values.
    pub n: u32,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Adds a value (Welford's update).
    pub fn add(&mut self, x: f64) {
        self.n = self.n.saturating_add(1);
        let delta = x - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (x - self.mean);
    }

    /// Merges another set into this one (Chan et al.'s parallel formula).
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (f64::from(self.n), f64::from(other.n));
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.n = self.n.saturating_add(other.n);
    }

    /// Population standard deviation.
    pub fn std_dev(&self) -> f64 {
        if self.n == 0 { 0.0 } else { (self.m2.max(0.0) / f64::from(self.n)).sqrt() }
    }
}

/// One time bucket of the gas-lock window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowBucket {
    /// Start of the bucket, ms.
    pub start: i64,
    /// Motor current (normalized to the reference frequency), A.
    pub current: Moments,
    /// Intake pressure.
    pub pressure: Moments,
}

/// Statistics of a full window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// Mean current.
    pub mean: f64,
    /// Coefficient of variation of the current (σ/μ).
    pub cv: f64,
    /// Sign changes of the bucket means around the window mean: many for
    /// irregular swings, about one for a step or a ramp.
    pub swings: u32,
    /// Mean intake pressure over the early and the late half of the window,
    /// when both halves have samples.
    pub pressure: Option<(f64, f64)>,
}

/// The gas-lock window: buckets of `window_ms / WINDOW_BUCKETS`, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The buckets, oldest first.
    #[serde(default)]
    pub buckets: Vec<WindowBucket>,
}

impl Window {
    /// Adds a current sample at `t`.
    pub fn add_current(&mut self, t: i64, x: f64, window_ms: i64) {
        self.bucket(t, window_ms).current.add(x);
    }

    /// Adds an intake-pressure sample at `t`.
    pub fn add_pressure(&mut self, t: i64, x: f64, window_ms: i64) {
        self.bucket(t, window_ms).pressure.add(x);
    }

    /// Forgets everything (the motor stopped).
    pub fn clear(&mut self) {
        self.buckets.clear();
    }

    /// The bucket of `t`, created if needed; buckets out of the window are dropped.
    fn bucket(&mut self, t: i64, window_ms: i64) -> &mut WindowBucket {
        let size = (window_ms / WINDOW_BUCKETS).max(1);
        let start = t.div_euclid(size) * size;
        self.buckets.retain(|b| b.start + size > t - window_ms);
        // Samples come in time order; one older than the last bucket joins it.
        if self.buckets.last().is_none_or(|b| b.start < start) {
            self.buckets.push(WindowBucket { start, ..WindowBucket::default() });
        }
        let last = self.buckets.len() - 1;
        &mut self.buckets[last]
    }

    /// Statistics of the window ending at `t`, if its current samples span
    /// at least 80 % of it and number at least 10.
    pub fn stats(&self, t: i64, window_ms: i64) -> Option<WindowStats> {
        let size = (window_ms / WINDOW_BUCKETS).max(1);
        let buckets: Vec<&WindowBucket> =
            self.buckets.iter().filter(|b| b.start + size > t - window_ms && b.current.n > 0).collect();
        let first = buckets.first()?;
        let mut total = Moments::default();
        buckets.iter().for_each(|b| total.merge(&b.current));
        let span = (t - first.start) as f64;
        if total.n < MIN_WINDOW_SAMPLES || span < MIN_WINDOW_COVERAGE * window_ms as f64 || total.mean <= 0.0 {
            return None;
        }
        let mut swings = 0;
        let mut previous: Option<bool> = None;
        for b in &buckets {
            let above = b.current.mean > total.mean;
            if previous.is_some_and(|p| p != above) {
                swings += 1;
            }
            previous = Some(above);
        }
        let (mut early, mut late) = (Moments::default(), Moments::default());
        for b in &self.buckets {
            if b.start + size <= t - window_ms {
                continue;
            }
            if b.start < t - window_ms / 2 { early.merge(&b.pressure) } else { late.merge(&b.pressure) }
        }
        let pressure = (early.n > 0 && late.n > 0).then_some((early.mean, late.mean));
        Some(WindowStats { mean: total.mean, cv: total.std_dev() / total.mean, swings, pressure })
    }
}

/// One bucket of the vibration baseline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineBucket {
    /// Start of the bucket, ms.
    pub start: i64,
    /// Number of samples.
    pub n: u32,
    /// Their mean.
    pub mean: f64,
}

/// Per-bucket means over a long window; their median is the baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The buckets, oldest first.
    #[serde(default)]
    pub buckets: Vec<BaselineBucket>,
}

impl Baseline {
    /// Adds a sample at `t`; buckets older than `window_ms` are dropped.
    pub fn add(&mut self, t: i64, x: f64, bucket_ms: i64, window_ms: i64) {
        let start = t.div_euclid(bucket_ms) * bucket_ms;
        self.buckets.retain(|b| b.start + bucket_ms > t - window_ms);
        if self.buckets.last().is_none_or(|b| b.start < start) {
            self.buckets.push(BaselineBucket { start, ..BaselineBucket::default() });
        }
        if let Some(bucket) = self.buckets.last_mut() {
            bucket.n = bucket.n.saturating_add(1);
            bucket.mean += (x - bucket.mean) / f64::from(bucket.n);
        }
    }

    /// Median of the means of the complete buckets within `window_ms` of
    /// `t`, if there are at least `min_buckets` of them.
    pub fn median(&self, t: i64, bucket_ms: i64, window_ms: i64, min_buckets: u32) -> Option<f64> {
        let mut means: Vec<f64> = self
            .buckets
            .iter()
            .filter(|b| b.n > 0 && b.start + bucket_ms <= t && b.start + bucket_ms > t - window_ms)
            .map(|b| b.mean)
            .collect();
        if means.is_empty() || means.len() < min_buckets as usize {
            return None;
        }
        means.sort_by(f64::total_cmp);
        let mid = means.len() / 2;
        Some(if means.len() % 2 == 1 { means[mid] } else { (means[mid - 1] + means[mid]) / 2.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_moments_equal_direct_ones() {
        let values = [40.1, 39.7, 40.4, 38.9, 41.2, 40.0, 39.5, 40.8];
        let mut direct = Moments::default();
        values.iter().for_each(|&x| direct.add(x));
        let (mut a, mut b) = (Moments::default(), Moments::default());
        values[..3].iter().for_each(|&x| a.add(x));
        values[3..].iter().for_each(|&x| b.add(x));
        a.merge(&b);
        assert_eq!(a.n, direct.n);
        assert!((a.mean - direct.mean).abs() < 1e-12);
        assert!((a.m2 - direct.m2).abs() < 1e-9);
        let mean = values.iter().sum::<f64>() / 8.0;
        let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 8.0;
        assert!((direct.std_dev() - var.sqrt()).abs() < 1e-12);
        let mut empty = Moments::default();
        empty.merge(&direct);
        assert_eq!(empty, direct);
    }

    #[test]
    fn window_needs_coverage_and_counts_swings() {
        let window_ms = 600_000;
        let mut w = Window::default();
        // Alternating 30 s blocks of 44 and 36 A: swings at every bucket.
        for s in 0..600 {
            let x = if (s / 30) % 2 == 0 { 44.0 } else { 36.0 };
            w.add_current(s * 1000, x, window_ms);
            if s == 400 {
                assert!(w.stats(s * 1000, window_ms).is_none(), "67 % of the window is not enough");
            }
        }
        let stats = w.stats(599_000, window_ms).expect("full window");
        assert!((stats.mean - 40.0).abs() < 1e-9);
        assert!((stats.cv - 0.1).abs() < 1e-9);
        assert_eq!(stats.swings, 19);
        assert!(w.buckets.len() <= WINDOW_BUCKETS as usize + 1);
        // A step: one swing.
        let mut step = Window::default();
        for s in 0..600 {
            step.add_current(s * 1000, if s < 300 { 40.0 } else { 30.0 }, window_ms);
            step.add_pressure(s * 1000, if s < 300 { 900.0 } else { 950.0 }, window_ms);
        }
        let stats = step.stats(599_000, window_ms).expect("full window");
        assert_eq!(stats.swings, 1);
        assert_eq!(stats.pressure, Some((900.0, 950.0)));
        // Old buckets fall out of the window.
        step.add_current(2_000_000, 40.0, window_ms);
        assert_eq!(step.buckets.len(), 1);
    }

    #[test]
    fn baseline_is_the_median_of_complete_buckets() {
        let (bucket, window) = (3_600_000, 7 * 24 * 3_600_000);
        let mut b = Baseline::default();
        for (hour, level) in [(0, 1.0), (1, 5.0), (2, 1.2), (3, 1.1), (4, 0.9)] {
            for minute in 0..60 {
                b.add(hour * bucket + minute * 60_000, level, bucket, window);
            }
        }
        assert_eq!(b.median(5 * bucket, bucket, window, 6), None, "only 5 complete buckets");
        assert_eq!(b.median(5 * bucket, bucket, window, 5), Some(1.1));
        let four = b.median(4 * bucket + 1, bucket, window, 4).expect("4 complete buckets");
        assert!((four - 1.15).abs() < 1e-12, "the open bucket is not used: {four}");
        // Eight days later the old buckets have aged out.
        b.add(8 * 24 * bucket, 2.0, bucket, window);
        assert_eq!(b.buckets.len(), 1);
    }
}
