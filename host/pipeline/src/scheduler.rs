//! Runs optimizer bindings on their schedule and stores recommendations.

use std::collections::HashMap;
use std::time::Duration;

use nexus_model::{PluginKind, WellContext};
use nexus_storage::{Binding, StoredRecommendation};

use crate::{Event, Pipeline, PipelineError, Result};

/// Readings of the device an optimizer sees.
const CONTEXT_READINGS: u32 = 500;

impl Pipeline {
    /// Runs due optimizer bindings every `tick` until the task is dropped.
    pub async fn run_scheduler(self, tick: Duration) {
        let mut last_run: HashMap<String, i64> = HashMap::new();
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let bindings = match self.inner.storage.enabled_bindings().await {
                Ok(bindings) => bindings,
                Err(error) => {
                    tracing::error!(%error, "Scheduler could not list bindings.");
                    continue;
                }
            };
            let now = self.now();
            for binding in bindings.into_iter().filter(|b| b.kind == PluginKind::Optimizer) {
                let every = binding.schedule_ms.unwrap_or(60_000);
                let due = last_run.get(&binding.id).is_none_or(|last| now - last >= every);
                if !due {
                    continue;
                }
                last_run.insert(binding.id.clone(), now);
                if let Err(error) = self.run_optimizer(&binding).await {
                    tracing::warn!(binding = %binding.id, %error, "Optimizer run failed.");
                }
            }
        }
    }

    /// Runs an optimizer binding now, for each of its devices; returns the
    /// recommendations stored.
    pub async fn run_optimizer_binding(&self, tenant_id: &str, binding_id: &str) -> Result<Vec<StoredRecommendation>> {
        let binding = self
            .inner
            .storage
            .bindings(tenant_id)
            .await?
            .into_iter()
            .find(|b| b.id == binding_id)
            .ok_or_else(|| nexus_storage::StorageError::NotFound { what: "binding", id: binding_id.into() })?;
        if binding.kind != PluginKind::Optimizer {
            return Err(PipelineError::Invalid(format!("binding `{binding_id}` is not an optimizer binding")));
        }
        self.run_optimizer(&binding).await
    }

    async fn run_optimizer(&self, binding: &Binding) -> Result<Vec<StoredRecommendation>> {
        let storage = &self.inner.storage;
        let loaded = self.loaded(&binding.tenant_id, &binding.plugin_id).await?;
        let mut stored = Vec::new();
        for device_id in &binding.device_ids {
            let device = storage.device(&binding.tenant_id, device_id).await?;
            let well = match &device.well_id {
                Some(well_id) => Some(storage.well(&binding.tenant_id, well_id).await?),
                None => None,
            };
            let now = self.now();
            let context = WellContext {
                well_id: well.as_ref().map(|w| w.id.clone()).unwrap_or_default(),
                device_id: device.id.clone(),
                readings: storage.recent(&binding.tenant_id, &device.id, CONTEXT_READINGS).await?,
                setpoints: Vec::new(),
                static_data: well.as_ref().map_or_else(|| "{}".to_string(), |w| w.static_data.to_string()),
                now,
            };
            if let Err(error) = self.check_quota(&binding.tenant_id).await {
                let payload = serde_json::to_vec(&context.readings).unwrap_or_default();
                self.quota_dead_letter(&binding.tenant_id, binding, &device.id, "optimize", &error, payload).await?;
                continue;
            }
            let ctx = self.call_context(&loaded, binding, &device.id, now).await?;
            let runtime = self.inner.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_context = context.clone();
            let payload = || serde_json::to_vec(&context.readings).unwrap_or_default();
            let call = move || runtime.optimize(&plugin, ctx, &call_context);
            let Ok(outcome) = self.run_call(binding, &loaded, &device.id, "optimize", call, payload).await? else {
                continue;
            };
            if let Some(state) = &outcome.state {
                storage.save_plugin_state(&binding.id, &device.id, state).await?;
            }
            let mut recommendations = outcome.output;
            // An optimizer may only recommend for the device it was run for.
            recommendations.retain(|r| r.device_id == device.id || r.device_id.is_empty());
            for r in &mut recommendations {
                r.device_id.clone_from(&device.id);
            }
            let saved = storage
                .insert_recommendations(
                    &binding.tenant_id,
                    &binding.id,
                    device.well_id.as_deref(),
                    &recommendations,
                    now,
                )
                .await?;
            for recommendation in &saved {
                self.publish(Event::Recommendation(recommendation.clone()));
            }
            stored.extend(saved);
        }
        Ok(stored)
    }
}
