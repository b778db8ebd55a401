//! Wellpads as well groups: what their wells share (lift gas available,
//! compressor capacity, water handling, separator liquid, per-well
//! injection bounds). A field optimizer binding runs once per wellpad of its
//! devices' wells and sees these constraints.

use std::collections::HashSet;

use nexus_model::{Actor, FieldConstraints, TenantId, Wellpad, WellpadId};

use crate::{AssetService, Result, ServiceError};

/// Largest shared limit or injection bound, Mscf/d or bbl/d.
pub const MAX_CONSTRAINT: f64 = 1.0e7;
/// Most per-well injection bounds on one wellpad.
pub const MAX_INJECTION_BOUNDS: usize = 1000;

/// Checks the numbers of a wellpad's constraints: a clear reason for the
/// first thing wrong (which wells they name is checked against storage).
pub fn check_constraints(constraints: &FieldConstraints) -> std::result::Result<(), String> {
    let shared = [
        ("lift_gas_available", constraints.lift_gas_available),
        ("compressor_capacity", constraints.compressor_capacity),
        ("water_handling", constraints.water_handling),
        ("separator_liquid", constraints.separator_liquid),
    ];
    for (name, value) in shared {
        if let Some(value) = value
            && !(value.is_finite() && (0.0..=MAX_CONSTRAINT).contains(&value))
        {
            return Err(format!("{name} {value} must be between 0 and {MAX_CONSTRAINT}"));
        }
    }
    if constraints.injection_bounds.len() > MAX_INJECTION_BOUNDS {
        return Err(format!("injection_bounds holds more than {MAX_INJECTION_BOUNDS} wells"));
    }
    let mut seen = HashSet::new();
    for (i, bounds) in constraints.injection_bounds.iter().enumerate() {
        let ok = |v: f64| v.is_finite() && (0.0..=MAX_CONSTRAINT).contains(&v);
        if !ok(bounds.min) || !ok(bounds.max) || bounds.min > bounds.max {
            return Err(format!(
                "injection_bounds[{i}]: min {} and max {} must be between 0 and {MAX_CONSTRAINT}, min at most max",
                bounds.min, bounds.max
            ));
        }
        if !seen.insert(&bounds.well_id) {
            return Err(format!("injection_bounds[{i}]: well `{}` has bounds twice", bounds.well_id));
        }
    }
    Ok(())
}

impl AssetService {
    /// A wellpad of the tenant, with its constraints.
    pub async fn wellpad(&self, tenant: &TenantId, id: &WellpadId) -> Result<Wellpad> {
        Ok(self.0.store.wellpad(tenant, id).await?)
    }

    /// Replaces what a wellpad's wells share; every well named by an
    /// injection bound must stand on this wellpad.
    pub async fn set_wellpad_constraints(
        &self,
        tenant: &TenantId,
        id: &WellpadId,
        constraints: FieldConstraints,
        by: &Actor,
    ) -> Result<Wellpad> {
        check_constraints(&constraints).map_err(ServiceError::Invalid)?;
        self.0.store.wellpad(tenant, id).await?;
        for (i, bounds) in constraints.injection_bounds.iter().enumerate() {
            let on_pad = match self.0.store.well(tenant, &bounds.well_id).await {
                Ok(well) => well.wellpad_id.as_ref() == Some(id),
                Err(nexus_storage::StorageError::NotFound { .. }) => false,
                Err(error) => return Err(error.into()),
            };
            if !on_pad {
                return Err(ServiceError::Invalid(format!(
                    "injection_bounds[{i}]: `{}` is not a well of this wellpad",
                    bounds.well_id
                )));
            }
        }
        let pad = self.0.store.set_wellpad_constraints(tenant, id, &constraints, by, self.0.now()).await?;
        self.0.wake_outbox();
        Ok(pad)
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::InjectionBounds;

    use super::*;

    fn bounds(well: &str, min: f64, max: f64) -> InjectionBounds {
        InjectionBounds { well_id: well.into(), min, max }
    }

    #[test]
    fn constraints_are_checked_with_a_reason() {
        let good = FieldConstraints {
            lift_gas_available: Some(1000.0),
            injection_bounds: vec![bounds("w1", 0.0, 500.0), bounds("w2", 100.0, 100.0)],
            ..FieldConstraints::default()
        };
        assert_eq!(check_constraints(&good), Ok(()));
        let negative = FieldConstraints { compressor_capacity: Some(-1.0), ..good.clone() };
        assert!(check_constraints(&negative).is_err_and(|e| e.starts_with("compressor_capacity -1")));
        let nan = FieldConstraints { water_handling: Some(f64::NAN), ..good.clone() };
        assert!(check_constraints(&nan).is_err_and(|e| e.starts_with("water_handling NaN")));
        let inverted = FieldConstraints { injection_bounds: vec![bounds("w1", 5.0, 1.0)], ..good.clone() };
        assert!(check_constraints(&inverted).is_err_and(|e| e.starts_with("injection_bounds[0]: min 5")));
        let twice = FieldConstraints { injection_bounds: vec![bounds("w1", 0.0, 1.0), bounds("w1", 0.0, 2.0)], ..good };
        assert!(check_constraints(&twice).is_err_and(|e| e.contains("`w1` has bounds twice")));
    }
}
