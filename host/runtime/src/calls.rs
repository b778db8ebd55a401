//! Calls into plugins: the binding's limits set on every call, a warm
//! instance of the binding or a fresh store, and every failure turned into
//! a typed [`CallError`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nexus_model::{
    AlarmSignal, FieldContext, FieldPlan, Forecast, Frame, Limits, PluginInfo, PluginKind, PluginRef, Reading,
    Recommendation, Series, WellContext,
};
use wasmtime::{Store, Trap};

use crate::bindings::v02::types as v02wit;
use crate::convert::{v01, v02};
use crate::engine::{Plugin, PluginPre, Runtime};
use crate::error::{CallError, CallFailure};
use crate::host_state::{CallContext, HostState};
use crate::warm::{Warm, WarmPool};

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

/// What a decoder made of a frame: the frame's device's telemetry, and rows
/// a 0.1.0 decoder addressed to another device (which the host refuses).
#[derive(Debug, Default)]
pub struct Decoded {
    /// The frame's device's telemetry.
    pub series: Vec<Series>,
    /// Rows naming another device (0.1.0 decoders only).
    pub foreign: Vec<Reading>,
}

impl Runtime {
    /// Calls `describe` of any kind of plugin.
    pub fn describe(&self, plugin: &Plugin, ctx: CallContext) -> Result<CallOutcome<PluginInfo>, CallFailure> {
        macro_rules! describe {
            ($pre:expr, $convert:path) => {
                self.call(ctx, |s| $pre.instantiate(&mut *s)?.call_describe(&mut *s)).map(|o| o.map($convert))
            };
        }
        match &plugin.pre {
            PluginPre::Decoder(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::AlarmRule(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::Transform(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::Optimizer(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::FieldOptimizer(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::Forecaster(pre) => describe!(pre, v02::info_from_wit),
            PluginPre::Decoder01(pre) => describe!(pre, v01::info_from_wit),
            PluginPre::AlarmRule01(pre) => describe!(pre, v01::info_from_wit),
            PluginPre::Optimizer01(pre) => describe!(pre, v01::info_from_wit),
        }
    }

    /// Runs a decoder on one frame.
    pub fn decode(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        frame: &Frame,
    ) -> Result<CallOutcome<Decoded>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        match &plugin.pre {
            PluginPre::Decoder(pre) => {
                let wit_frame = v02::frame_to_wit(frame);
                let outcome = self.call_warm(
                    &plugin.warm.decoders,
                    ctx,
                    |s| pre.instantiate(s),
                    |decoder, s| decoder.call_decode(s, &wit_frame),
                    Result::is_ok,
                )?;
                let outcome = guest_result(outcome, &plugin_ref, v02::error_from_wit)?;
                check_samples(&outcome, &plugin_ref, max, |series: &Vec<v02wit::Series>| {
                    series.iter().map(|s| s.ts.len()).sum()
                })?;
                Ok(outcome.map(|series| Decoded {
                    series: series.into_iter().map(v02::series_from_wit).collect(),
                    foreign: Vec::new(),
                }))
            }
            PluginPre::Decoder01(pre) => {
                let wit_frame = v01::frame_to_wit(frame);
                let outcome = self.call(ctx, |s| pre.instantiate(&mut *s)?.call_decode(&mut *s, &wit_frame))?;
                let outcome = guest_result(outcome, &plugin_ref, v01::error_from_wit)?;
                check_samples(&outcome, &plugin_ref, max, Vec::len)?;
                Ok(outcome.map(|rows| {
                    let (own, foreign): (Vec<Reading>, Vec<Reading>) = rows
                        .into_iter()
                        .map(v01::reading_from_wit)
                        .map(|mut r| {
                            if r.device_id.is_empty() {
                                r.device_id.clone_from(&frame.device_id);
                            }
                            r
                        })
                        .partition(|r| r.device_id == frame.device_id);
                    Decoded { series: nexus_model::series_of(&own), foreign }
                }))
            }
            _ => Err(wrong_kind(&plugin_ref, plugin, PluginKind::Decoder).into()),
        }
    }

    /// Runs an alarm rule on a batch of the context's device, one series per
    /// key (and value type), each oldest first.
    pub fn evaluate(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        batch: &[Series],
    ) -> Result<CallOutcome<Vec<AlarmSignal>>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let device_id = ctx.device_id.to_string();
        let outcome = match &plugin.pre {
            PluginPre::AlarmRule(pre) => {
                let batch: Vec<v02wit::Series> = batch.iter().map(v02::series_to_wit).collect();
                let outcome = self.call_warm(
                    &plugin.warm.rules,
                    ctx,
                    |s| pre.instantiate(s),
                    |rule, s| rule.call_evaluate(s, &device_id, &batch),
                    Result::is_ok,
                )?;
                guest_result(outcome, &plugin_ref, v02::error_from_wit)?
                    .map(|s| s.into_iter().map(v02::signal_from_wit).collect::<Vec<_>>())
            }
            PluginPre::AlarmRule01(pre) => {
                let batch = v01::batch_to_wit(batch);
                let outcome =
                    self.call(ctx, |s| pre.instantiate(&mut *s)?.call_evaluate(&mut *s, &device_id, &batch))?;
                guest_result(outcome, &plugin_ref, v01::error_from_wit)?
                    .map(|s| s.into_iter().map(v01::signal_from_wit).collect::<Vec<_>>())
            }
            _ => return Err(wrong_kind(&plugin_ref, plugin, PluginKind::AlarmRule).into()),
        };
        check_samples(&outcome, &plugin_ref, max, Vec::len)?;
        Ok(outcome)
    }

    /// Runs a transform on a batch of the context's device; returns the
    /// derived telemetry.
    pub fn transform(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        batch: &[Series],
    ) -> Result<CallOutcome<Vec<Series>>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let device_id = ctx.device_id.to_string();
        let PluginPre::Transform(pre) = &plugin.pre else {
            return Err(wrong_kind(&plugin_ref, plugin, PluginKind::Transform).into());
        };
        let batch: Vec<v02wit::Series> = batch.iter().map(v02::series_to_wit).collect();
        let outcome = self.call_warm(
            &plugin.warm.transforms,
            ctx,
            |s| pre.instantiate(s),
            |transform, s| transform.call_transform(s, &device_id, &batch),
            Result::is_ok,
        )?;
        let outcome = guest_result(outcome, &plugin_ref, v02::error_from_wit)?;
        check_samples(&outcome, &plugin_ref, max, |series: &Vec<v02wit::Series>| {
            series.iter().map(|s| s.ts.len()).sum()
        })?;
        Ok(outcome.map(|series| series.into_iter().map(v02::series_from_wit).collect()))
    }

    /// Runs an optimizer on a well's context.
    pub fn optimize(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        well: &WellContext,
    ) -> Result<CallOutcome<Vec<Recommendation>>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let outcome = match &plugin.pre {
            PluginPre::Optimizer(pre) => {
                let context = v02::context_to_wit(well);
                let outcome = self.call(ctx, |s| pre.instantiate(&mut *s)?.call_optimize(&mut *s, &context))?;
                guest_result(outcome, &plugin_ref, v02::error_from_wit)?
                    .map(|r| r.into_iter().map(v02::recommendation_from_wit).collect::<Vec<_>>())
            }
            PluginPre::Optimizer01(pre) => {
                let context = v01::context_to_wit(well);
                let outcome = self.call(ctx, |s| pre.instantiate(&mut *s)?.call_optimize(&mut *s, &context))?;
                guest_result(outcome, &plugin_ref, v01::error_from_wit)?
                    .map(|r| r.into_iter().map(v01::recommendation_from_wit).collect::<Vec<_>>())
            }
            _ => return Err(wrong_kind(&plugin_ref, plugin, PluginKind::Optimizer).into()),
        };
        check_samples(&outcome, &plugin_ref, max, Vec::len)?;
        Ok(outcome)
    }

    /// Runs a field optimizer on a group of wells.
    pub fn optimize_field(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        field: &FieldContext,
    ) -> Result<CallOutcome<FieldPlan>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let PluginPre::FieldOptimizer(pre) = &plugin.pre else {
            return Err(wrong_kind(&plugin_ref, plugin, PluginKind::FieldOptimizer).into());
        };
        let context = v02::field_to_wit(field);
        let outcome = self.call(ctx, |s| pre.instantiate(&mut *s)?.call_optimize_field(&mut *s, &context))?;
        let outcome = guest_result(outcome, &plugin_ref, v02::error_from_wit)?;
        check_samples(&outcome, &plugin_ref, max, |plan: &v02wit::FieldPlan| plan.recommendations.len())?;
        Ok(outcome.map(v02::plan_from_wit))
    }

    /// Runs a forecaster on a well's context.
    pub fn forecast(
        &self,
        plugin: &Plugin,
        ctx: CallContext,
        well: &WellContext,
    ) -> Result<CallOutcome<Vec<Forecast>>, CallFailure> {
        let plugin_ref = ctx.plugin.clone();
        let max = ctx.limits.max_output;
        let PluginPre::Forecaster(pre) = &plugin.pre else {
            return Err(wrong_kind(&plugin_ref, plugin, PluginKind::Forecaster).into());
        };
        let context = v02::context_to_wit(well);
        let outcome = self.call(ctx, |s| pre.instantiate(&mut *s)?.call_forecast(&mut *s, &context))?;
        let outcome = guest_result(outcome, &plugin_ref, v02::error_from_wit)?;
        check_samples(&outcome, &plugin_ref, max, |f: &Vec<v02wit::Forecast>| f.iter().map(|f| f.points.len()).sum())?;
        Ok(outcome.map(|f| f.into_iter().map(v02::forecast_from_wit).collect()))
    }

    /// Runs `body` in a fresh store carrying the call's limits.
    fn call<T>(
        &self,
        ctx: CallContext,
        body: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<CallOutcome<T>, CallFailure> {
        let limits = ctx.limits;
        let mut store = self.fresh_store(ctx);
        let (result, duration, fuel_used) = self.run(&mut store, limits, body);
        match result {
            Ok(output) => Ok(outcome(output, store.data_mut(), duration, fuel_used)),
            Err(error) => Err(failure(error, store.data(), duration, fuel_used)),
        }
    }

    /// Runs `body` on an instance of `ctx`'s binding kept from its last
    /// clean call, or on one `instantiate` makes in a fresh store; keeps the
    /// instance afterwards if the call ended cleanly, refused no host call
    /// and `clean` says its output is no error (see `warm.rs`).
    fn call_warm<I, T>(
        &self,
        pool: &WarmPool<I>,
        ctx: CallContext,
        instantiate: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<I>,
        body: impl FnOnce(&I, &mut Store<HostState>) -> wasmtime::Result<T>,
        clean: impl FnOnce(&T) -> bool,
    ) -> Result<CallOutcome<T>, CallFailure> {
        let limits = ctx.limits;
        let (mut store, kept) = match pool.take(&ctx) {
            Some(Warm { mut store, instance }) => {
                store.data_mut().begin(ctx);
                self.inner.reused.fetch_add(1, Ordering::Relaxed);
                (store, Some(instance))
            }
            None => (self.fresh_store(ctx), None),
        };
        let (result, duration, fuel_used) = self.run(&mut store, limits, |store| {
            let instance = match kept {
                Some(instance) => instance,
                None => instantiate(store)?,
            };
            let output = body(&instance, store)?;
            Ok((instance, output))
        });
        match result {
            Ok((instance, output)) => {
                let keep = clean(&output) && store.data().host_limit_hit.is_none();
                let outcome = outcome(output, store.data_mut(), duration, fuel_used);
                if keep {
                    store.data_mut().park();
                    pool.put(Warm { store, instance });
                }
                Ok(outcome)
            }
            Err(error) => Err(failure(error, store.data(), duration, fuel_used)),
        }
    }

    /// A store for one call, with the call's context and limiter.
    fn fresh_store(&self, ctx: CallContext) -> Store<HostState> {
        self.inner.instantiated.fetch_add(1, Ordering::Relaxed);
        let mut store = Store::new(&self.inner.engine, HostState::new(ctx));
        store.limiter(|state| &mut state.limiter);
        store
    }

    /// Sets the call's limits on `store` and runs `body`: its result, wall
    /// time and fuel used.
    fn run<T>(
        &self,
        store: &mut Store<HostState>,
        limits: Limits,
        body: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> (wasmtime::Result<T>, Duration, u64) {
        let config = &self.inner.config;
        // Data the host lifts out of the guest in one call (arguments of
        // host calls, results) is bounded by the guest's own memory limit.
        store.set_hostcall_fuel(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX));
        if config.epoch_interruption {
            let tick = config.epoch_tick.as_millis().max(1) as u64;
            store.set_epoch_deadline(limits.deadline_ms.div_ceil(tick).max(1));
            store.epoch_deadline_trap();
        }
        let budget = limits.fuel.unwrap_or(u64::MAX);
        if config.fuel_metering {
            // Setting fuel on a metering engine cannot fail.
            let _ = store.set_fuel(budget);
        }
        let started = Instant::now();
        let result = body(store);
        let duration = started.elapsed();
        let fuel_used = if config.fuel_metering { budget - store.get_fuel().unwrap_or(budget) } else { 0 };
        (result, duration, fuel_used)
    }
}

/// A successful call's outcome, with the state taken out of the store.
fn outcome<T>(output: T, state: &mut HostState, duration: Duration, fuel_used: u64) -> CallOutcome<T> {
    CallOutcome {
        output,
        state: state.take_state(),
        duration,
        fuel_used,
        logs_dropped: state.logs_dropped,
        host_limit: state.host_limit_hit.take(),
    }
}

/// A failed call, classified.
fn failure(error: wasmtime::Error, state: &HostState, duration: Duration, fuel_used: u64) -> CallFailure {
    let fuel = state.ctx.limits.fuel.unwrap_or(u64::MAX);
    CallFailure { error: Box::new(classify(error, state, fuel)), duration, fuel_used }
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

/// Unwraps the guest's own `result`: its error is the plugin rejecting its
/// input (or, if the host refused one of its host calls first, a host-call
/// limit fault).
fn guest_result<T, E>(
    outcome: CallOutcome<Result<T, E>>,
    plugin: &PluginRef,
    error_from_wit: impl FnOnce(E) -> nexus_model::PluginError,
) -> Result<CallOutcome<T>, CallFailure> {
    let CallOutcome { output, state, duration, fuel_used, logs_dropped, host_limit } = outcome;
    let fail = |error| CallFailure { error: Box::new(error), duration, fuel_used };
    match output {
        Ok(output) => Ok(CallOutcome { output, state, duration, fuel_used, logs_dropped, host_limit }),
        Err(error) => match host_limit {
            Some(reason) => Err(fail(CallError::HostCallLimit { plugin: plugin.clone(), reason })),
            None => Err(fail(CallError::Plugin { plugin: plugin.clone(), error: error_from_wit(error) })),
        },
    }
}

/// Enforces the output cap: items (readings, signals, recommendations) one
/// call may return.
fn check_samples<T>(
    outcome: &CallOutcome<T>,
    plugin: &PluginRef,
    max: u32,
    count: impl FnOnce(&T) -> usize,
) -> Result<(), CallFailure> {
    let items = count(&outcome.output);
    if items > max as usize {
        return Err(CallFailure {
            error: Box::new(CallError::OutputTooLarge { plugin: plugin.clone(), count: items, max }),
            duration: outcome.duration,
            fuel_used: outcome.fuel_used,
        });
    }
    Ok(())
}

fn wrong_kind(plugin_ref: &PluginRef, plugin: &Plugin, wanted: PluginKind) -> CallError {
    CallError::Trap {
        plugin: plugin_ref.clone(),
        code: format!("host error: a {} was called as a {wanted}", plugin.kind()),
    }
}

fn classify(error: wasmtime::Error, state: &HostState, fuel: u64) -> CallError {
    let plugin = state.ctx.plugin.clone();
    let limits = state.ctx.limits;
    if let Some(busy) = error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        // Other calls hold every pooled slot: the host's condition.
        return CallError::HostBusy { plugin, reason: busy.to_string() };
    }
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
