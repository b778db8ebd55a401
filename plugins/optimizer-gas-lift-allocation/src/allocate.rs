//! Allocating lift gas among wells: maximise `Σ f_i(g_i)` subject to
//! `Σ g_i ≤ G` and `g_i ∈ {0} ∪ [lo_i, hi_i]` (pure; no host calls).
//!
//! 1. Each well is sampled on `{0} ∪ [lo, hi]` and replaced by its upper
//!    concave hull.
//! 2. Greedy over all hull segments in descending slope (equal slope,
//!    λ-bisection on the hull), the last segment partially; λ is the slope
//!    where the gas ran out.
//! 3. Repair: when that partial segment bridges a non-concave gap (the curve
//!    lies below the hull there), the well is rounded down to the segment's
//!    left vertex (the rest going to other wells' next segments) and up to
//!    its right vertex (gas taken back from the lowest-slope segments taken).
//! 4. A DP over a grid of G when gas binds ([`crate::polish::dp`]).
//! 5. Every candidate is polished on the true curves by pairwise transfers
//!    ([`crate::polish::polish`]); the best by true total oil wins.

use crate::polish::{dp, polish};

/// Default number of samples of each well's feasible interval.
pub const SAMPLES: usize = 1000;
/// Default number of steps of the DP's gas grid.
pub const DP_STEPS: usize = 400;

/// Anything with an oil rate at an injection: a fitted [`crate::Curve`] or a
/// closure.
pub trait Response {
    /// Oil rate at injection `g` (Mscf/d), STB/d.
    fn oil(&self, g: f64) -> f64;
}

impl<F: Fn(f64) -> f64> Response for F {
    fn oil(&self, g: f64) -> f64 {
        self(g)
    }
}

impl Response for crate::curve::Curve {
    fn oil(&self, g: f64) -> f64 {
        crate::curve::Curve::oil(self, g)
    }
}

/// One well to allocate: its curve and feasible set `{0 if allow_zero} ∪ [lo, hi]`.
#[derive(Clone, Copy)]
pub struct WellInput<'a> {
    /// The well's performance curve.
    pub curve: &'a dyn Response,
    /// Lowest injection when lifted, Mscf/d.
    pub lo: f64,
    /// Highest injection, Mscf/d.
    pub hi: f64,
    /// Whether zero injection (no lift gas) is allowed.
    pub allow_zero: bool,
}

impl WellInput<'_> {
    /// Whether `[lo, hi]` holds any injection.
    pub fn has_interval(&self) -> bool {
        self.lo <= self.hi
    }

    /// The smallest feasible injection.
    pub fn min_gas(&self) -> f64 {
        if self.allow_zero || !self.has_interval() { 0.0 } else { self.lo }
    }

    /// Whether `g` is in the feasible set (to `tol`).
    pub fn feasible(&self, g: f64, tol: f64) -> bool {
        (self.allow_zero || !self.has_interval()) && g.abs() <= tol
            || self.has_interval() && g >= self.lo - tol && g <= self.hi + tol
    }
}

/// The result of an allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Injection per well, Mscf/d.
    pub gas: Vec<f64>,
    /// Oil per well at that injection, STB/d.
    pub oil: Vec<f64>,
    /// Total oil, STB/d.
    pub total_oil: f64,
    /// Shadow price of gas, bbl/Mscf: the median marginal rate of wells
    /// strictly inside their bounds, else the greedy λ; 0 when gas does not bind.
    pub lambda: f64,
    /// The λ of the greedy pass on the hulls.
    pub greedy_lambda: f64,
    /// Marginal rate of each well at its injection, bbl/Mscf.
    pub marginal: Vec<f64>,
    /// Whether the total gas limit binds.
    pub gas_binds: bool,
    /// False when the wells' minimum injections alone exceed the limit.
    pub feasible: bool,
    /// Which candidate won (`greedy`, `repair-down`, `repair-up`, `dp`;
    /// with water or liquid limits, see [`crate::fluids`]).
    pub method: &'static str,
    /// Water and liquid of the allocation and their limits, when the water
    /// cuts are known ([`crate::fluids::allocate_fluids`]).
    pub fluids: Option<crate::fluids::FluidUse>,
}

/// A hull segment of one well.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub(crate) well: usize,
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) slope: f64,
}

/// Allocates with the default sampling ([`SAMPLES`], [`DP_STEPS`]).
pub fn allocate(wells: &[WellInput], limit: Option<f64>) -> Allocation {
    allocate_with(wells, limit, SAMPLES, DP_STEPS)
}

/// Allocates with `samples` per well and a DP grid of `dp_steps`.
pub fn allocate_with(wells: &[WellInput], limit: Option<f64>, samples: usize, dp_steps: usize) -> Allocation {
    let limit = limit.filter(|g| g.is_finite()).map(|g| g.max(0.0));
    let start: Vec<f64> = wells.iter().map(WellInput::min_gas).collect();
    let mandatory: f64 = start.iter().sum();
    if limit.is_some_and(|g| mandatory > g + 1.0e-9) {
        return finish(wells, start, limit, 0.0, false, "infeasible");
    }
    let budget = limit.map_or(f64::INFINITY, |g| g - mandatory);
    let steps: Vec<f64> = wells.iter().map(|w| sample_step(w, samples)).collect();
    let mut segments: Vec<Segment> = Vec::new();
    for (i, w) in wells.iter().enumerate() {
        segments.extend(hull(i, w, samples));
    }
    segments.sort_by(|a, b| b.slope.total_cmp(&a.slope).then(a.well.cmp(&b.well)).then(a.x0.total_cmp(&b.x0)));
    let first = greedy(&segments, &start, budget, None);
    let mut candidates: Vec<(&'static str, Vec<f64>)> = vec![("greedy", first.gas.clone())];
    if let Some((k, amount)) = first.partial {
        let seg = segments[k];
        let w = &wells[seg.well];
        let at = seg.x0 + amount;
        let chord = w.curve.oil(seg.x0) + seg.slope * amount;
        if seg.x1 - seg.x0 > 1.5 * steps[seg.well] || w.curve.oil(at) < chord - 1.0e-9 * chord.abs().max(1.0) {
            // Round down: the rest goes to other wells' next segments.
            let mut down = first.gas.clone();
            down[seg.well] = seg.x0;
            let rest = greedy(&segments[k + 1..], &down, amount, Some(seg.well));
            candidates.push(("repair-down", rest.gas));
            // Round up: take the gas back from the lowest-slope segments taken.
            let mut up = first.gas.clone();
            up[seg.well] = seg.x1;
            let mut need = seg.x1 - seg.x0 - amount;
            for &(j, took) in first.taken.iter().rev() {
                if need <= 0.0 {
                    break;
                }
                let s = segments[j];
                if s.well == seg.well || j == k {
                    continue;
                }
                let back = took.min(need);
                up[s.well] -= back;
                need -= back;
            }
            if need <= 1.0e-9 {
                candidates.push(("repair-up", up));
            }
        }
    }
    if let Some(g) = limit
        && first.binds
        && let Some(gas) = dp(wells, g, dp_steps)
    {
        candidates.push(("dp", gas));
    }
    let mut best: Option<(&'static str, Vec<f64>, f64)> = None;
    for (name, mut gas) in candidates {
        repair_feasibility(wells, &mut gas, limit);
        polish(wells, &mut gas, limit, &steps);
        repair_feasibility(wells, &mut gas, limit);
        let total: f64 = wells.iter().zip(&gas).map(|(w, g)| w.curve.oil(*g)).sum();
        if best.as_ref().is_none_or(|b| total > b.2 + 1.0e-12) {
            best = Some((name, gas, total));
        }
    }
    let (name, gas, _) = best.unwrap_or(("greedy", start, 0.0));
    finish(wells, gas, limit, first.lambda, true, name)
}

/// Sample spacing of a well's interval.
pub(crate) fn sample_step(w: &WellInput, samples: usize) -> f64 {
    if w.has_interval() { (w.hi - w.lo) / samples.max(2) as f64 } else { 0.0 }
}

/// The upper concave hull of a well's samples from its smallest feasible
/// injection, as segments (slopes strictly decreasing).
pub(crate) fn hull(well: usize, w: &WellInput, samples: usize) -> Vec<Segment> {
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(samples + 2);
    if w.allow_zero && (!w.has_interval() || w.lo > 0.0) {
        pts.push((0.0, w.curve.oil(0.0)));
    }
    if w.has_interval() {
        let n = samples.max(2);
        if w.hi > w.lo {
            for s in 0..=n {
                let x = if s == n { w.hi } else { w.lo + (w.hi - w.lo) * s as f64 / n as f64 };
                pts.push((x, w.curve.oil(x)));
            }
        } else if pts.is_empty() || w.lo > 0.0 {
            pts.push((w.lo, w.curve.oil(w.lo)));
        }
    }
    let mut up: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    for p in pts {
        while up.len() >= 2 {
            let (a, b) = (up[up.len() - 2], up[up.len() - 1]);
            // Remove b if it lies on or below the chord a→p.
            if (b.1 - a.1) * (p.0 - a.0) <= (p.1 - a.1) * (b.0 - a.0) {
                up.pop();
            } else {
                break;
            }
        }
        up.push(p);
    }
    up.windows(2)
        .filter(|s| s[1].0 > s[0].0)
        .map(|s| Segment { well, x0: s[0].0, x1: s[1].0, slope: (s[1].1 - s[0].1) / (s[1].0 - s[0].0) })
        .collect()
}

struct Greedy {
    gas: Vec<f64>,
    /// (segment index, amount taken), in order.
    taken: Vec<(usize, f64)>,
    partial: Option<(usize, f64)>,
    lambda: f64,
    binds: bool,
}

/// Takes segments in order while their slope is positive and gas remains;
/// segments of `skip` and segments not starting at their well's current
/// injection are passed over.
fn greedy(segments: &[Segment], start: &[f64], budget: f64, skip: Option<usize>) -> Greedy {
    let mut gas = start.to_vec();
    let mut left = budget;
    let mut out = Greedy { gas: Vec::new(), taken: Vec::new(), partial: None, lambda: 0.0, binds: false };
    for (k, s) in segments.iter().enumerate() {
        if s.slope <= 0.0 {
            break;
        }
        if Some(s.well) == skip || (gas[s.well] - s.x0).abs() > 1.0e-9 * s.x1.abs().max(1.0) {
            continue;
        }
        if left <= 0.0 {
            out.lambda = s.slope;
            out.binds = true;
            break;
        }
        let dx = s.x1 - s.x0;
        let amount = dx.min(left);
        gas[s.well] = if amount < dx { s.x0 + amount } else { s.x1 };
        left -= amount;
        out.taken.push((k, amount));
        if amount < dx {
            out.partial = Some((k, amount));
            out.lambda = s.slope;
            out.binds = true;
            break;
        }
    }
    out.gas = gas;
    out
}

/// Clamps every injection into its feasible set and, when the total exceeds
/// the limit, takes the excess from the wells with the lowest marginal rate.
pub(crate) fn repair_feasibility(wells: &[WellInput], gas: &mut [f64], limit: Option<f64>) {
    for (w, g) in wells.iter().zip(gas.iter_mut()) {
        if !g.is_finite() {
            *g = w.min_gas();
        }
        if w.has_interval() && (!w.allow_zero || *g >= 0.5 * w.lo) {
            *g = g.clamp(w.lo, w.hi);
        } else {
            *g = 0.0;
        }
    }
    let Some(limit) = limit else { return };
    let mut excess = gas.iter().sum::<f64>() - limit;
    if excess <= 0.0 {
        return;
    }
    let mut order: Vec<usize> = (0..wells.len()).collect();
    order.sort_by(|&a, &b| marginal(&wells[a], gas[a]).total_cmp(&marginal(&wells[b], gas[b])));
    for i in order {
        if excess <= 0.0 {
            break;
        }
        let w = &wells[i];
        let floor = if gas[i] > 0.0 && w.has_interval() { w.lo } else { 0.0 };
        let take = (gas[i] - floor).min(excess).max(0.0);
        gas[i] -= take;
        excess -= take;
        if excess > 0.0 && w.allow_zero && gas[i] > 0.0 {
            excess -= gas[i];
            gas[i] = 0.0;
        }
    }
    if excess > 1.0e-12 {
        // Only rounding is left (every well is at its smallest injection
        // when the problem is feasible): the smallest injections.
        for (w, g) in wells.iter().zip(gas.iter_mut()) {
            *g = w.min_gas();
        }
    }
}

/// Numerical slope of a well's curve at `g` (central inside the interval,
/// one-sided at its ends), bbl/Mscf.
pub fn marginal(w: &WellInput, g: f64) -> f64 {
    let h = 1.0e-3;
    let (lo, hi) = if w.has_interval() && g >= w.lo - 1.0e-9 { (w.lo, w.hi) } else { (0.0, h) };
    let a = (g - h).max(lo);
    let b = (g + h).min(hi);
    if b > a { (w.curve.oil(b) - w.curve.oil(a)) / (b - a) } else { 0.0 }
}

pub(crate) fn finish(
    wells: &[WellInput],
    gas: Vec<f64>,
    limit: Option<f64>,
    greedy_lambda: f64,
    feasible: bool,
    method: &'static str,
) -> Allocation {
    let oil: Vec<f64> = wells.iter().zip(&gas).map(|(w, g)| w.curve.oil(*g)).collect();
    let marginal: Vec<f64> = wells.iter().zip(&gas).map(|(w, g)| marginal(w, *g)).collect();
    let used: f64 = gas.iter().sum();
    let gas_binds = limit.is_some_and(|g| used >= g - 1.0e-6 * g.max(1.0));
    let mut inside: Vec<f64> = wells
        .iter()
        .zip(&gas)
        .zip(&marginal)
        .filter(|((w, g), _)| **g > 0.0 && w.has_interval() && **g > w.lo + 1.0e-6 && **g < w.hi - 1.0e-6)
        .map(|(_, m)| *m)
        .collect();
    inside.sort_by(f64::total_cmp);
    let lambda = if !gas_binds {
        0.0
    } else if inside.is_empty() {
        greedy_lambda
    } else if inside.len() % 2 == 1 {
        inside[inside.len() / 2]
    } else {
        0.5 * (inside[inside.len() / 2 - 1] + inside[inside.len() / 2])
    };
    Allocation {
        total_oil: oil.iter().sum(),
        gas,
        oil,
        lambda,
        greedy_lambda,
        marginal,
        gas_binds,
        feasible,
        method,
        fluids: None,
    }
}
