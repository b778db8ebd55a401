//! What the allocation needs of each well: its curve fitted to its well
//! tests, its current injection and its feasible injections (bounds and
//! interlocks).

use crate::config::Config;
use crate::fit::{Fit, fit};
use nexus_plugin_sdk::{FieldConstraints, WellContext};

/// Key of a well test's conditions that gives the injection, Mscf/d.
pub const TEST_INJECTION_KEY: &str = "gas_injection_mscf_d";

/// One well, ready to allocate.
#[derive(Debug, Clone)]
pub struct PreparedWell {
    /// The well.
    pub well_id: String,
    /// The device carrying its telemetry and setpoints.
    pub device_id: String,
    /// The fitted curve, if the well has one.
    pub fit: Option<Fit>,
    /// Why the well has no curve.
    pub no_curve_reason: Option<String>,
    /// Why a well with a curve is left out of the allocation (no feasible injection).
    pub excluded_reason: Option<String>,
    /// Current injection (setpoint, else latest reading), Mscf/d.
    pub current: Option<f64>,
    /// Lowest injection when lifted, Mscf/d.
    pub lo: f64,
    /// Highest injection, Mscf/d.
    pub hi: f64,
    /// Whether no lift gas (0) is allowed.
    pub allow_zero: bool,
    /// Names of the limits applied to this well.
    pub interlocks: Vec<&'static str>,
    /// Water cut (water / liquid) of the newest test with oil, and that
    /// test's time; `None`: no water-cut information (water taken as 0).
    pub water_cut: Option<(f64, i64)>,
}

impl PreparedWell {
    /// Water–oil ratio `wc/(1 − wc)`: barrels of water per barrel of oil (0
    /// without a water cut).
    pub fn wor(&self) -> f64 {
        self.water_cut.map_or(0.0, |(wc, _)| wc / (1.0 - wc))
    }

    /// Whether the well takes part in the allocation.
    pub fn allocated(&self) -> bool {
        self.fit.is_some() && self.excluded_reason.is_none()
    }
}

/// The `(injection, oil)` points of a well's tests that give the injection.
pub fn test_points(context: &WellContext) -> Vec<(f64, f64)> {
    context
        .well_tests
        .iter()
        .filter_map(|t| {
            let conditions: serde_json::Value = serde_json::from_str(&t.conditions).ok()?;
            let g = conditions.get(TEST_INJECTION_KEY)?.as_f64()?;
            (g.is_finite() && g >= 0.0 && t.oil_bbl_d.is_finite() && t.oil_bbl_d >= 0.0).then_some((g, t.oil_bbl_d))
        })
        .collect()
}

/// The water cut `water / (oil + water)` of the newest test with a positive
/// oil rate and a finite, non-negative water rate, with that test's time.
/// Tests without oil are passed over: their water is not proportional to
/// any oil. The water cut is taken to hold at every injection (lift gas
/// lifts the well's liquid; the reservoir sets its water cut).
pub fn water_cut(context: &WellContext) -> Option<(f64, i64)> {
    context
        .well_tests
        .iter()
        .filter(|t| t.oil_bbl_d.is_finite() && t.oil_bbl_d > 0.0 && t.water_bbl_d.is_finite() && t.water_bbl_d >= 0.0)
        .max_by_key(|t| t.ts)
        .map(|t| (t.water_bbl_d / (t.oil_bbl_d + t.water_bbl_d), t.ts))
}

/// The current injection: the setpoint's value, else the latest reading of
/// `injection_key`, else unknown.
pub fn current_injection(config: &Config, context: &WellContext) -> Option<f64> {
    if let Some(sp) = context.setpoints.iter().find(|s| s.parameter == config.parameter)
        && sp.value.is_finite()
    {
        return Some(sp.value);
    }
    nexus_plugin_sdk::readings(&context.device_id, &context.readings)
        .iter()
        .filter(|r| r.key == config.injection_key)
        .filter_map(|r| r.value.as_f64().filter(|v| v.is_finite()).map(|v| (r.ts, v)))
        .max_by_key(|(ts, _)| *ts)
        .map(|(_, v)| v)
}

/// Fits the well's curve and works out its feasible injections.
pub fn prepare(config: &Config, constraints: &FieldConstraints, context: &WellContext) -> PreparedWell {
    let current = current_injection(config, context);
    let mut well = PreparedWell {
        well_id: context.well_id.clone(),
        device_id: context.device_id.clone(),
        fit: None,
        no_curve_reason: None,
        excluded_reason: None,
        current,
        lo: 0.0,
        hi: 0.0,
        allow_zero: true,
        interlocks: Vec::new(),
        water_cut: water_cut(context),
    };
    match fit(&test_points(context)) {
        Ok(f) => {
            well.hi = f.cap();
            well.fit = Some(f);
        }
        Err(reason) => {
            well.no_curve_reason = Some(reason);
            return well;
        }
    }
    if let Some(b) = constraints.injection_bounds.iter().find(|b| b.well_id == context.well_id) {
        well.interlocks.push("injection bounds");
        if b.min.is_finite() {
            well.lo = well.lo.max(b.min);
        }
        if b.max.is_finite() {
            well.hi = well.hi.min(b.max);
        }
    }
    if let Some(sp) = context.setpoints.iter().find(|s| s.parameter == config.parameter) {
        if sp.min.is_some() || sp.max.is_some() {
            well.interlocks.push("setpoint range");
        }
        if let Some(min) = sp.min.filter(|v| v.is_finite()) {
            well.lo = well.lo.max(min);
        }
        if let Some(max) = sp.max.filter(|v| v.is_finite()) {
            well.hi = well.hi.min(max);
        }
        if let Some(step) = sp.max_step.filter(|s| s.is_finite() && *s >= 0.0)
            && sp.value.is_finite()
        {
            well.interlocks.push("setpoint step");
            well.lo = well.lo.max(sp.value - step);
            well.hi = well.hi.min(sp.value + step);
            well.allow_zero = sp.value - step <= 0.0;
        }
    }
    well.lo = well.lo.max(0.0);
    if well.lo > well.hi {
        if well.allow_zero {
            // Only "no lift gas" is left.
            well.lo = 0.0;
            well.hi = 0.0;
        } else {
            well.excluded_reason = Some(format!(
                "no feasible injection: the limits leave [{:.2}, {:.2}] Mscf/d (the curve is trusted up to {:.2})",
                well.lo,
                well.hi,
                well.fit.as_ref().map_or(0.0, Fit::cap)
            ));
        }
    }
    well
}

/// The total gas limit `G = min(lift-gas-available, compressor-capacity)`
/// and the names of the constraints that set it (both when equal).
pub fn gas_limit(constraints: &FieldConstraints) -> (Option<f64>, Vec<&'static str>) {
    let named = [
        ("lift gas available", constraints.lift_gas_available),
        ("compressor capacity", constraints.compressor_capacity),
    ];
    let limits: Vec<(&'static str, f64)> =
        named.into_iter().filter_map(|(n, v)| v.filter(|v| v.is_finite()).map(|v| (n, v.max(0.0)))).collect();
    let Some(g) = limits.iter().map(|l| l.1).reduce(f64::min) else { return (None, Vec::new()) };
    (Some(g), limits.iter().filter(|l| l.1 <= g).map(|l| l.0).collect())
}
