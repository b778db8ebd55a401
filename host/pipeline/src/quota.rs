//! Tenant plans: monthly caps on executions and fuel, checked before each
//! plugin call and metered after it, and the plan's limit ceilings.

use nexus_model::{Limits, PluginKind, TenantPlan, Usage, month_of};

use crate::{Pipeline, PipelineError, Result};

/// A tenant's plan and this month's use, cached.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    plan: TenantPlan,
    usage: Usage,
}

impl Pipeline {
    async fn account(&self, tenant_id: &str) -> Result<Account> {
        let month = month_of(nexus_model::now_ms());
        let cached = self.inner.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(tenant_id).cloned();
        if let Some(account) = cached.filter(|a| a.usage.month == month) {
            return Ok(account);
        }
        let storage = &self.inner.storage;
        let account =
            Account { plan: storage.tenant_plan(tenant_id).await?, usage: storage.usage(tenant_id, &month).await? };
        self.inner.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant_id.to_string(), account.clone());
        Ok(account)
    }

    /// Fails with [`PipelineError::QuotaExceeded`] when the tenant has used
    /// up its plan for this month.
    pub(crate) async fn check_quota(&self, tenant_id: &str) -> Result<()> {
        let Account { plan, usage } = self.account(tenant_id).await?;
        let exceeded = |what: &'static str, used: u64, limit: Option<u64>| match limit {
            Some(limit) if used >= limit => Err(PipelineError::QuotaExceeded {
                tenant_id: tenant_id.into(),
                what,
                used,
                limit,
                month: usage.month.clone(),
            }),
            _ => Ok(()),
        };
        exceeded("executions", usage.executions, plan.max_executions_per_month)?;
        exceeded("fuel", usage.fuel, plan.max_fuel_per_month)
    }

    /// Counts one call and its fuel against the tenant's month.
    pub(crate) async fn meter_usage(&self, tenant_id: &str, fuel: u64) -> Result<()> {
        let month = month_of(nexus_model::now_ms());
        self.inner.storage.add_usage(tenant_id, &month, 1, fuel).await?;
        let mut accounts = self.inner.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(account) = accounts.get_mut(tenant_id).filter(|a| a.usage.month == month) {
            account.usage.executions += 1;
            account.usage.fuel += fuel;
        }
        Ok(())
    }

    /// The tenant's plan.
    pub async fn plan(&self, tenant_id: &str) -> Result<TenantPlan> {
        Ok(self.account(tenant_id).await?.plan)
    }

    /// The tenant's use this month.
    pub async fn usage(&self, tenant_id: &str) -> Result<Usage> {
        Ok(self.account(tenant_id).await?.usage)
    }

    /// Sets the tenant's plan after checking its limit overrides.
    pub async fn set_plan(&self, tenant_id: &str, plan: TenantPlan) -> Result<TenantPlan> {
        for kind in [PluginKind::Decoder, PluginKind::AlarmRule, PluginKind::Optimizer] {
            merge_limits(kind, plan.limits.as_ref(), None)?;
        }
        self.inner.storage.set_tenant_plan(tenant_id, &plan).await?;
        self.inner.accounts.lock().unwrap_or_else(|e| e.into_inner()).remove(tenant_id);
        Ok(plan)
    }
}

fn apply(base: Limits, overrides: &serde_json::Map<String, serde_json::Value>, what: &str) -> Result<Limits> {
    let mut merged = serde_json::to_value(base).map_err(|e| PipelineError::Internal(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut merged {
        map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let limits: Limits = serde_json::from_value(merged).map_err(|e| PipelineError::Invalid(format!("{what}: {e}")))?;
    if limits.memory_bytes == 0 || limits.deadline_ms == 0 || limits.max_output == 0 {
        return Err(PipelineError::Invalid(format!(
            "{what}: memory_bytes, deadline_ms and max_output must be positive"
        )));
    }
    Ok(limits)
}

/// The kind's defaults, with the plan's overrides, then the binding's; a
/// binding may lower what the plan sets but not raise it.
pub(crate) fn merge_limits(
    kind: PluginKind,
    plan: Option<&serde_json::Map<String, serde_json::Value>>,
    binding: Option<&serde_json::Value>,
) -> Result<Limits> {
    let empty = serde_json::Map::new();
    let ceiling = apply(Limits::for_kind(kind), plan.unwrap_or(&empty), "plan limits")?;
    let Some(binding) = binding else { return Ok(ceiling) };
    let serde_json::Value::Object(overrides) = binding else {
        return Err(PipelineError::Invalid("limits must be a JSON object".into()));
    };
    let limits = apply(ceiling, overrides, "limits")?;
    let plan_value = serde_json::to_value(ceiling).unwrap_or_default();
    let binding_value = serde_json::to_value(limits).unwrap_or_default();
    for key in plan.map(|p| p.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
        let (Some(cap), Some(asked)) = (plan_value[&key].as_f64(), binding_value[&key].as_f64()) else { continue };
        if asked > cap {
            return Err(PipelineError::Invalid(format!("limits: {key} = {asked} exceeds the tenant plan's {cap}")));
        }
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_override_defaults_within_the_plan() {
        let limits = merge_limits(PluginKind::Optimizer, None, Some(&serde_json::json!({"deadline_ms": 20}))).unwrap();
        assert_eq!((limits.deadline_ms, limits.memory_bytes), (20, 128 << 20));
        assert!(merge_limits(PluginKind::Decoder, None, Some(&serde_json::json!({"nope": 1}))).is_err());
        assert!(merge_limits(PluginKind::Decoder, None, Some(&serde_json::json!({"deadline_ms": 0}))).is_err());
        let plan = serde_json::json!({"memory_bytes": 8_388_608});
        let plan = plan.as_object();
        assert_eq!(merge_limits(PluginKind::AlarmRule, plan, None).unwrap().memory_bytes, 8 << 20);
        let lower = serde_json::json!({"memory_bytes": 4_194_304});
        assert_eq!(merge_limits(PluginKind::AlarmRule, plan, Some(&lower)).unwrap().memory_bytes, 4 << 20);
        let higher = serde_json::json!({"memory_bytes": 33_554_432});
        assert!(merge_limits(PluginKind::AlarmRule, plan, Some(&higher)).is_err());
    }
}
