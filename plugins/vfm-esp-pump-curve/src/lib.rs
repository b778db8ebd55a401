//! # vfm-esp-pump-curve
//!
//! Virtual flow metering from an ESP (Camilleri & Zhou 2011, SPE-145542):
//! the pump's calibrated stage curve is a flow meter. From the measured
//! pressure rise `ΔP = P_discharge − PIP`, the drive frequency `f`, the
//! liquid gradient `G` and the effective stage count `N·k`, one stage makes
//! `h = ΔP/(G·N·k)`; the rate is the `q` on the falling part of the stage
//! curve at `f` where `h_f(q) = h`, with `h_f(q) = (f/f₀)²·h₀(q·f₀/f)`
//! (`nexus_physics::vfm`).
//!
//! Its output is derived telemetry: a reading `vfm_liquid_rate` (bbl/d) per
//! timestamp at which frequency, intake and discharge pressure are known,
//! with a quality in 0–1 (the estimate's confidence: 1 inside the
//! recommended range on a steep part of the curve, lower outside it, where
//! the curve is flat, or where a humped curve gives two rates).
//!
//! The component exports the `transform` world of contract 0.2.0: the host
//! calls it on every batch of a bound device and stores what it returns
//! with the batch. Its binding configuration carries the telemetry keys and,
//! under `well`, the well's static data (the optimizer's schema), since a
//! transform sees a batch, not a well. [`transform_batch`] is the whole glue
//! as a pure function; [`meter`] is the logic.

pub mod pump;

use nexus_physics::vfm::{VfmQuality, rate_from_pressure_rise};
use serde::{Deserialize, Serialize};

pub use pump::{MeterData, MeterPump};

/// Why the meter cannot run at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VfmError {
    /// The static data does not describe a metering pump.
    #[error("static data: {0}")]
    StaticData(String),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

/// Telemetry keys and how readings are paired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Drive frequency, Hz.
    pub frequency_key: String,
    /// Pump-intake pressure, psi.
    pub intake_pressure_key: String,
    /// Pump discharge pressure, psi.
    pub discharge_pressure_key: String,
    /// Key of the derived reading.
    pub output_key: String,
    /// A frequency or discharge reading up to this much older than an intake
    /// reading is paired with it, ms.
    pub max_skew_ms: i64,
    /// The well's static data (the optimizer's schema: `pump`, `fluid`,
    /// `limits`, `well_test`); the component needs it, [`meter`] does not.
    pub well: Option<serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            frequency_key: "frequency".into(),
            intake_pressure_key: "intake_pressure".into(),
            discharge_pressure_key: "discharge_pressure".into(),
            output_key: "vfm_liquid_rate".into(),
            max_skew_ms: 60_000,
            well: None,
        }
    }
}

impl Config {
    /// Parses and validates a configuration (empty text = defaults).
    pub fn parse(text: &str) -> Result<Self, VfmError> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let config: Self = serde_json::from_str(text).map_err(|e| VfmError::Config(e.to_string()))?;
        let keys =
            [&config.frequency_key, &config.intake_pressure_key, &config.discharge_pressure_key, &config.output_key];
        if keys.iter().any(|k| k.is_empty()) || config.max_skew_ms < 0 {
            return Err(VfmError::Config("keys must not be empty and `max_skew_ms` must be ≥ 0".into()));
        }
        Ok(config)
    }
}

/// One input sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Telemetry key.
    pub key: String,
    /// Time, ms since the epoch.
    pub ts: i64,
    /// Value.
    pub value: f64,
}

/// One derived reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// `config.output_key`.
    pub key: String,
    /// The intake reading's time, ms.
    pub ts: i64,
    /// Liquid rate, bbl/d.
    pub value: f64,
    /// Quality 0–1: the estimate's confidence.
    pub quality: f32,
    /// Quality class.
    pub class: VfmQuality,
}

/// What [`meter`] made of a batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metered {
    /// Derived readings, oldest first.
    pub readings: Vec<Derived>,
    /// Intake timestamps with no estimate, and why.
    pub skipped: Vec<(i64, String)>,
}

/// `(ts, value)` of the finite samples of `key`, oldest first.
fn column(samples: &[Sample], key: &str) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> =
        samples.iter().filter(|s| s.key == key && s.value.is_finite()).map(|s| (s.ts, s.value)).collect();
    points.sort_by_key(|p| p.0);
    points
}

/// The latest value at or before `ts`, no older than `skew` ms.
fn at(points: &[(i64, f64)], ts: i64, skew: i64) -> Option<f64> {
    let i = points.partition_point(|p| p.0 <= ts);
    i.checked_sub(1).map(|i| points[i]).filter(|p| ts - p.0 <= skew).map(|p| p.1)
}

/// Meters the rate at every intake-pressure sample of `samples` that has a
/// frequency and a discharge pressure no older than `max_skew_ms`. A stopped
/// pump (frequency ≤ 0) and a pressure rise the curve cannot make are skipped.
pub fn meter(config: &Config, pump: &MeterPump, samples: &[Sample]) -> Metered {
    let frequency = column(samples, &config.frequency_key);
    let discharge = column(samples, &config.discharge_pressure_key);
    let mut out = Metered::default();
    for (ts, intake) in column(samples, &config.intake_pressure_key) {
        let (Some(f), Some(pd)) = (at(&frequency, ts, config.max_skew_ms), at(&discharge, ts, config.max_skew_ms))
        else {
            out.skipped.push((ts, "no frequency or discharge pressure to pair with".into()));
            continue;
        };
        if f <= 0.0 {
            out.skipped.push((ts, format!("the pump is stopped ({f} Hz)")));
            continue;
        }
        match rate_from_pressure_rise(&pump.pump, f, pd - intake, pump.gradient_psi_per_ft) {
            Ok(e) => out.readings.push(Derived {
                key: config.output_key.clone(),
                ts,
                value: e.rate_bpd,
                quality: e.confidence as f32,
                class: e.quality,
            }),
            Err(e) => out.skipped.push((ts, e.to_string())),
        }
    }
    out
}

/// The component on one batch: meters every intake sample of the batch with
/// the pump of `config.well`, as one series of `config.output_key` whose
/// qualities are the estimates' confidences (empty when nothing metered).
pub fn transform_batch(
    config: &Config,
    batch: &[nexus_plugin_sdk::Series],
) -> Result<Vec<nexus_plugin_sdk::Series>, VfmError> {
    let well =
        config.well.as_ref().ok_or_else(|| VfmError::Config("`well` (the well's static data) is required".into()))?;
    let pump = MeterData::parse(&well.to_string())?.pump()?;
    let keys = [&config.frequency_key, &config.intake_pressure_key, &config.discharge_pressure_key];
    let samples: Vec<Sample> = batch
        .iter()
        .filter(|s| keys.contains(&&s.key))
        .flat_map(|s| s.numbers().map(move |(ts, value)| Sample { key: s.key.clone(), ts, value }))
        .collect();
    let metered = meter(config, &pump, &samples);
    if metered.readings.is_empty() {
        return Ok(Vec::new());
    }
    let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
    for r in &metered.readings {
        builder.push(&r.key, r.ts, nexus_plugin_sdk::Value::Number(r.value), r.quality);
    }
    Ok(builder.build())
}

/// The component.
pub struct Vfm;

impl nexus_plugin_sdk::Transform for Vfm {
    fn describe() -> nexus_plugin_sdk::PluginInfo {
        nexus_plugin_sdk::PluginInfo {
            name: "vfm-esp-pump-curve".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Virtual flow meter: the liquid rate through an ESP from its pressure rise, frequency and \
                          calibrated stage curve, with the estimate's confidence as quality."
                .into(),
            config_schema: CONFIG_SCHEMA.into(),
        }
    }

    fn transform(
        _device_id: String,
        batch: Vec<nexus_plugin_sdk::Series>,
    ) -> Result<Vec<nexus_plugin_sdk::Series>, nexus_plugin_sdk::PluginError> {
        let text: serde_json::Value = nexus_plugin_sdk::host::config()?;
        let config = Config::parse(&text.to_string()).map_err(|e| nexus_plugin_sdk::config::invalid(e.to_string()))?;
        transform_batch(&config, &batch).map_err(|e| nexus_plugin_sdk::config::invalid(e.to_string()))
    }
}

/// The binding configuration's JSON Schema.
pub const CONFIG_SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["well"],"properties":{
"frequency_key":{"type":"string","default":"frequency"},
"intake_pressure_key":{"type":"string","default":"intake_pressure"},
"discharge_pressure_key":{"type":"string","default":"discharge_pressure"},
"output_key":{"type":"string","default":"vfm_liquid_rate"},
"max_skew_ms":{"type":"integer","minimum":0,"default":60000},
"well":{"type":"object","description":"The well's static data: pump, fluid, limits, well_test (the optimizer's schema)."}}}"#;

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_transform!(Vfm);
