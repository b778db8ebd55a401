//! Times a 50-well allocation natively: fitting each well's curve to its
//! tests and allocating a binding gas limit (mixed curves: quadratic,
//! quadratic+log, saturating exponential, dead-zone tables; some wells with
//! a minimum injection). Prints the median of 20 runs.

use optimizer_gas_lift_allocation::{Curve, WellInput, allocate, fit};
use std::time::Instant;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A well's tests (injection, oil) and its minimum injection.
fn well(rng: &mut Rng) -> (Vec<(f64, f64)>, f64) {
    let p = rng.uniform(300.0, 1500.0);
    let h = rng.uniform(100.0, 400.0);
    let q0 = rng.uniform(0.0, 300.0);
    let curve = match rng.next_u64() % 4 {
        0 => Curve::Quadratic { a: q0, b: 2.0 * h / p, c: -h / (p * p) },
        1 => {
            let c4 = rng.uniform(5.0, 40.0);
            Curve::QuadLog { c1: q0, c2: 2.0 * h / p - c4 / (p + 1.0), c3: -h / (p * p), c4 }
        }
        2 => Curve::SaturatingExp { q0, a: h, beta: 3.0 / p },
        _ => {
            let u = rng.uniform(100.0, 500.0);
            Curve::Table { points: vec![(0.0, 0.0), (u, 0.0), (u + 5.0, 80.0), (u + p, 80.0 + h)] }
        }
    };
    let tests = (0..8).map(|k| 1.4 * p * k as f64 / 7.0 + 1.0).map(|g| (g, curve.oil(g))).collect();
    let lo = if rng.uniform(0.0, 1.0) < 0.3 { rng.uniform(50.0, 300.0) } else { 0.0 };
    (tests, lo)
}

fn main() {
    let mut rng = Rng(42);
    let wells: Vec<(Vec<(f64, f64)>, f64)> = (0..50).map(|_| well(&mut rng)).collect();
    let runs = 20;
    let mut times = Vec::with_capacity(runs);
    let mut oil = 0.0;
    let mut binds = true;
    for _ in 0..runs {
        let start = Instant::now();
        let fits: Vec<fit::Fit> = wells.iter().filter_map(|(tests, _)| fit::fit(tests).ok()).collect();
        let inputs: Vec<WellInput> = fits
            .iter()
            .zip(&wells)
            .map(|(f, (_, lo))| WellInput { curve: &f.curve, lo: *lo, hi: f.cap(), allow_zero: true })
            .collect();
        let limit = 0.4 * fits.iter().map(fit::Fit::cap).sum::<f64>() / 1.2 / 1.4;
        let a = allocate(&inputs, Some(limit));
        times.push(start.elapsed().as_secs_f64() * 1e3);
        oil = a.total_oil;
        binds &= a.gas_binds;
    }
    times.sort_by(f64::total_cmp);
    let median = 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    println!(
        "50-well allocation: median {median:.1} ms (n={runs}; fit + allocate, gas binds: {binds}, oil {oil:.1} bbl/d)"
    );
}
