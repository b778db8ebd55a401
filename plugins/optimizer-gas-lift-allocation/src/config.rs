//! The binding configuration: which setpoint carries the lift-gas injection,
//! which telemetry key reads it when there is no setpoint, and the smallest
//! change worth recommending. Every field has a default.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// The binding configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The setpoint (and recommendation parameter) of the injection, Mscf/d.
    pub parameter: String,
    /// Telemetry key of the current injection, used when the well has no setpoint.
    pub injection_key: String,
    /// Changes smaller than this are not recommended, Mscf/d.
    pub min_change_mscf_d: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            parameter: "gas_injection_mscf_d".into(),
            injection_key: "gas_injection".into(),
            min_change_mscf_d: 10.0,
        }
    }
}

impl Config {
    /// Checks the values; a problem is a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.parameter.trim().is_empty() {
            return Err("`parameter` must not be empty".into());
        }
        if self.injection_key.trim().is_empty() {
            return Err("`injection_key` must not be empty".into());
        }
        if !(self.min_change_mscf_d.is_finite() && self.min_change_mscf_d >= 0.0) {
            return Err(format!("`min_change_mscf_d` must be a number ≥ 0, got {}", self.min_change_mscf_d));
        }
        Ok(())
    }
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn schema() -> serde_json::Value {
    let d = Config::default();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "optimizer-gas-lift-allocation configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "parameter": { "type": "string", "minLength": 1, "default": d.parameter,
                           "description": "Setpoint and recommendation parameter of the lift-gas injection, Mscf/d." },
            "injection_key": { "type": "string", "minLength": 1, "default": d.injection_key,
                               "description": "Telemetry key of the current injection when the well has no setpoint." },
            "min_change_mscf_d": { "type": "number", "minimum": 0, "default": d.min_change_mscf_d,
                                   "description": "Smaller changes are not recommended, Mscf/d." }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_schema_agree() {
        let d = Config::default();
        let s = schema();
        assert_eq!(s["properties"]["parameter"]["default"], json!(d.parameter));
        assert_eq!(s["properties"]["min_change_mscf_d"]["default"], json!(d.min_change_mscf_d));
        assert!(d.validate().is_ok());
    }
}
