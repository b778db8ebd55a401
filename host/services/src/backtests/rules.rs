//! Alarm-rule backtests: one call per stored frame, the state carried from
//! call to call, the signals applied to the version's own alarms.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nexus_model::{AlarmAction, AlarmSignal, DeviceId, Reading, Series, TenantId, TimestampMs, series_of};
use nexus_runtime::Runtime;

use super::{BacktestAlarm, Progress, Version, next_page};
use crate::reader::StoreReader;
use crate::{Inner, Result, blocking};

/// Readings read from storage at a time.
const PAGE: u32 = 10_000;

/// An alarm-rule version being replayed: its per-device state and open
/// alarms.
pub(super) struct Rule {
    version: Version,
    state: HashMap<DeviceId, BTreeMap<String, Vec<u8>>>,
    open: HashMap<(DeviceId, String), usize>,
}

impl Rule {
    fn new(version: Version) -> Self {
        Self { version, state: HashMap::new(), open: HashMap::new() }
    }

    /// One frame: the call, its state kept, its signals applied.
    fn frame(
        &mut self,
        runtime: &Runtime,
        reader: &Arc<StoreReader>,
        device: &DeviceId,
        now: TimestampMs,
        batch: &[Series],
    ) {
        let ctx = self.version.context(device, self.state.get(device), reader, now);
        let v = &mut self.version;
        v.run.calls += 1;
        match runtime.evaluate(&v.loaded.plugin, ctx, batch) {
            Ok(outcome) => {
                if let Some(state) = outcome.state {
                    self.state.insert(device.clone(), state);
                }
                for signal in outcome.output {
                    self.apply(device, now, signal);
                }
            }
            Err(failure) => v.run.fault(failure),
        }
    }

    fn apply(&mut self, device: &DeviceId, now: TimestampMs, signal: AlarmSignal) {
        if !(signal.device_id.is_empty() || &signal.device_id == device) || signal.alarm_type.is_empty() {
            return;
        }
        let alarms = &mut self.version.run.alarms;
        let key = (device.clone(), signal.alarm_type.clone());
        match (signal.action, self.open.get(&key).copied()) {
            (AlarmAction::Raise, Some(open)) => alarms[open].severity = signal.severity,
            (AlarmAction::Raise, None) => {
                self.open.insert(key, alarms.len());
                alarms.push(BacktestAlarm {
                    device_id: device.clone(),
                    alarm_type: signal.alarm_type,
                    severity: signal.severity,
                    start_ts: now,
                    end_ts: None,
                });
            }
            (AlarmAction::Clear, Some(open)) => {
                alarms[open].end_ts = Some(now);
                self.open.remove(&key);
            }
            (AlarmAction::Clear, None) => {}
        }
    }
}

/// Replays every device's stored frames through both versions, page by
/// page, then writes the result.
pub(super) async fn replay(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    progress: &Progress,
    candidate: Version,
    compared: Option<Version>,
) -> Result<()> {
    let (start, end, devices) = {
        let b = super::lock(&progress.entry);
        (b.start_ts, b.end_ts, b.device_ids.clone())
    };
    let reader = Arc::new(StoreReader::new(inner.store.clone()));
    let mut rules = (Rule::new(candidate), compared.map(Rule::new));
    for (index, device) in devices.iter().enumerate() {
        let mut from = start;
        while from < end {
            let (page, next) = next_page(inner, tenant, device, from, end, PAGE).await?;
            from = next;
            let (runtime, reader, device) = (inner.runtime.clone(), reader.clone(), device.clone());
            let (frames, readings, back) = blocking(move || {
                let frames = replay_page(&runtime, &reader, &device, &page, &mut rules);
                (frames, page.len() as u64, rules)
            })
            .await?;
            rules = back;
            let within = (from.min(end) - start) as f64 / (end - start) as f64;
            progress.report(frames, readings, (index as f64 + within) / devices.len() as f64);
        }
    }
    let (candidate, compared) = (rules.0.version.run, rules.1.map(|c| c.version.run));
    let key = |a: &BacktestAlarm| (a.device_id.clone(), a.alarm_type.clone(), a.start_ts);
    let theirs: Vec<_> = compared.iter().flat_map(|c| c.alarms.iter().map(key)).collect();
    let ours: Vec<_> = candidate.alarms.iter().map(key).collect();
    progress.finish(|b| {
        b.only_candidate = candidate.alarms.iter().filter(|a| !theirs.contains(&key(a))).cloned().collect();
        b.only_compared =
            compared.iter().flat_map(|c| c.alarms.iter()).filter(|a| !ours.contains(&key(a))).cloned().collect();
        (b.candidate, b.compared) = (Some(candidate), compared);
    });
    Ok(())
}

/// The frames of one page (readings of one device, oldest first), each
/// through both versions; returns the number of frames.
fn replay_page(
    runtime: &Runtime,
    reader: &Arc<StoreReader>,
    device: &DeviceId,
    page: &[Reading],
    (candidate, compared): &mut (Rule, Option<Rule>),
) -> u64 {
    let mut frames = 0;
    for frame in page.chunk_by(|a, b| a.ts == b.ts) {
        let batch = series_of(frame);
        let now = frame[0].ts;
        candidate.frame(runtime, reader, device, now, &batch);
        if let Some(compared) = compared {
            compared.frame(runtime, reader, device, now, &batch);
        }
        frames += 1;
    }
    frames
}
