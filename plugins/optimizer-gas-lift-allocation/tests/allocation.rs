//! The allocation against Nexus's 4-well worked example (verified by brute
//! force), against independent oracles on generated fields, the curve
//! fitting and selection, and the plan's handling of bounds, interlocks,
//! missing curves and bad configuration.

mod common;
mod fluids;

use common::*;
use nexus_plugin_sdk::InjectionBounds;
use optimizer_gas_lift_allocation::{Config, Curve, WellInput, allocate, fit, parse_config, run};
use serde_json::Value;

/// The worked example's wells, (a, b, c) in STB/d against Mscf/d.
const WORKED: [(f64, f64, f64); 4] =
    [(200.0, 0.40, -2.0e-4), (150.0, 0.55, -3.5e-4), (300.0, 0.30, -1.0e-4), (100.0, 0.70, -6.0e-4)];

/// (G, λ, allocation, total oil) of the worked example; `None`: no limit.
const ROWS: [(Option<f64>, f64, [f64; 4], f64); 5] = [
    (Some(1000.0), 0.293902, [265.24, 365.85, 30.49, 338.41], 1173.628),
    (Some(2000.0), 0.191463, [521.34, 512.20, 542.68, 423.78], 1416.311),
    (Some(3000.0), 0.089024, [777.44, 658.54, 1054.88, 509.15], 1556.555),
    (Some(5000.0), 0.0, [1000.0, 785.71, 1500.0, 583.33], 1595.238),
    (None, 0.0, [1000.0, 785.71, 1500.0, 583.33], 1595.238),
];

fn worked_curves() -> Vec<Curve> {
    WORKED.iter().map(|&(a, b, c)| Curve::Quadratic { a, b, c }).collect()
}

fn details(json: &str) -> Value {
    serde_json::from_str(json).expect("details are JSON")
}

#[test]
fn worked_example_direct_allocation_matches_published_rows() {
    let curves = worked_curves();
    let wells: Vec<WellInput> =
        curves.iter().map(|c| WellInput { curve: c, lo: 0.0, hi: 2000.0, allow_zero: true }).collect();
    for (limit, lambda, gas, oil) in ROWS {
        let a = allocate(&wells, limit);
        for (i, (got, want)) in a.gas.iter().zip(gas).enumerate() {
            assert!((got - want).abs() <= 0.01, "G {limit:?}: W{} got {got:.4}, published {want}", i + 1);
        }
        assert!((a.total_oil - oil).abs() <= 0.001, "G {limit:?}: oil {:.6} vs {oil}", a.total_oil);
        assert!((a.lambda - lambda).abs() <= 1.0e-4, "G {limit:?}: λ {:.6} vs {lambda}", a.lambda);
        assert_eq!(a.gas_binds, lambda > 0.0, "G {limit:?}");
    }
}

#[test]
fn worked_example_end_to_end_from_well_tests() {
    let curves = worked_curves();
    let peaks: Vec<f64> = WORKED.iter().map(|&(_, b, c)| -b / (2.0 * c)).collect();
    for (limit, lambda, gas, oil) in ROWS {
        let mut wells: Vec<_> = curves
            .iter()
            .zip(&peaks)
            .enumerate()
            .map(|(i, (c, p))| {
                let injections: Vec<f64> = (0..6).map(|k| 1.3 * p * k as f64 / 5.0).collect();
                well_from_curve(&format!("W{}", i + 1), c, &injections)
            })
            .collect();
        wells[0].setpoints.push(setpoint(300.0, None, None, None));
        wells[1].readings = injection_readings(&[(1, 250.0), (2, 400.0)]);
        let context = field(wells, limit, Vec::new());
        let plan = run(&Config::default(), &context);
        let d = details(&plan.details);
        let rows = d["wells"].as_array().expect("wells");
        for (i, want) in gas.iter().enumerate() {
            assert_eq!(rows[i]["model"], "quadratic", "W{} model", i + 1);
            let got = rows[i]["gas_mscf_d"].as_f64().expect("gas");
            assert!((got - want).abs() <= 0.05, "G {limit:?}: W{} got {got:.4}, published {want}", i + 1);
        }
        let planned = d["field_oil_bbl_d"].as_f64().expect("oil");
        assert!((planned - oil).abs() <= 0.01, "G {limit:?}: oil {planned} vs {oil}");
        let l = d["lambda_bbl_per_mscf"].as_f64().expect("λ");
        assert!((l - lambda).abs() <= 1.0e-3, "G {limit:?}: λ {l} vs {lambda}");
        // Every well moves by more than 10 Mscf/d from its current injection.
        assert_eq!(plan.recommendations.len(), 4, "{}", plan.rationale);
        let w1 = &plan.recommendations[0];
        assert_eq!((w1.device_id.as_str(), w1.current_value, w1.unit.as_str()), ("dev-W1", 300.0, "Mscf/d"));
        assert_eq!(plan.recommendations[1].current_value, 400.0, "latest reading");
        assert!(plan.recommendations[2].rationale.contains("unknown"), "{}", plan.recommendations[2].rationale);
        for (r, want) in plan.recommendations.iter().zip(gas) {
            assert!((r.proposed_value - want).abs() <= 0.05 + 0.005);
            assert!((r.proposed_value * 100.0 - (r.proposed_value * 100.0).round()).abs() < 1e-6);
        }
        let expected = d["expected_field_gain_bbl_d"].as_f64().expect("gain");
        let now: f64 = [300.0, 400.0, 0.0, 0.0].iter().zip(&curves).map(|(g, c)| c.oil(*g)).sum();
        assert!((expected - (oil - now)).abs() <= 0.01, "gain {expected} vs {}", oil - now);
        let binding: Vec<&str> = d["binding"].as_array().expect("binding").iter().filter_map(Value::as_str).collect();
        assert_eq!(binding.contains(&"lift gas available"), lambda > 0.0, "{binding:?}");
    }
}

/// Runs the component on generated instances and compares with an oracle.
fn check_generated(n: usize, seeds: &[u64], oracle: impl Fn(&Instance) -> f64) {
    for &seed in seeds {
        for binding in [true, false] {
            let inst = instance(seed * 7919 + n as u64, n, binding);
            let wells: Vec<WellInput> = inst
                .wells
                .iter()
                .map(|w| WellInput { curve: &w.curve, lo: w.lo, hi: w.hi, allow_zero: true })
                .collect();
            let a = allocate(&wells, inst.limit);
            let total: f64 = inst.wells.iter().zip(&a.gas).map(|(w, g)| w.curve.oil(*g)).sum();
            let best = oracle(&inst);
            eprintln!(
                "{n} wells, seed {seed}, limit {:?}: component {total:.3} vs oracle {best:.3} ({:.4} %), method {}",
                inst.limit,
                100.0 * total / best,
                a.method
            );
            assert!(total >= 0.995 * best, "seed {seed}: {total} < 99.5 % of {best}");
            if let Some(g) = inst.limit {
                assert!(a.gas.iter().sum::<f64>() <= g + 1.0e-9, "seed {seed}: total gas over the limit");
            }
            for (w, g) in inst.wells.iter().zip(&a.gas) {
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

#[test]
fn generated_4_wells_reach_the_exhaustive_grid_optimum() {
    check_generated(4, &[1, 2, 3, 4, 5, 6], |inst| exhaustive_4(inst, 200));
}

#[test]
fn generated_10_wells_reach_a_fine_grid_dp_optimum() {
    check_generated(10, &[11, 12, 13, 14], |inst| dp_oracle(inst, 3000));
}

#[test]
fn generated_50_wells_reach_a_fine_grid_dp_optimum() {
    check_generated(50, &[21, 22, 23], |inst| dp_oracle(inst, 2000));
}

fn sample(curve: &Curve, injections: &[f64]) -> Vec<(f64, f64)> {
    injections.iter().map(|&g| (g, curve.oil(g))).collect()
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-12)
}

#[test]
fn noise_free_tests_recover_each_family() {
    let grid: Vec<f64> = (0..8).map(|k| 1600.0 * k as f64 / 7.0).collect();
    let quad = Curve::Quadratic { a: 200.0, b: 0.4, c: -2.0e-4 };
    let ql = Curve::QuadLog { c1: 120.0, c2: 0.25, c3: -1.2e-4, c4: 25.0 };
    let sat = Curve::SaturatingExp { q0: 80.0, a: 300.0, beta: 2.5e-3 };
    for truth in [&quad, &ql, &sat] {
        let f = fit::fit(&sample(truth, &grid)).expect("a curve");
        assert_eq!(f.curve.model(), truth.model(), "aicc {:?}", f.aicc);
        let (got, want) = (f.curve.coefficients(), truth.coefficients());
        for (k, v) in want.as_object().expect("object") {
            let g = got[k].as_f64().expect("coefficient");
            let w = v.as_f64().expect("coefficient");
            assert!(close(g, w, 1.0e-6), "{}: {k} = {g} vs {w}", truth.model());
        }
        assert!(f.r2 > 0.999_999 && (f.confidence - f.r2).abs() < 1e-12);
        assert_eq!(f.cap(), 1.2 * 1600.0);
    }
}

/// ±2 % noise on each test's rate (uniform, seeded), 12 tests from 0 to
/// 1.5× the peak. The least-squares quadratic recovers a, b, c within 6 %
/// and the peak within 5 % for every seed; the chosen curve is that
/// quadratic unless its RMSE exceeds 3 % of the range of the rates (the
/// selection rule), when it is the table.
#[test]
fn noisy_quadratic_tests_give_the_quadratic_within_a_few_percent() {
    let (a, b, c) = (60.0, 0.8, -4.0e-4);
    let truth = Curve::Quadratic { a, b, c };
    let mut chosen_quadratic = 0;
    for seed in 1..=10 {
        let mut rng = Rng(seed);
        let points: Vec<(f64, f64)> = (0..12)
            .map(|k| {
                let g = 1500.0 * k as f64 / 11.0;
                (g, truth.oil(g) * (1.0 + rng.uniform(-0.02, 0.02)))
            })
            .collect();
        let ls = fit::fit_quadratic(&points).expect("a quadratic that turns down");
        let Curve::Quadratic { a: fa, b: fb, c: fc } = ls.curve else { panic!("a quadratic") };
        let peak = -fb / (2.0 * fc);
        eprintln!("seed {seed}: a {fa:.3} b {fb:.5} c {fc:.4e} peak {peak:.1}");
        assert!(close(fa, a, 0.06) && close(fb, b, 0.05) && close(fc, c, 0.05), "seed {seed}: {fa} {fb} {fc}");
        assert!(close(peak, 1000.0, 0.05), "seed {seed}: peak {peak}");
        let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p.1), h.max(p.1)));
        let rmse = (ls.sse / points.len() as f64).sqrt();
        let chosen = fit::fit(&points).expect("a curve");
        if rmse <= fit::MAX_RELATIVE_RMSE * (hi - lo) {
            assert_eq!(chosen.curve, ls.curve, "seed {seed}: aicc {:?}", chosen.aicc);
            chosen_quadratic += 1;
        } else {
            assert_eq!(chosen.curve.model(), "table", "seed {seed}");
        }
    }
    eprintln!("quadratic chosen for {chosen_quadratic} of 10 seeds");
    assert!(chosen_quadratic >= 5, "the quadratic is chosen for only {chosen_quadratic} of 10 seeds");
}

#[test]
fn dead_zone_well_gets_a_table() {
    let tests = [(0.0, 0.0), (200.0, 0.0), (400.0, 0.0), (450.0, 180.0), (700.0, 260.0), (1000.0, 300.0)];
    let f = fit::fit(&tests).expect("a curve");
    assert_eq!(f.curve.model(), "table");
    assert_eq!(f.confidence, 0.6);
    assert_eq!(f.curve.oil(300.0), 0.0);
    assert!((f.curve.oil(575.0) - 220.0).abs() < 1e-9);
}

#[test]
fn bad_config_is_invalid_config() {
    for bad in [r#"{"bogus": 1}"#, r#"{"min_change_mscf_d": -1}"#, r#"{"parameter": ""}"#, "[1]"] {
        let err = parse_config(bad).expect_err(bad);
        assert_eq!(err.code, "invalid-config", "{bad}");
    }
    assert_eq!(parse_config("").expect("defaults"), Config::default());
}

#[test]
fn well_without_enough_tests_gets_no_recommendation() {
    let quad = Curve::Quadratic { a: 200.0, b: 0.4, c: -2.0e-4 };
    let good = well_from_curve("W1", &quad, &[0.0, 300.0, 600.0, 900.0, 1200.0]);
    let mut thin = well_with_tests("W2", vec![well_test(1, 500.0, 300.0), well_test(2, f64::NAN, 0.0)]);
    thin.well_tests.push(nexus_plugin_sdk::WellTest { conditions: "{}".into(), ..well_test(3, 0.0, 10.0) });
    thin.setpoints.push(setpoint(400.0, None, None, None));
    let mut context = field(vec![good, thin], Some(700.0), Vec::new());
    context.constraints.water_handling = Some(5000.0);
    let plan = run(&Config::default(), &context);
    assert_eq!(plan.recommendations.len(), 1);
    assert_eq!(plan.recommendations[0].device_id, "dev-W1");
    let d = details(&plan.details);
    let reason = d["wells"][1]["no_curve_reason"].as_str().expect("a reason");
    assert!(reason.contains("1 usable"), "{reason}");
    // W2 keeps its 400 Mscf/d: 300 is left for W1.
    assert!((d["wells"][0]["gas_mscf_d"].as_f64().expect("gas") - 300.0).abs() < 1e-6, "{}", plan.details);
    assert_eq!(d["unenforced"], serde_json::json!([]), "water handling is enforced");
    assert_eq!(d["fluids"]["water_limit_bbl_d"], 5000.0);
    assert_eq!(d["fluids"]["water_binds"], false);
    assert!(plan.rationale.contains("without a curve: W2"), "{}", plan.rationale);
}

#[test]
fn setpoint_range_step_and_injection_bounds_are_respected() {
    let curves = worked_curves();
    let mut wells: Vec<_> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| well_from_curve(&format!("W{}", i + 1), c, &[0.0, 400.0, 800.0, 1200.0, 1600.0, 2000.0]))
        .collect();
    wells[0].setpoints.push(setpoint(300.0, Some(100.0), Some(600.0), Some(50.0)));
    wells[2].setpoints.push(setpoint(20.0, Some(0.0), Some(900.0), Some(40.0)));
    let bounds = vec![InjectionBounds { well_id: "W4".into(), min: 150.0, max: 200.0 }];
    let plan = run(&Config::default(), &field(wells, Some(3000.0), bounds));
    let d = details(&plan.details);
    let gas: Vec<f64> = (0..4).map(|i| d["wells"][i]["gas_mscf_d"].as_f64().expect("gas")).collect();
    // Unconstrained at G = 3000, W1 would take 777 and W3 1055.
    assert!((gas[0] - 350.0).abs() < 1e-6, "W1 step-limited: {gas:?}");
    assert!((gas[2] - 60.0).abs() < 1e-6, "W3 step-limited: {gas:?}");
    assert!((gas[3] - 200.0).abs() < 1e-6, "W4 at its bound: {gas:?}");
    assert!(gas.iter().sum::<f64>() <= 3000.0 + 1e-9);
    let w1 = plan.recommendations.iter().find(|r| r.device_id == "dev-W1").expect("W1 moves");
    let interlocks = details(&w1.details)["interlocks"].clone();
    for name in ["setpoint range", "setpoint step", "lift gas available"] {
        assert!(interlocks.as_array().expect("list").iter().any(|v| v == name), "{name}: {interlocks}");
    }
    // A step that cannot reach zero keeps the well lifted.
    let mut tight =
        well_from_curve("W5", &Curve::Quadratic { a: 0.0, b: 0.05, c: -1.0e-4 }, &[0.0, 100.0, 200.0, 300.0]);
    tight.setpoints.push(setpoint(200.0, None, None, Some(20.0)));
    let plan = run(&Config::default(), &field(vec![tight], Some(1000.0), Vec::new()));
    let g = details(&plan.details)["wells"][0]["gas_mscf_d"].as_f64().expect("gas");
    assert!((180.0..=220.0).contains(&g), "{g}");
}

#[test]
fn empty_group_is_an_empty_plan() {
    let plan = run(&Config::default(), &field(Vec::new(), Some(1000.0), Vec::new()));
    assert!(plan.recommendations.is_empty());
    assert_eq!(details(&plan.details)["wells"], serde_json::json!([]));
}
