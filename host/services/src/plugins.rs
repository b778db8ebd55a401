//! Uploading plugins, binding them, hot swap, re-enabling after a
//! quarantine and metering.

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_model::{
    Actor, AutoApprove, Binding, BindingId, CronSchedule, DeviceId, Limits, Page, PluginKind, PluginRef, PluginVersion,
    PluginVersionId, QuotaKind, TenantId, Usage,
};
use nexus_runtime::{CallContext, NoTelemetry};
use nexus_storage::{NewBinding, NewPlugin};
use serde::Deserialize;

use crate::calls::Loaded;
use crate::health::BindingMetrics;
use crate::quota::merge_limits;
use crate::{Inner, Refusal, Result, ServiceError, blocking};

/// Largest component a tenant uploads unless its profile says otherwise
/// (10 MiB).
pub const MAX_COMPONENT_BYTES: usize = nexus_registry::DEFAULT_MAX_COMPONENT_BYTES;
/// The system ceiling of components (64 MiB): the most a tenant profile
/// may allow, and the cap of vendors' releases (a JavaScript component
/// built with componentize-js is about 12 MB).
pub const MAX_COMPONENT_BYTES_CEILING: usize = 64 << 20;

/// A component upload.
pub struct Upload {
    /// Owning tenant.
    pub tenant_id: TenantId,
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
    pub plugin_id: PluginVersionId,
    /// Devices it applies to.
    pub device_ids: Vec<DeviceId>,
    /// Configuration JSON handed to the plugin.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    /// Overrides of the kind's default limits, e.g. `{"deadline_ms": 20}`.
    #[serde(default)]
    pub limits: Option<serde_json::Value>,
    /// Optimizers and forecasters: run every `schedule_ms` (default 60 000;
    /// a forecaster 3 600 000).
    #[serde(default)]
    pub schedule_ms: Option<i64>,
    /// Optimizers and forecasters: run at the times of this cron expression
    /// instead (five fields), in `schedule_tz`.
    #[serde(default)]
    pub schedule_cron: Option<String>,
    /// The IANA time zone of `schedule_cron` (default `UTC`).
    #[serde(default)]
    pub schedule_tz: Option<String>,
    /// Optimizers and field optimizers: recommendations inside this band
    /// are approved by the host (default none: an operator decides).
    #[serde(default)]
    pub auto_approve: Option<AutoApprove>,
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

/// Shortest optimizer interval accepted.
const MIN_SCHEDULE_MS: i64 = 100;

/// Plugins and bindings. Cheap to clone.
#[derive(Clone)]
pub struct PluginService(pub(crate) Arc<Inner>);

impl PluginService {
    /// Validates, compiles, type-checks and describes a component, then
    /// stores it. Nothing is stored, and nothing compiled is cached, if any
    /// step fails: the compiled plugin enters the runtime's caches only
    /// once the upload is stored.
    ///
    /// The compile waits (bounded by `compile_wait`, else `compile-busy`)
    /// for the tenant's turn and a shared slot, and is refused with
    /// `compile-timeout` after `compile_timeout`.
    pub async fn upload(&self, upload: Upload, by: &Actor) -> Result<PluginVersion> {
        let inner = &self.0;
        nexus_registry::validate_name(&upload.name)?;
        nexus_registry::validate_version(&upload.version)?;
        let limit = self.upload_limit(&upload.tenant_id).await?;
        let validated = nexus_registry::validate_component(&upload.bytes, limit)?;
        let plugin_ref = PluginRef {
            tenant_id: upload.tenant_id.clone(),
            name: upload.name.clone(),
            version: upload.version.clone(),
        };
        let kind = upload.kind;
        // Over the quota, nothing is compiled (checked again, under the
        // quota's lock, before the insert).
        drop(inner.quota_turn(&upload.tenant_id, QuotaKind::Plugins).await?);
        let bytes = Arc::new(upload.bytes);
        let (staged, info) = compile_and_describe(inner, &upload.tenant_id, kind, bytes.clone(), plugin_ref).await?;
        let now = inner.now();
        let new = NewPlugin {
            tenant_id: &upload.tenant_id,
            kind,
            name: &upload.name,
            version: &upload.version,
            hash: &validated.hash,
            bytes: &bytes,
            info: &info,
            contract: staged.plugin().contract(),
        };
        let turn = inner.quota_turn(&upload.tenant_id, QuotaKind::Plugins).await?;
        let meta = inner.store.insert_plugin(&new, by, now).await?;
        drop(turn);
        let runtime = inner.runtime.clone();
        let plugin = blocking(move || runtime.keep(staged)).await?;
        inner.wake_outbox();
        tracing::info!(tenant = %meta.tenant_id, plugin = %meta.name, version = %meta.version, %kind, hash = %meta.hash, "Plugin uploaded.");
        inner.remember(Loaded { plugin, meta: meta.clone() });
        Ok(meta)
    }

    /// A page of the tenant's plugin versions.
    pub async fn list(&self, tenant: &TenantId, page: &Page) -> Result<Vec<PluginVersion>> {
        Ok(self.0.store.plugins(tenant, page).await?)
    }

    /// One plugin version.
    pub async fn get(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<PluginVersion> {
        Ok(self.0.store.plugin(tenant, id).await?)
    }

    /// Binds a plugin version to devices with a configuration, limits and,
    /// for optimizers, a schedule.
    pub async fn bind(&self, tenant: &TenantId, request: BindingRequest, by: &Actor) -> Result<Binding> {
        let inner = &self.0;
        let plugin = inner.store.plugin(tenant, &request.plugin_id).await?;
        if let Some(release) = &plugin.release_id {
            crate::releases::usable(&inner.store.release(release).await?)?;
        }
        if !request.config.is_object() {
            return Err(ServiceError::Invalid("config must be a JSON object".into()));
        }
        let profile = inner.profile(tenant).await?;
        let limits =
            merge_limits(plugin.kind, profile.limits.as_ref(), request.limits.as_ref(), &inner.config.limit_ceilings)?;
        let scheduled = plugin.kind.is_scheduled();
        let schedule_cron = match (&request.schedule_cron, &request.schedule_tz) {
            (None, None) => None,
            (None, Some(_)) => return Err(ServiceError::Invalid("schedule_tz goes with a schedule_cron".into())),
            (Some(_), _) if !scheduled => {
                return Err(ServiceError::Invalid(
                    "only optimizer, field-optimizer and forecaster bindings take a schedule_cron".into(),
                ));
            }
            (Some(_), _) if request.schedule_ms.is_some() => {
                return Err(ServiceError::Invalid("give schedule_ms or schedule_cron, not both".into()));
            }
            (Some(expression), tz) => {
                let cron = CronSchedule {
                    expression: expression.trim().to_string(),
                    time_zone: tz.clone().unwrap_or_else(|| "UTC".into()),
                };
                crate::schedule::parse_cron(&cron).map_err(ServiceError::Invalid)?;
                Some(cron)
            }
        };
        if let Some(policy) = &request.auto_approve {
            check_auto_approve(plugin.kind, policy)?;
        }
        let schedule_ms = match (scheduled, request.schedule_ms) {
            (true, None) if schedule_cron.is_some() => None,
            (true, None) => Some(crate::optimizers::default_schedule_ms(plugin.kind)),
            (true, Some(ms)) if ms < MIN_SCHEDULE_MS => {
                return Err(ServiceError::Invalid(format!("schedule_ms must be at least {MIN_SCHEDULE_MS}")));
            }
            (true, Some(ms)) => Some(ms),
            (false, Some(_)) => {
                return Err(ServiceError::Invalid(
                    "only optimizer, field-optimizer and forecaster bindings take a schedule_ms".into(),
                ));
            }
            (false, None) => None,
        };
        if request.device_ids.is_empty() {
            return Err(ServiceError::Invalid("device_ids must name at least one device".into()));
        }
        let new = NewBinding {
            tenant_id: tenant,
            plugin_id: &plugin.id,
            config: &request.config,
            limits: &limits,
            schedule_ms,
            schedule_cron,
            auto_approve: request.auto_approve.clone(),
            propagate: request.propagate,
            device_ids: &request.device_ids,
        };
        let turn = inner.quota_turn(tenant, QuotaKind::Bindings).await?;
        let binding = inner.store.insert_binding(&new, by, inner.now()).await?;
        drop(turn);
        inner.caches.forget_bindings(tenant);
        inner.wake_outbox();
        tracing::info!(%tenant, binding = %binding.id, plugin = %plugin.name, version = %plugin.version, devices = binding.device_ids.len(), "Binding created.");
        Ok(binding)
    }

    /// The largest component the tenant may upload: its profile's
    /// `max_component_bytes`, else [`MAX_COMPONENT_BYTES`].
    pub async fn upload_limit(&self, tenant: &TenantId) -> Result<usize> {
        let profile = self.0.profile(tenant).await?;
        Ok(profile.max_component_bytes.map_or(MAX_COMPONENT_BYTES, |n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// A page of the tenant's bindings, oldest first.
    pub async fn bindings(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Binding>> {
        Ok(self.0.store.bindings(tenant, page).await?)
    }

    /// One binding.
    pub async fn binding(&self, tenant: &TenantId, id: &BindingId) -> Result<Binding> {
        Ok(self.0.store.binding(tenant, id).await?)
    }

    /// Points a binding at another version of its plugin (hot swap): the
    /// batch in flight finishes on the old version, the next runs the new.
    /// A vendor's release that was yanked or revoked is refused.
    pub async fn swap(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        plugin: &PluginVersionId,
        by: &Actor,
    ) -> Result<Binding> {
        self.switch(tenant, id, plugin, false, by).await
    }

    /// Points a binding back at the version it ran before its last switch,
    /// like a swap (no input is lost or run twice). A yanked release may be
    /// rolled back to; a revoked one may not.
    pub async fn rollback(&self, tenant: &TenantId, id: &BindingId, by: &Actor) -> Result<Binding> {
        let binding = self.0.store.binding(tenant, id).await?;
        let previous = binding.previous_plugin_id.ok_or_else(|| ServiceError::Refused {
            code: "no-previous-version",
            refusal: Refusal::Conflict,
            message: format!("binding `{id}` has not switched versions: there is nothing to roll back to"),
        })?;
        self.switch(tenant, id, &previous, true, by).await
    }

    async fn switch(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        plugin: &PluginVersionId,
        rollback: bool,
        by: &Actor,
    ) -> Result<Binding> {
        if self.0.store.binding(tenant, id).await?.rollout.is_some() {
            return Err(crate::rollouts::rollout_in_progress(id));
        }
        let version = self.0.store.plugin(tenant, plugin).await?;
        if let Some(release) = &version.release_id {
            let release = self.0.store.release(release).await?;
            if !(rollback && release.status == nexus_model::ReleaseStatus::Yanked) {
                crate::releases::usable(&release)?;
            }
        }
        // Load (compile) the new version before the switch, so the next
        // batch does not wait for it.
        self.0.loaded(tenant, plugin).await?;
        let binding = self.0.store.swap_binding_plugin(tenant, id, plugin, by, self.0.now()).await?;
        self.0.caches.forget_bindings(tenant);
        self.0.wake_outbox();
        tracing::info!(%tenant, binding = %id, %plugin, rollback, "Binding switched to another plugin version.");
        Ok(binding)
    }

    /// Re-enables a binding (after quarantine) and closes its breaker.
    pub async fn enable(&self, tenant: &TenantId, id: &BindingId, by: &Actor) -> Result<Binding> {
        if let Some(left) = self.0.meters.backoff_left(id, self.0.now()) {
            // Checked before the store: a binding of another tenant is not
            // metered under this id for this tenant's caller to probe.
            let _ = self.0.store.binding(tenant, id).await?;
            return Err(ServiceError::BackingOff {
                message: format!("binding `{id}` tripped its breaker {left} ms too recently to be re-enabled"),
                retry_after_s: u32::try_from((left + 999) / 1_000).unwrap_or(u32::MAX),
            });
        }
        let binding = self.0.store.enable_binding(tenant, id, by, self.0.now()).await?;
        self.0.caches.forget_bindings(tenant);
        self.0.meters.reset(id);
        self.0.wake_outbox();
        tracing::info!(%tenant, binding = %id, "Binding re-enabled.");
        Ok(binding)
    }

    /// Sets or (with `None`) removes an optimizer binding's auto-approve
    /// policy.
    pub async fn set_auto_approve(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        policy: Option<AutoApprove>,
        by: &Actor,
    ) -> Result<Binding> {
        let binding = self.0.store.binding(tenant, id).await?;
        if let Some(policy) = &policy {
            check_auto_approve(binding.kind, policy)?;
        }
        let binding = self.0.store.set_auto_approve(tenant, id, policy.as_ref(), by, self.0.now()).await?;
        self.0.caches.forget_bindings(tenant);
        self.0.wake_outbox();
        tracing::info!(%tenant, binding = %id, on = binding.auto_approve.is_some(), "Auto-approve policy set.");
        Ok(binding)
    }

    /// Lifts the quarantine of one device's input to a binding and closes
    /// its breaker.
    pub async fn release_device(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        device: &DeviceId,
        by: &Actor,
    ) -> Result<Binding> {
        let binding = self.0.store.release_device(tenant, id, device, by, self.0.now()).await?;
        self.0.caches.forget_bindings(tenant);
        self.0.meters.reset_device(id, device);
        self.0.wake_outbox();
        tracing::info!(%tenant, binding = %id, %device, "A device's input to a binding released.");
        Ok(binding)
    }

    /// Loads every plugin of every enabled binding (start-up), so the first
    /// call does not compile. Returns how many were loaded.
    pub async fn preload(&self) -> Result<usize> {
        let mut count = 0;
        for binding in self.0.store.enabled_bindings().await? {
            self.0.loaded(&binding.tenant_id, &binding.plugin_id).await?;
            count += 1;
        }
        Ok(count)
    }

    /// The tenant's use this month.
    pub async fn usage(&self, tenant: &TenantId) -> Result<Usage> {
        self.0.usage(tenant).await
    }

    /// The tenant's per-binding counters since the host started.
    pub fn metering(&self, tenant: &TenantId) -> Vec<BindingMetrics> {
        self.0.meters.of_tenant(tenant)
    }
}

/// Compiles a component in `scope`'s turn (a tenant, or a vendor's
/// publishing scope), type-checks it against `kind`'s world and calls its
/// `describe`. Nothing enters the runtime's caches until the caller keeps
/// the staged plugin.
///
/// The compile waits (bounded by `compile_wait`, else `compile-busy`)
/// for the scope's turn and a shared slot, and is refused with
/// `compile-timeout` after `compile_timeout`.
pub(crate) async fn compile_and_describe(
    inner: &Inner,
    scope: &TenantId,
    kind: PluginKind,
    component: Arc<Vec<u8>>,
    plugin_ref: PluginRef,
) -> Result<(nexus_runtime::Staged, nexus_model::PluginInfo)> {
    let runtime = inner.runtime.clone();
    let tenant = scope.clone();
    // Held until the compile really ends (a compiler process is killed
    // at the timeout; an in-process compile runs on).
    let turn = inner.compiles.turn(&tenant).await?;
    let timeout = inner.config.compile_timeout;
    let now = inner.now();
    let work = blocking(move || -> Result<_> {
        let _turn = turn;
        let staged = runtime.stage(&tenant, kind, &component, timeout)?;
        let ctx = CallContext {
            plugin: plugin_ref,
            binding_id: BindingId::default(),
            device_id: DeviceId::default(),
            now,
            config: "{}".into(),
            state: BTreeMap::new(),
            limits: Limits::for_kind(kind),
            telemetry: Arc::new(NoTelemetry),
        };
        let info = runtime.describe(staged.plugin(), ctx).map_err(|f| describe_failed(&f.error))?.output;
        Ok((staged, info))
    });
    // A compiler process is killed at the timeout and reaped before the
    // work ends, so the answer waits for that (a little past the
    // timeout) and nothing of the compile is left when it comes. An
    // in-process compile runs on: the wait ends a grace after the
    // timeout, and the work's result (the staged plugin) is dropped with
    // it, leaving nothing behind.
    let outcome = tokio::time::timeout(timeout + KILL_GRACE, work).await.map_err(|_| compile_timeout(timeout))??;
    outcome.map_err(|e| match e {
        ServiceError::Refused { code: "compile-timeout", .. } => compile_timeout(timeout),
        e => e,
    })
}

/// How long past the compile timeout an upload waits for its compiler
/// process to be killed and reaped.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

fn compile_timeout(timeout: std::time::Duration) -> ServiceError {
    ServiceError::Refused {
        code: "compile-timeout",
        refusal: crate::Refusal::Unprocessable,
        message: format!("compiling the component took longer than {timeout:?}; it is refused"),
    }
}

fn describe_failed(error: &nexus_runtime::CallError) -> ServiceError {
    ServiceError::Refused {
        code: "describe-failed",
        refusal: crate::Refusal::Unprocessable,
        message: format!("the component's describe call failed: {error}"),
    }
}

/// An auto-approve policy goes only on optimizer and field-optimizer
/// bindings, and must be sound.
fn check_auto_approve(kind: PluginKind, policy: &AutoApprove) -> Result<()> {
    if !matches!(kind, PluginKind::Optimizer | PluginKind::FieldOptimizer) {
        return Err(ServiceError::Invalid(
            "only optimizer and field-optimizer bindings take an auto_approve policy".into(),
        ));
    }
    policy.check().map_err(ServiceError::Invalid)
}
