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
//! The logic ([`evaluate_batch`], [`engine::run_detector`] and the
//! statistics in [`stats`]) works on a `StateStore` holding one value per
//! detector; [`StreamingDetectors`] is it as a `StoreAlarmRule`, which the
//! SDK's export macro turns into the component (host state) and its test
//! harness runs natively.

pub mod config;
pub mod engine;
pub mod stats;

pub use config::{Baseline, Config, Detector, Kind, config_schema, parse_config};
pub use engine::{DetectorState, detector_id, run_detector, state_key};

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, StateStore, StoreAlarmRule};

/// Runs every detector of `config` whose key has samples in a batch of one
/// device, each on its own state in `store` under [`state_key`] (missing
/// ones start fresh; one is saved only when it changed), and returns all
/// signals sorted by `ts`.
pub fn evaluate_batch<S: StateStore>(
    config: &Config,
    store: &mut S,
    device_id: &str,
    batch: &[Series],
) -> Result<Vec<AlarmSignal>, PluginError> {
    let mut signals = Vec::new();
    for detector in &config.detectors {
        let Some(samples) = nexus_plugin_sdk::samples(batch, &detector.key) else { continue };
        let run = |state: &mut DetectorState| Ok(run_detector(detector, state, device_id, &samples));
        signals.extend(store.update(&state_key(detector), run)?);
    }
    signals.sort_by_key(|s| s.ts);
    Ok(signals)
}

/// The rule: [`evaluate_batch`] with one state value per detector.
pub struct StreamingDetectors;

impl StoreAlarmRule for StreamingDetectors {
    type Config = Config;

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

    fn evaluate<S: StateStore>(
        config: &Config,
        store: &mut S,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        evaluate_batch(config, store, device_id, batch)
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(StreamingDetectors);
