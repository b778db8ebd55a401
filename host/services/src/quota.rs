//! Tenant profiles: monthly caps on executions and fuel, checked before each
//! plugin call (counting the calls of the unit of work not yet committed)
//! and metered in the same commit; and the profile's limit ceilings.

use nexus_model::{Actor, Limits, PluginKind, TenantId, TenantProfile, Usage, month_of};
use nexus_storage::Effects;

use crate::{Inner, Result, ServiceError};

/// A tenant's profile and this month's committed use, cached.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    profile: TenantProfile,
    usage: Usage,
}

impl Inner {
    async fn account(&self, tenant: &TenantId) -> Result<Account> {
        let month = month_of(self.now());
        let cached = self.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(tenant).cloned();
        if let Some(account) = cached.filter(|a| a.usage.month == month) {
            return Ok(account);
        }
        let account = Account {
            profile: self.store.tenant_profile(tenant).await?,
            usage: self.store.usage(tenant, &month).await?,
        };
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant.clone(), account.clone());
        Ok(account)
    }

    /// Fails with [`ServiceError::QuotaExceeded`] when one more call would
    /// go over the tenant's profile, counting the calls already in `pending`.
    pub(crate) async fn check_quota(&self, tenant: &TenantId, pending: &Effects) -> Result<()> {
        let Account { profile, usage } = self.account(tenant).await?;
        let (calls, fuel) = pending.usage.as_ref().map_or((0, 0), |u| (u.executions, u.fuel));
        let exceeded = |what: &'static str, used: u64, limit: Option<u64>| match limit {
            Some(limit) if used >= limit => Err(ServiceError::QuotaExceeded {
                tenant_id: tenant.clone(),
                what,
                used,
                limit,
                month: usage.month.clone(),
            }),
            _ => Ok(()),
        };
        exceeded("executions", usage.executions + calls, profile.max_executions_per_month)?;
        exceeded("fuel", usage.fuel.saturating_add(fuel), profile.max_fuel_per_month)
    }

    /// Adds committed use to the cached account.
    pub(crate) fn metered(&self, tenant: &TenantId, effects: &Effects) {
        let Some(delta) = &effects.usage else { return };
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(account) = accounts.get_mut(tenant).filter(|a| a.usage.month == delta.month) {
            account.usage.executions += delta.executions;
            account.usage.fuel = account.usage.fuel.saturating_add(delta.fuel);
        }
    }

    /// The tenant's profile.
    pub(crate) async fn profile(&self, tenant: &TenantId) -> Result<TenantProfile> {
        Ok(self.account(tenant).await?.profile)
    }

    /// The tenant's use this month.
    pub(crate) async fn usage(&self, tenant: &TenantId) -> Result<Usage> {
        Ok(self.account(tenant).await?.usage)
    }

    /// Sets the tenant's profile after checking its limit overrides.
    pub(crate) async fn set_profile(
        &self,
        tenant: &TenantId,
        profile: TenantProfile,
        actor: &Actor,
    ) -> Result<TenantProfile> {
        for kind in PluginKind::ALL {
            merge_limits(kind, profile.limits.as_ref(), None, &self.config.limit_ceilings)?;
        }
        for (limit, asked, cap) in [
            ("max_concurrent_calls", profile.max_concurrent_calls, MAX_CALL_SHARE),
            ("max_keys_per_device", profile.max_keys_per_device, MAX_KEYS_PER_DEVICE),
            ("telemetry_retention_days", profile.telemetry_retention_days, MAX_RETENTION_DAYS),
        ] {
            match asked {
                Some(0) => return Err(ServiceError::Invalid(format!("{limit} must be positive"))),
                Some(n) if n > cap => {
                    let (asked, cap) = (Some(u64::from(n)), Some(u64::from(cap)));
                    return Err(ServiceError::AboveCeiling { limit, asked, cap, of: "the system ceiling" });
                }
                _ => {}
            }
        }
        match profile.max_component_bytes {
            Some(0) => return Err(ServiceError::Invalid("max_component_bytes must be positive".into())),
            Some(n) if n > crate::plugins::MAX_COMPONENT_BYTES_CEILING as u64 => {
                let (asked, cap) = (Some(n), Some(crate::plugins::MAX_COMPONENT_BYTES_CEILING as u64));
                return Err(ServiceError::AboveCeiling {
                    limit: "max_component_bytes",
                    asked,
                    cap,
                    of: "the system ceiling",
                });
            }
            _ => {}
        }
        self.store.set_tenant_profile(tenant, &profile, actor, self.now()).await?;
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).remove(tenant);
        self.shares.lock().unwrap_or_else(|e| e.into_inner()).remove(tenant);
        self.caches.forget_bindings(tenant);
        Ok(profile)
    }
}

/// Most concurrent plugin calls a profile may give a tenant.
pub(crate) const MAX_CALL_SHARE: u32 = 64;
/// Longest telemetry retention a profile may set, days (100 years).
pub(crate) const MAX_RETENTION_DAYS: u32 = 36_500;
/// Most distinct telemetry keys per device a profile may allow.
pub(crate) const MAX_KEYS_PER_DEVICE: u32 = 100_000;

fn apply(base: Limits, overrides: &serde_json::Map<String, serde_json::Value>, what: &str) -> Result<Limits> {
    let mut merged = serde_json::to_value(base).map_err(|e| ServiceError::Internal(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut merged {
        map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let limits: Limits = serde_json::from_value(merged).map_err(|e| ServiceError::Invalid(format!("{what}: {e}")))?;
    if limits.memory_bytes == 0 || limits.deadline_ms == 0 || limits.max_output == 0 {
        return Err(ServiceError::Invalid(format!(
            "{what}: memory_bytes, deadline_ms and max_output must be positive"
        )));
    }
    Ok(limits)
}

/// The limits of a binding: the kind's defaults, with the profile's
/// overrides, then the binding's. The profile's result may not go above the
/// system ceilings; a binding may lower what caps it — its profile, or the
/// kind's defaults when there is no profile — but not raise it. A limit above
/// its cap is refused with [`ServiceError::AboveCeiling`] naming it.
pub(crate) fn merge_limits(
    kind: PluginKind,
    profile: Option<&serde_json::Map<String, serde_json::Value>>,
    binding: Option<&serde_json::Value>,
    ceilings: &Limits,
) -> Result<Limits> {
    let empty = serde_json::Map::new();
    let cap = apply(Limits::for_kind(kind), profile.unwrap_or(&empty), "profile limits")?;
    above(&cap, ceilings, "the system ceiling")?;
    let Some(binding) = binding else { return Ok(cap) };
    let serde_json::Value::Object(overrides) = binding else {
        return Err(ServiceError::Invalid("limits must be a JSON object".into()));
    };
    let limits = apply(cap, overrides, "limits")?;
    // `cap` is under the ceilings, so a binding under `cap` is too.
    above(&limits, &cap, if profile.is_some() { "the tenant profile" } else { "the plugin kind's default" })?;
    Ok(limits)
}

fn above(limits: &Limits, cap: &Limits, of: &'static str) -> Result<()> {
    match limits.first_above(cap) {
        Some((limit, asked, cap)) => Err(ServiceError::AboveCeiling { limit, asked, cap, of }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(
        kind: PluginKind,
        profile: Option<&serde_json::Map<String, serde_json::Value>>,
        binding: Option<&serde_json::Value>,
    ) -> Result<Limits> {
        merge_limits(kind, profile, binding, &Limits::system_ceilings())
    }

    #[test]
    fn no_plan_caps_a_binding_at_the_kind_defaults_and_plans_stay_under_the_ceilings() {
        let raised = serde_json::json!({"deadline_ms": 600_000, "memory_bytes": 268_435_456});
        let error = merge(PluginKind::AlarmRule, None, Some(&raised)).unwrap_err();
        assert!(
            matches!(error, ServiceError::AboveCeiling { limit: "memory_bytes", cap: Some(16_777_216), .. }),
            "{error}"
        );
        assert!(error.to_string().contains("the plugin kind's default"), "{error}");
        let profile = serde_json::json!({"deadline_ms": 600_000});
        let error = merge(PluginKind::AlarmRule, profile.as_object(), None).unwrap_err();
        assert!(matches!(error, ServiceError::AboveCeiling { limit: "deadline_ms", of: "the system ceiling", .. }));
        let profile = serde_json::json!({"fuel": 1_000_000});
        let error =
            merge(PluginKind::AlarmRule, profile.as_object(), Some(&serde_json::json!({"fuel": null}))).unwrap_err();
        assert!(matches!(error, ServiceError::AboveCeiling { limit: "fuel", asked: None, .. }), "{error}");
    }

    #[test]
    fn bindings_override_defaults_within_the_plan() {
        let limits = merge(PluginKind::Optimizer, None, Some(&serde_json::json!({"deadline_ms": 20}))).unwrap();
        assert_eq!((limits.deadline_ms, limits.memory_bytes), (20, 128 << 20));
        assert!(merge(PluginKind::Decoder, None, Some(&serde_json::json!({"nope": 1}))).is_err());
        assert!(merge(PluginKind::Decoder, None, Some(&serde_json::json!({"deadline_ms": 0}))).is_err());
        let profile = serde_json::json!({"memory_bytes": 8_388_608});
        let profile = profile.as_object();
        assert_eq!(merge(PluginKind::AlarmRule, profile, None).unwrap().memory_bytes, 8 << 20);
        let lower = serde_json::json!({"memory_bytes": 4_194_304});
        assert_eq!(merge(PluginKind::AlarmRule, profile, Some(&lower)).unwrap().memory_bytes, 4 << 20);
        let higher = serde_json::json!({"memory_bytes": 33_554_432});
        assert!(merge(PluginKind::AlarmRule, profile, Some(&higher)).is_err());
    }
}
