//! # optimizer-esp-frequency
//!
//! Recommends an ESP drive frequency from a nodal model of the well
//! (`nexus-physics`) calibrated to its gauges and latest well test: the
//! highest frequency at which every operating limit holds — intake pressure
//! at its target and above its minimum, projected motor load, the
//! recommended range at that frequency, motor cooling, frequency limits —
//! approached one rate-limited step at a time, only while the well is steady,
//! never while a protection alarm is open and never twice while a
//! recommendation is open. The recommendation carries Δoil as its gain —
//! averaged over a horizon on the well's stored forecast when there is one
//! ([`baseline`]); the rationale gives Δoil, Δwater, Δpower (kW) and the
//! binding constraint.
//!
//! The logic is the pure [`decide()`] over an [`Input`]; [`static_data`]
//! is the well's schema, [`config`] the binding's. The component glue
//! ([`run`]) is thin: it builds the input from the well context of contract
//! 0.2.0, whose open alarms and open recommendations the host supplies.

pub mod baseline;
pub mod calibrate;
pub mod config;
pub mod decide;
pub mod model;
pub mod observe;
pub mod report;
pub mod static_data;

pub use config::Config;
pub use decide::{Decision, HoldReason, Input, OpenRecommendation, Plan, decide};
pub use observe::FREQUENCY_PARAMETER;
pub use static_data::WellData;

use nexus_plugin_sdk::{Forecast, PluginError, PluginInfo, Recommendation, WellContext};

/// A frequency reading within this of an open recommendation means it was applied, Hz.
const APPLIED_TOLERANCE_HZ: f64 = 0.05;

/// Parses and validates a binding configuration (empty text = defaults); a
/// problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<Config, PluginError> {
    let config: Config = nexus_plugin_sdk::config::parse(json)?;
    config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
    Ok(config)
}

/// One run of the component on a well: builds the [`Input`] from the well
/// context (contract 0.2.0: readings as series, the well's open alarms and
/// open recommendations) and decides.
///
/// An open frequency recommendation the latest frequency reading has already
/// reached counts as carried out, so it does not block the next step.
/// `forecast` is the stored forecast of `config.baseline_key`, if any: the
/// baseline of the expected gain.
pub fn run(
    config: &Config,
    context: &WellContext,
    now_ms: i64,
    forecast: Option<&Forecast>,
) -> (Vec<Recommendation>, Option<Decision>) {
    let mut static_data = match static_data::parse(&context.static_data) {
        Ok(data) => data,
        Err(message) => {
            let reason = HoldReason::InvalidStaticData;
            return (Vec::new(), Some(Decision::Hold { reason, message }));
        }
    };
    if let Some(recorded) = newest_usable_test(context)
        && static_data.well_test.as_ref().and_then(static_data::WellTestData::start_ms) <= recorded.start_ms()
    {
        static_data.well_test = Some(recorded);
    }
    let readings = nexus_plugin_sdk::readings(&context.device_id, &context.readings);
    let latest_frequency =
        readings.iter().filter(|r| r.key == config.keys.frequency).max_by_key(|r| r.ts).and_then(|r| r.value.as_f64());
    let open_recommendations = context
        .open_recommendations
        .iter()
        .filter(|r| r.parameter == FREQUENCY_PARAMETER)
        .filter(|r| latest_frequency.is_none_or(|f| (f - r.proposed_value).abs() > APPLIED_TOLERANCE_HZ))
        .map(|r| OpenRecommendation {
            parameter: r.parameter.clone(),
            proposed_value: r.proposed_value,
            created_ms: r.created_at,
        })
        .collect();
    let input = Input {
        device_id: context.device_id.clone(),
        readings,
        setpoints: context.setpoints.clone(),
        static_data,
        active_alarms: context.open_alarms.iter().map(|a| a.alarm_type.clone()).collect(),
        open_recommendations,
        now_ms,
    };
    match decide(config, &input) {
        Decision::Recommend(plan) => {
            let baseline =
                forecast.and_then(|f| baseline::Baseline::from_forecast(f, now_ms, config.gain_horizon_days));
            (vec![on_baseline(plan.recommendation, baseline.as_ref(), &config.baseline_key)], None)
        }
        hold => (Vec::new(), Some(hold)),
    }
}

/// States the gain on the forecast baseline (or says there was none).
fn on_baseline(mut r: Recommendation, baseline: Option<&baseline::Baseline>, key: &str) -> Recommendation {
    let mut details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_else(|_| serde_json::json!({}));
    match baseline {
        Some(b) => {
            let now = r.expected_gain;
            r.expected_gain = now * b.factor();
            r.rationale.push_str(&format!(
                " Baseline: the `{}` forecast, {:.0} bbl/d now and {:.0} on average over the next {} days, so the \
                 expected gain is {:+.1} bbl/d oil averaged over them ({now:+.1} now).",
                b.key, b.now, b.mean, b.horizon_days, r.expected_gain
            ));
            details["baseline"] = b.details(now);
        }
        None => details["baseline"] = baseline::current_rate(key),
    }
    r.details = details.to_string();
    r
}

/// The newest of the host's recorded well tests that can calibrate the
/// model (it has the drive frequency, the intake pressure and liquid).
fn newest_usable_test(context: &WellContext) -> Option<static_data::WellTestData> {
    let mut tests: Vec<_> = context.well_tests.iter().collect();
    tests.sort_by_key(|t| std::cmp::Reverse(t.ts));
    tests.into_iter().find_map(static_data::WellTestData::from_recorded)
}

/// The component.
pub struct EspFrequency;

impl nexus_plugin_sdk::Optimizer for EspFrequency {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "optimizer-esp-frequency".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Recommends the ESP drive frequency at which the binding operating limit is reached \
                          (intake pressure, motor load, recommended range, cooling, frequency), from a nodal \
                          model calibrated to the well's gauges and latest test; one rate-limited step at a \
                          time, only when the well is steady, with Δoil, Δwater and Δpower."
                .into(),
            config_schema: config::schema().to_string(),
        }
    }

    fn optimize(context: WellContext) -> Result<Vec<Recommendation>, PluginError> {
        let config: Config = nexus_plugin_sdk::host::config()?;
        config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
        let forecast = match nexus_plugin_sdk::host::latest_forecast(&context.device_id, &config.baseline_key) {
            Ok(forecast) => forecast,
            Err(error) => {
                nexus_plugin_sdk::host::debug(&format!("no forecast baseline: {}", error.message));
                None
            }
        };
        let (recommendations, hold) = run(&config, &context, nexus_plugin_sdk::host::now(), forecast.as_ref());
        if let Some(Decision::Hold { reason, message }) = hold {
            let line = format!("well {}: {message}", context.well_id);
            match reason {
                HoldReason::InvalidStaticData | HoldReason::Calibration | HoldReason::Infeasible(_) => {
                    nexus_plugin_sdk::host::warn(&line);
                }
                HoldReason::StepRefused(_) | HoldReason::NotReady(observe::NotReady::Missing(_)) => {
                    nexus_plugin_sdk::host::info(&line);
                }
                _ => nexus_plugin_sdk::host::debug(&line),
            }
        }
        Ok(recommendations)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_optimizer!(EspFrequency);
