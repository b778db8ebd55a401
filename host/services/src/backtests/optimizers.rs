//! Optimizer and field-optimizer backtests: each version called every
//! `every_ms` of virtual time with the wells as they stood then
//! ([`Well`]: the readings stamped by then — the newest
//! [`crate::optimizers::CONTEXT_READINGS`], as live — the setpoints as they
//! stood, the alarms open then, the well tests made by then), its state
//! carried from call to call. An optimizer is called per device, a field
//! optimizer per wellpad of its devices' wells with the wellpad's shared
//! constraints, as live. No recommendation is open in virtual time (nobody
//! decides them there), so each step says what the version would recommend
//! then.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use nexus_model::{
    Binding, DeviceId, FieldConstraints, FieldContext, PluginKind, Recommendation, TenantId, TimestampMs, WellContext,
    WellpadId,
};
use nexus_runtime::Runtime;
use serde_json::json;

use super::well::Well;
use super::{
    BacktestRecommendation, KEPT_RECOMMENDATIONS, MAX_OPTIMIZER_CALLS, MIN_EVERY_MS, Progress,
    RecommendationDifference, Version,
};
use crate::optimizers::default_schedule_ms;
use crate::reader::StoreReader;
use crate::{FIELD_WELL_TESTS, Inner, Result, ServiceError, WELL_TESTS_IN_CONTEXT, blocking};

/// The tenant's newest recommendations searched for what the compared
/// binding recommended live.
const RECORDED_SEARCHED: u32 = 10_000;

/// The step of virtual time: `every_ms`, else the compared binding's
/// interval, else the kind's default; refused when it is under
/// [`MIN_EVERY_MS`] or could make a version call more than
/// [`MAX_OPTIMIZER_CALLS`] times (devices × steps).
pub(super) fn step(
    every_ms: Option<i64>,
    compared: Option<&Binding>,
    start: TimestampMs,
    end: TimestampMs,
    devices: usize,
) -> Result<i64> {
    let every = every_ms
        .or_else(|| compared.and_then(|b| b.schedule_ms))
        .unwrap_or_else(|| default_schedule_ms(PluginKind::Optimizer));
    if every < MIN_EVERY_MS {
        return Err(ServiceError::Invalid(format!("every_ms: at least {MIN_EVERY_MS} ms (it is {every})")));
    }
    let span = end - start;
    let steps = span / every + i64::from(span % every != 0);
    let calls = steps.saturating_mul(devices as i64);
    if calls > MAX_OPTIMIZER_CALLS {
        return Err(ServiceError::Invalid(format!(
            "{devices} device(s) × {steps} steps of {every} ms make {calls} calls of a version; at most \
             {MAX_OPTIMIZER_CALLS}: raise every_ms or narrow the range"
        )));
    }
    Ok(every)
}

/// The wells one call sees: one device's for an optimizer, a wellpad's for
/// a field optimizer.
struct Group {
    /// The wellpad (empty: none, or an optimizer's single well).
    id: String,
    /// Indices into the backtest's wells.
    wells: Vec<usize>,
    /// What the wells share (a field optimizer's).
    constraints: FieldConstraints,
}

/// A version being replayed: its per-device state (a group's is kept with
/// its first device, as live).
struct Optimizer {
    version: Version,
    state: HashMap<DeviceId, BTreeMap<String, Vec<u8>>>,
}

impl Optimizer {
    fn new(version: Version) -> Self {
        Self { version, state: HashMap::new() }
    }

    /// One call about a group at `now`; returns its recommendations for the
    /// group's devices (none when it failed).
    fn call(
        &mut self,
        runtime: &Runtime,
        reader: &Arc<StoreReader>,
        group: &Group,
        wells: &[&WellContext],
        now: TimestampMs,
    ) -> Vec<Recommendation> {
        let Some(first) = wells.first().map(|w| w.device_id.clone()) else { return Vec::new() };
        let ctx = self.version.context(&first, self.state.get(&first), reader, now);
        let v = &mut self.version;
        v.run.calls += 1;
        let plugin = &v.loaded.plugin;
        let outcome = match v.loaded.meta.kind {
            PluginKind::FieldOptimizer => {
                let field = FieldContext {
                    group_id: group.id.clone(),
                    wells: wells.iter().map(|w| (*w).clone()).collect(),
                    constraints: group.constraints.clone(),
                };
                runtime.optimize_field(plugin, ctx, &field).map(|outcome| {
                    let plan = outcome.output;
                    let field_plan =
                        json!({"group_id": group.id, "rationale": plan.rationale, "details": plan.details});
                    let mut made = plan.recommendations;
                    for r in &mut made {
                        if !r.details.is_object() {
                            r.details = json!({});
                        }
                        r.details["field_plan"] = field_plan.clone();
                    }
                    (made, outcome.state)
                })
            }
            _ => runtime.optimize(plugin, ctx, wells[0]).map(|outcome| {
                let mut made = outcome.output;
                for r in made.iter_mut().filter(|r| r.device_id.is_empty()) {
                    r.device_id.clone_from(&first);
                }
                (made, outcome.state)
            }),
        };
        let (made, state) = match outcome {
            Ok(outcome) => outcome,
            Err(failure) => {
                v.run.fault(failure);
                return Vec::new();
            }
        };
        if let Some(state) = state {
            self.state.insert(first, state);
        }
        // As live: only for the devices the call was about.
        let made: Vec<Recommendation> =
            made.into_iter().filter(|r| wells.iter().any(|w| w.device_id == r.device_id)).collect();
        for recommendation in &made {
            v.run.recommended += 1;
            if v.run.recommendations.len() < KEPT_RECOMMENDATIONS {
                v.run.recommendations.push(BacktestRecommendation { ts: now, recommendation: recommendation.clone() });
            }
        }
        made
    }
}

/// Both versions, and where their recommendations differed so far.
struct Pair {
    candidate: Optimizer,
    compared: Option<Optimizer>,
    differences: Vec<RecommendationDifference>,
    differing: u64,
}

impl Pair {
    /// One step: both versions called on each group as it stood at `now`.
    fn step(
        &mut self,
        runtime: &Runtime,
        reader: &Arc<StoreReader>,
        wells: &mut [Well],
        groups: &[Group],
        now: TimestampMs,
    ) {
        for well in wells.iter_mut() {
            well.at(now);
        }
        for group in groups {
            let contexts: Vec<&WellContext> = group.wells.iter().map(|&i| wells[i].context()).collect();
            let ours = self.candidate.call(runtime, reader, group, &contexts, now);
            let Some(compared) = &mut self.compared else { continue };
            let theirs = compared.call(runtime, reader, group, &contexts, now);
            self.compare(&ours, &theirs, now);
        }
    }

    /// Records each (device, parameter) the two versions' answers differ in.
    fn compare(&mut self, ours: &[Recommendation], theirs: &[Recommendation], now: TimestampMs) {
        let proposed = |list: &[Recommendation]| -> BTreeMap<(DeviceId, String), f64> {
            list.iter().map(|r| ((r.device_id.clone(), r.parameter.clone()), r.proposed_value)).collect()
        };
        let (ours, theirs) = (proposed(ours), proposed(theirs));
        let keys: BTreeSet<&(DeviceId, String)> = ours.keys().chain(theirs.keys()).collect();
        for key in keys {
            let (candidate, compared) = (ours.get(key).copied(), theirs.get(key).copied());
            if candidate == compared {
                continue;
            }
            self.differing += 1;
            if self.differences.len() < KEPT_RECOMMENDATIONS {
                self.differences.push(RecommendationDifference {
                    device_id: key.0.clone(),
                    ts: now,
                    parameter: key.1.clone(),
                    candidate,
                    compared,
                });
            }
        }
    }
}

/// The groups of one call each: per device for an optimizer, per wellpad
/// for a field optimizer (devices on no wellpad form one group without
/// shared limits); the wellpads' constraints as they are now.
async fn groups(inner: &Inner, tenant: &TenantId, kind: PluginKind, wells: &[Well]) -> Result<Vec<Group>> {
    if kind != PluginKind::FieldOptimizer {
        let alone = |i| Group { id: String::new(), wells: vec![i], constraints: FieldConstraints::default() };
        return Ok((0..wells.len()).map(alone).collect());
    }
    let mut pads: BTreeMap<Option<WellpadId>, Vec<usize>> = BTreeMap::new();
    for (i, well) in wells.iter().enumerate() {
        pads.entry(well.wellpad.clone()).or_default().push(i);
    }
    let mut groups = Vec::with_capacity(pads.len());
    for (pad, members) in pads {
        let constraints = match &pad {
            Some(id) => inner.store.wellpad(tenant, id).await?.constraints,
            None => FieldConstraints::default(),
        };
        let id = pad.as_ref().map_or_else(String::new, ToString::to_string);
        groups.push(Group { id, wells: members, constraints });
    }
    Ok(groups)
}

/// Replays the range step by step through both versions, reading each
/// device's stored readings page by page, then writes the result.
pub(super) async fn replay(
    inner: &Arc<Inner>,
    tenant: &TenantId,
    progress: &Progress,
    candidate: Version,
    compared: Option<Version>,
    every: i64,
) -> Result<()> {
    let (start, end, devices) = {
        let b = super::lock(&progress.entry);
        (b.start_ts, b.end_ts, b.device_ids.clone())
    };
    let kind = candidate.loaded.meta.kind;
    let tests = if kind == PluginKind::FieldOptimizer { FIELD_WELL_TESTS } else { WELL_TESTS_IN_CONTEXT };
    let mut wells = Vec::with_capacity(devices.len());
    for device in &devices {
        wells.push(Well::load(inner, tenant, device, (start, end), tests).await?);
    }
    let groups = Arc::new(groups(inner, tenant, kind, &wells).await?);
    let reader = Arc::new(StoreReader::new(inner.store.clone()));
    let mut pair = Pair {
        candidate: Optimizer::new(candidate),
        compared: compared.map(Optimizer::new),
        differences: Vec::new(),
        differing: 0,
    };
    let mut now = start;
    while now < end {
        let (mut frames, mut readings) = (0, 0);
        for well in &mut wells {
            let (f, r) = well.advance(inner, tenant, now, end).await?;
            (frames, readings) = (frames + f, readings + r);
        }
        let (runtime, reader, groups) = (inner.runtime.clone(), reader.clone(), groups.clone());
        (pair, wells) = blocking(move || {
            pair.step(&runtime, &reader, &mut wells, &groups, now);
            (pair, wells)
        })
        .await?;
        now = now.saturating_add(every);
        progress.report(frames, readings, (now.min(end) - start) as f64 / (end - start) as f64);
    }
    let recorded = match &pair.compared {
        Some(c) => recorded(inner, tenant, &c.version, &devices, start, end).await?,
        None => Vec::new(),
    };
    let Pair { candidate, compared, differences, differing } = pair;
    progress.finish(|b| {
        (b.differences, b.differing, b.recorded) = (differences, differing, recorded);
        (b.candidate, b.compared) = (Some(candidate.version.run), compared.map(|c| c.version.run));
    });
    Ok(())
}

/// What the compared binding recommended live for the devices in the range,
/// oldest first.
async fn recorded(
    inner: &Inner,
    tenant: &TenantId,
    compared: &Version,
    devices: &[DeviceId],
    start: TimestampMs,
    end: TimestampMs,
) -> Result<Vec<BacktestRecommendation>> {
    let mut recorded: Vec<BacktestRecommendation> = inner
        .store
        .recommendations(tenant, RECORDED_SEARCHED)
        .await?
        .into_iter()
        .filter(|r| r.binding_id == compared.binding_id && (start..end).contains(&r.created_ts))
        .filter(|r| devices.contains(&r.recommendation.device_id))
        .map(|r| BacktestRecommendation { ts: r.created_ts, recommendation: r.recommendation })
        .collect();
    recorded.reverse();
    recorded.truncate(KEPT_RECOMMENDATIONS);
    Ok(recorded)
}
