//! The binding configuration: a list of detectors, each with its kind, key,
//! parameters (with the textbook defaults of the domain reference §5) and
//! alarm settings, validated once per call.

use std::ops::Bound::{Excluded, Included};

use nexus_plugin_sdk::config::{finite, in_range, non_empty, non_negative, positive, seconds_ms, severity_or};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// Most detectors one binding may run (each keeps one host-state value).
pub const MAX_DETECTORS: usize = 64;
/// Largest robust-z reference window: 1500 numbers of JSON stay well under
/// the host's 48 KiB per state value.
pub const MAX_WINDOW: usize = 1500;

/// A detector as written in JSON, before validation. Parameters that do not
/// belong to its kind are rejected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetector {
    kind: String,
    key: String,
    alarm_type: Option<String>,
    severity: Option<String>,
    aggregate_s: Option<u64>,
    m: Option<u32>,
    n: Option<u32>,
    clear_after: Option<u32>,
    min_sigma: Option<f64>,
    // robust_z
    window: Option<usize>,
    min_window: Option<usize>,
    threshold: Option<f64>,
    // ewma
    lambda: Option<f64>,
    #[serde(alias = "L")]
    l: Option<f64>,
    // cusum
    k: Option<f64>,
    h: Option<f64>,
    // ewma and cusum
    mean: Option<f64>,
    std: Option<f64>,
    warmup: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    detectors: Vec<RawDetector>,
}

/// The statistic of a detector and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `M = 0.6745·(x − median)/MAD` over a trailing window of `window` values.
    RobustZ {
        /// Reference window length (values).
        window: usize,
        /// Values needed in the window before scoring.
        min_window: usize,
        /// Out of control when `|M| > threshold`.
        threshold: f64,
    },
    /// EWMA chart `z_t = λ·x_t + (1 − λ)·z_{t−1}` with exact (time-varying) limits.
    Ewma {
        /// Smoothing λ in (0, 1].
        lambda: f64,
        /// Limit width L in σ units.
        l: f64,
    },
    /// Two-sided tabular CUSUM with reference `k·σ` and decision interval `h·σ`.
    Cusum {
        /// Reference value k in σ units.
        k: f64,
        /// Decision interval h in σ units.
        h: f64,
    },
}

impl Kind {
    /// The kind's name as written in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::RobustZ { .. } => "robust_z",
            Kind::Ewma { .. } => "ewma",
            Kind::Cusum { .. } => "cusum",
        }
    }
}

/// In-control mean and standard deviation: configured, or estimated from
/// the first `warmup` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// Given in the configuration.
    Fixed {
        /// In-control mean μ₀.
        mean: f64,
        /// In-control standard deviation σ.
        std: f64,
    },
    /// Estimated (sample mean and standard deviation) from the first values.
    Estimated {
        /// Values used for the estimate.
        warmup: u32,
    },
}

/// One validated detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    /// The statistic and its parameters.
    pub kind: Kind,
    /// Telemetry key watched.
    pub key: String,
    /// Alarm type of its signals (default `<kind>:<key>`); unique per binding.
    pub alarm_type: String,
    /// Severity of its raises (default warning).
    pub severity: Severity,
    /// Run on means of consecutive buckets of this many ms (0: every sample).
    pub aggregate_ms: i64,
    /// Raise when at least `m` of the last `n` scored values are out of control.
    pub m: u32,
    /// See `m` (at most 64).
    pub n: u32,
    /// Clear after this many consecutive in-control values.
    pub clear_after: u32,
    /// Lower bound of the scale σ (0: none; a zero scale then scores nothing).
    pub min_sigma: f64,
    /// In-control mean and σ (EWMA and CUSUM only; `None` for robust z).
    pub baseline: Option<Baseline>,
}

/// A validated configuration; deserializing it validates it (see [`parse_config`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct Config {
    /// The detectors, in configuration order.
    pub detectors: Vec<Detector>,
}

/// The names of the fields that are set.
fn given(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect()
}

impl TryFrom<RawDetector> for Detector {
    type Error = String;

    fn try_from(raw: RawDetector) -> Result<Self, String> {
        let key = non_empty("key", raw.key)?;
        let robust_fields = given(&[
            ("window", raw.window.is_some()),
            ("min_window", raw.min_window.is_some()),
            ("threshold", raw.threshold.is_some()),
        ]);
        let ewma_fields = given(&[("lambda", raw.lambda.is_some()), ("l", raw.l.is_some())]);
        let cusum_fields = given(&[("k", raw.k.is_some()), ("h", raw.h.is_some())]);
        let baseline_fields =
            given(&[("mean", raw.mean.is_some()), ("std", raw.std.is_some()), ("warmup", raw.warmup.is_some())]);
        let foreign = |fields: Vec<&str>| -> Result<(), String> {
            match fields.first() {
                Some(field) => Err(format!("`{field}` does not apply to a `{}` detector", raw.kind)),
                None => Ok(()),
            }
        };
        let kind = match raw.kind.as_str() {
            "robust_z" => {
                foreign([ewma_fields, cusum_fields, baseline_fields].concat())?;
                let window = in_range("window", raw.window.unwrap_or(600), 3..=MAX_WINDOW)?;
                let min_window = in_range("min_window", raw.min_window.unwrap_or(window.min(60)), 3..=window)?;
                Kind::RobustZ { window, min_window, threshold: positive("threshold", raw.threshold.unwrap_or(3.5))? }
            }
            "ewma" => {
                foreign([robust_fields, cusum_fields].concat())?;
                let lambda = in_range("lambda", raw.lambda.unwrap_or(0.2), (Excluded(0.0), Included(1.0)))?;
                Kind::Ewma { lambda, l: positive("l", raw.l.unwrap_or(3.0))? }
            }
            "cusum" => {
                foreign([robust_fields, ewma_fields].concat())?;
                Kind::Cusum { k: non_negative("k", raw.k.unwrap_or(0.5))?, h: positive("h", raw.h.unwrap_or(5.0))? }
            }
            other => return Err(format!("unknown detector `kind` {other:?} (expected robust_z, ewma or cusum)")),
        };
        let baseline = match (kind, raw.mean, raw.std) {
            (Kind::RobustZ { .. }, _, _) => None,
            (_, Some(mean), Some(std)) if raw.warmup.is_none() => {
                Some(Baseline::Fixed { mean: finite("mean", mean)?, std: positive("std", std)? })
            }
            (_, None, None) => {
                let warmup = raw.warmup.unwrap_or(300);
                if warmup < 2 {
                    return Err("`warmup` must be at least 2".into());
                }
                Some(Baseline::Estimated { warmup })
            }
            _ => return Err("give both `mean` and `std` (and no `warmup`), or neither".into()),
        };
        let (m, n) = (raw.m.unwrap_or(1), raw.n.unwrap_or(raw.m.unwrap_or(1)));
        if m == 0 || n > 64 || m > n {
            return Err(format!("need 1 ≤ m ≤ n ≤ 64, got m = {m}, n = {n}"));
        }
        let min_sigma = non_negative("min_sigma", raw.min_sigma.unwrap_or(0.0))?;
        let severity = severity_or("severity", raw.severity.as_deref(), Severity::Warning)?;
        let alarm_type = non_empty("alarm_type", raw.alarm_type.unwrap_or_else(|| format!("{}:{key}", kind.name())))?;
        let aggregate_ms = seconds_ms("aggregate_s", raw.aggregate_s.unwrap_or(0))?;
        Ok(Self {
            kind,
            key,
            alarm_type,
            severity,
            aggregate_ms,
            m,
            n,
            clear_after: raw.clear_after.unwrap_or(60).max(1),
            min_sigma,
            baseline,
        })
    }
}

/// Parses and validates a binding configuration; any problem is a
/// `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<Config, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

impl TryFrom<RawConfig> for Config {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.detectors.is_empty() || raw.detectors.len() > MAX_DETECTORS {
            return Err(format!("`detectors` must list 1 to {MAX_DETECTORS} detectors"));
        }
        let mut detectors: Vec<Detector> = Vec::with_capacity(raw.detectors.len());
        for (i, raw) in raw.detectors.into_iter().enumerate() {
            let detector = Detector::try_from(raw).map_err(|e| format!("detectors[{i}]: {e}"))?;
            if detectors.iter().any(|d| d.alarm_type == detector.alarm_type) {
                return Err(format!("detectors[{i}]: duplicate alarm_type {:?}", detector.alarm_type));
            }
            detectors.push(detector);
        }
        Ok(Self { detectors })
    }
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    let num =
        |default: f64, description: &str| json!({ "type": "number", "default": default, "description": description });
    let int = |default: u64, description: &str| json!({ "type": "integer", "minimum": 0, "default": default, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-streaming-detectors configuration",
        "type": "object",
        "additionalProperties": false,
        "required": ["detectors"],
        "properties": {
            "detectors": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_DETECTORS,
                "items": {
                    "type": "object",
                    "required": ["kind", "key"],
                    "properties": {
                        "kind": { "enum": ["robust_z", "ewma", "cusum"] },
                        "key": { "type": "string", "minLength": 1 },
                        "alarm_type": { "type": "string", "minLength": 1, "description": "Default \"<kind>:<key>\"." },
                        "severity": { "type": "string", "default": "warning" },
                        "aggregate_s": int(0, "Run on means of buckets of this many seconds (0: every sample)."),
                        "m": int(1, "Raise when m of the last n scored values are out of control ..."),
                        "n": int(1, "... (n ≤ 64; default m)."),
                        "clear_after": int(60, "Clear after this many consecutive in-control values."),
                        "min_sigma": num(0.0, "Lower bound of the scale σ."),
                        "window": int(600, "robust_z: reference window (values, ≤ 1500)."),
                        "min_window": int(60, "robust_z: values needed before scoring (default min(60, window))."),
                        "threshold": num(3.5, "robust_z: out of control when |M| > threshold."),
                        "lambda": num(0.2, "ewma: smoothing λ in (0, 1]."),
                        "l": num(3.0, "ewma: limit width L in σ (alias \"L\")."),
                        "k": num(0.5, "cusum: reference value k in σ."),
                        "h": num(5.0, "cusum: decision interval h in σ."),
                        "mean": { "type": "number", "description": "ewma/cusum: in-control mean (with std)." },
                        "std": { "type": "number", "exclusiveMinimum": 0, "description": "ewma/cusum: in-control σ (with mean)." },
                        "warmup": int(300, "ewma/cusum: estimate mean and σ from the first values when not given.")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(detector: &str) -> Result<Detector, PluginError> {
        parse_config(&format!(r#"{{"detectors": [{detector}]}}"#)).map(|mut c| c.detectors.remove(0))
    }

    #[test]
    fn defaults_per_kind() {
        let robust = one(r#"{"kind": "robust_z", "key": "p"}"#).expect("valid");
        assert_eq!(robust.kind, Kind::RobustZ { window: 600, min_window: 60, threshold: 3.5 });
        assert_eq!(
            (robust.alarm_type.as_str(), robust.severity, robust.baseline),
            ("robust_z:p", Severity::Warning, None)
        );
        assert_eq!((robust.m, robust.n, robust.clear_after, robust.aggregate_ms, robust.min_sigma), (1, 1, 60, 0, 0.0));
        let ewma = one(r#"{"kind": "ewma", "key": "p"}"#).expect("valid");
        assert_eq!(ewma.kind, Kind::Ewma { lambda: 0.2, l: 3.0 });
        assert_eq!(ewma.baseline, Some(Baseline::Estimated { warmup: 300 }));
        let cusum = one(r#"{"kind": "cusum", "key": "p", "mean": 1, "std": 2}"#).expect("valid");
        assert_eq!(cusum.kind, Kind::Cusum { k: 0.5, h: 5.0 });
        assert_eq!(cusum.baseline, Some(Baseline::Fixed { mean: 1.0, std: 2.0 }));
        assert_eq!(cusum.alarm_type, "cusum:p");
        let small = one(r#"{"kind": "robust_z", "key": "p", "window": 20}"#).expect("valid");
        assert_eq!(small.kind, Kind::RobustZ { window: 20, min_window: 20, threshold: 3.5 });
    }

    #[test]
    fn everything_can_be_set() {
        let d = one(r#"{"kind": "ewma", "key": "p", "lambda": 0.1, "L": 2.7, "warmup": 50, "alarm_type": "drift",
                "severity": "MAJOR", "aggregate_s": 60, "m": 2, "n": 3, "clear_after": 5, "min_sigma": 0.1}"#)
        .expect("valid");
        assert_eq!(d.kind, Kind::Ewma { lambda: 0.1, l: 2.7 });
        assert_eq!((d.alarm_type.as_str(), d.severity, d.aggregate_ms), ("drift", Severity::Major, 60_000));
        assert_eq!((d.m, d.n, d.clear_after, d.min_sigma), (2, 3, 5, 0.1));
        assert_eq!(d.baseline, Some(Baseline::Estimated { warmup: 50 }));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{}"#,
            r#"{"detectors": []}"#,
            r#"{"detectors": [{"kind": "iforest", "key": "p"}]}"#,
            r#"{"detectors": [{"kind": "ewma"}]}"#,
            r#"{"detectors": [{"kind": "ewma", "key": ""}]}"#,
            r#"{"detectors": [{"kind": "ewma", "key": "p", "threshold": 3}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "k": 1}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "mean": 1, "std": 1}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "lambda": 0.2}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "mean": 1}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "mean": 1, "std": 0}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "mean": 1, "std": 1, "warmup": 10}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "warmup": 1}]}"#,
            r#"{"detectors": [{"kind": "cusum", "key": "p", "h": 0}]}"#,
            r#"{"detectors": [{"kind": "ewma", "key": "p", "lambda": 1.5}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "window": 2000}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "window": 10, "min_window": 11}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "m": 3, "n": 2}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "n": 65}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "severity": "fatal"}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p"}, {"kind": "robust_z", "key": "p"}]}"#,
            r#"{"detectors": [{"kind": "robust_z", "key": "p", "bogus": 1}]}"#,
            "[]",
            "",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
    }

    #[test]
    fn schema_is_draft_2020_12() {
        assert_eq!(config_schema()["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
}
