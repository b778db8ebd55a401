//! A seeded generator and correlated noise for the simulator.
//!
//! SplitMix64 (Steele, Lea & Flood 2014, the seeding generator of the
//! xoshiro family) passes BigCrush and needs one `u64` of state: every seed,
//! 0 included, gives a good stream. Normal deviates come from the
//! Box–Muller transform.

/// The SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (mean 0, standard deviation 1), by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]: the logarithm is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// An independent generator for a sub-stream (e.g. one well of a field).
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }
}

/// First-order autoregressive noise with a stationary standard deviation
/// `sigma` and correlation time `tau_s`: over a step `dt`,
/// `e ← φ·e + σ·√(1 − φ²)·N(0, 1)` with `φ = exp(−dt/τ)`. Sensor errors of
/// 1 Hz data drift like this rather than being white.
#[derive(Debug, Clone, PartialEq)]
pub struct Ar1 {
    /// Stationary standard deviation.
    pub sigma: f64,
    /// Correlation time, s.
    pub tau_s: f64,
    value: f64,
}

impl Ar1 {
    /// Noise starting at 0.
    pub fn new(sigma: f64, tau_s: f64) -> Self {
        Self { sigma, tau_s, value: 0.0 }
    }

    /// Advances by `dt_s` and returns the new value.
    pub fn step(&mut self, rng: &mut SplitMix64, dt_s: f64) -> f64 {
        let phi = if self.tau_s > 0.0 { (-dt_s / self.tau_s).exp() } else { 0.0 };
        self.value = phi * self.value + self.sigma * (1.0 - phi * phi).sqrt() * rng.normal();
        self.value
    }

    /// The current value.
    pub fn value(&self) -> f64 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 1234567 of the reference C implementation
        // (splitmix64.c by Sebastiano Vigna, public domain).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = SplitMix64::new(42);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: 1/√n = 0.0022 for the mean, √(2/n) = 0.0032 for the variance.
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.015, "{var}");
    }

    #[test]
    fn ar1_has_its_variance_and_lag_correlation() {
        let mut rng = SplitMix64::new(7);
        let mut noise = Ar1::new(2.0, 10.0);
        let xs: Vec<f64> = (0..200_000).map(|_| noise.step(&mut rng, 1.0)).collect();
        let n = xs.len() as f64;
        let var = xs.iter().map(|x| x * x).sum::<f64>() / n;
        let lag1 = xs.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (n - 1.0) / var;
        assert!((var.sqrt() - 2.0).abs() < 0.1, "{}", var.sqrt());
        assert!((lag1 - (-0.1f64).exp()).abs() < 0.02, "{lag1}");
    }
}
