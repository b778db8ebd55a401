//! The fluid tests' independent optimum: a dynamic program over the wells
//! (other code than the component's) whose state is the gas and the binding
//! fluid used so far, and a Lagrangian upper bound of the continuous problem.
//!
//! **DP.** Each well chooses among `{0} ∪ {lo + k(hi−lo)/m, k = 0..m}`,
//! refined where the oil between two points changes by more than `1/m` of
//! the well's range (see [`choices`]). A
//! partial allocation of the first wells carries its true gas, water and oil
//! (liquid = oil + water); it lands in the state `(⌊gas/δ_g⌋, ⌊fluid/δ_f⌋)`
//! with `δ_g = G/s_g` and `δ_f` the binding fluid limit over `s_f` (water
//! when only water is limited, else liquid; one state when not limited).
//! A state keeps the partial allocation of the highest priced value
//! `oil − λ·gas − μ_w·water − μ_l·liquid` at the prices of the upper bound
//! below (a tie-break within a state; the answer is the most oil). An allocation whose true gas, water or liquid
//! exceeds a limit is dropped, so every allocation the DP returns is
//! feasible; its oil is a lower bound on the optimum. Within a liquid state
//! the most oil is the least water up to `δ_f`, so one fluid dimension
//! serves both limits (the prices break that tie). The only approximation is the per-state pruning
//! (a kept allocation may use up to one state width more than one it
//! replaced); the tests bound it by running two resolutions and by the
//! upper bound below.
//!
//! **Upper bound.** For prices `λ, μ_w, μ_l ≥ 0`,
//! `Σ_i max_g [c_i f_i(g) − λ g] + λG + μ_w W + μ_l L` with
//! `c_i = 1 − μ_w r_i − μ_l (1 + r_i)` bounds every feasible allocation
//! (weak duality). The inner max runs over the vertices of the convex hull
//! of 2001 samples of each well's feasible set (the max of a linear function
//! over the samples); the prices are minimised by nested golden sections.

use super::Field;
use crate::common::GenWell;

/// The DP's resolution: points per well interval, gas and fluid states.
#[derive(Debug, Clone, Copy)]
pub struct Resolution {
    pub points: usize,
    pub gas: usize,
    pub fluid: usize,
}

/// The DP's best allocation and its true totals.
#[derive(Debug, Clone)]
pub struct Optimum {
    pub gas: Vec<f64>,
    pub oil: f64,
}

/// One choice of a well: gas, oil, water.
#[derive(Clone, Copy)]
struct Choice {
    gas: f64,
    oil: f64,
    water: f64,
}

/// A well's choices: `0`, `m + 1` points evenly over `[lo, hi]`, and more
/// points between two of them wherever the oil changes by more than
/// `1/m` of the well's oil range (a dead-zone well's unloading ramp), so
/// that no step of the grid changes the oil by much more than that.
fn choices(w: &GenWell, wor: f64, m: usize, gas_limit: f64) -> Vec<Choice> {
    let at = |k: f64| (w.lo + (w.hi - w.lo) * k / m as f64).clamp(w.lo, w.hi);
    let grid: Vec<f64> = (0..=m).map(|k| at(k as f64)).collect();
    let q: Vec<f64> = grid.iter().map(|g| w.curve.oil(*g)).collect();
    let range = q.iter().copied().fold(0.0, f64::max) - q.iter().copied().fold(f64::INFINITY, f64::min);
    let step = (range / m as f64).max(1.0e-9);
    let mut gas = vec![0.0, grid[0]];
    for k in 1..=m {
        let parts = ((q[k] - q[k - 1]).abs() / step).ceil().max(1.0) as usize;
        gas.extend((1..=parts).map(|j| at((k - 1) as f64 + j as f64 / parts as f64)));
    }
    gas.into_iter()
        .filter(|g| *g <= gas_limit)
        .map(|g| {
            let oil = w.curve.oil(g);
            Choice { gas: g, oil, water: wor * oil }
        })
        .collect()
}

/// The DP optimum of `f` at `res` (see the module docs).
pub fn dp(f: &Field, res: Resolution, prices: [f64; 3]) -> Optimum {
    let [lambda, mw, ml] = prices;
    let score = |o: f64, g: f64, wa: f64| o - lambda * g - mw * wa - ml * (o + wa);
    let gl = f.inst.limit.unwrap_or(f64::INFINITY);
    let wl = f.limits.water.unwrap_or(f64::INFINITY);
    let ll = f.limits.liquid.unwrap_or(f64::INFINITY);
    let sg = if gl.is_finite() { res.gas } else { 0 };
    // The fluid of the second dimension: 1 water, 2 liquid, 0 none.
    let (fluid, limit) = match (wl.is_finite(), ll.is_finite()) {
        (true, false) => (1, wl),
        (_, true) => (2, ll),
        _ => (0, 1.0),
    };
    let sf = if fluid == 0 { 0 } else { res.fluid };
    let (dg, df) = (gl / sg.max(1) as f64, limit / sf.max(1) as f64);
    let width = sf + 1;
    let states = (sg + 1) * width;
    let index = |gas: f64, fl: f64| -> usize {
        let a = if sg == 0 { 0 } else { ((gas / dg) as usize).min(sg) };
        let b = if sf == 0 { 0 } else { ((fl / df) as usize).min(sf) };
        a * width + b
    };
    // Per state: oil, gas, water of its kept partial allocation.
    let mut cur = vec![(f64::NEG_INFINITY, 0.0, 0.0); states];
    cur[0] = (0.0, 0.0, 0.0);
    let mut back: Vec<Vec<(u32, u16)>> = Vec::with_capacity(f.inst.wells.len());
    let mut opts_all = Vec::with_capacity(f.inst.wells.len());
    for (w, r) in f.inst.wells.iter().zip(&f.wor) {
        let opts = choices(w, *r, res.points, gl);
        let mut next = vec![(f64::NEG_INFINITY, 0.0, 0.0); states];
        let mut from = vec![(u32::MAX, 0u16); states];
        for (s, &(oil, gas, water)) in cur.iter().enumerate() {
            if oil == f64::NEG_INFINITY {
                continue;
            }
            for (k, c) in opts.iter().enumerate() {
                let (o, g, wa) = (oil + c.oil, gas + c.gas, water + c.water);
                if g > gl || wa > wl || o + wa > ll {
                    continue;
                }
                let t = index(g, if fluid == 1 { wa } else { o + wa });
                let n = &mut next[t];
                if n.0 == f64::NEG_INFINITY || score(o, g, wa) > score(n.0, n.1, n.2) {
                    *n = (o, g, wa);
                    from[t] = (s as u32, k as u16);
                }
            }
        }
        cur = next;
        back.push(from);
        opts_all.push(opts);
    }
    let (mut s, best) =
        cur.iter().enumerate().max_by(|a, b| a.1.0.total_cmp(&b.1.0)).map(|(s, v)| (s, v.0)).expect("states");
    assert!(best.is_finite(), "the DP found no feasible allocation");
    let mut gas = vec![0.0; f.inst.wells.len()];
    for i in (0..f.inst.wells.len()).rev() {
        let (prev, k) = back[i][s];
        gas[i] = opts_all[i][k as usize].gas;
        s = prev as usize;
    }
    Optimum { gas, oil: best }
}

/// The upper hull (by rising gas) and the lower hull of `(gas, oil)`
/// samples of a well's feasible set.
type Hulls = (Vec<(f64, f64)>, Vec<(f64, f64)>);

fn hulls(w: &GenWell) -> Hulls {
    let mut pts: Vec<(f64, f64)> = vec![(0.0, w.curve.oil(0.0))];
    pts.extend((0..=2000).map(|k| {
        let g = w.lo + (w.hi - w.lo) * k as f64 / 2000.0;
        (g, w.curve.oil(g))
    }));
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let half = |it: &mut dyn Iterator<Item = (f64, f64)>| {
        let mut h: Vec<(f64, f64)> = Vec::new();
        for p in it {
            while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0.0 {
                h.pop();
            }
            h.push(p);
        }
        h
    };
    let lower = half(&mut pts.iter().copied());
    let mut upper = half(&mut pts.iter().rev().copied());
    upper.reverse();
    (upper, lower)
}

/// `max c·q − λ·g` over a well's samples: on the upper hull by the slope
/// where it crosses `λ/c` when `c > 0`, else over the lower hull.
fn best_response(h: &Hulls, c: f64, lambda: f64) -> f64 {
    let value = |p: &(f64, f64)| c * p.1 - lambda * p.0;
    if c > 0.0 {
        let up = &h.0;
        // Segments `s` (from `up[s]` to `up[s + 1]`) worth taking come first.
        let worth = |s: usize| c * (up[s + 1].1 - up[s].1) > lambda * (up[s + 1].0 - up[s].0);
        let (mut lo, mut hi) = (0, up.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if worth(mid) { lo = mid + 1 } else { hi = mid }
        }
        let j = lo;
        value(&up[j])
    } else {
        h.1.iter().map(value).fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Golden-section minimum of a convex `h` on `[a, b]`.
fn golden(h: &mut dyn FnMut(f64) -> f64, mut a: f64, mut b: f64, iterations: usize) -> f64 {
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    let (mut x1, mut x2) = (b - phi * (b - a), a + phi * (b - a));
    let (mut h1, mut h2) = (h(x1), h(x2));
    for _ in 0..iterations {
        if h1 <= h2 {
            (b, x2, h2) = (x2, x1, h1);
            x1 = b - phi * (b - a);
            h1 = h(x1);
        } else {
            (a, x1, h1) = (x1, x2, h2);
            x2 = a + phi * (b - a);
            h2 = h(x2);
        }
    }
    h1.min(h2).min(h(a)).min(h(b))
}

/// The least Lagrangian bound found on the continuous problem (valid for
/// any prices, so every value it returns is an upper bound) and its prices
/// `[λ, μ_w, μ_l]`.
pub fn upper_bound(f: &Field) -> (f64, [f64; 3]) {
    let least = std::cell::Cell::new((f64::INFINITY, [0.0; 3]));
    let hulls: Vec<Hulls> = f.inst.wells.iter().map(hulls).collect();
    let (gl, wl, ll) = (f.inst.limit, f.limits.water, f.limits.liquid);
    let dual = |lambda: f64, mw: f64, ml: f64| -> f64 {
        let mut v = lambda * gl.unwrap_or(0.0) + mw * wl.unwrap_or(0.0) + ml * ll.unwrap_or(0.0);
        for (h, r) in hulls.iter().zip(&f.wor) {
            let c = 1.0 - mw * r - ml * (1.0 + r);
            v += best_response(h, c, lambda);
        }
        if v < least.get().0 {
            least.set((v, [lambda, mw, ml]));
        }
        v
    };
    let max_slope = 40.0;
    let gas = |mw: f64, ml: f64| -> f64 {
        if gl.is_none() {
            return dual(0.0, mw, ml);
        }
        golden(&mut |l| dual(l, mw, ml), 0.0, max_slope, 40)
    };
    let water = |ml: f64| -> f64 {
        if wl.is_none() {
            return gas(0.0, ml);
        }
        golden(&mut |m| gas(m, ml), 0.0, 5.0, 30)
    };
    if ll.is_none() {
        water(0.0);
    } else {
        golden(&mut |m| water(m), 0.0, 1.0, 30);
    }
    least.get()
}
