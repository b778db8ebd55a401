//! Times the 1-year daily decline fit natively: 365 daily rates of a
//! hyperbolic well (b = 0.5) with 3 % lognormal noise, all three families,
//! their covariances and a forecast with its 80 % interval; median of 20 runs.
//! `cargo bench -p forecaster-arps-decline`.

use std::hint::black_box;
use std::time::Instant;

use forecaster_arps_decline::arps::Curve;
use forecaster_arps_decline::{fit, forecast};

/// SplitMix64 with a Box–Muller normal: seeded noise without dependencies.
fn noise(seed: &mut u64) -> f64 {
    let mut uniform = || {
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(), uniform());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn main() {
    let truth = Curve { qi: 1200.0, di: 0.01, b: 0.5 };
    let mut seed = 42;
    let points: Vec<(f64, f64)> =
        (0..365).map(|d| d as f64).map(|t| (t, truth.rate(t) * (0.03 * noise(&mut seed)).exp())).collect();
    let horizon: Vec<f64> = (0..=13).map(|k| 364.0 + f64::from(k) * 30.0).collect();
    let mut times = Vec::with_capacity(20);
    for _ in 0..20 {
        let start = Instant::now();
        let fit = fit(black_box(&points)).expect("the year fits");
        let bands = forecast(&fit, &horizon, 0.8);
        black_box((fit.best().std_errors(), bands));
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = (times[9] + times[10]) / 2.0;
    println!("1-year daily decline fit: median {median:.2} ms (n=20; min {:.2}, max {:.2})", times[0], times[19]);
}
