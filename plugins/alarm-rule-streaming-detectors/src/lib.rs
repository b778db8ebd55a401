//! # alarm-rule-streaming-detectors
//!
//! One alarm-rule component that runs a configured list of streaming
//! anomaly detectors (domain reference §5), each on one telemetry key and
//! each raising and clearing its own alarm type (default `<kind>:<key>`):
//!
//! * `robust_z`: `M = 0.6745·(x − median)/MAD` against a trailing window of
//!   the previous `window` values (Iglewicz & Hoaglin); out of control when
//!   `|M| > threshold` (3.5);
//! * `ewma`: `z_t = λ·x_t + (1 − λ)·z_{t−1}` with the exact limits
//!   `μ₀ ± L·σ·sqrt(λ/(2−λ)·(1 − (1−λ)^{2t}))` (λ 0.2, L 3);
//! * `cusum`: two-sided tabular CUSUM with `K = k·σ`, `H = h·σ` (k 0.5, h 5),
//!   reset after each signal, reporting the estimated change time.
//!
//! EWMA and CUSUM take the in-control mean and σ from the configuration or
//! estimate them from the first `warmup` values. Any detector may run on
//! bucket means (`aggregate_s`), which the reference advises for strongly
//! autocorrelated 1 Hz data. A detector raises when `m` of its last `n`
//! scored values are out of control and clears after `clear_after`
//! in-control values in a row.
//!
//! The logic is pure ([`evaluate_batch`], [`engine::run_detector`] and the
//! statistics in [`stats`]), so it runs natively in the tests; the component
//! keeps one host-state value per detector.

pub mod config;
pub mod engine;
pub mod stats;

use std::collections::BTreeMap;

pub use config::{Baseline, Config, Detector, Kind, config_from_value, config_schema, parse_config};
pub use engine::{DetectorState, detector_id, run_detector, state_key};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Sample, Series, host};

/// The non-empty samples of a detector's key in a batch.
fn samples_of<'a>(detector: &Detector, batch: &'a [Series]) -> Option<&'a [Sample]> {
    nexus_plugin_sdk::series(batch, &detector.key).map(|s| s.samples.as_slice()).filter(|s| !s.is_empty())
}

/// Runs every detector of `config` over a batch of one device, with the
/// detectors' states keyed by [`state_key`] (missing ones start fresh), and
/// returns all signals sorted by `ts`.
pub fn evaluate_batch(
    config: &Config,
    states: &mut BTreeMap<String, DetectorState>,
    device_id: &str,
    batch: &[Series],
) -> Vec<AlarmSignal> {
    let mut signals = Vec::new();
    for detector in &config.detectors {
        let Some(samples) = samples_of(detector, batch) else { continue };
        let state = states.entry(state_key(detector)).or_default();
        signals.extend(run_detector(detector, state, device_id, samples));
    }
    signals.sort_by_key(|s| s.ts);
    signals
}

/// The component: loads config and each detector's state from the host.
pub struct StreamingDetectors;

impl nexus_plugin_sdk::AlarmRule for StreamingDetectors {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-streaming-detectors".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Streaming anomaly detectors (robust z-score with median/MAD, EWMA chart, CUSUM), \
                          each on one key with its own alarm type."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(host::config()?)?;
        let mut signals = Vec::new();
        for detector in &config.detectors {
            let Some(samples) = samples_of(detector, &batch) else { continue };
            let key = state_key(detector);
            let before: DetectorState = host::state_get(&key).unwrap_or_default();
            let mut state = before.clone();
            signals.extend(run_detector(detector, &mut state, &device_id, samples));
            if state != before {
                host::state_set(&key, &state)?;
            }
        }
        signals.sort_by_key(|s| s.ts);
        Ok(signals)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(StreamingDetectors);
