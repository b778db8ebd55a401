//! A transient ESP well for the demo field: the nodal model of [`crate::esp`]
//! with the dynamics that make telemetry look like a well.
//!
//! * **Annulus storage.** The liquid level in the casing–tubing annulus
//!   buffers inflow against pump rate: `C·dPIP/dt = q_in(PIP) − q_pump(PIP)`
//!   with `C` in bbl/psi (annulus capacity in bbl/ft over the gradient). At
//!   rest `q_in = q_pump`: the nodal operating point. After a small change
//!   the PIP relaxes with the time constant `τ = C/(dq_pump/dP − dq_in/dP)`.
//!   The step is implicit Euler (stable for any step), sub-stepped to 10 s.
//! * **Motor heating.** The motor temperature relaxes with a time constant
//!   (minutes) towards `T_fluid + ΔT_rated·(I/I_np)²·(v_ref/v)^0.8`: copper
//!   losses over a convective film whose coefficient grows with the liquid
//!   velocity past the motor as `v^0.8` (Dittus–Boelter), `v` floored at 10 %
//!   of `v_ref` for natural convection.
//! * **Motor current** from the pump's brake horsepower by
//!   [`Motor::Nameplate`]; a pump turning partly in gas takes
//!   `BHP·(0.15 + 0.85·φ)` with `φ` its liquid fraction.
//! * **Pump-off** ([`Condition::PumpOff`]): the inflow drops to a fraction,
//!   the pump draws the annulus down, PIP falls to 0, the pump then runs
//!   starved (φ = the fraction of its capacity it gets), current declines to
//!   underload and the flow falls to what the reservoir gives.
//! * **Gas lock** ([`Condition::GasLock`]): gas in the stages cuts the head
//!   to a fraction, erratically; the flow collapses, the annulus fills (PIP
//!   rises slowly), the current drops and swings, and with no cooling flow
//!   the motor heats up.
//! * **Underload trip** (optional): the drive stops after the current stays
//!   below a fraction of nameplate for a delay.
//! * **Sensors** carry AR(1) noise (correlated in time, see [`Ar1`]) from a
//!   seeded [`SplitMix64`]; the same seed gives the same telemetry.
//!
//! All signatures follow the amp-chart interpretations of the ESP
//! literature (pumped off: current declining, PIP falling; gas lock: current
//! erratic, PIP rising, motor temperature rising). Magnitudes are engineering judgement.

mod config;
mod demo;
mod rng;
#[cfg(test)]
mod tests;

pub use config::{Condition, Measurements, NoiseConfig, SimConfig, UnderloadTrip};
pub use demo::{demo_stage, demo_well};
pub use rng::{Ar1, SplitMix64};

use crate::esp::{EspWell, Motor};
use crate::numeric::bisect;
use crate::{PhysicsError, Result, non_negative};

/// Longest implicit-Euler sub-step, s.
const MAX_SUBSTEP_S: f64 = 10.0;

/// Brake horsepower of a pump turning in gas, as a fraction of its liquid value.
const GAS_BHP_FRACTION: f64 = 0.15;

/// A simulated ESP well.
#[derive(Debug, Clone)]
pub struct WellSim {
    well: EspWell,
    config: SimConfig,
    frequency_hz: f64,
    condition: Condition,
    intake_psi: f64,
    motor_temperature_f: f64,
    time_s: f64,
    underload_s: f64,
    tripped: bool,
    rng: SplitMix64,
    /// Sensor noise: PIP, discharge, current, temperature, flow, vibration.
    noise: [Ar1; 6],
    /// Fast fluctuation of a gas-locked pump.
    gas: Ar1,
}

/// The noise-free state after a sub-step.
struct Instant {
    frequency_hz: f64,
    rate_bpd: f64,
    current_a: f64,
    cooling_ft_s: f64,
    gas_swing: f64,
}

impl WellSim {
    /// A well running at `frequency_hz`, started at its nodal operating point
    /// with the motor at its equilibrium temperature. The well's motor must
    /// be [`Motor::Nameplate`] (the current follows the pump's load).
    pub fn new(well: EspWell, config: SimConfig, frequency_hz: f64, seed: u64) -> Result<Self> {
        well.validate()?;
        config.validate()?;
        non_negative("frequency_hz", frequency_hz)?;
        if !matches!(well.motor, Motor::Nameplate { .. }) {
            return Err(PhysicsError::invalid("motor", "the simulator needs a nameplate motor model"));
        }
        let intake_psi = if frequency_hz > 0.0 {
            well.operating_point(frequency_hz)?.intake_pressure_psi
        } else {
            well.static_intake_pressure()
        };
        let n = config.noise;
        let tau = n.correlation_time_s;
        let noise = [
            Ar1::new(n.intake_pressure_psi, tau),
            Ar1::new(n.discharge_pressure_psi, tau),
            Ar1::new(n.motor_current_a, tau),
            Ar1::new(n.motor_temperature_f, tau),
            Ar1::new(n.flow_rate_fraction, tau),
            Ar1::new(n.vibration_g, tau),
        ];
        let mut sim = Self {
            well,
            config,
            frequency_hz,
            condition: Condition::Normal,
            intake_psi,
            motor_temperature_f: config.fluid_temperature_f,
            time_s: 0.0,
            underload_s: 0.0,
            tripped: false,
            rng: SplitMix64::new(seed),
            noise,
            gas: Ar1::new(1.0, 5.0),
        };
        let start = sim.instant(sim.intake_psi, sim.pump_capacity(sim.intake_psi, 1.0)?, 0.0)?;
        sim.motor_temperature_f = sim.equilibrium_temperature(&start);
        Ok(sim)
    }

    /// The well model.
    pub fn well(&self) -> &EspWell {
        &self.well
    }

    /// The noise-free intake pressure, psi.
    pub fn intake_pressure(&self) -> f64 {
        self.intake_psi
    }

    /// The noise-free motor temperature, °F.
    pub fn motor_temperature(&self) -> f64 {
        self.motor_temperature_f
    }

    /// The drive frequency, Hz.
    pub fn frequency(&self) -> f64 {
        self.frequency_hz
    }

    /// The current condition.
    pub fn condition(&self) -> Condition {
        self.condition
    }

    /// Sets the drive frequency (0 stops the pump; a trip is reset).
    pub fn set_frequency(&mut self, frequency_hz: f64) {
        self.frequency_hz = frequency_hz.max(0.0);
        self.tripped = false;
        self.underload_s = 0.0;
    }

    /// Starts or ends a condition.
    pub fn set_condition(&mut self, condition: Condition) {
        self.condition = condition;
    }

    fn running_hz(&self) -> f64 {
        if self.tripped { 0.0 } else { self.frequency_hz }
    }

    fn inflow(&self, intake_psi: f64) -> f64 {
        let fraction = match self.condition {
            Condition::PumpOff { inflow_fraction } => inflow_fraction.clamp(0.0, 1.0),
            _ => 1.0,
        };
        fraction * self.well.inflow_at_intake(intake_psi)
    }

    /// Rate the pump can take at this intake pressure, bbl/d.
    fn pump_capacity(&self, intake_psi: f64, head_fraction: f64) -> Result<f64> {
        let f = self.running_hz();
        if f <= 0.0 { Ok(0.0) } else { self.well.pump_rate_with_factor(f, intake_psi, head_fraction) }
    }

    /// Advances `dt_s` seconds and returns the measurements at the end.
    pub fn step(&mut self, dt_s: f64) -> Result<Measurements> {
        non_negative("dt_s", dt_s)?;
        let substeps = (dt_s / MAX_SUBSTEP_S).ceil().max(1.0);
        let h = dt_s / substeps;
        let mut last = None;
        for _ in 0..substeps as usize {
            last = Some(self.substep(h)?);
        }
        let now = match last {
            Some(now) => now,
            None => self.instant(self.intake_psi, self.pump_capacity(self.intake_psi, 1.0)?, 0.0)?,
        };
        Ok(self.measure(&now, dt_s))
    }

    fn substep(&mut self, h: f64) -> Result<Instant> {
        let gas_swing = self.gas.step(&mut self.rng, h);
        let head_fraction = match self.condition {
            Condition::GasLock { head_fraction } => (head_fraction * (1.0 + 0.3 * gas_swing)).clamp(0.02, 1.0),
            _ => 1.0,
        };
        let days = h / 86_400.0;
        let c = self.config.annulus_capacity_bbl_per_psi;
        let p0 = self.intake_psi;
        // Implicit Euler: P − P₀ − (h/C)·(q_in(P) − q_pump(P)) = 0, increasing in P.
        let residual = |p: f64| -> f64 {
            let pump = self.pump_capacity(p, head_fraction).unwrap_or(0.0);
            p - p0 - days / c * (self.inflow(p) - pump)
        };
        let capacity_at_zero = self.pump_capacity(0.0, head_fraction)?;
        let (p, rate) = if residual(0.0) >= 0.0 {
            // The annulus empties within the step: the pump gets the inflow and what was left.
            (0.0, (self.inflow(0.0) + p0 * c / days).min(capacity_at_zero))
        } else {
            let hi = p0.max(self.well.static_intake_pressure()) + 1.0;
            let p = bisect(residual, 0.0, hi);
            (p, self.pump_capacity(p, head_fraction)?)
        };
        self.intake_psi = p;
        let now = self.instant(p, rate, gas_swing)?;
        // Motor temperature: exact first-order update over the sub-step.
        let tau_s = self.config.thermal_time_constant_min * 60.0;
        let target = self.equilibrium_temperature(&now);
        self.motor_temperature_f += (target - self.motor_temperature_f) * (1.0 - (-h / tau_s).exp());
        // Underload protection.
        if let (Some(trip), Motor::Nameplate { current_a, .. }) = (self.config.underload_trip, self.well.motor) {
            let running = self.running_hz() > 0.0;
            self.underload_s =
                if running && now.current_a < trip.fraction * current_a { self.underload_s + h } else { 0.0 };
            if self.underload_s >= trip.delay_s {
                self.tripped = true;
                self.underload_s = 0.0;
            }
        }
        self.time_s += h;
        Ok(now)
    }

    /// Current, cooling and the like at intake `intake_psi` with the pump moving `rate`.
    fn instant(&self, intake_psi: f64, rate: f64, gas_swing: f64) -> Result<Instant> {
        let f = self.running_hz();
        let cooling_ft_s = crate::units::annular_velocity_ft_per_s(rate, self.well.casing_id_in, self.well.motor_od_in);
        if f <= 0.0 {
            return Ok(Instant { frequency_hz: 0.0, rate_bpd: 0.0, current_a: 0.0, cooling_ft_s: 0.0, gas_swing });
        }
        // Liquid fraction in the pump: starved when pumped off, gassy when locked.
        let liquid = match self.condition {
            Condition::GasLock { head_fraction } => (head_fraction * (1.0 + 0.3 * gas_swing)).clamp(0.02, 1.0),
            _ => {
                let capacity = self.pump_capacity(intake_psi, 1.0)?;
                if capacity > 0.0 { (rate / capacity).min(1.0) } else { 1.0 }
            }
        };
        let gradient = self.well.fluid.gradient_psi_per_ft;
        let bhp = self.well.pump.brake_horsepower(rate, f, gradient).unwrap_or(0.0)
            * (GAS_BHP_FRACTION + (1.0 - GAS_BHP_FRACTION) * liquid);
        let (_, current_a) = self.well.motor.load(f, Some(bhp))?;
        Ok(Instant { frequency_hz: f, rate_bpd: rate, current_a, cooling_ft_s, gas_swing })
    }

    fn equilibrium_temperature(&self, now: &Instant) -> f64 {
        let Motor::Nameplate { current_a: nameplate, .. } = self.well.motor else {
            return self.config.fluid_temperature_f;
        };
        let v_ref = self.config.reference_cooling_velocity_ft_s;
        let film = (v_ref / now.cooling_ft_s.max(0.1 * v_ref)).powf(0.8);
        self.config.fluid_temperature_f
            + self.config.rated_temperature_rise_f * (now.current_a / nameplate).powi(2) * film
    }

    /// Applies the sensor noise (advanced by `dt_s`) to the state.
    fn measure(&mut self, now: &Instant, dt_s: f64) -> Measurements {
        let f = now.frequency_hz;
        let mut e = [0.0; 6];
        for (value, noise) in e.iter_mut().zip(self.noise.iter_mut()) {
            *value = noise.step(&mut self.rng, dt_s.max(1e-9));
        }
        let q = now.rate_bpd;
        let vibration = if f > 0.0 {
            let (lo, hi) = self.well.pump.stage.operating_range(f);
            let excursion = ((lo - q) / lo).max((q - hi) / hi).max(0.0);
            let gas = if matches!(self.condition, Condition::GasLock { .. }) { 0.5 * now.gas_swing.abs() } else { 0.0 };
            self.config.base_vibration_g * (1.0 + 1.5 * excursion + gas)
        } else {
            0.0
        };
        let gas_current = if matches!(self.condition, Condition::GasLock { .. }) { 0.12 * now.gas_swing } else { 0.0 };
        Measurements {
            time_s: self.time_s,
            frequency_hz: f,
            intake_pressure_psi: (self.intake_psi + e[0]).max(0.0),
            discharge_pressure_psi: self.well.discharge_pressure(q) + e[1],
            motor_current_a: (now.current_a * (1.0 + gas_current) + e[2]).max(0.0),
            motor_temperature_f: self.motor_temperature_f + e[3],
            flow_rate_bbl_d: (q * (1.0 + e[4])).max(0.0),
            vibration_g: (vibration + e[5]).max(0.0),
            tripped: self.tripped,
        }
    }
}
