//! The decision: a pure function from what is known of a well to at most one
//! frequency recommendation, or the reason for none.
//!
//! 1. Silent while an alarm of `protection_alarms` is open on the well, or
//!    while a `frequency_hz` recommendation younger than
//!    `open_recommendation_ttl_ms` is open.
//! 2. The static data must validate; the readings must be fresh and the well
//!    steady ([`crate::observe`]).
//! 3. The model is calibrated to the current state ([`crate::calibrate`]).
//! 4. The target is the highest frequency that meets **every** limit at the
//!    operating point solved there (`EspWell::best_frequency`): PIP ≥
//!    max(target, minimum), projected motor load ≤ limit, rate inside the
//!    recommended range at that frequency, cooling velocity ≥ the minimum,
//!    the frequency limits. The limits that stop a higher frequency bind.
//!    With no feasible frequency there is no recommendation, and the hold
//!    names what breaks at the frequency the PIP target alone would ask for.
//! 5. At the target — within `min_step_hz` of it, or, when the intake
//!    pressure binds, with the measured PIP within `pip_deadband_psi` of its
//!    target at the model's settled point of the current frequency — nothing. Else one step towards it,
//!    at most `max_step_hz`, rounded to 0.01 Hz towards the current frequency.
//! 6. The step itself is checked against every limit, for increases and
//!    decreases alike: it may not break a limit the current point keeps, nor
//!    worsen one the current point already breaks.

use nexus_physics::esp::envelope::{Assessment, Constraint, Violation};
use nexus_physics::esp::{EspWell, OperatingPoint};
use nexus_plugin_sdk::{Reading, Recommendation, Setpoint};

use crate::calibrate::{Calibrated, calibrate};
use crate::config::Config;
use crate::observe::{FREQUENCY_PARAMETER, NotReady, observe};
use crate::report;
use crate::static_data::WellData;

/// A recommendation still waiting for an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRecommendation {
    /// Setpoint name, e.g. `frequency_hz`.
    pub parameter: String,
    /// The value it proposes.
    pub proposed_value: f64,
    /// When it was made, ms since the epoch.
    pub created_ms: i64,
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Input {
    /// The device that carries the well's telemetry.
    pub device_id: String,
    /// Recent readings of the device.
    pub readings: Vec<Reading>,
    /// Current setpoints of the well.
    pub setpoints: Vec<Setpoint>,
    /// The well's static data.
    pub static_data: WellData,
    /// Alarm types open on the well.
    pub active_alarms: Vec<String>,
    /// Recommendations open on the well.
    pub open_recommendations: Vec<OpenRecommendation>,
    /// The time of the decision, ms since the epoch.
    pub now_ms: i64,
}

/// Why nothing is recommended.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldReason {
    /// A protection alarm is open.
    ProtectionAlarm,
    /// A frequency recommendation is still open.
    OpenRecommendation,
    /// The static data does not validate.
    InvalidStaticData,
    /// The readings do not allow a judgement.
    NotReady(NotReady),
    /// The model could not be calibrated.
    Calibration,
    /// No frequency meets every limit; the violations at the frequency the
    /// PIP target alone asks for (empty when there is none).
    Infeasible(Vec<Violation>),
    /// The well is within `min_step_hz` of its target.
    AtTarget,
    /// The step would break these limits.
    StepRefused(Vec<Violation>),
    /// The host's frequency setpoint allows no change now: it changed less
    /// than its shortest interval ago, or its range leaves no step towards
    /// the target.
    SetpointLimit,
}

/// What was decided, and why.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Propose this change.
    Recommend(Box<Plan>),
    /// Propose nothing.
    Hold {
        /// Why.
        reason: HoldReason,
        /// Explanation for the log.
        message: String,
    },
}

/// A recommended step with everything that explains it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The recommendation as the host stores it.
    pub recommendation: Recommendation,
    /// The current frequency, Hz.
    pub current_hz: f64,
    /// The frequency where the binding limit is reached, Hz.
    pub target_hz: f64,
    /// The recommended frequency (one step towards the target), Hz.
    pub proposed_hz: f64,
    /// The limits that stop a frequency above the target.
    pub binding: Vec<Constraint>,
    /// The model's operating point now.
    pub before: OperatingPoint,
    /// The model's operating point at the proposed frequency.
    pub after: OperatingPoint,
    /// The model's operating point at the target.
    pub at_target: OperatingPoint,
    /// Change of liquid, oil and water rates by the step, bbl/d.
    pub delta_liquid_bpd: f64,
    /// Change of oil rate, bbl/d.
    pub delta_oil_bpd: f64,
    /// Change of water rate, bbl/d.
    pub delta_water_bpd: f64,
    /// Change of pump power, kW: brake power when the stage curve has
    /// brake horsepower, else hydraulic power.
    pub delta_power_kw: f64,
    /// Whether `delta_power_kw` is brake (true) or hydraulic power.
    pub brake_power: bool,
    /// The calibrated model.
    pub calibrated: Calibrated,
    /// Confidence, 0–1.
    pub confidence: f64,
}

/// Rounding of proposed frequencies, Hz.
const RESOLUTION_HZ: f64 = 0.01;

fn hold(reason: HoldReason, message: impl Into<String>) -> Decision {
    Decision::Hold { reason, message: message.into() }
}

/// Decides on one well.
pub fn decide(config: &Config, input: &Input) -> Decision {
    if let Some(alarm) = input.active_alarms.iter().find(|a| config.protection_alarms.contains(a)) {
        return hold(HoldReason::ProtectionAlarm, format!("the protection alarm {alarm} is open: no recommendation"));
    }
    let open = input.open_recommendations.iter().find(|r| {
        r.parameter == FREQUENCY_PARAMETER && input.now_ms - r.created_ms < config.open_recommendation_ttl_ms
    });
    if let Some(open) = open {
        return hold(
            HoldReason::OpenRecommendation,
            format!(
                "the recommendation of {:.2} Hz made {:.0} min ago is still open: not repeated",
                open.proposed_value,
                (input.now_ms - open.created_ms) as f64 / 60_000.0
            ),
        );
    }
    let model = match input.static_data.model() {
        Ok(model) => model,
        Err(message) => return hold(HoldReason::InvalidStaticData, message),
    };
    let seen =
        match observe(config, &input.readings, &input.setpoints, input.now_ms, model.annulus_bbl_per_psi.is_some()) {
            Ok(seen) => seen,
            Err(not_ready) => {
                let message = match &not_ready {
                    NotReady::Missing(m) | NotReady::Stale(m) | NotReady::NotRunning(m) | NotReady::NotSteady(m) => {
                        m.clone()
                    }
                };
                return hold(HoldReason::NotReady(not_ready), message);
            }
        };
    let calibrated = match calibrate(config, &model, &seen, input.now_ms) {
        Ok(calibrated) => calibrated,
        Err(message) => return hold(HoldReason::Calibration, message),
    };
    let well = &calibrated.well;
    let limits = &model.limits;
    let f = seen.frequency_hz;
    let choice = match well.best_frequency(f, limits) {
        Ok(Some(choice)) => choice,
        Ok(None) => return infeasible(well, limits),
        Err(e) => return hold(HoldReason::Calibration, format!("solving the envelope: {e}")),
    };
    let target = choice.frequency_hz;
    let floor = limits.target_intake_pressure_psi.max(limits.min_intake_pressure_psi);
    let pip_at_target = choice.binding.contains(&Constraint::IntakePressure)
        && (choice.current.intake_pressure_psi - floor).abs() <= config.pip_deadband_psi;
    if pip_at_target || (target - f).abs() < config.min_step_hz {
        return hold(
            HoldReason::AtTarget,
            format!(
                "at the target: {f:.2} Hz, best frequency {target:.2} Hz, settled PIP {:.1} psi against {floor:.0} psi (binding: {})",
                choice.current.intake_pressure_psi,
                report::constraints(&choice.binding)
            ),
        );
    }
    // The host's setpoint, when it has limits, bounds the step as its
    // interlocks will bound the write.
    let setpoint = input.setpoints.iter().rev().find(|s| s.parameter == FREQUENCY_PARAMETER);
    if let Some(s) = setpoint
        && let Some(interval) = s.min_interval_ms
        && input.now_ms - s.updated_at < interval
    {
        return hold(
            HoldReason::SetpointLimit,
            format!(
                "the frequency setpoint changed {:.0} min ago; changes must be at least {:.0} min apart",
                (input.now_ms - s.updated_at) as f64 / 60_000.0,
                interval as f64 / 60_000.0
            ),
        );
    }
    let max_step = setpoint.and_then(|s| s.max_step).map_or(model.max_step_hz, |m| m.min(model.max_step_hz));
    let step = (target - f).clamp(-max_step, max_step);
    let low = setpoint.and_then(|s| s.min).unwrap_or(f64::NEG_INFINITY);
    let high = setpoint.and_then(|s| s.max).unwrap_or(f64::INFINITY);
    let proposed = round_towards(f + step, f).clamp(low.min(high), high);
    if (proposed - f).abs() < config.min_step_hz || (proposed - f).signum() != step.signum() {
        return hold(
            HoldReason::SetpointLimit,
            format!(
                "the frequency setpoint's range [{low}, {high}] Hz leaves no step from {f:.2} towards {target:.2} Hz"
            ),
        );
    }
    let (before, after) = match (well.assess(f, limits), well.assess(proposed, limits)) {
        (Ok(before), Ok(after)) => (before, after),
        (Err(e), _) | (_, Err(e)) => return hold(HoldReason::Calibration, format!("checking the step: {e}")),
    };
    let refused = step_violations(&before, &after);
    if !refused.is_empty() {
        return hold(
            HoldReason::StepRefused(refused.clone()),
            format!("a step {f:.2} → {proposed:.2} Hz is refused: {}", report::violations(&refused)),
        );
    }
    let plan = report::plan(report::Parts {
        device_id: &input.device_id,
        config,
        current_hz: f,
        target_hz: target,
        proposed_hz: proposed,
        binding: choice.binding,
        before: before.point,
        after: after.point,
        at_target: choice.point,
        calibrated,
        readings_age_ms: input.now_ms - seen.newest_ts,
    });
    Decision::Recommend(Box::new(plan))
}

/// `value` rounded to [`RESOLUTION_HZ`] towards `towards`.
fn round_towards(value: f64, towards: f64) -> f64 {
    let steps = value / RESOLUTION_HZ;
    let rounded = if value > towards { steps.floor() } else { steps.ceil() };
    rounded * RESOLUTION_HZ
}

/// The violations at `after` that are new, or worse than at `before`.
pub fn step_violations(before: &Assessment, after: &Assessment) -> Vec<Violation> {
    after
        .violations
        .iter()
        .filter(|v| {
            let was = before.violations.iter().find(|b| b.constraint == v.constraint);
            match was {
                None => true,
                // Closer to the limit than before is allowed (the step relieves it).
                Some(b) => (v.value - v.limit).abs() >= (b.value - b.limit).abs(),
            }
        })
        .copied()
        .collect()
}

/// The hold for a well without a feasible frequency: what breaks where the
/// PIP target alone would put the frequency.
fn infeasible(well: &EspWell, limits: &nexus_physics::esp::envelope::Limits) -> Decision {
    let floor = limits.target_intake_pressure_psi.max(limits.min_intake_pressure_psi);
    let wanted =
        well.frequency_for_intake_pressure(floor, limits.min_frequency_hz * 0.5, limits.max_frequency_hz * 1.5);
    match wanted.and_then(|f| Ok((f, well.assess(f, limits)?))) {
        Ok((f, assessment)) => {
            let violations: Vec<Violation> =
                assessment.violations.into_iter().filter(|v| v.constraint != Constraint::IntakePressure).collect();
            let message = format!(
                "no frequency meets every limit: the {floor:.0} psi intake target needs {f:.2} Hz, which is refused: {}",
                report::violations(&violations)
            );
            hold(HoldReason::Infeasible(violations), message)
        }
        Err(e) => hold(
            HoldReason::Infeasible(Vec::new()),
            format!(
                "no frequency between {} and {} Hz meets every limit ({e})",
                limits.min_frequency_hz, limits.max_frequency_hz
            ),
        ),
    }
}
