//! Frames in: decode, validate, evaluate the alarm rules, and commit the
//! frame's effects in one transaction before answering.
//!
//! Rules run before the commit, on the frame's readings as a batch; what a
//! rule reads back through `host.latest`/`host.history` is what was stored
//! before this frame. Because readings, rule state, alarm transitions and
//! their events commit together, a crash at any point leaves either all of
//! a frame or none of it: no stored reading is ever unevaluated, and no
//! rule's state runs ahead of its alarms.

use std::sync::Arc;

use nexus_model::{Binding, Device, Frame, PluginKind, Stage};
use nexus_runtime::CallError;
use nexus_storage::{Effects, StateWrite};
use serde::Serialize;

use crate::calls::{Call, refused_letter};
use crate::validate::{self, RejectedReading as Rejected};
use crate::{Inner, Result, ServiceError};

pub use crate::validate::RejectedReading;

/// What happened to a frame.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Readings stored.
    pub accepted: usize,
    /// Readings refused by validation, each with its reason.
    pub rejected: Vec<Rejected>,
    /// Alarm transitions caused.
    pub alarm_transitions: usize,
}

/// Telemetry in. Cheap to clone.
#[derive(Clone)]
pub struct IngestService(pub(crate) Arc<Inner>);

impl IngestService {
    /// Runs a device frame through the device's decoder and alarm rules and
    /// commits everything it caused; returns once it is durable.
    pub async fn ingest_frame(&self, device: &Device, frame: Frame) -> Result<IngestReport> {
        let inner = &self.0;
        let lock = inner.device_lock(&device.id);
        let _guard = lock.lock().await;
        let now = inner.now();
        let tenant = &device.tenant_id;
        let mut effects = Effects::new(tenant, now);
        let decoders = inner.store.device_bindings(tenant, &device.id, PluginKind::Decoder).await?;
        let Some(binding) = decoders.iter().find(|b| b.enabled) else {
            return Err(self.no_decoder(device, &decoders, frame, effects).await);
        };
        if let Err(error) = inner.check_quota(tenant, &effects).await {
            let letter = refused_letter(
                binding,
                &device.id,
                Stage::Decode,
                "quota-exceeded",
                error.to_string(),
                frame.payload,
                now,
            );
            effects.dead_letters.push(letter);
            inner.commit(effects).await?;
            return Err(error);
        }
        let loaded = inner.loaded(tenant, &binding.plugin_id).await?;
        let ctx = inner.call_context(&loaded, binding, &device.id, frame.received_at).await?;
        let runtime = inner.runtime.clone();
        let plugin = loaded.plugin.clone();
        let call_frame = frame.clone();
        let call = Call { binding, loaded: &loaded, device: &device.id, stage: Stage::Decode };
        let result = inner
            .run_call(&mut effects, call, move || runtime.decode(&plugin, ctx, &call_frame), || frame.payload.clone())
            .await?;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                inner.commit(effects).await?;
                return Err(match error {
                    CallError::Plugin { error, .. } => {
                        ServiceError::Rejected { code: error.code, message: error.message }
                    }
                    fault => ServiceError::fault(&fault),
                });
            }
        };
        if let Some(state) = outcome.state {
            effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.id.clone(), state });
        }
        let decoded = outcome.output;
        let (mut valid, mut rejected) =
            validate::series(&device.id, decoded.series, decoded.foreign, frame.received_at);
        let derived = inner.run_transforms(&mut effects, tenant, &device.id, &valid).await?;
        if !derived.is_empty() {
            let (derived, refused) = validate::series(&device.id, derived, Vec::new(), frame.received_at);
            valid.extend(derived);
            rejected.extend(refused);
        }
        if !rejected.is_empty() {
            let reasons = rejected.iter().map(|r| format!("{}@{}: {}", r.key, r.ts, r.reason)).collect::<Vec<_>>();
            let letter = refused_letter(
                binding,
                &device.id,
                Stage::Validate,
                "invalid-reading",
                reasons.join("; "),
                frame.payload.clone(),
                now,
            );
            effects.dead_letters.push(letter);
        }
        inner.evaluate_rules(&mut effects, tenant, &device.id, &valid).await?;
        effects.readings = valid.iter().flat_map(|s| s.readings(&device.id)).collect();
        let accepted = effects.readings.len();
        let committed = inner.commit(effects).await?;
        let alarm_transitions = committed.transitions.iter().filter(|t| t.action.is_event()).count();
        Ok(IngestReport { accepted, rejected, alarm_transitions })
    }

    /// A device without a running decoder: if the breaker quarantined it,
    /// keep the frame as a dead letter and say so.
    async fn no_decoder(
        &self,
        device: &Device,
        decoders: &[Binding],
        frame: Frame,
        mut effects: Effects,
    ) -> ServiceError {
        let Some(binding) = decoders.iter().find(|b| b.quarantine_reason.is_some()) else {
            return ServiceError::NoDecoder(device.id.clone());
        };
        let reason = binding.quarantine_reason.clone().unwrap_or_default();
        let letter = refused_letter(
            binding,
            &device.id,
            Stage::Decode,
            "binding-quarantined",
            reason.clone(),
            frame.payload,
            effects.now,
        );
        effects.dead_letters.push(letter);
        if let Err(error) = self.0.commit(effects).await {
            return error;
        }
        ServiceError::Quarantined { binding_id: binding.id.clone(), reason }
    }
}
