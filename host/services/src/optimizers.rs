//! Optimizer runs: on their schedule, or now. Each device's run is one unit
//! of work: its recommendations, state, metered use and failures commit
//! together.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use nexus_model::{
    AlarmFilter, Binding, BindingId, Device, DeviceId, OpenAlarm, OpenRecommendation, PluginKind, Reading, Stage,
    StoredRecommendation, TenantId, WellContext, WellpadId,
};
use nexus_storage::{Effects, NewRecommendation, StateWrite};

use crate::calls::{Call, refused_letter};
use crate::{Inner, Result, ServiceError};

/// Readings of the device an optimizer sees.
const CONTEXT_READINGS: u32 = 500;

/// Optimizer runs. Cheap to clone.
#[derive(Clone)]
pub struct OptimizerService(pub(crate) Arc<Inner>);

impl OptimizerService {
    /// Runs due optimizer bindings every `tick` until the task is dropped.
    pub async fn run_scheduler(self, tick: Duration) {
        let mut last_run: HashMap<BindingId, i64> = HashMap::new();
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let bindings = match self.0.store.enabled_bindings().await {
                Ok(bindings) => bindings,
                Err(error) => {
                    tracing::error!(%error, "Scheduler could not list bindings.");
                    continue;
                }
            };
            let now = self.0.now();
            for binding in
                bindings.into_iter().filter(|b| matches!(b.kind, PluginKind::Optimizer | PluginKind::FieldOptimizer))
            {
                let every = binding.schedule_ms.unwrap_or(60_000);
                let due = last_run.get(&binding.id).is_none_or(|last| now - last >= every);
                if !due {
                    continue;
                }
                last_run.insert(binding.id.clone(), now);
                if let Err(error) = self.run(&binding).await {
                    tracing::warn!(binding = %binding.id, %error, "Optimizer run failed.");
                }
            }
        }
    }

    /// Runs an optimizer binding now, for each of its devices; returns the
    /// recommendations stored.
    pub async fn run_now(&self, tenant: &TenantId, id: &BindingId) -> Result<Vec<StoredRecommendation>> {
        let binding = self.0.store.binding(tenant, id).await?;
        if !matches!(binding.kind, PluginKind::Optimizer | PluginKind::FieldOptimizer) {
            return Err(ServiceError::Invalid(format!(
                "binding `{id}` is not an optimizer or field-optimizer binding"
            )));
        }
        if let Some(reason) = &binding.quarantine_reason {
            return Err(ServiceError::Conflict(format!(
                "binding `{id}` is quarantined ({reason}); re-enable it before running it"
            )));
        }
        if !binding.enabled {
            return Err(ServiceError::Conflict(format!("binding `{id}` is disabled")));
        }
        self.run(&binding).await
    }

    async fn run(&self, binding: &Binding) -> Result<Vec<StoredRecommendation>> {
        if binding.kind == PluginKind::FieldOptimizer {
            return self.run_field(binding).await;
        }
        let inner = &self.0;
        let tenant = &binding.tenant_id;
        let mut binding = binding.clone();
        inner.clamp_limits(&mut binding, &inner.profile(tenant).await?);
        let binding = &binding;
        let loaded = inner.loaded(tenant, &binding.plugin_id).await?;
        let mut stored = Vec::new();
        for device_id in &binding.device_ids {
            let now = inner.now();
            let mut effects = Effects::new(tenant, now);
            let (device, _, context, recent) =
                self.well_context(binding, device_id, crate::WELL_TESTS_IN_CONTEXT).await?;
            if let Err(error) = inner.check_quota(tenant, &effects).await {
                let payload = serde_json::to_vec(&recent).unwrap_or_default();
                let letter = refused_letter(
                    binding,
                    &device.id,
                    Stage::Optimize,
                    "quota-exceeded",
                    error.to_string(),
                    payload,
                    now,
                );
                effects.dead_letters.push(letter);
                inner.commit(effects).await?;
                continue;
            }
            let ctx = inner.call_context(&loaded, binding, &device.id, now, &effects).await?;
            let runtime = inner.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_context = context.clone();
            let payload = || serde_json::to_vec(&recent).unwrap_or_default();
            let call = Call { binding, loaded: &loaded, device: &device.id, stage: Stage::Optimize };
            let run = move || runtime.optimize(&plugin, ctx, &call_context);
            if let Ok(outcome) = inner.run_call(&mut effects, call, run, payload).await? {
                if let Some(state) = outcome.state {
                    effects.states.push(StateWrite {
                        binding_id: binding.id.clone(),
                        device_id: device.id.clone(),
                        state,
                    });
                }
                // An optimizer may only recommend for the device it was run for.
                for mut recommendation in outcome.output {
                    if !recommendation.device_id.is_empty() && recommendation.device_id != device.id {
                        continue;
                    }
                    recommendation.device_id.clone_from(&device.id);
                    effects.recommendations.push(NewRecommendation {
                        binding_id: binding.id.clone(),
                        well_id: device.well_id.clone(),
                        recommendation,
                    });
                }
            }
            stored.extend(inner.commit(effects).await?.recommendations);
        }
        Ok(stored)
    }

    /// What an optimizer sees of one device's well: its recent readings,
    /// setpoints, static data, open alarms, the binding's open
    /// recommendations for it and its newest `tests` well tests; with the
    /// device, its well's wellpad and the recent readings.
    pub(crate) async fn well_context(
        &self,
        binding: &Binding,
        device_id: &DeviceId,
        tests: u32,
    ) -> Result<(Device, Option<WellpadId>, WellContext, Vec<Reading>)> {
        let inner = &self.0;
        let tenant = &binding.tenant_id;
        let device = inner.store.device(tenant, device_id).await?;
        let well = match &device.well_id {
            Some(well_id) => Some(inner.store.well(tenant, well_id).await?),
            None => None,
        };
        let recent = inner.store.recent(tenant, &device.id, CONTEXT_READINGS).await?;
        let open = AlarmFilter { device_id: Some(device.id.clone()), active: Some(true), ..AlarmFilter::default() };
        let open_alarms = inner
            .store
            .alarms(tenant, &open)
            .await?
            .into_iter()
            .map(|a| OpenAlarm { alarm_type: a.alarm_type, severity: a.severity, since: a.start_ts })
            .collect();
        let open_recommendations = inner
            .store
            .recommendations(tenant, 1000)
            .await?
            .into_iter()
            .filter(|r| r.binding_id == binding.id && r.recommendation.device_id == device.id)
            .filter(|r| r.status.is_open())
            .map(|r| OpenRecommendation {
                parameter: r.recommendation.parameter,
                proposed_value: r.recommendation.proposed_value,
                created_at: r.created_ts,
            })
            .collect();
        let well_tests = match &well {
            Some(well) => inner.store.well_tests(tenant, &well.id, tests).await?.into_iter().map(|t| t.test).collect(),
            None => Vec::new(),
        };
        let context = WellContext {
            well_id: well.as_ref().map(|w| w.id.clone()),
            device_id: device.id.clone(),
            readings: nexus_model::series_of(&recent),
            setpoints: inner.store.setpoints(tenant, &device.id).await?,
            static_data: well.as_ref().map_or_else(|| "{}".to_string(), |w| w.static_data.to_string()),
            open_alarms,
            open_recommendations,
            well_tests,
            now: inner.now(),
        };
        let wellpad = well.and_then(|w| w.wellpad_id);
        Ok((device, wellpad, context, recent))
    }
}
