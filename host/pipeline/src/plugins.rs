//! Uploading plugins, binding them, and keeping loaded plugins at hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_model::{Limits, PluginKind, PluginRef, TimestampMs};
use nexus_runtime::{CallContext, CallError, CallFailure, CallOutcome, NoTelemetry, Plugin};
use nexus_storage::{Binding, NewBinding, NewPlugin, StoredPlugin};
use serde::Deserialize;

use crate::reader::StorageReader;
use crate::{Pipeline, PipelineError, Result, blocking};

/// A component upload.
pub struct Upload {
    /// Owning tenant.
    pub tenant_id: String,
    /// The declared kind (world).
    pub kind: PluginKind,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The component bytes.
    pub bytes: Vec<u8>,
}

/// A request to bind a plugin version to devices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRequest {
    /// The plugin version to run.
    pub plugin_id: String,
    /// Devices it applies to.
    pub device_ids: Vec<String>,
    /// Configuration JSON handed to the plugin.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Overrides of the kind's default limits, e.g. `{"deadline_ms": 20}`.
    #[serde(default)]
    pub limits: Option<serde_json::Value>,
    /// Optimizers: run every `schedule_ms` (default 60 000).
    #[serde(default)]
    pub schedule_ms: Option<i64>,
    /// Alarm rules: show their alarms on the device's well and wellpad too
    /// (default `true`).
    #[serde(default = "yes")]
    pub propagate: bool,
}

fn yes() -> bool {
    true
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A loaded plugin with its stored description.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) plugin: Arc<Plugin>,
    pub(crate) meta: StoredPlugin,
}

/// Shortest optimizer interval accepted.
const MIN_SCHEDULE_MS: i64 = 100;

impl Pipeline {
    /// Validates, compiles, type-checks and describes a component, then
    /// stores it. Nothing is stored if any step fails.
    pub async fn upload_plugin(&self, upload: Upload) -> Result<StoredPlugin> {
        nexus_registry::validate_name(&upload.name)?;
        nexus_registry::validate_version(&upload.version)?;
        let validated = nexus_registry::validate_component(&upload.bytes, nexus_registry::DEFAULT_MAX_COMPONENT_BYTES)?;
        let runtime = self.inner.runtime.clone();
        let plugin_ref = PluginRef {
            tenant_id: upload.tenant_id.clone(),
            name: upload.name.clone(),
            version: upload.version.clone(),
        };
        let kind = upload.kind;
        let bytes = Arc::new(upload.bytes);
        let component = bytes.clone();
        // A bounded worker: the permit is held until the compile really ends,
        // even when the request has given up on it.
        let permit = self
            .inner
            .compile_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| PipelineError::Internal(e.to_string()))?;
        let timeout = self.inner.config.compile_timeout;
        let work = blocking(move || -> Result<_> {
            let _permit = permit;
            let plugin = runtime.load(kind, &component)?;
            let ctx = CallContext {
                plugin: plugin_ref,
                binding_id: String::new(),
                device_id: String::new(),
                now: nexus_model::now_ms(),
                config: "{}".into(),
                state: BTreeMap::new(),
                limits: Limits::for_kind(kind),
                telemetry: Arc::new(NoTelemetry),
            };
            let info = runtime.describe(&plugin, ctx).map_err(|f| PipelineError::Describe(*f.error))?.output;
            Ok((plugin, info))
        });
        let (plugin, info) =
            tokio::time::timeout(timeout, work).await.map_err(|_| PipelineError::CompileTimeout(timeout))???;
        let meta = self
            .inner
            .storage
            .insert_plugin(NewPlugin {
                tenant_id: &upload.tenant_id,
                kind,
                name: &upload.name,
                version: &upload.version,
                hash: &validated.hash,
                bytes: &bytes,
                info: &info,
            })
            .await?;
        tracing::info!(tenant = %meta.tenant_id, plugin = %meta.name, version = %meta.version, kind = %kind, hash = %meta.hash, "Plugin uploaded.");
        self.remember(Loaded { plugin, meta: meta.clone() });
        Ok(meta)
    }

    /// Binds a plugin version to devices with a configuration, limits and,
    /// for optimizers, a schedule.
    pub async fn create_binding(&self, tenant_id: &str, request: BindingRequest) -> Result<Binding> {
        let plugin = self.inner.storage.plugin(tenant_id, &request.plugin_id).await?;
        if !request.config.is_object() {
            return Err(PipelineError::Invalid("config must be a JSON object".into()));
        }
        let plan = self.plan(tenant_id).await?;
        let limits = crate::quota::merge_limits(plugin.kind, plan.limits.as_ref(), request.limits.as_ref())?;
        let schedule_ms = match (plugin.kind, request.schedule_ms) {
            (PluginKind::Optimizer, None) => Some(60_000),
            (PluginKind::Optimizer, Some(ms)) if ms < MIN_SCHEDULE_MS => {
                return Err(PipelineError::Invalid(format!("schedule_ms must be at least {MIN_SCHEDULE_MS}")));
            }
            (PluginKind::Optimizer, Some(ms)) => Some(ms),
            (_, Some(_)) => return Err(PipelineError::Invalid("only optimizer bindings take a schedule_ms".into())),
            (_, None) => None,
        };
        if request.device_ids.is_empty() {
            return Err(PipelineError::Invalid("device_ids must name at least one device".into()));
        }
        let binding = self
            .inner
            .storage
            .insert_binding(NewBinding {
                tenant_id,
                plugin_id: &plugin.id,
                config: &request.config,
                limits: &limits,
                schedule_ms,
                propagate: request.propagate,
                device_ids: &request.device_ids,
            })
            .await?;
        tracing::info!(tenant = tenant_id, binding = %binding.id, plugin = %plugin.name, version = %plugin.version, devices = binding.device_ids.len(), "Binding created.");
        Ok(binding)
    }

    /// Loads every plugin of every enabled binding (start-up), so the first
    /// call does not compile. Returns how many were loaded.
    pub async fn preload(&self) -> Result<usize> {
        let mut count = 0;
        for binding in self.inner.storage.enabled_bindings().await? {
            self.loaded(&binding.tenant_id, &binding.plugin_id).await?;
            count += 1;
        }
        Ok(count)
    }

    /// The loaded plugin of a stored plugin id, loading it on first use.
    pub(crate) async fn loaded(&self, tenant_id: &str, plugin_id: &str) -> Result<Loaded> {
        if let Some(loaded) = self.inner.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(plugin_id) {
            return Ok(loaded.clone());
        }
        let meta = self.inner.storage.plugin(tenant_id, plugin_id).await?;
        let runtime = self.inner.runtime.clone();
        let bytes = if runtime.is_cached_on_disk(&meta.hash) {
            Vec::new()
        } else {
            self.inner.storage.plugin_bytes(tenant_id, plugin_id).await?
        };
        let (kind, hash) = (meta.kind, meta.hash.clone());
        let plugin = blocking(move || runtime.load_stored(kind, &hash, || bytes)).await??;
        let loaded = Loaded { plugin, meta };
        self.remember(loaded.clone());
        Ok(loaded)
    }

    fn remember(&self, loaded: Loaded) {
        let mut map = self.inner.loaded.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(loaded.meta.id.clone(), loaded);
    }

    /// Who caused an alarm transition: the binding and the plugin version.
    pub(crate) fn actor(binding: &Binding, loaded: &Loaded) -> String {
        format!("binding:{}/{}@{}", binding.id, loaded.meta.name, loaded.meta.version)
    }

    /// The context of one call of a binding about one device.
    pub(crate) async fn call_context(
        &self,
        loaded: &Loaded,
        binding: &Binding,
        device_id: &str,
        now: TimestampMs,
    ) -> Result<CallContext> {
        let state = self.inner.storage.plugin_state(&binding.id, device_id).await?;
        Ok(CallContext {
            plugin: PluginRef {
                tenant_id: binding.tenant_id.clone(),
                name: loaded.meta.name.clone(),
                version: loaded.meta.version.clone(),
            },
            binding_id: binding.id.clone(),
            device_id: device_id.to_string(),
            now,
            config: binding.config.to_string(),
            state,
            limits: binding.limits,
            telemetry: Arc::new(StorageReader::new(self.inner.storage.clone())),
        })
    }

    /// Runs a plugin call of a binding on a blocking thread and meters it;
    /// a failed call is recorded and its input (`payload`) kept as a dead
    /// letter before the error is handed back.
    pub(crate) async fn run_call<T: Send + 'static>(
        &self,
        binding: &Binding,
        loaded: &Loaded,
        device_id: &str,
        stage: &str,
        call: impl FnOnce() -> Result<CallOutcome<T>, CallFailure> + Send + 'static,
        payload: impl FnOnce() -> Vec<u8>,
    ) -> Result<Result<CallOutcome<T>, CallError>> {
        match blocking(call).await? {
            Ok(outcome) => {
                self.observe(binding, outcome.duration, outcome.fuel_used, None).await?;
                Ok(Ok(outcome))
            }
            Err(failure) => {
                self.record_failure(binding, loaded, device_id, stage, &failure, payload()).await?;
                self.observe(binding, failure.duration, failure.fuel_used, Some(&failure.error)).await?;
                Ok(Err(*failure.error))
            }
        }
    }

    /// Records a failed call and keeps its input as a dead letter.
    async fn record_failure(
        &self,
        binding: &Binding,
        loaded: &Loaded,
        device_id: &str,
        stage: &str,
        failure: &CallFailure,
        payload: Vec<u8>,
    ) -> Result<()> {
        let error = &failure.error;
        let now = nexus_model::now_ms();
        let storage = &self.inner.storage;
        if error.is_fault() {
            tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, code = error.code(), %error, "Plugin call failed.");
            storage
                .insert_plugin_run(&nexus_storage::PluginRun {
                    tenant_id: binding.tenant_id.clone(),
                    binding_id: Some(binding.id.clone()),
                    plugin: loaded.meta.name.clone(),
                    version: loaded.meta.version.clone(),
                    error_code: error.code().into(),
                    error: error.to_string(),
                    duration_us: failure.duration.as_micros() as i64,
                    fuel_used: i64::try_from(failure.fuel_used).unwrap_or(i64::MAX),
                    ts: now,
                })
                .await?;
        }
        storage
            .insert_dead_letter(&nexus_storage::DeadLetter {
                tenant_id: binding.tenant_id.clone(),
                binding_id: Some(binding.id.clone()),
                device_id: Some(device_id.to_string()),
                stage: stage.into(),
                error_code: error.code().into(),
                error: error.to_string(),
                payload,
                ts: now,
            })
            .await?;
        Ok(())
    }
}
