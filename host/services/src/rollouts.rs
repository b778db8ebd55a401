//! Rollouts of a new version on an alarm-rule binding: a canary on a share
//! of its devices, or a shadow beside the version in use.
//!
//! - A **canary** candidate's call about a device of its share is the
//!   device's evaluation: its state and signals are applied. When it faults
//!   (or cannot be loaded) the fault is recorded against the candidate, and
//!   the same batch runs on the version in use, so every reading is still
//!   evaluated by exactly one version and nothing goes to a dead letter or
//!   counts toward the binding's circuit breaker.
//! - A **shadow** candidate runs after the version in use on the same
//!   batch, from its own state (kept in memory, seeded with the binding's),
//!   and nothing of it is applied: its alarm signals are compared with the
//!   version in use's (as a set), and a difference is a `disagreement`
//!   event (the first [`REPORTED_DISAGREEMENTS`] of a rollout carry both
//!   outputs; all are counted).
//!
//! The tallies are kept in memory ([`Rollouts`]); after each candidate call
//! the policy's [`nexus_model::Rollout::verdict`] is asked. A verdict takes
//! effect at once on this host (the binding's next batches run only the
//! version in use until the step is written) and is written, with its event,
//! after the unit of work that reached it commits. A host restarted during a
//! rollout starts its tallies from zero; the window keeps its start time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use nexus_model::{
    Actor, AlarmSignal, Binding, BindingId, DeviceId, PluginKind, PluginVersionId, Rollout, RolloutEvent, RolloutMode,
    RolloutStep, RolloutTally, Series, Stage, TenantId, TimestampMs, Verdict,
};
use nexus_storage::{Effects, RolloutChange, SignalWrite, StateWrite};
use serde::Deserialize;

use crate::calls::{Call, actor, failed_run};
use crate::plugins::PluginService;
use crate::{Inner, Refusal, Result, ServiceError};

/// Disagreement events of one rollout that carry both outputs; later ones
/// are counted only.
pub const REPORTED_DISAGREEMENTS: u32 = 20;

/// A request to roll a new version out on a binding.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    /// The candidate version (same kind as the binding's).
    pub plugin_id: PluginVersionId,
    /// `canary` or `shadow`.
    pub mode: RolloutMode,
    /// Canary: the share of devices, 1–99 (default 25).
    #[serde(default)]
    pub percent: Option<u8>,
    /// How long the candidate is watched before it is promoted, ms
    /// (default 600 000).
    #[serde(default)]
    pub window_ms: Option<i64>,
    /// Rolled back when the candidate's fault rate exceeds this (default
    /// 0.05).
    #[serde(default)]
    pub max_fault_rate: Option<f64>,
    /// Shadow: rolled back when its disagreement rate exceeds this
    /// (default 0.05).
    #[serde(default)]
    pub max_disagreement_rate: Option<f64>,
    /// Calls before a rate is judged (default 20).
    #[serde(default)]
    pub min_calls: Option<u32>,
}

/// A rollout in progress with what its candidate did on this host.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutStatus {
    /// The rollout.
    pub rollout: Rollout,
    /// Its candidate's calls, faults and comparisons since it started (or
    /// since this host started).
    pub tally: RolloutTally,
}

/// One rollout watched on this host.
#[derive(Default)]
struct Watch {
    started: TimestampMs,
    tally: RolloutTally,
    /// Decided (and maybe written): the binding runs the version in use
    /// only, even where a cached copy of it still shows the rollout.
    ending: Option<Verdict>,
    /// Ended by hand.
    closed: bool,
    reported: u32,
    /// Shadow: the candidate's own state per device.
    states: HashMap<DeviceId, BTreeMap<String, Vec<u8>>>,
}

/// A decided ending to write after the commit.
struct Ending {
    tenant: TenantId,
    binding: BindingId,
    plugin: PluginVersionId,
    rollout: Rollout,
    verdict: Verdict,
    tally: RolloutTally,
}

/// The rollouts running on this host, by binding.
#[derive(Default)]
pub(crate) struct Rollouts {
    watches: Mutex<HashMap<BindingId, Watch>>,
    endings: Mutex<Vec<Ending>>,
}

impl Rollouts {
    fn with<T>(&self, binding: &BindingId, rollout: &Rollout, f: impl FnOnce(&mut Watch) -> T) -> T {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let watch = watches.entry(binding.clone()).or_default();
        if watch.started != rollout.started_time {
            *watch = Watch { started: rollout.started_time, ..Watch::default() };
        }
        f(watch)
    }

    /// The binding's rollout, unless it is ending.
    fn running<'a>(&self, binding: &'a Binding) -> Option<&'a Rollout> {
        let rollout = binding.rollout.as_ref()?;
        self.with(&binding.id, rollout, |w| w.ending.is_none() && !w.closed).then_some(rollout)
    }

    fn tally(&self, binding: &BindingId, rollout: &Rollout) -> RolloutTally {
        self.with(binding, rollout, |w| w.tally)
    }

    /// Counts a candidate call and asks the policy; a verdict is queued for
    /// writing once.
    fn count(&self, binding: &Binding, rollout: &Rollout, now: TimestampMs, f: impl FnOnce(&mut RolloutTally)) {
        let ending = self.with(&binding.id, rollout, |w| {
            f(&mut w.tally);
            if w.ending.is_some() || w.closed {
                return None;
            }
            let verdict = rollout.verdict(&w.tally, now)?;
            w.ending = Some(verdict.clone());
            w.states.clear();
            Some(Ending {
                tenant: binding.tenant_id.clone(),
                binding: binding.id.clone(),
                plugin: binding.plugin_id.clone(),
                rollout: rollout.clone(),
                verdict,
                tally: w.tally,
            })
        });
        if let Some(ending) = ending {
            tracing::info!(tenant = %ending.tenant, binding = %ending.binding, verdict = ?ending.verdict, "Rollout decided.");
            self.endings.lock().unwrap_or_else(|e| e.into_inner()).push(ending);
        }
    }

    fn forget(&self, binding: &BindingId) {
        self.watches.lock().unwrap_or_else(|e| e.into_inner()).remove(binding);
    }

    /// Ends the rollout on this host (its watch stays, so a copy of the
    /// binding cached before the end cannot start it again).
    fn close(&self, binding: &BindingId, rollout: &Rollout) {
        self.with(binding, rollout, |w| {
            w.closed = true;
            w.states.clear();
        });
    }
}

/// The event of a step of `binding`'s rollout.
fn step_event(
    binding: &BindingId,
    plugin: &PluginVersionId,
    rollout: &Rollout,
    step: RolloutStep,
    actor: Actor,
    tally: RolloutTally,
    reason: Option<String>,
) -> RolloutEvent {
    RolloutEvent {
        binding_id: binding.clone(),
        step,
        actor,
        mode: rollout.mode,
        plugin_id: plugin.clone(),
        candidate_plugin_id: rollout.candidate_plugin_id.clone(),
        tally,
        reason,
        device_id: None,
        outputs: None,
    }
}

/// Alarm signals as a comparable set.
fn signal_set(signals: &[AlarmSignal]) -> Vec<String> {
    let mut set: Vec<String> = signals.iter().filter_map(|s| serde_json::to_string(s).ok()).collect();
    set.sort();
    set
}

impl Inner {
    /// The rule's signals for `device`, checked and added to `effects` as
    /// `binding`'s (by the version `loaded`); returns those added.
    pub(crate) fn add_signals(
        &self,
        effects: &mut Effects,
        binding: &Binding,
        loaded: &crate::calls::Loaded,
        device: &DeviceId,
        output: Vec<AlarmSignal>,
    ) -> Vec<AlarmSignal> {
        let actor = actor(binding, loaded);
        let mut added = Vec::with_capacity(output.len());
        for mut signal in output {
            if signal.device_id.is_empty() {
                signal.device_id = device.clone();
            }
            if !crate::validate::signal_is_valid(&signal, device) {
                tracing::warn!(binding = %binding.id, %device, signal_device = %signal.device_id, alarm_type = %signal.alarm_type, "Ignoring an alarm signal for another device or without a type.");
                continue;
            }
            added.push(signal.clone());
            effects.signals.push(SignalWrite {
                binding_id: binding.id.clone(),
                actor: actor.clone(),
                propagate: binding.propagate,
                signal,
            });
        }
        added
    }

    /// The binding's rollout if it is running and, for a canary, whether
    /// `device` is in its share.
    pub(crate) fn rollout_of<'a>(&self, binding: &'a Binding, device: &DeviceId) -> Option<(&'a Rollout, bool)> {
        let rollout = self.rollouts.running(binding)?;
        Some((rollout, rollout.runs_candidate(&binding.id, device)))
    }

    /// A canary's candidate evaluates `device`'s batch: its state and
    /// signals are applied and `true` is returned; when it faults, or
    /// cannot be loaded, the fault is recorded against it and `false` says
    /// the version in use must evaluate the batch instead.
    pub(crate) async fn canary_evaluate(
        &self,
        effects: &mut Effects,
        binding: &Binding,
        rollout: &Rollout,
        device: &DeviceId,
        batch: &std::sync::Arc<Vec<Series>>,
    ) -> Result<bool> {
        let Some(outcome) = self.candidate_call(effects, binding, rollout, device, batch, None).await? else {
            return Ok(false);
        };
        let (loaded, outcome) = outcome;
        if let Some(state) = outcome.state {
            effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.clone(), state });
        }
        self.add_signals(effects, binding, &loaded, device, outcome.output);
        Ok(true)
    }

    /// A shadow candidate runs on the batch the version in use evaluated
    /// into `applied`, from its own state (`seed`, the state the batch
    /// started from, the first time); its output is compared, never
    /// applied.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn shadow_evaluate(
        &self,
        effects: &mut Effects,
        binding: &Binding,
        rollout: &Rollout,
        device: &DeviceId,
        batch: &std::sync::Arc<Vec<Series>>,
        applied: &[AlarmSignal],
        seed: BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        let state = self.rollouts.with(&binding.id, rollout, |w| w.states.get(device).cloned()).unwrap_or(seed);
        let Some((loaded, outcome)) =
            self.candidate_call(effects, binding, rollout, device, batch, Some(state)).await?
        else {
            return Ok(());
        };
        let mut shadow = Effects::new(&binding.tenant_id, effects.now);
        let candidate = self.add_signals(&mut shadow, binding, &loaded, device, outcome.output);
        let differs = signal_set(&candidate) != signal_set(applied);
        let report = self.rollouts.with(&binding.id, rollout, |w| {
            if let Some(state) = outcome.state {
                w.states.insert(device.clone(), state);
            }
            let report = differs && w.reported < REPORTED_DISAGREEMENTS;
            w.reported += u32::from(report);
            report
        });
        self.rollouts.count(binding, rollout, effects.now, |t| {
            t.comparisons += 1;
            t.disagreements += u64::from(differs);
        });
        if report {
            let tally = self.rollouts.tally(&binding.id, rollout);
            let mut event = step_event(
                &binding.id,
                &binding.plugin_id,
                rollout,
                RolloutStep::Disagreement,
                Actor::system("rollout"),
                tally,
                None,
            );
            event.device_id = Some(device.clone());
            event.outputs = Some(serde_json::json!({"in_use": applied, "candidate": candidate}));
            effects.rollout_events.push(event);
        }
        Ok(())
    }

    /// Calls the candidate on the batch, from `state` (shadow) or the
    /// binding's state (canary), counting the call; `None` when it faulted
    /// (recorded), could not be loaded (recorded) or found no capacity.
    async fn candidate_call(
        &self,
        effects: &mut Effects,
        binding: &Binding,
        rollout: &Rollout,
        device: &DeviceId,
        batch: &std::sync::Arc<Vec<Series>>,
        state: Option<BTreeMap<String, Vec<u8>>>,
    ) -> Result<Option<(crate::calls::Loaded, nexus_runtime::CallOutcome<Vec<AlarmSignal>>)>> {
        let now = effects.now;
        let loaded = match self.loaded(&binding.tenant_id, &rollout.candidate_plugin_id).await {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, %error, "A rollout's candidate cannot be loaded.");
                self.rollouts.count(binding, rollout, now, |t| {
                    t.calls += 1;
                    t.faults += 1;
                });
                return Ok(None);
            }
        };
        let mut ctx = self.call_context(&loaded, binding, device, self.now(), effects).await?;
        if rollout.mode == RolloutMode::Shadow {
            ctx.state = state.unwrap_or(ctx.state);
        }
        let (runtime, plugin, call_batch) = (self.runtime.clone(), loaded.plugin.clone(), batch.clone());
        let call = Call { binding, loaded: &loaded, device, stage: Stage::Evaluate };
        let result = self.invoke(effects, &call, move || runtime.evaluate(&plugin, ctx, &call_batch)).await?;
        match result {
            Ok(outcome) => {
                self.rollouts.count(binding, rollout, now, |t| t.calls += 1);
                Ok(Some((loaded, outcome)))
            }
            Err(failure) if failure.error.is_fault() => {
                tracing::warn!(tenant = %binding.tenant_id, binding = %binding.id, code = failure.error.code(),
                    error = %failure.error, "A rollout's candidate failed; the version in use evaluates the batch.");
                effects.plugin_runs.push(failed_run(&call, &failure, now));
                self.rollouts.count(binding, rollout, now, |t| {
                    t.calls += 1;
                    t.faults += 1;
                });
                Ok(None)
            }
            Err(_) => Ok(None),
        }
    }

    /// Writes the rollout steps decided since the last call, each with its
    /// event (after the unit of work that decided it committed).
    pub(crate) async fn write_rollout_endings(&self) {
        let endings = std::mem::take(&mut *self.rollouts.endings.lock().unwrap_or_else(|e| e.into_inner()));
        for ending in endings {
            let (step, reason, promote_to) = match &ending.verdict {
                Verdict::Promote => (RolloutStep::Promoted, None, Some(&ending.rollout.candidate_plugin_id)),
                Verdict::RollBack(reason) => (RolloutStep::RolledBack, Some(reason.clone()), None),
            };
            let actor = Actor::system("rollout");
            let event = step_event(&ending.binding, &ending.plugin, &ending.rollout, step, actor, ending.tally, reason);
            let change =
                RolloutChange { expected: Some(ending.rollout.started_time), rollout: None, promote_to, event: &event };
            match self.store.change_rollout(&ending.tenant, &ending.binding, &change, self.now()).await {
                Ok(_) => {
                    tracing::info!(tenant = %ending.tenant, binding = %ending.binding, step = step.as_str(), "Rollout ended.")
                }
                Err(error) => {
                    tracing::warn!(tenant = %ending.tenant, binding = %ending.binding, %error, "A rollout's end was not written.")
                }
            }
            self.caches.forget_bindings(&ending.tenant);
            self.wake_outbox();
        }
    }

    /// Whether a rollout step waits to be written.
    pub(crate) fn rollout_endings_pending(&self) -> bool {
        !self.rollouts.endings.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}

fn no_rollout(id: &BindingId) -> ServiceError {
    ServiceError::Refused {
        code: "no-rollout",
        refusal: Refusal::Conflict,
        message: format!("binding `{id}` has no rollout in progress"),
    }
}

impl PluginService {
    /// Starts rolling `request.plugin_id` out on an alarm-rule binding, as
    /// a canary or a shadow; the step is an event.
    pub async fn start_rollout(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        request: &RolloutRequest,
        by: &Actor,
    ) -> Result<Binding> {
        let inner = &self.0;
        let binding = inner.store.binding(tenant, id).await?;
        if binding.kind != PluginKind::AlarmRule {
            return Err(ServiceError::Refused {
                code: "rollout-unsupported",
                refusal: Refusal::Unprocessable,
                message: format!(
                    "binding `{id}` runs a {}; canary and shadow rollouts are for alarm rules (swap other kinds)",
                    binding.kind
                ),
            });
        }
        if binding.rollout.is_some() {
            return Err(rollout_in_progress(id));
        }
        let candidate = inner.store.plugin(tenant, &request.plugin_id).await?;
        if candidate.kind != binding.kind || candidate.id == binding.plugin_id {
            return Err(ServiceError::Invalid(format!(
                "the candidate must be another {} version than the one binding `{id}` runs",
                binding.kind
            )));
        }
        if let Some(release) = &candidate.release_id {
            crate::releases::usable(&inner.store.release(release).await?)?;
        }
        let rollout = Rollout {
            candidate_plugin_id: candidate.id.clone(),
            mode: request.mode,
            percent: request.percent.unwrap_or(25),
            window_ms: request.window_ms.unwrap_or(600_000),
            max_fault_rate: request.max_fault_rate.unwrap_or(0.05),
            max_disagreement_rate: request.max_disagreement_rate.unwrap_or(0.05),
            min_calls: request.min_calls.unwrap_or(20),
            started_time: inner.now(),
        };
        rollout.check().map_err(ServiceError::Invalid)?;
        // Compiled before it starts, so no batch waits for it.
        inner.loaded(tenant, &candidate.id).await?;
        let event = step_event(
            id,
            &binding.plugin_id,
            &rollout,
            RolloutStep::Started,
            by.clone(),
            RolloutTally::default(),
            None,
        );
        let change = RolloutChange { expected: None, rollout: Some(&rollout), promote_to: None, event: &event };
        let binding = inner.store.change_rollout(tenant, id, &change, inner.now()).await?;
        inner.rollouts.forget(id);
        inner.caches.forget_bindings(tenant);
        inner.wake_outbox();
        tracing::info!(%tenant, binding = %id, candidate = %candidate.id, mode = rollout.mode.as_str(), "Rollout started.");
        Ok(binding)
    }

    /// The binding's rollout in progress with its tally on this host.
    pub async fn rollout(&self, tenant: &TenantId, id: &BindingId) -> Result<RolloutStatus> {
        let binding = self.0.store.binding(tenant, id).await?;
        let rollout = binding.rollout.ok_or_else(|| no_rollout(id))?;
        let tally = self.0.rollouts.tally(id, &rollout);
        Ok(RolloutStatus { rollout, tally })
    }

    /// Ends the rollout now: `promote` moves the binding to the candidate,
    /// otherwise the binding stays on its version (aborted, with `reason`).
    pub async fn end_rollout(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        promote: bool,
        reason: Option<String>,
        by: &Actor,
    ) -> Result<Binding> {
        let inner = &self.0;
        let binding = inner.store.binding(tenant, id).await?;
        let rollout = binding.rollout.clone().ok_or_else(|| no_rollout(id))?;
        if promote && let Some(release) = &inner.store.plugin(tenant, &rollout.candidate_plugin_id).await?.release_id {
            crate::releases::usable(&inner.store.release(release).await?)?;
        }
        let step = if promote { RolloutStep::Promoted } else { RolloutStep::Aborted };
        let tally = inner.rollouts.tally(id, &rollout);
        let event = step_event(id, &binding.plugin_id, &rollout, step, by.clone(), tally, reason);
        let change = RolloutChange {
            expected: Some(rollout.started_time),
            rollout: None,
            promote_to: promote.then_some(&rollout.candidate_plugin_id),
            event: &event,
        };
        let binding = inner.store.change_rollout(tenant, id, &change, inner.now()).await.map_err(|e| match e {
            nexus_storage::StorageError::Conflict(_) => no_rollout(id),
            other => other.into(),
        })?;
        inner.rollouts.close(id, &rollout);
        inner.caches.forget_bindings(tenant);
        inner.wake_outbox();
        tracing::info!(%tenant, binding = %id, step = step.as_str(), "Rollout ended by hand.");
        Ok(binding)
    }
}

/// A switch or a second rollout while one is in progress.
pub(crate) fn rollout_in_progress(id: &BindingId) -> ServiceError {
    ServiceError::Refused {
        code: "rollout-in-progress",
        refusal: Refusal::Conflict,
        message: format!("binding `{id}` has a rollout in progress: promote or abort it first"),
    }
}
