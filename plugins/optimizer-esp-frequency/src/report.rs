//! The recommendation's figures, confidence and rationale.
//!
//! **Confidence** = model × test age × reading age (engineering judgement):
//!
//! * model: `1 − residual/0.2`, floored at 0.2 (a 5 % residual gives 0.75,
//!   10 % gives 0.5); 0.7 when nothing could be cross-checked;
//! * test age: 1 for a pump calibrated from a well test up to 90 days old,
//!   falling linearly to 0.5 at `well_test_max_age_days`; 0.8 for a pump
//!   calibrated at the current point, 0.6 for the catalogue pump;
//! * reading age: 1 for readings just in, falling linearly to 0.5 at
//!   `max_reading_age_ms`.

use nexus_physics::esp::OperatingPoint;
use nexus_physics::esp::envelope::{Constraint, Violation};
use nexus_physics::units::KW_PER_HP;
use nexus_plugin_sdk::Recommendation;

use crate::calibrate::{Calibrated, PumpSource, RateSource};
use crate::config::Config;
use crate::decide::Plan;
use crate::observe::FREQUENCY_PARAMETER;

/// A well test younger than this counts fully, days.
const FRESH_TEST_DAYS: f64 = 90.0;

/// What [`plan`] builds a plan from.
pub(crate) struct Parts<'a> {
    pub device_id: &'a str,
    pub config: &'a Config,
    pub current_hz: f64,
    pub target_hz: f64,
    pub proposed_hz: f64,
    pub binding: Vec<Constraint>,
    pub before: OperatingPoint,
    pub after: OperatingPoint,
    pub at_target: OperatingPoint,
    pub calibrated: Calibrated,
    pub readings_age_ms: i64,
}

/// A constraint's name in a rationale.
pub fn constraint(c: Constraint) -> &'static str {
    match c {
        Constraint::MinFrequency => "minimum frequency",
        Constraint::MaxFrequency => "maximum frequency",
        Constraint::IntakePressure => "intake pressure",
        Constraint::MotorLoad => "motor load",
        Constraint::Downthrust => "downthrust (rate below the recommended range)",
        Constraint::Upthrust => "upthrust (rate above the recommended range)",
        Constraint::CoolingVelocity => "motor cooling velocity",
    }
}

/// Constraints joined for a rationale.
pub fn constraints(list: &[Constraint]) -> String {
    list.iter().map(|c| constraint(*c)).collect::<Vec<_>>().join(", ")
}

/// Violations with their values, for a rationale.
pub fn violations(list: &[Violation]) -> String {
    list.iter()
        .map(|v| {
            let (value, limit) = match v.constraint {
                Constraint::MinFrequency | Constraint::MaxFrequency => {
                    (format!("{:.2} Hz", v.value), format!("{:.2} Hz", v.limit))
                }
                Constraint::IntakePressure => (format!("{:.0} psi", v.value), format!("{:.0} psi", v.limit)),
                Constraint::MotorLoad => (format!("{:.1} %", 100.0 * v.value), format!("{:.0} %", 100.0 * v.limit)),
                Constraint::Downthrust | Constraint::Upthrust => {
                    (format!("{:.0} bbl/d", v.value), format!("{:.0} bbl/d", v.limit))
                }
                Constraint::CoolingVelocity => (format!("{:.2} ft/s", v.value), format!("{:.2} ft/s", v.limit)),
            };
            format!("{} {value} against {limit}", constraint(v.constraint))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn confidence(config: &Config, calibrated: &Calibrated, readings_age_ms: i64) -> f64 {
    let model = calibrated.residual.map_or(0.7, |r| (1.0 - r / 0.2).max(0.2));
    let test = match calibrated.pump_source {
        PumpSource::WellTest { age_days } => {
            let span = (config.well_test_max_age_days - FRESH_TEST_DAYS).max(1.0);
            (1.0 - 0.5 * ((age_days - FRESH_TEST_DAYS) / span)).clamp(0.5, 1.0)
        }
        PumpSource::CurrentPoint => 0.8,
        PumpSource::Catalogue => 0.6,
    };
    let age = (readings_age_ms.max(0) as f64 / config.max_reading_age_ms as f64).min(1.0);
    (model * test * (1.0 - 0.5 * age)).clamp(0.0, 1.0)
}

fn source_text(c: &Calibrated) -> String {
    let pump = &c.well.pump;
    let pump_text = match c.pump_source {
        PumpSource::WellTest { age_days } => format!("pump calibrated to the well test of {age_days:.0} days ago"),
        PumpSource::CurrentPoint => "pump calibrated to the current metered point".into(),
        PumpSource::Catalogue => "catalogue pump".into(),
    };
    let rate = match c.rate_source {
        RateSource::Meter => "rate from the flow meter",
        RateSource::PumpCurve => "rate metered by the pump curve from the measured pressure rise",
        RateSource::PumpAndTubing => "rate from the pump and tubing model at the measured PIP",
    };
    let residual = c.residual.map_or("not cross-checked".to_string(), |r| format!("residual {:.1} %", 100.0 * r));
    format!(
        "Model: {pump_text} ({:.1} stages × head factor {:.3}), {rate}, inflow through the current point (PI {:.2} bbl/d/psi, reservoir {:.0} psi), {residual}.",
        pump.stages,
        pump.head_factor,
        c.well.ipr.productivity_index(),
        c.well.ipr.reservoir_pressure_psi()
    )
}

/// An operating point as the recommendation's details show it.
fn point(p: &OperatingPoint) -> serde_json::Value {
    serde_json::json!({
        "frequency_hz": p.frequency_hz,
        "rate_bbl_d": p.rate_bpd,
        "intake_pressure_psi": p.intake_pressure_psi,
        "motor_load": p.motor_load,
        "cooling_velocity_ft_s": p.cooling_velocity_ft_s,
    })
}

/// Builds the plan and its recommendation.
pub(crate) fn plan(p: Parts<'_>) -> Plan {
    let water_cut = p.calibrated.well.fluid.water_cut;
    let delta_liquid = p.after.rate_bpd - p.before.rate_bpd;
    let (delta_power_kw, brake_power) = match (p.after.brake_horsepower, p.before.brake_horsepower) {
        (Some(a), Some(b)) => ((a - b) * KW_PER_HP, true),
        _ => ((p.after.hydraulic_horsepower - p.before.hydraulic_horsepower) * KW_PER_HP, false),
    };
    let confidence = confidence(p.config, &p.calibrated, p.readings_age_ms);
    let (f, proposed, target) = (p.current_hz, p.proposed_hz, p.target_hz);
    let direction = if proposed > f { "Raise" } else { "Lower" };
    let limited = if (proposed - target).abs() > 0.011 {
        format!(" (one step; the binding limit is reached at {target:.2} Hz)")
    } else {
        String::new()
    };
    let (lo, hi) = p.after.operating_range_bpd;
    let rationale = format!(
        "{direction} {f:.2} → {proposed:.2} Hz{limited}. Binding constraint: {}. \
         At {proposed:.2} Hz: liquid {:.0} → {:.0} bbl/d ({delta_liquid:+.1}), oil {:+.1} bbl/d, water {:+.1} bbl/d, \
         {} power {delta_power_kw:+.1} kW; PIP {:.0} → {:.0} psi; motor load {:.0} → {:.0} %; \
         rate at {:.0} % of the {lo:.0}–{hi:.0} bbl/d recommended range; {:.2} ft/s past the motor. {} Confidence {confidence:.2}.",
        constraints(&p.binding),
        p.before.rate_bpd,
        p.after.rate_bpd,
        delta_liquid * (1.0 - water_cut),
        delta_liquid * water_cut,
        if brake_power { "brake" } else { "hydraulic" },
        p.before.intake_pressure_psi,
        p.after.intake_pressure_psi,
        100.0 * p.before.motor_load,
        100.0 * p.after.motor_load,
        100.0 * p.after.range_fraction,
        p.after.cooling_velocity_ft_s,
        source_text(&p.calibrated),
    );
    let binding_keys: Vec<String> = p.binding.iter().map(|c| format!("{c:?}")).collect();
    let details = serde_json::json!({
        "binding_constraints": binding_keys,
        "binding": constraints(&p.binding),
        "target_hz": target,
        "one_step": (proposed - target).abs() > 0.011,
        "delta_liquid_bbl_d": delta_liquid,
        "delta_oil_bbl_d": delta_liquid * (1.0 - water_cut),
        "delta_water_bbl_d": delta_liquid * water_cut,
        "delta_power_kw": delta_power_kw,
        "power_basis": if brake_power { "brake" } else { "hydraulic" },
        "before": point(&p.before),
        "after": point(&p.after),
        "interlocks_checked": [
            "no protection alarm open",
            "no frequency recommendation open",
            "well steady",
            "readings fresh",
            "step within max_step_hz",
            "every operating limit holds at the proposed frequency"
        ],
        "confidence": confidence,
    });
    let recommendation = Recommendation {
        device_id: p.device_id.to_string(),
        parameter: FREQUENCY_PARAMETER.into(),
        current_value: f,
        proposed_value: proposed,
        unit: "Hz".into(),
        expected_gain: delta_liquid * (1.0 - water_cut),
        gain_unit: "bbl/d oil".into(),
        confidence: confidence as f32,
        rationale,
        details: details.to_string(),
    };
    Plan {
        recommendation,
        current_hz: f,
        target_hz: target,
        proposed_hz: proposed,
        binding: p.binding,
        before: p.before,
        after: p.after,
        at_target: p.at_target,
        delta_liquid_bpd: delta_liquid,
        delta_oil_bpd: delta_liquid * (1.0 - water_cut),
        delta_water_bpd: delta_liquid * water_cut,
        delta_power_kw,
        brake_power,
        calibrated: p.calibrated,
        confidence,
    }
}
