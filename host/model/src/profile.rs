//! Tenant profiles: what a tenant may use. Monthly caps on plugin
//! executions and fuel, limits that bindings of the tenant may not exceed,
//! its share of the host's call slots, API rate limits (per user and per
//! tenant), ingest limits on the device API (per device and per tenant) and
//! entity quotas. Rate windows are written as ThingsBoard writes them:
//! `N:seconds`, comma-separated, e.g. `"20:1,600:60"` (at most 20 a second
//! and 600 a minute); every window must admit a request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::TimestampMs;

/// What a tenant may use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantProfile {
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
    /// Days the tenant's telemetry is kept: the retention sweep deletes
    /// readings stamped before now minus this many days (latest values
    /// stay). `None`: kept until deleted (the seed's 30 days is
    /// `Some(30)`).
    pub telemetry_retention_days: Option<u32>,
    /// Largest component the tenant may upload, bytes. `None`: the host's
    /// default (10 MiB); at most the system ceiling (64 MiB).
    pub max_component_bytes: Option<u64>,
    /// Requests to the REST API, per user (or API key) and per tenant.
    pub rate_limits: RateLimits,
    /// Telemetry on the device API, per device and per tenant.
    pub ingest_limits: IngestLimits,
    /// How many entities the tenant may have.
    pub quotas: EntityQuotas,
}

/// REST API rate limits. An empty string is no limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Per user or API key (each principal's own windows). Default
    /// `"100:60"`: 100 requests a minute.
    #[serde(deserialize_with = "field::per_user")]
    pub per_user: RateWindows,
    /// All of the tenant's principals together. Default: none.
    #[serde(deserialize_with = "field::per_tenant")]
    pub per_tenant: RateWindows,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { per_user: RateWindows::default_per_user(), per_tenant: RateWindows::none() }
    }
}

/// Ingest limits on the device API: messages (frames) and data points
/// (readings) per window. An empty string (the default) is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestLimits {
    /// Messages one device may send.
    #[serde(deserialize_with = "field::device_messages")]
    pub device_messages: RateWindows,
    /// Data points one device may send.
    #[serde(deserialize_with = "field::device_points")]
    pub device_points: RateWindows,
    /// Messages all of the tenant's devices may send together.
    #[serde(deserialize_with = "field::tenant_messages")]
    pub tenant_messages: RateWindows,
    /// Data points all of the tenant's devices may send together.
    #[serde(deserialize_with = "field::tenant_points")]
    pub tenant_points: RateWindows,
}

/// How many entities a tenant may have; `None` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntityQuotas {
    /// Devices.
    pub max_devices: Option<u64>,
    /// Wells.
    pub max_wells: Option<u64>,
    /// Plugin versions uploaded.
    pub max_plugins: Option<u64>,
    /// Bindings.
    pub max_bindings: Option<u64>,
    /// API keys.
    pub max_api_keys: Option<u64>,
}

/// A kind of entity with a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// Devices.
    Devices,
    /// Wells.
    Wells,
    /// Plugin versions.
    Plugins,
    /// Bindings.
    Bindings,
    /// API keys.
    ApiKeys,
}

impl QuotaKind {
    /// The quota's field name in the profile, e.g. `max_devices`.
    pub fn field(self) -> &'static str {
        match self {
            QuotaKind::Devices => "max_devices",
            QuotaKind::Wells => "max_wells",
            QuotaKind::Plugins => "max_plugins",
            QuotaKind::Bindings => "max_bindings",
            QuotaKind::ApiKeys => "max_api_keys",
        }
    }
}

impl EntityQuotas {
    /// The quota of a kind (`None`: unlimited).
    pub fn of(&self, kind: QuotaKind) -> Option<u64> {
        match kind {
            QuotaKind::Devices => self.max_devices,
            QuotaKind::Wells => self.max_wells,
            QuotaKind::Plugins => self.max_plugins,
            QuotaKind::Bindings => self.max_bindings,
            QuotaKind::ApiKeys => self.max_api_keys,
        }
    }
}

/// One window: at most `limit` in `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateWindow {
    /// How many (positive).
    pub limit: u32,
    /// In how many seconds (positive).
    pub seconds: u32,
}

impl RateWindow {
    /// The time one unit takes to come back (`seconds / limit`), at least
    /// a nanosecond by construction.
    pub fn period(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::from(self.seconds) * 1_000_000_000 / u64::from(self.limit))
    }
}

impl fmt::Display for RateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.limit, self.seconds)
    }
}

/// Windows that must all admit, e.g. `20:1,600:60`; none is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RateWindows(Vec<RateWindow>);

impl RateWindows {
    /// No limit.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// 100 requests a minute: the default per user.
    pub fn default_per_user() -> Self {
        Self(vec![RateWindow { limit: 100, seconds: 60 }])
    }

    /// The windows.
    pub fn windows(&self) -> &[RateWindow] {
        &self.0
    }

    /// Whether there is no limit.
    pub fn is_unlimited(&self) -> bool {
        self.0.is_empty()
    }
}

/// Text that is not `N:seconds[,N:seconds...]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate window `{window}`: {reason} (expected N:seconds, comma-separated, e.g. `20:1,600:60`)")]
pub struct ParseRateError {
    /// The window at fault.
    pub window: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for RateWindow {
    type Err = ParseRateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let window = text.trim();
        let bad = |reason| ParseRateError { window: window.to_string(), reason };
        let (limit, seconds) = window.split_once(':').ok_or_else(|| bad("no `:`"))?;
        let limit: u32 = limit.trim().parse().map_err(|_| bad("N is not a whole number"))?;
        let seconds: u32 = seconds.trim().parse().map_err(|_| bad("seconds is not a whole number"))?;
        if limit == 0 {
            return Err(bad("N must be positive"));
        }
        if seconds == 0 {
            return Err(bad("seconds must be positive"));
        }
        if u64::from(seconds) * 1_000_000_000 < u64::from(limit) {
            return Err(bad("N is over one a nanosecond"));
        }
        Ok(Self { limit, seconds })
    }
}

impl FromStr for RateWindows {
    type Err = ParseRateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Ok(Self::none());
        }
        let mut windows: Vec<RateWindow> = text.split(',').map(str::parse).collect::<Result<_, _>>()?;
        windows.sort_by_key(|w| (w.seconds, w.limit));
        windows.dedup();
        Ok(Self(windows))
    }
}

impl fmt::Display for RateWindows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, window) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{window}")?;
        }
        Ok(())
    }
}

impl Serialize for RateWindows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateWindows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Deserializers that name the profile field a bad window is in.
mod field {
    use serde::{Deserialize, Deserializer};

    use super::RateWindows;

    macro_rules! named {
        ($($name:ident => $field:literal),* $(,)?) => {$(
            pub(super) fn $name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RateWindows, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(|e| serde::de::Error::custom(format!("{}: {e}", $field)))
            }
        )*};
    }

    named! {
        per_user => "rate_limits.per_user",
        per_tenant => "rate_limits.per_tenant",
        device_messages => "ingest_limits.device_messages",
        device_points => "ingest_limits.device_points",
        tenant_messages => "ingest_limits.tenant_messages",
        tenant_points => "ingest_limits.tenant_points",
    }
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

    #[test]
    fn rate_windows_parse_thingsboard_syntax() {
        let windows: RateWindows = "600:60, 20:1".parse().unwrap();
        assert_eq!(windows.windows(), [RateWindow { limit: 20, seconds: 1 }, RateWindow { limit: 600, seconds: 60 }]);
        assert_eq!(windows.to_string(), "20:1,600:60");
        assert!("".parse::<RateWindows>().unwrap().is_unlimited());
        assert_eq!(RateWindow { limit: 4, seconds: 1 }.period(), std::time::Duration::from_millis(250));
        for (text, window, reason) in [
            ("20:1,0:60", "0:60", "N must be positive"),
            ("20:0", "20:0", "seconds must be positive"),
            ("20:1,abc", "abc", "no `:`"),
            ("x:1", "x:1", "N is not a whole number"),
            ("5:-1", "5:-1", "seconds is not a whole number"),
            ("10:1,", "", "no `:`"),
        ] {
            let error = text.parse::<RateWindows>().unwrap_err();
            assert_eq!((error.window.as_str(), error.reason), (window, reason), "{text}");
            assert!(error.to_string().contains(&format!("`{window}`")), "{error}");
        }
    }

    #[test]
    fn profiles_default_to_100_a_minute_per_user_and_name_a_bad_field() {
        let profile: TenantProfile = serde_json::from_str("{}").unwrap();
        assert_eq!(profile.rate_limits.per_user.to_string(), "100:60");
        assert!(profile.rate_limits.per_tenant.is_unlimited() && profile.ingest_limits.device_points.is_unlimited());
        assert_eq!(profile.quotas.of(QuotaKind::Devices), None);
        let text = serde_json::to_string(&profile).unwrap();
        assert_eq!(serde_json::from_str::<TenantProfile>(&text).unwrap(), profile);
        let error = serde_json::from_str::<TenantProfile>(r#"{"ingest_limits": {"device_points": "10:0"}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("ingest_limits.device_points") && error.contains("`10:0`"), "{error}");
        assert!(serde_json::from_str::<TenantProfile>(r#"{"quotas": {"max_cows": 1}}"#).is_err());
        assert!(serde_json::from_str::<TenantProfile>(r#"{"plan": 1}"#).is_err());
    }
}
