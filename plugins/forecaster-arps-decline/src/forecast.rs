//! The forecast of a fit: the chosen curve's rate with a prediction interval
//! by the delta method on `ln q`, and the cumulative volume to an economic
//! limit.
//!
//! A future daily rate is `ln q(t) = ln q̂(t) + e` with `e ~ N(0, σ²)`, so the
//! interval is `ln q̂(t) ± t_{ν, (1+level)/2} · √(σ² + ∇ln q̂(t)ᵀ C ∇ln q̂(t))`
//! with `C = σ²(JᵀJ)⁻¹` the parameters' covariance and `ν = n − p`: it is a
//! prediction interval for one fresh observation of the rate (a daily mean
//! for telemetry, a test for well tests), not a confidence interval of the
//! curve. `value` is the median `q̂(t)`.

use crate::arps::Curve;
use crate::fit::{FamilyFit, Fit};
use crate::stats::t_quantile;

/// One forecast point: the median rate and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Days since the fit's origin.
    pub t_days: f64,
    /// Median forecast rate.
    pub value: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
}

/// The `t` quantile of a two-sided interval at `level` for a family's fit.
pub fn interval_quantile(fit: &FamilyFit, n: usize, level: f64) -> f64 {
    let nu = n.saturating_sub(fit.params).max(1) as f64;
    t_quantile(0.5 + level / 2.0, nu)
}

/// The chosen curve and its interval at `level` (e.g. 0.8) at each time (days
/// since the fit's origin).
pub fn forecast(fit: &Fit, t_days: &[f64], level: f64) -> Vec<Band> {
    let best = fit.best();
    let q = interval_quantile(best, fit.n, level);
    t_days
        .iter()
        .map(|&t| {
            let ln = best.curve.ln_rate(t);
            let half = q * (best.sigma2 + best.ln_rate_variance(t)).sqrt();
            Band { t_days: t, value: ln.exp(), low: (ln - half).exp(), high: (ln + half).exp() }
        })
        .collect()
}

/// Cumulative production of a curve from its origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eur {
    /// Volume, rate × days (bbl for bbl/d).
    pub volume: f64,
    /// Days from the origin to the end of the sum.
    pub t_days: f64,
    /// `true`: summed to the economic limit; `false`: to the horizon (no
    /// limit set, or the rate never falls to it).
    pub to_limit: bool,
}

/// The volume from the origin to the time the rate falls to
/// `economic_limit`, or to `horizon_days` when the limit is 0.
pub fn eur(curve: &Curve, economic_limit: f64, horizon_days: f64) -> Eur {
    match curve.time_to_rate(economic_limit) {
        Some(t) if economic_limit > 0.0 => Eur { volume: curve.cumulative(t), t_days: t, to_limit: true },
        _ => Eur { volume: curve.cumulative(horizon_days), t_days: horizon_days, to_limit: false },
    }
}
