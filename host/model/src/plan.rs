//! Tenant plans: monthly caps on plugin executions and fuel, and limits
//! that bindings of the tenant may not exceed.

use serde::{Deserialize, Serialize};

use crate::TimestampMs;

/// What a tenant may use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantPlan {
    /// Plugin calls per calendar month (UTC); `None` is unlimited.
    pub max_executions_per_month: Option<u64>,
    /// Fuel per calendar month (UTC); `None` is unlimited.
    pub max_fuel_per_month: Option<u64>,
    /// Overrides of the kind defaults (same fields as `Limits`); a binding
    /// may lower these but not raise them.
    pub limits: Option<serde_json::Map<String, serde_json::Value>>,
    /// Plugin calls the tenant may have running at once (its share of the
    /// host's instance slots and call threads); `None`: the host's default.
    pub max_concurrent_calls: Option<u32>,
    /// Distinct telemetry keys one device may have; a reading of a new key
    /// past it is refused with a reason. `None`: the host's default.
    pub max_keys_per_device: Option<u32>,
}

/// A tenant's metered use in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Plugin calls.
    pub executions: u64,
    /// Fuel used.
    pub fuel: u64,
}

/// The `YYYY-MM` (UTC) month of a time.
pub fn month_of(ts: TimestampMs) -> String {
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = ts.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        assert_eq!(month_of(0), "1970-01");
        assert_eq!(month_of(951_782_400_000), "2000-02"); // 2000-02-29
        assert_eq!(month_of(1_798_761_599_000), "2026-12"); // 2026-12-31 23:59:59
        assert_eq!(month_of(1_798_761_600_000), "2027-01");
    }
}
