//! The fit: nonlinear least squares on `ln q` (multiplicative noise) of the
//! three Arps families, and the choice between them by AICc.
//!
//! For a fixed `b` the model `ln q = ln qi − g(t; Di, b)` is linear in
//! `ln qi`, so `ln qi` is profiled out (it is the mean of `ln q + g`) and
//! `Di` is found by Gauss–Newton on `ln Di` with step halving (variable
//! projection, Golub & Pereyra 1973); `b = 0` is the closed-form linear
//! regression of `ln q` on `t`. The hyperbolic family's `b` is the minimum of
//! that profile over a grid of `b` (step 0.05 on `[0, 1]`, on to 3 when
//! the profile still falls at 1), refined by
//! golden-section search between the grid neighbours of the best point,
//! constrained to `[0, 1]`; the unconstrained minimum is reported too, and
//! flagged when it lies above 1 significantly (likelihood ratio > 3.84).
//!
//! Standard errors are `σ²(JᵀJ)⁻¹` with `J` the Jacobian of `ln q` in
//! `(ln qi, Di, b)` at the optimum and `σ² = SSE/(n − p)`.

use serde::Serialize;

use crate::arps::{Curve, log_decline, log_decline_d_di};
use crate::stats::inverse_spd;

/// The fewest points a fit takes: the hyperbolic AICc needs `n > 5`.
pub const MIN_POINTS: usize = 6;
/// A 2-parameter family within this many AICc units of the hyperbolic one is
/// preferred to it (Burnham & Anderson 2002: such models are equally supported).
pub const PARSIMONY_AICC: f64 = 2.0;
/// The floor of the residual RMS of `ln q` in the AICc, so that fits exact to
/// rounding compare by their parameter count, not by rounding noise.
const RMS_FLOOR: f64 = 1e-10;
/// The grid of `b` for the profile: `0, 0.05, …, 3`.
const B_STEP: f64 = 0.05;
const B_PER_UNIT: f64 = 20.0;
const B_GRID: usize = 60;
/// Bounds of `Di`, 1/day.
const DI_MIN: f64 = 1e-7;
const DI_MAX: f64 = 5.0;
/// The 95 % point of χ²(1): the unconstrained `b > 1` is significant above it.
const CHI2_1_95: f64 = 3.841;

/// An Arps family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `b = 0`.
    Exponential,
    /// `b = 1`.
    Harmonic,
    /// `b` fitted in `[0, 1]`.
    Hyperbolic,
}

/// The fit of one family.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyFit {
    /// Which family.
    pub family: Family,
    /// The fitted curve (`t = 0` at the first point).
    pub curve: Curve,
    /// Fitted parameters: 2 (`ln qi`, `Di`) or 3 (and `b`).
    pub params: usize,
    /// Sum of squared residuals of `ln q`.
    pub sse: f64,
    /// Corrected Akaike information criterion (the variance counts as a parameter).
    pub aicc: f64,
    /// Residual variance of `ln q`, `SSE/(n − p)`.
    pub sigma2: f64,
    /// Covariance of `(ln qi, Di, b)` (the leading `params` block); `None`
    /// when `JᵀJ` is singular.
    pub cov: Option<[[f64; 3]; 3]>,
}

/// Standard errors of the parameters (`None` where not fitted or not known).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StdErrors {
    /// Of `qi` (delta method from `ln qi`).
    pub qi: Option<f64>,
    /// Of `Di`, 1/day.
    pub di: Option<f64>,
    /// Of `b` (hyperbolic only).
    pub b: Option<f64>,
}

impl FamilyFit {
    /// The parameters' standard errors.
    pub fn std_errors(&self) -> StdErrors {
        let sd = |i: usize| self.cov.map(|c| c[i][i].max(0.0).sqrt());
        StdErrors { qi: sd(0).map(|s| s * self.curve.qi), di: sd(1), b: if self.params == 3 { sd(2) } else { None } }
    }

    /// The variance of the fitted `ln q(t)` from the parameters' covariance
    /// (delta method); infinite when the covariance is unknown.
    pub fn ln_rate_variance(&self, t: f64) -> f64 {
        let Some(cov) = self.cov else { return f64::INFINITY };
        let g = self.curve.gradient(t);
        let k = self.params;
        (0..k).map(|i| (0..k).map(|j| g[i] * cov[i][j] * g[j]).sum::<f64>()).sum()
    }
}

/// The fits of the three families and the chosen one.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Points fitted.
    pub n: usize,
    /// Days from the first to the last point.
    pub span_days: f64,
    /// The exponential fit.
    pub exponential: FamilyFit,
    /// The harmonic fit.
    pub harmonic: FamilyFit,
    /// The hyperbolic fit (`0 ≤ b ≤ 1`).
    pub hyperbolic: FamilyFit,
    /// The family chosen: least AICc, but the hyperbolic only when it beats
    /// the better 2-parameter family by more than [`PARSIMONY_AICC`].
    pub chosen: Family,
    /// The `b` of the best hyperbolic fit with `b` in `[0, 3]`.
    pub b_unconstrained: f64,
    /// Whether `b_unconstrained > 1` fits significantly better than `b ≤ 1`
    /// (transient or transitional flow: boundary-dominated flow not reached).
    pub b_above_one: bool,
    /// Lag-1 autocorrelation of the chosen fit's residuals, in time order.
    pub residual_lag1: f64,
}

impl Fit {
    /// The chosen family's fit.
    pub fn best(&self) -> &FamilyFit {
        self.family(self.chosen)
    }

    /// One family's fit.
    pub fn family(&self, family: Family) -> &FamilyFit {
        match family {
            Family::Exponential => &self.exponential,
            Family::Harmonic => &self.harmonic,
            Family::Hyperbolic => &self.hyperbolic,
        }
    }
}

/// Why there is no fit.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// Fewer than [`MIN_POINTS`] positive, finite rates.
    TooFewPoints(usize),
    /// All points at one time.
    NoSpan,
    /// The log-linear trend is flat or rising (decline per day ≤ 0).
    Rising(f64),
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooFewPoints(n) => write!(f, "{n} usable rate points, at least {MIN_POINTS} needed"),
            Self::NoSpan => write!(f, "all rate points at one time"),
            Self::Rising(d) => write!(f, "the rate is not declining (log-linear trend {:+.4} %/day)", -100.0 * d),
        }
    }
}

/// The data in fit form: `t` days since the first point, `y = ln q`.
struct Data {
    t: Vec<f64>,
    y: Vec<f64>,
}

/// The best `(ln qi, Di)` for one `b`.
#[derive(Debug, Clone, Copy)]
struct Profile {
    b: f64,
    ln_qi: f64,
    di: f64,
    sse: f64,
}

/// Fits the three families to `(t_days, q)` points (any order; points with a
/// rate that is not positive and finite are left out) and chooses one.
pub fn fit(points: &[(f64, f64)]) -> Result<Fit, FitError> {
    let mut usable: Vec<(f64, f64)> =
        points.iter().copied().filter(|&(t, q)| t.is_finite() && q.is_finite() && q > 0.0).collect();
    if usable.len() < MIN_POINTS {
        return Err(FitError::TooFewPoints(usable.len()));
    }
    usable.sort_by(|a, b| a.0.total_cmp(&b.0));
    let t0 = usable[0].0;
    let data = Data { t: usable.iter().map(|p| p.0 - t0).collect(), y: usable.iter().map(|p| p.1.ln()).collect() };
    let n = data.t.len();
    let span_days = data.t[n - 1];
    if span_days <= 0.0 {
        return Err(FitError::NoSpan);
    }
    let exp = exponential(&data);
    if exp.di <= 0.0 {
        return Err(FitError::Rising(exp.di));
    }
    // The profile over the b grid, warm-started from the previous b; past
    // b = 1 only when the profile still falls at 1.
    let unit = B_PER_UNIT as usize;
    let mut grid = Vec::with_capacity(B_GRID + 1);
    grid.push(exp);
    for k in 1..=B_GRID {
        if k == unit + 1 && grid[unit].sse >= grid[unit - 1].sse {
            break;
        }
        let start = grid[k - 1].di;
        grid.push(profile(&data, k as f64 / B_PER_UNIT, start));
    }
    let harm = grid[unit];
    let hyp = refine(&data, &grid, 1.0);
    let grid_best = grid.iter().min_by(|a, b| a.sse.total_cmp(&b.sse)).map_or(0.0, |p| p.b);
    let unconstrained = if grid_best > 1.0 { refine(&data, &grid, B_GRID as f64 / B_PER_UNIT) } else { hyp };
    let b_above_one = unconstrained.b > 1.0 && n as f64 * (hyp.sse / unconstrained.sse).ln() > CHI2_1_95;

    let exponential = family_fit(&data, Family::Exponential, exp, 2);
    let harmonic = family_fit(&data, Family::Harmonic, harm, 2);
    let hyperbolic = family_fit(&data, Family::Hyperbolic, hyp, 3);
    let two = if exponential.aicc <= harmonic.aicc { &exponential } else { &harmonic };
    let chosen = if hyperbolic.aicc < two.aicc - PARSIMONY_AICC { Family::Hyperbolic } else { two.family };
    let mut fit = Fit {
        n,
        span_days,
        exponential,
        harmonic,
        hyperbolic,
        chosen,
        b_unconstrained: unconstrained.b,
        b_above_one,
        residual_lag1: 0.0,
    };
    fit.residual_lag1 = lag1(&data, &fit.best().curve);
    Ok(fit)
}

/// The closed-form `b = 0` fit: linear regression of `ln q` on `t`.
fn exponential(data: &Data) -> Profile {
    let n = data.t.len() as f64;
    let (tm, ym) = (data.t.iter().sum::<f64>() / n, data.y.iter().sum::<f64>() / n);
    let (mut stt, mut sty) = (0.0, 0.0);
    for (t, y) in data.t.iter().zip(&data.y) {
        stt += (t - tm) * (t - tm);
        sty += (t - tm) * (y - ym);
    }
    let slope = sty / stt;
    let ln_qi = ym - slope * tm;
    let sse = data.t.iter().zip(&data.y).map(|(t, y)| (y - ln_qi - slope * t).powi(2)).sum();
    Profile { b: 0.0, ln_qi, di: -slope, sse }
}

/// `(SSE, ln qi, Σ r·J, Σ J²)` at `Di = e^u` for one `b`, with `ln qi`
/// profiled out and `J = ∂r/∂u`.
fn evaluate(data: &Data, b: f64, u: f64) -> (f64, f64, f64, f64) {
    let di = u.exp();
    let n = data.t.len() as f64;
    let (mut zm, mut gm) = (0.0, 0.0);
    for (t, y) in data.t.iter().zip(&data.y) {
        zm += y + log_decline(di, b, *t);
        gm += log_decline_d_di(di, b, *t);
    }
    zm /= n;
    gm /= n;
    let (mut sse, mut rj, mut jj) = (0.0, 0.0, 0.0);
    for (t, y) in data.t.iter().zip(&data.y) {
        let r = y + log_decline(di, b, *t) - zm;
        let j = di * (log_decline_d_di(di, b, *t) - gm);
        sse += r * r;
        rj += r * j;
        jj += j * j;
    }
    (sse, zm, rj, jj)
}

/// The best `Di` (and `ln qi`) for a fixed `b > 0`: Gauss–Newton on `ln Di`
/// from `di_start`, halving steps that do not lower the SSE.
fn profile(data: &Data, b: f64, di_start: f64) -> Profile {
    let (lo, hi) = (DI_MIN.ln(), DI_MAX.ln());
    let mut u = di_start.clamp(DI_MIN, DI_MAX).ln();
    let mut cur = evaluate(data, b, u);
    for _ in 0..100 {
        let (_, _, rj, jj) = cur;
        if jj <= 0.0 {
            break;
        }
        let mut step = -rj / jj;
        let mut moved = false;
        while step.abs() > 1e-12 {
            let next_u = (u + step).clamp(lo, hi);
            let next = evaluate(data, b, next_u);
            if next.0 <= cur.0 {
                moved = (next_u - u).abs() > 1e-10;
                u = next_u;
                cur = next;
                break;
            }
            step *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Profile { b, ln_qi: cur.1, di: u.exp(), sse: cur.0 }
}

/// The profile's minimum over `b ∈ [0, b_max]`: the best grid point, refined
/// by golden-section search between its grid neighbours.
fn refine(data: &Data, grid: &[Profile], b_max: f64) -> Profile {
    let best = grid.iter().filter(|p| p.b <= b_max + 1e-12).min_by(|a, b| a.sse.total_cmp(&b.sse)).copied();
    let Some(best) = best else { return grid[0] };
    let k = (best.b / B_STEP).round() as usize;
    let (mut a, mut c) = ((best.b - B_STEP).max(0.0), (best.b + B_STEP).min(b_max));
    let at = |b: f64| if b <= 0.0 { grid[0] } else { profile(data, b, grid[k].di) };
    let mut candidates = vec![best, at(a), at(c)];
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut x1 = c - ratio * (c - a);
    let mut x2 = a + ratio * (c - a);
    let (mut f1, mut f2) = (at(x1), at(x2));
    for _ in 0..32 {
        if f1.sse <= f2.sse {
            c = x2;
            x2 = x1;
            f2 = f1;
            x1 = c - ratio * (c - a);
            f1 = at(x1);
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + ratio * (c - a);
            f2 = at(x2);
        }
    }
    candidates.extend([f1, f2]);
    candidates.into_iter().min_by(|a, b| a.sse.total_cmp(&b.sse)).unwrap_or(best)
}

/// A family's fit with its AICc and covariance.
fn family_fit(data: &Data, family: Family, p: Profile, params: usize) -> FamilyFit {
    let n = data.t.len();
    let curve = Curve { qi: p.ln_qi.exp(), di: p.di, b: p.b };
    let sigma2 = p.sse / (n - params) as f64;
    let k = (params + 1) as f64;
    let nf = n as f64;
    let sse = p.sse.max(nf * RMS_FLOOR * RMS_FLOOR);
    let aicc = nf * (sse / nf).ln() + 2.0 * k + 2.0 * k * (k + 1.0) / (nf - k - 1.0);
    let mut jtj = [[0.0; 3]; 3];
    for t in &data.t {
        let g = curve.gradient(*t);
        for i in 0..params {
            for j in 0..params {
                jtj[i][j] += g[i] * g[j];
            }
        }
    }
    let cov = inverse_spd(&jtj, params).map(|inv| inv.map(|row| row.map(|v| v * sigma2)));
    FamilyFit { family, curve, params, sse: p.sse, aicc, sigma2, cov }
}

/// Lag-1 autocorrelation of the residuals of `ln q` against `curve`.
fn lag1(data: &Data, curve: &Curve) -> f64 {
    let r: Vec<f64> = data.t.iter().zip(&data.y).map(|(t, y)| y - curve.ln_rate(*t)).collect();
    let m = r.iter().sum::<f64>() / r.len() as f64;
    let den: f64 = r.iter().map(|x| (x - m).powi(2)).sum();
    let num: f64 = r.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    if den > 0.0 { num / den } else { 0.0 }
}
