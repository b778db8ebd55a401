//! The demo field: one transient ESP well (`nexus_physics::sim::WellSim`)
//! per demo well, and the configuration that matches each well — the static
//! data the optimizer reads and the nameplate `alarm-rule-esp-protection`
//! judges against.
//!
//! * **Wells.** Well `i` is `WellSim::demo(FIRST_SEED + i)`: reservoir
//!   pressure, PI, bubble point, depths, water cut, THP and a pump sized to
//!   a design point inside its range, drawn from a SplitMix64 stream per
//!   seed (so consecutive seeds give unrelated wells), with annulus storage,
//!   motor heating and AR(1) gauge noise.
//! * **Time.** One demo second is one minute of well time
//!   ([`WELL_SECONDS_PER_DEMO_SECOND`]): each frame advances the well 60 s,
//!   and every time window the plugins are configured with is divided by
//!   60 ([`demo_ms`]), because they measure time on the frames' wall-clock
//!   timestamps.
//! * **Events.** [`Event::PumpOff`] cuts the inflow to 20 %: the pump draws
//!   the annulus down, PIP falls to 0, the starved pump's current declines
//!   (`Underload`). [`Event::GasLock`] cuts the head to about 30 %,
//!   erratically: the flow collapses, PIP rises, the current drops and
//!   swings (`GasLock`, and `Underload`), the motor heats up
//!   (`HighMotorTemperature`).
//! * **Units.** The simulator works in °F; the field posts the motor
//!   temperature in °C, the unit of `alarm-rule-esp-protection`.

use nexus_physics::esp::{EspWell, Motor};
use nexus_physics::ipr::Ipr;
use nexus_physics::sim::{Condition, WellSim};
use serde_json::{Value, json};

/// Seconds of well time per demo second.
pub(crate) const WELL_SECONDS_PER_DEMO_SECOND: f64 = 60.0;

/// Well `i` of the field is drawn from seed `FIRST_SEED + i`.
pub(crate) const FIRST_SEED: u64 = 0x5eed_0001;

/// The tubing OD of the demo wells (2⅞ in; the simulator's annulus), in.
const TUBING_OD_IN: f64 = 2.875;

/// Motor temperature rating of the demo motors, °C.
pub(crate) const MOTOR_TEMP_RATING_C: f64 = 150.0;

/// A duration in well time, in ms of demo (timestamp) time.
pub(crate) fn demo_ms(well_ms: i64) -> i64 {
    (well_ms as f64 / WELL_SECONDS_PER_DEMO_SECOND) as i64
}

/// What can go wrong with a demo well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The inflow falls to 20 %: the pump pumps the well off.
    PumpOff,
    /// Gas in the pump cuts the head to about 30 %, erratically.
    GasLock,
}

/// One well of the demo field.
pub(crate) struct DemoWell {
    sim: WellSim,
    design_hz: f64,
    /// The running event and the well-time seconds it has left.
    event: Option<(Event, f64)>,
}

fn fahrenheit_to_celsius(f: f64) -> f64 {
    (f - 32.0) / 1.8
}

impl DemoWell {
    /// Well `index` of the field, running at its design frequency.
    pub(crate) fn new(index: usize) -> anyhow::Result<Self> {
        let sim = WellSim::demo(FIRST_SEED + index as u64).map_err(|e| anyhow::anyhow!("demo well {index}: {e}"))?;
        Ok(Self { design_hz: sim.frequency(), sim, event: None })
    }

    /// The simulated well.
    pub(crate) fn sim(&self) -> &WellSim {
        &self.sim
    }

    /// Starts `event` for `well_minutes` unless one is running.
    pub(crate) fn inject(&mut self, event: Event, well_minutes: f64) {
        if self.event.is_some() {
            return;
        }
        self.sim.set_condition(match event {
            Event::PumpOff => Condition::PumpOff { inflow_fraction: 0.2 },
            Event::GasLock => Condition::GasLock { head_fraction: 0.3 },
        });
        self.event = Some((event, well_minutes * 60.0));
    }

    /// Sets the drive frequency (as an operator applying a recommendation).
    pub(crate) fn set_frequency(&mut self, hz: f64) {
        self.sim.set_frequency(hz);
    }

    /// Advances `well_s` seconds of well time and returns the telemetry.
    pub(crate) fn step(&mut self, well_s: f64) -> anyhow::Result<Vec<(&'static str, f64)>> {
        let m = self.sim.step(well_s).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some((event, left)) = self.event {
            let left = left - well_s;
            self.event = (left > 0.0).then_some((event, left));
            if self.event.is_none() {
                self.sim.set_condition(Condition::Normal);
            }
        }
        Ok(vec![
            ("frequency", m.frequency_hz),
            ("intake_pressure", m.intake_pressure_psi),
            ("discharge_pressure", m.discharge_pressure_psi),
            ("motor_current", m.motor_current_a),
            ("motor_temperature", fahrenheit_to_celsius(m.motor_temperature_f)),
            ("vibration", m.vibration_g),
            ("flow_rate", m.flow_rate_bbl_d),
        ])
    }

    fn nameplate(&self) -> (f64, f64, f64) {
        match self.sim.well().motor {
            Motor::Nameplate { horsepower, base_frequency_hz, current_a, .. } => {
                (current_a, horsepower, base_frequency_hz)
            }
            Motor::MeasuredCurrent { nameplate_current_a, frequency_hz, .. } => {
                (nameplate_current_a, 0.0, frequency_hz)
            }
        }
    }

    /// The well's static data for the optimizer (its schema is in
    /// `plugins/optimizer-esp-frequency/README.md`): what an engineer would
    /// enter — the catalogue pump and its stage count, depths, PI and bubble
    /// point (not the reservoir pressure: the optimizer calibrates it),
    /// fluid, tubing, motor nameplate, casing and limits. Its well test is
    /// data of its own ([`DemoWell::well_test`]).
    pub(crate) fn static_data(&self) -> anyhow::Result<Value> {
        let well: &EspWell = self.sim.well();
        let (current_a, horsepower, base_hz) = self.nameplate();
        let bubble_point = match well.ipr {
            Ipr::Vogel { bubble_point_psi, .. } => Some(bubble_point_psi),
            Ipr::Linear { .. } => None,
        };
        let stage = &well.pump.stage;
        Ok(json!({
            "pump": {"base_frequency_hz": stage.base_frequency_hz, "head_ft": stage.head_ft,
                     "brake_horsepower": stage.brake_horsepower, "stages": well.pump.stages},
            "pump_depth_ft": well.pump_depth_ft,
            "perforation_depth_ft": well.perforation_depth_ft,
            "inflow": {"model": if bubble_point.is_some() { "vogel" } else { "linear" },
                       "productivity_index_bpd_per_psi": well.ipr.productivity_index(),
                       "bubble_point_psi": bubble_point},
            "fluid": {"water_cut": well.fluid.water_cut, "gradient_psi_per_ft": well.fluid.gradient_psi_per_ft},
            "tubing_head_pressure_psi": well.tubing_head_pressure_psi,
            "tubing_friction": well.friction,
            "motor": {"nameplate_current_a": current_a, "nameplate_hp": horsepower, "base_frequency_hz": base_hz},
            "casing_id_in": well.casing_id_in,
            "motor_od_in": well.motor_od_in,
            "tubing_od_in": TUBING_OD_IN,
            "limits": {"min_frequency_hz": 40, "max_frequency_hz": 62, "max_step_hz": 1.0,
                       "min_intake_pressure_psi": 150, "target_intake_pressure_psi": 300,
                       "recommended_range_bpd": [stage.min_flow_bpd, stage.max_flow_bpd]},
        }))
    }

    /// A 24-hour well test at the design point starting at `ts` (ms): the
    /// rates split by the water cut, and the drive frequency, intake and
    /// discharge pressures as its conditions — what `POST
    /// /api/wells/{id}/well-tests` records and the optimizer calibrates to.
    pub(crate) fn well_test(&self, ts: i64) -> anyhow::Result<nexus_model::WellTest> {
        let well: &EspWell = self.sim.well();
        let point = well.operating_point(self.design_hz).map_err(|e| anyhow::anyhow!("{e}"))?;
        let water_cut = well.fluid.water_cut;
        Ok(nexus_model::WellTest {
            ts,
            duration_h: 24.0,
            oil_bbl_d: point.rate_bpd * (1.0 - water_cut),
            water_bbl_d: point.rate_bpd * water_cut,
            gas_mscf_d: 0.0,
            conditions: json!({"frequency_hz": self.design_hz, "intake_pressure_psi": point.intake_pressure_psi,
                               "discharge_pressure_psi": point.discharge_pressure_psi}),
        })
    }

    /// The `alarm-rule-esp-protection` configuration for this well: its
    /// nameplate current and the demo motors' rating, with every window
    /// of the rule's defaults in demo time ([`demo_ms`]).
    pub(crate) fn protection_config(&self) -> Value {
        let (current_a, _, _) = self.nameplate();
        let m = |minutes: i64| demo_ms(minutes * 60_000);
        json!({
            "nameplate_current_a": current_a,
            "motor_temp_rating_c": MOTOR_TEMP_RATING_C,
            "tracking": {"learn_ms": m(15), "tau_ms": m(60)},
            "underload": {"duration_ms": m(3)},
            "overload": {"duration_ms": m(2)},
            "motor_temperature": {"duration_ms": m(2)},
            "vibration": {"duration_ms": m(2), "baseline_bucket_ms": m(60), "baseline_window_ms": m(7 * 24 * 60)},
            "gas_lock": {"duration_ms": m(5), "window_ms": m(60), "baseline_tau_ms": m(6 * 60)}
        })
    }
}

/// The optimizer's binding configuration in demo time: a 60-minute steady
/// window, 15-minute freshness, recommendations open for 24 h of well time.
pub(crate) fn optimizer_config() -> Value {
    let m = |minutes: i64| demo_ms(minutes * 60_000);
    json!({
        "steady_window_ms": m(60),
        "max_reading_age_ms": m(15),
        "open_recommendation_ttl_ms": m(24 * 60)
    })
}

#[cfg(test)]
mod tests;
