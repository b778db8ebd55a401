//! Scheduled runs of optimizers and forecasters: on their schedule, or
//! now. Each device's run is one unit of work: its recommendations (or
//! forecasts), state, metered use and failures commit together.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use nexus_model::{
    AlarmFilter, Binding, BindingId, Device, DeviceId, OpenAlarm, OpenRecommendation, PluginKind, Reading, Stage,
    StoredRecommendation, TenantId, WellContext, WellpadId,
};
use nexus_storage::{Effects, ForecastWrite, NewRecommendation, StateWrite};

use crate::calls::{Call, refused_letter};
use crate::runs::{RunEntry, RunStatus};
use crate::schedule::Schedule;
use crate::{Inner, Result, ServiceError};

/// Readings of the device an optimizer sees.
pub(crate) const CONTEXT_READINGS: u32 = 500;

/// Optimizer runs. Cheap to clone.
#[derive(Clone)]
pub struct OptimizerService(pub(crate) Arc<Inner>);

impl OptimizerService {
    /// Runs due scheduled bindings (optimizers, field optimizers,
    /// forecasters) every `tick` until the task is dropped: an interval's
    /// first run is at once, a cron schedule's at its next time.
    pub async fn run_scheduler(self, tick: Duration) {
        // Per binding: its schedule as last read, its last run, its next run.
        let mut runs: HashMap<BindingId, (Binding, Option<i64>, Option<i64>)> = HashMap::new();
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let bindings = match self.0.store.enabled_bindings().await {
                Ok(bindings) => bindings,
                Err(error) => {
                    tracing::error!(%error, "Scheduler could not list bindings.");
                    continue;
                }
            };
            let now = self.0.now();
            runs.retain(|id, _| bindings.iter().any(|b| &b.id == id));
            for binding in bindings.into_iter().filter(|b| b.kind.is_scheduled()) {
                let entry = runs.entry(binding.id.clone()).or_insert_with(|| (binding.clone(), None, None));
                if entry.0.schedule_ms != binding.schedule_ms || entry.0.schedule_cron != binding.schedule_cron {
                    entry.2 = None;
                }
                entry.0 = binding.clone();
                let schedule = Schedule::of(&binding);
                let next = *entry.2.get_or_insert_with(|| schedule.next(entry.1, now).unwrap_or(i64::MAX));
                if now < next {
                    continue;
                }
                entry.1 = Some(now);
                entry.2 = schedule.next(Some(now), now + 1);
                if let Err(error) = self.run(&binding, "schedule").await {
                    tracing::warn!(binding = %binding.id, %error, "Scheduled run failed.");
                }
            }
        }
    }

    /// Runs an optimizer binding now, for each of its devices; returns the
    /// recommendations stored.
    pub async fn run_now(&self, tenant: &TenantId, id: &BindingId) -> Result<Vec<StoredRecommendation>> {
        let binding = self.0.store.binding(tenant, id).await?;
        if !binding.kind.is_scheduled() {
            return Err(ServiceError::Invalid(format!(
                "binding `{id}` is not an optimizer, field-optimizer or forecaster binding"
            )));
        }
        if let Some(reason) = &binding.quarantine_reason {
            return Err(ServiceError::Conflict(format!(
                "binding `{id}` is quarantined ({reason}); re-enable it before running it"
            )));
        }
        if !binding.enabled {
            return Err(ServiceError::Conflict(format!("binding `{id}` is disabled")));
        }
        self.run(&binding, "manual").await
    }

    /// One run of a binding for each of its devices (or wellpads); then
    /// its auto-approve policy, if any, approves what it covers.
    /// The run is kept with its progress ([`crate::runs`]) and stops
    /// between devices when cancelled or over its budget.
    async fn run(&self, binding: &Binding, trigger: &'static str) -> Result<Vec<StoredRecommendation>> {
        let budget_ms = i64::try_from(self.0.config.run_budget.as_millis()).unwrap_or(i64::MAX);
        let entry = self.0.runs.start(&binding.tenant_id, &binding.id, trigger, self.0.now(), budget_ms);
        let result = if binding.kind == PluginKind::FieldOptimizer {
            self.run_field(binding, &entry).await
        } else {
            self.run_devices(binding, &entry).await
        };
        let mut stored = match result {
            Ok(stored) => {
                entry.finish(RunStatus::Done, self.0.now(), None);
                stored
            }
            Err(error) => {
                entry.finish(RunStatus::Failed, self.0.now(), Some(error.to_string()));
                return Err(error);
            }
        };
        if let Some(policy) = &binding.auto_approve {
            crate::ApprovalService(self.0.clone()).auto_approve(binding, policy, &mut stored).await;
        }
        Ok(stored)
    }

    async fn run_devices(&self, binding: &Binding, entry: &RunEntry) -> Result<Vec<StoredRecommendation>> {
        let inner = &self.0;
        let tenant = &binding.tenant_id;
        let mut binding = binding.clone();
        inner.clamp_limits(&mut binding, &inner.profile(tenant).await?);
        let binding = &binding;
        let loaded = inner.loaded(tenant, &binding.plugin_id).await?;
        let mut stored = Vec::new();
        entry.set_total(binding.device_ids.len());
        for device_id in &binding.device_ids {
            let now = inner.now();
            if let Some((status, why)) = entry.stop(now) {
                entry.finish(status, now, Some(why));
                break;
            }
            let mut effects = Effects::new(tenant, now);
            let (device, _, context, recent) =
                self.well_context(binding, device_id, well_tests_seen(binding.kind)).await?;
            if let Err(error) = inner.check_quota(tenant, &effects).await {
                let payload = serde_json::to_vec(&recent).unwrap_or_default();
                let letter = refused_letter(
                    binding,
                    &device.id,
                    Stage::Optimize,
                    "quota-exceeded",
                    error.to_string(),
                    payload,
                    now,
                );
                effects.dead_letters.push(letter);
                inner.commit(effects).await?;
                entry.advance(0);
                continue;
            }
            let ctx = inner.call_context(&loaded, binding, &device.id, now, &effects).await?;
            let runtime = inner.runtime.clone();
            let plugin = loaded.plugin.clone();
            let call_context = context.clone();
            let payload = || serde_json::to_vec(&recent).unwrap_or_default();
            let call = Call { binding, loaded: &loaded, device: &device.id, stage: Stage::Optimize };
            let forecaster = binding.kind == PluginKind::Forecaster;
            if forecaster {
                let run = move || runtime.forecast(&plugin, ctx, &call_context);
                if let Ok(outcome) = inner.run_call(&mut effects, call, run, payload).await? {
                    keep_state(&mut effects, binding, &device, outcome.state);
                    // A forecaster may only forecast the device it was run for.
                    for mut forecast in outcome.output {
                        if !forecast.device_id.is_empty() && forecast.device_id != device.id {
                            continue;
                        }
                        forecast.device_id.clone_from(&device.id);
                        effects.forecasts.push(ForecastWrite { binding_id: binding.id.clone(), forecast });
                    }
                }
            } else {
                let run = move || runtime.optimize(&plugin, ctx, &call_context);
                if let Ok(outcome) = inner.run_call(&mut effects, call, run, payload).await? {
                    keep_state(&mut effects, binding, &device, outcome.state);
                    // An optimizer may only recommend for the device it was run for.
                    for mut recommendation in outcome.output {
                        if !recommendation.device_id.is_empty() && recommendation.device_id != device.id {
                            continue;
                        }
                        recommendation.device_id.clone_from(&device.id);
                        effects.recommendations.push(NewRecommendation {
                            binding_id: binding.id.clone(),
                            well_id: device.well_id.clone(),
                            recommendation,
                        });
                    }
                }
            }
            let forecasts = effects.forecasts.len();
            let committed = inner.commit(effects).await?;
            entry.advance(committed.recommendations.len() + forecasts);
            stored.extend(committed.recommendations);
        }
        Ok(stored)
    }

    /// What an optimizer sees of one device's well: its recent readings,
    /// setpoints, static data, open alarms, the binding's open
    /// recommendations for it and its newest `tests` well tests; with the
    /// device, its well's wellpad and the recent readings.
    pub(crate) async fn well_context(
        &self,
        binding: &Binding,
        device_id: &DeviceId,
        tests: u32,
    ) -> Result<(Device, Option<WellpadId>, WellContext, Vec<Reading>)> {
        let inner = &self.0;
        let tenant = &binding.tenant_id;
        let device = inner.store.device(tenant, device_id).await?;
        let well = match &device.well_id {
            Some(well_id) => Some(inner.store.well(tenant, well_id).await?),
            None => None,
        };
        let recent = inner.store.recent(tenant, &device.id, CONTEXT_READINGS).await?;
        let open = AlarmFilter { device_id: Some(device.id.clone()), active: Some(true), ..AlarmFilter::default() };
        let open_alarms = inner
            .store
            .alarms(tenant, &open)
            .await?
            .into_iter()
            .map(|a| OpenAlarm { alarm_type: a.alarm_type, severity: a.severity, since: a.start_ts })
            .collect();
        let open_recommendations = inner
            .store
            .recommendations(tenant, 1000)
            .await?
            .into_iter()
            .filter(|r| r.binding_id == binding.id && r.recommendation.device_id == device.id)
            .filter(|r| r.status.is_open())
            .map(|r| OpenRecommendation {
                parameter: r.recommendation.parameter,
                proposed_value: r.recommendation.proposed_value,
                created_at: r.created_ts,
            })
            .collect();
        let well_tests = match &well {
            Some(well) => inner.store.well_tests(tenant, &well.id, tests).await?.into_iter().map(|t| t.test).collect(),
            None => Vec::new(),
        };
        let context = WellContext {
            well_id: well.as_ref().map(|w| w.id.clone()),
            device_id: device.id.clone(),
            readings: nexus_model::series_of(&recent),
            setpoints: inner.store.setpoints(tenant, &device.id).await?,
            static_data: well.as_ref().map_or_else(|| "{}".to_string(), |w| w.static_data.to_string()),
            open_alarms,
            open_recommendations,
            well_tests,
            now: inner.now(),
        };
        let wellpad = well.and_then(|w| w.wellpad_id);
        Ok((device, wellpad, context, recent))
    }
}

/// Keeps a successful call's state for the (binding, device).
fn keep_state(
    effects: &mut Effects,
    binding: &Binding,
    device: &Device,
    state: Option<std::collections::BTreeMap<String, Vec<u8>>>,
) {
    if let Some(state) = state {
        effects.states.push(StateWrite { binding_id: binding.id.clone(), device_id: device.id.clone(), state });
    }
}

/// How often a binding without a schedule runs: a minute, an hour for a
/// forecaster (a decline fit changes slowly).
pub(crate) fn default_schedule_ms(kind: PluginKind) -> i64 {
    if kind == PluginKind::Forecaster { 3_600_000 } else { 60_000 }
}

/// How many of a well's newest tests a binding of `kind` sees.
fn well_tests_seen(kind: PluginKind) -> u32 {
    if kind == PluginKind::Forecaster { crate::WELL_TESTS_FOR_FORECASTS } else { crate::WELL_TESTS_IN_CONTEXT }
}
