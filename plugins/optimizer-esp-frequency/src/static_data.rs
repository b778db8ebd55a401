//! The well's static data (`WellContext::static_data`, JSON): pump, depths,
//! inflow, fluid, tubing, motor, casing, operating limits and optionally the
//! latest well test. [`WellData::model`] ([`crate::model`]) validates it and
//! builds the nodal model of `nexus-physics`, not yet calibrated. The schema is in the
//! crate's README; unknown fields are errors, so a typo is not silently
//! ignored.

use nexus_physics::curve::Curve;
use nexus_physics::esp::TubingFriction;
use serde::{Deserialize, Serialize};

pub use crate::model::{Model, parse, parse_date};

/// Static data of one well, as JSON in the well's `static_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WellData {
    /// The pump.
    pub pump: PumpData,
    /// Pump (intake) depth, ft TVD.
    pub pump_depth_ft: f64,
    /// Mid-perforation depth, ft TVD (default: the pump depth).
    #[serde(default)]
    pub perforation_depth_ft: Option<f64>,
    /// The reservoir inflow.
    pub inflow: InflowData,
    /// The produced liquid.
    pub fluid: FluidData,
    /// Tubing-head pressure, psi.
    pub tubing_head_pressure_psi: f64,
    /// Tubing friction: `loss_psi` at `at_rate_bpd`, growing with the rate squared.
    pub tubing_friction: TubingFriction,
    /// Motor nameplate.
    pub motor: MotorData,
    /// Casing inner diameter at the motor, in.
    pub casing_id_in: f64,
    /// Motor outer diameter, in.
    pub motor_od_in: f64,
    /// Tubing outer diameter, in (optional): with it, the annulus storage
    /// corrects the inflow for a transient not yet settled.
    #[serde(default)]
    pub tubing_od_in: Option<f64>,
    /// Operating limits.
    pub limits: LimitsData,
    /// The latest well test, if any.
    #[serde(default)]
    pub well_test: Option<WellTestData>,
}

/// The pump: a catalogue stage curve and its stage count (or calibrate it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PumpData {
    /// Frequency of the catalogue curve, Hz.
    pub base_frequency_hz: f64,
    /// Head per stage at base frequency, ft, of the rate in bbl/d:
    /// `{"polynomial": [c0, c1, …]}` or `{"table": [[q, h], …]}`.
    pub head_ft: Curve,
    /// Brake horsepower per stage at base frequency for water, hp (optional).
    #[serde(default)]
    pub brake_horsepower: Option<Curve>,
    /// Number of stages; without it the stage count is calibrated.
    #[serde(default)]
    pub stages: Option<f64>,
    /// Head-degradation factor (default 1).
    #[serde(default)]
    pub head_factor: Option<f64>,
    /// What absorbs a calibration point: `"head_factor"` (the default with
    /// `stages`), `"stages"` (the default without), or `"none"`.
    #[serde(default)]
    pub calibrate: Option<PumpCalibration>,
}

/// What a calibration point fits in the pump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PumpCalibration {
    /// The head-degradation factor.
    HeadFactor,
    /// The (effective) stage count.
    Stages,
    /// Nothing: the catalogue pump as given.
    None,
}

/// The reservoir inflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InflowData {
    /// `"linear"` (straight-line PI) or `"vogel"` (composite, needs `bubble_point_psi`).
    pub model: InflowModel,
    /// Productivity index (above the bubble point), bbl/d/psi.
    pub productivity_index_bpd_per_psi: f64,
    /// Static reservoir pressure at the perforations, psi (needed with `fit: "productivity_index"`).
    #[serde(default)]
    pub reservoir_pressure_psi: Option<f64>,
    /// Bubble-point pressure, psi (Vogel).
    #[serde(default)]
    pub bubble_point_psi: Option<f64>,
    /// What the calibration fits: `"reservoir_pressure"` (keep the PI; the
    /// default) or `"productivity_index"` (keep the reservoir pressure).
    #[serde(default)]
    pub fit: InflowFit,
}

/// Inflow model kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InflowModel {
    /// `q = J·(p_r − p_wf)`.
    Linear,
    /// Straight line above the bubble point, Vogel below.
    Vogel,
}

/// Which inflow parameter the calibration fits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InflowFit {
    /// Fit the reservoir pressure, keep the productivity index.
    #[default]
    ReservoirPressure,
    /// Fit the productivity index, keep the reservoir pressure.
    ProductivityIndex,
}

/// The produced liquid: a gradient, or densities to compute it from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluidData {
    /// Water cut, fraction of the liquid (0–1).
    pub water_cut: f64,
    /// Liquid gradient, psi/ft; or give `oil_sg` (or `oil_api`) and `water_sg`.
    #[serde(default)]
    pub gradient_psi_per_ft: Option<f64>,
    /// Oil specific gravity (water = 1).
    #[serde(default)]
    pub oil_sg: Option<f64>,
    /// Oil gravity, °API (instead of `oil_sg`).
    #[serde(default)]
    pub oil_api: Option<f64>,
    /// Water specific gravity (default 1.0).
    #[serde(default)]
    pub water_sg: Option<f64>,
}

/// Motor nameplate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotorData {
    /// Nameplate current, A.
    pub nameplate_current_a: f64,
    /// Nameplate power at base frequency, hp (projects the load without a current reading).
    #[serde(default)]
    pub nameplate_hp: Option<f64>,
    /// Motor base frequency, Hz (default: the pump curve's).
    #[serde(default)]
    pub base_frequency_hz: Option<f64>,
    /// No-load current as a fraction of nameplate (default 0.3).
    #[serde(default)]
    pub no_load_current_fraction: Option<f64>,
}

/// Operating limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsData {
    /// Lowest drive frequency, Hz.
    pub min_frequency_hz: f64,
    /// Highest drive frequency, Hz.
    pub max_frequency_hz: f64,
    /// Largest change recommended at once, Hz.
    pub max_step_hz: f64,
    /// Hard floor of the intake pressure, psi.
    pub min_intake_pressure_psi: f64,
    /// Intake-pressure setpoint, psi: drawn down to, not below.
    pub target_intake_pressure_psi: f64,
    /// Recommended operating range at the pump's base frequency, bbl/d: `[Q_min, Q_max]`.
    pub recommended_range_bpd: [f64; 2],
    /// Highest motor load, fraction of nameplate (default 1.0).
    #[serde(default = "one")]
    pub max_motor_load: f64,
    /// Lowest liquid velocity past the motor, ft/s (default 1.0).
    #[serde(default = "one")]
    pub min_cooling_velocity_ft_s: f64,
}

fn one() -> f64 {
    1.0
}

/// The latest well test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WellTestData {
    /// Date of the test, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Drive frequency, Hz.
    pub frequency_hz: f64,
    /// Liquid rate, bbl/d.
    pub rate_bpd: f64,
    /// Pump-intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Pump discharge pressure, psi, if read.
    #[serde(default)]
    pub discharge_pressure_psi: Option<f64>,
    /// Motor current, A, if read.
    #[serde(default)]
    pub motor_current_a: Option<f64>,
    /// Water cut measured in the test; replaces `fluid.water_cut`.
    #[serde(default)]
    pub water_cut: Option<f64>,
    /// The exact start of a test recorded as data (the host's well tests),
    /// ms; `date` is then only its day.
    #[serde(skip)]
    pub ts_ms: Option<i64>,
}

impl WellTestData {
    /// A test the host recorded (`WellContext::well_tests`) as the
    /// calibration point, when its conditions hold the drive frequency and
    /// the intake pressure: liquid rate = oil + water, water cut from them,
    /// discharge pressure and motor current when recorded. `None` when a
    /// condition is missing or the test produced no liquid.
    pub fn from_recorded(test: &nexus_plugin_sdk::WellTest) -> Option<Self> {
        let conditions: serde_json::Value = serde_json::from_str(&test.conditions).ok()?;
        let number = |key: &str| conditions.get(key).and_then(serde_json::Value::as_f64);
        let rate_bpd = test.oil_bbl_d + test.water_bbl_d;
        if !(rate_bpd.is_finite() && rate_bpd > 0.0) {
            return None;
        }
        Some(Self {
            date: crate::model::format_date(test.ts),
            frequency_hz: number("frequency_hz")?,
            rate_bpd,
            intake_pressure_psi: number("intake_pressure_psi")?,
            discharge_pressure_psi: number("discharge_pressure_psi"),
            motor_current_a: number("motor_current_a"),
            water_cut: Some(test.water_bbl_d / rate_bpd),
            ts_ms: Some(test.ts),
        })
    }

    /// Start of the test, ms (its date at midnight UTC when only the date is known).
    pub fn start_ms(&self) -> Option<i64> {
        self.ts_ms.or_else(|| crate::model::parse_date(&self.date))
    }
}
