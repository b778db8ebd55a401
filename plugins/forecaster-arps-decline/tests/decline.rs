//! Arps decline: parameter recovery and family choice on synthetic wells,
//! the prediction interval's coverage of fresh observations, the component
//! glue (`run`) on paged hourly telemetry and on well tests, and the
//! configuration's checks. Every random draw is seeded.

mod common;
mod diagnostic;

use common::{DAY, HOUR, NOW, Rng, StoredHistory, context, daily, generated_well, rel, well_test};
use forecaster_arps_decline::arps::Curve;
use forecaster_arps_decline::config::{self, Config, Source};
use forecaster_arps_decline::{Family, FitError, fit, forecast, run};
use nexus_plugin_sdk::{PluginError, Series};
use serde_json::Value;

const EXPONENTIAL: Curve = Curve { qi: 1000.0, di: 0.004, b: 0.0 };
const HYPERBOLIC: Curve = Curve { qi: 1200.0, di: 0.01, b: 0.5 };
const HARMONIC: Curve = Curve { qi: 800.0, di: 0.008, b: 1.0 };

fn family_of(curve: &Curve) -> Family {
    if curve.b == 0.0 {
        Family::Exponential
    } else if curve.b == 1.0 {
        Family::Harmonic
    } else {
        Family::Hyperbolic
    }
}

/// Fits a year of daily rates of `truth` (log-sd `sigma`) and checks the
/// family and the parameters: qi and Di within 2 %, b within 0.02 or 2 %.
fn check_recovery(truth: &Curve, sigma: f64, seed: u64) {
    let points = daily(truth, 365, sigma, &mut Rng::new(seed));
    let fit = fit(&points).expect("a declining year fits");
    let best = fit.best().curve;
    let se = fit.best().std_errors();
    println!(
        "{:?} σ={sigma} seed {seed}: chose {:?}, qi {:.1} ({:+.2} %), Di {:.5} ({:+.2} %), b {:.4} (b free {:.4}); \
         se qi {:.2} Di {:.6} b {:?}; ΔAICc hyp−exp {:.1}, hyp−harm {:.1}",
        family_of(truth),
        fit.chosen,
        best.qi,
        100.0 * (best.qi / truth.qi - 1.0),
        best.di,
        100.0 * (best.di / truth.di - 1.0),
        best.b,
        fit.hyperbolic.curve.b,
        se.qi.unwrap_or(f64::NAN),
        se.di.unwrap_or(f64::NAN),
        se.b,
        fit.hyperbolic.aicc - fit.exponential.aicc,
        fit.hyperbolic.aicc - fit.harmonic.aicc,
    );
    assert_eq!(fit.chosen, family_of(truth), "seed {seed}: family");
    assert!(rel(best.qi, truth.qi) <= 0.02, "seed {seed}: qi {} vs {}", best.qi, truth.qi);
    assert!(rel(best.di, truth.di) <= 0.02, "seed {seed}: Di {} vs {}", best.di, truth.di);
    let b_error = (best.b - truth.b).abs();
    assert!(b_error <= 0.02 || b_error <= 0.02 * truth.b, "seed {seed}: b {} vs {}", best.b, truth.b);
}

#[test]
fn noise_free_years_recover_each_family_exactly() {
    for truth in [EXPONENTIAL, HYPERBOLIC, HARMONIC] {
        let points = daily(&truth, 365, 0.0, &mut Rng::new(0));
        let fit = fit(&points).expect("fits");
        let best = fit.best().curve;
        assert_eq!(fit.chosen, family_of(&truth));
        assert!(rel(best.qi, truth.qi) < 1e-6 && rel(best.di, truth.di) < 1e-6, "{best:?} vs {truth:?}");
        assert!((best.b - truth.b).abs() < 1e-6, "{best:?} vs {truth:?}");
        assert!(!fit.b_above_one);
    }
}

/// Exponential and harmonic years with 3 % daily noise, 5 seeds each:
/// within 2 % (their Di has a standard error of about 0.4 %).
#[test]
fn noisy_exponential_and_harmonic_years_recover_parameters_within_2_percent() {
    for truth in [EXPONENTIAL, HARMONIC] {
        for seed in 1..=5 {
            check_recovery(&truth, 0.03, seed);
        }
    }
}

/// The hyperbolic year's Di has a standard error of about 1.5 % at 3 %
/// daily noise (qi, Di and b are strongly correlated over one year), so
/// "within 2 %" is a claim at 1 % noise (standard error about 0.5 %).
#[test]
fn noisy_hyperbolic_years_recover_parameters_within_2_percent_at_1_percent_noise() {
    for seed in 1..=5 {
        check_recovery(&HYPERBOLIC, 0.01, seed);
    }
}

/// At 3 % noise the hyperbolic year is recovered within three of the
/// fit's own standard errors (which checks those too), family included.
#[test]
fn noisy_hyperbolic_years_at_3_percent_noise_are_within_3_standard_errors() {
    for seed in 1..=5 {
        let fit = fit(&daily(&HYPERBOLIC, 365, 0.03, &mut Rng::new(seed))).expect("fits");
        let (best, se) = (fit.best().curve, fit.best().std_errors());
        let z = |estimate: f64, truth: f64, se: Option<f64>| (estimate - truth) / se.expect("standard error");
        let (zq, zd, zb) = (z(best.qi, HYPERBOLIC.qi, se.qi), z(best.di, HYPERBOLIC.di, se.di), z(best.b, 0.5, se.b));
        println!(
            "hyperbolic σ=0.03 seed {seed}: qi {:+.2} % (z {zq:+.2}), Di {:+.2} % (z {zd:+.2}), b {:.4} (z {zb:+.2})",
            100.0 * (best.qi / HYPERBOLIC.qi - 1.0),
            100.0 * (best.di / HYPERBOLIC.di - 1.0),
            best.b
        );
        assert_eq!(fit.chosen, Family::Hyperbolic);
        assert!(zq.abs() <= 3.0 && zd.abs() <= 3.0 && zb.abs() <= 3.0, "seed {seed}: z {zq} {zd} {zb}");
    }
}

/// How often each family is chosen over 100 noisy wells of each truth: the
/// rate at which AICc picks the wrong family, printed for the README.
#[test]
fn family_choice_rate_over_many_noisy_wells() {
    for truth in [EXPONENTIAL, HYPERBOLIC, HARMONIC] {
        let mut right = 0;
        for seed in 1000..1100 {
            let fit = fit(&daily(&truth, 365, 0.03, &mut Rng::new(seed))).expect("fits");
            right += usize::from(fit.chosen == family_of(&truth));
        }
        println!("{:?}: right family in {right} of 100 wells (σ = 3 %)", family_of(&truth));
        assert!(right >= 90, "{:?}: {right} of 100", family_of(&truth));
    }
}

#[test]
fn unconstrained_b_above_one_is_flagged() {
    let truth = Curve { qi: 1000.0, di: 0.05, b: 2.0 };
    let fit = fit(&daily(&truth, 365, 0.03, &mut Rng::new(7))).expect("fits");
    assert!(fit.b_above_one && (fit.b_unconstrained - 2.0).abs() < 0.2, "{fit:?}");
    assert!(fit.best().curve.b <= 1.0);
}

#[test]
fn rising_or_short_histories_do_not_fit() {
    let rising: Vec<(f64, f64)> = (0..30).map(|d| (d as f64, 100.0 + d as f64)).collect();
    assert!(matches!(fit(&rising), Err(FitError::Rising(_))));
    assert_eq!(fit(&rising[..5]), Err(FitError::TooFewPoints(5)));
    let shut_in: Vec<(f64, f64)> = (0..30).map(|d| (d as f64, if d < 26 { 0.0 } else { 50.0 })).collect();
    assert_eq!(fit(&shut_in), Err(FitError::TooFewPoints(4)));
}

/// 1000 seeded wells (random family, qi, Di, b and noise) fitted on their
/// first year: the 80 % interval must contain a fresh noisy observation of
/// the true rate 30, 90, 180 and 365 days after the last point 80 % of the
/// time (a prediction interval, so the observation, not the true rate, is
/// what it must cover).
///
/// 4000 checks. The four checks of one well share its fit, so they are not
/// independent: the standard error of the overall rate is taken from the
/// spread of the per-well rates (1000 independent clusters), not from the
/// binomial `√(0.8·0.2/4000)`. The test asserts the overall rate is at
/// least 80 % minus 2.33 of those standard errors (a one-sided 1 % test:
/// an interval that truly holds 80 % fails it once in a hundred seeds) and
/// at most 80 % plus 4 of them (not bought by a much wider interval), and
/// every horizon (1000 independent checks each) within 80 % ± 3 binomial
/// standard errors (±3.8 %). For comparison it prints the coverage of the
/// chosen family's own delta-method interval (without the family
/// uncertainty), computed here from the fit.
#[test]
fn the_80_percent_interval_covers_fresh_observations_80_percent_of_the_time() {
    let horizons = [30.0, 90.0, 180.0, 365.0];
    let wells = 1000;
    let level = 0.8;
    let mut inside = [0usize; 4];
    let mut chosen_inside = [0usize; 4];
    let mut per_well = Vec::with_capacity(wells);
    let mut true_rate_inside = 0;
    let mut rng = Rng::new(2024);
    for _ in 0..wells {
        let (truth, sigma, history) = generated_well(&mut rng);
        let fit = fit(&history).expect("fits");
        let times: Vec<f64> = horizons.iter().map(|h| 364.0 + h).collect();
        let mut here = 0;
        for (i, band) in forecast(&fit, &times, level).iter().enumerate() {
            let observed = truth.rate(band.t_days) * (sigma * rng.normal()).exp();
            let hit = band.low <= observed && observed <= band.high;
            inside[i] += usize::from(hit);
            here += usize::from(hit);
            true_rate_inside +=
                usize::from(band.low <= truth.rate(band.t_days) && truth.rate(band.t_days) <= band.high);
            // The chosen family alone: ln q̂ ± t·√(σ² + ∇ᵀC∇).
            let best = fit.best();
            let t_q = forecaster_arps_decline::forecast::interval_quantile(best, fit.n, level);
            let half = t_q * (best.sigma2 + best.ln_rate_variance(band.t_days)).sqrt();
            let centre = best.curve.ln_rate(band.t_days);
            chosen_inside[i] += usize::from((observed.ln() - centre).abs() <= half);
        }
        per_well.push(here as f64 / horizons.len() as f64);
    }
    let checks = wells * horizons.len();
    let coverage: Vec<f64> = inside.iter().map(|&k| k as f64 / wells as f64).collect();
    let overall = inside.iter().sum::<usize>() as f64 / checks as f64;
    let mean = per_well.iter().sum::<f64>() / wells as f64;
    let var = per_well.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (wells - 1) as f64;
    let se = (var / wells as f64).sqrt();
    let by = |counts: &[usize; 4]| {
        horizons
            .iter()
            .zip(counts)
            .map(|(h, k)| format!("{h}: {:.1} %", 100.0 * *k as f64 / wells as f64))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "80 % interval (model-averaged) coverage of fresh observations, {checks} checks over {wells} wells: \
         {:.1} % overall (cluster SE {:.2} %, binomial SE {:.2} %); by horizon (days) {}; of the true rate {:.1} %",
        100.0 * overall,
        100.0 * se,
        100.0 * (0.16 / checks as f64).sqrt(),
        by(&inside),
        100.0 * true_rate_inside as f64 / checks as f64
    );
    println!(
        "the chosen family's own interval, for comparison: {:.1} % overall; by horizon {}",
        100.0 * chosen_inside.iter().sum::<usize>() as f64 / checks as f64,
        by(&chosen_inside)
    );
    assert!(overall >= level - 2.33 * se, "overall coverage {overall} < {level} − 2.33 × {se}");
    assert!(overall <= level + 4.0 * se, "overall coverage {overall}: the interval is much too wide");
    let horizon_tolerance = 3.0 * (level * (1.0 - level) / wells as f64).sqrt();
    for (h, c) in horizons.iter().zip(&coverage) {
        assert!((c - level).abs() <= horizon_tolerance, "coverage {c} at {h} days (± {horizon_tolerance})");
    }
}

/// A year of hourly `oil_rate` samples of a hyperbolic well with 3 %
/// noise ending at `NOW`, with a shut-in day of zeros.
fn hourly_year() -> Vec<(i64, f64)> {
    let start = NOW - 365 * DAY;
    let mut rng = Rng::new(11);
    (0..365 * 24)
        .map(|h| {
            let ts = start + h * HOUR;
            let t = (ts - start) as f64 / DAY as f64;
            let q =
                if (100 * 24..101 * 24).contains(&h) { 0.0 } else { HYPERBOLIC.rate(t) * (0.03 * rng.normal()).exp() };
            (ts, q)
        })
        .collect()
}

fn model(outcome: &forecaster_arps_decline::Outcome) -> Value {
    serde_json::from_str(&outcome.forecasts[0].model).expect("model is JSON")
}

#[test]
fn run_pages_hourly_telemetry_into_daily_means_and_forecasts() {
    let mut stored = StoredHistory::new("oil_rate", hourly_year());
    let config = Config::default();
    let outcome =
        run(&config, &context(Vec::new()), |d: &str, k: &str, s, e, l| stored.call(d, k, s, e, l), NOW).expect("runs");
    assert_eq!(outcome.forecasts.len(), 1, "{:?}", outcome.note);
    let forecast = &outcome.forecasts[0];
    let model = model(&outcome);
    println!("{model:#}");
    assert_eq!(
        (forecast.device_id.as_str(), forecast.key.as_str(), forecast.unit.as_str()),
        ("dev-1", "oil_rate", "bbl/d")
    );
    // 8760 samples at ≈1600 rows per call: 6 calls, one more that finds the end.
    assert!(stored.calls >= 6, "{} calls", stored.calls);
    assert_eq!(model["telemetry"]["samples"], 365 * 24);
    assert_eq!(model["telemetry"]["dropped"], 24);
    assert_eq!(model["n"], 364, "one shut-in day is left out");
    assert_eq!(model["source"], "telemetry");
    assert_eq!(model["family"], "hyperbolic");
    assert!((model["b"].as_f64().expect("b") - 0.5).abs() < 0.05, "{}", model["b"]);
    assert_eq!(model["t0_ms"], NOW - 365 * DAY + DAY / 2);
    assert_eq!(model["interval"], 0.8);
    for key in ["exponential", "harmonic", "hyperbolic"] {
        assert!(model["aicc"][key].is_f64(), "{key}");
    }
    assert!(model["se"]["di"].as_f64().expect("se") > 0.0);
    assert!(model["eur_bbl"].as_f64().expect("eur") > model["cum_to_horizon_bbl"].as_f64().expect("cum"));
    // Points every 30 days from now to the horizon (0, 30, …, 360, 365).
    let ts: Vec<i64> = forecast.points.iter().map(|p| p.ts).collect();
    assert_eq!(ts.len(), 14);
    assert_eq!((ts[0], ts[1], ts[13]), (NOW, NOW + 30 * DAY, NOW + 365 * DAY));
    for (p, q) in forecast.points.iter().zip(&forecast.points[1..]) {
        assert!(p.low < p.value && p.value < p.high && q.value < p.value);
    }
    let at_horizon = HYPERBOLIC.rate((NOW + 365 * DAY - (NOW - 365 * DAY)) as f64 / DAY as f64);
    let last = forecast.points[13];
    println!("rate in a year: {:.1} [{:.1}, {:.1}], true {at_horizon:.1}", last.value, last.low, last.high);
    assert!(rel(last.value, at_horizon) < 0.05);
}

#[test]
fn run_without_enough_points_forecasts_nothing() {
    let few: Vec<(i64, f64)> = (0..5 * 24).map(|h| (NOW - 5 * DAY + h * HOUR, 500.0 - h as f64)).collect();
    let mut stored = StoredHistory::new("oil_rate", few);
    let outcome =
        run(&Config::default(), &context(Vec::new()), |d: &str, k: &str, s, e, l| stored.call(d, k, s, e, l), NOW)
            .expect("runs");
    assert!(outcome.forecasts.is_empty());
    let note = outcome.note.expect("a note for the log");
    assert!(note.contains("0 well_tests points"), "{note}");
    // Telemetry only: the 5 days are too few.
    let config = config::parse(r#"{"source": "telemetry"}"#).expect("valid");
    let outcome =
        run(&config, &context(Vec::new()), |d: &str, k: &str, s, e, l| stored.call(d, k, s, e, l), NOW).expect("runs");
    assert!(outcome.forecasts.is_empty() && outcome.note.expect("note").contains("5 telemetry points"));
}

/// Monthly tests of a harmonic well over two years, newest first as the
/// host gives them.
fn monthly_tests(rng: &mut Rng) -> Vec<nexus_plugin_sdk::WellTest> {
    let first = NOW - 720 * DAY;
    let mut tests: Vec<_> = (0..24)
        .map(|m| {
            let ts = first + m * 30 * DAY;
            well_test(ts, HARMONIC.rate((ts - first) as f64 / DAY as f64) * (0.03 * rng.normal()).exp())
        })
        .collect();
    tests.reverse();
    tests
}

#[test]
fn run_forecasts_from_well_tests() {
    let tests = monthly_tests(&mut Rng::new(5));
    let config = config::parse(r#"{"source": "well_tests", "horizon_days": 730, "step_days": 365}"#).expect("valid");
    let no_history = |_: &str, _: &str, _, _, _| -> Result<Vec<Series>, PluginError> { panic!("no history read") };
    let outcome = run(&config, &context(tests.clone()), no_history, NOW).expect("runs");
    let model = model(&outcome);
    println!("{model:#}");
    assert_eq!((model["source"].as_str(), model["n"].as_u64()), (Some("well_tests"), Some(24)));
    assert_eq!(model["t0_ms"], NOW - 720 * DAY);
    assert_eq!(outcome.forecasts[0].points.len(), 3);
    let qi = model["qi"].as_f64().expect("qi");
    assert!(rel(qi, HARMONIC.qi) < 0.05, "qi {qi}");
    // Auto falls back to the tests when the history is unavailable, and says so.
    let unavailable = |_: &str, _: &str, _, _, _| Err(PluginError::new("host-unavailable", "store down"));
    let outcome = run(&Config::default(), &context(tests), unavailable, NOW).expect("falls back");
    let model = self::model(&outcome);
    assert_eq!(model["source"], "well_tests");
    assert!(model["warnings"][0].as_str().expect("warning").contains("store down"));
    // Telemetry only: the host's error is the run's.
    let config = config::parse(r#"{"source": "telemetry"}"#).expect("valid");
    let error = run(&config, &context(Vec::new()), unavailable, NOW).expect_err("no fallback");
    assert_eq!(error.code, "host-unavailable");
}

#[test]
fn a_rising_well_gets_no_forecast() {
    let tests: Vec<_> = (0..8).map(|m| well_test(NOW - m * 30 * DAY, 300.0 - 10.0 * m as f64)).collect();
    let config = config::parse(r#"{"source": "well_tests"}"#).expect("valid");
    let outcome = run(&config, &context(tests), |_: &str, _: &str, _, _, _| Ok(Vec::new()), NOW).expect("runs");
    assert!(outcome.forecasts.is_empty());
    assert!(outcome.note.expect("note").contains("not declining"));
}

#[test]
fn bad_configurations_are_invalid_config() {
    assert_eq!(config::parse("").expect("defaults"), Config::default());
    assert_eq!(config::parse(r#"{"source": "well_tests"}"#).expect("valid").source, Source::WellTests);
    for bad in [
        r#"{"key": ""}"#,
        r#"{"source": "scada"}"#,
        r#"{"window_days": 0}"#,
        r#"{"min_points": 3}"#,
        r#"{"horizon_days": 0}"#,
        r#"{"step_days": 400}"#,
        r#"{"interval": 1.0}"#,
        r#"{"interval": 0}"#,
        r#"{"economic_limit_bbl_d": -1}"#,
        r#"{"horizon_days": 36525, "step_days": 1}"#,
        r#"{"unknown": 1}"#,
        r#"[1]"#,
    ] {
        let error = config::parse(bad).expect_err(bad);
        assert_eq!(error.code, "invalid-config", "{bad}: {}", error.message);
    }
    let schema = config::schema();
    assert_eq!(schema["properties"]["interval"]["default"], 0.8);
    assert_eq!(schema["properties"].as_object().expect("properties").len(), 8);
}
