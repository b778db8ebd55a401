//! Water-handling and separator-liquid limits: generated fields of 4, 10
//! and 50 wells (concave and dead-zone curves, random water cuts, with and
//! without a binding gas, water and liquid limit) against optima computed
//! here by other methods — an exhaustive grid for 4 wells; for 10 and 50 a
//! Lagrangian search whose inner problem is a gas-grid DP written here (the
//! best feasible allocation it visits is the reference; the dual bound it
//! gives is printed) — and the plan through `run` (binding limits, wells
//! without a water cut, infeasible limits).

use crate::common::*;
use nexus_plugin_sdk::WellTest;
use optimizer_gas_lift_allocation::{Config, FluidLimits, WellInput, allocate_fluids, run};

/// A generated field with water–oil ratios and fluid limits.
struct Field {
    inst: Instance,
    wor: Vec<f64>,
    limits: FluidLimits,
}

fn water(f: &Field, gas: &[f64]) -> f64 {
    f.inst.wells.iter().zip(gas).zip(&f.wor).map(|((w, g), r)| r * w.curve.oil(*g)).sum()
}

fn liquid(f: &Field, gas: &[f64]) -> f64 {
    f.inst.wells.iter().zip(gas).zip(&f.wor).map(|((w, g), r)| (1.0 + r) * w.curve.oil(*g)).sum()
}

/// Each well's feasible grid `{0} ∪ {lo + k(hi−lo)/m}`.
fn grid(w: &GenWell, m: usize) -> Vec<f64> {
    let mut o = vec![0.0];
    o.extend((0..=m).map(|k| w.lo + (w.hi - w.lo) * k as f64 / m as f64));
    o
}

/// `kind`: 0 none, 1 water, 2 liquid, 3 both. A limit is set between the
/// wells' least fluid and their fluid at the peaks (20–60 % of the way).
fn field(seed: u64, n: usize, gas_binding: bool, kind: u8) -> Field {
    let inst = instance(seed, n, gas_binding);
    let mut rng = Rng(seed ^ 0xF1E1D);
    let wor: Vec<f64> = inst
        .wells
        .iter()
        .map(|_| {
            let wc = if rng.uniform(0.0, 1.0) < 0.15 { 0.0 } else { rng.uniform(0.05, 0.9) };
            wc / (1.0 - wc)
        })
        .collect();
    let span = |r: &dyn Fn(f64) -> f64| {
        let (mut least, mut most) = (0.0, 0.0);
        for (w, x) in inst.wells.iter().zip(&wor) {
            let q: Vec<f64> = grid(w, 400).iter().map(|g| w.curve.oil(*g)).collect();
            least += r(*x) * q.iter().copied().fold(f64::INFINITY, f64::min);
            most += r(*x) * q.iter().copied().fold(0.0, f64::max);
        }
        (least, most)
    };
    let mut limit = |r: &dyn Fn(f64) -> f64| {
        let (least, most) = span(r);
        least + rng.uniform(0.2, 0.6) * (most - least)
    };
    let water = matches!(kind, 1 | 3).then(|| limit(&|r| r));
    let liquid = matches!(kind, 2 | 3).then(|| limit(&|r| 1.0 + r));
    Field { inst, wor, limits: FluidLimits { water, liquid } }
}

/// The best total oil over the 4 wells' grids (m steps) within every limit,
/// by exhaustive search.
fn exhaustive_4(f: &Field, m: usize) -> f64 {
    let opts: Vec<Vec<(f64, f64)>> =
        f.inst.wells.iter().map(|w| grid(w, m).into_iter().map(|g| (g, w.curve.oil(g))).collect()).collect();
    let (gl, wl, ll) = (
        f.inst.limit.unwrap_or(f64::INFINITY),
        f.limits.water.unwrap_or(f64::INFINITY),
        f.limits.liquid.unwrap_or(f64::INFINITY),
    );
    let r = &f.wor;
    let mut best = f64::NEG_INFINITY;
    for &(g0, q0) in &opts[0] {
        for &(g1, q1) in &opts[1] {
            for &(g2, q2) in &opts[2] {
                let g = g0 + g1 + g2;
                let w = r[0] * q0 + r[1] * q1 + r[2] * q2;
                let l = q0 + q1 + q2 + w;
                if g > gl || w > wl || l > ll {
                    continue;
                }
                for &(g3, q3) in &opts[3] {
                    if g + g3 <= gl && w + r[3] * q3 <= wl && l + (1.0 + r[3]) * q3 <= ll {
                        best = best.max(q0 + q1 + q2 + q3);
                    }
                }
            }
        }
    }
    best
}

/// A well's DP options `(units, gas)` and its pick at each unit count.
type Picks = (Vec<(usize, f64)>, Vec<usize>);

/// The allocation maximising `Σ c_i f_i(g_i)` with every injection a multiple
/// of `G / steps` (or `lo`, charged the units above it), by DP over the
/// units of gas used; without a gas limit, each well's best on a grid.
fn dp_scaled(f: &Field, c: &[f64], steps: usize) -> Vec<f64> {
    let wells = &f.inst.wells;
    let Some(limit) = f.inst.limit else {
        return wells
            .iter()
            .zip(c)
            .map(|(w, c)| {
                grid(w, steps)
                    .into_iter()
                    .max_by(|a, b| (c * w.curve.oil(*a)).total_cmp(&(c * w.curve.oil(*b))))
                    .unwrap_or(0.0)
            })
            .collect();
    };
    let d = limit / steps as f64;
    let mut best = vec![0.0f64; steps + 1];
    let mut picks: Vec<Picks> = Vec::new();
    for (w, c) in wells.iter().zip(c) {
        let mut opts = vec![(0usize, 0.0)];
        let k0 = (w.lo / d).ceil() as usize;
        if w.lo > 0.0 && k0 <= steps {
            opts.push((k0, w.lo));
        }
        let mut k = if w.lo > 0.0 { k0 + 1 } else { 1 };
        while k <= steps && k as f64 * d <= w.hi {
            opts.push((k, k as f64 * d));
            k += 1;
        }
        let vals: Vec<f64> = opts.iter().map(|o| c * w.curve.oil(o.1)).collect();
        let mut next = vec![f64::NEG_INFINITY; steps + 1];
        let mut pick = vec![0usize; steps + 1];
        for u in 0..=steps {
            for (o, &(cost, _)) in opts.iter().enumerate() {
                if cost > u {
                    break;
                }
                let v = best[u - cost] + vals[o];
                if v > next[u] {
                    next[u] = v;
                    pick[u] = o;
                }
            }
        }
        best = next;
        picks.push((opts, pick));
    }
    let mut gas = vec![0.0; wells.len()];
    let mut u = steps;
    for i in (0..wells.len()).rev() {
        let (opts, pick) = &picks[i];
        let (cost, g) = opts[pick[u]];
        gas[i] = g;
        u -= cost;
    }
    gas
}

/// Lagrangian search with the DP as inner solver: bisection on the price of
/// liquid (outer) and of water (inner); returns the best feasible oil it
/// visits and the least dual bound `Σ c_i f_i + μ_w W + μ_l L` (a bound on
/// the grid problem).
fn lagrangian_dp(f: &Field, steps: usize, iterations: usize) -> (f64, f64) {
    let oil = |g: &[f64]| f.inst.wells.iter().zip(g).map(|(w, g)| w.curve.oil(*g)).sum::<f64>();
    let (wl, ll) = (f.limits.water.unwrap_or(f64::INFINITY), f.limits.liquid.unwrap_or(f64::INFINITY));
    let mut primal = f64::NEG_INFINITY;
    let mut dual = f64::INFINITY;
    let mut solve = |mw: f64, ml: f64| -> (f64, f64) {
        let c: Vec<f64> = f.wor.iter().map(|r| 1.0 - mw * r - ml * (1.0 + r)).collect();
        let g = dp_scaled(f, &c, steps);
        let (w, l) = (water(f, &g), liquid(f, &g));
        let value: f64 = f.inst.wells.iter().zip(&g).zip(&c).map(|((wl, g), c)| c * wl.curve.oil(*g)).sum();
        dual =
            dual.min(value + mw * if wl.is_finite() { wl } else { 0.0 } + ml * if ll.is_finite() { ll } else { 0.0 });
        if w <= wl && l <= ll {
            primal = primal.max(oil(&g));
        }
        (w, l)
    };
    let max_w = 1.0 / f.wor.iter().copied().filter(|r| *r > 0.0).fold(f64::INFINITY, f64::min);
    let inner = |ml: f64, solve: &mut dyn FnMut(f64, f64) -> (f64, f64)| -> (f64, f64) {
        let first = solve(0.0, ml);
        if first.0 <= wl || !max_w.is_finite() {
            return first;
        }
        let (mut lo, mut hi) = (0.0, max_w);
        let mut at = first;
        for _ in 0..iterations {
            let mid = 0.5 * (lo + hi);
            let r = solve(mid, ml);
            if r.0 > wl { lo = mid } else { (hi, at) = (mid, r) }
        }
        at
    };
    let first = inner(0.0, &mut solve);
    if first.1 > ll {
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..iterations {
            let mid = 0.5 * (lo + hi);
            if inner(mid, &mut solve).1 > ll { lo = mid } else { hi = mid }
        }
    }
    (primal, dual)
}

/// Runs the component on generated fields and checks it against `oracle`.
fn check(n: usize, seeds: &[u64], oracle: impl Fn(&Field) -> (f64, f64)) {
    let mut binding = [0usize; 2];
    let mut worst = f64::INFINITY;
    for &seed in seeds {
        for gas_binding in [true, false] {
            for kind in 0..4u8 {
                let f = field(seed * 7919 + n as u64, n, gas_binding, kind);
                let wells: Vec<WellInput> = f
                    .inst
                    .wells
                    .iter()
                    .map(|w| WellInput { curve: &w.curve, lo: w.lo, hi: w.hi, allow_zero: true })
                    .collect();
                let a = allocate_fluids(&wells, &f.wor, f.inst.limit, f.limits);
                let u = a.fluids.clone().expect("fluid use");
                let total: f64 = f.inst.wells.iter().zip(&a.gas).map(|(w, g)| w.curve.oil(*g)).sum();
                let (best, bound) = oracle(&f);
                let ratio = total / best;
                worst = worst.min(ratio);
                binding[0] += usize::from(u.water_binds);
                binding[1] += usize::from(u.liquid_binds);
                eprintln!(
                    "{n} wells, seed {seed}, gas {:?}, water {:?}, liquid {:?}: component {total:.3} vs oracle \
                     {best:.3} ({:.4} %; dual bound {:.3}), binds gas {} water {} liquid {}, μ_w {:.4} μ_l {:.4}, {}",
                    f.inst.limit.map(|g| g.round()),
                    f.limits.water.map(|g| g.round()),
                    f.limits.liquid.map(|g| g.round()),
                    100.0 * ratio,
                    bound,
                    a.gas_binds,
                    u.water_binds,
                    u.liquid_binds,
                    u.mu_water,
                    u.mu_liquid,
                    a.method
                );
                assert!(u.feasible, "seed {seed}: limits are feasible by construction");
                assert!(total >= 0.995 * best, "seed {seed} kind {kind}: {total} < 99.5 % of {best}");
                if let Some(g) = f.inst.limit {
                    assert!(a.gas.iter().sum::<f64>() <= g + 1.0e-9, "seed {seed}: gas over the limit");
                }
                if let Some(w) = f.limits.water {
                    assert!(water(&f, &a.gas) <= w * (1.0 + 1.0e-9) + 1.0e-9, "seed {seed}: water over the limit");
                }
                if let Some(l) = f.limits.liquid {
                    assert!(liquid(&f, &a.gas) <= l * (1.0 + 1.0e-9) + 1.0e-9, "seed {seed}: liquid over the limit");
                }
                for (w, g) in f.inst.wells.iter().zip(&a.gas) {
                    assert!(
                        *g == 0.0 || (*g >= w.lo && *g <= w.hi),
                        "seed {seed}: {g} outside {{0}} ∪ [{}, {}]",
                        w.lo,
                        w.hi
                    );
                }
            }
        }
    }
    eprintln!(
        "{n} wells: worst {:.4} % of the oracle; water bound in {}, liquid in {} runs",
        100.0 * worst,
        binding[0],
        binding[1]
    );
    assert!(binding[0] >= seeds.len() && binding[1] >= seeds.len(), "the limits must bind in many runs: {binding:?}");
}

#[test]
fn fluids_4_wells_reach_the_exhaustive_grid_optimum() {
    check(4, &[1, 2, 3, 4, 5, 6], |f| (exhaustive_4(f, 80), f64::NAN));
}

#[test]
fn fluids_10_wells_reach_a_lagrangian_dp_optimum() {
    check(10, &[11, 12, 13, 14], |f| lagrangian_dp(f, 800, 24));
}

#[test]
fn fluids_50_wells_reach_a_lagrangian_dp_optimum() {
    check(50, &[21, 22, 23], |f| lagrangian_dp(f, 300, 16));
}

/// A test at injection `g` with a water cut.
fn test_with_water(ts: i64, g: f64, oil: f64, water: f64) -> WellTest {
    WellTest { water_bbl_d: water, ..well_test(ts, g, oil) }
}

#[test]
fn plan_enforces_water_reports_prices_and_wells_without_a_water_cut() {
    let curves: Vec<_> =
        [(200.0, 0.40, -2.0e-4), (150.0, 0.55, -3.5e-4), (300.0, 0.30, -1.0e-4), (100.0, 0.70, -6.0e-4)]
            .iter()
            .map(|&(a, b, c)| optimizer_gas_lift_allocation::Curve::Quadratic { a, b, c })
            .collect();
    let cuts = [0.8, 0.2, 0.5, f64::NAN];
    let wells: Vec<_> = curves
        .iter()
        .zip(cuts)
        .enumerate()
        .map(|(i, (c, wc))| {
            let tests = (0..6)
                .map(|k| {
                    let g = 300.0 * k as f64;
                    let q = c.oil(g);
                    test_with_water(1_000 * (6 - k), g, q, if wc.is_nan() { f64::NAN } else { q * wc / (1.0 - wc) })
                })
                .collect();
            well_with_tests(&format!("W{}", i + 1), tests)
        })
        .collect();
    let mut context = crate::common::field(wells, Some(3000.0), Vec::new());
    // At G = 3000 alone the wells make 1556.6 bbl/d of oil and about 2155 bbl/d
    // of water; at their least-oil injections about 1100.
    context.constraints.water_handling = Some(1500.0);
    let plan = run(&Config::default(), &context);
    let d: serde_json::Value = serde_json::from_str(&plan.details).expect("JSON");
    println!("{}\n{:#}", plan.rationale, d["fluids"]);
    assert_eq!(d["unenforced"], serde_json::json!([]));
    assert_eq!(d["fluids"]["water_binds"], true, "{}", plan.rationale);
    let water = d["fluids"]["water_bbl_d"].as_f64().expect("water");
    assert!(water <= 1500.0 + 1e-6 && water > 1499.0, "{water}");
    assert!(d["shadow_prices"]["water_bbl_oil_per_bbl"].as_f64().expect("μ") > 0.0);
    assert!(plan.rationale.contains("water handling (μ ="), "{}", plan.rationale);
    assert_eq!(d["fluids"]["wells_without_water_cut"], serde_json::json!(["W4"]));
    assert!(d["wells"][3]["water"]["note"].as_str().expect("note").contains("taken as 0"));
    let per_well: f64 = (0..4).map(|i| d["wells"][i]["water_bbl_d"].as_f64().expect("water")).sum();
    assert!((per_well - water).abs() < 1e-6);
    // The wettest well (W1, 80 % water) gives up oil to the drier ones.
    let g1 = d["wells"][0]["gas_mscf_d"].as_f64().expect("gas");
    assert!(g1 < 777.44 - 50.0, "W1 {g1}");
    // Infeasible: less water than the wells make at their least oil.
    context.constraints.water_handling = Some(1000.0);
    let plan = run(&Config::default(), &context);
    let d: serde_json::Value = serde_json::from_str(&plan.details).expect("JSON");
    assert!(plan.recommendations.is_empty(), "{}", plan.rationale);
    assert_eq!(d["feasible"], false);
    assert_eq!(d["fluids"]["feasible"], false);
    assert!(plan.rationale.contains("Infeasible"), "{}", plan.rationale);
    assert!(d["fluids"]["least_water_bbl_d"].as_f64().expect("least") > 1000.0);
}
