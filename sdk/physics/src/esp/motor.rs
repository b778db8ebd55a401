//! Motor load and current at another frequency.

use serde::{Deserialize, Serialize};

use crate::{PhysicsError, Result, non_negative, positive};

/// How the motor load and current are projected to another frequency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Motor {
    /// From a measured current at a measured frequency, `I(f) = I_m·(f/f_m)²`
    /// (constant V/Hz: power ∝ f³ and voltage ∝ f under the affinity laws);
    /// load = `I/I_nameplate`.
    MeasuredCurrent {
        /// Measured current, A.
        current_a: f64,
        /// Frequency of the measurement, Hz.
        frequency_hz: f64,
        /// Nameplate current, A.
        nameplate_current_a: f64,
    },
    /// From the pump's brake horsepower against the nameplate power derated
    /// with the frequency: load = `BHP/(HP·f/f_base)`, current
    /// `I_np·(m + (1 − m)·load)` with `m` the no-load current fraction.
    /// Needs a brake-horsepower stage curve.
    Nameplate {
        /// Nameplate power at base frequency, hp.
        horsepower: f64,
        /// Motor base frequency, Hz.
        base_frequency_hz: f64,
        /// Nameplate current, A.
        current_a: f64,
        /// Current at no load as a fraction of nameplate (magnetising current), 0–1.
        no_load_current_fraction: f64,
    },
}

impl Motor {
    /// `(load fraction, current A)` at `f_hz`, with the pump's brake
    /// horsepower there (needed by [`Motor::Nameplate`]).
    pub fn load(&self, f_hz: f64, brake_horsepower: Option<f64>) -> Result<(f64, f64)> {
        match *self {
            Self::MeasuredCurrent { current_a, frequency_hz, nameplate_current_a } => {
                let current = current_a * (f_hz / frequency_hz).powi(2);
                Ok((current / nameplate_current_a, current))
            }
            Self::Nameplate { horsepower, base_frequency_hz, current_a, no_load_current_fraction: m } => {
                let bhp = brake_horsepower.ok_or_else(|| {
                    PhysicsError::invalid("motor", "a nameplate motor needs a brake-horsepower curve")
                })?;
                let load = bhp / (horsepower * f_hz / base_frequency_hz);
                Ok((load, current_a * (m + (1.0 - m) * load)))
            }
        }
    }
}

impl Motor {
    /// Checks the parameters: positive frequencies and currents, a no-load
    /// fraction in `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::MeasuredCurrent { current_a, frequency_hz, nameplate_current_a } => {
                non_negative("motor.current_a", current_a)?;
                positive("motor.frequency_hz", frequency_hz)?;
                positive("motor.nameplate_current_a", nameplate_current_a)?;
            }
            Self::Nameplate { horsepower, base_frequency_hz, current_a, no_load_current_fraction } => {
                positive("motor.horsepower", horsepower)?;
                positive("motor.base_frequency_hz", base_frequency_hz)?;
                positive("motor.current_a", current_a)?;
                if !(0.0..1.0).contains(&no_load_current_fraction) {
                    return Err(PhysicsError::invalid("motor.no_load_current_fraction", "must be within [0, 1)"));
                }
            }
        }
        Ok(())
    }
}
