//! Tenant profiles and what they limit: REST API rate limits (per user or
//! API key, and per tenant), ingest limits on the device API (messages and
//! data points, per device and per tenant) and entity quotas.
//!
//! Every window `N:seconds` is a GCRA limiter (`governor`): a burst of `N`
//! is admitted at once, then one more every `seconds / N` — the gradual
//! refill of bucket4j that ThingsBoard uses. Every window of a set must
//! admit; a refusal carries the earliest time the refusing window admits
//! again. Windows checked before the refusing one have counted the request
//! (errs on the strict side). The limiters of a tenant are built from its
//! profile, which is cached (read from storage once, replaced when the
//! profile is set through [`LimitService::set_profile`]): no storage read
//! per request. Per-key state is bounded: keys idle for longer than their
//! window are dropped every [`SWEEP_EVERY`] checks.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use nexus_model::{
    Actor, DeviceId, Page, Principal, QuotaKind, RateWindow, RateWindows, Role, TenantId, TenantProfile,
};

use crate::{Inner, Result, ServiceError};

/// Checks between two sweeps of idle keys of one window set.
pub const SWEEP_EVERY: u64 = 4096;

/// The windows of one limit, each a keyed GCRA limiter.
struct WindowSet<K: Hash + Eq + Clone> {
    /// The profile field, e.g. `rate_limits.per_user`.
    field: &'static str,
    windows: Vec<(RateWindow, DefaultKeyedRateLimiter<K>)>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> WindowSet<K> {
    fn new(field: &'static str, windows: &RateWindows) -> Self {
        let windows = windows
            .windows()
            .iter()
            .filter_map(|&window| {
                let burst = NonZeroU32::new(window.limit)?;
                // `RateWindow` guarantees a period of at least a nanosecond.
                let quota = Quota::with_period(window.period())?.allow_burst(burst);
                Some((window, RateLimiter::keyed(quota)))
            })
            .collect();
        Self { field, windows, checks: AtomicU64::new(0) }
    }

    /// Takes `n` from every window for `key`, or says when to retry.
    fn check(&self, key: &K, n: u32) -> Result<()> {
        let Some(n) = NonZeroU32::new(n) else { return Ok(()) };
        if self.windows.is_empty() {
            return Ok(());
        }
        if self.checks.fetch_add(1, Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        for (window, limiter) in &self.windows {
            match limiter.check_key_n(key, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => {
                    let retry_after = not_until.wait_time_from(limiter.clock().now());
                    return Err(ServiceError::RateLimited {
                        limit: self.field,
                        window: window.to_string(),
                        retry_after,
                    });
                }
                Err(_) => {
                    return Err(ServiceError::Invalid(format!(
                        "{n} at once is more than {} `{window}` ever admits; send fewer at a time",
                        self.field
                    )));
                }
            }
        }
        Ok(())
    }

    /// Drops the keys whose state is as good as fresh.
    fn sweep(&self) {
        for (_, limiter) in &self.windows {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn keys(&self) -> usize {
        self.windows.iter().map(|(_, l)| l.len()).sum()
    }
}

/// The limiters of one tenant, built from its profile.
struct TenantLimiters {
    per_user: WindowSet<String>,
    per_tenant: WindowSet<()>,
    device_messages: WindowSet<DeviceId>,
    device_points: WindowSet<DeviceId>,
    tenant_messages: WindowSet<()>,
    tenant_points: WindowSet<()>,
}

impl TenantLimiters {
    fn new(profile: &TenantProfile) -> Self {
        let (rate, ingest) = (&profile.rate_limits, &profile.ingest_limits);
        Self {
            per_user: WindowSet::new("rate_limits.per_user", &rate.per_user),
            per_tenant: WindowSet::new("rate_limits.per_tenant", &rate.per_tenant),
            device_messages: WindowSet::new("ingest_limits.device_messages", &ingest.device_messages),
            device_points: WindowSet::new("ingest_limits.device_points", &ingest.device_points),
            tenant_messages: WindowSet::new("ingest_limits.tenant_messages", &ingest.tenant_messages),
            tenant_points: WindowSet::new("ingest_limits.tenant_points", &ingest.tenant_points),
        }
    }
}

/// Every tenant's limiters, built on first use.
#[derive(Default)]
pub(crate) struct Limiters {
    tenants: Mutex<HashMap<TenantId, Arc<TenantLimiters>>>,
    /// Principals of no tenant (vendors' developers): the default profile.
    no_tenant: Mutex<Option<Arc<TenantLimiters>>>,
}

impl Limiters {
    fn forget(&self, tenant: &TenantId) {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner()).remove(tenant);
    }
}

impl Inner {
    async fn limiters(&self, tenant: &TenantId) -> Result<Arc<TenantLimiters>> {
        if let Some(found) = self.limiters.tenants.lock().unwrap_or_else(|e| e.into_inner()).get(tenant) {
            return Ok(found.clone());
        }
        let built = Arc::new(TenantLimiters::new(&self.profile(tenant).await?));
        let mut tenants = self.limiters.tenants.lock().unwrap_or_else(|e| e.into_inner());
        Ok(tenants.entry(tenant.clone()).or_insert(built).clone())
    }

    /// Takes one message from the device's and the tenant's message windows.
    pub(crate) async fn check_ingest_message(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        let limiters = self.limiters(tenant).await?;
        limiters.device_messages.check(device, 1)?;
        limiters.tenant_messages.check(&(), 1)
    }

    /// Takes `points` data points from the device's and the tenant's
    /// data point windows.
    pub(crate) async fn check_ingest_points(&self, tenant: &TenantId, device: &DeviceId, points: u32) -> Result<()> {
        let limiters = self.limiters(tenant).await?;
        limiters.device_points.check(device, points)?;
        limiters.tenant_points.check(&(), points)
    }

    /// Refuses one more entity of `kind` when the tenant has `existing`
    /// and its quota allows no more.
    pub(crate) async fn check_quota_of(&self, tenant: &TenantId, kind: QuotaKind, existing: u64) -> Result<()> {
        match self.profile(tenant).await?.quotas.of(kind) {
            Some(limit) if existing >= limit => {
                Err(ServiceError::EntityQuotaExceeded { quota: kind.field(), limit, existing })
            }
            _ => Ok(()),
        }
    }

    /// Counts the tenant's entities of `kind` when its profile has a quota
    /// on them, and refuses one more past it. Held across the count and
    /// the create, the returned guard keeps concurrent creates from
    /// overshooting the quota.
    pub(crate) async fn quota_turn(
        &self,
        tenant: &TenantId,
        kind: QuotaKind,
    ) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>> {
        if self.profile(tenant).await?.quotas.of(kind).is_none() {
            return Ok(None);
        }
        let guard = self.quota_lock.lock().await;
        let existing = match kind {
            QuotaKind::Devices => self.store.devices(tenant, &Page::all()).await?.len(),
            QuotaKind::Wells => self.store.wells(tenant, &Page::all()).await?.len(),
            QuotaKind::Plugins => self.store.plugins(tenant, &Page::all()).await?.len(),
            QuotaKind::Bindings => self.store.bindings(tenant, &Page::all()).await?.len(),
            QuotaKind::ApiKeys => {
                return Err(ServiceError::Internal("API keys are counted by their caller".into()));
            }
        };
        self.check_quota_of(tenant, kind, existing as u64).await?;
        Ok(Some(guard))
    }
}

/// Tenant profiles, rate limits, ingest limits and entity quotas. Cheap to
/// clone.
#[derive(Clone)]
pub struct LimitService(pub(crate) Arc<Inner>);

impl LimitService {
    /// The tenant's profile (the defaults when none was set).
    pub async fn profile(&self, tenant: &TenantId) -> Result<TenantProfile> {
        self.0.profile(tenant).await
    }

    /// Replaces the tenant's profile after checking it against the host's
    /// ceilings; its limiters start afresh from the new windows.
    pub async fn set_profile(&self, tenant: &TenantId, profile: TenantProfile, by: &Actor) -> Result<TenantProfile> {
        let profile = self.0.set_profile(tenant, profile, by).await?;
        self.0.limiters.forget(tenant);
        self.0.wake_outbox();
        Ok(profile)
    }

    /// One REST API request of `principal`: takes one from its own windows
    /// (`rate_limits.per_user`, keyed by [`Principal::subject`]) and its
    /// tenant's (`rate_limits.per_tenant`). The system administrator is not
    /// limited; a principal of no tenant (a vendor's developer) has the
    /// default per-user windows. Refused with
    /// [`ServiceError::RateLimited`] carrying the earliest retry time.
    pub async fn check_request(&self, principal: &Principal) -> Result<()> {
        if principal.role == Role::SysAdmin {
            return Ok(());
        }
        let limiters = match principal.tenant_id() {
            Some(tenant) => self.0.limiters(tenant).await?,
            None => {
                let mut shared = self.0.limiters.no_tenant.lock().unwrap_or_else(|e| e.into_inner());
                shared.get_or_insert_with(|| Arc::new(TenantLimiters::new(&TenantProfile::default()))).clone()
            }
        };
        limiters.per_user.check(&principal.subject(), 1)?;
        limiters.per_tenant.check(&(), 1)
    }

    /// One device message of `points` data points: takes one message and
    /// `points` data points from the device's and the tenant's ingest
    /// windows. Refused with [`ServiceError::RateLimited`].
    pub async fn check_ingest(&self, tenant: &TenantId, device: &DeviceId, points: u32) -> Result<()> {
        self.0.check_ingest_message(tenant, device).await?;
        self.0.check_ingest_points(tenant, device, points).await
    }

    /// The message half of [`Self::check_ingest`]: the device API calls it
    /// as soon as the token names a device, before the body is read; the
    /// data points are checked once the decoder has counted them, before
    /// anything of the frame joins a commit.
    pub async fn check_ingest_message(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        self.0.check_ingest_message(tenant, device).await
    }

    /// Whether the tenant, having `existing` entities of `kind`, may have
    /// one more; refused with [`ServiceError::EntityQuotaExceeded`]. The
    /// services check devices, wells, plugin versions and bindings on their
    /// own; API keys are counted by their caller.
    pub async fn check_quota(&self, tenant: &TenantId, kind: QuotaKind, existing: u64) -> Result<()> {
        self.0.check_quota_of(tenant, kind, existing).await
    }

    /// Keys held by the limiters now (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        let tenants = self.0.limiters.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .values()
            .map(|l| {
                l.per_user.keys()
                    + l.per_tenant.keys()
                    + l.device_messages.keys()
                    + l.device_points.keys()
                    + l.tenant_messages.keys()
                    + l.tenant_points.keys()
            })
            .sum()
    }
}

/// Rounds a wait up to whole seconds, at least one (for `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> WindowSet<String> {
        WindowSet::new("rate_limits.per_user", &text.parse().unwrap())
    }

    fn refused(result: Result<()>) -> (String, Duration) {
        match result {
            Err(ServiceError::RateLimited { limit, window, retry_after }) => {
                assert_eq!(limit, "rate_limits.per_user");
                (window, retry_after)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_window_admits_n_at_once_then_refuses_with_a_retry_time() {
        let limits = set("5:60");
        let alice = "user:alice".to_string();
        for _ in 0..5 {
            limits.check(&alice, 1).unwrap();
        }
        let (window, retry_after) = refused(limits.check(&alice, 1));
        assert_eq!(window, "5:60");
        // One comes back every 12 s.
        assert!(retry_after > Duration::from_secs(11) && retry_after <= Duration::from_secs(12), "{retry_after:?}");
        // Another key is unaffected.
        limits.check(&"user:bob".to_string(), 1).unwrap();
    }

    #[test]
    fn every_window_must_admit() {
        // 3 a second, but only 4 a minute: the minute window refuses the 5th
        // even after the second window refilled.
        let limits = set("3:1,4:60");
        let key = "k".to_string();
        for _ in 0..3 {
            limits.check(&key, 1).unwrap();
        }
        let (window, _) = refused(limits.check(&key, 1));
        assert_eq!(window, "3:1");
        std::thread::sleep(Duration::from_millis(1100));
        limits.check(&key, 1).unwrap();
        let (window, retry_after) = refused(limits.check(&key, 1));
        assert_eq!(window, "4:60");
        assert!(retry_after > Duration::from_secs(10), "{retry_after:?}");
    }

    #[test]
    fn data_points_are_taken_n_at_a_time_and_a_batch_over_the_window_is_invalid() {
        let limits = set("100:60");
        let device = "d".to_string();
        limits.check(&device, 60).unwrap();
        limits.check(&device, 40).unwrap();
        let (_, retry_after) = refused(limits.check(&device, 1));
        assert!(retry_after > Duration::ZERO);
        assert!(matches!(limits.check(&"e".to_string(), 101), Err(ServiceError::Invalid(_))));
        limits.check(&device, 0).unwrap();
        // No windows: no limit.
        let none = set("");
        for _ in 0..10_000 {
            none.check(&device, 1_000).unwrap();
        }
    }

    #[test]
    fn idle_keys_are_swept() {
        let limits = set("1000:1");
        for i in 0..SWEEP_EVERY - 1 {
            limits.check(&format!("key-{i}"), 1).unwrap();
        }
        assert_eq!(limits.keys() as u64, SWEEP_EVERY - 1);
        // One check of 1000/s refills in a millisecond: all are idle.
        std::thread::sleep(Duration::from_millis(20));
        limits.check(&"last".to_string(), 1).unwrap();
        assert!(limits.keys() <= 1, "{}", limits.keys());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(12_001)), 13);
        assert_eq!(retry_after_secs(Duration::from_secs(12)), 12);
    }
}
