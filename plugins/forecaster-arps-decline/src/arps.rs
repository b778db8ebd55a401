//! The Arps (1945) decline curves and their closed forms: rate, its
//! logarithm and gradient (what the fit uses), cumulative production and the
//! time to reach a rate (Fetkovich 1980, eqs. 1–3 and their integrals).
//!
//! Time `t` is in days since the curve's origin, `di` the initial nominal
//! decline per day and `b` the hyperbolic exponent:
//!
//! * `b = 0` exponential: `q = qi·e^(−Di·t)`;
//! * `0 < b < 1` hyperbolic: `q = qi / (1 + b·Di·t)^(1/b)`;
//! * `b = 1` harmonic: `q = qi / (1 + Di·t)`.
//!
//! The formulas hold for any `b ≥ 0`; the fit keeps `b ≤ 1`.

/// Below this `b` the curve is evaluated as the exponential (its limit).
const B_EXPONENTIAL: f64 = 1e-9;

/// The decline parameters of one curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// Rate at `t = 0`.
    pub qi: f64,
    /// Initial nominal decline, 1/day.
    pub di: f64,
    /// Hyperbolic exponent (0 exponential, 1 harmonic).
    pub b: f64,
}

/// `g(t) = −ln(q/qi)`: `Di·t` for `b = 0`, else `ln(1 + b·Di·t)/b`.
pub fn log_decline(di: f64, b: f64, t: f64) -> f64 {
    if b < B_EXPONENTIAL { di * t } else { (b * di * t).ln_1p() / b }
}

/// `∂g/∂Di = t / (1 + b·Di·t)`.
pub fn log_decline_d_di(di: f64, b: f64, t: f64) -> f64 {
    t / (1.0 + b * di * t)
}

/// `∂ln q/∂b = (ln(1 + x) − x/(1 + x)) / b²` with `x = b·Di·t` (a series
/// for small `x`, whose limit at `b = 0` is `(Di·t)²/2`).
pub fn log_rate_d_b(di: f64, b: f64, t: f64) -> f64 {
    let x = b * di * t;
    if x.abs() < 1e-3 {
        // ln(1+x) − x/(1+x) = Σ_{k≥2} (−1)^k (k−1)/k x^k
        let dt = di * t;
        dt * dt * (0.5 - 2.0 / 3.0 * x + 0.75 * x * x - 0.8 * x * x * x)
    } else {
        (x.ln_1p() - x / (1.0 + x)) / (b * b)
    }
}

impl Curve {
    /// `ln q(t)`.
    pub fn ln_rate(&self, t: f64) -> f64 {
        self.qi.ln() - log_decline(self.di, self.b, t)
    }

    /// `q(t)`.
    pub fn rate(&self, t: f64) -> f64 {
        self.ln_rate(t).exp()
    }

    /// The gradient of `ln q(t)` in `(ln qi, Di, b)`.
    pub fn gradient(&self, t: f64) -> [f64; 3] {
        [1.0, -log_decline_d_di(self.di, self.b, t), log_rate_d_b(self.di, self.b, t)]
    }

    /// Cumulative production from `t = 0` to `t` (rate·days): `(qi − q)/Di`
    /// exponential, `(qi/Di)·ln(qi/q)` harmonic, `qi^b/((1−b)·Di)·(qi^(1−b) − q^(1−b))`
    /// hyperbolic; `qi·t` without decline.
    pub fn cumulative(&self, t: f64) -> f64 {
        let (qi, di, b) = (self.qi, self.di, self.b);
        if t <= 0.0 {
            return 0.0;
        }
        if di <= 0.0 {
            return qi * t;
        }
        let q = self.rate(t);
        if b < B_EXPONENTIAL {
            (qi - q) / di
        } else if (b - 1.0).abs() < 1e-9 {
            qi / di * (qi / q).ln()
        } else {
            qi.powf(b) / ((1.0 - b) * di) * (qi.powf(1.0 - b) - q.powf(1.0 - b))
        }
    }

    /// The time (days) at which the rate falls to `q` (`None` when it never
    /// does: no decline or `q ≤ 0`; `0` when `q ≥ qi`).
    pub fn time_to_rate(&self, q: f64) -> Option<f64> {
        if q >= self.qi {
            return Some(0.0);
        }
        if q <= 0.0 || self.di <= 0.0 {
            return None;
        }
        let ratio = self.qi / q;
        Some(if self.b < B_EXPONENTIAL {
            ratio.ln() / self.di
        } else {
            (ratio.powf(self.b) - 1.0) / (self.b * self.di)
        })
    }

    /// The effective decline over one year (365.25 days), `1 − q(1 y)/qi`.
    pub fn effective_annual_decline(&self) -> f64 {
        1.0 - (-log_decline(self.di, self.b, 365.25)).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_cumulative(curve: &Curve, t: f64) -> f64 {
        let steps = 200_000;
        let h = t / steps as f64;
        (0..steps).map(|i| curve.rate((i as f64 + 0.5) * h) * h).sum()
    }

    #[test]
    fn cumulative_matches_the_integral_of_the_rate() {
        for b in [0.0, 0.3, 0.5, 1.0, 1.5] {
            let curve = Curve { qi: 800.0, di: 0.004, b };
            let exact = curve.cumulative(700.0);
            let numeric = numeric_cumulative(&curve, 700.0);
            assert!((exact / numeric - 1.0).abs() < 1e-6, "b {b}: {exact} vs {numeric}");
        }
    }

    #[test]
    fn time_to_rate_inverts_the_rate() {
        for b in [0.0, 0.5, 1.0] {
            let curve = Curve { qi: 500.0, di: 0.01, b };
            let t = curve.time_to_rate(50.0).expect("declines");
            assert!((curve.rate(t) - 50.0).abs() < 1e-9, "b {b}");
        }
    }

    #[test]
    fn b_derivative_matches_finite_differences() {
        for (b, di, t) in [(0.0f64, 0.01, 100.0), (1e-5, 0.01, 100.0), (0.5, 0.003, 365.0), (1.0, 0.02, 30.0)] {
            let h = 1e-6;
            let lo = Curve { qi: 1.0, di, b: (b - h).max(0.0) };
            let hi = Curve { qi: 1.0, di, b: b + h };
            let numeric = (hi.ln_rate(t) - lo.ln_rate(t)) / (hi.b - lo.b);
            let exact = log_rate_d_b(di, b, t);
            assert!((exact - numeric).abs() < 1e-4 * exact.abs().max(1e-3), "b {b}: {exact} vs {numeric}");
        }
    }
}
