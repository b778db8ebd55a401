//! Frames in: decode, validate, store, then evaluate alarm rules.

use nexus_model::{AlarmSignal, Frame, PluginKind, Reading, TimestampMs, Value};
use nexus_runtime::CallError;
use nexus_storage::Device;
use serde::Serialize;

use crate::{Event, Pipeline, PipelineError, Result};

/// What happened to a frame.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Readings stored.
    pub accepted: usize,
    /// Readings refused by validation, each with its reason.
    pub rejected: Vec<RejectedReading>,
    /// Alarm transitions caused.
    pub alarm_transitions: usize,
}

/// A reading refused by validation.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedReading {
    /// Its key.
    pub key: String,
    /// Its timestamp.
    pub ts: TimestampMs,
    /// Why.
    pub reason: String,
}

/// How far in the future a reading may be stamped.
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
/// Longest key and text value accepted.
const MAX_KEY_LEN: usize = 255;
const MAX_TEXT_LEN: usize = 64 << 10;

impl Pipeline {
    /// Runs a device frame through the device's decoder, stores the valid
    /// readings (durably, before returning) and evaluates the alarm rules
    /// bound to the device.
    pub async fn ingest_frame(&self, device: &Device, frame: Frame) -> Result<IngestReport> {
        let lock = self.device_lock(&device.id);
        let _guard = lock.lock().await;
        let storage = &self.inner.storage;
        let decoders = storage.bindings_for_device(&device.tenant_id, &device.id, PluginKind::Decoder).await?;
        let Some(binding) = decoders.first() else {
            return Err(self.no_decoder(device, frame).await?);
        };
        if let Err(error) = self.check_quota(&device.tenant_id).await {
            self.quota_dead_letter(&device.tenant_id, binding, &device.id, "decode", &error, frame.payload).await?;
            return Err(error);
        }
        let loaded = self.loaded(&device.tenant_id, &binding.plugin_id).await?;
        let ctx = self.call_context(&loaded, binding, &device.id, frame.received_at).await?;
        let runtime = self.inner.runtime.clone();
        let plugin = loaded.plugin.clone();
        let call_frame = frame.clone();
        let payload = || frame.payload.clone();
        let result = self
            .run_call(
                binding,
                &loaded,
                &device.id,
                "decode",
                move || runtime.decode(&plugin, ctx, &call_frame),
                payload,
            )
            .await?;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                return Err(match error {
                    CallError::Plugin { error, .. } => {
                        PipelineError::Rejected { code: error.code, message: error.message }
                    }
                    fault => PipelineError::Fault(fault),
                });
            }
        };
        if let Some(state) = &outcome.state {
            storage.save_plugin_state(&binding.id, &device.id, state).await?;
        }
        let (valid, rejected) = validate(&device.id, outcome.output, frame.received_at);
        if !rejected.is_empty() {
            storage
                .insert_dead_letter(&nexus_storage::DeadLetter {
                    tenant_id: device.tenant_id.clone(),
                    binding_id: Some(binding.id.clone()),
                    device_id: Some(device.id.clone()),
                    stage: "validate".into(),
                    error_code: "invalid-reading".into(),
                    error: rejected
                        .iter()
                        .map(|r| format!("{}@{}: {}", r.key, r.ts, r.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                    payload: frame.payload,
                    ts: nexus_model::now_ms(),
                })
                .await?;
        }
        storage.insert_readings(&device.tenant_id, &valid).await?;
        let alarm_transitions = self.evaluate_rules(&device.tenant_id, &device.id, &valid).await?;
        Ok(IngestReport { accepted: valid.len(), rejected, alarm_transitions })
    }

    /// Runs every alarm rule bound to a device on a batch of its readings
    /// and applies their signals. A failing rule is recorded and its batch
    /// kept as a dead letter; the other rules still run.
    pub async fn evaluate_rules(&self, tenant_id: &str, device_id: &str, readings: &[Reading]) -> Result<usize> {
        if readings.is_empty() {
            return Ok(0);
        }
        let storage = &self.inner.storage;
        let batch = std::sync::Arc::new(readings.to_vec());
        let mut transitions = 0;
        for binding in storage.bindings_for_device(tenant_id, device_id, PluginKind::AlarmRule).await? {
            if let Err(error) = self.check_quota(tenant_id).await {
                let payload = serde_json::to_vec(&*batch).unwrap_or_default();
                self.quota_dead_letter(tenant_id, &binding, device_id, "evaluate", &error, payload).await?;
                continue;
            }
            let loaded = self.loaded(tenant_id, &binding.plugin_id).await?;
            let ctx = self.call_context(&loaded, &binding, device_id, self.now()).await?;
            let runtime = self.inner.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_batch = batch.clone();
            let payload = || serde_json::to_vec(&*batch).unwrap_or_default();
            let call = move || runtime.evaluate(&plugin, ctx, &call_batch);
            let Ok(outcome) = self.run_call(&binding, &loaded, device_id, "evaluate", call, payload).await? else {
                continue;
            };
            let actor = Self::actor(&binding, &loaded);
            if let Some(state) = &outcome.state {
                storage.save_plugin_state(&binding.id, device_id, state).await?;
            }
            for mut signal in outcome.output {
                if signal.device_id.is_empty() {
                    signal.device_id = device_id.to_string();
                }
                if !signal_is_valid(&signal, device_id) {
                    tracing::warn!(binding = %binding.id, device = device_id, signal_device = %signal.device_id, alarm_type = %signal.alarm_type, "Ignoring an alarm signal for another device or without a type.");
                    continue;
                }
                let transition =
                    storage.apply_alarm_signal(tenant_id, &binding.id, &actor, binding.propagate, &signal).await?;
                if let Some(transition) = transition.filter(|t| t.action != "UPDATED") {
                    transitions += 1;
                    self.publish(Event::Alarm(transition));
                }
            }
        }
        Ok(transitions)
    }
}

impl Pipeline {
    /// Keeps input that was not processed because the tenant's quota ran out.
    pub(crate) async fn quota_dead_letter(
        &self,
        tenant_id: &str,
        binding: &nexus_storage::Binding,
        device_id: &str,
        stage: &str,
        error: &PipelineError,
        payload: Vec<u8>,
    ) -> Result<()> {
        self.inner
            .storage
            .insert_dead_letter(&nexus_storage::DeadLetter {
                tenant_id: tenant_id.into(),
                binding_id: Some(binding.id.clone()),
                device_id: Some(device_id.into()),
                stage: stage.into(),
                error_code: "quota-exceeded".into(),
                error: error.to_string(),
                payload,
                ts: nexus_model::now_ms(),
            })
            .await?;
        Ok(())
    }

    /// A device without a running decoder: if the breaker quarantined it,
    /// keep the frame as a dead letter and say so.
    async fn no_decoder(&self, device: &Device, frame: Frame) -> Result<PipelineError> {
        let storage = &self.inner.storage;
        let quarantined =
            storage.quarantined_bindings_for_device(&device.tenant_id, &device.id, PluginKind::Decoder).await?;
        let Some(binding) = quarantined.into_iter().next() else {
            return Ok(PipelineError::NoDecoder(device.id.clone()));
        };
        let reason = binding.quarantine_reason.unwrap_or_default();
        storage
            .insert_dead_letter(&nexus_storage::DeadLetter {
                tenant_id: device.tenant_id.clone(),
                binding_id: Some(binding.id.clone()),
                device_id: Some(device.id.clone()),
                stage: "decode".into(),
                error_code: "binding-quarantined".into(),
                error: reason.clone(),
                payload: frame.payload,
                ts: nexus_model::now_ms(),
            })
            .await?;
        Ok(PipelineError::Quarantined { binding_id: binding.id, reason })
    }
}

/// A rule may only signal about the device whose readings it was given.
fn signal_is_valid(signal: &AlarmSignal, device_id: &str) -> bool {
    signal.device_id == device_id && !signal.alarm_type.is_empty() && signal.alarm_type.len() <= MAX_KEY_LEN
}

/// Splits decoded readings into valid ones and rejected ones with reasons.
fn validate(device_id: &str, readings: Vec<Reading>, now: TimestampMs) -> (Vec<Reading>, Vec<RejectedReading>) {
    let mut valid = Vec::with_capacity(readings.len());
    let mut rejected = Vec::new();
    for reading in readings {
        let reason = if reading.device_id != device_id {
            Some(format!("names device `{}`, but the frame came from `{device_id}`", reading.device_id))
        } else if reading.key.is_empty() || reading.key.len() > MAX_KEY_LEN {
            Some(format!("key must be 1 to {MAX_KEY_LEN} bytes"))
        } else if !(0.0..=1.0).contains(&reading.quality) {
            Some(format!("quality {} is outside 0..1", reading.quality))
        } else if reading.ts <= 0 {
            Some("timestamp must be positive ms since the Unix epoch".to_string())
        } else if reading.ts > now + MAX_FUTURE_MS {
            Some("timestamp is more than a day in the future".to_string())
        } else {
            match &reading.value {
                Value::Number(n) if !n.is_finite() => Some("value is not a finite number".to_string()),
                Value::Text(t) if t.len() > MAX_TEXT_LEN => Some(format!("text value over {MAX_TEXT_LEN} bytes")),
                _ => None,
            }
        };
        match reason {
            Some(reason) => rejected.push(RejectedReading { key: reading.key, ts: reading.ts, reason }),
            None => valid.push(reading),
        }
    }
    (valid, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(device: &str, key: &str, ts: i64, value: Value, quality: f32) -> Reading {
        Reading { device_id: device.into(), key: key.into(), ts, value, quality }
    }

    #[test]
    fn validation_gives_a_reason_for_every_rejected_reading() {
        let now = 1_700_000_000_000;
        let (valid, rejected) = validate(
            "d1",
            vec![
                reading("d1", "ok", now, Value::Number(1.0), 1.0),
                reading("d2", "other", now, Value::Number(1.0), 1.0),
                reading("d1", "", now, Value::Number(1.0), 1.0),
                reading("d1", "q", now, Value::Number(1.0), 1.5),
                reading("d1", "nan", now, Value::Number(f64::NAN), 1.0),
                reading("d1", "future", now + 2 * MAX_FUTURE_MS, Value::Integer(1), 1.0),
                reading("d1", "zero", 0, Value::Boolean(true), 1.0),
            ],
            now,
        );
        assert_eq!(valid.len(), 1);
        assert_eq!(rejected.len(), 6);
        assert!(rejected.iter().all(|r| !r.reason.is_empty()));
    }
}
