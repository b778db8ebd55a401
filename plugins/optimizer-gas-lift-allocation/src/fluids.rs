//! Allocating lift gas under the water-handling and separator-liquid limits
//! as well as the gas limit (pure; no host calls).
//!
//! Each well's water follows its oil: `w_i = r_i·f_i(g_i)` with `r_i` its
//! water–oil ratio (from its latest test's water cut), and its liquid is
//! `(1 + r_i)·f_i(g_i)`. The problem is
//!
//! ```text
//! maximise Σ f_i(g_i)  s.t.  Σ g_i ≤ G,  Σ r_i f_i(g_i) ≤ W,  Σ (1 + r_i) f_i(g_i) ≤ L,
//!                            g_i ∈ {0} ∪ [lo_i, hi_i]
//! ```
//!
//! 1. The gas-only optimum ([`crate::allocate()`]); if it keeps within `W`
//!    and `L` it is the answer (multipliers 0).
//! 2. If even each well's least-oil injection breaks a limit, the problem is
//!    infeasible: lift gas cannot bring the wells within it ([`FluidUse::feasible`]
//!    is false; the plan recommends nothing).
//! 3. Lagrangian dual on the concave hulls: with prices `μ_w` (water) and
//!    `μ_l` (liquid) a barrel of well `i`'s oil is worth
//!    `c_i = 1 − μ_w r_i − μ_l (1 + r_i)`; for gas price `λ` each well takes
//!    the hull segments with `c_i·slope > λ`. `λ`, `μ_w` and `μ_l` are found by
//!    nested bisection (innermost the gas, then water, then liquid), each
//!    kept on its feasible side.
//! 4. Candidates: that dual solution, the gas-only optimum, the full
//!    gas allocation (with its DP) of the price-scaled curves `c_i·f_i`, and
//!    the dual solution with a well lifted across a non-concave gap; each is
//!    made feasible (gas, then water and liquid taken from the wettest wells)
//!    and polished on the true curves by moves that keep every limit
//!    ([`polish`]). The best by true total oil wins.
//! 5. Discrete moves on that best ([`crate::swap`]): each well tried at a
//!    few far positions (`0`, `lo`, gap ends, interior points, `hi`), the
//!    others repaired and the slack filled; kept if the oil rises, then
//!    polished again (method `swap`).

use crate::allocate::{
    Allocation, SAMPLES, Segment, WellInput, allocate, finish, hull, marginal, repair_feasibility, sample_step,
};
use crate::fit::golden_min;

/// Relative tolerance of the water and liquid limits.
const TOL: f64 = 1.0e-9;

/// The water and liquid limits, bbl/d (none: not limited).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FluidLimits {
    /// `water-handling`.
    pub water: Option<f64>,
    /// `separator-liquid`.
    pub liquid: Option<f64>,
}

/// Water and liquid of an allocation and what bounds them.
#[derive(Debug, Clone, PartialEq)]
pub struct FluidUse {
    /// Total water, bbl/d.
    pub water: f64,
    /// Total liquid (oil + water), bbl/d.
    pub liquid: f64,
    /// The limits applied.
    pub limits: FluidLimits,
    /// Shadow price of water handling, bbl of oil per bbl/d of water.
    pub mu_water: f64,
    /// Shadow price of separator liquid, bbl of oil per bbl/d of liquid.
    pub mu_liquid: f64,
    /// Whether the water total is at its limit.
    pub water_binds: bool,
    /// Whether the liquid total is at its limit.
    pub liquid_binds: bool,
    /// False when even each well's least-oil injection breaks a limit.
    pub feasible: bool,
    /// Water and liquid at each well's least-oil injection, bbl/d.
    pub least_water: f64,
    /// See `least_water`.
    pub least_liquid: f64,
}

/// Prices of the three resources.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prices {
    gas: f64,
    water: f64,
    liquid: f64,
}

impl Prices {
    /// The worth of a barrel of oil of a well with water–oil ratio `r`.
    pub(crate) fn value(&self, r: f64) -> f64 {
        1.0 - self.water * r - self.liquid * (1.0 + r)
    }
}

/// The problem: wells, their water–oil ratios and the limits.
pub(crate) struct Problem<'a, 'w> {
    pub(crate) wells: &'a [WellInput<'w>],
    pub(crate) wor: &'a [f64],
    pub(crate) gas: Option<f64>,
    pub(crate) limits: FluidLimits,
    pub(crate) steps: Vec<f64>,
}

impl Problem<'_, '_> {
    pub(crate) fn water(&self, gas: &[f64]) -> f64 {
        self.wells.iter().zip(gas).zip(self.wor).map(|((w, g), r)| r * w.curve.oil(*g)).sum()
    }

    pub(crate) fn liquid(&self, gas: &[f64]) -> f64 {
        self.wells.iter().zip(gas).zip(self.wor).map(|((w, g), r)| (1.0 + r) * w.curve.oil(*g)).sum()
    }

    pub(crate) fn oil(&self, gas: &[f64]) -> f64 {
        self.wells.iter().zip(gas).map(|(w, g)| w.curve.oil(*g)).sum()
    }

    /// Slack of (gas, water, liquid); infinite where not limited.
    pub(crate) fn slack(&self, gas: &[f64]) -> [f64; 3] {
        [
            self.gas.map_or(f64::INFINITY, |g| g - gas.iter().sum::<f64>()),
            self.limits.water.map_or(f64::INFINITY, |w| w - self.water(gas)),
            self.limits.liquid.map_or(f64::INFINITY, |l| l - self.liquid(gas)),
        ]
    }

    pub(crate) fn feasible(&self, gas: &[f64]) -> bool {
        let [g, w, l] = self.slack(gas);
        g >= -1.0e-9 * self.gas.unwrap_or(1.0).max(1.0)
            && w >= -TOL * self.limits.water.unwrap_or(1.0).max(1.0)
            && l >= -TOL * self.limits.liquid.unwrap_or(1.0).max(1.0)
    }
}

/// Allocates `gas` (the total gas limit) among `wells` with water–oil
/// ratios `wor` (0 for a dry well or one without a water cut) under the
/// water and liquid `limits`.
pub fn allocate_fluids(wells: &[WellInput], wor: &[f64], gas: Option<f64>, limits: FluidLimits) -> Allocation {
    let gas = gas.filter(|g| g.is_finite()).map(|g| g.max(0.0));
    let limits = FluidLimits {
        water: limits.water.filter(|w| w.is_finite()).map(|w| w.max(0.0)),
        liquid: limits.liquid.filter(|l| l.is_finite()).map(|l| l.max(0.0)),
    };
    let wor: Vec<f64> = wor.iter().map(|r| if r.is_finite() && *r > 0.0 { *r } else { 0.0 }).collect();
    let steps = wells.iter().map(|w| sample_step(w, SAMPLES)).collect();
    let p = Problem { wells, wor: &wor, gas, limits, steps };
    let base = allocate(wells, gas);
    let least: Vec<f64> = wells.iter().map(least_oil).collect();
    let (least_water, least_liquid) = (p.water(&least), p.liquid(&least));
    let mut use_ = FluidUse {
        water: 0.0,
        liquid: 0.0,
        limits,
        mu_water: 0.0,
        mu_liquid: 0.0,
        water_binds: false,
        liquid_binds: false,
        feasible: true,
        least_water,
        least_liquid,
    };
    if !base.feasible || p.feasible(&base.gas) {
        return with_use(&p, base, use_);
    }
    if limits.water.is_some_and(|w| least_water > w * (1.0 + TOL))
        || limits.liquid.is_some_and(|l| least_liquid > l * (1.0 + TOL))
    {
        use_.feasible = false;
        let a = finish(wells, least, gas, 0.0, true, "infeasible-fluids");
        return with_use(&p, a, use_);
    }
    let hulls: Vec<Vec<Segment>> = wells.iter().enumerate().map(|(i, w)| hull(i, w, SAMPLES)).collect();
    let start: Vec<f64> = wells.iter().map(WellInput::min_gas).collect();
    let (prices, dual) = dual_search(&p, &hulls, &start);
    let mut candidates: Vec<(&'static str, Vec<f64>)> = vec![("dual", dual.clone()), ("gas-only", base.gas.clone())];
    // The gas allocation (with its DP) of the price-scaled curves.
    let scaled: Vec<Box<dyn Fn(f64) -> f64 + '_>> = wells
        .iter()
        .zip(&wor)
        .map(|(w, r)| {
            let c = prices.value(*r);
            Box::new(move |g: f64| c * w.curve.oil(g)) as Box<dyn Fn(f64) -> f64>
        })
        .collect();
    let scaled_inputs: Vec<WellInput> = wells
        .iter()
        .zip(&scaled)
        .map(|(w, f)| WellInput { curve: f, lo: w.lo, hi: w.hi, allow_zero: w.allow_zero })
        .collect();
    candidates.push(("scaled-dp", allocate(&scaled_inputs, gas).gas));
    // Lift a well across the non-concave gap it sits before (the four
    // gaps of highest price-scaled slope).
    let mut gaps: Vec<(f64, usize, f64)> = Vec::new();
    for (i, segs) in hulls.iter().enumerate() {
        if let Some(s) = segs.iter().find(|s| (s.x0 - dual[i]).abs() <= 1.0e-9 * s.x1.abs().max(1.0))
            && s.x1 - s.x0 > 1.5 * p.steps[i]
            && s.slope > 0.0
        {
            gaps.push((prices.value(wor[i]) * s.slope, i, s.x1));
        }
    }
    gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
    for &(_, i, x1) in gaps.iter().take(4) {
        let mut up = dual.clone();
        up[i] = x1;
        candidates.push(("dual-gap-up", up));
    }
    let mut best: Option<(&'static str, Vec<f64>, f64)> = None;
    for (name, mut g) in candidates {
        repair_feasibility(wells, &mut g, gas);
        fluid_repair(&p, &mut g, None);
        if !p.feasible(&g) {
            continue;
        }
        polish(&p, &mut g, prices);
        let total = p.oil(&g);
        if p.feasible(&g) && best.as_ref().is_none_or(|b| total > b.2 + 1.0e-12) {
            best = Some((name, g, total));
        }
    }
    let Some((mut name, mut g, _)) = best else {
        use_.feasible = false;
        return with_use(&p, finish(wells, least, gas, 0.0, true, "infeasible-fluids"), use_);
    };
    // Discrete moves (a well to another mode, the others repaired and filled).
    if crate::swap::swap_search(&p, &mut g, prices, &hulls) {
        polish(&p, &mut g, prices);
        name = "swap";
    }
    let mut a = finish(wells, g, gas, prices.gas, true, name);
    use_.mu_water = prices.water;
    use_.mu_liquid = prices.liquid;
    // The shadow price of gas: the median of c_i·f_i' of the wells inside their bounds.
    if a.gas_binds {
        let mut inside: Vec<f64> = (0..wells.len())
            .filter(|&i| a.gas[i] > wells[i].lo + 1.0e-6 && a.gas[i] < wells[i].hi - 1.0e-6)
            .map(|i| prices.value(wor[i]) * a.marginal[i])
            .collect();
        inside.sort_by(f64::total_cmp);
        if !inside.is_empty() {
            a.lambda = inside[inside.len() / 2];
        }
    }
    with_use(&p, a, use_)
}

/// Fills in the water, liquid and which limits bind.
fn with_use(p: &Problem, mut a: Allocation, mut u: FluidUse) -> Allocation {
    u.water = p.water(&a.gas);
    u.liquid = p.liquid(&a.gas);
    let near = |used: f64, limit: Option<f64>| limit.is_some_and(|l| used >= l - 1.0e-6 * l.max(1.0));
    u.water_binds = u.feasible && near(u.water, u.limits.water);
    u.liquid_binds = u.feasible && near(u.liquid, u.limits.liquid);
    if !u.water_binds {
        u.mu_water = 0.0;
    }
    if !u.liquid_binds {
        u.mu_liquid = 0.0;
    }
    a.fluids = Some(u);
    a
}

/// The feasible injection with the least oil (so the least water and liquid).
pub fn least_oil(w: &WellInput) -> f64 {
    let mut best = (w.min_gas(), w.curve.oil(w.min_gas()));
    if w.has_interval() {
        for k in 0..=SAMPLES {
            let g = w.lo + (w.hi - w.lo) * k as f64 / SAMPLES as f64;
            let q = w.curve.oil(g);
            if q < best.1 {
                best = (g, q);
            }
        }
    }
    best.0
}

/// Each well's hull response to prices: the end of its last segment with
/// `c_i·slope > λ`.
fn respond(hulls: &[Vec<Segment>], start: &[f64], wor: &[f64], prices: Prices, out: &mut [f64]) {
    for (i, segs) in hulls.iter().enumerate() {
        let c = prices.value(wor[i]);
        let k = if c <= 0.0 { 0 } else { segs.partition_point(|s| c * s.slope > prices.gas) };
        out[i] = if k == 0 { start[i] } else { segs[k - 1].x1 };
    }
}

/// Nested bisection for `(λ, μ_w, μ_l)`, each on its feasible side; returns
/// the prices and the hull solution at them.
fn dual_search(p: &Problem, hulls: &[Vec<Segment>], start: &[f64]) -> (Prices, Vec<f64>) {
    let mut buf = vec![0.0; p.wells.len()];
    let max_slope = hulls.iter().flatten().map(|s| s.slope).fold(0.0, f64::max) + 1.0;
    // Innermost: the least λ whose response fits the gas.
    let solve_gas = |mut prices: Prices, buf: &mut Vec<f64>| -> Prices {
        prices.gas = 0.0;
        respond(hulls, start, p.wor, prices, buf);
        if let Some(g) = p.gas
            && buf.iter().sum::<f64>() > g
        {
            let (mut lo, mut hi) = (0.0, max_slope);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                prices.gas = mid;
                respond(hulls, start, p.wor, prices, buf);
                if buf.iter().sum::<f64>() > g { lo = mid } else { hi = mid }
            }
            prices.gas = hi;
            respond(hulls, start, p.wor, prices, buf);
        }
        prices
    };
    let min_r = p.wor.iter().copied().filter(|r| *r > 0.0).fold(f64::INFINITY, f64::min);
    let solve_water = |mut prices: Prices, buf: &mut Vec<f64>| -> Prices {
        prices.water = 0.0;
        prices = solve_gas(prices, buf);
        if let Some(w) = p.limits.water
            && p.water(buf) > w
            && min_r.is_finite()
        {
            let (mut lo, mut hi) = (0.0, 1.0 / min_r * 1.000_001);
            for _ in 0..50 {
                prices.water = 0.5 * (lo + hi);
                prices = solve_gas(prices, buf);
                if p.water(buf) > w { lo = prices.water } else { hi = prices.water }
            }
            prices.water = hi;
            prices = solve_gas(prices, buf);
        }
        prices
    };
    let mut prices = solve_water(Prices::default(), &mut buf);
    if let Some(l) = p.limits.liquid
        && p.liquid(&buf) > l
    {
        let (mut lo, mut hi) = (0.0, 1.000_001);
        for _ in 0..50 {
            let mut trial = Prices { liquid: 0.5 * (lo + hi), ..Prices::default() };
            trial = solve_water(trial, &mut buf);
            if p.liquid(&buf) > l { lo = trial.liquid } else { hi = trial.liquid }
        }
        prices = solve_water(Prices { liquid: hi, ..Prices::default() }, &mut buf);
    }
    (prices, buf)
}

/// Takes water and liquid off the wettest wells (least oil lost per barrel
/// freed) until both totals are within their limits.
pub(crate) fn fluid_repair(p: &Problem, gas: &mut [f64], keep: Option<usize>) {
    let mut order: Vec<usize> = (0..p.wells.len()).collect();
    order.sort_by(|&a, &b| p.wor[b].total_cmp(&p.wor[a]));
    for i in order {
        let [_, sw, sl] = p.slack(gas);
        if sw >= 0.0 && sl >= 0.0 {
            return;
        }
        if keep == Some(i) {
            continue;
        }
        let w = &p.wells[i];
        let r = p.wor[i];
        // Oil this well must give up.
        let mut need: f64 = 0.0;
        if sw < 0.0 && r > 0.0 {
            need = need.max(-sw / r);
        }
        if sl < 0.0 {
            need = need.max(-sl / (1.0 + r));
        }
        if need <= 0.0 {
            continue;
        }
        let q = w.curve.oil(gas[i]);
        let target = q - need * (1.0 + 1.0e-9);
        let floor = if w.has_interval() && gas[i] >= w.lo { w.lo } else { 0.0 };
        if w.curve.oil(floor) <= target {
            // The largest injection in [floor, g] with oil ≤ target.
            let (mut lo, mut hi) = (floor, gas[i]);
            for _ in 0..80 {
                let mid = 0.5 * (lo + hi);
                if w.curve.oil(mid) <= target { lo = mid } else { hi = mid }
            }
            gas[i] = lo;
        } else if w.allow_zero && w.curve.oil(0.0) < w.curve.oil(floor) {
            gas[i] = 0.0;
        } else {
            gas[i] = floor;
        }
    }
}

/// The best step `t ∈ [0, reach]` adding gas to well `i` within the slacks
/// of gas, water and liquid.
pub(crate) fn best_add(p: &Problem, i: usize, g: f64, slack: [f64; 3], reach: f64) -> f64 {
    let w = &p.wells[i];
    let reach = reach.min(slack[0]).min(w.hi - g);
    if reach <= 0.0 || !w.has_interval() || g < w.lo - 1.0e-9 {
        return 0.0;
    }
    let r = p.wor[i];
    let cap = (if r > 0.0 { slack[1] / r } else { f64::INFINITY }).min(slack[2] / (1.0 + r)).max(0.0);
    let base = w.curve.oil(g);
    let f = |t: f64| w.curve.oil(g + t);
    let mut t = golden_min(|t| -f(t), 0.0, reach, 1.0e-12 * reach.max(1.0));
    if f(reach) >= f(t) {
        t = reach;
    }
    if f(t) - base <= cap {
        return t;
    }
    let (mut lo, mut hi) = (0.0, t);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if f(mid) - base <= cap { lo = mid } else { hi = mid }
    }
    lo
}

/// A polish move: (oil gain, well that gains, its added gas, the well and
/// amount the gas comes from).
type Move = (f64, usize, f64, Option<(usize, f64)>);

/// Polishes a feasible allocation on the true curves: gas added to one well
/// within every slack, or taken from one well (by a few step sizes) and the
/// freed gas, water and liquid given to another; a move is taken only if it
/// raises the total oil and keeps every limit. Wells shut in before a gap
/// (`0` with `lo > 0`) stay shut in.
fn polish(p: &Problem, gas: &mut [f64], prices: Prices) {
    let n = p.wells.len();
    if n == 0 {
        return;
    }
    let window: Vec<f64> = p.steps.iter().map(|s| (8.0 * s).max(1.0e-6)).collect();
    let h = 1.0e-3;
    for _ in 0..(40 * n + 400) {
        let slack = p.slack(gas);
        let base = p.oil(gas);
        let mut best: Option<Move> = None;
        for i in 0..n {
            let t = best_add(p, i, gas[i], slack, window[i]);
            let gain = p.wells[i].curve.oil(gas[i] + t) - p.wells[i].curve.oil(gas[i]);
            if t > 0.0 && gain > 1.0e-10 && best.as_ref().is_none_or(|b| gain > b.0) {
                best = Some((gain, i, t, None));
            }
        }
        if best.is_none() {
            // Pairs: the wells worth most per Mscf more, against those worth least per Mscf less.
            let value = |i: usize, up: bool| {
                let w = &p.wells[i];
                let m = if up { marginal(w, gas[i] + h) } else { marginal(w, (gas[i] - h).max(0.0)) };
                prices.value(p.wor[i]) * m
            };
            let mut ups: Vec<usize> =
                (0..n).filter(|&i| p.wells[i].has_interval() && gas[i] >= p.wells[i].lo - 1.0e-9).collect();
            ups.sort_by(|&a, &b| value(b, true).total_cmp(&value(a, true)));
            let mut downs: Vec<usize> = (0..n).filter(|&j| gas[j] > p.wells[j].lo + 1.0e-12).collect();
            downs.sort_by(|&a, &b| value(a, false).total_cmp(&value(b, false)));
            for &i in ups.iter().take(4) {
                for &j in downs.iter().take(4) {
                    if i == j {
                        continue;
                    }
                    for k in 0..4 {
                        let t = (window[j] / 4f64.powi(k)).min(gas[j] - p.wells[j].lo);
                        let mut trial = gas.to_vec();
                        trial[j] -= t;
                        let s = p.slack(&trial);
                        let u = best_add(p, i, trial[i], s, window[i].max(t));
                        trial[i] += u;
                        let gain = p.oil(&trial) - base;
                        if gain > 1.0e-10 && p.feasible(&trial) && best.as_ref().is_none_or(|b| gain > b.0) {
                            best = Some((gain, i, u, Some((j, t))));
                        }
                    }
                }
            }
        }
        let Some((_, i, t, from)) = best else { break };
        if let Some((j, tj)) = from {
            gas[j] -= tj;
        }
        gas[i] += t;
    }
}
