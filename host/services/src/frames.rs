//! One device's frames of a batch, in arrival order: each frame through
//! the decoder (state carried frame to frame) and validation, then every
//! transform and alarm rule **once** on all of the device's readings of the
//! batch. The effects go into the batch's group commit; nothing here writes.

use std::sync::Arc;

use nexus_model::{Device, Frame, PluginKind, Series, Stage, TimestampMs};
use nexus_storage::{DeviceSeries, Effects, StateWrite};

use crate::calls::{Call, refused_letter};
use crate::validate::{self, RejectedReading};
use crate::{Inner, Result, ServiceError};

/// What became of one frame before the commit.
pub(crate) struct FrameOutcome {
    /// Readings kept.
    pub(crate) accepted: usize,
    /// Readings refused, with reasons.
    pub(crate) rejected: Vec<RejectedReading>,
    /// Readings stored but stamped past the allowed clock skew (not latest).
    pub(crate) ahead_of_clock: usize,
    /// Why the frame failed as a whole (decoder rejection, fault, quota...).
    pub(crate) error: Option<ServiceError>,
    /// Time span of its readings, to attribute alarm transitions.
    pub(crate) span: Option<(TimestampMs, TimestampMs)>,
}

impl FrameOutcome {
    fn failed(error: ServiceError) -> Self {
        Self { accepted: 0, rejected: Vec::new(), ahead_of_clock: 0, error: Some(error), span: None }
    }
}

/// A device's frames of one batch: their effects and outcomes.
pub(crate) struct DeviceWork {
    pub(crate) effects: Effects,
    pub(crate) outcomes: Vec<FrameOutcome>,
}

/// Processes a device's frames. Errors that are not a frame's own (storage)
/// fail the whole device's work.
pub(crate) async fn process(inner: Arc<Inner>, device: Device, frames: Vec<Frame>) -> Result<DeviceWork> {
    let tenant = &device.tenant_id;
    let now = inner.now();
    let mut effects = Effects::new(tenant, now);
    let decoders = inner.device_bindings(tenant, &device.id, PluginKind::Decoder).await?;
    let Some(binding) = decoders.iter().find(|b| b.enabled) else {
        let outcomes = frames
            .into_iter()
            .map(|frame| match decoders.iter().find(|b| b.quarantine_reason.is_some()) {
                None => FrameOutcome::failed(ServiceError::NoDecoder(device.id.clone())),
                Some(binding) => {
                    let reason = binding.quarantine_reason.clone().unwrap_or_default();
                    effects.dead_letters.push(refused_letter(
                        binding,
                        &device.id,
                        Stage::Decode,
                        "binding-quarantined",
                        reason.clone(),
                        frame.payload,
                        now,
                    ));
                    FrameOutcome::failed(ServiceError::Quarantined {
                        binding_id: binding.id.clone(),
                        device_id: None,
                        reason,
                    })
                }
            })
            .collect();
        return Ok(DeviceWork { effects, outcomes });
    };
    if let Some(reason) = binding.quarantined_devices.get(&device.id) {
        let outcomes = frames
            .into_iter()
            .map(|frame| {
                effects.dead_letters.push(refused_letter(
                    binding,
                    &device.id,
                    Stage::Decode,
                    "device-quarantined",
                    reason.clone(),
                    frame.payload,
                    now,
                ));
                FrameOutcome::failed(ServiceError::Quarantined {
                    binding_id: binding.id.clone(),
                    device_id: Some(device.id.clone()),
                    reason: reason.clone(),
                })
            })
            .collect();
        return Ok(DeviceWork { effects, outcomes });
    }
    let loaded = inner.loaded(tenant, &binding.plugin_id).await?;
    // Readings stamped further ahead of the host's clock are stored but do
    // not become latest.
    let skew = i64::try_from(inner.config.max_clock_skew.as_millis()).unwrap_or(i64::MAX);
    let latest_until = now.saturating_add(skew);
    let mut outcomes = Vec::with_capacity(frames.len());
    let mut batch: Vec<Vec<Series>> = Vec::with_capacity(frames.len());
    for frame in frames {
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
            outcomes.push(FrameOutcome::failed(error));
            continue;
        }
        let ctx = inner.call_context(&loaded, binding, &device.id, frame.received_at, &effects).await?;
        let runtime = inner.runtime.clone();
        let plugin = loaded.plugin.clone();
        let frame = Arc::new(frame);
        let call_frame = frame.clone();
        let call = Call { binding, loaded: &loaded, device: &device.id, stage: Stage::Decode };
        let result = inner
            .run_call(&mut effects, call, move || runtime.decode(&plugin, ctx, &call_frame), || frame.payload.clone())
            .await?;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                outcomes.push(FrameOutcome::failed(ServiceError::from_call(error)));
                continue;
            }
        };
        let decoded = outcome.output;
        let (mut valid, mut rejected) =
            validate::series(&device.id, decoded.series, decoded.foreign, frame.received_at);
        // The profile's data point windows, before anything of the frame
        // (decoder state, readings, dead letters) joins the commit.
        let points = valid.iter().map(Series::len).sum::<usize>() + rejected.len();
        let points = u32::try_from(points).unwrap_or(u32::MAX);
        if let Err(error) = inner.check_ingest_points(tenant, &device.id, points).await {
            outcomes.push(FrameOutcome::failed(error));
            continue;
        }
        if let Some(state) = outcome.state {
            effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.id.clone(), state });
        }
        rejected.extend(inner.cap_keys(tenant, &device.id, &mut valid).await?);
        if !rejected.is_empty() {
            let reasons: Vec<String> = rejected.iter().map(|r| format!("{}@{}: {}", r.key, r.ts, r.reason)).collect();
            effects.dead_letters.push(refused_letter(
                binding,
                &device.id,
                Stage::Validate,
                "invalid-reading",
                reasons.join("; "),
                frame.payload.clone(),
                now,
            ));
        }
        let span = valid.iter().flat_map(|s| s.ts.iter().copied()).fold(None, |span: Option<(i64, i64)>, ts| {
            Some(span.map_or((ts, ts), |(lo, hi)| (lo.min(ts), hi.max(ts))))
        });
        let ahead_of_clock = valid.iter().flat_map(|s| &s.ts).filter(|&&ts| ts > latest_until).count();
        if ahead_of_clock > 0 {
            tracing::warn!(device = %device.id, readings = ahead_of_clock, skew_ms = skew,
                "Readings stamped ahead of the host's clock were stored but do not update latest.");
        }
        outcomes.push(FrameOutcome {
            accepted: valid.iter().map(Series::len).sum(),
            rejected,
            ahead_of_clock,
            error: None,
            span,
        });
        batch.push(valid);
    }
    // Transforms and rules run once on everything the device sent in this batch.
    let mut readings = nexus_model::merge_series(batch);
    let derived = inner.run_transforms(&mut effects, tenant, &device.id, &readings).await?;
    if !derived.is_empty() {
        let (mut derived, mut refused) = validate::series(&device.id, derived, Vec::new(), now);
        refused.extend(inner.cap_keys(tenant, &device.id, &mut derived).await?);
        if !refused.is_empty() {
            tracing::warn!(device = %device.id, refused = refused.len(), "A transform derived readings that were refused.");
        }
        readings = nexus_model::merge_series([readings, derived]);
    }
    inner.evaluate_rules(&mut effects, tenant, &device.id, &readings).await?;
    if !readings.is_empty() {
        effects.telemetry.push(DeviceSeries {
            device_id: device.id.clone(),
            series: readings,
            latest_until: Some(latest_until),
        });
    }
    Ok(DeviceWork { effects, outcomes })
}
