//! The state of one store: the call's context, its limiter and the host
//! interface implementation (log, time, config, state, telemetry).

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_model::{BindingId, DeviceId, Limits, PluginRef, Reading, TenantId, TimestampMs};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Most keys one (binding, device) state may hold.
const MAX_STATE_KEYS: usize = 256;

/// Why telemetry could not be read for a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TelemetryError {
    /// The device is not the calling tenant's.
    #[error("{0}")]
    Denied(String),
    /// Storage failed.
    #[error("{0}")]
    Unavailable(String),
}

/// Read-only telemetry, confined to one tenant, that plugins may query.
/// Implemented by the pipeline over storage; called from inside a plugin call.
pub trait TelemetryReader: Send + Sync {
    /// The latest reading of a key of a device of `tenant_id`.
    fn latest(
        &self,
        tenant_id: &TenantId,
        device_id: &DeviceId,
        key: &str,
    ) -> Result<Option<nexus_model::Reading>, TelemetryError>;
    /// Readings of a key in `[start, end)`, oldest first, at most `limit`.
    fn history(
        &self,
        tenant_id: &TenantId,
        device_id: &DeviceId,
        key: &str,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<nexus_model::Reading>, TelemetryError>;
    /// The newest stored forecast of a key of a device of `tenant_id`.
    fn forecast(
        &self,
        _tenant_id: &TenantId,
        _device_id: &DeviceId,
        _key: &str,
    ) -> Result<Option<nexus_model::Forecast>, TelemetryError> {
        Ok(None)
    }
}

/// A reader that sees nothing (for validation calls and tests).
pub struct NoTelemetry;

impl TelemetryReader for NoTelemetry {
    fn latest(&self, _: &TenantId, _: &DeviceId, _: &str) -> Result<Option<nexus_model::Reading>, TelemetryError> {
        Ok(None)
    }
    fn history(
        &self,
        _: &TenantId,
        _: &DeviceId,
        _: &str,
        _: i64,
        _: i64,
        _: u32,
    ) -> Result<Vec<nexus_model::Reading>, TelemetryError> {
        Ok(Vec::new())
    }
}

/// Everything one plugin call may see: the host hands it in, the plugin
/// reaches it only through the `host` interface.
pub struct CallContext {
    /// Which plugin, for which tenant (every telemetry read is confined to
    /// `plugin.tenant_id`).
    pub plugin: PluginRef,
    /// The binding being run.
    pub binding_id: BindingId,
    /// The device this call is about; state is scoped to it.
    pub device_id: DeviceId,
    /// The time `host.now` returns (virtual during replay).
    pub now: TimestampMs,
    /// The binding's configuration JSON.
    pub config: String,
    /// The (binding, device) state before the call.
    pub state: BTreeMap<String, Vec<u8>>,
    /// The call's limits.
    pub limits: Limits,
    /// Telemetry the plugin may read.
    pub telemetry: Arc<dyn TelemetryReader>,
}

/// Memory and table limiter that remembers which limit it enforced.
pub(crate) struct Limiter {
    pub(crate) limits: Limits,
    pub(crate) memory_exceeded: bool,
    pub(crate) table_exceeded: bool,
    /// Bytes of linear memory the store's instances hold (their initial
    /// sizes and every growth since).
    pub(crate) memory_held: usize,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.limits.memory_bytes {
            self.memory_exceeded = true;
            return Ok(false);
        }
        let grows = maximum.is_none_or(|max| desired <= max);
        if grows {
            self.memory_held += desired.saturating_sub(current);
        }
        Ok(grows)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.table_elements as usize {
            self.table_exceeded = true;
            return Ok(false);
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        self.limits.instances as usize
    }

    fn tables(&self) -> usize {
        self.limits.tables as usize
    }

    fn memories(&self) -> usize {
        self.limits.memories as usize
    }
}

/// The data of one store.
pub(crate) struct HostState {
    pub(crate) ctx: CallContext,
    pub(crate) state_dirty: bool,
    pub(crate) logs_left: u32,
    pub(crate) logs_dropped: u32,
    pub(crate) host_limit_hit: Option<String>,
    pub(crate) limiter: Limiter,
    /// Built on first use: most calls never touch WASI.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl HostState {
    pub(crate) fn new(ctx: CallContext) -> Self {
        let limiter = Limiter { limits: ctx.limits, memory_exceeded: false, table_exceeded: false, memory_held: 0 };
        Self {
            logs_left: ctx.limits.log_lines,
            ctx,
            state_dirty: false,
            logs_dropped: 0,
            host_limit_hit: None,
            limiter,
            wasi: None,
            table: ResourceTable::new(),
        }
    }

    /// Hands a kept store the next call's context, with every per-call
    /// count and limit reset (WASI and the resource table stay).
    pub(crate) fn begin(&mut self, ctx: CallContext) {
        // The memory a kept instance holds stays held.
        let memory_held = self.limiter.memory_held;
        self.limiter = Limiter { limits: ctx.limits, memory_exceeded: false, table_exceeded: false, memory_held };
        self.logs_left = ctx.limits.log_lines;
        self.ctx = ctx;
        self.state_dirty = false;
        self.logs_dropped = 0;
        self.host_limit_hit = None;
    }

    /// Lets go of what a kept store must not hold between calls: the
    /// telemetry reader (it reaches the services, which hold the plugin that
    /// holds this store: a cycle that would keep a stopped host alive).
    /// The binding, configuration and limits stay: they say whom it serves.
    pub(crate) fn park(&mut self) {
        static NOTHING: std::sync::LazyLock<Arc<dyn TelemetryReader>> =
            std::sync::LazyLock::new(|| Arc::new(NoTelemetry));
        self.ctx.telemetry = NOTHING.clone();
        self.ctx.state = BTreeMap::new();
    }

    /// The state after the call if the plugin changed it, taken out of the
    /// store so a kept store holds none of it.
    pub(crate) fn take_state(&mut self) -> Option<BTreeMap<String, Vec<u8>>> {
        let state = std::mem::take(&mut self.ctx.state);
        self.state_dirty.then_some(state)
    }

    fn cap(&self) -> usize {
        self.ctx.limits.host_call_bytes as usize
    }

    /// Remembers that a host call was refused for a limit, and why.
    fn refuse(&mut self, reason: String) -> Refused {
        self.host_limit_hit = Some(reason.clone());
        Refused::Limit(reason)
    }

    /// `host.log`: rate-limited, length-capped, and escaped so a guest
    /// cannot forge log lines (control characters are written as `\n`,
    /// `\u{1b}`, ...).
    fn log_line(&mut self, level: Level, message: &str) {
        if self.logs_left == 0 {
            self.logs_dropped += 1;
            return;
        }
        self.logs_left -= 1;
        let cap = self.cap();
        let mut end = message.len().min(cap);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        if end < message.len() {
            self.host_limit_hit = Some(format!("log line of {} bytes over the {cap}-byte cap", message.len()));
        }
        let mut line = message[..end].escape_debug().to_string();
        if end < message.len() {
            line.push_str("… (truncated)");
        }
        let plugin = &self.ctx.plugin;
        let binding = self.ctx.binding_id.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "nexus::plugin", %plugin, binding, "{line}"),
            Level::Debug => tracing::debug!(target: "nexus::plugin", %plugin, binding, "{line}"),
            Level::Info => tracing::info!(target: "nexus::plugin", %plugin, binding, "{line}"),
            Level::Warn => tracing::warn!(target: "nexus::plugin", %plugin, binding, "{line}"),
            Level::Error => tracing::error!(target: "nexus::plugin", %plugin, binding, "{line}"),
        }
    }

    fn state_write(&mut self, key: String, value: Vec<u8>) -> Result<(), Refused> {
        let cap = self.cap();
        if key.len() + value.len() > cap {
            return Err(
                self.refuse(format!("state value of {} bytes over the {cap}-byte cap", key.len() + value.len()))
            );
        }
        if !self.ctx.state.contains_key(&key) && self.ctx.state.len() >= MAX_STATE_KEYS {
            return Err(self.refuse(format!("state holds {MAX_STATE_KEYS} keys already")));
        }
        self.ctx.state.insert(key, value);
        self.state_dirty = true;
        Ok(())
    }

    fn state_remove(&mut self, key: &str) {
        if self.ctx.state.remove(key).is_some() {
            self.state_dirty = true;
        }
    }

    /// `host.latest`, bounded in the bytes it builds like `host.history`: the
    /// reading is counted as its key, its text and 32 bytes, and one over
    /// the host-call cap is refused (`limit-exceeded`), not returned.
    fn latest_reading(&mut self, device_id: String, key: &str) -> Result<Option<Reading>, Refused> {
        let cap = self.cap();
        let reading = self
            .ctx
            .telemetry
            .latest(&self.ctx.plugin.tenant_id, &DeviceId::new(device_id), key)
            .map_err(Refused::from)?;
        let bytes = reading.as_ref().map_or(0, |r| row_bytes(&r.key, &r.value));
        if bytes > cap {
            return Err(self.refuse(format!("latest reading of {bytes} bytes over the {cap}-byte cap")));
        }
        Ok(reading)
    }

    /// `host.forecast`, bounded like `host.latest`: a forecast is counted
    /// as its key, unit and model text and 32 bytes per point, and one over
    /// the host-call cap is refused (`limit-exceeded`).
    fn stored_forecast(&mut self, device_id: String, key: &str) -> Result<Option<nexus_model::Forecast>, Refused> {
        let cap = self.cap();
        let forecast = self
            .ctx
            .telemetry
            .forecast(&self.ctx.plugin.tenant_id, &DeviceId::new(device_id), key)
            .map_err(Refused::from)?;
        let bytes = forecast.as_ref().map_or(0, |f| {
            f.key.len() + f.unit.len() + f.model.to_string().len() + 32 * f.points.len().saturating_add(1)
        });
        if bytes > cap {
            return Err(self.refuse(format!("forecast of {bytes} bytes over the {cap}-byte cap")));
        }
        Ok(forecast)
    }

    /// `host.history`, bounded in rows and in the bytes it builds: a row is
    /// counted as its key, its text and 32 bytes; rows past the host-call
    /// cap are not returned.
    fn history_readings(
        &mut self,
        device_id: String,
        key: &str,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>, Refused> {
        let cap = self.cap();
        let per_row = row_bytes(key, &nexus_model::Value::Boolean(false));
        let limit = limit.min(u32::try_from(cap / per_row).unwrap_or(u32::MAX)).max(1);
        let rows = self
            .ctx
            .telemetry
            .history(&self.ctx.plugin.tenant_id, &DeviceId::new(device_id), key, start, end, limit)
            .map_err(Refused::from)?;
        let mut bytes = 0;
        Ok(rows
            .into_iter()
            .take_while(|r| {
                bytes += row_bytes(key, &r.value);
                bytes <= cap
            })
            .collect())
    }
}

/// What a reading handed to a guest is counted as: its key, its text and
/// 32 bytes (timestamp, number, quality and framing).
fn row_bytes(key: &str, value: &nexus_model::Value) -> usize {
    32 + key.len() + if let nexus_model::Value::Text(t) = value { t.len() } else { 0 }
}

/// The log levels of either contract version.
#[derive(Clone, Copy)]
enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Why a host call was refused, before it is a `host-error` of a version.
enum Refused {
    Limit(String),
    Denied(String),
    Unavailable(String),
}

impl From<TelemetryError> for Refused {
    fn from(e: TelemetryError) -> Self {
        match e {
            TelemetryError::Denied(m) => Refused::Denied(m),
            TelemetryError::Unavailable(m) => Refused::Unavailable(m),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Deny-all WASI for std guests: no args, env, preopens or sockets;
        // stdio goes nowhere; randomness is a fixed sequence so replays repeat.
        let wasi = self.wasi.get_or_insert_with(|| {
            WasiCtx::builder()
                .secure_random(wasmtime_wasi::Deterministic::new(vec![7, 31, 73, 127]))
                .insecure_random(wasmtime_wasi::Deterministic::new(vec![11, 37, 79, 131]))
                .insecure_random_seed(0x004e_6578_7573)
                .build()
        });
        WasiCtxView { ctx: wasi, table: &mut self.table }
    }
}

/// The `host` interface of one contract version, over the shared core.
macro_rules! host_impl {
    ($version:ident, $history:ty, $to_history:expr, $reading_to_wit:path $(, $extra:item)*) => {
        impl crate::bindings::$version::types::Host for HostState {}

        impl crate::bindings::$version::host::Host for HostState {
            fn log(&mut self, level: crate::bindings::$version::host::LogLevel, message: String) {
                use crate::bindings::$version::host::LogLevel as L;
                let level = match level {
                    L::Trace => Level::Trace,
                    L::Debug => Level::Debug,
                    L::Info => Level::Info,
                    L::Warn => Level::Warn,
                    L::Error => Level::Error,
                };
                self.log_line(level, &message);
            }

            fn now(&mut self) -> TimestampMs {
                self.ctx.now
            }

            fn config(&mut self) -> String {
                self.ctx.config.clone()
            }

            fn state_get(&mut self, key: String) -> Option<Vec<u8>> {
                self.ctx.state.get(&key).cloned()
            }

            fn state_set(
                &mut self,
                key: String,
                value: Vec<u8>,
            ) -> Result<(), crate::bindings::$version::host::HostError> {
                self.state_write(key, value).map_err(Into::into)
            }

            fn state_delete(&mut self, key: String) {
                self.state_remove(&key);
            }

            fn latest(
                &mut self,
                device_id: String,
                key: String,
            ) -> Result<Option<crate::bindings::$version::types::Reading>, crate::bindings::$version::host::HostError>
            {
                Ok(self.latest_reading(device_id, &key)?.as_ref().map($reading_to_wit))
            }

            fn history(
                &mut self,
                device_id: String,
                key: String,
                start: TimestampMs,
                end: TimestampMs,
                limit: u32,
            ) -> Result<$history, crate::bindings::$version::host::HostError> {
                let rows = self.history_readings(device_id, &key, start, end, limit)?;
                Ok($to_history(rows))
            }

            $($extra)*
        }

        impl From<Refused> for crate::bindings::$version::host::HostError {
            fn from(refused: Refused) -> Self {
                use crate::bindings::$version::host::HostError as E;
                match refused {
                    Refused::Limit(m) => E::LimitExceeded(m),
                    Refused::Denied(m) => E::Denied(m),
                    Refused::Unavailable(m) => E::Unavailable(m),
                }
            }
        }
    };
}

host_impl!(
    v02,
    Vec<crate::bindings::v02::types::Series>,
    |rows: Vec<Reading>| nexus_model::series_of(&rows).iter().map(crate::convert::v02::series_to_wit).collect(),
    crate::convert::v02::reading_to_wit,
    fn latest_forecast(
        &mut self,
        device_id: String,
        key: String,
    ) -> Result<Option<crate::bindings::v02::types::Forecast>, crate::bindings::v02::host::HostError> {
        Ok(self.stored_forecast(device_id, &key)?.map(crate::convert::v02::forecast_to_wit))
    }
);
host_impl!(
    v01,
    Vec<crate::bindings::v01::types::Reading>,
    |rows: Vec<Reading>| rows.iter().map(crate::convert::v01::reading_to_wit).collect(),
    crate::convert::v01::reading_to_wit
);

#[cfg(test)]
mod tests {
    use nexus_model::{PluginKind, Value};

    use super::*;

    /// A reader whose every key's latest value is a text of `len` bytes.
    struct TextOf(usize);

    impl TelemetryReader for TextOf {
        fn latest(&self, _: &TenantId, device: &DeviceId, key: &str) -> Result<Option<Reading>, TelemetryError> {
            let value = Value::Text("x".repeat(self.0));
            Ok(Some(Reading { device_id: device.clone(), key: key.into(), ts: 1, value, quality: 1.0 }))
        }
        fn history(
            &self,
            _: &TenantId,
            _: &DeviceId,
            _: &str,
            _: i64,
            _: i64,
            _: u32,
        ) -> Result<Vec<Reading>, TelemetryError> {
            Ok(Vec::new())
        }
    }

    fn state(text_len: usize, cap: u32) -> HostState {
        let mut limits = Limits::for_kind(PluginKind::AlarmRule);
        limits.host_call_bytes = cap;
        HostState::new(CallContext {
            plugin: nexus_model::PluginRef { tenant_id: "t".into(), name: "p".into(), version: "1".into() },
            binding_id: BindingId::new("b"),
            device_id: DeviceId::new("d"),
            now: 0,
            config: "{}".into(),
            state: BTreeMap::new(),
            limits,
            telemetry: Arc::new(TextOf(text_len)),
        })
    }

    #[test]
    fn latest_is_bounded_in_bytes() {
        // 32 + "k" + 900 bytes fits in 1000.
        let mut small = state(900, 1000);
        assert!(matches!(small.latest_reading("d".into(), "k"), Ok(Some(_))));
        assert!(small.host_limit_hit.is_none());
        // 32 + "k" + 1000 bytes does not: refused, and remembered as a limit hit.
        let mut large = state(1000, 1000);
        match large.latest_reading("d".into(), "k") {
            Err(Refused::Limit(reason)) => assert!(reason.contains("1033 bytes over the 1000-byte cap"), "{reason}"),
            _ => panic!("a latest reading over the cap was returned"),
        }
        assert!(large.host_limit_hit.is_some());
    }
}
