//! The metering pump from the well's static data: the catalogue stage, the
//! stage count and head factor, the liquid gradient, and a calibration of
//! the head factor from the latest well test when it read the discharge
//! pressure (Camilleri & Zhou 2011: a known rate fixes the effective head).
//!
//! The fields are those of the optimizer's static-data schema (see
//! `plugins/optimizer-esp-frequency/README.md`), so the same `static_data`
//! serves both; fields this crate does not use are ignored.

use nexus_physics::curve::Curve;
use nexus_physics::esp::Fluid;
use nexus_physics::pump::{Pump, StageCurve};
use serde::Deserialize;

use crate::VfmError;

/// What the meter reads of the well's static data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MeterData {
    /// The pump.
    pub pump: PumpData,
    /// The produced liquid.
    pub fluid: FluidData,
    /// The limits; only the recommended range is used.
    pub limits: RangeData,
    /// The latest well test, if any.
    #[serde(default)]
    pub well_test: Option<TestData>,
}

/// The pump.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PumpData {
    /// Frequency of the catalogue curve, Hz.
    pub base_frequency_hz: f64,
    /// Head per stage at base frequency, ft (`{"polynomial": […]}` or `{"table": […]}`).
    pub head_ft: Curve,
    /// Number of stages; without it, a well test with a discharge pressure
    /// calibrates the (effective) stage count.
    #[serde(default)]
    pub stages: Option<f64>,
    /// Head-degradation factor (default 1; calibrated from a test with a discharge pressure).
    #[serde(default)]
    pub head_factor: Option<f64>,
}

/// The produced liquid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FluidData {
    /// Water cut (0–1).
    pub water_cut: f64,
    /// Liquid gradient, psi/ft; or the densities below.
    #[serde(default)]
    pub gradient_psi_per_ft: Option<f64>,
    /// Oil specific gravity.
    #[serde(default)]
    pub oil_sg: Option<f64>,
    /// Oil gravity, °API.
    #[serde(default)]
    pub oil_api: Option<f64>,
    /// Water specific gravity (default 1.0).
    #[serde(default)]
    pub water_sg: Option<f64>,
}

/// The recommended range.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RangeData {
    /// `[Q_min, Q_max]` at the pump's base frequency, bbl/d.
    pub recommended_range_bpd: [f64; 2],
}

/// A well test.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestData {
    /// Drive frequency, Hz.
    pub frequency_hz: f64,
    /// Liquid rate, bbl/d.
    pub rate_bpd: f64,
    /// Pump-intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Pump discharge pressure, psi; without it the test does not calibrate the meter.
    #[serde(default)]
    pub discharge_pressure_psi: Option<f64>,
}

/// The calibrated metering pump.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterPump {
    /// Stages, curve and head factor.
    pub pump: Pump,
    /// Liquid gradient, psi/ft.
    pub gradient_psi_per_ft: f64,
    /// Whether a well test calibrated the head factor.
    pub calibrated: bool,
}

impl MeterData {
    /// Parses the well's static data (unknown fields ignored).
    pub fn parse(text: &str) -> Result<Self, VfmError> {
        serde_json::from_str(text).map_err(|e| VfmError::StaticData(e.to_string()))
    }

    /// Validates and builds the metering pump, calibrated to the well test
    /// when it read the discharge pressure.
    pub fn pump(&self) -> Result<MeterPump, VfmError> {
        let invalid = |m: String| VfmError::StaticData(m);
        let f = &self.fluid;
        let oil_sg = f.oil_sg.or(f.oil_api.map(Fluid::oil_specific_gravity));
        let gradient = match (f.gradient_psi_per_ft, oil_sg) {
            (Some(g), _) => g,
            (None, Some(sg)) => {
                Fluid::from_specific_gravities(f.water_cut, sg, f.water_sg.unwrap_or(1.0)).gradient_psi_per_ft
            }
            (None, None) => return Err(invalid("`fluid` needs `gradient_psi_per_ft` or the oil density".into())),
        };
        if !(gradient.is_finite() && gradient > 0.0) {
            return Err(invalid(format!("the liquid gradient must be > 0, got {gradient}")));
        }
        let [q_min, q_max] = self.limits.recommended_range_bpd;
        let stage = StageCurve {
            base_frequency_hz: self.pump.base_frequency_hz,
            head_ft: self.pump.head_ft.clone(),
            brake_horsepower: None,
            min_flow_bpd: q_min,
            max_flow_bpd: q_max,
        };
        let mut pump =
            Pump { stage, stages: self.pump.stages.unwrap_or(1.0), head_factor: self.pump.head_factor.unwrap_or(1.0) };
        pump.validate().map_err(|e| invalid(e.to_string()))?;
        let mut calibrated = false;
        if let Some(TestData { frequency_hz, rate_bpd, intake_pressure_psi, discharge_pressure_psi: Some(discharge) }) =
            self.well_test.clone()
        {
            // N·k·h_f(q)·G = ΔP at the test point.
            let head = pump.stage.head(rate_bpd, frequency_hz);
            let rise = discharge - intake_pressure_psi;
            if !(head > 0.0 && rise > 0.0 && frequency_hz > 0.0) {
                return Err(invalid(format!(
                    "the well test gives a pressure rise of {rise:.1} psi on a stage head of {head:.3} ft: both must be positive"
                )));
            }
            // Effective stages N·k; kept as the factor when N is given, else as N.
            let effective = rise / (gradient * head);
            match self.pump.stages {
                Some(stages) => pump.head_factor = effective / stages,
                None => (pump.stages, pump.head_factor) = (effective, 1.0),
            }
            calibrated = true;
        } else if self.pump.stages.is_none() {
            return Err(invalid("`pump.stages` is needed without a well test that read the discharge pressure".into()));
        }
        Ok(MeterPump { pump, gradient_psi_per_ft: gradient, calibrated })
    }
}
