//! Alarm rules on a device's batch of readings: each bound rule runs once
//! on the batch; its new state and signals join the unit of work.

use std::sync::Arc;

use nexus_model::{DeviceId, PluginKind, RolloutMode, Series, Stage, TenantId};
use nexus_storage::{Effects, StateWrite};

use crate::calls::{Call, refused_letter};
use crate::{Inner, Result};

impl Inner {
    /// Runs every enabled transform bound to a device on a batch of its
    /// readings; returns the telemetry they derived (validated by the
    /// caller). A failing transform is recorded like a failing rule.
    pub(crate) async fn run_transforms(
        &self,
        effects: &mut Effects,
        tenant: &TenantId,
        device: &DeviceId,
        batch: &[Series],
    ) -> Result<Vec<Series>> {
        let mut derived = Vec::new();
        if batch.is_empty() {
            return Ok(derived);
        }
        let bindings = self.device_bindings(tenant, device, PluginKind::Transform).await?;
        let batch = Arc::new(batch.to_vec());
        for binding in bindings.iter().filter(|b| b.enabled) {
            if let Some((code, reason)) = self.refusal(binding, device, effects).await {
                let payload = serde_json::to_vec(&*batch).unwrap_or_default();
                let letter = refused_letter(binding, device, Stage::Transform, code, reason, payload, effects.now);
                effects.dead_letters.push(letter);
                continue;
            }
            let loaded = self.loaded(tenant, &binding.plugin_id).await?;
            let ctx = self.call_context(&loaded, binding, device, self.now(), effects).await?;
            let runtime = self.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_batch = batch.clone();
            let payload = || serde_json::to_vec(&*batch).unwrap_or_default();
            let call = Call { binding, loaded: &loaded, device, stage: Stage::Transform };
            let run = move || runtime.transform(&plugin, ctx, &call_batch);
            let Ok(outcome) = self.run_call(effects, call, run, payload).await? else {
                continue;
            };
            if let Some(state) = outcome.state {
                effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.clone(), state });
            }
            derived.extend(outcome.output);
        }
        Ok(derived)
    }

    /// Runs every enabled alarm rule bound to a device on a batch of its
    /// readings, adding their state and signals to `effects`. A failing rule
    /// is recorded and its batch kept as a dead letter; the other rules
    /// still run. A binding's rollout decides which version evaluates the
    /// batch (see [`crate::rollouts`]).
    pub(crate) async fn evaluate_rules(
        &self,
        effects: &mut Effects,
        tenant: &TenantId,
        device: &DeviceId,
        batch: &[Series],
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let batch = Arc::new(batch.to_vec());
        let bindings = self.device_bindings(tenant, device, PluginKind::AlarmRule).await?;
        for binding in bindings.iter().filter(|b| b.enabled) {
            if let Some((code, reason)) = self.refusal(binding, device, effects).await {
                let payload = serde_json::to_vec(&*batch).unwrap_or_default();
                let letter = refused_letter(binding, device, Stage::Evaluate, code, reason, payload, effects.now);
                effects.dead_letters.push(letter);
                continue;
            }
            let rollout = self.rollout_of(binding, device);
            if let Some((rollout, true)) = rollout
                && self.canary_evaluate(effects, binding, rollout, device, &batch).await?
            {
                continue;
            }
            let loaded = self.loaded(tenant, &binding.plugin_id).await?;
            let ctx = self.call_context(&loaded, binding, device, self.now(), effects).await?;
            // A shadow starts from the state this batch starts from.
            let shadow = rollout.filter(|(r, _)| r.mode == RolloutMode::Shadow).map(|(r, _)| (r, ctx.state.clone()));
            let runtime = self.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_batch = batch.clone();
            let payload = || serde_json::to_vec(&*batch).unwrap_or_default();
            let call = Call { binding, loaded: &loaded, device, stage: Stage::Evaluate };
            let run = move || runtime.evaluate(&plugin, ctx, &call_batch);
            let Ok(outcome) = self.run_call(effects, call, run, payload).await? else {
                continue;
            };
            if let Some(state) = outcome.state {
                effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.clone(), state });
            }
            let applied = self.add_signals(effects, binding, &loaded, device, outcome.output);
            if let Some((rollout, seed)) = shadow {
                self.shadow_evaluate(effects, binding, rollout, device, &batch, &applied, seed).await?;
            }
        }
        Ok(())
    }
}
