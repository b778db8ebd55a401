//! The binding configuration: nameplate values, telemetry keys and one
//! section per protection alarm, every threshold relative to the nameplate
//! (or to the tracked normal running current) as in domain reference §2.3.
//! Every field but the two nameplate values has a default ([E]: starting
//! values, tune per well).

use std::ops::Bound::{Excluded, Included};

use nexus_plugin_sdk::config::{distinct_keys, in_range, non_empty, non_negative, positive};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::{Deserialize, Deserializer};

/// Telemetry keys of the inputs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keys {
    /// Motor current, A.
    pub motor_current: String,
    /// Motor (winding) temperature, °C.
    pub motor_temperature: String,
    /// Downhole vibration, g.
    pub vibration: String,
    /// Pump-intake pressure (any unit).
    pub intake_pressure: String,
    /// Drive output frequency, Hz.
    pub frequency: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            motor_current: "motor_current".into(),
            motor_temperature: "motor_temperature".into(),
            vibration: "vibration".into(),
            intake_pressure: "intake_pressure".into(),
            frequency: "frequency".into(),
        }
    }
}

/// Parses a severity name (any case) from JSON.
fn severity<'de, D: Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
    let name = String::deserialize(d)?;
    nexus_plugin_sdk::config::severity("severity", &name).map_err(serde::de::Error::custom)
}

/// Defines an alarm section: the common fields (`enabled`, `alarm_type`,
/// `severity`, `duration_ms`, `clear_duration_ms`) plus its own.
macro_rules! section {
    ($(#[$doc:meta])* $name:ident, $alarm_type:literal, $severity:expr, $duration:expr,
     { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether the alarm is evaluated.
            pub enabled: bool,
            /// Alarm type of its signals.
            pub alarm_type: String,
            /// Severity of its raise signals.
            #[serde(deserialize_with = "severity")]
            pub severity: Severity,
            /// How long the raise condition must hold before the raise, ms.
            pub duration_ms: i64,
            /// How long the clear condition must hold before the clear, ms.
            pub clear_duration_ms: i64,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    alarm_type: $alarm_type.into(),
                    severity: $severity,
                    duration_ms: $duration,
                    clear_duration_ms: 0,
                    $($field: $default,)*
                }
            }
        }
    };
}

section!(
    /// Underload: `I < k·I_ref` for `duration_ms` while running; clears at `I ≥ clear_k·I_ref`.
    Underload, "Underload", Severity::Major, 20_000, {
        /// Fraction of the reference current below which the motor is underloaded.
        k: f64 = 0.8,
        /// Fraction of the reference current at or above which the alarm clears.
        clear_k: f64 = 0.85,
    }
);

section!(
    /// Overload: `I > k·I_nameplate` for `duration_ms`; clears at `I ≤ clear_k·I_nameplate`.
    Overload, "Overload", Severity::Critical, 10_000, {
        /// Multiple of the nameplate current above which the motor is overloaded.
        k: f64 = 1.15,
        /// Multiple of the nameplate current at or below which the alarm clears.
        clear_k: f64 = 1.05,
    }
);

section!(
    /// High motor temperature: `T > rating − margin_c`; clears at `T ≤ rating − margin_c − hysteresis_c`.
    MotorTemperature, "HighMotorTemperature", Severity::Major, 30_000, {
        /// Margin below the temperature rating, °C.
        margin_c: f64 = 10.0,
        /// How far below the raise threshold the temperature must fall to clear, °C.
        hysteresis_c: f64 = 5.0,
    }
);

section!(
    /// High vibration: `v > max(abs_limit_g, baseline_factor × baseline median)`;
    /// clears at `v ≤ clear_ratio × threshold`.
    Vibration, "HighVibration", Severity::Major, 30_000, {
        /// Absolute limit, g.
        abs_limit_g: f64 = 2.0,
        /// Multiple of the baseline median.
        baseline_factor: f64 = 2.0,
        /// Fraction of the threshold at or below which the alarm clears.
        clear_ratio: f64 = 0.9,
        /// Span of the baseline, ms (7 days).
        baseline_window_ms: i64 = 7 * 24 * 3_600_000,
        /// Length of a baseline bucket (its mean is one point of the median), ms.
        baseline_bucket_ms: i64 = 3_600_000,
        /// Complete buckets needed before the baseline counts.
        min_baseline_buckets: u32 = 6,
    }
);

section!(
    /// Gas lock (§2.4): rolling CV of the current above `cv_factor ×` its
    /// baseline with at least `min_swings` swings, mean current below
    /// `mean_factor·I_ref`, intake pressure not falling.
    GasLock, "GasLock", Severity::Major, 60_000, {
        /// Rolling window of the current statistics, ms.
        window_ms: i64 = 600_000,
        /// Multiple of the baseline CV above which the current is erratic.
        cv_factor: f64 = 3.0,
        /// Multiple of the baseline CV at or below which the alarm clears.
        clear_cv_factor: f64 = 2.0,
        /// Fraction of the reference current below which the mean is low.
        mean_factor: f64 = 0.9,
        /// Fraction of the reference current at or above which the alarm clears.
        clear_mean_factor: f64 = 0.95,
        /// Least number of sign changes of the window's bucket means around the window mean.
        min_swings: u32 = 4,
        /// Relative fall of the intake pressure (late half vs early half of the window) that counts as falling.
        pressure_fall_fraction: f64 = 0.02,
        /// Baseline CV; learned from normal running when not set.
        baseline_cv: Option<f64> = None,
        /// Floor of the baseline CV.
        min_baseline_cv: f64 = 0.01,
        /// Time constant of the learned baseline CV, ms.
        baseline_tau_ms: i64 = 6 * 3_600_000,
    }
);

/// How the normal running current is learned and tracked when
/// `reference_current_a` is not configured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tracking {
    /// Uninterrupted running needed to learn the first reference (its mean current), ms.
    pub learn_ms: i64,
    /// Time constant of the exponential tracking of the reference, ms.
    pub tau_ms: i64,
    /// Only samples within `±band` of the reference are tracked.
    pub band: f64,
}

impl Default for Tracking {
    fn default() -> Self {
        Self { learn_ms: 900_000, tau_ms: 3_600_000, band: 0.1 }
    }
}

/// The validated binding configuration: its `Deserialize` runs
/// [`EspConfig::validate`] after the derived one (`remote = "Self"` makes the
/// derive an inherent `EspConfig::deserialize` for it to call).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct EspConfig {
    /// Motor nameplate current, A.
    pub nameplate_current_a: f64,
    /// Motor temperature rating, °C.
    pub motor_temp_rating_c: f64,
    /// Normal running current, A; tracked from the data when not set.
    #[serde(default)]
    pub reference_current_a: Option<f64>,
    /// Frequency at which `reference_current_a` applies, Hz (default: the first frequency seen).
    #[serde(default)]
    pub reference_frequency_hz: Option<f64>,
    /// Exponent `e` of the load current's dependence on frequency,
    /// `I ∝ (f/f_ref)^e` (centrifugal load at constant V/Hz: about 2).
    #[serde(default = "default_frequency_exponent")]
    pub frequency_exponent: f64,
    /// The motor runs when `I ≥ running_current_fraction · I_nameplate`.
    #[serde(default = "default_running_fraction")]
    pub running_current_fraction: f64,
    /// Samples with a lower quality are ignored.
    #[serde(default)]
    pub min_quality: f32,
    /// Telemetry keys.
    #[serde(default)]
    pub keys: Keys,
    /// Reference-current tracking.
    #[serde(default)]
    pub tracking: Tracking,
    /// Underload alarm.
    #[serde(default)]
    pub underload: Underload,
    /// Overload alarm.
    #[serde(default)]
    pub overload: Overload,
    /// High motor temperature alarm.
    #[serde(default)]
    pub motor_temperature: MotorTemperature,
    /// High vibration alarm.
    #[serde(default)]
    pub vibration: Vibration,
    /// Gas-lock alarm.
    #[serde(default)]
    pub gas_lock: GasLock,
}

/// Default of [`EspConfig::frequency_exponent`].
fn default_frequency_exponent() -> f64 {
    2.0
}

/// Default of [`EspConfig::running_current_fraction`].
fn default_running_fraction() -> f64 {
    0.1
}

impl<'de> Deserialize<'de> for EspConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = EspConfig::deserialize(d)?;
        config.validate().map_err(serde::de::Error::custom)?;
        Ok(config)
    }
}

/// Parses and validates a binding configuration; a problem is a `PluginError`
/// with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<EspConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

impl EspConfig {
    /// Checks ranges and consistency; the message names the field.
    fn validate(&self) -> Result<(), String> {
        let ms = |name: &str, v: i64, min: i64| {
            if v >= min { Ok(()) } else { Err(format!("`{name}` must be ≥ {min} ms, got {v}")) }
        };
        positive("nameplate_current_a", self.nameplate_current_a)?;
        positive("motor_temp_rating_c", self.motor_temp_rating_c)?;
        if let Some(i) = self.reference_current_a {
            positive("reference_current_a", i)?;
        }
        if let Some(f) = self.reference_frequency_hz {
            positive("reference_frequency_hz", f)?;
        }
        non_negative("frequency_exponent", self.frequency_exponent)?;
        in_range("running_current_fraction", self.running_current_fraction, 0.0..1.0)?;
        in_range("min_quality", self.min_quality, 0.0..=1.0)?;
        let keys = &self.keys;
        distinct_keys([
            ("keys.motor_current", keys.motor_current.as_str()),
            ("keys.motor_temperature", &keys.motor_temperature),
            ("keys.vibration", &keys.vibration),
            ("keys.intake_pressure", &keys.intake_pressure),
            ("keys.frequency", &keys.frequency),
        ])?;
        ms("tracking.learn_ms", self.tracking.learn_ms, 1)?;
        ms("tracking.tau_ms", self.tracking.tau_ms, 1)?;
        positive("tracking.band", self.tracking.band)?;
        for (name, alarm_type, duration, clear_duration) in [
            ("underload", &self.underload.alarm_type, self.underload.duration_ms, self.underload.clear_duration_ms),
            ("overload", &self.overload.alarm_type, self.overload.duration_ms, self.overload.clear_duration_ms),
            (
                "motor_temperature",
                &self.motor_temperature.alarm_type,
                self.motor_temperature.duration_ms,
                self.motor_temperature.clear_duration_ms,
            ),
            ("vibration", &self.vibration.alarm_type, self.vibration.duration_ms, self.vibration.clear_duration_ms),
            ("gas_lock", &self.gas_lock.alarm_type, self.gas_lock.duration_ms, self.gas_lock.clear_duration_ms),
        ] {
            non_empty(&format!("{name}.alarm_type"), alarm_type.trim().to_string())?;
            ms(&format!("{name}.duration_ms"), duration, 0)?;
            ms(&format!("{name}.clear_duration_ms"), clear_duration, 0)?;
        }
        let u = &self.underload;
        positive("underload.k", u.k)?;
        if !(u.clear_k.is_finite() && u.clear_k >= u.k) {
            return Err(format!("`underload.clear_k` ({}) must be ≥ `underload.k` ({})", u.clear_k, u.k));
        }
        let o = &self.overload;
        positive("overload.clear_k", o.clear_k)?;
        if !(o.k.is_finite() && o.k >= o.clear_k) {
            return Err(format!("`overload.k` ({}) must be ≥ `overload.clear_k` ({})", o.k, o.clear_k));
        }
        non_negative("motor_temperature.margin_c", self.motor_temperature.margin_c)?;
        non_negative("motor_temperature.hysteresis_c", self.motor_temperature.hysteresis_c)?;
        let v = &self.vibration;
        positive("vibration.abs_limit_g", v.abs_limit_g)?;
        positive("vibration.baseline_factor", v.baseline_factor)?;
        in_range("vibration.clear_ratio", v.clear_ratio, (Excluded(0.0), Included(1.0)))?;
        ms("vibration.baseline_bucket_ms", v.baseline_bucket_ms, 60_000)?;
        ms("vibration.baseline_window_ms", v.baseline_window_ms, v.baseline_bucket_ms)?;
        if v.baseline_window_ms / v.baseline_bucket_ms > 336 {
            return Err("`vibration.baseline_window_ms` / `baseline_bucket_ms` must be at most 336 buckets".into());
        }
        if i64::from(v.min_baseline_buckets) > v.baseline_window_ms / v.baseline_bucket_ms {
            return Err("`vibration.min_baseline_buckets` exceeds the buckets of the baseline window".into());
        }
        let g = &self.gas_lock;
        ms("gas_lock.window_ms", g.window_ms, 60_000)?;
        for (name, value) in [
            ("gas_lock.cv_factor", g.cv_factor),
            ("gas_lock.clear_cv_factor", g.clear_cv_factor),
            ("gas_lock.mean_factor", g.mean_factor),
            ("gas_lock.clear_mean_factor", g.clear_mean_factor),
            ("gas_lock.min_baseline_cv", g.min_baseline_cv),
        ] {
            positive(name, value)?;
        }
        non_negative("gas_lock.pressure_fall_fraction", g.pressure_fall_fraction)?;
        if g.clear_cv_factor > g.cv_factor || g.clear_mean_factor < g.mean_factor {
            return Err("`gas_lock` clear thresholds must be on the safe side of the raise thresholds \
                        (clear_cv_factor ≤ cv_factor, clear_mean_factor ≥ mean_factor)"
                .into());
        }
        if let Some(cv) = g.baseline_cv {
            positive("gas_lock.baseline_cv", cv)?;
        }
        ms("gas_lock.baseline_tau_ms", g.baseline_tau_ms, 1)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_domain_reference() {
        let c = parse_config(r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150}"#).expect("valid");
        assert_eq!(c.keys.motor_current, "motor_current");
        assert_eq!(c.keys.frequency, "frequency");
        assert_eq!((c.underload.k, c.underload.duration_ms), (0.8, 20_000));
        assert_eq!((c.overload.k, c.overload.duration_ms), (1.15, 10_000));
        assert_eq!(c.motor_temperature.margin_c, 10.0);
        assert_eq!((c.vibration.abs_limit_g, c.vibration.baseline_factor), (2.0, 2.0));
        assert_eq!(c.vibration.baseline_window_ms, 7 * 24 * 3_600_000);
        assert_eq!((c.gas_lock.cv_factor, c.gas_lock.mean_factor), (3.0, 0.9));
        assert_eq!(c.gas_lock.alarm_type, "GasLock");
        assert_eq!(c.overload.severity, Severity::Critical);
        assert!(c.reference_current_a.is_none());
    }

    #[test]
    fn sections_override_fields() {
        let c = parse_config(
            r#"{"nameplate_current_a": 50, "motor_temp_rating_c": 150, "reference_current_a": 38,
                "keys": {"vibration": "vib_g"}, "underload": {"k": 0.7, "severity": "CRITICAL"},
                "gas_lock": {"enabled": false, "baseline_cv": 0.02}}"#,
        )
        .expect("valid");
        assert_eq!(c.keys.vibration, "vib_g");
        assert_eq!(c.keys.motor_current, "motor_current");
        assert_eq!((c.underload.k, c.underload.severity), (0.7, Severity::Critical));
        assert_eq!(c.underload.clear_k, 0.85);
        assert!(!c.gas_lock.enabled);
        assert_eq!(c.gas_lock.baseline_cv, Some(0.02));
    }

    #[test]
    fn invalid_configurations_are_explained() {
        let base = r#""nameplate_current_a": 50, "motor_temp_rating_c": 150"#;
        for (json, fragment) in [
            ("[]".to_string(), "JSON object"),
            (r#"{"motor_temp_rating_c": 150}"#.to_string(), "nameplate_current_a"),
            (r#"{"nameplate_current_a": -1, "motor_temp_rating_c": 150}"#.to_string(), "`nameplate_current_a`"),
            (format!(r#"{{{base}, "bogus": 1}}"#), "unknown field `bogus`"),
            (format!(r#"{{{base}, "underload": {{"k": 0.9, "clear_k": 0.8}}}}"#), "`underload.clear_k`"),
            (format!(r#"{{{base}, "overload": {{"k": 1.0, "clear_k": 1.1}}}}"#), "`overload.k`"),
            (format!(r#"{{{base}, "overload": {{"severity": "awful"}}}}"#), "unknown severity"),
            (format!(r#"{{{base}, "vibration": {{"clear_ratio": 1.5}}}}"#), "`vibration.clear_ratio`"),
            (format!(r#"{{{base}, "vibration": {{"baseline_bucket_ms": 60000}}}}"#), "336"),
            (format!(r#"{{{base}, "gas_lock": {{"window_ms": 1000}}}}"#), "`gas_lock.window_ms`"),
            (format!(r#"{{{base}, "gas_lock": {{"clear_cv_factor": 4}}}}"#), "safe side"),
            (format!(r#"{{{base}, "keys": {{"vibration": "motor_current"}}}}"#), "distinct"),
            (format!(r#"{{{base}, "tracking": {{"band": 0}}}}"#), "`tracking.band`"),
            (format!(r#"{{{base}, "underload": {{"duration_ms": -1}}}}"#), "`underload.duration_ms`"),
            (format!(r#"{{{base}, "running_current_fraction": 1.0}}"#), "running_current_fraction"),
        ] {
            let err = parse_config(&json).expect_err(&json);
            assert_eq!(err.code, "invalid-config");
            assert!(err.message.contains(fragment), "{json}: {}", err.message);
        }
    }
}
