//! Well tests as data: recorded by people (or a test separator's system)
//! through the API, checked here, kept by the storage port, and given to
//! optimizers, newest first, in every well context.

use nexus_model::{Actor, RecordedWellTest, TenantId, WellId, WellTest};

use crate::{AssetService, Result, ServiceError};

/// Condition keys with a meaning to the host's components; each must be a
/// finite number, not negative (`frequency_hz` above zero). Other keys are
/// kept as given.
pub const WELL_TEST_CONDITIONS: &[&str] = &[
    "frequency_hz",
    "intake_pressure_psi",
    "discharge_pressure_psi",
    "motor_current_a",
    "wellhead_pressure_psi",
    "casing_pressure_psi",
    "gas_injection_mscf_d",
    "choke_64ths",
];

/// Longest test, hours (30 days).
pub const MAX_TEST_HOURS: f64 = 720.0;
/// Highest rate of any phase, bbl/d or Mscf/d.
pub const MAX_RATE: f64 = 1.0e6;
/// Most condition entries, and their most bytes as JSON.
pub const MAX_CONDITIONS: usize = 32;
/// Most bytes of the conditions as JSON.
pub const MAX_CONDITIONS_BYTES: usize = 4096;
/// Earliest start accepted (2000-01-01 UTC), ms.
pub const EARLIEST_TEST_MS: i64 = 946_684_800_000;
/// How many of a well's newest tests an optimizer sees.
pub const WELL_TESTS_IN_CONTEXT: u32 = 5;
/// How many of a well's newest tests a forecaster sees (ten years of
/// monthly tests: a decline is fitted to the history).
pub const WELL_TESTS_FOR_FORECASTS: u32 = 120;

/// Checks a well test against the clock (`now`, ms): a clear reason for the
/// first thing wrong.
pub fn check_well_test(test: &WellTest, now: i64) -> std::result::Result<(), String> {
    if test.ts < EARLIEST_TEST_MS || test.ts > now {
        return Err(format!("ts {} must be a start time between 2000-01-01 and now ({now})", test.ts));
    }
    if !(test.duration_h.is_finite() && test.duration_h > 0.0 && test.duration_h <= MAX_TEST_HOURS) {
        return Err(format!("duration_h {} must be above 0 and at most {MAX_TEST_HOURS}", test.duration_h));
    }
    for (name, rate) in
        [("oil_bbl_d", test.oil_bbl_d), ("water_bbl_d", test.water_bbl_d), ("gas_mscf_d", test.gas_mscf_d)]
    {
        if !(rate.is_finite() && (0.0..=MAX_RATE).contains(&rate)) {
            return Err(format!("{name} {rate} must be between 0 and {MAX_RATE}"));
        }
    }
    let Some(conditions) = test.conditions.as_object() else {
        return Err("conditions must be a JSON object".into());
    };
    let bytes = test.conditions.to_string().len();
    if conditions.len() > MAX_CONDITIONS || bytes > MAX_CONDITIONS_BYTES {
        return Err(format!(
            "conditions hold {} entries in {bytes} bytes; at most {MAX_CONDITIONS} in {MAX_CONDITIONS_BYTES}",
            conditions.len()
        ));
    }
    for key in WELL_TEST_CONDITIONS {
        let Some(value) = conditions.get(*key) else { continue };
        let number = value.as_f64().filter(|v| v.is_finite() && *v >= 0.0 && (*key != "frequency_hz" || *v > 0.0));
        if number.is_none() {
            return Err(format!("conditions.{key} {value} must be a finite number, not negative"));
        }
    }
    Ok(())
}

impl AssetService {
    /// Records a test of one of the tenant's wells; a second test of the
    /// well at the same start time is a conflict.
    pub async fn record_well_test(
        &self,
        tenant: &TenantId,
        well: &WellId,
        test: WellTest,
        by: &Actor,
    ) -> Result<RecordedWellTest> {
        // Another tenant's well is not found, whatever the body.
        self.0.store.well(tenant, well).await?;
        let now = self.0.now();
        check_well_test(&test, now).map_err(ServiceError::Invalid)?;
        let recorded = self.0.store.record_well_test(tenant, well, &test, by, now).await?;
        self.0.wake_outbox();
        Ok(recorded)
    }

    /// A well's newest `limit` tests, newest first.
    pub async fn well_tests(&self, tenant: &TenantId, well: &WellId, limit: u32) -> Result<Vec<RecordedWellTest>> {
        Ok(self.0.store.well_tests(tenant, well, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000_000;

    fn good() -> WellTest {
        WellTest {
            ts: NOW - 3_600_000,
            duration_h: 24.0,
            oil_bbl_d: 371.4,
            water_bbl_d: 928.6,
            gas_mscf_d: 120.0,
            conditions: serde_json::json!({"frequency_hz": 50.0, "intake_pressure_psi": 420.0, "separator": "T-1"}),
        }
    }

    #[test]
    fn a_complete_test_passes() {
        assert_eq!(check_well_test(&good(), NOW), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Spoil = Box<dyn Fn(&mut WellTest)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("ts", Box::new(|t| t.ts = NOW + 1)),
            ("ts", Box::new(|t| t.ts = 0)),
            ("duration_h", Box::new(|t| t.duration_h = 0.0)),
            ("duration_h", Box::new(|t| t.duration_h = 721.0)),
            ("oil_bbl_d", Box::new(|t| t.oil_bbl_d = -1.0)),
            ("water_bbl_d", Box::new(|t| t.water_bbl_d = f64::NAN)),
            ("gas_mscf_d", Box::new(|t| t.gas_mscf_d = 2.0e6)),
            ("conditions must be", Box::new(|t| t.conditions = serde_json::json!([1]))),
            ("conditions.frequency_hz", Box::new(|t| t.conditions["frequency_hz"] = serde_json::json!(0.0))),
            ("conditions.intake_pressure_psi", Box::new(|t| t.conditions["intake_pressure_psi"] = "high".into())),
            ("entries", Box::new(|t| t.conditions["note"] = "x".repeat(5000).into())),
        ];
        for (field, spoil) in cases {
            let mut test = good();
            spoil(&mut test);
            let error = check_well_test(&test, NOW).expect_err(field);
            assert!(error.starts_with(field) || error.contains(field), "{field}: {error}");
        }
    }
}
