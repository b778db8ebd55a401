//! # optimizer-esp-frequency
//!
//! Recommends an ESP (electric submersible pump) drive frequency that moves
//! the pump-intake pressure (PIP) toward a target, the PIP-based speed
//! control of domain reference §2.5, as one proportional step:
//!
//! * `e = PIP − target`; inside `±deadband_psi` nothing is recommended;
//! * `proposed = clamp(f + kp·e, min_frequency_hz, max_frequency_hz)`, with
//!   the change limited to `±max_step_hz`;
//! * an **increase** is blocked when the motor load `I / I_nameplate` is at
//!   or above `max_motor_load`, or when the flow predicted by the affinity law
//!   `Q·f_new/f` falls outside the recommended operating range scaled to the
//!   new frequency, `[Q_min,base·f_new/f_base, Q_max,base·f_new/f_base]`
//!   (§2.1–2.2). Decreases are never blocked: they relieve the pump;
//! * the expected gain is the affinity-law flow change `Q·(f_new/f − 1)` in
//!   bbl/d.
//!
//! The logic is the pure function [`decide`]; the component export only reads
//! the configuration, parses the static well data, calls it with the host's
//! time and logs why it recommends nothing.

use nexus_plugin_sdk::{PluginError, PluginInfo, Reading, Recommendation, WellContext};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The setpoint parameter this optimizer reads and proposes.
pub const FREQUENCY_PARAMETER: &str = "frequency_hz";

/// Telemetry keys of the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keys {
    /// Drive output frequency, Hz.
    pub frequency: String,
    /// Pump-intake pressure, psi.
    pub intake_pressure: String,
    /// Motor current, A.
    pub motor_current: String,
    /// Liquid flow rate, bbl/d.
    pub flow_rate: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            frequency: "frequency".into(),
            intake_pressure: "intake_pressure".into(),
            motor_current: "motor_current".into(),
            flow_rate: "flow_rate".into(),
        }
    }
}

/// The binding configuration; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// PIP setpoint, psi.
    pub target_intake_pressure: f64,
    /// Proportional gain, Hz per psi of PIP error.
    pub kp: f64,
    /// Largest change proposed at once, Hz.
    pub max_step_hz: f64,
    /// Lowest frequency ever proposed, Hz.
    pub min_frequency_hz: f64,
    /// Highest frequency ever proposed, Hz.
    pub max_frequency_hz: f64,
    /// Motor load (I / I_nameplate) at or above which increases are blocked.
    pub max_motor_load: f64,
    /// PIP error below which nothing is proposed, psi.
    pub deadband_psi: f64,
    /// Readings older than this (against the host's time) count as stale.
    pub max_reading_age_ms: i64,
    /// Telemetry keys of the inputs.
    pub keys: Keys,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            target_intake_pressure: 350.0,
            kp: 0.01,
            max_step_hz: 1.0,
            min_frequency_hz: 35.0,
            max_frequency_hz: 65.0,
            max_motor_load: 1.0,
            deadband_psi: 10.0,
            max_reading_age_ms: 15 * 60 * 1000,
            keys: Keys::default(),
        }
    }
}

impl OptimizerConfig {
    /// Checks the values; a problem is a `PluginError` with code `invalid-config`.
    pub fn validate(&self) -> Result<(), PluginError> {
        let invalid = |m: String| Err(PluginError::new("invalid-config", m));
        for (name, v) in [
            ("target_intake_pressure", self.target_intake_pressure),
            ("kp", self.kp),
            ("max_step_hz", self.max_step_hz),
            ("min_frequency_hz", self.min_frequency_hz),
            ("max_frequency_hz", self.max_frequency_hz),
            ("max_motor_load", self.max_motor_load),
            ("deadband_psi", self.deadband_psi),
        ] {
            if !v.is_finite() {
                return invalid(format!("`{name}` must be a finite number"));
            }
        }
        if self.kp <= 0.0 {
            return invalid(format!("`kp` must be > 0, got {}", self.kp));
        }
        if self.max_step_hz <= 0.0 {
            return invalid(format!("`max_step_hz` must be > 0, got {}", self.max_step_hz));
        }
        if self.min_frequency_hz <= 0.0 || self.min_frequency_hz >= self.max_frequency_hz {
            return invalid(format!(
                "need 0 < `min_frequency_hz` < `max_frequency_hz`, got {} and {}",
                self.min_frequency_hz, self.max_frequency_hz
            ));
        }
        if self.max_motor_load <= 0.0 {
            return invalid(format!("`max_motor_load` must be > 0, got {}", self.max_motor_load));
        }
        if self.deadband_psi < 0.0 {
            return invalid(format!("`deadband_psi` must be ≥ 0, got {}", self.deadband_psi));
        }
        if self.max_reading_age_ms <= 0 {
            return invalid(format!("`max_reading_age_ms` must be > 0, got {}", self.max_reading_age_ms));
        }
        let keys = &self.keys;
        if [&keys.frequency, &keys.intake_pressure, &keys.motor_current, &keys.flow_rate].iter().any(|k| k.is_empty()) {
            return invalid("`keys` must not be empty".into());
        }
        Ok(())
    }
}

/// Parses and validates a binding configuration (empty text = defaults);
/// a problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<OptimizerConfig, PluginError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let value = serde_json::from_str(json).map_err(|e| PluginError::new("invalid-config", e.to_string()))?;
    config_from_value(value)
}

/// Validates a binding configuration already parsed as JSON (it must be an object).
pub fn config_from_value(value: serde_json::Value) -> Result<OptimizerConfig, PluginError> {
    if !value.is_object() {
        return Err(PluginError::new("invalid-config", "the configuration must be a JSON object"));
    }
    let config: OptimizerConfig =
        serde_json::from_value(value).map_err(|e| PluginError::new("invalid-config", e.to_string()))?;
    config.validate()?;
    Ok(config)
}

/// Static data of the well (`WellContext::static_data`); unknown fields are
/// ignored, missing ones take defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WellData {
    /// Base frequency of the pump catalogue curve, Hz.
    pub base_frequency_hz: f64,
    /// Motor nameplate current, A.
    pub nameplate_current_a: f64,
    /// Flow at the best-efficiency point at base frequency, bbl/d.
    pub rated_flow_bpd_at_base: f64,
    /// Lower end of the recommended operating range at base frequency, bbl/d.
    pub min_flow_bpd_at_base: f64,
    /// Upper end of the recommended operating range at base frequency, bbl/d.
    pub max_flow_bpd_at_base: f64,
    /// Straight-line productivity index, bbl/d per psi of drawdown.
    pub productivity_index_bpd_per_psi: f64,
}

impl Default for WellData {
    fn default() -> Self {
        Self {
            base_frequency_hz: 60.0,
            nameplate_current_a: 50.0,
            rated_flow_bpd_at_base: 1500.0,
            min_flow_bpd_at_base: 800.0,
            max_flow_bpd_at_base: 2000.0,
            productivity_index_bpd_per_psi: 1.2,
        }
    }
}

/// Parses the static well data (empty text or `null` = defaults); a problem is
/// a `PluginError` with code `invalid-static-data`.
pub fn parse_static_data(json: &str) -> Result<WellData, PluginError> {
    let invalid = |m: String| PluginError::new("invalid-static-data", m);
    if json.trim().is_empty() {
        return Ok(WellData::default());
    }
    let data: Option<WellData> = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    let data = data.unwrap_or_default();
    for (name, v) in [
        ("base_frequency_hz", data.base_frequency_hz),
        ("nameplate_current_a", data.nameplate_current_a),
        ("rated_flow_bpd_at_base", data.rated_flow_bpd_at_base),
        ("min_flow_bpd_at_base", data.min_flow_bpd_at_base),
        ("max_flow_bpd_at_base", data.max_flow_bpd_at_base),
        ("productivity_index_bpd_per_psi", data.productivity_index_bpd_per_psi),
    ] {
        if !v.is_finite() || v <= 0.0 {
            return Err(invalid(format!("`{name}` must be a number > 0, got {v}")));
        }
    }
    if data.min_flow_bpd_at_base >= data.max_flow_bpd_at_base {
        return Err(invalid(format!(
            "`min_flow_bpd_at_base` ({}) must be below `max_flow_bpd_at_base` ({})",
            data.min_flow_bpd_at_base, data.max_flow_bpd_at_base
        )));
    }
    Ok(data)
}

/// Why nothing is recommended although the inputs are there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// The PIP error is inside the deadband.
    Deadband,
    /// The frequency is already at the limit the step would go past.
    NoChange,
    /// The pump is not running (frequency ≤ 0).
    NotRunning,
    /// An increase was blocked by the motor load.
    MotorLoad,
    /// An increase was blocked by the operating envelope.
    Envelope,
}

/// What [`decide`] concluded.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Propose this setpoint change.
    Recommend(Recommendation),
    /// Recommend nothing, for `reason`, explained by `message`.
    Hold {
        /// Why.
        reason: HoldReason,
        /// Explanation for the log.
        message: String,
    },
    /// A required input (frequency or intake pressure) is missing.
    MissingInput(String),
}

/// One input value, with its timestamp (`None` for a setpoint).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Observation {
    value: f64,
    ts: Option<i64>,
}

/// The newest finite numeric reading of `key` (the later one on a tie).
fn latest(readings: &[Reading], key: &str) -> Option<Observation> {
    readings
        .iter()
        .filter(|r| r.key == key)
        .filter_map(|r| {
            let value = r.value.as_f64().filter(|v| v.is_finite())?;
            Some((r.ts, value))
        })
        .max_by_key(|(ts, _)| *ts)
        .map(|(ts, value)| Observation { value, ts: Some(ts) })
}

/// Confidence weight of an input: full when fresh, half when stale, none when missing.
fn weight(input: Option<Observation>, full: f64, now_ms: i64, max_age_ms: i64) -> f64 {
    match input {
        None => 0.0,
        Some(Observation { ts: None, .. }) => full,
        Some(Observation { ts: Some(ts), .. }) if now_ms.saturating_sub(ts) <= max_age_ms => full,
        Some(_) => full / 2.0,
    }
}

/// Decides on one well: the pure logic of the optimizer.
///
/// `now_ms` is the host's time, used only to judge how fresh the readings are.
pub fn decide(config: &OptimizerConfig, well: &WellData, ctx: &WellContext, now_ms: i64) -> Decision {
    let keys = &config.keys;
    let rows = nexus_plugin_sdk::readings(&ctx.device_id, &ctx.readings);
    let frequency = ctx
        .setpoints
        .iter()
        .rev()
        .find(|s| s.parameter == FREQUENCY_PARAMETER && s.value.is_finite())
        .map(|s| Observation { value: s.value, ts: None })
        .or_else(|| latest(&rows, &keys.frequency));
    let intake = latest(&rows, &keys.intake_pressure);
    let current = latest(&rows, &keys.motor_current);
    let flow = latest(&rows, &keys.flow_rate);

    let Some(frequency) = frequency else {
        return Decision::MissingInput(format!(
            "well {}: no `{FREQUENCY_PARAMETER}` setpoint and no numeric `{}` reading; no recommendation",
            ctx.well_id, keys.frequency
        ));
    };
    let Some(intake) = intake else {
        return Decision::MissingInput(format!(
            "well {}: no numeric `{}` reading; no recommendation",
            ctx.well_id, keys.intake_pressure
        ));
    };
    let f = frequency.value;
    let pip = intake.value;
    if f <= 0.0 {
        return Decision::Hold {
            reason: HoldReason::NotRunning,
            message: format!("well {}: pump not running ({f} Hz); no recommendation", ctx.well_id),
        };
    }

    let target = config.target_intake_pressure;
    let error = pip - target;
    if error.abs() <= config.deadband_psi {
        return Decision::Hold {
            reason: HoldReason::Deadband,
            message: format!(
                "well {}: PIP {pip:.1} psi is within {:.1} psi of the {target:.1} psi target; no change",
                ctx.well_id, config.deadband_psi
            ),
        };
    }

    // Proportional step, clamped to the frequency range, then rate-limited.
    let raw_step = config.kp * error;
    let desired = (f + raw_step).clamp(config.min_frequency_hz, config.max_frequency_hz);
    let step = (desired - f).clamp(-config.max_step_hz, config.max_step_hz);
    let proposed = f + step;
    if step.abs() < 1e-6 {
        return Decision::Hold {
            reason: HoldReason::NoChange,
            message: format!(
                "well {}: PIP {pip:.1} psi vs target {target:.1} psi asks for {} but {f:.2} Hz is already at the limit",
                ctx.well_id,
                if error > 0.0 { "more speed" } else { "less speed" }
            ),
        };
    }
    let increase = step > 0.0;
    let ratio = proposed / f;

    // Motor load.
    let load = current.map(|c| c.value / well.nameplate_current_a);
    let load_text = match load {
        Some(load) => {
            format!("Motor load {:.0}% of nameplate (limit {:.0}%).", load * 100.0, config.max_motor_load * 100.0)
        }
        None => format!("Motor current `{}` unknown: load not checked.", keys.motor_current),
    };
    if increase && load.is_some_and(|l| l >= config.max_motor_load) {
        return Decision::Hold {
            reason: HoldReason::MotorLoad,
            message: format!(
                "well {}: PIP {pip:.1} psi is above the {target:.1} psi target but the increase to {proposed:.2} Hz is blocked. {load_text}",
                ctx.well_id
            ),
        };
    }

    // Operating envelope, with the recommended range scaled like the flow.
    let scale = proposed / well.base_frequency_hz;
    let (q_min, q_max) = (well.min_flow_bpd_at_base * scale, well.max_flow_bpd_at_base * scale);
    let envelope_text = match flow {
        Some(q) => {
            let predicted = q.value * ratio;
            let inside = (q_min..=q_max).contains(&predicted);
            if increase && !inside {
                return Decision::Hold {
                    reason: HoldReason::Envelope,
                    message: format!(
                        "well {}: increase to {proposed:.2} Hz blocked: predicted flow {predicted:.0} bbl/d is outside the {q_min:.0}–{q_max:.0} bbl/d operating range at that frequency",
                        ctx.well_id
                    ),
                };
            }
            format!(
                "Flow {:.0} → {predicted:.0} bbl/d by the affinity law, {} the {q_min:.0}–{q_max:.0} bbl/d operating range at {proposed:.2} Hz.",
                q.value,
                if inside { "inside" } else { "OUTSIDE" }
            )
        }
        None => format!("Flow `{}` unknown: envelope not checked; gain estimated from the rated flow.", keys.flow_rate),
    };

    // Expected gain by the affinity law (from the rated point if flow is unknown).
    let q_now = flow.map_or(well.rated_flow_bpd_at_base * f / well.base_frequency_hz, |q| q.value);
    let expected_gain = q_now * (ratio - 1.0);

    let max_age = config.max_reading_age_ms;
    let confidence = weight(Some(frequency), 0.3, now_ms, max_age)
        + weight(Some(intake), 0.3, now_ms, max_age)
        + weight(current, 0.2, now_ms, max_age)
        + weight(flow, 0.2, now_ms, max_age);

    let inflow_text = if increase {
        format!(
            " Drawing PIP down to the target would add at most {:.0} bbl/d of inflow (PI {} bbl/d/psi).",
            error * well.productivity_index_bpd_per_psi,
            well.productivity_index_bpd_per_psi
        )
    } else {
        String::new()
    };
    let limited = if (raw_step - step).abs() > 1e-9 {
        format!(
            " (P term {raw_step:+.2} Hz, limited to ±{:.2} Hz and {:.1}–{:.1} Hz)",
            config.max_step_hz, config.min_frequency_hz, config.max_frequency_hz
        )
    } else {
        String::new()
    };
    let rationale = format!(
        "PIP {pip:.1} psi is {:.1} psi {} the {target:.1} psi target (deadband {:.1} psi): {} frequency {f:.2} → {proposed:.2} Hz{limited}. {load_text} {envelope_text}{inflow_text}",
        error.abs(),
        if error > 0.0 { "above" } else { "below" },
        config.deadband_psi,
        if increase { "raise" } else { "lower" },
    );

    Decision::Recommend(Recommendation {
        details: serde_json::json!({"target_intake_pressure": target}).to_string(),
        device_id: ctx.device_id.clone(),
        parameter: FREQUENCY_PARAMETER.into(),
        current_value: f,
        proposed_value: proposed,
        unit: "Hz".into(),
        expected_gain,
        gain_unit: "bbl/d".into(),
        confidence: confidence.clamp(0.0, 1.0) as f32,
        rationale,
    })
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    let d = OptimizerConfig::default();
    let number =
        |default: f64, description: &str| json!({ "type": "number", "default": default, "description": description });
    let key = |default: &str| json!({ "type": "string", "minLength": 1, "default": default });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "optimizer-esp-frequency configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "target_intake_pressure": number(d.target_intake_pressure, "PIP setpoint, psi."),
            "kp": number(d.kp, "Proportional gain, Hz per psi of PIP error (> 0)."),
            "max_step_hz": number(d.max_step_hz, "Largest change proposed at once, Hz (> 0)."),
            "min_frequency_hz": number(d.min_frequency_hz, "Lowest frequency proposed, Hz."),
            "max_frequency_hz": number(d.max_frequency_hz, "Highest frequency proposed, Hz."),
            "max_motor_load": number(d.max_motor_load, "Block increases at or above this I/I_nameplate."),
            "deadband_psi": number(d.deadband_psi, "No recommendation while |PIP - target| is at most this, psi."),
            "max_reading_age_ms": {
                "type": "integer", "minimum": 1, "default": d.max_reading_age_ms,
                "description": "Readings older than this count as stale (lower confidence)."
            },
            "keys": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "frequency": key(&d.keys.frequency),
                    "intake_pressure": key(&d.keys.intake_pressure),
                    "motor_current": key(&d.keys.motor_current),
                    "flow_rate": key(&d.keys.flow_rate)
                }
            }
        }
    })
}

/// The component: reads config and static data, then calls [`decide`].
pub struct EspFrequency;

impl nexus_plugin_sdk::Optimizer for EspFrequency {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "optimizer-esp-frequency".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Recommends an ESP drive frequency that moves the pump-intake pressure \
                          toward a target, rate-limited, inside the frequency range, and never \
                          speeding up an overloaded motor or a pump outside its operating envelope."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn optimize(context: WellContext) -> Result<Vec<Recommendation>, PluginError> {
        let config = config_from_value(nexus_plugin_sdk::host::config()?)?;
        let well = parse_static_data(&context.static_data)?;
        match decide(&config, &well, &context, nexus_plugin_sdk::host::now()) {
            Decision::Recommend(recommendation) => Ok(vec![recommendation]),
            Decision::Hold { reason, message } => {
                match reason {
                    HoldReason::MotorLoad | HoldReason::Envelope | HoldReason::NotRunning => {
                        nexus_plugin_sdk::host::info(&message);
                    }
                    HoldReason::Deadband | HoldReason::NoChange => {
                        nexus_plugin_sdk::host::debug(&message);
                    }
                }
                Ok(Vec::new())
            }
            Decision::MissingInput(message) => {
                nexus_plugin_sdk::host::warn(&message);
                Ok(Vec::new())
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_optimizer!(EspFrequency);

#[cfg(test)]
mod tests;
