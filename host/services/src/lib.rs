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
//! - [`PluginService`]: uploads (validated, compiled on a bounded worker),
//!   bindings, hot swap, re-enabling, plans and metering.
//! - [`OptimizerService`]: scheduled and on-demand optimizer runs.
//! - [`RecordService`]: telemetry, recommendations, failed runs and dead
//!   letters, read back.
//! - [`OutboxService`]: delivers the outbox to [`Subscriber`]s, at least
//!   once, in commit order, from a stored cursor per subscriber.
//!
//! Plugin calls run on blocking threads (wasmtime calls are synchronous and
//! bounded by their deadline); the async side awaits storage.

mod alarms;
mod assets;
mod calls;
mod error;
mod health;
mod ingest;
mod optimizers;
mod outbox;
mod plugins;
mod quota;
mod reader;
mod records;
mod rules;
mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nexus_model::{Clock, DeviceId, PluginVersionId, TenantId, TimestampMs};
use nexus_runtime::Runtime;
use nexus_storage::{Committed, Effects, Store};

pub use alarms::{AlarmChange, AlarmService};
pub use assets::{AssetService, IssuedToken};
pub use error::{Refusal, ServiceError};
pub use health::BindingMetrics;
pub use ingest::{IngestReport, IngestService, RejectedReading};
pub use optimizers::OptimizerService;
pub use outbox::{OutboxService, StartFrom, Subscriber, Subscription};
pub use plugins::{BindingRequest, MAX_COMPONENT_BYTES, PluginService, Upload};
pub use records::RecordService;

/// Service results.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings of the services.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// The one clock: plugins' `host.now`, and every timestamp the host writes.
    pub clock: Clock,
    /// How long compiling and checking an upload may take before it is
    /// refused with `compile-timeout` (the compile still finishes on its
    /// worker, which stays busy until then).
    pub compile_timeout: std::time::Duration,
    /// Uploads compiled at once; more wait.
    pub compile_workers: usize,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self { clock: Clock::system(), compile_timeout: std::time::Duration::from_secs(20), compile_workers: 1 }
    }
}

/// What the services share.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) runtime: Runtime,
    pub(crate) config: ServicesConfig,
    pub(crate) compile_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) loaded: Mutex<HashMap<PluginVersionId, calls::Loaded>>,
    pub(crate) device_locks: Mutex<HashMap<DeviceId, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) meters: health::Meters,
    pub(crate) accounts: Mutex<HashMap<TenantId, quota::Account>>,
    /// Bumped whenever events were appended, for the dispatcher to wait on.
    pub(crate) outbox_head: tokio::sync::watch::Sender<u64>,
}

impl Inner {
    /// The time now, on the one clock.
    pub(crate) fn now(&self) -> TimestampMs {
        self.config.clock.now()
    }

    /// Commits a unit of work, then updates what is cached of it and wakes
    /// the outbox's subscribers.
    pub(crate) async fn commit(&self, effects: Effects) -> Result<Committed> {
        let tenant = effects.tenant_id.clone();
        let usage = Effects { usage: effects.usage.clone(), ..Effects::default() };
        let committed = self.store.commit(effects).await?;
        self.metered(&tenant, &usage);
        if !committed.events.is_empty() {
            self.wake_outbox();
        }
        Ok(committed)
    }

    /// Tells the outbox's subscribers that events were appended.
    pub(crate) fn wake_outbox(&self) {
        self.outbox_head.send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// Serializes work on one device so rule state sees readings in order.
    pub(crate) fn device_lock(&self, device: &DeviceId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.device_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(device.clone()).or_default().clone()
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
}

impl Services {
    /// The services over a store and a runtime.
    pub fn new(store: Arc<dyn Store>, runtime: Runtime, config: ServicesConfig) -> Self {
        let (outbox_head, _) = tokio::sync::watch::channel(0);
        let inner = Arc::new(Inner {
            store,
            runtime,
            compile_slots: Arc::new(tokio::sync::Semaphore::new(config.compile_workers.max(1))),
            config,
            loaded: Mutex::default(),
            device_locks: Mutex::default(),
            meters: health::Meters::default(),
            accounts: Mutex::default(),
            outbox_head,
        });
        Self {
            ingest: IngestService(inner.clone()),
            alarms: AlarmService(inner.clone()),
            assets: AssetService(inner.clone(), Arc::default()),
            plugins: PluginService(inner.clone()),
            optimizers: OptimizerService(inner.clone()),
            records: RecordService(inner.clone()),
            outbox: OutboxService(inner.clone()),
            inner,
        }
    }

    /// Telemetry in.
    pub fn ingest(&self) -> &IngestService {
        &self.ingest
    }

    /// Alarms.
    pub fn alarms(&self) -> &AlarmService {
        &self.alarms
    }

    /// Tenants, wells and devices.
    pub fn assets(&self) -> &AssetService {
        &self.assets
    }

    /// Plugins, bindings, plans and metering.
    pub fn plugins(&self) -> &PluginService {
        &self.plugins
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
