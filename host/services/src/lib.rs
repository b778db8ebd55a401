//! # nexus-services
//!
//! The services: the only writers, and the only way the API (and, later,
//! connectors) reach storage and the plugin runtime.
//!
//! - [`IngestService`]: frame → decoder → validation → alarm rules, and the
//!   whole frame's effects (readings, rule state, alarm transitions, dead
//!   letters, failed runs, quarantines, metered use and their events)
//!   committed in **one** transaction before the caller is answered.
//! - [`AlarmService`]: alarms, their history and comments; people's
//!   actions, each a transition and an event.
//! - [`AssetService`]: tenants, wellpads, wells, devices and their tokens.
//! - [`PluginService`]: uploads (validated, compiled one per tenant at a
//!   time on shared slots, in a child process killed at its deadline),
//!   bindings, hot swap, re-enabling and metering.
//! - [`ReleaseService`]: vendors' signing keys and signed releases (bytes in
//!   the content-addressed component store), the vendors a tenant trusts,
//!   and a tenant admin's approval of one exact release; signatures are
//!   checked on publish, on approval and on every load.
//! - [`LimitService`]: tenant profiles — REST API rate limits, ingest
//!   limits on the device API, entity quotas (with the monthly caps and
//!   limits of plugin calls).
//! - [`IdentityService`]: tenants and vendors, users and roles, logins
//!   (access JWT + rotating refresh token), API keys, authentication of a
//!   bearer credential into a principal, and the audit log.
//! - [`OptimizerService`]: scheduled and on-demand optimizer runs (per device;
//!   field optimizers per well group, the wellpad).
//! - [`RecordService`]: telemetry, recommendations, failed runs and dead
//!   letters, read back.
//! - [`OutboxService`]: delivers the outbox to [`Subscriber`]s, at least
//!   once, in commit order, from a stored cursor per subscriber.
//! - [`MonitorService`]: readiness (database, compile cache, brokers) and
//!   the monitoring snapshot `/metrics` renders.
//! - [`NotificationService`]: tenants' notification rules; the outbox
//!   subscriber that enqueues a delivery per matching rule and alarm
//!   transition, and the worker that sends them through a
//!   [`ChannelSender`] with retries.
//! - [`HotCache`]: the optional hot-state cache (Redis), a copy written
//!   after commits and read before storage by latest-value reads.
//!
//! Plugin calls run on blocking threads (wasmtime calls are synchronous and
//! bounded by their deadline); the async side awaits storage.

mod alarms;
mod approvals;
mod assets;
mod backtests;
mod cache;
mod calls;
mod compiles;
mod connectors;
mod error;
mod field_runs;
mod frames;
mod health;
mod hot;
mod identity;
mod ingest;
mod ingest_stats;
mod jwt;
mod keys;
mod limits;
mod live;
mod monitor;
mod notifications;
mod optimizers;
mod outbox;
mod plugins;
mod quota;
mod reader;
mod records;
mod releases;
mod review;
mod rollouts;
mod rpc;
mod rules;
mod runs;
mod schedule;
mod setpoints;
mod subscribers;
mod tap;
mod validate;
mod well_tests;
mod wellpads;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nexus_model::{Clock, DeviceId, PluginVersionId, TenantId, TimestampMs};
use nexus_runtime::Runtime;
use nexus_storage::{Committed, Effects, Store};

pub use alarms::{AlarmChange, AlarmService, MAX_COMMENT_LEN};
pub use approvals::{ApprovalConfig, ApprovalService, MAX_REASON_CHARS, SWEEP_EVERY as APPROVAL_SWEEP};
pub use assets::{AssetService, IssuedToken, MAX_NAME_CHARS};
pub use backtests::{
    Backtest, BacktestAlarm, BacktestRecommendation, BacktestRequest, MAX_BACKTEST_DEVICES, MAX_BACKTEST_SPAN_MS,
    MAX_OPTIMIZER_CALLS, MIN_EVERY_MS, RUNNING_PER_TENANT, RecommendationDifference, VersionRun,
};
pub use connectors::{
    ConnectorRequest, ConnectorRuntime, ConnectorService, MAX_MODBUS_DEVICES, MAX_OPCUA_DEVICES, MAX_OPCUA_NODES,
    MIN_POLL_MS, WriteError, kafka_brokers, mqtt_peer, opcua_peer, valid_node_id,
};
pub use error::{Refusal, ServiceError};
pub use field_runs::FIELD_WELL_TESTS;
pub use health::BindingMetrics;
pub use hot::{AlarmUpdate, CacheError, HotCache, LatestUpdate, READ_TIMEOUT};
pub use identity::{API_KEY_PREFIX, IdentityConfig, IdentityService, IssuedKey, REFRESH_PREFIX, Tokens};
pub use ingest::{IngestReport, IngestService, IngestStats, RejectedReading};
pub use ingest_stats::TenantIngest;
pub use jwt::{AUDIENCE, ISSUER, KeyError, LEEWAY_S, SigningKey};
pub use limits::{LimitService, SWEEP_EVERY, retry_after_secs};
pub use live::{LiveFilter, LiveItem, LiveService, LiveStream, MAX_STREAMS_PER_TENANT};
pub use monitor::{
    CHECK_TIMEOUT, Check, CheckState, HostGauges, MONITORED_WINDOW, MonitorService, Readiness, Snapshot, TenantGauges,
};
pub use nexus_storage::{AuditQuery, NewAuditEntry, PoolStats};
pub use notifications::{
    ChannelRequest, ChannelSender, MAX_LIST, MAX_URL_CHARS, Notification, NotificationConfig, NotificationService,
    RetryPolicy, RuleError, RuleRequest, SECRET_CHARS, SendError,
};
pub use optimizers::OptimizerService;
pub use outbox::{OutboxService, StartFrom, Subscriber, Subscription};
pub use plugins::{BindingRequest, MAX_COMPONENT_BYTES, MAX_COMPONENT_BYTES_CEILING, PluginService, Upload};
pub use records::{MAX_BUCKETS, MAX_PAGE, MIN_INTERVAL_MS, RecordService, StatusSource, TelemetryQuery, WellStatus};
pub use releases::{Publish, ReleaseService};
pub use review::{InUse, Review};
pub use rollouts::{REPORTED_DISAGREEMENTS, RolloutRequest, RolloutStatus};
pub use rpc::{DeviceRpc, RpcRequest, rpc_answer};
pub use runs::{Run, RunStatus};
pub use setpoints::{check_change, check_setpoint};
pub use tap::{TappedTelemetry, TelemetryTap};
pub use well_tests::{WELL_TEST_CONDITIONS, WELL_TESTS_FOR_FORECASTS, WELL_TESTS_IN_CONTEXT, check_well_test};
pub use wellpads::{MAX_CONSTRAINT, MAX_INJECTION_BOUNDS, check_constraints};

/// Service results.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings of the services.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The one clock: plugins' `host.now`, and every timestamp the host writes.
    pub clock: Clock,
    /// How long compiling and checking an upload may take before it is
    /// refused with `compile-timeout`. With a compiler process configured
    /// in the runtime, the compile is killed then and its slot freed;
    /// compiled in-process, it finishes on its slot, which stays busy.
    pub compile_timeout: std::time::Duration,
    /// Uploads compiled at once, over all tenants; each tenant compiles one
    /// at a time.
    pub compile_workers: usize,
    /// How long an upload waits for its tenant's turn and a compile slot
    /// before it is refused with `compile-busy` (429 + `Retry-After`).
    pub compile_wait: std::time::Duration,
    /// Frames that may wait in one tenant's ingest lane; past it the
    /// tenant's new frames are refused with `overloaded` (503 +
    /// `Retry-After`).
    pub ingest_queue_frames: usize,
    /// Group commits one tenant's ingest may run at once, its devices split
    /// between them; `None`: [`nexus_storage::Store::concurrent_writers`].
    pub ingest_committers: Option<usize>,
    /// The system maxima of every limit: profiles are capped by them, and a
    /// stored binding above them is clamped at load.
    pub limit_ceilings: nexus_model::Limits,
    /// Plugin calls one tenant may have running at once unless its profile
    /// says otherwise; more wait up to `capacity_wait`.
    pub tenant_call_share: usize,
    /// How long a call waits for its tenant's share before it is refused
    /// with `capacity-exhausted`.
    pub capacity_wait: std::time::Duration,
    /// Distinct telemetry keys one device may have unless its tenant's profile
    /// says otherwise (`max_keys_per_device`); a reading of a new key past
    /// it is refused with a reason.
    pub max_keys_per_device: u32,
    /// How far ahead of the host's clock a reading may be stamped and still
    /// become its key's latest value; a reading further ahead (up to a day)
    /// is stored and counted in the frame's `ahead_of_clock`, but "latest"
    /// ignores it.
    pub max_clock_skew: std::time::Duration,
    /// Dead letters older than this are deleted by the retention sweep.
    pub dead_letter_max_age: std::time::Duration,
    /// Payload bytes of dead letters kept per tenant; the sweep deletes a
    /// tenant's oldest letters past it.
    pub dead_letter_max_bytes: u64,
    /// Access-token signing key and credential lifetimes.
    pub identity: IdentityConfig,
    /// Notification retries, send timeout and concurrency.
    pub notifications: NotificationConfig,
    /// The recommendation loop: time to live, interlocks, write-back.
    pub approvals: ApprovalConfig,
    /// How long one run of a scheduled binding may take: it stops before
    /// its next device (or wellpad) past this (status `over_budget`).
    pub run_budget: std::time::Duration,
    /// The directory of the content-addressed component store, where
    /// vendors' releases are kept (`None`: one under the temporary
    /// directory, for this process; the server gives its data directory's
    /// `components`).
    pub component_store: Option<std::path::PathBuf>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            clock: Clock::system(),
            compile_timeout: std::time::Duration::from_secs(20),
            compile_workers: default_compile_workers(),
            compile_wait: std::time::Duration::from_secs(2),
            ingest_queue_frames: 1024,
            ingest_committers: None,
            limit_ceilings: nexus_model::Limits::system_ceilings(),
            tenant_call_share: default_call_share(),
            capacity_wait: std::time::Duration::from_secs(5),
            max_keys_per_device: 1000,
            max_clock_skew: std::time::Duration::from_secs(5 * 60),
            dead_letter_max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            dead_letter_max_bytes: 100 << 20,
            identity: IdentityConfig::default(),
            notifications: NotificationConfig::default(),
            approvals: ApprovalConfig::default(),
            run_budget: std::time::Duration::from_secs(300),
            component_store: None,
        }
    }
}

impl ServicesConfig {
    /// The component store's directory.
    pub fn component_store(&self) -> std::path::PathBuf {
        self.component_store
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("nexus-components-{}", std::process::id())))
    }
}

/// Half the cores, at least two: one tenant's slow compile leaves a slot
/// to the others (each compile takes one core).
pub fn default_compile_workers() -> usize {
    (std::thread::available_parallelism().map_or(2, usize::from) / 2).max(2)
}

/// Half the cores (at least one): a tenant's default share of concurrent
/// plugin calls, so one tenant's spinning guests leave the rest of the
/// machine to the others.
pub fn default_call_share() -> usize {
    (std::thread::available_parallelism().map_or(2, usize::from) / 2).max(1)
}

/// One device's turn to have a setpoint written.
pub(crate) type DeviceTurn = Arc<tokio::sync::Mutex<()>>;

/// What the services share.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) runtime: Runtime,
    pub(crate) config: ServicesConfig,
    pub(crate) compiles: compiles::CompileQueue,
    pub(crate) loaded: Mutex<HashMap<PluginVersionId, calls::Loaded>>,
    /// Each tenant's share of concurrent plugin calls.
    pub(crate) shares: Mutex<HashMap<TenantId, Arc<tokio::sync::Semaphore>>>,
    pub(crate) meters: health::Meters,
    pub(crate) accounts: Mutex<HashMap<TenantId, quota::Account>>,
    /// Bumped whenever events were appended, for the dispatcher to wait on.
    pub(crate) outbox_head: tokio::sync::watch::Sender<u64>,
    /// The outbox subscribers running now and where each is.
    pub(crate) subscribers: subscribers::RunningSubscribers,
    /// Devices, bindings and plugin state the hot path reads from memory.
    pub(crate) caches: cache::Caches,
    /// Counters of the ingest path.
    pub(crate) ingest_counters: ingest::IngestCounters,
    /// The telemetry keys of each device, for the per-device cap.
    pub(crate) device_keys: keys::DeviceKeys,
    /// Each tenant's ingest queue, started on first use.
    pub(crate) ingest_lanes: Mutex<HashMap<TenantId, ingest::Lane>>,
    /// Rate and ingest limiters of each tenant's profile.
    pub(crate) limiters: limits::Limiters,
    /// Held across counting and creating an entity under a quota.
    pub(crate) quota_lock: tokio::sync::Mutex<()>,
    /// The live stream's channels, per watched tenant.
    pub(crate) live: live::Channels,
    /// Wakes the notification delivery worker: deliveries were enqueued or
    /// retried.
    pub(crate) notifications_due: tokio::sync::Notify,
    /// The hot-state cache, when one is attached (written after commits).
    pub(crate) hot: std::sync::OnceLock<hot::Hot>,
    /// Where committed telemetry is copied to (Kafka's validated topic).
    pub(crate) taps: tap::Taps,
    /// What runs connectors, when attached. Weak: the runtime holds the
    /// services (its connectors deliver into them), and the server owns it.
    pub(crate) connectors: std::sync::OnceLock<std::sync::Weak<dyn connectors::ConnectorRuntime>>,
    /// One setpoint write at a time per device, so the interlocks check the
    /// value the previous write left.
    pub(crate) setpoint_turns: Mutex<HashMap<(TenantId, DeviceId), DeviceTurn>>,
    /// RPC requests for devices on the HTTP device API.
    pub(crate) rpc: rpc::DeviceRpc,
    /// The backtests started on this host.
    pub(crate) backtests: backtests::Backtests,
    /// The runs of scheduled bindings on this host.
    pub(crate) runs: runs::Runs,
    /// The rollouts running on this host and their tallies.
    pub(crate) rollouts: rollouts::Rollouts,
}

impl Inner {
    /// The time now, on the one clock.
    pub(crate) fn now(&self) -> TimestampMs {
        self.config.clock.now()
    }

    /// Commits a unit of work, then updates what is cached of it and wakes
    /// the outbox's subscribers.
    pub(crate) async fn commit(&self, effects: Effects) -> Result<Committed> {
        Ok(self.commit_all(vec![effects]).await?.pop().unwrap_or_default())
    }

    /// Commits units of work in one transaction (group commit), then
    /// updates what is cached of them — metered use, plugin state, bindings a
    /// quarantine changed — and wakes the outbox's subscribers. When the
    /// commit fails, the state those units would have written is forgotten,
    /// so it is read back from storage.
    pub(crate) async fn commit_all(&self, batch: Vec<Effects>) -> Result<Vec<Committed>> {
        self.commit_units(batch, None).await
    }

    /// Commits ingest batch `seq`, whose plugin state is held in the cache
    /// ([`cache::Caches::hold_state`]), and settles that state.
    pub(crate) async fn commit_held(&self, seq: u64, batch: Vec<Effects>) -> Result<Vec<Committed>> {
        self.commit_units(batch, Some(seq)).await
    }

    async fn commit_units(&self, batch: Vec<Effects>, held: Option<u64>) -> Result<Vec<Committed>> {
        // The telemetry is copied only for a tenant someone watches live,
        // or for a telemetry tap.
        let tapped = self.taps.any();
        let watched = self.live.any_watched(batch.iter().map(|e| &e.tenant_id));
        let kept: Vec<Effects> = batch
            .iter()
            .map(|e| Effects {
                tenant_id: e.tenant_id.clone(),
                usage: e.usage.clone(),
                states: e.states.clone(),
                quarantines: e.quarantines.clone(),
                telemetry: if watched || tapped { e.telemetry.clone() } else { Vec::new() },
                ..Effects::default()
            })
            .collect();
        let hot = self.hot.get().map(|_| hot::latest_of(&batch));
        let result = self.store.commit_all(batch).await;
        let states = || kept.iter().flat_map(|e| &e.states);
        match (&result, held) {
            (Ok(_), None) => {
                for write in states() {
                    self.caches.remember_state(&write.binding_id, &write.device_id, write.state.clone());
                }
            }
            (Err(_), None) => {
                for write in states() {
                    self.caches.forget_state(&write.binding_id, &write.device_id);
                }
            }
            (outcome, Some(seq)) => {
                self.caches.settle(seq, states().map(|w| (&w.binding_id, &w.device_id)), outcome.is_ok());
            }
        }
        if let Ok(committed) = &result {
            for effects in &kept {
                self.metered(&effects.tenant_id, effects);
            }
            for effects in kept.iter().filter(|e| !e.quarantines.is_empty()) {
                self.caches.forget_bindings(&effects.tenant_id);
            }
            if committed.iter().any(|c| !c.events.is_empty()) {
                self.wake_outbox();
            }
            let now = self.now();
            for effects in &kept {
                self.live.publish(&effects.tenant_id, &effects.telemetry);
                if tapped {
                    self.taps.offer(&effects.tenant_id, now, &effects.telemetry);
                }
            }
            if let (Some(cache), Some(latest)) = (self.hot.get(), hot) {
                cache.offer(latest);
            }
        }
        if self.rollout_endings_pending() {
            self.write_rollout_endings().await;
        }
        Ok(result?)
    }

    /// The bindings of one kind that apply to a device (cached).
    pub(crate) async fn device_bindings(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        kind: nexus_model::PluginKind,
    ) -> Result<std::sync::Arc<Vec<nexus_model::Binding>>> {
        let (cached, generation) = self.caches.bindings(tenant, device, kind);
        if let Some(bindings) = cached {
            return Ok(bindings);
        }
        let mut bindings = self.store.device_bindings(tenant, device, kind).await?;
        let profile = self.profile(tenant).await?;
        bindings.iter_mut().for_each(|binding| self.clamp_limits(binding, &profile));
        let bindings = std::sync::Arc::new(bindings);
        self.caches.remember_bindings(tenant, device, kind, bindings.clone(), generation);
        Ok(bindings)
    }

    /// Lowers a stored binding's limits to what caps them now (the profile or
    /// the kind's defaults, under the system ceilings), with a warning: rows
    /// written before a ceiling was lowered do not run above it.
    pub(crate) fn clamp_limits(&self, binding: &mut nexus_model::Binding, profile: &nexus_model::TenantProfile) {
        let cap = quota::merge_limits(binding.kind, profile.limits.as_ref(), None, &self.config.limit_ceilings)
            .unwrap_or_else(|_| nexus_model::Limits::for_kind(binding.kind))
            .clamped_to(&self.config.limit_ceilings);
        if let Some((limit, asked, ceiling)) = binding.limits.first_above(&cap) {
            tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, limit, ?asked, ?ceiling,
                "A stored binding's limit is above its ceiling; clamped.");
            binding.limits = binding.limits.clamped_to(&cap);
        }
    }

    /// Tells the outbox's subscribers that events were appended.
    pub(crate) fn wake_outbox(&self) {
        self.outbox_head.send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// All services over one store and one runtime. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
    ingest: IngestService,
    alarms: AlarmService,
    assets: AssetService,
    plugins: PluginService,
    optimizers: OptimizerService,
    records: RecordService,
    outbox: OutboxService,
    identity: IdentityService,
    limits: LimitService,
    live: LiveService,
    monitor: MonitorService,
    notifications: NotificationService,
    connectors: ConnectorService,
    approvals: ApprovalService,
    releases: ReleaseService,
}

impl Services {
    /// The services over a store and a runtime.
    pub fn new(store: Arc<dyn Store>, runtime: Runtime, config: ServicesConfig) -> Self {
        let (outbox_head, _) = tokio::sync::watch::channel(0);
        let keys = Arc::new(identity::Keys::new(config.identity.clone()));
        let inner = Arc::new(Inner {
            store,
            runtime,
            compiles: compiles::CompileQueue::new(config.compile_workers, config.compile_wait, config.compile_timeout),
            config,
            loaded: Mutex::default(),
            shares: Mutex::default(),
            meters: health::Meters::default(),
            accounts: Mutex::default(),
            outbox_head,
            subscribers: subscribers::RunningSubscribers::default(),
            caches: cache::Caches::default(),
            ingest_counters: ingest::IngestCounters::default(),
            device_keys: keys::DeviceKeys::default(),
            ingest_lanes: Mutex::default(),
            limiters: limits::Limiters::default(),
            quota_lock: tokio::sync::Mutex::new(()),
            live: live::Channels::default(),
            notifications_due: tokio::sync::Notify::new(),
            hot: std::sync::OnceLock::new(),
            taps: tap::Taps::default(),
            connectors: std::sync::OnceLock::new(),
            setpoint_turns: Mutex::default(),
            rpc: rpc::DeviceRpc::default(),
            backtests: backtests::Backtests::default(),
            runs: runs::Runs::default(),
            rollouts: rollouts::Rollouts::default(),
        });
        Self {
            ingest: IngestService(inner.clone()),
            alarms: AlarmService(inner.clone()),
            assets: AssetService(inner.clone(), Arc::default()),
            plugins: PluginService(inner.clone()),
            optimizers: OptimizerService(inner.clone()),
            records: RecordService(inner.clone()),
            outbox: OutboxService(inner.clone()),
            identity: IdentityService(inner.clone(), keys),
            limits: LimitService(inner.clone()),
            live: LiveService(inner.clone()),
            monitor: MonitorService(inner.clone()),
            notifications: NotificationService(inner.clone()),
            connectors: ConnectorService(inner.clone()),
            approvals: ApprovalService(inner.clone()),
            releases: ReleaseService(inner.clone()),
            inner,
        }
    }

    /// Telemetry in.
    pub fn ingest(&self) -> &IngestService {
        &self.ingest
    }

    /// Tenants, vendors, users, credentials and the audit log.
    pub fn identity(&self) -> &IdentityService {
        &self.identity
    }

    /// Alarms.
    pub fn alarms(&self) -> &AlarmService {
        &self.alarms
    }

    /// Tenants, wells and devices.
    pub fn assets(&self) -> &AssetService {
        &self.assets
    }

    /// Plugins, bindings and metering.
    pub fn plugins(&self) -> &PluginService {
        &self.plugins
    }

    /// Tenant profiles: rate limits, ingest limits and entity quotas.
    pub fn limits(&self) -> &LimitService {
        &self.limits
    }

    /// Optimizer runs.
    pub fn optimizers(&self) -> &OptimizerService {
        &self.optimizers
    }

    /// Reads of telemetry and records.
    pub fn records(&self) -> &RecordService {
        &self.records
    }

    /// The outbox and its subscribers.
    pub fn outbox(&self) -> &OutboxService {
        &self.outbox
    }

    /// The live stream of committed telemetry and events.
    pub fn live(&self) -> &LiveService {
        &self.live
    }

    /// Readiness and monitoring.
    pub fn monitor(&self) -> &MonitorService {
        &self.monitor
    }

    /// Notification rules and their deliveries.
    pub fn notifications(&self) -> &NotificationService {
        &self.notifications
    }

    /// Connectors to the field and setpoint writes through them.
    pub fn connectors(&self) -> &ConnectorService {
        &self.connectors
    }

    /// Recommendations' lives: approve, reject, send, confirm.
    pub fn approvals(&self) -> &ApprovalService {
        &self.approvals
    }

    /// Vendors' keys and releases, tenants' trust and approvals.
    pub fn releases(&self) -> &ReleaseService {
        &self.releases
    }

    /// The device API's RPC: requests waiting for HTTP devices and their
    /// replies.
    pub fn device_rpc(&self) -> &DeviceRpc {
        &self.inner.rpc
    }

    /// What the plugin runtime has done (compiles, cache loads).
    pub fn runtime_stats(&self) -> nexus_runtime::RuntimeStats {
        self.inner.runtime.stats()
    }

    /// The storage backend's name.
    pub fn backend(&self) -> &'static str {
        self.inner.store.backend()
    }
}

/// Runs a blocking closure (a plugin call) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServiceError::Internal(e.to_string()))
}
