//! The evaluation: [`evaluate_batch`] runs a [`RuleConfig`] over one
//! device's batch, updating its [`RuleState`] and returning the signals.
//!
//! Evaluation points are the distinct sample timestamps of the batch, in
//! order (samples of several keys with the same `ts` are applied together,
//! then evaluated once), followed by one evaluation at the host's `now` (if
//! it is later) without new data, for time-based conditions (`duration_ms`,
//! `missing_for_ms`, schedules, `clear_if_not_recurring_ms`). At each point
//! every rule sees the latest value of every key. See the README for the
//! severity and clearing semantics.

use std::collections::BTreeMap;

use nexus_plugin_sdk::{AlarmSignal, Series};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::condition::{Latest, Stored};
use crate::config::{LevelClear, Rule, RuleConfig, Sev, Trigger};

/// The host-state key under which [`RuleState`] is kept.
pub const STATE_KEY: &str = "conditions";

/// Progress of one rule: since when its condition has held, and at how many
/// consecutive evaluations with data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracker {
    /// First evaluation of the current run of the condition holding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Evaluations with data of the rule's keys in the current run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u32,
}

/// Serde helper: skip zero counters.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Serde helper: skip false flags.
fn is_false(b: &bool) -> bool {
    !*b
}

impl Tracker {
    /// Records whether the rule's condition `holds` at `t` (`counted`: the
    /// evaluation brought data of the rule's keys) and returns whether the
    /// rule fires.
    fn update(&mut self, trigger: Trigger, holds: bool, t: i64, counted: bool) -> bool {
        if !holds {
            *self = Self::default();
            return false;
        }
        let since = *self.since.get_or_insert(t);
        if counted {
            self.count = self.count.saturating_add(1);
        }
        match trigger {
            Trigger::Simple => true,
            Trigger::Duration(ms) => t.saturating_sub(since) >= ms,
            Trigger::Repeating(n) => self.count >= n,
        }
    }
}

/// State of one severity level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelState {
    /// Whether the level holds the alarm (latched by its create rule).
    #[serde(default, skip_serializing_if = "is_false")]
    pub latched: bool,
    /// Its create rule's progress.
    #[serde(default, skip_serializing_if = "Tracker::is_idle")]
    pub create: Tracker,
    /// Its own clear rule's progress.
    #[serde(default, skip_serializing_if = "Tracker::is_idle")]
    pub clear: Tracker,
}

impl Tracker {
    /// Whether nothing is in progress.
    fn is_idle(&self) -> bool {
        *self == Self::default()
    }
}

/// What the rule remembers per (binding, device) between calls, kept as JSON
/// in the host state: everything a restart must not lose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Severity of the open alarm, if one is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Sev>,
    /// Per severity level.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<Sev, LevelState>,
    /// Progress of the global clear rule.
    #[serde(default, skip_serializing_if = "Tracker::is_idle")]
    pub clear: Tracker,
    /// Last occurrence: a create rule firing on new data of its keys, or a raise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired: Option<i64>,
    /// Closed as not recurring: only a create rule firing on new data raises again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub await_occurrence: bool,
    /// Timestamp of the latest evaluated samples; older samples are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ts: Option<i64>,
    /// First evaluation for this device: a key never seen counts as last seen then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<i64>,
    /// Latest value of each key the configuration reads.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, Latest>,
}

/// Runs the rule over one device's batch at host time `now`, updating
/// `state`, and returns the raise and clear signals in time order.
///
/// Only keys the configuration reads are looked at; samples below
/// `min_quality`, non-finite numbers and samples older than the latest
/// evaluated ones are skipped.
pub fn evaluate_batch(
    config: &RuleConfig,
    state: &mut RuleState,
    device_id: &str,
    batch: &[Series],
    now: i64,
) -> Vec<AlarmSignal> {
    let mut events: Vec<(i64, usize, Stored)> = Vec::new();
    for series in batch {
        let Some(key) = config.key_index(&series.key) else { continue };
        events.extend(series.samples().into_iter().filter(|s| s.quality >= config.min_quality).filter_map(|s| {
            let value = Stored::from_value(&s.value)?;
            Some((s.ts, key, value))
        }));
    }
    // Stable: equal timestamps keep the batch order, so the last sample wins.
    events.sort_by_key(|e| e.0);
    state.levels.retain(|sev, _| config.levels.iter().any(|l| l.severity == *sev));
    let values = config.keys.iter().map(|k| state.values.remove(k)).collect();
    state.values.clear();
    let mut run = Run { config, state, device_id, values, signals: Vec::new() };
    let mut touched = vec![false; config.keys.len()];
    let mut events = events.into_iter().peekable();
    while let Some((t, key, value)) = events.next() {
        let late = run.state.last_ts.is_some_and(|last| t < last);
        touched.fill(false);
        let mut apply = |key: usize, value: Stored, run: &mut Run<'_>| {
            if !late {
                run.values[key] = Some(Latest { ts: t, value });
                touched[key] = true;
            }
        };
        apply(key, value, &mut run);
        while let Some((_, key, value)) = events.next_if(|e| e.0 == t) {
            apply(key, value, &mut run);
        }
        if late {
            continue;
        }
        run.state.last_ts = Some(t);
        run.state.first_seen.get_or_insert(t);
        run.step(t, Some(&touched));
    }
    run.state.first_seen.get_or_insert(now);
    if run.state.last_ts.is_none_or(|last| now > last) {
        run.step(now, None);
    }
    let Run { values, signals, .. } = run;
    for (name, latest) in config.keys.iter().zip(values) {
        if let Some(latest) = latest {
            state.values.insert(name.clone(), latest);
        }
    }
    signals
}

/// One evaluation run over a batch.
struct Run<'a> {
    config: &'a RuleConfig,
    state: &'a mut RuleState,
    device_id: &'a str,
    /// Latest value per key index.
    values: Vec<Option<Latest>>,
    signals: Vec<AlarmSignal>,
}

impl Run<'_> {
    /// One evaluation point at `t`; `touched[k]` tells whether key `k` got
    /// data at this point (`None`: an evaluation at the host's time, no data).
    fn step(&mut self, t: i64, touched: Option<&[bool]>) {
        let config = self.config;
        let counted = |rule: &Rule| touched.is_some_and(|keys| rule.keys.iter().any(|&k| keys[k]));
        let first_seen = self.state.first_seen.unwrap_or(t);
        let open = self.state.severity.is_some();
        let closing = config.has_closing_rule();

        let mut fired = [false; 5];
        // An occurrence (for `clear_if_not_recurring_ms`) is a create rule
        // firing on new data of its keys, not on the same old values
        // re-evaluated at a later time; raising counts too (see `raise`).
        let mut occurred = false;
        let mut with_data = [false; 5];
        for (i, level) in config.levels.iter().enumerate() {
            let holds = level.create.holds(&self.values, t, first_seen);
            let tracker = &mut self.state.levels.entry(level.severity).or_default().create;
            with_data[i] = counted(&level.create);
            fired[i] = tracker.update(level.create.trigger, holds, t, with_data[i]);
            occurred |= fired[i] && with_data[i];
        }
        let any_fired = fired.iter().any(|&f| f);
        if occurred {
            self.state.last_fired = Some(t);
            self.state.await_occurrence = false;
        }
        // After a not-recurring clear, old values that still satisfy a create
        // rule must not raise again: only a new occurrence does.
        if self.state.await_occurrence {
            for (f, data) in fired.iter_mut().zip(with_data) {
                *f &= data;
            }
        }

        let clear_fired = match (&config.clear, open) {
            (Some(rule), true) => {
                let holds = rule.holds(&self.values, t, first_seen);
                self.state.clear.update(rule.trigger, holds, t, counted(rule))
            }
            _ => {
                self.state.clear = Tracker::default();
                false
            }
        };

        for (i, level) in config.levels.iter().enumerate() {
            let own_clear = match &level.clear {
                LevelClear::Rule(rule) if self.state.levels.get(&level.severity).is_some_and(|s| s.latched) => {
                    Some((rule, rule.holds(&self.values, t, first_seen)))
                }
                _ => None,
            };
            let level_state = self.state.levels.entry(level.severity).or_default();
            let released = match own_clear {
                Some((rule, holds)) => level_state.clear.update(rule.trigger, holds, t, counted(rule)),
                None => {
                    level_state.clear = Tracker::default();
                    match level.clear {
                        LevelClear::Default => !closing || config.de_escalate,
                        LevelClear::Never | LevelClear::Rule(_) => false,
                    }
                }
            };
            if fired[i] {
                level_state.latched = true;
            } else if level_state.latched && released {
                level_state.latched = false;
                level_state.clear = Tracker::default();
            }
        }

        let highest =
            config.levels.iter().map(|l| l.severity).find(|sev| self.state.levels.get(sev).is_some_and(|s| s.latched));
        match self.state.severity {
            Some(current) => {
                let not_recurring = config
                    .clear_if_not_recurring_ms
                    .filter(|&ms| self.state.last_fired.is_some_and(|last| t.saturating_sub(last) >= ms));
                if !any_fired && clear_fired {
                    let keys = config.clear.as_ref().map(|r| r.keys.as_slice()).unwrap_or_default();
                    let details =
                        json!({ "reason": "clear", "severity": current.name(), "values": self.values_json(keys) });
                    self.close(t, details);
                } else if let Some(ms) = not_recurring {
                    let details = json!({
                        "reason": "not-recurring",
                        "severity": current.name(),
                        "last_fired": self.state.last_fired,
                        "clear_if_not_recurring_ms": ms,
                    });
                    self.close(t, details);
                    self.state.await_occurrence = true;
                } else if highest.is_none() && !closing {
                    let keys = config.levels.iter().find(|l| l.severity == current).map(|l| l.create.keys.as_slice());
                    let details = json!({
                        "reason": "released",
                        "severity": current.name(),
                        "values": self.values_json(keys.unwrap_or_default()),
                    });
                    self.close(t, details);
                } else if let Some(new) = highest.filter(|&h| h != current) {
                    self.raise(t, new, Some(current));
                }
            }
            None => {
                if let Some(new) = highest {
                    self.raise(t, new, None);
                }
            }
        }
    }

    /// Emits a raise at `severity` and records it as the open alarm.
    fn raise(&mut self, t: i64, severity: Sev, previous: Option<Sev>) {
        let reason = match previous {
            None => "create",
            Some(p) if severity > p => "escalate",
            Some(_) => "de-escalate",
        };
        let level = self.config.levels.iter().find(|l| l.severity == severity);
        let keys = level.map(|l| l.create.keys.as_slice()).unwrap_or_default();
        let since = self.state.levels.get(&severity).and_then(|s| s.create.since);
        let details = json!({
            "reason": reason,
            "severity": severity.name(),
            "previous": previous.map(Sev::name),
            "since": since,
            "values": self.values_json(keys),
        });
        self.signals.push(AlarmSignal::raise_at(
            self.device_id,
            t,
            &self.config.alarm_type,
            severity.to_sdk(),
            details,
        ));
        self.state.severity = Some(severity);
        self.state.last_fired = Some(t);
    }

    /// Emits a clear and resets the alarm: no open severity, no latched
    /// level, no clear progress. Create rules keep their progress.
    fn close(&mut self, t: i64, details: serde_json::Value) {
        self.signals.push(AlarmSignal::clear_at(self.device_id, t, &self.config.alarm_type, details));
        self.state.severity = None;
        self.state.clear = Tracker::default();
        self.state.await_occurrence = false;
        for level_state in self.state.levels.values_mut() {
            level_state.latched = false;
            level_state.clear = Tracker::default();
        }
    }

    /// `{"key": value-or-null, …}` of some keys, for details.
    fn values_json(&self, keys: &[usize]) -> serde_json::Value {
        let map = keys
            .iter()
            .map(|&k| {
                let value =
                    self.values.get(k).and_then(Option::as_ref).map_or(serde_json::Value::Null, |l| l.value.to_json());
                (self.config.keys[k].clone(), value)
            })
            .collect::<serde_json::Map<_, _>>();
        serde_json::Value::Object(map)
    }
}
