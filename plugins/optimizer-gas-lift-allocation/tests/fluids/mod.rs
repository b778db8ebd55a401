//! Water-handling and separator-liquid limits: generated fields of 4, 10
//! and 50 wells (concave and dead-zone curves, random water cuts, with and
//! without a binding gas, water and liquid limit) against an optimum
//! computed here by other code — a DP over the wells with the gas and the
//! binding fluid used as state, run at two resolutions (see [`oracle`]),
//! and for 4 wells also an exhaustive grid — every DP answer checked
//! feasible, the better one the reference, with a Lagrangian upper bound
//! printed and checked above it; and the plan through `run` (binding
//! limits, wells without a water cut, infeasible limits).

mod oracle;

use crate::common::*;
use nexus_plugin_sdk::WellTest;
use optimizer_gas_lift_allocation::{Config, FluidLimits, WellInput, allocate_fluids, run};
use oracle::Resolution;

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

/// Checks the DP's allocation against every bound and limit with the
/// test's own totals.
fn assert_feasible(f: &Field, gas: &[f64], who: &str) {
    if let Some(g) = f.inst.limit {
        assert!(gas.iter().sum::<f64>() <= g * (1.0 + 1.0e-12), "{who}: gas over the limit");
    }
    if let Some(w) = f.limits.water {
        assert!(water(f, gas) <= w * (1.0 + 1.0e-9) + 1.0e-9, "{who}: water over the limit");
    }
    if let Some(l) = f.limits.liquid {
        assert!(liquid(f, gas) <= l * (1.0 + 1.0e-9) + 1.0e-9, "{who}: liquid over the limit");
    }
    for (w, g) in f.inst.wells.iter().zip(gas) {
        assert!(*g == 0.0 || (*g >= w.lo && *g <= w.hi), "{who}: {g} outside {{0}} ∪ [{}, {}]", w.lo, w.hi);
    }
}

/// Runs the component on generated fields of `n` wells and checks it
/// against the DP optimum at two resolutions (the better is the
/// reference; for 4 wells also the exhaustive grid), printing the
/// Lagrangian upper bound.
fn check(n: usize, seeds: &[u64], coarse: Resolution, fine: Resolution) {
    let mut binding = [0usize; 2];
    let (mut worst, mut worst_coarse, mut worst_bound) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
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
                let (bound, prices) = oracle::upper_bound(&f);
                let (c, d) = (oracle::dp(&f, coarse, prices), oracle::dp(&f, fine, prices));
                for o in [&c, &d] {
                    assert_feasible(&f, &o.gas, &format!("seed {seed} kind {kind}: the DP"));
                    let oil: f64 = f.inst.wells.iter().zip(&o.gas).map(|(w, g)| w.curve.oil(*g)).sum();
                    assert!((oil - o.oil).abs() <= 1.0e-9 * oil.max(1.0), "the DP's oil {} vs {oil}", o.oil);
                }
                let mut best = c.oil.max(d.oil);
                if n == 4 {
                    best = best.max(exhaustive_4(&f, 80));
                }
                let ratio = total / best;
                worst = worst.min(ratio);
                worst_coarse = worst_coarse.min(c.oil / d.oil);
                worst_bound = worst_bound.min(best / bound);
                binding[0] += usize::from(u.water_binds);
                binding[1] += usize::from(u.liquid_binds);
                eprintln!(
                    "{n} wells, seed {seed}, gas {:?}, water {:?}, liquid {:?}: component {total:.3} = {:.4} % of \
                     the DP {best:.3} (coarse {:.3}, fine {:.3}; upper bound {bound:.3}), binds gas {} water {} \
                     liquid {}, μ_w {:.4} μ_l {:.4}, {}",
                    f.inst.limit.map(|g| g.round()),
                    f.limits.water.map(|g| g.round()),
                    f.limits.liquid.map(|g| g.round()),
                    100.0 * ratio,
                    c.oil,
                    d.oil,
                    a.gas_binds,
                    u.water_binds,
                    u.liquid_binds,
                    u.mu_water,
                    u.mu_liquid,
                    a.method
                );
                assert!(u.feasible, "seed {seed}: limits are feasible by construction");
                assert_feasible(&f, &a.gas, &format!("seed {seed} kind {kind}: the component"));
                assert!(total >= 0.995 * best, "seed {seed} kind {kind}: {total} < 99.5 % of {best}");
                assert!(
                    best <= bound * (1.0 + 1.0e-9),
                    "seed {seed} kind {kind}: the DP {best} over the bound {bound}"
                );
            }
        }
    }
    eprintln!(
        "{n} wells: worst {:.4} % of the DP optimum; coarse DP at worst {:.4} % of the fine; DP at worst {:.4} % \
         of the upper bound; water bound in {}, liquid in {} runs",
        100.0 * worst,
        100.0 * worst_coarse,
        100.0 * worst_bound,
        binding[0],
        binding[1]
    );
    assert!(binding[0] >= seeds.len() && binding[1] >= seeds.len(), "the limits must bind in many runs: {binding:?}");
}

#[test]
fn fluids_4_wells_reach_the_dp_and_exhaustive_optimum() {
    let (coarse, fine) =
        (Resolution { points: 80, gas: 200, fluid: 200 }, Resolution { points: 160, gas: 400, fluid: 400 });
    check(4, &[1, 2, 3, 4, 5, 6], coarse, fine);
}

#[test]
fn fluids_10_wells_reach_the_dp_optimum() {
    let (coarse, fine) =
        (Resolution { points: 60, gas: 200, fluid: 200 }, Resolution { points: 120, gas: 400, fluid: 400 });
    check(10, &[11, 12, 13, 14], coarse, fine);
}

#[test]
fn fluids_50_wells_reach_the_dp_optimum() {
    let (coarse, fine) =
        (Resolution { points: 30, gas: 150, fluid: 150 }, Resolution { points: 60, gas: 300, fluid: 300 });
    check(50, &[21, 22], coarse, fine);
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
