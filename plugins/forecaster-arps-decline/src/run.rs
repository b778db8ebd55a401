//! The glue between the well context and the pure core: reads the history
//! (through a closure, so native tests feed their own), fits, forecasts and
//! writes the model JSON. Nothing here calls the host.

use nexus_plugin_sdk::{Forecast, ForecastPoint, PluginError, Series, WellContext};
use serde_json::{Value, json};

use crate::config::{Config, Source};
use crate::fit::{Family, Fit, fit};
use crate::forecast::{eur, forecast};
use crate::input::{DAY_MS, read_daily, well_test_points};

/// The newest point older than this before now gets a warning, days.
const STALE_DAYS: f64 = 30.0;
/// Residual lag-1 autocorrelation above this gets a warning.
const AUTOCORRELATION_WARNING: f64 = 0.5;

/// What one run gives.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The forecasts (none or one).
    pub forecasts: Vec<Forecast>,
    /// Why there is no forecast, for the host's `info` log.
    pub note: Option<String>,
    /// The fit, when there was one.
    pub fit: Option<Fit>,
}

impl Outcome {
    fn skip(note: String) -> Self {
        Self { forecasts: Vec::new(), note: Some(note), fit: None }
    }
}

/// One run on a well at `now_ms`: the history from `history` (the host's
/// `history(device, key, start, end, limit)`) or the well tests, the fit and
/// the forecast of `config.key`.
pub fn run<H>(config: &Config, context: &WellContext, mut history: H, now_ms: i64) -> Result<Outcome, PluginError>
where
    H: FnMut(&str, &str, i64, i64, u32) -> Result<Vec<Series>, PluginError>,
{
    let mut warnings: Vec<String> = Vec::new();
    let mut extra = serde_json::Map::new();
    let mut points = Vec::new();
    let mut source = "well_tests";
    if config.source != Source::WellTests {
        let start = now_ms - i64::from(config.window_days) * DAY_MS;
        match read_daily(&mut history, &context.device_id, &config.key, start, now_ms) {
            Ok(daily) => {
                if daily.truncated {
                    warnings.push(format!("history read in {} calls did not reach now", daily.pages));
                }
                extra.insert(
                    "telemetry".into(),
                    json!({ "samples": daily.samples, "dropped": daily.dropped,
                                                          "days": daily.points.len(), "calls": daily.pages }),
                );
                if config.source == Source::Telemetry || daily.points.len() >= config.min_points {
                    points = daily.points;
                    source = "telemetry";
                }
            }
            Err(error) if config.source == Source::Auto => {
                warnings
                    .push(format!("history of `{}` unavailable ({}): used the well tests", config.key, error.message));
            }
            Err(error) => return Err(error),
        }
    }
    if source == "well_tests" {
        points = well_test_points(&context.well_tests);
    }
    if points.len() < config.min_points {
        return Ok(Outcome::skip(format!(
            "no decline forecast: {} {source} points, at least {} needed",
            points.len(),
            config.min_points
        )));
    }
    let t0 = points[0].0;
    let days = |ts: i64| (ts - t0) as f64 / DAY_MS as f64;
    let fit = match fit(&points.iter().map(|&(ts, q)| (days(ts), q)).collect::<Vec<_>>()) {
        Ok(fit) => fit,
        Err(error) => return Ok(Outcome::skip(format!("no decline forecast from {source}: {error}"))),
    };

    let step = i64::from(config.step_days) * DAY_MS;
    let end = now_ms + i64::from(config.horizon_days) * DAY_MS;
    let mut times: Vec<i64> = (0..).map(|k| now_ms + k * step).take_while(|&ts| ts <= end).collect();
    if times.last() != Some(&end) {
        times.push(end);
    }
    let bands = forecast(&fit, &times.iter().map(|&ts| days(ts)).collect::<Vec<_>>(), config.interval);
    let points: Vec<ForecastPoint> = times
        .iter()
        .zip(&bands)
        .map(|(&ts, b)| ForecastPoint { ts, value: b.value, low: b.low, high: b.high })
        .collect();

    let best = fit.best();
    let curve = best.curve;
    let newest = points_newest(&fit, t0);
    let age_days = (now_ms - newest) as f64 / DAY_MS as f64;
    if age_days > STALE_DAYS {
        warnings.push(format!("the newest rate point is {age_days:.0} days old"));
    }
    if fit.b_above_one {
        warnings.push(format!(
            "the best unconstrained b is {:.2} > 1 (transient or transitional flow, boundary-dominated flow not \
             reached): b is held at ≤ 1",
            fit.b_unconstrained
        ));
    }
    if fit.residual_lag1 > AUTOCORRELATION_WARNING {
        warnings.push(format!(
            "residuals are autocorrelated (lag-1 {:.2}): the standard errors and interval are too narrow",
            fit.residual_lag1
        ));
    }
    let now_rate = bands.first().map_or(f64::NAN, |b| b.value);
    if now_rate < config.economic_limit_bbl_d {
        warnings.push(format!("the rate now ({now_rate:.1}) is below the economic limit"));
    }
    let ultimate = eur(&curve, config.economic_limit_bbl_d, days(end));
    let se = best.std_errors();
    let family = |f: Family| {
        let ff = fit.family(f);
        json!({ "qi": ff.curve.qi, "di_per_day": ff.curve.di, "b": ff.curve.b, "sse_log": ff.sse, "aicc": ff.aicc })
    };
    let mut model = json!({
        "family": fit.chosen,
        "qi": curve.qi,
        "di_per_day": curve.di,
        "di_nominal_per_year": curve.di * 365.25,
        "di_effective_per_year": curve.effective_annual_decline(),
        "b": curve.b,
        "b_unconstrained": fit.b_unconstrained,
        "se": se,
        "n": fit.n,
        "span_days": fit.span_days,
        "rmse_log": (best.sse / fit.n as f64).sqrt(),
        "sigma_log": best.sigma2.sqrt(),
        "residual_lag1": fit.residual_lag1,
        "aicc": { "exponential": fit.exponential.aicc, "harmonic": fit.harmonic.aicc, "hyperbolic": fit.hyperbolic.aicc },
        "families": { "exponential": family(Family::Exponential), "harmonic": family(Family::Harmonic),
                      "hyperbolic": family(Family::Hyperbolic) },
        "selection": format!("least AICc; the hyperbolic only when it beats the better 2-parameter family by more than {}", crate::fit::PARSIMONY_AICC),
        "interval": config.interval,
        "method": "mixture of the three families' predictive distributions of ln q (each ln q̂ ± t(n−p)·√(σ² + ∇ᵀC∇) by the delta method) by their Akaike weights: a prediction interval for one daily (or test) rate; value is the mixture's median",
        "weights": crate::forecast::akaike_weights(&fit).iter().map(|(f, w)| (format!("{f:?}").to_lowercase(), json!(w))).collect::<serde_json::Map<String, Value>>(),
        "source": source,
        "t0_ms": t0,
        "eur_bbl": ultimate.volume,
        "eur_to": if ultimate.to_limit { "economic_limit" } else { "horizon" },
        "eur_end_ms": t0 + (ultimate.t_days * DAY_MS as f64).round() as i64,
        "economic_limit_bbl_d": config.economic_limit_bbl_d,
        "cum_to_horizon_bbl": curve.cumulative(days(end)),
        "warnings": warnings,
    });
    if let (Value::Object(map), false) = (&mut model, extra.is_empty()) {
        map.extend(extra);
    }
    let forecast = Forecast {
        device_id: context.device_id.clone(),
        key: config.key.clone(),
        unit: "bbl/d".into(),
        points,
        model: model.to_string(),
    };
    Ok(Outcome { forecasts: vec![forecast], note: None, fit: Some(fit) })
}

/// The ts of the newest fitted point.
fn points_newest(fit: &Fit, t0: i64) -> i64 {
    t0 + (fit.span_days * DAY_MS as f64).round() as i64
}
