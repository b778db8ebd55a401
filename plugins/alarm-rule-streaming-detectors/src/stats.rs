//! The three statistics as small pure state machines over one value at a
//! time: the rolling robust z-score (median/MAD), the EWMA chart and the
//! two-sided tabular CUSUM (domain reference §5.1–5.3), plus a running
//! mean/σ estimate for the in-control baseline.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// `1/Φ⁻¹(3/4)`: MAD/0.6745 estimates σ for normal data.
pub const MAD_TO_SIGMA: f64 = 1.0 / 0.6745;
/// `sqrt(π/2)`: the mean absolute deviation times this estimates σ (used when MAD = 0).
pub const MEAN_AD_TO_SIGMA: f64 = 1.253314;

/// The median and MAD-based scale of a trailing window, kept as a ring (for
/// eviction) and a sorted copy (for order statistics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "VecDeque<f64>", into = "VecDeque<f64>")]
pub struct RollingWindow {
    ring: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl From<VecDeque<f64>> for RollingWindow {
    fn from(ring: VecDeque<f64>) -> Self {
        let ring: VecDeque<f64> = ring.into_iter().filter(|v| v.is_finite()).collect();
        let mut sorted: Vec<f64> = ring.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        Self { ring, sorted }
    }
}

impl From<RollingWindow> for VecDeque<f64> {
    fn from(window: RollingWindow) -> Self {
        window.ring
    }
}

/// A scored value of the robust z-score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustScore {
    /// Median of the reference window.
    pub median: f64,
    /// σ estimate: MAD/0.6745, or 1.253314·MeanAD when MAD = 0, at least `min_sigma`.
    pub sigma: f64,
    /// `(x − median)/sigma`.
    pub z: f64,
}

impl RollingWindow {
    /// Values held.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Adds a finite value, evicting the oldest beyond `capacity`.
    pub fn push(&mut self, value: f64, capacity: usize) {
        while self.ring.len() >= capacity.max(1) {
            let Some(old) = self.ring.pop_front() else { break };
            if let Ok(i) = self.sorted.binary_search_by(|p| p.total_cmp(&old)) {
                self.sorted.remove(i);
            }
        }
        self.ring.push_back(value);
        let i = self.sorted.partition_point(|p| p.total_cmp(&value).is_lt());
        self.sorted.insert(i, value);
    }

    /// The median of the window.
    pub fn median(&self) -> Option<f64> {
        median_of_sorted(&self.sorted)
    }

    /// The median absolute deviation from `median`, in O(n) without
    /// allocation: the deviations below and above the median are two sorted
    /// runs, merged up to the middle.
    pub fn mad(&self, median: f64) -> Option<f64> {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return None;
        }
        let split = s.partition_point(|&v| v < median);
        let (mut lo, mut hi) = (split, split); // next below: s[lo − 1]; next above: s[hi]
        let (want_a, want_b) = ((n - 1) / 2, n / 2);
        let (mut a, mut b) = (0.0, 0.0);
        for rank in 0..=want_b {
            let below = (lo > 0).then(|| median - s[lo - 1]);
            let above = (hi < n).then(|| s[hi] - median);
            let d = match (below, above) {
                (Some(x), Some(y)) if x <= y => {
                    lo -= 1;
                    x
                }
                (Some(x), None) => {
                    lo -= 1;
                    x
                }
                (_, Some(y)) => {
                    hi += 1;
                    y
                }
                (None, None) => break,
            };
            if rank == want_a {
                a = d;
            }
            if rank == want_b {
                b = d;
            }
        }
        Some((a + b) / 2.0)
    }

    /// Scores `x` against the window (before `x` is added), or `None` when the
    /// window has fewer than `min_len` values or its scale is 0.
    pub fn score(&self, x: f64, min_len: usize, min_sigma: f64) -> Option<RobustScore> {
        if self.len() < min_len.max(1) {
            return None;
        }
        let median = self.median()?;
        let mad = self.mad(median)?;
        let sigma = if mad > 0.0 {
            mad * MAD_TO_SIGMA
        } else {
            MEAN_AD_TO_SIGMA * self.sorted.iter().map(|v| (v - median).abs()).sum::<f64>() / self.len() as f64
        };
        let sigma = sigma.max(min_sigma);
        (sigma > 0.0 && sigma.is_finite()).then(|| RobustScore { median, sigma, z: (x - median) / sigma })
    }
}

fn median_of_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    (n > 0).then(|| (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0)
}

/// Welford's running mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// Values seen.
    pub n: u32,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Running {
    /// Adds a value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (x - self.mean);
    }

    /// The sample standard deviation (n − 1), if at least two values.
    pub fn std(&self) -> Option<f64> {
        (self.n >= 2).then(|| (self.m2 / f64::from(self.n - 1)).max(0.0).sqrt())
    }
}

/// The EWMA statistic: `z_t = λ·x_t + (1 − λ)·z_{t−1}`, `z_0 = μ₀`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    /// The current statistic (`None` before the first value).
    pub z: Option<f64>,
    /// Values taken since the start.
    pub t: u32,
}

/// One EWMA step: the statistic and its control limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaScore {
    /// `z_t`.
    pub z: f64,
    /// Half-width of the limits: `L·σ·sqrt(λ/(2−λ)·(1 − (1−λ)^{2t}))`.
    pub half_width: f64,
}

impl EwmaScore {
    /// Whether `z_t` is outside `μ₀ ± half_width`.
    pub fn out_of_control(&self, mean: f64) -> bool {
        (self.z - mean).abs() > self.half_width
    }
}

impl Ewma {
    /// Takes `x` with in-control mean/σ and parameters λ and L.
    pub fn update(&mut self, x: f64, mean: f64, sigma: f64, lambda: f64, l: f64) -> EwmaScore {
        let z = lambda * x + (1.0 - lambda) * self.z.unwrap_or(mean);
        self.z = Some(z);
        self.t = self.t.saturating_add(1);
        let exponent = i32::try_from(self.t.saturating_mul(2)).unwrap_or(i32::MAX);
        let decay = 1.0 - (1.0 - lambda).powi(exponent);
        EwmaScore { z, half_width: l * sigma * (lambda / (2.0 - lambda) * decay).sqrt() }
    }
}

/// The two-sided tabular CUSUM `C⁺`, `C⁻` with the times they were last 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cusum {
    /// `C⁺`.
    pub hi: f64,
    /// `C⁻`.
    pub lo: f64,
    /// Timestamp of the last value with `C⁺ = 0` (estimates an upward change time).
    pub hi_zero: Option<i64>,
    /// Timestamp of the last value with `C⁻ = 0`.
    pub lo_zero: Option<i64>,
}

/// What a CUSUM step found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumScore {
    /// `C⁺` after the value (before any reset).
    pub hi: f64,
    /// `C⁻` after the value (before any reset).
    pub lo: f64,
    /// `+1` (upward) or `−1` (downward) when `C⁺` or `C⁻` exceeded `H`.
    pub signal: Option<i8>,
    /// Estimated change time of the signalled shift (last time its sum was 0).
    pub change_ts: Option<i64>,
}

impl Cusum {
    /// Takes `x` (at `ts`) with in-control mean/σ and parameters k and h (in σ);
    /// resets both sums after a signal.
    pub fn update(&mut self, ts: i64, x: f64, mean: f64, sigma: f64, k: f64, h: f64) -> CusumScore {
        let (kk, hh) = (k * sigma, h * sigma);
        self.hi = (x - (mean + kk) + self.hi).max(0.0);
        self.lo = ((mean - kk) - x + self.lo).max(0.0);
        let signal = if self.hi > hh {
            Some(1)
        } else if self.lo > hh {
            Some(-1)
        } else {
            None
        };
        let change_ts = match signal {
            Some(1) => self.hi_zero,
            Some(_) => self.lo_zero,
            None => None,
        };
        let score = CusumScore { hi: self.hi, lo: self.lo, signal, change_ts };
        if signal.is_some() {
            *self = Cusum { hi: 0.0, lo: 0.0, hi_zero: Some(ts), lo_zero: Some(ts) };
        } else {
            if self.hi == 0.0 {
                self.hi_zero = Some(ts);
            }
            if self.lo == 0.0 {
                self.lo_zero = Some(ts);
            }
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(values: &[f64], capacity: usize) -> RollingWindow {
        let mut w = RollingWindow::default();
        for &v in values {
            w.push(v, capacity);
        }
        w
    }

    fn brute_mad(values: &[f64]) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = median_of_sorted(&sorted).expect("non-empty");
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        median_of_sorted(&deviations).expect("non-empty")
    }

    #[test]
    fn median_and_mad_match_the_definition() {
        let w = window(&[1.0, 2.0, 3.0, 4.0, 100.0], 10);
        assert_eq!(w.median(), Some(3.0));
        assert_eq!(w.mad(3.0), Some(1.0));
        // Many pseudo-random windows, odd and even sizes, with ties.
        let mut x: u64 = 42;
        for len in 1..40 {
            let values: Vec<f64> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 33) % 17) as f64 - 8.0
                })
                .collect();
            let w = window(&values, 100);
            let median = w.median().expect("median");
            assert_eq!(w.mad(median), Some(brute_mad(&values)), "{values:?}");
        }
    }

    #[test]
    fn window_evicts_the_oldest_and_round_trips_as_a_list() {
        let w = window(&[5.0, 1.0, 4.0, 2.0, 3.0], 3);
        assert_eq!(w.len(), 3);
        assert_eq!(w.median(), Some(3.0));
        let text = serde_json::to_string(&w).expect("encode");
        assert_eq!(text, "[4.0,2.0,3.0]");
        let back: RollingWindow = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, w);
    }

    #[test]
    fn robust_score_falls_back_to_mean_ad_and_skips_a_flat_window() {
        // MAD = 0 (most values equal): the mean absolute deviation gives the scale.
        let w = window(&[1.0, 1.0, 1.0, 1.0, 6.0], 10);
        let s = w.score(11.0, 3, 0.0).expect("scored");
        assert_eq!(s.median, 1.0);
        assert!((s.sigma - MEAN_AD_TO_SIGMA).abs() < 1e-12);
        // Perfectly flat: no scale, no score, unless a floor is configured.
        let flat = window(&[2.0; 10], 10);
        assert_eq!(flat.score(3.0, 3, 0.0), None);
        assert_eq!(flat.score(3.0, 3, 0.5).map(|s| s.z), Some(2.0));
        assert_eq!(window(&[1.0, 2.0], 10).score(3.0, 3, 0.0), None, "too few values");
    }

    #[test]
    fn running_mean_and_std() {
        let mut r = Running::default();
        assert_eq!(r.std(), None);
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            r.push(v);
        }
        assert_eq!(r.mean, 5.0);
        assert!((r.std().expect("std") - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn ewma_starts_at_the_mean_with_narrow_limits() {
        let mut e = Ewma::default();
        let first = e.update(10.0, 0.0, 1.0, 0.2, 3.0);
        assert!((first.z - 2.0).abs() < 1e-12);
        assert!((first.half_width - 3.0 * 0.2).abs() < 1e-12, "L·σ·λ at t = 1");
        let mut last = first;
        for _ in 0..200 {
            last = e.update(0.0, 0.0, 1.0, 0.2, 3.0);
        }
        assert!((last.half_width - 3.0 * (0.2f64 / 1.8).sqrt()).abs() < 1e-9, "asymptotic limit");
        assert!(!last.out_of_control(0.0));
    }

    #[test]
    fn cusum_signals_resets_and_estimates_the_change_time() {
        let mut c = Cusum::default();
        for t in 0..10 {
            assert_eq!(c.update(t, 0.0, 0.0, 1.0, 0.5, 5.0).signal, None);
        }
        // +2σ from t = 10: C⁺ grows by 1.5 per value and passes 5 at t = 13.
        let signals: Vec<(i64, Option<i8>, Option<i64>)> = (10..14)
            .map(|t| {
                let s = c.update(t, 2.0, 0.0, 1.0, 0.5, 5.0);
                (t, s.signal, s.change_ts)
            })
            .collect();
        assert_eq!(signals[3], (13, Some(1), Some(9)));
        assert_eq!((c.hi, c.lo), (0.0, 0.0), "reset after the signal");
        let down: Vec<Option<i8>> = (14..18).map(|t| c.update(t, -2.0, 0.0, 1.0, 0.5, 5.0).signal).collect();
        assert_eq!(down, vec![None, None, None, Some(-1)]);
    }
}
