//! What a write carries: the effects of a unit of work, the rows of new
//! entities, and what a commit returns. Plus [`outbox_events`], the one
//! definition of which changes become events, shared by every backend.

use std::collections::BTreeMap;

use nexus_model::{
    Actor, Alarm, AlarmSignal, AlarmTransition, BindingId, DeadLetter, DeviceId, EntityAction, EntityChange,
    EntityKind, Event, EventBody, Forecast, Limits, NewEvent, PluginInfo, PluginKind, PluginRun, PluginVersionId,
    Reading, Recommendation, RecommendationTransition, Series, SetpointWriteRecord, StoredForecast,
    StoredRecommendation, TenantId, TimestampMs, WellId, WellpadId,
};

/// Everything one unit of work changes, committed atomically by
/// [`crate::UnitOfWork::commit`].
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// The tenant every row belongs to.
    pub tenant_id: TenantId,
    /// When the work happened (the host's clock), ms.
    pub now: TimestampMs,
    /// Telemetry of the tenant's devices, in columns. A sample with the same
    /// (device, key, ts) as a stored one replaces it.
    pub telemetry: Vec<DeviceSeries>,
    /// New plugin state per (binding, device), replacing the old.
    pub states: Vec<StateWrite>,
    /// Alarm signals of rules, applied in order.
    pub signals: Vec<SignalWrite>,
    /// Recommendations of optimizers.
    pub recommendations: Vec<NewRecommendation>,
    /// Failed plugin calls (faults).
    pub plugin_runs: Vec<PluginRun>,
    /// Input that could not be processed.
    pub dead_letters: Vec<DeadLetter>,
    /// Bindings the circuit breaker stops.
    pub quarantines: Vec<Quarantine>,
    /// Plugin calls and fuel to add to the tenant's month.
    pub usage: Option<UsageDelta>,
    /// Setpoint writes and how they ended (events only).
    pub setpoint_writes: Vec<SetpointWriteRecord>,
    /// Forecasts of forecasters, each replacing its (device, key)'s last.
    pub forecasts: Vec<ForecastWrite>,
    /// Steps of rollouts seen while doing the work (a shadow candidate's
    /// disagreements), events only.
    pub rollout_events: Vec<nexus_model::RolloutEvent>,
}

impl Effects {
    /// No effects yet, for a tenant at `now`.
    pub fn new(tenant_id: &TenantId, now: TimestampMs) -> Self {
        Self { tenant_id: tenant_id.clone(), now, ..Self::default() }
    }

    /// Whether there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.telemetry.iter().all(|t| t.series.iter().all(Series::is_empty))
            && self.states.is_empty()
            && self.signals.is_empty()
            && self.recommendations.is_empty()
            && self.plugin_runs.is_empty()
            && self.dead_letters.is_empty()
            && self.quarantines.is_empty()
            && self.usage.is_none()
            && self.setpoint_writes.is_empty()
            && self.forecasts.is_empty()
            && self.rollout_events.is_empty()
    }

    /// Adds readings (rows), grouped into each device's series.
    pub fn add_readings(&mut self, readings: &[Reading]) {
        let mut devices: Vec<&DeviceId> = readings.iter().map(|r| &r.device_id).collect();
        devices.dedup();
        let mut seen: Vec<&DeviceId> = Vec::new();
        for device in devices {
            if seen.contains(&device) {
                continue;
            }
            seen.push(device);
            let rows: Vec<Reading> = readings.iter().filter(|r| &r.device_id == device).cloned().collect();
            self.telemetry.push(DeviceSeries {
                device_id: device.clone(),
                series: nexus_model::series_of(&rows),
                latest_until: None,
            });
        }
    }

    /// Number of samples of telemetry.
    pub fn samples(&self) -> usize {
        self.telemetry.iter().flat_map(|t| &t.series).map(Series::len).sum()
    }

    /// Counts one plugin call and its fuel.
    pub fn meter(&mut self, month: &str, fuel: u64) {
        let usage = self.usage.get_or_insert_with(|| UsageDelta { month: month.to_string(), executions: 0, fuel: 0 });
        usage.executions += 1;
        usage.fuel = usage.fuel.saturating_add(fuel);
    }
}

/// A device's telemetry in columns.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSeries {
    /// The device.
    pub device_id: DeviceId,
    /// One series per key and value type.
    pub series: Vec<Series>,
    /// Samples stamped after this are stored but do not become a key's
    /// latest value (a clock running ahead must not pin "latest"); `None`:
    /// every sample may.
    pub latest_until: Option<TimestampMs>,
}

/// The state of a (binding, device) after a successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct StateWrite {
    /// The binding.
    pub binding_id: BindingId,
    /// The device.
    pub device_id: DeviceId,
    /// The whole state.
    pub state: BTreeMap<String, Vec<u8>>,
}

/// The plugin states a group commit writes: the last write of each
/// (binding, device) across `batch`, with its unit of work's tenant, keyed
/// and ordered by (binding, device). A later write replaces an earlier one.
pub fn last_state_writes(batch: &[Effects]) -> BTreeMap<(&str, &str), (&str, &StateWrite)> {
    let mut last = BTreeMap::new();
    for effects in batch {
        for write in &effects.states {
            last.insert((write.binding_id.as_str(), write.device_id.as_str()), (effects.tenant_id.as_str(), write));
        }
    }
    last
}

/// A rule's alarm signal and what its transition needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalWrite {
    /// The binding whose rule signalled.
    pub binding_id: BindingId,
    /// The binding's plugin version, as the transition's actor.
    pub actor: Actor,
    /// Whether a new alarm propagates to the device's well and wellpad.
    pub propagate: bool,
    /// The signal.
    pub signal: AlarmSignal,
}

/// A recommendation of an optimizer binding.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecommendation {
    /// The binding.
    pub binding_id: BindingId,
    /// The device's well, if any.
    pub well_id: Option<WellId>,
    /// What it recommends.
    pub recommendation: Recommendation,
}

/// A forecast of a forecaster binding.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastWrite {
    /// The binding.
    pub binding_id: BindingId,
    /// What it forecasts.
    pub forecast: Forecast,
}

impl ForecastWrite {
    /// The forecast as stored by a commit at `now`.
    pub fn stored(&self, now: TimestampMs) -> StoredForecast {
        StoredForecast { binding_id: self.binding_id.clone(), issued_at: now, forecast: self.forecast.clone() }
    }
}

/// A binding the circuit breaker stops — or, with a device, that device's
/// input to it — and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantine {
    /// The binding.
    pub binding_id: BindingId,
    /// The device whose input is stopped; none: the whole binding.
    pub device_id: Option<DeviceId>,
    /// Why.
    pub reason: String,
}

/// Metered use to add to a tenant's month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageDelta {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Plugin calls.
    pub executions: u64,
    /// Fuel.
    pub fuel: u64,
}

/// What a commit made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Committed {
    /// The alarm transitions the signals caused, in order (including
    /// [`nexus_model::TransitionKind::Updated`], which is not an event).
    pub transitions: Vec<AlarmTransition>,
    /// The recommendations as stored.
    pub recommendations: Vec<StoredRecommendation>,
    /// The events appended to the outbox.
    pub events: Vec<Event>,
}

/// What a person's action on an alarm did.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorOutcome {
    /// The transition, or `None` when it was already done.
    pub transition: Option<AlarmTransition>,
    /// The alarm after the action.
    pub alarm: Alarm,
}

/// A plugin version to store.
#[derive(Debug, Clone)]
pub struct NewPlugin<'a> {
    /// Owning tenant.
    pub tenant_id: &'a TenantId,
    /// Kind (world).
    pub kind: PluginKind,
    /// Name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// sha256 of the bytes, hex.
    pub hash: &'a str,
    /// The component.
    pub bytes: &'a [u8],
    /// What `describe` returned.
    pub info: &'a PluginInfo,
    /// The contract version it targets.
    pub contract: &'a str,
}

/// A binding to create.
#[derive(Debug, Clone)]
pub struct NewBinding<'a> {
    /// Owning tenant.
    pub tenant_id: &'a TenantId,
    /// The plugin version to run.
    pub plugin_id: &'a PluginVersionId,
    /// Configuration JSON.
    pub config: &'a serde_json::Value,
    /// Limits (the kind's defaults with overrides applied).
    pub limits: &'a Limits,
    /// Optimizers and forecasters: interval in ms.
    pub schedule_ms: Option<i64>,
    /// Optimizers and forecasters: a cron schedule instead.
    pub schedule_cron: Option<nexus_model::CronSchedule>,
    /// Optimizers and field optimizers: an auto-approve policy.
    pub auto_approve: Option<nexus_model::AutoApprove>,
    /// Alarm rules: whether alarms propagate to the well and wellpad.
    pub propagate: bool,
    /// Devices it applies to.
    pub device_ids: &'a [DeviceId],
}

/// A well to create.
#[derive(Debug, Clone)]
pub struct NewWell {
    /// Name.
    pub name: String,
    /// Its wellpad, if any.
    pub wellpad_id: Option<WellpadId>,
    /// Static data for optimizers.
    pub static_data: serde_json::Value,
}

/// A device to create.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Name, unique per tenant.
    pub name: String,
    /// The well it instruments, if any.
    pub well_id: Option<WellId>,
    /// sha256 (hex) of its access token; the token itself is never stored.
    pub token_hash: String,
}

/// The events a commit appends, in this order: alarm transitions that are
/// events, recommendations (each after the proposed ones it superseded),
/// plugin faults, dead letters, quarantines, setpoint writes, forecasts,
/// rollout steps. The one definition every backend uses.
pub fn outbox_events(
    effects: &Effects,
    transitions: &[AlarmTransition],
    recommendations: &[StoredRecommendation],
    superseded: &[RecommendationTransition],
) -> Vec<NewEvent> {
    let tenant = &effects.tenant_id;
    let mut events = Vec::new();
    for t in transitions.iter().filter(|t| t.action.is_event()) {
        events.push(NewEvent::new(tenant, t.ts, EventBody::Alarm(t.clone())));
    }
    for t in superseded {
        events.push(NewEvent::new(tenant, t.ts, EventBody::RecommendationChanged(t.clone())));
    }
    for r in recommendations {
        events.push(NewEvent::new(tenant, r.created_ts, EventBody::Recommendation(r.clone())));
    }
    for run in &effects.plugin_runs {
        events.push(NewEvent::new(tenant, run.ts, EventBody::PluginFault(run.clone())));
    }
    for letter in &effects.dead_letters {
        events.push(NewEvent::new(tenant, letter.ts, EventBody::DeadLetter(letter.into())));
    }
    for q in &effects.quarantines {
        let body = EventBody::BindingQuarantined {
            binding_id: q.binding_id.clone(),
            device_id: q.device_id.clone(),
            reason: q.reason.clone(),
        };
        events.push(NewEvent::new(tenant, effects.now, body));
    }
    for record in &effects.setpoint_writes {
        events.push(NewEvent::new(tenant, effects.now, EventBody::SetpointWrite(record.clone())));
    }
    for write in &effects.forecasts {
        events.push(NewEvent::new(tenant, effects.now, EventBody::Forecast(write.stored(effects.now))));
    }
    for step in &effects.rollout_events {
        events.push(NewEvent::new(tenant, effects.now, EventBody::Rollout(step.clone())));
    }
    events
}

/// The event of a change of an entity through the API.
pub fn entity_event(
    tenant: &TenantId,
    now: TimestampMs,
    kind: EntityKind,
    id: impl ToString,
    action: EntityAction,
    actor: &Actor,
    summary: serde_json::Value,
) -> NewEvent {
    let change = EntityChange { kind, id: id.to_string(), action, actor: actor.clone(), summary };
    NewEvent::new(tenant, now, EventBody::Entity(change))
}
