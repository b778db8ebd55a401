//! Fixtures: a seeded PRNG, synthetic Arps wells with lognormal noise, a
//! well context and a stand-in for the host's paged `history`.
#![allow(dead_code)]

use forecaster_arps_decline::arps::Curve;
use nexus_plugin_sdk::{Column, PluginError, Series, WellContext, WellTest};

/// 2025-01-01T00:00:00Z, ms.
pub const NOW: i64 = 1_735_689_600_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;

/// SplitMix64 (Steele, Lea & Flood 2014) with Box–Muller normals.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `(t, q)` of `days` daily rates `t = 0, 1, …` of `curve` with lognormal
/// noise of log-sd `sigma`.
pub fn daily(curve: &Curve, days: usize, sigma: f64, rng: &mut Rng) -> Vec<(f64, f64)> {
    (0..days).map(|d| d as f64).map(|t| (t, curve.rate(t) * (sigma * rng.normal()).exp())).collect()
}

/// A well context of device `dev-1` with these tests (given newest first).
/// One generated well of the coverage checks: a random family (25 %
/// exponential, 25 % harmonic, 50 % hyperbolic with `b` 0.1–0.9), `qi`
/// 200–2000, `Di` 0.002–0.01/day log-uniform, and noise 2–8 %; returns the
/// true curve, the noise's log-sd and its first year of noisy daily rates
/// (drawn in that order).
pub fn generated_well(rng: &mut Rng) -> (Curve, f64, Vec<(f64, f64)>) {
    let b = match rng.uniform() {
        u if u < 0.25 => 0.0,
        u if u < 0.5 => 1.0,
        _ => rng.range(0.1, 0.9),
    };
    let truth = Curve { qi: rng.range(200.0, 2000.0), di: (rng.range(0.002f64.ln(), 0.01f64.ln())).exp(), b };
    let sigma = rng.range(0.02, 0.08);
    let history = daily(&truth, 365, sigma, rng);
    (truth, sigma, history)
}

pub fn context(well_tests: Vec<WellTest>) -> WellContext {
    WellContext {
        well_id: "well-1".into(),
        device_id: "dev-1".into(),
        readings: Vec::new(),
        setpoints: Vec::new(),
        static_data: "{}".into(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        well_tests,
    }
}

pub fn well_test(ts: i64, oil_bbl_d: f64) -> WellTest {
    WellTest {
        ts,
        duration_h: 24.0,
        oil_bbl_d,
        water_bbl_d: 0.5 * oil_bbl_d,
        gas_mscf_d: 0.3 * oil_bbl_d,
        conditions: "{}".into(),
    }
}

/// The host's `history` over stored `(ts, value)` samples of `key` on
/// `dev-1`: rows in `[start, end)`, oldest first, at most `min(limit,
/// cap_rows)` (the host's byte cap), one number series. Counts the calls.
pub struct StoredHistory {
    pub key: String,
    pub samples: Vec<(i64, f64)>,
    pub cap_rows: usize,
    pub calls: usize,
}

impl StoredHistory {
    pub fn new(key: &str, mut samples: Vec<(i64, f64)>) -> Self {
        samples.sort_by_key(|s| s.0);
        // 64 KiB over (32 + key length) bytes a row, as the host counts.
        let cap_rows = (64 << 10) / (32 + key.len());
        Self { key: key.into(), samples, cap_rows, calls: 0 }
    }

    pub fn call(
        &mut self,
        device: &str,
        key: &str,
        start: i64,
        end: i64,
        limit: u32,
    ) -> Result<Vec<Series>, PluginError> {
        self.calls += 1;
        if device != "dev-1" {
            return Err(PluginError::new("host-denied", "not this tenant's device"));
        }
        if key != self.key {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, f64)> = self
            .samples
            .iter()
            .copied()
            .filter(|s| (start..end).contains(&s.0))
            .take((limit as usize).min(self.cap_rows))
            .collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Series {
            key: key.into(),
            ts: rows.iter().map(|r| r.0).collect(),
            values: Column::Number(rows.iter().map(|r| r.1).collect()),
            quality: Vec::new(),
        }])
    }
}

/// Relative error.
pub fn rel(estimate: f64, truth: f64) -> f64 {
    (estimate / truth - 1.0).abs()
}
