//! Calls into plugins: a fresh store per call with the binding's limits,
//! and every failure turned into a typed [`CallError`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nexus_model::{AlarmSignal, Frame, PluginInfo, PluginKind, Reading, Recommendation, WellContext};
use wasmtime::{Store, Trap};

use crate::convert;
use crate::engine::{Plugin, PluginPre, Runtime};
use crate::error::{CallError, CallFailure};
use crate::host_state::{CallContext, HostState};

/// The result of a successful call, with what it cost.
#[derive(Debug)]
pub struct CallOutcome<T> {
    /// What the plugin returned.
    pub output: T,
    /// The (binding, device) state after the call, if the plugin changed it.
    pub state: Option<BTreeMap<String, Vec<u8>>>,
    /// Wall time of the call, including instantiation.
    pub duration: Duration,
    /// Fuel used (0 without metering).
    pub fuel_used: u64,
    /// Log lines dropped by the rate limit.
    pub logs_dropped: u32,
    /// The host call the host refused for a limit, if any.
    pub host_limit: Option<String>,
}

impl Runtime {
    /// Calls `describe` of any kind of plugin.
    pub fn describe(&self, plugin: &Plugin, ctx: CallContext) -> Result<CallOutcome<PluginInfo>, CallFailure> {
        self.call(plugin, ctx, |store, pre| {
            Ok(match pre {
                PluginPre::Decoder(pre) => pre.instantiate(&mut *store)?.call_describe(&mut *store)?,
                PluginPre::AlarmRule(pre) => pre.instantiate(&mut *store)?.call_describe(&mut *store)?,
                PluginPre::Optimizer(pre) => pre.instantiate(&mut *store)?.call_describe(&mut *store)?,
            })
        })
        .map(|o| o.map(convert::info_from_wit))
    }

    /// Runs a decoder on one frame. Readings without a device get the frame's.
    pub fn decode(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        frame: &Frame,
    ) -> Result<CallOutcome<Vec<Reading>>, CallFailure> {
        let PluginPre::Decoder(pre) = &plugin.pre else {
            return Err(wrong_kind(&ctx, plugin, PluginKind::Decoder).into());
        };
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let wit_frame = convert::frame_to_wit(frame);
        let outcome =
            self.call(plugin, ctx, |store, _| pre.instantiate(&mut *store)?.call_decode(&mut *store, &wit_frame))?;
        let readings = guest_result(outcome, &plugin_ref, max)?;
        Ok(readings.map(|rs| {
            rs.into_iter()
                .map(|r| {
                    let mut reading = convert::reading_from_wit(r);
                    if reading.device_id.is_empty() {
                        reading.device_id = frame.device_id.clone();
                    }
                    reading
                })
                .collect()
        }))
    }

    /// Runs an alarm rule on a batch of readings of the context's device
    /// (passed as one series per key).
    pub fn evaluate(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        readings: &[Reading],
    ) -> Result<CallOutcome<Vec<AlarmSignal>>, CallFailure> {
        let PluginPre::AlarmRule(pre) = &plugin.pre else {
            return Err(wrong_kind(&ctx, plugin, PluginKind::AlarmRule).into());
        };
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let batch = convert::batch_to_wit(readings);
        let device_id = ctx.device_id.to_string();
        let outcome = self.call(plugin, ctx, |store, _| {
            pre.instantiate(&mut *store)?.call_evaluate(&mut *store, &device_id, &batch)
        })?;
        Ok(guest_result(outcome, &plugin_ref, max)?.map(|s| s.into_iter().map(convert::signal_from_wit).collect()))
    }

    /// Runs an optimizer on a well's context.
    pub fn optimize(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        well: &WellContext,
    ) -> Result<CallOutcome<Vec<Recommendation>>, CallFailure> {
        let PluginPre::Optimizer(pre) = &plugin.pre else {
            return Err(wrong_kind(&ctx, plugin, PluginKind::Optimizer).into());
        };
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let context = convert::context_to_wit(well);
        let outcome =
            self.call(plugin, ctx, |store, _| pre.instantiate(&mut *store)?.call_optimize(&mut *store, &context))?;
        Ok(guest_result(outcome, &plugin_ref, max)?
            .map(|rs| rs.into_iter().map(convert::recommendation_from_wit).collect()))
    }

    /// Runs `body` in a fresh store carrying the call's limits.
    fn call<T>(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        body: impl FnOnce(&mut Store<HostState>, &PluginPre) -> wasmtime::Result<T>,
    ) -> Result<CallOutcome<T>, CallFailure> {
        let inner = &self.inner;
        let limits = ctx.limits;
        let mut store = Store::new(&inner.engine, HostState::new(ctx));
        store.limiter(|state| &mut state.limiter);
        // Data the host lifts out of the guest in one call (arguments of
        // host calls, results) is bounded by the guest's own memory limit.
        store.set_hostcall_fuel(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX));
        if inner.config.epoch_interruption {
            let tick = inner.config.epoch_tick.as_millis().max(1) as u64;
            store.set_epoch_deadline(limits.deadline_ms.div_ceil(tick).max(1));
            store.epoch_deadline_trap();
        }
        let budget = limits.fuel.unwrap_or(u64::MAX);
        if inner.config.fuel_metering {
            // Setting fuel on a metering engine cannot fail.
            let _ = store.set_fuel(budget);
        }
        let started = Instant::now();
        let result = body(&mut store, &plugin.pre);
        let duration = started.elapsed();
        let fuel_used = if inner.config.fuel_metering { budget - store.get_fuel().unwrap_or(budget) } else { 0 };
        let state = store.into_data();
        match result {
            Ok(output) => Ok(CallOutcome {
                output,
                state: state.state_dirty.then_some(state.ctx.state),
                duration,
                fuel_used,
                logs_dropped: state.logs_dropped,
                host_limit: state.host_limit_hit,
            }),
            Err(error) => Err(CallFailure {
                error: Box::new(classify(error, &state, limits.fuel.unwrap_or(u64::MAX))),
                duration,
                fuel_used,
            }),
        }
    }
}

impl<T> CallOutcome<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> CallOutcome<U> {
        CallOutcome {
            output: f(self.output),
            state: self.state,
            duration: self.duration,
            fuel_used: self.fuel_used,
            logs_dropped: self.logs_dropped,
            host_limit: self.host_limit,
        }
    }
}

/// Unwraps the guest's own `result`, and enforces the output cap.
fn guest_result<T>(
    outcome: CallOutcome<Result<Vec<T>, crate::bindings::types::PluginError>>,
    plugin: &nexus_model::PluginRef,
    max: u32,
) -> Result<CallOutcome<Vec<T>>, CallFailure> {
    let fail = |error| CallFailure { error: Box::new(error), duration: outcome.duration, fuel_used: outcome.fuel_used };
    match outcome.output {
        Ok(ref items) if items.len() > max as usize => {
            Err(fail(CallError::OutputTooLarge { plugin: plugin.clone(), count: items.len(), max }))
        }
        Ok(_) => Ok(outcome.map(|o| o.unwrap_or_default())),
        Err(error) => match outcome.host_limit {
            Some(reason) => Err(fail(CallError::HostCallLimit { plugin: plugin.clone(), reason })),
            None => Err(fail(CallError::Plugin { plugin: plugin.clone(), error: convert::error_from_wit(error) })),
        },
    }
}

fn wrong_kind(ctx: &CallContext, plugin: &Plugin, wanted: PluginKind) -> CallError {
    CallError::Trap {
        plugin: ctx.plugin.clone(),
        code: format!("host error: a {} was called as a {wanted}", plugin.kind()),
    }
}

fn classify(error: wasmtime::Error, state: &HostState, fuel: u64) -> CallError {
    let plugin = state.ctx.plugin.clone();
    let limits = state.ctx.limits;
    if state.limiter.memory_exceeded {
        return CallError::MemoryLimit { plugin, limit_bytes: limits.memory_bytes };
    }
    if state.limiter.table_exceeded {
        return CallError::TableLimit { plugin, limit: limits.table_elements };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Timeout { plugin, deadline_ms: limits.deadline_ms },
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { plugin, fuel },
        Some(Trap::StackOverflow) => CallError::StackOverflow { plugin },
        Some(trap) => match &state.host_limit_hit {
            Some(reason) => CallError::HostCallLimit { plugin, reason: format!("{reason}; then {trap}") },
            None => CallError::Trap { plugin, code: trap.to_string() },
        },
        None => {
            let message = format!("{error:#}");
            if message.contains("hostcall") {
                CallError::HostCallLimit { plugin, reason: message }
            } else {
                CallError::Trap { plugin, code: message }
            }
        }
    }
}

impl From<CallError> for CallFailure {
    /// A failure before the plugin ran: no time or fuel spent in it.
    fn from(error: CallError) -> Self {
        Self { error: Box::new(error), duration: Duration::ZERO, fuel_used: 0 }
    }
}
