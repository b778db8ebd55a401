//! Optimizer backtests: each version called every `every_ms` of virtual
//! time with the well as it stood then — the readings stamped by then (the
//! newest [`CONTEXT_READINGS`], as live), the setpoints as they stood, the
//! alarms open then, the well tests made by then — its state carried from
//! call to call. No recommendation is open in virtual time (nobody decides
//! them there), so each step says what the version would recommend then.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use nexus_model::{
    Alarm, AlarmFilter, Binding, DeviceId, OpenAlarm, PluginKind, Reading, Recommendation, Setpoint, TenantId,
    TimestampMs, WellContext, WellTest, series_of,
};
use nexus_runtime::{CallContext, Runtime};

use super::{
    BacktestRecommendation, KEPT_RECOMMENDATIONS, MAX_OPTIMIZER_CALLS, MIN_EVERY_MS, Progress,
    RecommendationDifference, Version, next_page,
};
use crate::optimizers::{CONTEXT_READINGS, default_schedule_ms};
use crate::reader::{AsOf, StoreReader};
use crate::{Inner, Result, ServiceError, WELL_TESTS_IN_CONTEXT, blocking};

/// The tenant's newest recommendations searched for what the compared
/// binding recommended live.
const RECORDED_SEARCHED: u32 = 10_000;

/// The step of virtual time: `every_ms`, else the compared binding's
/// interval, else the kind's default; refused when it is under
/// [`MIN_EVERY_MS`] or makes a version call more than
/// [`MAX_OPTIMIZER_CALLS`] times.
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

/// An optimizer version being replayed: its per-device state and every
/// recommendation it made, in short.
struct Optimizer {
    version: Version,
    state: HashMap<DeviceId, BTreeMap<String, Vec<u8>>>,
}

impl Optimizer {
    fn new(version: Version) -> Self {
        Self { version, state: HashMap::new() }
    }

    /// One call at `now`; returns the recommendations (none when it failed).
    fn call(
        &mut self,
        runtime: &Runtime,
        reader: &Arc<StoreReader>,
        well: &WellContext,
        now: TimestampMs,
    ) -> Vec<Recommendation> {
        let v = &mut self.version;
        let device = &well.device_id;
        let ctx = CallContext {
            plugin: v.run.plugin.clone(),
            binding_id: v.binding_id.clone(),
            device_id: device.clone(),
            now,
            config: v.config.clone(),
            state: self.state.get(device).cloned().unwrap_or_default(),
            limits: v.limits,
            telemetry: Arc::new(AsOf::new(reader.clone(), now)),
        };
        v.run.calls += 1;
        let outcome = match runtime.optimize(&v.loaded.plugin, ctx, well) {
            Ok(outcome) => outcome,
            Err(failure) => {
                v.run.fault(failure);
                return Vec::new();
            }
        };
        if let Some(state) = outcome.state {
            self.state.insert(device.clone(), state);
        }
        // As live: an optimizer may only recommend for the device it was run for.
        let mine = outcome.output.into_iter().filter(|r| r.device_id.is_empty() || &r.device_id == device);
        let made: Vec<Recommendation> = mine.map(|r| Recommendation { device_id: device.clone(), ..r }).collect();
        for recommendation in &made {
            v.run.recommended += 1;
            if v.run.recommendations.len() < KEPT_RECOMMENDATIONS {
                v.run.recommendations.push(BacktestRecommendation { ts: now, recommendation: recommendation.clone() });
            }
        }
        made
    }
}

/// A device's well as it stood at a moment of the range: what is read once,
/// and the window of readings moved along as the stored ones are replayed.
struct Well {
    context: WellContext,
    setpoints: Vec<Setpoint>,
    alarms: Vec<Alarm>,
    tests: Vec<WellTest>,
    window: VecDeque<Reading>,
    /// The setpoints' read-back keys.
    read_back_keys: HashSet<String>,
    /// The newest value by then of each setpoint's read-back key.
    read_back: HashMap<String, f64>,
}

impl Well {
    async fn load(
        inner: &Inner,
        tenant: &TenantId,
        device_id: &DeviceId,
        start: TimestampMs,
        end: TimestampMs,
    ) -> Result<Self> {
        let store = &inner.store;
        let device = store.device(tenant, device_id).await?;
        let well = match &device.well_id {
            Some(id) => Some(store.well(tenant, id).await?),
            None => None,
        };
        let tests = match &well {
            Some(well) => store.well_tests(tenant, &well.id, 1000).await?.into_iter().map(|t| t.test).collect(),
            None => Vec::new(),
        };
        let filter = AlarmFilter {
            device_id: Some(device.id.clone()),
            end_ts: Some(end),
            limit: Some(1000),
            ..AlarmFilter::default()
        };
        let alarms = store.alarms(tenant, &filter).await?;
        let setpoints = store.setpoints(tenant, &device.id).await?;
        let read_back_keys: HashSet<String> =
            setpoints.iter().filter_map(|s| s.readback.as_ref().map(|r| r.key.clone())).collect();
        let mut read_back = HashMap::new();
        for key in &read_back_keys {
            let before = store.history_newest(tenant, &device.id, Some(key), TimestampMs::MIN, start, 1).await?;
            if let Some(value) = before.first().and_then(|r| r.value.as_f64()) {
                read_back.insert(key.clone(), value);
            }
        }
        let mut window: VecDeque<Reading> =
            store.history_newest(tenant, &device.id, None, TimestampMs::MIN, start, CONTEXT_READINGS).await?.into();
        window.make_contiguous().reverse();
        let context = WellContext {
            well_id: well.as_ref().map(|w| w.id.clone()),
            device_id: device.id.clone(),
            readings: Vec::new(),
            setpoints: Vec::new(),
            static_data: well.as_ref().map_or_else(|| "{}".to_string(), |w| w.static_data.to_string()),
            open_alarms: Vec::new(),
            open_recommendations: Vec::new(),
            well_tests: Vec::new(),
            now: start,
        };
        Ok(Self { context, setpoints, alarms, tests, window, read_back_keys, read_back })
    }

    /// A stored reading, in time order.
    fn push(&mut self, reading: Reading) {
        if self.read_back_keys.contains(&reading.key)
            && let Some(value) = reading.value.as_f64()
        {
            self.read_back.insert(reading.key.clone(), value);
        }
        if self.window.len() == CONTEXT_READINGS as usize {
            self.window.pop_front();
        }
        self.window.push_back(reading);
    }

    /// The well context at `now` (every reading pushed so far is stamped by then).
    fn at(&mut self, now: TimestampMs) -> &WellContext {
        let c = &mut self.context;
        c.readings = series_of(self.window.make_contiguous());
        c.setpoints = setpoints_at(&self.setpoints, &self.read_back, now);
        c.open_alarms = self
            .alarms
            .iter()
            .filter(|a| a.start_ts <= now && a.clear_ts.is_none_or(|cleared| cleared > now))
            .map(|a| OpenAlarm { alarm_type: a.alarm_type.clone(), severity: a.severity, since: a.start_ts })
            .collect();
        c.well_tests =
            self.tests.iter().filter(|t| t.ts <= now).take(WELL_TESTS_IN_CONTEXT as usize).cloned().collect();
        c.now = now;
        &self.context
    }
}

/// The setpoints as they stood at `now`: one set by then as stored; one
/// set later with the value its read-back key showed by then and its time
/// of change unknown (0), or left out when nothing showed it.
fn setpoints_at(stored: &[Setpoint], read_back: &HashMap<String, f64>, now: TimestampMs) -> Vec<Setpoint> {
    stored
        .iter()
        .filter_map(|s| {
            if s.updated_at <= now {
                return Some(s.clone());
            }
            let value = read_back.get(&s.readback.as_ref()?.key)?;
            Some(Setpoint { value: *value, updated_at: 0, ..s.clone() })
        })
        .collect()
}

/// Both versions, and where their recommendations differed so far.
struct Pair {
    candidate: Optimizer,
    compared: Option<Optimizer>,
    differences: Vec<RecommendationDifference>,
    differing: u64,
}

impl Pair {
    /// One step: both versions called on the well as it stood at `now`.
    fn step(&mut self, runtime: &Runtime, reader: &Arc<StoreReader>, well: &mut Well, now: TimestampMs) {
        let context = well.at(now);
        let ours = self.candidate.call(runtime, reader, context, now);
        let Some(compared) = &mut self.compared else { return };
        let theirs = compared.call(runtime, reader, context, now);
        let proposed = |list: &[Recommendation]| -> BTreeMap<String, f64> {
            list.iter().map(|r| (r.parameter.clone(), r.proposed_value)).collect()
        };
        let (ours, theirs) = (proposed(&ours), proposed(&theirs));
        let parameters: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
        for parameter in parameters {
            let (candidate, compared) = (ours.get(parameter).copied(), theirs.get(parameter).copied());
            if candidate == compared {
                continue;
            }
            self.differing += 1;
            if self.differences.len() < KEPT_RECOMMENDATIONS {
                self.differences.push(RecommendationDifference {
                    device_id: context.device_id.clone(),
                    ts: now,
                    parameter: parameter.clone(),
                    candidate,
                    compared,
                });
            }
        }
    }
}

/// Replays each device's range step by step through both versions, page by
/// page of its stored readings, then writes the result.
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
    let reader = Arc::new(StoreReader::new(inner.store.clone()));
    let mut pair = Pair {
        candidate: Optimizer::new(candidate),
        compared: compared.map(Optimizer::new),
        differences: Vec::new(),
        differing: 0,
    };
    for (index, device) in devices.iter().enumerate() {
        let mut well = Well::load(inner, tenant, device, start, end).await?;
        let (mut from, mut next) = (start, start);
        loop {
            let (page, after) = next_page(inner, tenant, device, from, end).await?;
            from = after;
            let last = from >= end;
            let (runtime, reader) = (inner.runtime.clone(), reader.clone());
            let (frames, readings, back) = blocking(move || {
                let frames = page.chunk_by(|a, b| a.ts == b.ts).count() as u64;
                let readings = page.len() as u64;
                for reading in page {
                    while next < reading.ts && next < end {
                        pair.step(&runtime, &reader, &mut well, next);
                        next += every;
                    }
                    well.push(reading);
                }
                while last && next < end {
                    pair.step(&runtime, &reader, &mut well, next);
                    next += every;
                }
                (frames, readings, (pair, well, next))
            })
            .await?;
            (pair, well, next) = back;
            let within = (next.min(end) - start) as f64 / (end - start) as f64;
            progress.report(frames, readings, (index as f64 + within) / devices.len() as f64);
            if last {
                break;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_model::{Readback, SetpointSource};

    fn frequency(value: f64, updated_at: TimestampMs, readback: bool) -> Setpoint {
        Setpoint {
            parameter: "frequency_hz".into(),
            value,
            unit: "Hz".into(),
            min: Some(35.0),
            max: Some(65.0),
            max_step: Some(1.0),
            min_interval_ms: Some(3_600_000),
            source: SetpointSource::Written,
            updated_at,
            readback: readback.then(|| Readback { key: "frequency".into(), tolerance: 0.1 }),
        }
    }

    #[test]
    fn a_setpoint_set_by_then_is_as_stored() {
        let stored = [frequency(52.0, 1_000, true)];
        assert_eq!(setpoints_at(&stored, &HashMap::new(), 1_000), stored);
    }

    #[test]
    fn a_setpoint_set_later_shows_its_read_back_value_or_nothing() {
        let read_back = HashMap::from([("frequency".to_string(), 50.0)]);
        let later = setpoints_at(&[frequency(52.0, 5_000, true)], &read_back, 1_000);
        assert_eq!((later[0].value, later[0].updated_at, later[0].max_step), (50.0, 0, Some(1.0)));
        assert!(setpoints_at(&[frequency(52.0, 5_000, false)], &read_back, 1_000).is_empty());
        assert!(setpoints_at(&[frequency(52.0, 5_000, true)], &HashMap::new(), 1_000).is_empty());
    }
}
