//! # nexus-pipeline
//!
//! The trusted core that connects everything: a device frame goes to the
//! tenant's decoder, its readings are validated and stored, then the
//! tenant's alarm rules evaluate them and the host applies their signals to
//! the alarm lifecycle; a scheduler runs optimizer bindings and stores their
//! recommendations. Every transition is published as an [`Event`].
//!
//! Plugin calls run on blocking threads (wasmtime calls are synchronous and
//! bounded by their deadline); the async side only awaits storage.

mod error;
mod health;
mod ingest;
mod plugins;
mod quota;
mod reader;
mod scheduler;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nexus_runtime::Runtime;
use nexus_storage::{AlarmTransition, Storage, StoredRecommendation};
use serde::Serialize;
use tokio::sync::broadcast;

pub use error::PipelineError;

pub use health::BindingMetrics;
pub use ingest::IngestReport;
pub use plugins::{BindingRequest, Upload};

/// Pipeline results.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// Something that happened, for the log and the outputs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An alarm changed.
    Alarm(AlarmTransition),
    /// An optimizer recommended a setpoint.
    Recommendation(StoredRecommendation),
}

/// The pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

/// The time plugins are given (`host.now`): the wall clock, or a manual
/// clock for replays and tests. Cheap to clone; clones share the time.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that shows `start` until [`Clock::set`] moves it.
    pub fn manual(start: nexus_model::TimestampMs) -> Self {
        Self(Some(Arc::new(start.into())))
    }

    /// Moves a manual clock (no effect on the wall clock).
    pub fn set(&self, now: nexus_model::TimestampMs) {
        if let Some(time) = &self.0 {
            time.store(now, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The current time, ms.
    pub fn now(&self) -> nexus_model::TimestampMs {
        match &self.0 {
            Some(time) => time.load(std::sync::atomic::Ordering::SeqCst),
            None => nexus_model::now_ms(),
        }
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The time given to plugins.
    pub clock: Clock,
    /// How long compiling and checking an upload may take before it is
    /// refused with `compile-timeout` (the compile still finishes on its
    /// worker, which stays busy until then).
    pub compile_timeout: std::time::Duration,
    /// Uploads compiled at once; more wait.
    pub compile_workers: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self { clock: Clock::system(), compile_timeout: std::time::Duration::from_secs(20), compile_workers: 1 }
    }
}

struct Inner {
    storage: Storage,
    runtime: Runtime,
    config: PipelineConfig,
    compile_slots: Arc<tokio::sync::Semaphore>,
    loaded: Mutex<HashMap<String, plugins::Loaded>>,
    device_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    meters: Mutex<HashMap<String, health::BindingMetrics>>,
    accounts: Mutex<HashMap<String, quota::Account>>,
    events: broadcast::Sender<Event>,
}

impl Pipeline {
    /// A pipeline over a storage and a runtime.
    pub fn new(storage: Storage, runtime: Runtime) -> Self {
        Self::with_config(storage, runtime, PipelineConfig::default())
    }

    /// A pipeline with explicit settings.
    pub fn with_config(storage: Storage, runtime: Runtime, config: PipelineConfig) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                storage,
                runtime,
                compile_slots: Arc::new(tokio::sync::Semaphore::new(config.compile_workers.max(1))),
                config,
                loaded: Mutex::new(HashMap::new()),
                device_locks: Mutex::new(HashMap::new()),
                meters: Mutex::new(HashMap::new()),
                accounts: Mutex::new(HashMap::new()),
                events,
            }),
        }
    }

    /// The storage it writes to.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The time plugins are given.
    pub(crate) fn now(&self) -> nexus_model::TimestampMs {
        self.inner.config.clock.now()
    }

    /// The plugin runtime it calls.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Subscribes to events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn publish(&self, event: Event) {
        match &event {
            Event::Alarm(t) => tracing::info!(
                action = %t.action,
                tenant = %t.alarm.tenant_id,
                device = %t.alarm.device_id,
                alarm_type = %t.alarm.alarm_type,
                severity = t.alarm.severity.as_str(),
                status = t.alarm.status.as_str(),
                "Alarm {}.", t.action.to_lowercase()
            ),
            Event::Recommendation(r) => tracing::info!(
                tenant = %r.tenant_id,
                device = %r.recommendation.device_id,
                parameter = %r.recommendation.parameter,
                current = r.recommendation.current_value,
                proposed = r.recommendation.proposed_value,
                "Recommendation stored."
            ),
        }
        // No subscriber is fine: events are also in storage.
        let _ = self.inner.events.send(event);
    }

    /// Serializes work on one device so rule state sees readings in order.
    fn device_lock(&self, device_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.device_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(device_id.to_string()).or_default().clone()
    }
}

/// Runs a blocking closure (a plugin call) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| PipelineError::Internal(e.to_string()))
}
