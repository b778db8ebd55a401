//! # optimizer-gas-lift-allocation
//!
//! A field optimizer (`field-optimizer` world) that allocates the lift gas
//! of a group of gas-lifted wells: it fits each well's gas-lift performance
//! curve to its well tests ([`fit`]), works out each well's feasible
//! injections from the injection bounds and its setpoint's range and step
//! ([`wells`]), maximises the group's oil under the shared gas limit
//! ([`allocate()`]: concave hulls, equal-slope greedy, repair of non-concave
//! gaps, a DP safeguard and a continuous polish) and recommends each changed
//! injection with its expected oil gain ([`report`]).
//!
//! The logic is the pure [`run`]; the component glue reads the binding's
//! configuration from the host and calls it.

pub mod allocate;
pub mod config;
pub mod curve;
pub mod fit;
pub mod fluids;
pub mod polish;
pub mod report;
mod swap;
pub mod wells;

pub use allocate::{Allocation, Response, WellInput, allocate, allocate_with};
pub use config::Config;
pub use curve::Curve;
pub use fit::Fit;
pub use fluids::{FluidLimits, FluidUse, allocate_fluids};
pub use wells::PreparedWell;

use nexus_plugin_sdk::{FieldContext, FieldPlan, PluginError, PluginInfo};

/// Parses and validates a binding configuration (empty text = defaults); a
/// problem is a `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<Config, PluginError> {
    let config: Config = nexus_plugin_sdk::config::parse(json)?;
    config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
    Ok(config)
}

/// One run on a group: fit, bound, allocate, report.
///
/// A well without a curve or without a feasible injection keeps its current
/// injection (when known), which comes off the gas the others share.
pub fn run(config: &Config, context: &FieldContext) -> FieldPlan {
    let prepared: Vec<PreparedWell> =
        context.wells.iter().map(|w| wells::prepare(config, &context.constraints, w)).collect();
    let (limit, limit_names) = wells::gas_limit(&context.constraints);
    let kept: f64 = prepared.iter().filter(|w| !w.allocated()).filter_map(|w| w.current).map(|g| g.max(0.0)).sum();
    let inputs: Vec<WellInput> = prepared
        .iter()
        .filter(|w| w.allocated())
        .filter_map(|w| {
            let fit = w.fit.as_ref()?;
            Some(WellInput { curve: &fit.curve, lo: w.lo, hi: w.hi, allow_zero: w.allow_zero })
        })
        .collect();
    let gas = limit.map(|g| (g - kept).max(0.0));
    let c = &context.constraints;
    // Wells left out keep their current injection, and so their water and liquid.
    let kept_fluids: (f64, f64) = prepared
        .iter()
        .filter(|w| !w.allocated())
        .filter_map(|w| Some((w.fit.as_ref()?.curve.oil(w.current?.max(0.0)), w.wor())))
        .fold((0.0, 0.0), |(wa, li), (q, r)| (wa + r * q, li + (1.0 + r) * q));
    let allocation = if c.water_handling.is_some() || c.separator_liquid.is_some() {
        let wor: Vec<f64> = prepared.iter().filter(|w| w.allocated()).map(PreparedWell::wor).collect();
        let limits = FluidLimits {
            water: c.water_handling.map(|w| (w - kept_fluids.0).max(0.0)),
            liquid: c.separator_liquid.map(|l| (l - kept_fluids.1).max(0.0)),
        };
        allocate_fluids(&inputs, &wor, gas, limits)
    } else {
        allocate(&inputs, gas)
    };
    report::plan(
        config,
        context,
        &prepared,
        &allocation,
        report::Limit {
            value: limit,
            names: limit_names,
            kept,
            water: c.water_handling,
            liquid: c.separator_liquid,
            kept_water: kept_fluids.0,
            kept_liquid: kept_fluids.1,
        },
    )
}

/// The component.
pub struct GasLiftAllocation;

impl nexus_plugin_sdk::FieldOptimizer for GasLiftAllocation {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "optimizer-gas-lift-allocation".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Allocates a group's lift gas among its wells to maximise oil: gas-lift performance \
                          curves fitted to each well's tests (quadratic, quadratic+log, saturating exponential \
                          or table), equal-slope allocation on concave hulls with repair of non-concave gaps, a \
                          DP safeguard and a continuous polish, within the gas limit, injection bounds and the \
                          setpoints' range and step; one recommendation per changed well with its oil gain."
                .into(),
            config_schema: config::schema().to_string(),
        }
    }

    fn optimize_field(context: FieldContext) -> Result<FieldPlan, PluginError> {
        let config: Config = nexus_plugin_sdk::host::config()?;
        config.validate().map_err(nexus_plugin_sdk::config::invalid)?;
        let plan = run(&config, &context);
        nexus_plugin_sdk::host::debug(&format!("group {}: {}", context.group_id, plan.rationale));
        Ok(plan)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_field_optimizer!(GasLiftAllocation);
