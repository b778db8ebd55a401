//! Configuration, conditions and measurements of the simulator.

use serde::{Deserialize, Serialize};

use crate::{Result, non_negative, positive};

/// Standard deviations of the sensor noise and its correlation time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseConfig {
    /// Correlation time of every channel's AR(1) noise, s.
    pub correlation_time_s: f64,
    /// Intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Discharge pressure, psi.
    pub discharge_pressure_psi: f64,
    /// Motor current, A.
    pub motor_current_a: f64,
    /// Motor temperature, °F.
    pub motor_temperature_f: f64,
    /// Flow rate, as a fraction of the rate.
    pub flow_rate_fraction: f64,
    /// Vibration, g.
    pub vibration_g: f64,
}

impl NoiseConfig {
    /// No noise: the measurements are the model's state.
    pub fn none() -> Self {
        Self {
            correlation_time_s: 30.0,
            intake_pressure_psi: 0.0,
            discharge_pressure_psi: 0.0,
            motor_current_a: 0.0,
            motor_temperature_f: 0.0,
            flow_rate_fraction: 0.0,
            vibration_g: 0.0,
        }
    }
}

impl Default for NoiseConfig {
    /// Gauge-like noise (engineering judgement): 1.5 psi, 3 psi, 0.3 A, 0.5 °F, 1 %, 0.01 g, 60 s.
    fn default() -> Self {
        Self {
            correlation_time_s: 60.0,
            intake_pressure_psi: 1.5,
            discharge_pressure_psi: 3.0,
            motor_current_a: 0.3,
            motor_temperature_f: 0.5,
            flow_rate_fraction: 0.01,
            vibration_g: 0.01,
        }
    }
}

/// The drive stops when the current stays below `fraction` of nameplate
/// for `delay_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnderloadTrip {
    /// Trip level, fraction of nameplate current.
    pub fraction: f64,
    /// How long the current must stay below it, s.
    pub delay_s: f64,
}

/// Parameters of the transient model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Annulus capacity, bbl per psi of intake pressure.
    pub annulus_capacity_bbl_per_psi: f64,
    /// Motor thermal time constant, minutes.
    pub thermal_time_constant_min: f64,
    /// Temperature of the produced fluid at the motor, °F.
    pub fluid_temperature_f: f64,
    /// Motor temperature rise over the fluid at nameplate current and the reference velocity, °F.
    pub rated_temperature_rise_f: f64,
    /// Cooling velocity at which the rated rise applies, ft/s.
    pub reference_cooling_velocity_ft_s: f64,
    /// Vibration inside the recommended range, g.
    pub base_vibration_g: f64,
    /// Sensor noise.
    pub noise: NoiseConfig,
    /// Underload protection, if any.
    pub underload_trip: Option<UnderloadTrip>,
}

impl SimConfig {
    /// Annulus capacity, bbl/psi, between a casing of inner diameter
    /// `casing_id_in` and a tubing of outer diameter `tubing_od_in` for a
    /// liquid of `gradient_psi_per_ft`: `(ID² − OD²)/1029.4` bbl/ft per psi/ft.
    pub fn annulus_capacity(casing_id_in: f64, tubing_od_in: f64, gradient_psi_per_ft: f64) -> f64 {
        (casing_id_in.powi(2) - tubing_od_in.powi(2)) / 1029.4 / gradient_psi_per_ft
    }

    pub(super) fn validate(&self) -> Result<()> {
        positive("annulus_capacity_bbl_per_psi", self.annulus_capacity_bbl_per_psi)?;
        positive("thermal_time_constant_min", self.thermal_time_constant_min)?;
        non_negative("rated_temperature_rise_f", self.rated_temperature_rise_f)?;
        positive("reference_cooling_velocity_ft_s", self.reference_cooling_velocity_ft_s)?;
        positive("noise.correlation_time_s", self.noise.correlation_time_s)?;
        Ok(())
    }
}

/// What is happening to the well.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Nothing wrong.
    Normal,
    /// The inflow falls to `inflow_fraction` (0–1) of the IPR: the pump pumps the well off.
    PumpOff {
        /// Fraction of the IPR still flowing in.
        inflow_fraction: f64,
    },
    /// Gas in the pump cuts the head to about `head_fraction` (0–1), erratically.
    GasLock {
        /// Mean fraction of the liquid head the pump still makes.
        head_fraction: f64,
    },
}

/// One sample of telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// Simulated time since the start, s.
    pub time_s: f64,
    /// Drive frequency, Hz (0 when stopped or tripped).
    pub frequency_hz: f64,
    /// Pump-intake pressure, psi.
    pub intake_pressure_psi: f64,
    /// Pump discharge pressure, psi.
    pub discharge_pressure_psi: f64,
    /// Motor current, A.
    pub motor_current_a: f64,
    /// Motor winding temperature, °F.
    pub motor_temperature_f: f64,
    /// Liquid rate, bbl/d.
    pub flow_rate_bbl_d: f64,
    /// Pump vibration, g.
    pub vibration_g: f64,
    /// Whether the underload protection has stopped the drive (from the end
    /// of this sample; the sample's other values are from before the trip).
    pub tripped: bool,
}
