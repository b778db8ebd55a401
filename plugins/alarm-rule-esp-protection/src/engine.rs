//! The evaluation: [`evaluate_batch`] runs the five protection alarms over
//! one device's batch, updating its [`EspState`].
//!
//! Samples of the five keys are taken in `ts` order (at equal `ts`:
//! frequency, current, intake pressure, temperature, vibration); each alarm
//! is judged at each sample of its own input (current for underload,
//! overload and gas lock; temperature; vibration) with the latest value of
//! the others, and moves its [`Latch`].

use nexus_plugin_sdk::{AlarmSignal, Series};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::config::EspConfig;
use crate::latch::{Change, Latch, Verdict};
use crate::stats::{Baseline, Window, WindowStats};

/// The host-state key under which [`EspState`] is kept.
pub const STATE_KEY: &str = "esp-protection";
/// Longest gap counted when tracking the reference current or baseline CV, ms.
const MAX_TRACK_STEP_MS: i64 = 60_000;

/// The five alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Underload.
    Underload,
    /// Overload.
    Overload,
    /// High motor temperature.
    MotorTemperature,
    /// High vibration.
    Vibration,
    /// Gas lock.
    GasLock,
}

impl Alarm {
    /// All of them.
    pub const ALL: [Alarm; 5] =
        [Alarm::Underload, Alarm::Overload, Alarm::MotorTemperature, Alarm::Vibration, Alarm::GasLock];
}

/// The latches of the five alarms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarms {
    /// Underload.
    #[serde(default)]
    pub underload: Latch,
    /// Overload.
    #[serde(default)]
    pub overload: Latch,
    /// High motor temperature.
    #[serde(default)]
    pub motor_temperature: Latch,
    /// High vibration.
    #[serde(default)]
    pub vibration: Latch,
    /// Gas lock.
    #[serde(default)]
    pub gas_lock: Latch,
}

impl Alarms {
    /// The latch of an alarm.
    pub fn get(&self, alarm: Alarm) -> &Latch {
        match alarm {
            Alarm::Underload => &self.underload,
            Alarm::Overload => &self.overload,
            Alarm::MotorTemperature => &self.motor_temperature,
            Alarm::Vibration => &self.vibration,
            Alarm::GasLock => &self.gas_lock,
        }
    }

    /// The latch of an alarm, mutably.
    fn get_mut(&mut self, alarm: Alarm) -> &mut Latch {
        match alarm {
            Alarm::Underload => &mut self.underload,
            Alarm::Overload => &mut self.overload,
            Alarm::MotorTemperature => &mut self.motor_temperature,
            Alarm::Vibration => &mut self.vibration,
            Alarm::GasLock => &mut self.gas_lock,
        }
    }
}

/// Learning of the first reference current: the mean of the (normalized)
/// current since the motor started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Learning {
    /// First sample of the uninterrupted run.
    pub since: i64,
    /// Samples so far.
    pub n: u32,
    /// Their mean, A.
    pub mean: f64,
}

/// What the rule remembers per (binding, device), kept as JSON in host state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EspState {
    /// Latest evaluated sample time; older samples are skipped.
    #[serde(default)]
    pub last_ts: Option<i64>,
    /// Latest motor current, A.
    #[serde(default)]
    pub current: Option<f64>,
    /// Latest drive frequency, Hz.
    #[serde(default)]
    pub frequency: Option<f64>,
    /// Frequency the reference current refers to (the first seen), Hz.
    #[serde(default)]
    pub reference_frequency: Option<f64>,
    /// Tracked normal running current at the reference frequency, A.
    #[serde(default)]
    pub reference: Option<f64>,
    /// Last update of the tracked reference.
    #[serde(default)]
    pub reference_at: Option<i64>,
    /// Learning of the first reference.
    #[serde(default)]
    pub learning: Option<Learning>,
    /// Gas-lock window of current and intake pressure.
    #[serde(default)]
    pub window: Window,
    /// Learned baseline CV of the current.
    #[serde(default)]
    pub baseline_cv: Option<f64>,
    /// Last update of the learned baseline CV.
    #[serde(default)]
    pub baseline_cv_at: Option<i64>,
    /// Vibration baseline buckets.
    #[serde(default)]
    pub vibration_baseline: Baseline,
    /// The alarms.
    #[serde(default)]
    pub alarms: Alarms,
}

/// An input key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Input {
    Frequency,
    Current,
    Pressure,
    Temperature,
    Vibration,
}

/// Runs the protection alarms over one device's batch, updating `state`, and
/// returns the raise and clear signals in time order. Only numeric, finite
/// samples of the configured keys with `quality ≥ min_quality` are used;
/// samples older than the latest evaluated one are skipped.
pub fn evaluate_batch(config: &EspConfig, state: &mut EspState, device_id: &str, batch: &[Series]) -> Vec<AlarmSignal> {
    let keys = &config.keys;
    let mut events: Vec<(i64, Input, f64)> = Vec::new();
    for series in batch {
        let input = match series.key.as_str() {
            k if k == keys.frequency => Input::Frequency,
            k if k == keys.motor_current => Input::Current,
            k if k == keys.intake_pressure => Input::Pressure,
            k if k == keys.motor_temperature => Input::Temperature,
            k if k == keys.vibration => Input::Vibration,
            _ => continue,
        };
        events.extend(
            series
                .numbers_with_quality()
                .filter(|&(_, v, q)| q >= config.min_quality && v.is_finite())
                .map(|(ts, v, _)| (ts, input, v)),
        );
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mut run = Run { config, state, device_id, signals: Vec::new(), vibration_median: None };
    for (t, input, x) in events {
        if run.state.last_ts.is_some_and(|last| t < last) {
            continue;
        }
        run.state.last_ts = Some(t);
        match input {
            Input::Frequency => run.on_frequency(x),
            Input::Current => run.on_current(t, x),
            Input::Pressure => run.on_pressure(t, x),
            Input::Temperature => run.on_temperature(t, x),
            Input::Vibration => run.on_vibration(t, x),
        }
    }
    run.clear_disabled();
    run.signals
}

/// One evaluation run over a batch.
struct Run<'a> {
    config: &'a EspConfig,
    state: &'a mut EspState,
    device_id: &'a str,
    signals: Vec<AlarmSignal>,
    /// Vibration baseline median cached per baseline bucket: (bucket start, median).
    vibration_median: Option<(i64, Option<f64>)>,
}

impl<'a> Run<'a> {
    /// Whether a current of `i` A means the motor runs.
    fn running(&self, i: f64) -> bool {
        i > 0.0 && i >= self.config.running_current_fraction * self.config.nameplate_current_a
    }

    /// The reference current at the reference frequency: configured or tracked.
    fn reference(&self) -> Option<f64> {
        self.config.reference_current_a.or(self.state.reference)
    }

    /// `(f / f_ref)^e`: converts a current at the reference frequency to the current frequency.
    fn scale(&self) -> f64 {
        let f_ref = self.config.reference_frequency_hz.or(self.state.reference_frequency);
        match (self.state.frequency, f_ref) {
            (Some(f), Some(f_ref)) => (f / f_ref).powf(self.config.frequency_exponent),
            _ => 1.0,
        }
    }

    fn on_frequency(&mut self, f: f64) {
        if f > 0.0 {
            self.state.frequency = Some(f);
            self.state.reference_frequency.get_or_insert(f);
        } else {
            self.state.frequency = None;
        }
    }

    fn on_current(&mut self, t: i64, i: f64) {
        let config = self.config;
        self.state.current = Some(i);
        let nameplate = config.nameplate_current_a;
        let o = &config.overload;
        let verdict = judge(i > o.k * nameplate, i <= o.clear_k * nameplate);
        self.apply(t, Alarm::Overload, verdict, || {
            json!({
                "current_a": i, "nameplate_current_a": nameplate, "load": i / nameplate,
                "threshold_a": o.k * nameplate, "clear_threshold_a": o.clear_k * nameplate,
            })
        });
        if !self.running(i) {
            // Stopped: nothing to judge; a new run starts afresh.
            self.state.window.clear();
            self.state.learning = None;
            self.apply(t, Alarm::Underload, Verdict::Hold, || json!({}));
            self.apply(t, Alarm::GasLock, Verdict::Hold, || json!({}));
            return;
        }
        let scale = self.scale();
        let normalized = i / scale;
        self.track_reference(t, normalized);
        if config.gas_lock.enabled {
            self.state.window.add_current(t, normalized, config.gas_lock.window_ms);
        }
        let u = &config.underload;
        let reference = self.reference();
        let verdict = reference.map_or(Verdict::Hold, |r| judge(normalized < u.k * r, normalized >= u.clear_k * r));
        let source = if config.reference_current_a.is_some() { "configured" } else { "tracked" };
        let frequency = self.state.frequency;
        self.apply(t, Alarm::Underload, verdict, || {
            let r = reference.unwrap_or_default() * scale;
            json!({
                "current_a": i, "reference_current_a": r, "reference": source, "frequency_hz": frequency,
                "threshold_a": u.k * r, "clear_threshold_a": u.clear_k * r,
            })
        });
        self.judge_gas_lock(t, scale);
    }

    /// Learns the first reference current, then tracks it slowly over
    /// healthy samples (unless it is configured).
    fn track_reference(&mut self, t: i64, normalized: f64) {
        let config = self.config;
        if config.reference_current_a.is_some() {
            return;
        }
        let Some(reference) = self.state.reference else {
            let learning = self.state.learning.get_or_insert(Learning { since: t, n: 0, mean: 0.0 });
            learning.n = learning.n.saturating_add(1);
            learning.mean += (normalized - learning.mean) / f64::from(learning.n);
            if t - learning.since >= config.tracking.learn_ms {
                self.state.reference = Some(learning.mean);
                self.state.reference_at = Some(t);
                self.state.learning = None;
            }
            return;
        };
        let alarms = &self.state.alarms;
        let healthy = !alarms.underload.busy()
            && !alarms.overload.busy()
            && !alarms.gas_lock.busy()
            && (normalized - reference).abs() <= config.tracking.band * reference;
        if healthy {
            let step = (t - self.state.reference_at.unwrap_or(t)).clamp(0, MAX_TRACK_STEP_MS);
            let alpha = (step as f64 / config.tracking.tau_ms as f64).min(1.0);
            self.state.reference = Some(reference + alpha * (normalized - reference));
            self.state.reference_at = Some(t);
        }
    }

    /// Judges the gas-lock signature on the window ending at `t`, and learns
    /// the baseline CV from healthy windows.
    fn judge_gas_lock(&mut self, t: i64, scale: f64) {
        let g = &self.config.gas_lock;
        if !g.enabled {
            return;
        }
        let (Some(reference), Some(stats)) = (self.reference(), self.state.window.stats(t, g.window_ms)) else {
            self.apply(t, Alarm::GasLock, Verdict::Hold, || json!({}));
            return;
        };
        let baseline = g.baseline_cv.or(self.state.baseline_cv).map(|b| b.max(g.min_baseline_cv));
        let alarms = &self.state.alarms;
        let healthy = !alarms.gas_lock.busy()
            && !alarms.underload.busy()
            && (stats.mean - reference).abs() <= self.config.tracking.band * reference
            && baseline.is_none_or(|b| stats.cv <= g.cv_factor * b);
        if g.baseline_cv.is_none() && healthy {
            let learned = match self.state.baseline_cv {
                None => stats.cv,
                Some(previous) => {
                    let step = (t - self.state.baseline_cv_at.unwrap_or(t)).clamp(0, MAX_TRACK_STEP_MS);
                    let alpha = (step as f64 / g.baseline_tau_ms as f64).min(1.0);
                    previous + alpha * (stats.cv - previous)
                }
            };
            self.state.baseline_cv = Some(learned);
            self.state.baseline_cv_at = Some(t);
        }
        let Some(baseline) = baseline else {
            self.apply(t, Alarm::GasLock, Verdict::Hold, || json!({}));
            return;
        };
        let falling = stats.pressure.is_some_and(|(early, late)| late < early - g.pressure_fall_fraction * early.abs());
        let verdict = judge(
            stats.cv > g.cv_factor * baseline
                && stats.swings >= g.min_swings
                && stats.mean < g.mean_factor * reference
                && !falling,
            stats.cv <= g.clear_cv_factor * baseline || stats.mean >= g.clear_mean_factor * reference,
        );
        self.apply(t, Alarm::GasLock, verdict, || gas_lock_details(&stats, baseline, reference, scale));
    }

    fn on_pressure(&mut self, t: i64, p: f64) {
        let g = &self.config.gas_lock;
        if g.enabled && self.state.current.is_some_and(|i| self.running(i)) {
            self.state.window.add_pressure(t, p, g.window_ms);
        }
    }

    fn on_temperature(&mut self, t: i64, temperature: f64) {
        let m = &self.config.motor_temperature;
        let rating = self.config.motor_temp_rating_c;
        let threshold = rating - m.margin_c;
        let clear = threshold - m.hysteresis_c;
        let verdict = judge(temperature > threshold, temperature <= clear);
        self.apply(t, Alarm::MotorTemperature, verdict, || {
            json!({ "motor_temperature_c": temperature, "rating_c": rating, "threshold_c": threshold, "clear_threshold_c": clear })
        });
    }

    fn on_vibration(&mut self, t: i64, v: f64) {
        let vc = &self.config.vibration;
        let bucket = t.div_euclid(vc.baseline_bucket_ms);
        let median = match self.vibration_median {
            Some((cached, median)) if cached == bucket => median,
            _ => {
                let median = self.state.vibration_baseline.median(
                    t,
                    vc.baseline_bucket_ms,
                    vc.baseline_window_ms,
                    vc.min_baseline_buckets,
                );
                self.vibration_median = Some((bucket, median));
                median
            }
        };
        let threshold = median.map_or(vc.abs_limit_g, |m| vc.abs_limit_g.max(vc.baseline_factor * m));
        let verdict = judge(v > threshold, v <= vc.clear_ratio * threshold);
        let running = self.state.current.is_none_or(|i| self.running(i));
        if running && verdict != Verdict::Violating && !self.state.alarms.vibration.busy() {
            self.state.vibration_baseline.add(t, v, vc.baseline_bucket_ms, vc.baseline_window_ms);
        }
        self.apply(t, Alarm::Vibration, verdict, || {
            json!({
                "vibration_g": v, "threshold_g": threshold, "clear_threshold_g": vc.clear_ratio * threshold,
                "abs_limit_g": vc.abs_limit_g, "baseline_median_g": median,
            })
        });
    }

    /// The common settings of an alarm: (enabled, alarm type, severity, duration, clear duration).
    fn settings(&self, alarm: Alarm) -> (bool, &'a str, nexus_plugin_sdk::Severity, i64, i64) {
        let c: &'a EspConfig = self.config;
        match alarm {
            Alarm::Underload => {
                let s = &c.underload;
                (s.enabled, &s.alarm_type, s.severity, s.duration_ms, s.clear_duration_ms)
            }
            Alarm::Overload => {
                let s = &c.overload;
                (s.enabled, &s.alarm_type, s.severity, s.duration_ms, s.clear_duration_ms)
            }
            Alarm::MotorTemperature => {
                let s = &c.motor_temperature;
                (s.enabled, &s.alarm_type, s.severity, s.duration_ms, s.clear_duration_ms)
            }
            Alarm::Vibration => {
                let s = &c.vibration;
                (s.enabled, &s.alarm_type, s.severity, s.duration_ms, s.clear_duration_ms)
            }
            Alarm::GasLock => {
                let s = &c.gas_lock;
                (s.enabled, &s.alarm_type, s.severity, s.duration_ms, s.clear_duration_ms)
            }
        }
    }

    /// Moves an alarm's latch with a verdict at `t` and emits the signal of
    /// the change, if any; `details` (specific fields) is built only then.
    fn apply(&mut self, t: i64, alarm: Alarm, verdict: Verdict, details: impl FnOnce() -> Json) {
        let (enabled, alarm_type, severity, duration, clear_duration) = self.settings(alarm);
        if !enabled {
            return;
        }
        let Some(change) = self.state.alarms.get_mut(alarm).update(t, verdict, duration, clear_duration) else {
            return;
        };
        let mut map = match details() {
            Json::Object(map) => map,
            _ => Map::new(),
        };
        let signal = match change {
            Change::Raise { since } => {
                map.insert("since".into(), json!(since));
                map.insert("duration_ms".into(), json!(t - since));
                AlarmSignal::raise_at(self.device_id, t, alarm_type, severity, Json::Object(map))
            }
            Change::Clear { since } => {
                map.insert("since".into(), json!(since));
                AlarmSignal::clear_at(self.device_id, t, alarm_type, Json::Object(map))
            }
        };
        self.signals.push(signal);
    }

    /// Clears alarms that are raised but no longer enabled (at the latest sample time).
    fn clear_disabled(&mut self) {
        let Some(t) = self.state.last_ts else { return };
        for alarm in Alarm::ALL {
            let (enabled, alarm_type, ..) = self.settings(alarm);
            if !enabled && self.state.alarms.get(alarm).active {
                let signal = AlarmSignal::clear_at(self.device_id, t, alarm_type, json!({ "reason": "disabled" }));
                self.signals.push(signal);
                *self.state.alarms.get_mut(alarm) = Latch::default();
            }
        }
    }
}

/// A verdict from the raise and clear conditions (raise wins).
fn judge(violating: bool, clear: bool) -> Verdict {
    if violating {
        Verdict::Violating
    } else if clear {
        Verdict::Clear
    } else {
        Verdict::Hold
    }
}

/// Details of a gas-lock signal, currents at the present frequency.
fn gas_lock_details(stats: &WindowStats, baseline_cv: f64, reference: f64, scale: f64) -> Json {
    json!({
        "mean_current_a": stats.mean * scale,
        "reference_current_a": reference * scale,
        "cv": stats.cv,
        "baseline_cv": baseline_cv,
        "swings": stats.swings,
        "intake_pressure_early": stats.pressure.map(|p| p.0),
        "intake_pressure_late": stats.pressure.map(|p| p.1),
    })
}
