//! Backtests: an alarm-rule version (uploaded, not yet bound) run over a
//! stored time range of devices in virtual time — the same runtime call the
//! live pipeline makes, one per stored frame, with the state carried from
//! call to call — beside the version bound to those devices now, run the
//! same way. The answer is both versions' alarms and the difference.
//!
//! A backtest runs in the background: starting one answers at once with its
//! id, and its progress and result are read back. Backtests live in memory
//! (the newest [`KEPT`] per host); they change nothing stored.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use nexus_model::{
    AlarmAction, AlarmSignal, BacktestId, Binding, BindingId, DeviceId, Limits, PluginKind, PluginRef, PluginVersionId,
    Reading, Severity, TenantId, TimestampMs, series_of,
};
use nexus_runtime::{CallContext, Runtime};
use serde::Serialize;

use crate::calls::Loaded;
use crate::reader::StoreReader;
use crate::{Inner, PluginService, Result, ServiceError, blocking};

/// Devices one backtest may cover.
pub const MAX_BACKTEST_DEVICES: usize = 100;
/// Longest range one backtest may cover: 31 days.
pub const MAX_BACKTEST_SPAN_MS: i64 = 31 * 86_400_000;
/// Backtests a host keeps (the oldest finished ones go first).
pub const KEPT: usize = 100;
/// Backtests one tenant may run at once.
pub const RUNNING_PER_TENANT: usize = 2;
/// Readings read from storage at a time.
const PAGE: u32 = 10_000;

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    /// The alarm-rule version to try.
    pub plugin_id: PluginVersionId,
    /// The devices whose stored telemetry it runs on.
    pub device_ids: Vec<DeviceId>,
    /// From (inclusive), ms.
    pub start: TimestampMs,
    /// To (exclusive), ms.
    pub end: TimestampMs,
    /// Its configuration; default: the compared binding's.
    pub config: Option<serde_json::Value>,
    /// The binding to compare with; default: the enabled binding of a
    /// version of the same plugin on the first device, if there is one.
    pub binding_id: Option<BindingId>,
}

/// An alarm a version raised in a backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestAlarm {
    /// The device.
    pub device_id: DeviceId,
    /// The alarm's type.
    pub alarm_type: String,
    /// Its severity when it was cleared, or at the end.
    pub severity: Severity,
    /// When it was raised (the frame's time).
    pub start_ts: TimestampMs,
    /// When it was cleared; none: still open at the end of the range.
    pub end_ts: Option<TimestampMs>,
}

/// One version's run.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRun {
    /// The version (tenant, name, version).
    pub plugin: PluginRef,
    /// Its binding, for the compared version.
    pub binding_id: Option<BindingId>,
    /// The alarms it raised, in order.
    pub alarms: Vec<BacktestAlarm>,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed (their frames are skipped, as live).
    pub faults: u64,
    /// The first failure's reason.
    pub first_fault: Option<String>,
}

/// A backtest's state: running with its progress, done with its result,
/// or failed with why.
#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    /// Its id.
    pub id: BacktestId,
    /// Its tenant.
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// `running`, `done` or `failed`.
    pub status: &'static str,
    /// The share of the range and devices done, 0 to 1.
    pub progress: f64,
    /// The range, ms.
    pub start_ts: TimestampMs,
    /// The range's end (exclusive), ms.
    pub end_ts: TimestampMs,
    /// The devices.
    pub device_ids: Vec<DeviceId>,
    /// Frames (stored timestamps of a device) replayed so far.
    pub frames: u64,
    /// Readings replayed so far.
    pub readings: u64,
    /// The version tried.
    pub candidate: Option<VersionRun>,
    /// The version bound now, run the same way.
    pub compared: Option<VersionRun>,
    /// Alarms only the candidate raised (by device, type and start).
    pub only_candidate: Vec<BacktestAlarm>,
    /// Alarms only the compared version raised.
    pub only_compared: Vec<BacktestAlarm>,
    /// Why it failed.
    pub error: Option<String>,
    /// Wall time so far, ms.
    pub elapsed_ms: u64,
}

/// The host's backtests, newest last.
#[derive(Default)]
pub(crate) struct Backtests(Mutex<VecDeque<Arc<Mutex<Backtest>>>>);

impl Backtests {
    fn find(&self, tenant: &TenantId, id: &BacktestId) -> Option<Arc<Mutex<Backtest>>> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().find(|b| lock(b).id == *id && lock(b).tenant_id == *tenant).cloned()
    }

    fn start(&self, backtest: Backtest) -> Result<Arc<Mutex<Backtest>>> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let running =
            all.iter().filter(|b| lock(b).tenant_id == backtest.tenant_id && lock(b).status == "running").count();
        if running >= RUNNING_PER_TENANT {
            return Err(ServiceError::Conflict(format!(
                "{running} backtests of this tenant are running; at most {RUNNING_PER_TENANT} at once"
            )));
        }
        while all.len() >= KEPT {
            match all.iter().position(|b| lock(b).status != "running") {
                Some(oldest) => drop(all.remove(oldest)),
                None => break,
            }
        }
        let entry = Arc::new(Mutex::new(backtest));
        all.push_back(entry.clone());
        Ok(entry)
    }
}

fn lock(b: &Mutex<Backtest>) -> std::sync::MutexGuard<'_, Backtest> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

/// One version being replayed: its plugin, configuration and per-device
/// state.
struct Replay {
    loaded: Loaded,
    binding_id: BindingId,
    config: String,
    limits: Limits,
    state: HashMap<DeviceId, BTreeMap<String, Vec<u8>>>,
    open: HashMap<(DeviceId, String), usize>,
    run: VersionRun,
}

impl Replay {
    fn new(loaded: Loaded, binding_id: Option<BindingId>, config: &serde_json::Value, limits: Limits) -> Self {
        let plugin = PluginRef {
            tenant_id: loaded.meta.tenant_id.clone(),
            name: loaded.meta.name.clone(),
            version: loaded.meta.version.clone(),
        };
        let run = VersionRun {
            plugin,
            binding_id: binding_id.clone(),
            alarms: Vec::new(),
            calls: 0,
            faults: 0,
            first_fault: None,
        };
        Self {
            loaded,
            // A backtest's calls are the binding's own when it compares one.
            binding_id: binding_id.unwrap_or_else(|| BindingId::new("backtest")),
            config: config.to_string(),
            limits,
            state: HashMap::new(),
            open: HashMap::new(),
            run,
        }
    }

    /// One frame: the call, its state kept, its signals applied.
    fn frame(
        &mut self,
        runtime: &Runtime,
        reader: &Arc<StoreReader>,
        device: &DeviceId,
        now: TimestampMs,
        batch: &[nexus_model::Series],
    ) {
        let ctx = CallContext {
            plugin: self.run.plugin.clone(),
            binding_id: self.binding_id.clone(),
            device_id: device.clone(),
            now,
            config: self.config.clone(),
            state: self.state.get(device).cloned().unwrap_or_default(),
            limits: self.limits,
            telemetry: reader.clone(),
        };
        self.run.calls += 1;
        match runtime.evaluate(&self.loaded.plugin, ctx, batch) {
            Ok(outcome) => {
                if let Some(state) = outcome.state {
                    self.state.insert(device.clone(), state);
                }
                for signal in outcome.output {
                    self.apply(device, now, signal);
                }
            }
            Err(failure) => {
                self.run.faults += 1;
                self.run.first_fault.get_or_insert_with(|| failure.to_string());
            }
        }
    }

    fn apply(&mut self, device: &DeviceId, now: TimestampMs, signal: AlarmSignal) {
        if !(signal.device_id.is_empty() || &signal.device_id == device) || signal.alarm_type.is_empty() {
            return;
        }
        let key = (device.clone(), signal.alarm_type.clone());
        match (signal.action, self.open.get(&key).copied()) {
            (AlarmAction::Raise, Some(open)) => self.run.alarms[open].severity = signal.severity,
            (AlarmAction::Raise, None) => {
                self.open.insert(key, self.run.alarms.len());
                self.run.alarms.push(BacktestAlarm {
                    device_id: device.clone(),
                    alarm_type: signal.alarm_type,
                    severity: signal.severity,
                    start_ts: now,
                    end_ts: None,
                });
            }
            (AlarmAction::Clear, Some(open)) => {
                self.run.alarms[open].end_ts = Some(now);
                self.open.remove(&key);
            }
            (AlarmAction::Clear, None) => {}
        }
    }
}

impl PluginService {
    /// Starts a backtest; its progress and result are read with
    /// [`PluginService::backtest`].
    pub async fn start_backtest(&self, tenant: &TenantId, request: BacktestRequest) -> Result<Backtest> {
        let BacktestRequest { plugin_id, device_ids, start, end, config, binding_id } = request;
        if device_ids.is_empty() || device_ids.len() > MAX_BACKTEST_DEVICES {
            return Err(ServiceError::Invalid(format!("device_ids: 1 to {MAX_BACKTEST_DEVICES} devices")));
        }
        // What the request names must be the tenant's (else 404) before
        // anything else about it is judged.
        let inner = &self.0;
        for device in &device_ids {
            inner.store.device(tenant, device).await?;
        }
        let candidate = inner.loaded(tenant, &plugin_id).await?;
        let named = match &binding_id {
            Some(id) => Some(inner.store.binding(tenant, id).await?),
            None => None,
        };
        if end <= start {
            return Err(ServiceError::Invalid("end_ts must be after start_ts".into()));
        }
        if end.checked_sub(start).is_none_or(|span| span > MAX_BACKTEST_SPAN_MS) {
            return Err(ServiceError::Invalid(format!(
                "a backtest covers at most {} days",
                MAX_BACKTEST_SPAN_MS / 86_400_000
            )));
        }
        if candidate.meta.kind != PluginKind::AlarmRule {
            return Err(ServiceError::Invalid(format!(
                "only alarm-rule versions can be backtested; {} is a {}",
                candidate.meta.name,
                candidate.meta.kind.as_str()
            )));
        }
        let compared = match named {
            Some(binding) if binding.kind != PluginKind::AlarmRule => {
                return Err(ServiceError::Invalid(format!("binding {} is not an alarm rule's", binding.id)));
            }
            Some(binding) => Some(binding),
            None => self.same_plugin_binding(tenant, &device_ids[0], &candidate.meta.name).await?,
        };
        let compared = match compared {
            Some(binding) => Some((inner.loaded(tenant, &binding.plugin_id).await?, binding)),
            None => None,
        };
        let config = config
            .or_else(|| compared.as_ref().map(|(_, b)| b.config.clone()))
            .unwrap_or_else(|| serde_json::json!({}));
        let limits = compared.as_ref().map_or_else(|| Limits::for_kind(PluginKind::AlarmRule), |(_, b)| b.limits);
        let candidate = Replay::new(candidate, None, &config, limits);
        let compared = compared.map(|(loaded, b)| Replay::new(loaded, Some(b.id.clone()), &b.config, b.limits));
        let backtest = Backtest {
            id: BacktestId::random(),
            tenant_id: tenant.clone(),
            status: "running",
            progress: 0.0,
            start_ts: start,
            end_ts: end,
            device_ids: device_ids.clone(),
            frames: 0,
            readings: 0,
            candidate: None,
            compared: None,
            only_candidate: Vec::new(),
            only_compared: Vec::new(),
            error: None,
            elapsed_ms: 0,
        };
        let entry = inner.backtests.start(backtest)?;
        let first = lock(&entry).clone();
        let (inner, tenant) = (inner.clone(), tenant.clone());
        tokio::spawn(async move {
            let began = std::time::Instant::now();
            let outcome = replay(&inner, &tenant, &entry, candidate, compared, began).await;
            if let Err(error) = outcome {
                let mut b = lock(&entry);
                tracing::warn!(backtest = %b.id, %error, "Backtest failed.");
                (b.status, b.error) = ("failed", Some(error.to_string()));
                b.elapsed_ms = began.elapsed().as_millis() as u64;
            }
        });
        Ok(first)
    }

    /// A backtest of the tenant's, as it stands.
    pub fn backtest(&self, tenant: &TenantId, id: &BacktestId) -> Result<Backtest> {
        let entry = self
            .0
            .backtests
            .find(tenant, id)
            .ok_or_else(|| ServiceError::NotFound { what: "backtest", id: id.to_string() })?;
        Ok(lock(&entry).clone())
    }

    /// The enabled alarm-rule binding on `device` of a version of the plugin
    /// named `name`.
    async fn same_plugin_binding(&self, tenant: &TenantId, device: &DeviceId, name: &str) -> Result<Option<Binding>> {
        let bindings = self.0.device_bindings(tenant, device, PluginKind::AlarmRule).await?;
        for binding in bindings.iter().filter(|b| b.enabled) {
            if self.0.store.plugin(tenant, &binding.plugin_id).await?.name == name {
                return Ok(Some(binding.clone()));
            }
        }
        Ok(None)
    }
}

/// Replays every device's stored frames through both versions, page by
/// page, then writes the result.
async fn replay(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    entry: &Arc<Mutex<Backtest>>,
    candidate: Replay,
    compared: Option<Replay>,
    began: std::time::Instant,
) -> Result<()> {
    let (start, end, devices) = {
        let b = lock(entry);
        (b.start_ts, b.end_ts, b.device_ids.clone())
    };
    let reader = Arc::new(StoreReader::new(inner.store.clone()));
    let mut versions = (candidate, compared);
    for (index, device) in devices.iter().enumerate() {
        let mut from = start;
        while from < end {
            let mut page = inner.store.history(tenant, device, None, from, end, PAGE).await?;
            let full = page.len() == PAGE as usize;
            let last = page.last().map(|r| r.ts);
            // A full page may end inside a frame: that frame is read again
            // with the next page, unless the page is one frame alone.
            if full && let Some(last) = last {
                if page.first().is_some_and(|r| r.ts < last) {
                    page.retain(|r| r.ts < last);
                    from = last;
                } else {
                    from = last + 1;
                }
            } else {
                from = end;
            }
            let (runtime, reader, device) = (inner.runtime.clone(), reader.clone(), device.clone());
            let (frames, readings, back) = blocking(move || {
                let frames = replay_page(&runtime, &reader, &device, &page, &mut versions);
                (frames, page.len() as u64, versions)
            })
            .await?;
            versions = back;
            let mut b = lock(entry);
            b.frames += frames;
            b.readings += readings;
            let within = if end > start { (from.min(end) - start) as f64 / (end - start) as f64 } else { 1.0 };
            b.progress = (index as f64 + within) / devices.len() as f64;
            b.elapsed_ms = began.elapsed().as_millis() as u64;
        }
    }
    let (candidate, compared) = versions;
    let (candidate, compared) = (candidate.run, compared.map(|c| c.run));
    let key = |a: &BacktestAlarm| (a.device_id.clone(), a.alarm_type.clone(), a.start_ts);
    let theirs: Vec<_> = compared.iter().flat_map(|c| c.alarms.iter().map(key)).collect();
    let ours: Vec<_> = candidate.alarms.iter().map(key).collect();
    let mut b = lock(entry);
    b.only_candidate = candidate.alarms.iter().filter(|a| !theirs.contains(&key(a))).cloned().collect();
    b.only_compared =
        compared.iter().flat_map(|c| c.alarms.iter()).filter(|a| !ours.contains(&key(a))).cloned().collect();
    (b.candidate, b.compared) = (Some(candidate), compared);
    (b.status, b.progress) = ("done", 1.0);
    b.elapsed_ms = began.elapsed().as_millis() as u64;
    Ok(())
}

/// The frames of one page (readings of one device, oldest first), each
/// through both versions; returns the number of frames.
fn replay_page(
    runtime: &Runtime,
    reader: &Arc<StoreReader>,
    device: &DeviceId,
    page: &[Reading],
    (candidate, compared): &mut (Replay, Option<Replay>),
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
