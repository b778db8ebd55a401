//! Test helpers: a seeded PRNG, generated wells, field contexts and two
//! independent oracles (exhaustive grid search, DP on a fine grid) written
//! here, not calling the crate's allocation.

#![allow(dead_code)]

use nexus_plugin_sdk::{
    FieldConstraints, FieldContext, InjectionBounds, SeriesBuilder, Setpoint, SetpointSource, Value, WellContext,
    WellTest,
};
use optimizer_gas_lift_allocation::Curve;

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One generated well: its true curve, its feasible set and the injection
/// where it peaks (the scale of its curve).
#[derive(Debug, Clone)]
pub struct GenWell {
    pub curve: Curve,
    pub lo: f64,
    pub hi: f64,
    pub peak: f64,
}

/// A generated instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub wells: Vec<GenWell>,
    pub limit: Option<f64>,
}

/// A random well: quadratic, quadratic+log (c4 > 0), saturating exponential
/// or a dead-zone table (0 until it unloads, then a jump and a concave rise);
/// some wells with `lo > 0`.
pub fn random_well(rng: &mut Rng) -> GenWell {
    let p = rng.uniform(300.0, 1500.0);
    let h = rng.uniform(100.0, 400.0);
    let kind = (rng.next_u64() % 4) as usize;
    let curve = match kind {
        0 => Curve::Quadratic { a: rng.uniform(0.0, 300.0), b: 2.0 * h / p, c: -h / (p * p) },
        1 => {
            let c4 = rng.uniform(5.0, 40.0);
            Curve::QuadLog { c1: rng.uniform(0.0, 300.0), c2: 2.0 * h / p - c4 / (p + 1.0), c3: -h / (p * p), c4 }
        }
        2 => Curve::SaturatingExp { q0: rng.uniform(0.0, 300.0), a: h, beta: 3.0 / p },
        _ => {
            let unload = rng.uniform(100.0, 500.0);
            let jump = rng.uniform(30.0, 150.0);
            let mut points = vec![(0.0, 0.0), (unload, 0.0), (unload + 5.0, jump)];
            for k in 1..=8 {
                let x = k as f64 / 8.0;
                points.push((unload + 5.0 + p * x, jump + h * (2.0 * x - x * x)));
            }
            Curve::Table { points }
        }
    };
    let peak = if kind == 3 { p + 500.0 } else { p };
    let lo = if rng.uniform(0.0, 1.0) < 0.35 { rng.uniform(50.0, 350.0) } else { 0.0 };
    let hi = (peak * rng.uniform(0.8, 1.4)).max(lo + 150.0);
    GenWell { curve, lo, hi, peak }
}

/// `n` random wells; with `binding`, a gas limit of 25–60 % of what the
/// wells would take at their peaks.
pub fn instance(seed: u64, n: usize, binding: bool) -> Instance {
    let mut rng = Rng(seed);
    let wells: Vec<GenWell> = (0..n).map(|_| random_well(&mut rng)).collect();
    let want: f64 = wells.iter().map(|w| w.peak.min(w.hi)).sum();
    let limit = binding.then(|| want * rng.uniform(0.25, 0.6));
    Instance { wells, limit }
}

/// The best total oil over `{0} ∪ {lo + k(hi−lo)/m}` for every well, by
/// exhaustive search (4 wells: three nested loops and, for the last well,
/// the best option within the gas left via a prefix maximum).
pub fn exhaustive_4(inst: &Instance, m: usize) -> f64 {
    assert_eq!(inst.wells.len(), 4);
    let opts: Vec<Vec<(f64, f64)>> = inst.wells.iter().map(|w| options(w, m)).collect();
    let limit = inst.limit.unwrap_or(f64::INFINITY);
    let mut last = opts[3].clone();
    last.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut prefix = Vec::with_capacity(last.len());
    let mut best_so_far = f64::NEG_INFINITY;
    for &(_, q) in &last {
        best_so_far = best_so_far.max(q);
        prefix.push(best_so_far);
    }
    let mut best = f64::NEG_INFINITY;
    for &(g0, q0) in &opts[0] {
        for &(g1, q1) in &opts[1] {
            if g0 + g1 > limit {
                continue;
            }
            for &(g2, q2) in &opts[2] {
                let left = limit - g0 - g1 - g2;
                if left < 0.0 {
                    continue;
                }
                let i = last.partition_point(|o| o.0 <= left);
                if i > 0 {
                    best = best.max(q0 + q1 + q2 + prefix[i - 1]);
                }
            }
        }
    }
    best
}

fn options(w: &GenWell, m: usize) -> Vec<(f64, f64)> {
    let mut o = vec![(0.0, w.curve.oil(0.0))];
    for k in 0..=m {
        let g = w.lo + (w.hi - w.lo) * k as f64 / m as f64;
        o.push((g, w.curve.oil(g)));
    }
    o
}

/// The best total oil with every injection a multiple of `G / steps` (DP
/// over the units of gas used); without a limit, each well's best on a grid
/// of `steps` points of its interval.
pub fn dp_oracle(inst: &Instance, steps: usize) -> f64 {
    let Some(limit) = inst.limit else {
        return inst.wells.iter().map(|w| options(w, steps).into_iter().map(|o| o.1).fold(0.0, f64::max)).sum();
    };
    let d = limit / steps as f64;
    let mut best = vec![0.0f64; steps + 1];
    for w in &inst.wells {
        let mut opts = vec![(0usize, w.curve.oil(0.0))];
        let k0 = (w.lo / d).ceil() as usize;
        if w.lo > 0.0 && k0 <= steps {
            // `lo` itself, charged the units above it.
            opts.push((k0, w.curve.oil(w.lo)));
        }
        let mut k = k0.max(1);
        if w.lo > 0.0 {
            k = k0 + 1;
        }
        while k <= steps && k as f64 * d <= w.hi {
            opts.push((k, w.curve.oil(k as f64 * d)));
            k += 1;
        }
        let mut next = vec![f64::NEG_INFINITY; steps + 1];
        for (u, slot) in next.iter_mut().enumerate() {
            for &(cost, q) in &opts {
                if cost > u {
                    break;
                }
                *slot = slot.max(best[u - cost] + q);
            }
        }
        best = next;
    }
    best[steps]
}

/// A well test at injection `g` making `oil`.
pub fn well_test(ts: i64, g: f64, oil: f64) -> WellTest {
    WellTest {
        ts,
        duration_h: 12.0,
        oil_bbl_d: oil,
        water_bbl_d: 0.5 * oil,
        gas_mscf_d: 0.8 * oil + g,
        conditions: serde_json::json!({ "gas_injection_mscf_d": g }).to_string(),
    }
}

/// A well context with tests at `injections` from `curve`, newest first.
pub fn well_from_curve(id: &str, curve: &Curve, injections: &[f64]) -> WellContext {
    let n = injections.len() as i64;
    let tests = injections.iter().enumerate().map(|(i, &g)| well_test(1_000 * (n - i as i64), g, curve.oil(g)));
    well_with_tests(id, tests.collect())
}

/// A well context with the given tests and nothing else.
pub fn well_with_tests(id: &str, well_tests: Vec<WellTest>) -> WellContext {
    WellContext {
        well_id: id.into(),
        device_id: format!("dev-{id}"),
        readings: Vec::new(),
        setpoints: Vec::new(),
        static_data: "{}".into(),
        open_alarms: Vec::new(),
        open_recommendations: Vec::new(),
        well_tests,
    }
}

/// An injection setpoint.
pub fn setpoint(value: f64, min: Option<f64>, max: Option<f64>, max_step: Option<f64>) -> Setpoint {
    Setpoint {
        parameter: "gas_injection_mscf_d".into(),
        value,
        unit: "Mscf/d".into(),
        min,
        max,
        max_step,
        min_interval_ms: None,
        source: SetpointSource::Device,
        updated_at: 0,
    }
}

/// Readings of the injection key.
pub fn injection_readings(values: &[(i64, f64)]) -> Vec<nexus_plugin_sdk::Series> {
    let mut b = SeriesBuilder::new();
    for &(ts, v) in values {
        b.push("gas_injection", ts, Value::Number(v), 1.0);
    }
    b.build()
}

/// A group with the given wells and gas limit.
pub fn field(wells: Vec<WellContext>, lift_gas: Option<f64>, bounds: Vec<InjectionBounds>) -> FieldContext {
    FieldContext {
        group_id: "G1".into(),
        wells,
        constraints: FieldConstraints {
            lift_gas_available: lift_gas,
            compressor_capacity: None,
            water_handling: None,
            separator_liquid: None,
            injection_bounds: bounds,
        },
    }
}
