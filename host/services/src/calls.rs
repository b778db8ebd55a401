//! Plugin calls of a binding: the loaded plugin, the call's context, and a
//! call's outcome turned into effects — metered use, and for a failure a
//! failed-run record, a dead letter with its input and, when the circuit
//! breaker trips, a quarantine — all committed with the rest of the unit of
//! work.

use std::sync::Arc;

use nexus_model::{
    Actor, Binding, DeadLetter, DeviceId, PluginRef, PluginRun, PluginVersion, PluginVersionId, Stage, TenantId,
    TimestampMs, month_of,
};
use nexus_runtime::{CallContext, CallError, CallFailure, CallOutcome, Plugin};
use nexus_storage::{Effects, Quarantine};

use crate::health::Trip;
use crate::reader::StoreReader;
use crate::{Inner, Result, blocking};

/// A compiled plugin with its stored description.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) plugin: Arc<Plugin>,
    pub(crate) meta: PluginVersion,
}

/// One call of a binding about a device, at a stage of the pipeline.
pub(crate) struct Call<'a> {
    pub(crate) binding: &'a Binding,
    pub(crate) loaded: &'a Loaded,
    pub(crate) device: &'a DeviceId,
    pub(crate) stage: Stage,
}

thread_local! {
    /// Set on the ingest batch's worker threads, which are blocking threads
    /// already: plugin calls there run inline, without a thread hand-off
    /// (two context switches) per call.
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (on a blocking thread) with plugin calls made inline.
pub(crate) fn with_inline_calls<T>(f: impl FnOnce() -> T) -> T {
    INLINE.with(|inline| inline.set(true));
    let out = f();
    INLINE.with(|inline| inline.set(false));
    out
}

impl Inner {
    /// The loaded plugin of a stored version, loading it on first use.
    pub(crate) async fn loaded(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<Loaded> {
        if let Some(loaded) = self.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(loaded.clone());
        }
        let meta = self.store.plugin(tenant, id).await?;
        let runtime = self.runtime.clone();
        // A vendor's release is read from the component store and checked
        // (digest, key, signature) on every load, compiled or not.
        let bytes = if let Some(release) = &meta.release_id {
            crate::releases::verified_bytes(self, &self.store.release(release).await?).await?
        } else if runtime.is_cached_on_disk(tenant, &meta.hash) {
            Vec::new()
        } else {
            self.store.plugin_bytes(tenant, id).await?
        };
        let (kind, hash, tenant) = (meta.kind, meta.hash.clone(), tenant.clone());
        let plugin = blocking(move || runtime.load_stored(kind, &tenant, &hash, || bytes)).await??;
        let loaded = Loaded { plugin, meta };
        self.remember(loaded.clone());
        Ok(loaded)
    }

    pub(crate) fn remember(&self, loaded: Loaded) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).insert(loaded.meta.id.clone(), loaded);
    }

    /// The context of one call of a binding about one device.
    /// The state a call starts from: what this unit of work already wrote
    /// for the (binding, device), else the cached committed state, else
    /// storage.
    pub(crate) async fn call_context(
        &self,
        loaded: &Loaded,
        binding: &Binding,
        device: &DeviceId,
        now: TimestampMs,
        pending: &Effects,
    ) -> Result<CallContext> {
        let written = pending.states.iter().rev().find(|w| w.binding_id == binding.id && &w.device_id == device);
        let state = match written {
            Some(write) => write.state.clone(),
            None => match self.caches.state(&binding.id, device) {
                Some(state) => state,
                None => {
                    let state = self.store.plugin_state(&binding.tenant_id, &binding.id, device).await?;
                    self.caches.remember_state(&binding.id, device, state.clone());
                    state
                }
            },
        };
        Ok(CallContext {
            plugin: PluginRef {
                tenant_id: binding.tenant_id.clone(),
                name: loaded.meta.name.clone(),
                version: loaded.meta.version.clone(),
            },
            binding_id: binding.id.clone(),
            device_id: device.clone(),
            now,
            config: binding.config.to_string(),
            state,
            limits: binding.limits,
            telemetry: Arc::new(StoreReader::new(self.store.clone())),
        })
    }

    /// Why a call of `binding` about `device` must not run now, as a dead
    /// letter's code and reason: the device's input to the binding is
    /// quarantined, or the tenant's monthly quota is used up.
    pub(crate) async fn refusal(
        &self,
        binding: &Binding,
        device: &DeviceId,
        effects: &Effects,
    ) -> Option<(&'static str, String)> {
        if let Some(reason) = binding.quarantined_devices.get(device) {
            return Some(("device-quarantined", reason.clone()));
        }
        match self.check_quota(&binding.tenant_id, effects).await.err()? {
            error @ crate::ServiceError::QuotaExceeded { .. } => Some(("quota-exceeded", error.to_string())),
            error => Some(("host-unavailable", error.to_string())),
        }
    }

    /// A slot of the tenant's share of concurrent plugin calls, waiting at
    /// most the configured bound for one (fair: first come, first served
    /// within the tenant; other tenants' calls never wait on it).
    async fn call_permit(&self, tenant: &TenantId) -> std::result::Result<tokio::sync::OwnedSemaphorePermit, String> {
        let share = {
            let known = self.shares.lock().unwrap_or_else(|e| e.into_inner()).get(tenant).cloned();
            match known {
                Some(share) => share,
                None => {
                    let profile = self.profile(tenant).await.map_err(|e| e.to_string())?;
                    let size =
                        profile.max_concurrent_calls.map_or(self.config.tenant_call_share, |n| n as usize).max(1);
                    let mut shares = self.shares.lock().unwrap_or_else(|e| e.into_inner());
                    shares.entry(tenant.clone()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(size))).clone()
                }
            }
        };
        match tokio::time::timeout(self.config.capacity_wait, share.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(format!(
                "all of tenant `{tenant}`'s concurrent plugin calls stayed in use for {} ms",
                self.config.capacity_wait.as_millis()
            )),
        }
    }

    /// Runs a plugin call on a blocking thread, within its tenant's share
    /// of concurrent calls (a share still in use after the bounded wait
    /// fails the call with a host condition, `capacity-exhausted`), and
    /// meters its fuel into `effects`. A failure is handed back as it is:
    /// [`Inner::run_call`] records it, a rollout's candidate call counts it.
    pub(crate) async fn invoke<T: Send + 'static>(
        &self,
        effects: &mut Effects,
        call: &Call<'_>,
        run: impl FnOnce() -> std::result::Result<CallOutcome<T>, CallFailure> + Send + 'static,
    ) -> Result<std::result::Result<CallOutcome<T>, CallFailure>> {
        let binding = call.binding;
        let span = call_span(call);
        let result = match self.call_permit(&binding.tenant_id).await {
            Ok(permit) => {
                let result = if INLINE.with(std::cell::Cell::get) {
                    span.in_scope(run)
                } else {
                    let span = span.clone();
                    blocking(move || span.in_scope(run)).await?
                };
                drop(permit);
                result
            }
            Err(reason) => Err(CallFailure::from(CallError::HostBusy {
                plugin: PluginRef {
                    tenant_id: binding.tenant_id.clone(),
                    name: call.loaded.meta.name.clone(),
                    version: call.loaded.meta.version.clone(),
                },
                reason,
            })),
        };
        let month = month_of(self.now());
        match &result {
            Ok(outcome) => {
                span.record("outcome", "ok").record("fuel", outcome.fuel_used);
                effects.meter(&month, outcome.fuel_used);
            }
            Err(failure) => {
                span.record("outcome", failure.error.code()).record("fuel", failure.fuel_used);
                effects.meter(&month, failure.fuel_used);
            }
        };
        Ok(result)
    }

    /// Runs a plugin call as [`Inner::invoke`] does. A failure also adds a
    /// failed-run record (for a fault), a dead letter holding `payload()`,
    /// and a quarantine if a breaker trips, before the error is handed back.
    pub(crate) async fn run_call<T: Send + 'static>(
        &self,
        effects: &mut Effects,
        call: Call<'_>,
        run: impl FnOnce() -> std::result::Result<CallOutcome<T>, CallFailure> + Send + 'static,
        payload: impl FnOnce() -> Vec<u8>,
    ) -> Result<std::result::Result<CallOutcome<T>, CallError>> {
        let now = self.now();
        let binding = call.binding;
        let result = self.invoke(effects, &call, run).await?;
        match result {
            Ok(outcome) => {
                self.meters.observe(binding, call.device, now, outcome.duration, outcome.fuel_used, None);
                Ok(Ok(outcome))
            }
            Err(failure) => {
                let error = &*failure.error;
                if error.is_fault() {
                    tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, code = error.code(), %error, "Plugin call failed.");
                    effects.plugin_runs.push(failed_run(&call, &failure, now));
                }
                let error = *failure.error;
                effects.dead_letters.push(DeadLetter {
                    tenant_id: binding.tenant_id.clone(),
                    binding_id: Some(binding.id.clone()),
                    device_id: Some(call.device.clone()),
                    stage: call.stage,
                    error_code: error.code().into(),
                    error: error.to_string(),
                    payload: payload(),
                    ts: now,
                });
                let trip =
                    self.meters.observe(binding, call.device, now, failure.duration, failure.fuel_used, Some(&error));
                if let Some(Trip { device, reason }) = trip {
                    match &device {
                        None => tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, %reason,
                            "Binding quarantined by the circuit breaker."),
                        Some(device) => tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, %device,
                            %reason, "A device's input to a binding quarantined by the circuit breaker."),
                    }
                    effects.quarantines.push(Quarantine { binding_id: binding.id.clone(), device_id: device, reason });
                }
                Ok(Err(error))
            }
        }
    }
}

/// The span of one plugin call: whose plugin, which binding, which world
/// and function, about which device; `outcome` (`ok` or the error's code)
/// and `fuel` are recorded when it returns.
fn call_span(call: &Call<'_>) -> tracing::Span {
    let (binding, meta) = (call.binding, &call.loaded.meta);
    tracing::info_span!(
        "plugin_call",
        tenant = %binding.tenant_id,
        binding = %binding.id,
        plugin = %meta.name,
        version = %meta.version,
        world = meta.kind.as_str(),
        function = call.stage.as_str(),
        device = %call.device,
        outcome = tracing::field::Empty,
        fuel = tracing::field::Empty,
    )
}

/// The record of a call that faulted.
pub(crate) fn failed_run(call: &Call<'_>, failure: &CallFailure, now: TimestampMs) -> PluginRun {
    let error = &failure.error;
    PluginRun {
        tenant_id: call.binding.tenant_id.clone(),
        binding_id: Some(call.binding.id.clone()),
        device_id: Some(call.device.clone()),
        plugin: call.loaded.meta.name.clone(),
        version: call.loaded.meta.version.clone(),
        error_code: error.code().into(),
        error: error.to_string(),
        duration_us: i64::try_from(failure.duration.as_micros()).unwrap_or(i64::MAX),
        fuel_used: i64::try_from(failure.fuel_used).unwrap_or(i64::MAX),
        ts: now,
    }
}

/// Who caused an alarm transition: the binding and its plugin version.
pub(crate) fn actor(binding: &Binding, loaded: &Loaded) -> Actor {
    Actor::Rule {
        binding_id: binding.id.clone(),
        plugin: loaded.meta.name.clone(),
        version: loaded.meta.version.clone(),
    }
}

/// A dead letter for input not processed for a reason of the host's (a
/// quota, a quarantine), not a plugin's.
pub(crate) fn refused_letter(
    binding: &Binding,
    device: &DeviceId,
    stage: Stage,
    code: &str,
    reason: String,
    payload: Vec<u8>,
    now: TimestampMs,
) -> DeadLetter {
    DeadLetter {
        tenant_id: binding.tenant_id.clone(),
        binding_id: Some(binding.id.clone()),
        device_id: Some(device.clone()),
        stage,
        error_code: code.into(),
        error: reason,
        payload,
        ts: now,
    }
}
