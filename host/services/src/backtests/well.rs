//! A device's well as it stood at each moment of an optimizer backtest:
//! what is read once (the well, its tests, the device's alarms and
//! setpoints), and the window of its newest readings, moved along as its
//! stored readings in the range are read page by page.

use std::collections::{HashMap, HashSet, VecDeque};

use nexus_model::{
    Alarm, AlarmFilter, DeviceId, OpenAlarm, Reading, Setpoint, TenantId, TimestampMs, WellContext, WellTest,
    WellpadId, series_of,
};

use super::next_page;
use crate::optimizers::CONTEXT_READINGS;
use crate::{Inner, Result};

/// Readings of one device read from storage at a time (a backtest holds a
/// page of each of its devices).
const PAGE: u32 = 2_000;

/// One device's well in virtual time.
pub(super) struct Well {
    context: WellContext,
    /// Its well's wellpad (a field optimizer's group).
    pub(super) wellpad: Option<WellpadId>,
    setpoints: Vec<Setpoint>,
    alarms: Vec<Alarm>,
    /// Newest first.
    tests: Vec<WellTest>,
    tests_seen: usize,
    window: VecDeque<Reading>,
    /// The setpoints' read-back keys.
    read_back_keys: HashSet<String>,
    /// The newest value by then of each setpoint's read-back key.
    read_back: HashMap<String, f64>,
    /// Stored readings of the range not yet pushed, and where the next page
    /// starts.
    unread: VecDeque<Reading>,
    next: TimestampMs,
    last_ts: Option<TimestampMs>,
}

impl Well {
    /// The well of `device_id` as it stood at `start`, for a range ending
    /// at `end`, showing its newest `tests_seen` tests.
    pub(super) async fn load(
        inner: &Inner,
        tenant: &TenantId,
        device_id: &DeviceId,
        (start, end): (TimestampMs, TimestampMs),
        tests_seen: u32,
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
        Ok(Self {
            context,
            wellpad: well.and_then(|w| w.wellpad_id),
            setpoints,
            alarms,
            tests,
            tests_seen: tests_seen as usize,
            window,
            read_back_keys,
            read_back,
            unread: VecDeque::new(),
            next: start,
            last_ts: None,
        })
    }

    /// Pushes the stored readings stamped by `to` (reading pages of the
    /// range up to `end` as needed); returns the frames (timestamps) and
    /// readings pushed.
    pub(super) async fn advance(
        &mut self,
        inner: &Inner,
        tenant: &TenantId,
        to: TimestampMs,
        end: TimestampMs,
    ) -> Result<(u64, u64)> {
        let (mut frames, mut readings) = (0, 0);
        loop {
            while self.unread.front().is_some_and(|r| r.ts <= to) {
                let Some(reading) = self.unread.pop_front() else { break };
                if self.last_ts != Some(reading.ts) {
                    (self.last_ts, frames) = (Some(reading.ts), frames + 1);
                }
                readings += 1;
                self.push(reading);
            }
            if !self.unread.is_empty() || self.next >= end || self.next > to {
                return Ok((frames, readings));
            }
            let device = self.context.device_id.clone();
            let (page, next) = next_page(inner, tenant, &device, self.next, end, PAGE).await?;
            (self.unread, self.next) = (page.into(), next);
        }
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

    /// Sets the well context to the well at `now` (every reading pushed so
    /// far is stamped by then).
    pub(super) fn at(&mut self, now: TimestampMs) {
        let c = &mut self.context;
        c.readings = series_of(self.window.make_contiguous());
        c.setpoints = setpoints_at(&self.setpoints, &self.read_back, now);
        c.open_alarms = self
            .alarms
            .iter()
            .filter(|a| a.start_ts <= now && a.clear_ts.is_none_or(|cleared| cleared > now))
            .map(|a| OpenAlarm { alarm_type: a.alarm_type.clone(), severity: a.severity, since: a.start_ts })
            .collect();
        c.well_tests = self.tests.iter().filter(|t| t.ts <= now).take(self.tests_seen).cloned().collect();
        c.now = now;
    }

    /// The well context as last set by [`Well::at`].
    pub(super) fn context(&self) -> &WellContext {
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
