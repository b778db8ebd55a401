//! Fitting a well's gas-lift performance curve to its well tests and
//! choosing the form.
//!
//! Each form is fitted by least squares on a scaled injection `s = g / g_max`
//! (conditioning): the quadratic and quadratic+log forms are linear in their
//! coefficients (normal equations, column equilibration, Gaussian elimination
//! with partial pivoting and two steps of iterative refinement); the
//! saturating exponential is separable (for a fixed β it is linear in q0 and
//! A; β is scanned on a log grid, then refined by golden-section search).
//!
//! Selection: among parametric forms that are valid (quadratic `c < 0`,
//! quadratic+log `c3 < 0`, exponential `A > 0, β > 0`) and have `n ≥ k + 1`
//! points, the least AICc `n·ln(max(SSE/n, floor)) + 2k + 2k(k+1)/(n−k−1)`
//! (a large penalty when `n = k + 1`; `floor = (1e-6·range(y))²`, so exact
//! fits tie and the simpler form wins). With fewer than 4 points, or when the
//! best form's RMSE exceeds 3 % of the range of y, the table is used.

use crate::curve::Curve;

/// Smallest number of points for a parametric form.
pub const MIN_PARAMETRIC_POINTS: usize = 4;
/// A parametric fit's RMSE must be within this fraction of the range of y.
pub const MAX_RELATIVE_RMSE: f64 = 0.03;
/// Confidence given to a table curve.
pub const TABLE_CONFIDENCE: f64 = 0.6;
/// A curve is trusted up to this multiple of the largest tested injection.
pub const TRUST_FACTOR: f64 = 1.2;
/// AICc penalty when a form has exactly `k + 1` points.
const SATURATED_PENALTY: f64 = 1.0e6;

/// A fitted curve with its quality.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The chosen curve.
    pub curve: Curve,
    /// Coefficient of determination of the chosen curve on the tests.
    pub r2: f64,
    /// Root-mean-square error on the tests, STB/d.
    pub rmse: f64,
    /// Number of usable tests.
    pub points: usize,
    /// Largest tested injection, Mscf/d.
    pub max_tested: f64,
    /// Confidence of recommendations from this curve, 0..1.
    pub confidence: f64,
    /// AICc of each valid parametric form tried, by model name.
    pub aicc: Vec<(&'static str, f64)>,
}

impl Fit {
    /// Largest injection the curve is trusted at ([`TRUST_FACTOR`] × the largest test).
    pub fn cap(&self) -> f64 {
        TRUST_FACTOR * self.max_tested
    }
}

/// A parametric candidate: its curve and SSE on the points.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The fitted curve.
    pub curve: Curve,
    /// Sum of squared residuals.
    pub sse: f64,
}

/// Fits and chooses a curve for `(g, oil)` points; an error (why) with fewer
/// than 2 points.
pub fn fit(points: &[(f64, f64)]) -> Result<Fit, String> {
    let points: Vec<(f64, f64)> =
        points.iter().copied().filter(|(g, q)| g.is_finite() && q.is_finite() && *g >= 0.0 && *q >= 0.0).collect();
    let n = points.len();
    if n < 2 {
        return Err(format!("{n} usable well test(s) with gas_injection_mscf_d; at least 2 are needed"));
    }
    let max_tested = points.iter().map(|p| p.0).fold(0.0, f64::max);
    let (lo_y, hi_y) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
    let range = hi_y - lo_y;
    let floor = (1.0e-6 * range).powi(2).max(1.0e-300);
    let mut aicc_list = Vec::new();
    let mut best: Option<(f64, Candidate)> = None;
    if n >= MIN_PARAMETRIC_POINTS {
        for candidate in [fit_quadratic(&points), fit_saturating(&points), fit_quad_log(&points)].into_iter().flatten()
        {
            let k = candidate.curve.parameter_count();
            let score = aicc(candidate.sse, n, k, floor);
            aicc_list.push((candidate.curve.model(), score));
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, candidate));
            }
        }
    }
    let sst: f64 = {
        let mean = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
        points.iter().map(|p| (p.1 - mean).powi(2)).sum()
    };
    if let Some((_, candidate)) = best {
        let rmse = (candidate.sse / n as f64).sqrt();
        if rmse <= MAX_RELATIVE_RMSE * range || range == 0.0 && rmse < 1.0e-9 {
            let r2 = if sst > 0.0 { (1.0 - candidate.sse / sst).clamp(0.0, 1.0) } else { 1.0 };
            return Ok(Fit {
                curve: candidate.curve,
                r2,
                rmse,
                points: n,
                max_tested,
                confidence: r2,
                aicc: aicc_list,
            });
        }
    }
    let curve = table(&points);
    let sse: f64 = points.iter().map(|(g, q)| (curve.raw(*g) - q).powi(2)).sum();
    let r2 = if sst > 0.0 { (1.0 - sse / sst).clamp(0.0, 1.0) } else { 1.0 };
    Ok(Fit {
        curve,
        r2,
        rmse: (sse / n as f64).sqrt(),
        points: n,
        max_tested,
        confidence: TABLE_CONFIDENCE,
        aicc: aicc_list,
    })
}

/// AICc of a fit: `n·ln(max(SSE/n, floor)) + 2k + 2k(k+1)/(n−k−1)`, with a
/// large penalty instead of the correction when `n ≤ k + 1`.
pub fn aicc(sse: f64, n: usize, k: usize, floor: f64) -> f64 {
    let nf = n as f64;
    let kf = k as f64;
    let base = nf * (sse / nf).max(floor).ln() + 2.0 * kf;
    if n > k + 1 { base + 2.0 * kf * (kf + 1.0) / (nf - kf - 1.0) } else { base + SATURATED_PENALTY }
}

/// The table through the points: equal injections averaged, `(0, 0)` added
/// when no test is at zero injection (a gas-lifted well without gas is
/// assumed dead unless tested).
pub fn table(points: &[(f64, f64)]) -> Curve {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let scale = sorted.last().map_or(1.0, |p| p.0.abs().max(1.0));
    let mut merged: Vec<(f64, f64, usize)> = Vec::new();
    for (g, q) in sorted {
        match merged.last_mut() {
            Some(last) if (g - last.0).abs() <= 1.0e-9 * scale => {
                last.1 += q;
                last.2 += 1;
            }
            _ => merged.push((g, q, 1)),
        }
    }
    let mut out: Vec<(f64, f64)> = merged.into_iter().map(|(g, s, c)| (g, s / c as f64)).collect();
    if out.first().is_none_or(|p| p.0 > 1.0e-9 * scale) {
        out.insert(0, (0.0, 0.0));
    }
    Curve::Table { points: out }
}

fn x_scale(points: &[(f64, f64)]) -> f64 {
    let m = points.iter().map(|p| p.0).fold(0.0, f64::max);
    if m > 0.0 { m } else { 1.0 }
}

fn sse_of(curve: &Curve, points: &[(f64, f64)]) -> f64 {
    points.iter().map(|(g, q)| (curve.raw(*g) - q).powi(2)).sum()
}

/// Least-squares quadratic; `None` unless it turns down (`c < 0`).
pub fn fit_quadratic(points: &[(f64, f64)]) -> Option<Candidate> {
    let xs = x_scale(points);
    let cols: Vec<Vec<f64>> = vec![
        points.iter().map(|_| 1.0).collect(),
        points.iter().map(|p| p.0 / xs).collect(),
        points.iter().map(|p| (p.0 / xs).powi(2)).collect(),
    ];
    let y: Vec<f64> = points.iter().map(|p| p.1).collect();
    let p = lstsq(&cols, &y)?;
    let curve = Curve::Quadratic { a: p[0], b: p[1] / xs, c: p[2] / (xs * xs) };
    let valid = matches!(curve, Curve::Quadratic { c, .. } if c < 0.0);
    valid.then(|| Candidate { sse: sse_of(&curve, points), curve })
}

/// Least-squares quadratic+log; `None` unless `c3 < 0`.
pub fn fit_quad_log(points: &[(f64, f64)]) -> Option<Candidate> {
    let xs = x_scale(points);
    let cols: Vec<Vec<f64>> = vec![
        points.iter().map(|_| 1.0).collect(),
        points.iter().map(|p| p.0 / xs).collect(),
        points.iter().map(|p| (p.0 / xs).powi(2)).collect(),
        points.iter().map(|p| (p.0 + 1.0).ln()).collect(),
    ];
    let y: Vec<f64> = points.iter().map(|p| p.1).collect();
    let p = lstsq(&cols, &y)?;
    let curve = Curve::QuadLog { c1: p[0], c2: p[1] / xs, c3: p[2] / (xs * xs), c4: p[3] };
    let valid = matches!(curve, Curve::QuadLog { c3, .. } if c3 < 0.0);
    valid.then(|| Candidate { sse: sse_of(&curve, points), curve })
}

/// Separable least-squares saturating exponential; `None` unless `A > 0`.
pub fn fit_saturating(points: &[(f64, f64)]) -> Option<Candidate> {
    let xs = x_scale(points);
    let s: Vec<f64> = points.iter().map(|p| p.0 / xs).collect();
    let y: Vec<f64> = points.iter().map(|p| p.1).collect();
    // For a fixed scaled rate b: q = q0 + A·φ, φ = 1 − e^(−b·s), a simple regression.
    let linear = |b: f64| -> Option<(f64, f64, f64)> {
        let phi: Vec<f64> = s.iter().map(|si| -(-b * si).exp_m1()).collect();
        let n = phi.len() as f64;
        let (mp, my) = (phi.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let spp: f64 = phi.iter().map(|p| (p - mp).powi(2)).sum();
        let spy: f64 = phi.iter().zip(&y).map(|(p, q)| (p - mp) * (q - my)).sum();
        if spp <= 1.0e-300 {
            return None;
        }
        let a = spy / spp;
        let q0 = my - a * mp;
        let sse = phi.iter().zip(&y).map(|(p, q)| (q0 + a * p - q).powi(2)).sum();
        Some((q0, a, sse))
    };
    let sse_at = |ln_b: f64| linear(ln_b.exp()).map_or(f64::INFINITY, |r| r.2);
    const GRID: usize = 81;
    let (lo, hi) = (0.01f64.ln(), 100.0f64.ln());
    let grid: Vec<f64> = (0..GRID).map(|i| lo + (hi - lo) * i as f64 / (GRID - 1) as f64).collect();
    let best = (0..GRID).min_by(|&i, &j| sse_at(grid[i]).total_cmp(&sse_at(grid[j])))?;
    let left = grid[best.saturating_sub(1)];
    let right = grid[(best + 1).min(GRID - 1)];
    let ln_b = golden_min(sse_at, left, right, 1.0e-13);
    let (q0, a, sse) = linear(ln_b.exp())?;
    let beta = ln_b.exp() / xs;
    (a > 0.0 && beta > 0.0 && sse.is_finite()).then_some(Candidate { curve: Curve::SaturatingExp { q0, a, beta }, sse })
}

/// Golden-section minimum of `f` on `[a, b]` to an interval of `tol`.
pub fn golden_min(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64, tol: f64) -> f64 {
    const R: f64 = 0.618_033_988_749_894_9;
    let mut c = b - R * (b - a);
    let mut d = a + R * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..200 {
        if (b - a).abs() <= tol {
            break;
        }
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - R * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + R * (b - a);
            fd = f(d);
        }
    }
    if fc <= fd { c } else { d }
}

/// Least squares `min ‖Σ p_j·col_j − y‖` by the normal equations with
/// column equilibration and two steps of iterative refinement.
pub fn lstsq(cols: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = cols.len();
    let norms: Vec<f64> = cols.iter().map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt()).collect();
    if norms.iter().any(|n| *n <= 0.0 || !n.is_finite()) {
        return None;
    }
    let scaled: Vec<Vec<f64>> = cols.iter().zip(&norms).map(|(c, n)| c.iter().map(|v| v / n).collect()).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let gram: Vec<Vec<f64>> = (0..k).map(|i| (0..k).map(|j| dot(&scaled[i], &scaled[j])).collect()).collect();
    let mut p = solve(gram.clone(), scaled.iter().map(|c| dot(c, y)).collect())?;
    for _ in 0..2 {
        let residual: Vec<f64> =
            (0..y.len()).map(|r| y[r] - (0..k).map(|j| p[j] * scaled[j][r]).sum::<f64>()).collect();
        let delta = solve(gram.clone(), scaled.iter().map(|c| dot(c, &residual)).collect())?;
        p.iter_mut().zip(delta).for_each(|(v, d)| *v += d);
    }
    Some(p.iter().zip(&norms).map(|(v, n)| v / n).collect())
}

/// Solves `a·x = b` by Gaussian elimination with partial pivoting; `None`
/// when singular.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1.0e-14 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, bottom) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (offset, r) in bottom.iter_mut().enumerate() {
            let m = r[col] / pivot_row[col];
            r.iter_mut().zip(pivot_row).skip(col).for_each(|(v, p)| *v -= m * p);
            b[col + 1 + offset] -= m * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|j| a[row][j] * x[j]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_solves() {
        let x = solve(vec![vec![2.0, 1.0], vec![1.0, 3.0]], vec![3.0, 5.0]).expect("regular");
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }

    #[test]
    fn table_averages_duplicates_and_adds_zero() {
        let Curve::Table { points } = table(&[(100.0, 10.0), (100.0, 20.0), (200.0, 30.0)]) else {
            panic!("a table");
        };
        assert_eq!(points, vec![(0.0, 0.0), (100.0, 15.0), (200.0, 30.0)]);
    }
}
