//! Backtests: an alarm-rule, optimizer or field-optimizer version
//! (uploaded, not yet bound) run over a stored time range of devices in
//! virtual time — the same runtime calls the live host makes — beside the
//! version bound to those devices now, run the same way. The answer is both
//! versions' output and the difference.
//!
//! - An **alarm rule** is called once per stored frame, its state carried
//!   from call to call ([`rules`]); the answer is the alarms each version
//!   raised and those only one of them raised.
//! - An **optimizer** is called every `every_ms` of virtual time with the
//!   well as it stood then, a **field optimizer** with each wellpad's wells
//!   ([`optimizers`], [`well`]); the answer is the recommendations each
//!   version made, the steps where they differ, and what the bound version
//!   actually recommended in the range.
//!
//! A call's telemetry reads (`host.latest`, `host.history`,
//! `host.latest-forecast`) see nothing stamped after its virtual time.
//! A backtest runs in the background: starting one answers at once with its
//! id, and its progress and result are read back. Backtests live in memory
//! (the newest [`KEPT`] per host); they change nothing stored.

mod optimizers;
mod rules;
mod well;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use nexus_model::{
    BacktestId, Binding, BindingId, DeviceId, Limits, PluginKind, PluginRef, PluginVersionId, Reading, Recommendation,
    Severity, TenantId, TimestampMs,
};
use serde::Serialize;

use nexus_runtime::CallContext;

use crate::calls::Loaded;
use crate::reader::{AsOf, StoreReader};
use crate::{Inner, PluginService, Result, ServiceError};

/// Devices one backtest may cover.
pub const MAX_BACKTEST_DEVICES: usize = 100;
/// Longest range one backtest may cover: 31 days.
pub const MAX_BACKTEST_SPAN_MS: i64 = 31 * 86_400_000;
/// Most optimizer calls one version may make in a backtest (devices ×
/// steps of `every_ms` in the range).
pub const MAX_OPTIMIZER_CALLS: i64 = 100_000;
/// Shortest step of an optimizer backtest, ms.
pub const MIN_EVERY_MS: i64 = 1_000;
/// Recommendations a version's run keeps in full (all are counted and
/// compared).
pub const KEPT_RECOMMENDATIONS: usize = 1_000;
/// Backtests a host keeps (the oldest finished ones go first).
pub const KEPT: usize = 100;
/// Backtests one tenant may run at once.
pub const RUNNING_PER_TENANT: usize = 2;

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    /// The alarm-rule, optimizer or field-optimizer version to try.
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
    /// An optimizer's step of virtual time, ms; default: the compared
    /// binding's interval, else the kind's default (a minute).
    pub every_ms: Option<i64>,
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

/// A recommendation a version made in a backtest (or the compared binding
/// made live).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestRecommendation {
    /// When (the step's virtual time; the live creation time for recorded
    /// ones).
    pub ts: TimestampMs,
    /// The recommendation.
    #[serde(flatten)]
    pub recommendation: Recommendation,
}

/// A step at which the two versions' recommendations differ: a parameter
/// one of them recommends and the other does not, or proposes another value
/// for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendationDifference {
    /// The device.
    pub device_id: DeviceId,
    /// The step's virtual time.
    pub ts: TimestampMs,
    /// The setpoint.
    pub parameter: String,
    /// The candidate's proposed value; none: it recommended nothing.
    pub candidate: Option<f64>,
    /// The compared version's proposed value; none: it recommended nothing.
    pub compared: Option<f64>,
}

/// One version's run.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRun {
    /// The version (tenant, name, version).
    pub plugin: PluginRef,
    /// Its binding, for the compared version.
    pub binding_id: Option<BindingId>,
    /// The alarms it raised, in order (alarm rules).
    pub alarms: Vec<BacktestAlarm>,
    /// The recommendations it made, in order (optimizers; the first
    /// [`KEPT_RECOMMENDATIONS`]).
    pub recommendations: Vec<BacktestRecommendation>,
    /// Recommendations made in all.
    pub recommended: u64,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed (their frames or steps are skipped, as live).
    pub faults: u64,
    /// The first failure's reason.
    pub first_fault: Option<String>,
}

impl VersionRun {
    fn new(loaded: &Loaded, binding_id: Option<BindingId>) -> Self {
        let plugin = PluginRef {
            tenant_id: loaded.meta.tenant_id.clone(),
            name: loaded.meta.name.clone(),
            version: loaded.meta.version.clone(),
        };
        Self {
            plugin,
            binding_id,
            alarms: Vec::new(),
            recommendations: Vec::new(),
            recommended: 0,
            calls: 0,
            faults: 0,
            first_fault: None,
        }
    }

    fn fault(&mut self, why: impl std::fmt::Display) {
        self.faults += 1;
        self.first_fault.get_or_insert_with(|| why.to_string());
    }
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
    /// The kind of version tried: `alarm-rule`, `optimizer` or
    /// `field-optimizer`.
    pub kind: PluginKind,
    /// `running`, `done` or `failed`.
    pub status: &'static str,
    /// The share of the range and devices done, 0 to 1.
    pub progress: f64,
    /// The range, ms.
    pub start_ts: TimestampMs,
    /// The range's end (exclusive), ms.
    pub end_ts: TimestampMs,
    /// An optimizer backtest's step of virtual time, ms.
    pub every_ms: Option<i64>,
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
    /// The steps where the versions' recommendations differ (optimizers;
    /// the first [`KEPT_RECOMMENDATIONS`]).
    pub differences: Vec<RecommendationDifference>,
    /// How many (step, parameter) pairs differ in all.
    pub differing: u64,
    /// What the compared binding actually recommended in the range, live
    /// (optimizers; of the tenant's newest 10,000 recommendations).
    pub recorded: Vec<BacktestRecommendation>,
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

/// A version to replay: its plugin, the binding whose calls these are, its
/// configuration and limits, and its run so far.
struct Version {
    loaded: Loaded,
    binding_id: BindingId,
    config: String,
    limits: Limits,
    run: VersionRun,
}

impl Version {
    fn new(loaded: Loaded, binding_id: Option<BindingId>, config: &serde_json::Value, limits: Limits) -> Self {
        let run = VersionRun::new(&loaded, binding_id.clone());
        Self {
            loaded,
            // A backtest's calls are the binding's own when it compares one.
            binding_id: binding_id.unwrap_or_else(|| BindingId::new("backtest")),
            config: config.to_string(),
            limits,
            run,
        }
    }
}

impl Version {
    /// The context of this version's call about `device` at `now`, with its
    /// state then; its telemetry reads see nothing stamped later.
    fn context(
        &self,
        device: &DeviceId,
        state: Option<&std::collections::BTreeMap<String, Vec<u8>>>,
        reader: &Arc<StoreReader>,
        now: TimestampMs,
    ) -> CallContext {
        CallContext {
            plugin: self.run.plugin.clone(),
            binding_id: self.binding_id.clone(),
            device_id: device.clone(),
            now,
            config: self.config.clone(),
            state: state.cloned().unwrap_or_default(),
            limits: self.limits,
            telemetry: Arc::new(AsOf::new(reader.clone(), now)),
        }
    }
}

/// Where a running backtest reports to.
struct Progress {
    entry: Arc<Mutex<Backtest>>,
    began: std::time::Instant,
}

impl Progress {
    /// Adds replayed frames and readings; `done` is the share finished.
    fn report(&self, frames: u64, readings: u64, done: f64) {
        let mut b = lock(&self.entry);
        b.frames += frames;
        b.readings += readings;
        b.progress = done.clamp(0.0, 1.0);
        b.elapsed_ms = self.began.elapsed().as_millis() as u64;
    }

    /// Writes the result: `finish` fills in the kind's fields.
    fn finish(&self, finish: impl FnOnce(&mut Backtest)) {
        let mut b = lock(&self.entry);
        finish(&mut b);
        (b.status, b.progress) = ("done", 1.0);
        b.elapsed_ms = self.began.elapsed().as_millis() as u64;
    }
}

/// The next page of a device's stored readings in `[from, end)`, oldest
/// first, and where the page after it starts (`end`: none after it). A full
/// page may end inside a frame: that frame is read again with the next
/// page, unless the page is one frame alone.
async fn next_page(
    inner: &Inner,
    tenant: &TenantId,
    device: &DeviceId,
    from: TimestampMs,
    end: TimestampMs,
    limit: u32,
) -> Result<(Vec<Reading>, TimestampMs)> {
    let mut page = inner.store.history(tenant, device, None, from, end, limit).await?;
    let (first, last) = (page.first().map(|r| r.ts), page.last().map(|r| r.ts));
    let next = match (page.len() == limit as usize, first, last) {
        (true, Some(first), Some(last)) if first < last => {
            page.retain(|r| r.ts < last);
            last
        }
        (true, _, Some(last)) => last + 1,
        _ => end,
    };
    Ok((page, next))
}

impl PluginService {
    /// Starts a backtest; its progress and result are read with
    /// [`PluginService::backtest`].
    pub async fn start_backtest(&self, tenant: &TenantId, request: BacktestRequest) -> Result<Backtest> {
        let BacktestRequest { plugin_id, device_ids, start, end, config, binding_id, every_ms } = request;
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
        let kind = candidate.meta.kind;
        if !matches!(kind, PluginKind::AlarmRule | PluginKind::Optimizer | PluginKind::FieldOptimizer) {
            return Err(ServiceError::Invalid(format!(
                "only alarm-rule, optimizer and field-optimizer versions can be backtested; {} is a {}",
                candidate.meta.name,
                kind.as_str()
            )));
        }
        if kind == PluginKind::AlarmRule && every_ms.is_some() {
            return Err(ServiceError::Invalid("every_ms: an alarm rule runs on every stored frame".into()));
        }
        let compared = match named {
            Some(binding) if binding.kind != kind => {
                return Err(ServiceError::Invalid(format!(
                    "binding {} is a {}'s, not an {}'s",
                    binding.id,
                    binding.kind.as_str(),
                    kind.as_str()
                )));
            }
            Some(mut binding) => {
                inner.clamp_limits(&mut binding, &inner.profile(tenant).await?);
                Some(binding)
            }
            None => self.same_plugin_binding(tenant, &device_ids[0], kind, &candidate.meta.name).await?,
        };
        let every = match kind {
            PluginKind::AlarmRule => None,
            _ => Some(optimizers::step(every_ms, compared.as_ref(), start, end, device_ids.len())?),
        };
        let compared = match compared {
            Some(binding) => Some((inner.loaded(tenant, &binding.plugin_id).await?, binding)),
            None => None,
        };
        let config = config
            .or_else(|| compared.as_ref().map(|(_, b)| b.config.clone()))
            .unwrap_or_else(|| serde_json::json!({}));
        let limits = compared.as_ref().map_or_else(|| Limits::for_kind(kind), |(_, b)| b.limits);
        let candidate = Version::new(candidate, None, &config, limits);
        let compared = compared.map(|(loaded, b)| Version::new(loaded, Some(b.id.clone()), &b.config, b.limits));
        let backtest = Backtest {
            id: BacktestId::random(),
            tenant_id: tenant.clone(),
            kind,
            status: "running",
            progress: 0.0,
            start_ts: start,
            end_ts: end,
            every_ms: every,
            device_ids: device_ids.clone(),
            frames: 0,
            readings: 0,
            candidate: None,
            compared: None,
            only_candidate: Vec::new(),
            only_compared: Vec::new(),
            differences: Vec::new(),
            differing: 0,
            recorded: Vec::new(),
            error: None,
            elapsed_ms: 0,
        };
        let entry = inner.backtests.start(backtest)?;
        let first = lock(&entry).clone();
        let (inner, tenant) = (inner.clone(), tenant.clone());
        tokio::spawn(async move {
            let progress = Progress { entry, began: std::time::Instant::now() };
            let outcome = match every {
                Some(every) => optimizers::replay(&inner, &tenant, &progress, candidate, compared, every).await,
                None => rules::replay(&inner, &tenant, &progress, candidate, compared).await,
            };
            if let Err(error) = outcome {
                let mut b = lock(&progress.entry);
                tracing::warn!(backtest = %b.id, %error, "Backtest failed.");
                (b.status, b.error) = ("failed", Some(error.to_string()));
                b.elapsed_ms = progress.began.elapsed().as_millis() as u64;
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

    /// The enabled binding of `kind` on `device` of a version of the plugin
    /// named `name`.
    async fn same_plugin_binding(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        kind: PluginKind,
        name: &str,
    ) -> Result<Option<Binding>> {
        let bindings = self.0.device_bindings(tenant, device, kind).await?;
        for binding in bindings.iter().filter(|b| b.enabled) {
            if self.0.store.plugin(tenant, &binding.plugin_id).await?.name == name {
                return Ok(Some(binding.clone()));
            }
        }
        Ok(None)
    }
}
