//! The binding configuration: the telemetry key of the cards, a severity per
//! fault class, the rod weight for surface cards and the absolute rod-part
//! references. Every field has a default.

use std::collections::BTreeMap;

use nexus_physics::card::{CardClass, ClassifyOptions};
use nexus_plugin_sdk::config::{finite, in_range, non_negative, positive};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::Deserialize;
use serde_json::json;

/// The default severity of a fault class's alarm.
pub fn default_severity(class: CardClass) -> Severity {
    match class {
        CardClass::RodPart => Severity::Critical,
        CardClass::GasLock | CardClass::TravelingValveLeak | CardClass::StandingValveLeak | CardClass::PumpTagging => {
            Severity::Major
        }
        CardClass::FluidPound | CardClass::TubingMovement => Severity::Minor,
        CardClass::GasInterference | CardClass::FullPump => Severity::Warning,
    }
}

/// The configuration as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    key: Option<String>,
    severities: BTreeMap<String, String>,
    buoyant_rod_weight_lbf: Option<f64>,
    rod_part_span_lbf: Option<f64>,
    min_peak_load_lbf: Option<f64>,
    min_confidence: Option<f64>,
    min_quality: Option<f32>,
}

/// The validated binding configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Raw")]
pub struct Config {
    /// Telemetry key of the cards (text values, one JSON card each).
    pub key: String,
    /// Severity of each fault class's alarm.
    pub severities: BTreeMap<CardClass, Severity>,
    /// Buoyant rod weight for surface cards that do not carry their own, lbf.
    pub buoyant_rod_weight_lbf: f64,
    /// A card whose load span is below this is a rod part, lbf (per well,
    /// e.g. a quarter of the design fluid load); `None`: not by span.
    pub rod_part_span_lbf: Option<f64>,
    /// A card whose peak polished-rod load is below this is a rod part, lbf
    /// (the load collapses to about the buoyant rod weight); `None`: not by load.
    pub min_peak_load_lbf: Option<f64>,
    /// Cards classified with a lower confidence change nothing.
    pub min_confidence: f64,
    /// Samples with a lower quality are skipped.
    pub min_quality: f32,
}

impl Default for Config {
    fn default() -> Self {
        Self::try_from(Raw::default()).unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl TryFrom<Raw> for Config {
    type Error = String;

    fn try_from(raw: Raw) -> Result<Self, String> {
        let key = raw.key.unwrap_or_else(|| "card".into());
        if key.trim().is_empty() {
            return Err("`key` must not be empty".into());
        }
        let mut severities: BTreeMap<CardClass, Severity> =
            CardClass::ALL.into_iter().filter(|c| c.is_fault()).map(|c| (c, default_severity(c))).collect();
        for (name, value) in &raw.severities {
            let class = CardClass::from_name(name)
                .filter(|c| c.is_fault())
                .ok_or_else(|| format!("`severities`: unknown fault class {name:?}"))?;
            severities.insert(class, nexus_plugin_sdk::config::severity(&format!("severities.{name}"), value)?);
        }
        let buoyant_rod_weight_lbf = finite("buoyant_rod_weight_lbf", raw.buoyant_rod_weight_lbf.unwrap_or(0.0))?;
        if let Some(v) = raw.rod_part_span_lbf {
            positive("rod_part_span_lbf", v)?;
        }
        if let Some(v) = raw.min_peak_load_lbf {
            non_negative("min_peak_load_lbf", v)?;
        }
        let min_confidence = in_range("min_confidence", raw.min_confidence.unwrap_or(0.0), 0.0..=1.0)?;
        let min_quality = in_range("min_quality", raw.min_quality.unwrap_or(0.0), 0.0..=1.0)?;
        Ok(Self {
            key,
            severities,
            buoyant_rod_weight_lbf,
            rod_part_span_lbf: raw.rod_part_span_lbf,
            min_peak_load_lbf: raw.min_peak_load_lbf,
            min_confidence,
            min_quality,
        })
    }
}

impl Config {
    /// The classifier's options.
    pub fn classify_options(&self) -> ClassifyOptions {
        ClassifyOptions { rod_part_span_lbf: self.rod_part_span_lbf }
    }

    /// Severity of a class's alarm.
    pub fn severity(&self, class: CardClass) -> Severity {
        self.severities.get(&class).copied().unwrap_or_else(|| default_severity(class))
    }
}

/// Parses and validates a binding configuration (empty text = defaults); a
/// problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<Config, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn schema() -> serde_json::Value {
    let severity = |c: CardClass| {
        let name = match default_severity(c) {
            Severity::Critical => "CRITICAL",
            Severity::Major => "MAJOR",
            Severity::Minor => "MINOR",
            Severity::Warning => "WARNING",
            Severity::Indeterminate => "INDETERMINATE",
        };
        nexus_plugin_sdk::config::severity_schema(name, &format!("Severity of {}.", c.name()))
    };
    let severities: serde_json::Map<String, serde_json::Value> =
        CardClass::ALL.into_iter().filter(|c| c.is_fault()).map(|c| (c.name().to_string(), severity(c))).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-rod-pump-card configuration",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "key": { "type": "string", "minLength": 1, "default": "card",
                     "description": "Telemetry key of the cards: text values, each {\"position\": [in], \"load\": [lbf], \"kind\": \"downhole\"|\"surface\", \"buoyant_rod_weight_lbf\": lbf}." },
            "severities": { "type": "object", "additionalProperties": false, "properties": severities,
                            "description": "Severity per fault class (alarm type)." },
            "buoyant_rod_weight_lbf": { "type": "number", "default": 0,
                                        "description": "Buoyant rod weight subtracted from surface cards that carry none, lbf." },
            "rod_part_span_lbf": { "type": "number", "exclusiveMinimum": 0,
                                   "description": "A card whose load span is below this is a rod part, lbf (e.g. 25 % of the design fluid load). Unset: not by span." },
            "min_peak_load_lbf": { "type": "number", "minimum": 0,
                                   "description": "A card whose peak polished-rod load is below this is a rod part, lbf. Unset: not by load." },
            "min_confidence": { "type": "number", "minimum": 0, "maximum": 1, "default": 0,
                                "description": "Cards classified with a lower confidence (0.5–1) change nothing." },
            "min_quality": { "type": "number", "minimum": 0, "maximum": 1, "default": 0,
                             "description": "Samples of lower quality are skipped." }
        }
    })
}
