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
        let bounds = json!({ "lo": w.lo, "hi": w.hi, "zero_allowed": w.allow_zero, "trusted_up_to": fit.cap() });
        rows.push(json!({
            "well_id": w.well_id, "device_id": w.device_id, "model": fit.curve.model(), "gas_mscf_d": g,
            "oil_bbl_d": oil, "marginal_bbl_per_mscf": marginal, "shut_in": is_shut_in, "no_curve_reason": null,
            "current_mscf_d": w.current, "r2": fit.r2, "tests": fit.points, "bounds": bounds,
        }));
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
    binding.extend(at_bounds);
    let of = match limit.value {
        Some(g) => format!("{used:.1} of {g:.1} Mscf/d of lift gas"),
        None => format!("{used:.1} Mscf/d of lift gas (no gas limit)"),
    };
    let infeasible =
        if allocation.feasible { String::new() } else { " The wells' minimum injections exceed the gas limit.".into() };
    let rationale = format!(
        "Allocated {of} to {} wells at λ = {lambda:.4} bbl/Mscf; field oil {oil_now:.1} → {oil_planned:.1} bbl/d \
         ({:+.1}); binding: {}; shut in: {}; without a curve: {}.{infeasible}",
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
        "feasible": allocation.feasible,
        "method": allocation.method,
        "wells": rows,
    });
    FieldPlan { recommendations, rationale, details: details.to_string() }
}

/// The shared limits that are set but not modelled.
fn unenforced(context: &FieldContext) -> Value {
    let c = &context.constraints;
    let mut out = Vec::new();
    for (name, v) in [("water_handling", c.water_handling), ("separator_liquid", c.separator_liquid)] {
        if let Some(v) = v {
            out.push(json!({ "constraint": name, "value": v,
                             "note": "not modelled: the curves give oil only, so this limit is not checked" }));
        }
    }
    Value::Array(out)
}
