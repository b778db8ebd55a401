//! The forecast of a fit: a model-averaged rate with a prediction interval
//! that carries the uncertainty of the family choice, and the cumulative
//! volume to an economic limit.
//!
//! Each family `f` predicts a future daily rate as `ln q(t) = ln q̂_f(t) + e`
//! with `e ~ N(0, σ_f²)`, and its own interval is
//! `ln q̂_f(t) ± t_{ν_f, (1+level)/2} · s_f(t)` with
//! `s_f(t)² = σ_f² + ∇ln q̂_f(t)ᵀ C_f ∇ln q̂_f(t)` (delta method, `C_f` the
//! parameters' covariance, `ν_f = n − p_f`): a prediction interval for one
//! fresh observation of the rate (a daily mean for telemetry, a test for
//! well tests), not a confidence interval of the curve.
//!
//! Which family is right is itself uncertain, so the forecast is the mixture
//! of the three families' predictive distributions weighted by their Akaike
//! weights `w_f ∝ exp(−ΔAICc_f/2)` (Burnham & Anderson 2002, §4.2 and §6.4:
//! model averaging over the candidate set). Each component is normal in
//! `ln q` with its scale widened by `t_{ν_f}/z` so that a lone family keeps
//! its Student-t interval exactly at the stated level. `low` and `high` are
//! the mixture's `(1 ∓ level)/2` quantiles and `value` its median, found by
//! bisection on the mixture's distribution function. When one family holds
//! nearly all the weight this is that family's interval.

use crate::arps::Curve;
use crate::fit::{Family, FamilyFit, Fit};
use crate::stats::{normal_cdf, normal_quantile, t_quantile};

/// One forecast point: the median rate and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Days since the fit's origin.
    pub t_days: f64,
    /// Median forecast rate (of the model-averaged predictive distribution).
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

/// The Akaike weights of the three families (exponential, harmonic,
/// hyperbolic), `w_f ∝ exp(−(AICc_f − min AICc)/2)`, summing to 1.
pub fn akaike_weights(fit: &Fit) -> [(Family, f64); 3] {
    let families = [Family::Exponential, Family::Harmonic, Family::Hyperbolic];
    let aicc = families.map(|f| fit.family(f).aicc);
    let best = aicc.iter().copied().fold(f64::INFINITY, f64::min);
    let raw = aicc.map(|a| if a.is_finite() { (-(a - best) / 2.0).exp() } else { 0.0 });
    let total: f64 = raw.iter().sum();
    let mut out = [(Family::Exponential, 0.0); 3];
    for (k, f) in families.into_iter().enumerate() {
        out[k] = (f, if total > 0.0 { raw[k] / total } else { f64::from(u8::from(f == fit.chosen)) });
    }
    out
}

/// One family's predictive distribution of `ln q` at a time: weight,
/// centre and (t-widened) normal scale.
#[derive(Debug, Clone, Copy)]
struct Component {
    weight: f64,
    centre: f64,
    scale: f64,
}

/// The mixture's distribution function at `x`.
fn mixture_cdf(components: &[Component], x: f64) -> f64 {
    components.iter().map(|c| c.weight * normal_cdf((x - c.centre) / c.scale)).sum()
}

/// The mixture's `p` quantile by bisection (to 1e-12 in `ln q`).
fn mixture_quantile(components: &[Component], p: f64) -> f64 {
    let mut lo = components.iter().map(|c| c.centre - 12.0 * c.scale).fold(f64::INFINITY, f64::min);
    let mut hi = components.iter().map(|c| c.centre + 12.0 * c.scale).fold(f64::NEG_INFINITY, f64::max);
    for _ in 0..200 {
        if hi - lo <= 1e-12 {
            break;
        }
        let mid = 0.5 * (lo + hi);
        if mixture_cdf(components, mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The model-averaged forecast and its interval at `level` (e.g. 0.8) at
/// each time (days since the fit's origin): the mixture of the families'
/// predictive distributions by their Akaike weights. Families whose
/// covariance is unknown (singular `JᵀJ`) are left out of the mixture; when
/// every family is, the chosen family's curve is given with an unbounded
/// interval.
pub fn forecast(fit: &Fit, t_days: &[f64], level: f64) -> Vec<Band> {
    let z = normal_quantile(0.5 + level / 2.0);
    let weights = akaike_weights(fit);
    t_days
        .iter()
        .map(|&t| {
            let mut components: Vec<Component> = weights
                .iter()
                .filter(|(_, w)| *w > 1e-12)
                .map(|&(f, weight)| {
                    let ff = fit.family(f);
                    let widen = interval_quantile(ff, fit.n, level) / z;
                    let scale = widen * (ff.sigma2 + ff.ln_rate_variance(t)).sqrt();
                    Component { weight, centre: ff.curve.ln_rate(t), scale }
                })
                .filter(|c| c.scale.is_finite() && c.centre.is_finite())
                .collect();
            let total: f64 = components.iter().map(|c| c.weight).sum();
            if components.is_empty() || total <= 0.0 {
                let value = fit.best().curve.rate(t);
                return Band { t_days: t, value, low: 0.0, high: f64::INFINITY };
            }
            for c in &mut components {
                c.weight /= total;
                // A zero scale (an exact fit) would make the CDF a step; keep it finite.
                c.scale = c.scale.max(1e-12);
            }
            let q = |p: f64| mixture_quantile(&components, p).exp();
            Band { t_days: t, value: q(0.5), low: q(0.5 - level / 2.0), high: q(0.5 + level / 2.0) }
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
