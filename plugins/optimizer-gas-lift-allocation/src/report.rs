//! The field plan: one recommendation per well whose injection changes by
//! at least `min_change_mscf_d`, a one-sentence rationale for the whole
//! allocation and machine-readable details.

use crate::allocate::Allocation;
use crate::config::Config;
use crate::wells::PreparedWell;
use nexus_plugin_sdk::{FieldContext, FieldPlan, Recommendation};
use serde_json::{Value, json};

/// The total gas limit as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// `G`, Mscf/d (none: unconstrained).
    pub value: Option<f64>,
    /// The constraints that set `G`.
    pub names: Vec<&'static str>,
    /// Gas kept by wells outside the allocation (their current injection), Mscf/d.
    pub kept: f64,
    /// `water-handling`, bbl/d, as set.
    pub water: Option<f64>,
    /// `separator-liquid`, bbl/d, as set.
    pub liquid: Option<f64>,
    /// Water and liquid of the wells outside the allocation, bbl/d.
    pub kept_water: f64,
    /// See `kept_water`.
    pub kept_liquid: f64,
}

/// Rounds to 0.01.
fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// Builds the plan from the prepared wells and the allocation of those
/// that take part (in order).
pub fn plan(
    config: &Config,
    context: &FieldContext,
    prepared: &[PreparedWell],
    allocation: &Allocation,
    limit: Limit,
) -> FieldPlan {
    if prepared.is_empty() {
        return FieldPlan {
            recommendations: Vec::new(),
            rationale: format!("Group {} has no wells; nothing to allocate.", context.group_id),
            details: json!({ "wells": [], "binding": [], "unenforced": unenforced(context) }).to_string(),
        };
    }
    let mut recommendations = Vec::new();
    let mut rows = Vec::new();
    let (mut oil_now, mut oil_planned) = (0.0, 0.0);
    let mut shut_in = Vec::new();
    let mut no_curve = Vec::new();
    let mut at_bounds = Vec::new();
    let mut no_water_cut: Vec<String> = Vec::new();
    let fluids_feasible = allocation.fluids.as_ref().is_none_or(|f| f.feasible);
    let mut k = 0;
    let lambda = allocation.lambda;
    for w in prepared {
        let (Some(fit), true) = (w.fit.as_ref(), w.allocated()) else {
            let reason = w.no_curve_reason.clone().or_else(|| w.excluded_reason.clone());
            no_curve.push(w.well_id.clone());
            rows.push(json!({
                "well_id": w.well_id, "device_id": w.device_id, "model": w.fit.as_ref().map(|f| f.curve.model()),
                "gas_mscf_d": w.current, "oil_bbl_d": null, "marginal_bbl_per_mscf": null, "shut_in": false,
                "no_curve_reason": reason,
            }));
            continue;
        };
        let (g, oil, marginal) = (allocation.gas[k], allocation.oil[k], allocation.marginal[k]);
        k += 1;
        let current = w.current.unwrap_or(0.0);
        let now = fit.curve.oil(current);
        oil_now += now;
        oil_planned += oil;
        let is_shut_in = g <= 0.0;
        if is_shut_in {
            shut_in.push(w.well_id.clone());
        }
        if w.hi > 0.0 && g >= w.hi - 1.0e-6 && w.hi < fit.cap() - 1.0e-9 {
            at_bounds.push(format!("{} at its maximum {:.2} Mscf/d", w.well_id, w.hi));
        } else if w.lo > 0.0 && (g - w.lo).abs() <= 1.0e-6 {
            at_bounds.push(format!("{} at its minimum {:.2} Mscf/d", w.well_id, w.lo));
        }
        let mut interlocks: Vec<&str> = w.interlocks.clone();
        interlocks.extend(limit.names.iter().copied());
        if let Some(f) = &allocation.fluids {
            interlocks.extend(fluid_names(f));
        }
        let r = w.wor();
        let water_note = match w.water_cut {
            Some((wc, ts)) => json!({ "water_cut": wc, "from_test_ts": ts }),
            None => {
                no_water_cut.push(w.well_id.clone());
                json!({ "water_cut": null, "note": "no well test with oil and water rates: its water is taken as 0" })
            }
        };
        let bounds = json!({ "lo": w.lo, "hi": w.hi, "zero_allowed": w.allow_zero, "trusted_up_to": fit.cap() });
        rows.push(json!({
            "well_id": w.well_id, "device_id": w.device_id, "model": fit.curve.model(), "gas_mscf_d": g,
            "oil_bbl_d": oil, "marginal_bbl_per_mscf": marginal, "shut_in": is_shut_in, "no_curve_reason": null,
            "current_mscf_d": w.current, "r2": fit.r2, "tests": fit.points, "bounds": bounds,
            "water_bbl_d": r * oil, "liquid_bbl_d": (1.0 + r) * oil, "water": water_note,
        }));
        if !fluids_feasible {
            continue;
        }
        if (g - current).abs() < config.min_change_mscf_d || (g - current).abs() < 0.005 {
            continue;
        }
        let proposed = cents(g);
        let from = match w.current {
            Some(c) => format!("from {c:.2}"),
            None => "from an unknown current injection, taken as 0".into(),
        };
        let action = if is_shut_in {
            "no lift gas (shut in the injection)".to_string()
        } else {
            format!("{proposed:.2} Mscf/d")
        };
        let rationale = format!(
            "{}: {} fitted to {} tests (R² {:.3}) gives {action} {from}; marginal rate {marginal:.4} bbl/Mscf \
             against the field's λ = {lambda:.4} bbl/Mscf; oil {now:.1} → {oil:.1} bbl/d.",
            w.well_id,
            fit.curve.describe(),
            fit.points,
            fit.r2
        );
        recommendations.push(Recommendation {
            device_id: w.device_id.clone(),
            parameter: config.parameter.clone(),
            current_value: current,
            proposed_value: proposed,
            unit: "Mscf/d".into(),
            expected_gain: fit.curve.oil(proposed) - now,
            gain_unit: "bbl/d".into(),
            confidence: fit.confidence.clamp(0.0, 1.0) as f32,
            rationale,
            details: json!({
                "model": fit.curve.model(),
                "coefficients": fit.curve.coefficients(),
                "marginal_bbl_per_mscf": marginal,
                "lambda_bbl_per_mscf": lambda,
                "bounds": bounds,
                "interlocks": interlocks,
                "current_known": w.current.is_some(),
            })
            .to_string(),
        });
    }
    let used: f64 = allocation.gas.iter().sum::<f64>() + limit.kept;
    let mut binding: Vec<String> = Vec::new();
    if allocation.gas_binds {
        binding.extend(limit.names.iter().map(|n| n.to_string()));
    }
    let mut fluid_details = Value::Null;
    let mut fluid_text = String::new();
    if let Some(f) = &allocation.fluids {
        if f.water_binds {
            binding.push(format!("water handling (μ = {:.4} bbl oil per bbl water)", f.mu_water));
        }
        if f.liquid_binds {
            binding.push(format!("separator liquid (μ = {:.4} bbl oil per bbl liquid)", f.mu_liquid));
        }
        let limit_text = |v: Option<f64>| v.map_or("no limit".to_string(), |v| format!("limit {v:.1}"));
        fluid_text = format!(
            " Water {:.1} bbl/d ({}), liquid {:.1} bbl/d ({}).",
            f.water + limit.kept_water,
            limit_text(limit.water),
            f.liquid + limit.kept_liquid,
            limit_text(limit.liquid)
        );
        if !f.feasible {
            fluid_text.push_str(&format!(
                " Infeasible: even at each well's least-oil injection the wells make {:.1} bbl/d of water and {:.1} \
                 bbl/d of liquid, over the limits; lift gas cannot bring them within, so no injection change is \
                 recommended (choke back or shut in wells, or check the limits).",
                f.least_water + limit.kept_water,
                f.least_liquid + limit.kept_liquid
            ));
        }
        if !no_water_cut.is_empty() {
            fluid_text.push_str(&format!(" Water taken as 0 (no water cut): {}.", no_water_cut.join(", ")));
        }
        fluid_details = json!({
            "water_bbl_d": f.water + limit.kept_water,
            "liquid_bbl_d": f.liquid + limit.kept_liquid,
            "water_limit_bbl_d": limit.water,
            "liquid_limit_bbl_d": limit.liquid,
            "water_binds": f.water_binds,
            "liquid_binds": f.liquid_binds,
            "feasible": f.feasible,
            "least_water_bbl_d": f.least_water + limit.kept_water,
            "least_liquid_bbl_d": f.least_liquid + limit.kept_liquid,
            "kept_by_unallocated_wells": { "water_bbl_d": limit.kept_water, "liquid_bbl_d": limit.kept_liquid },
            "wells_without_water_cut": no_water_cut,
        });
    }
    let shadow_prices = json!({
        "gas_bbl_per_mscf": lambda,
        "water_bbl_oil_per_bbl": allocation.fluids.as_ref().map_or(0.0, |f| f.mu_water),
        "liquid_bbl_oil_per_bbl": allocation.fluids.as_ref().map_or(0.0, |f| f.mu_liquid),
    });
    binding.extend(at_bounds);
    let of = match limit.value {
        Some(g) => format!("{used:.1} of {g:.1} Mscf/d of lift gas"),
        None => format!("{used:.1} Mscf/d of lift gas (no gas limit)"),
    };
    let infeasible =
        if allocation.feasible { String::new() } else { " The wells' minimum injections exceed the gas limit.".into() };
    let rationale = format!(
        "Allocated {of} to {} wells at λ = {lambda:.4} bbl/Mscf; field oil {oil_now:.1} → {oil_planned:.1} bbl/d \
         ({:+.1}); binding: {}; shut in: {}; without a curve: {}.{infeasible}{fluid_text}",
        k,
        oil_planned - oil_now,
        list_or_none(&binding),
        list_or_none(&shut_in),
        list_or_none(&no_curve),
    );
    let details = json!({
        "expected_field_gain_bbl_d": oil_planned - oil_now,
        "field_oil_bbl_d": oil_planned,
        "field_oil_now_bbl_d": oil_now,
        "lambda_bbl_per_mscf": lambda,
        "gas_used_mscf_d": used,
        "gas_limit_mscf_d": limit.value,
        "gas_kept_by_unallocated_wells_mscf_d": limit.kept,
        "binding": binding,
        "unenforced": unenforced(context),
        "feasible": allocation.feasible && fluids_feasible,
        "fluids": fluid_details,
        "shadow_prices": shadow_prices,
        "method": allocation.method,
        "wells": rows,
    });
    FieldPlan { recommendations, rationale, details: details.to_string() }
}

/// The shared limits that are set but not modelled: none since water
/// handling and separator liquid are enforced (kept as an empty list).
fn unenforced(_context: &FieldContext) -> Value {
    Value::Array(Vec::new())
}

/// The names of the fluid limits in force, as interlocks.
fn fluid_names(f: &crate::fluids::FluidUse) -> Vec<&'static str> {
    let mut out = Vec::new();
    if f.limits.water.is_some() {
        out.push("water handling");
    }
    if f.limits.liquid.is_some() {
        out.push("separator liquid");
    }
    out
}
