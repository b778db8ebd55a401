//! What every backend does the same with a unit of work's alarm signals,
//! between its read of the open alarms and its writes: which (device, type)
//! pairs and which devices to read, the lifecycle applied to the signals in
//! order in memory ([`apply_signals`]), and the rows that leave the alarms
//! as their last transition did ([`AlarmRows`]). A backend reads and writes
//! with as few statements as it can; the decisions are
//! `nexus_model::lifecycle`'s.

use std::collections::HashMap;

use nexus_model::lifecycle::{self, NewAlarm};
use nexus_model::{Alarm, AlarmId, AlarmTransition, TenantId, TimestampMs, TransitionKind, WellId, WellpadId};

use crate::SignalWrite;

/// Where a device's new alarms propagate: its well and wellpad, by device id.
pub type Homes = HashMap<String, (Option<WellId>, Option<WellpadId>)>;

/// The (device, alarm type) pairs the signals name, sorted, once each: the
/// open alarms to read.
pub fn signalled_pairs(writes: &[SignalWrite]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> =
        writes.iter().map(|w| (w.signal.device_id.as_str(), w.signal.alarm_type.as_str())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The devices with a signal whose new alarm propagates, sorted, once
/// each: the [`Homes`] to read.
pub fn propagating_devices(writes: &[SignalWrite]) -> Vec<&str> {
    let mut devices: Vec<&str> = writes.iter().filter(|w| w.propagate).map(|w| w.signal.device_id.as_str()).collect();
    devices.sort_unstable();
    devices.dedup();
    devices
}

/// Applies the signals in order to the open alarms (those of
/// [`signalled_pairs`], as read) and returns the transitions they cause: a
/// signal sees what the ones before it did.
pub fn apply_signals(
    tenant: &TenantId,
    writes: &[SignalWrite],
    open: Vec<Alarm>,
    homes: &Homes,
) -> Vec<AlarmTransition> {
    let mut open: HashMap<(String, String), Alarm> =
        open.into_iter().map(|a| ((a.device_id.as_str().to_string(), a.alarm_type.clone()), a)).collect();
    let mut transitions = Vec::new();
    for write in writes {
        let signal = &write.signal;
        let key = (signal.device_id.as_str().to_string(), signal.alarm_type.clone());
        let new = || {
            let (well_id, wellpad_id) = if write.propagate {
                homes.get(signal.device_id.as_str()).cloned().unwrap_or_default()
            } else {
                (None, None)
            };
            NewAlarm {
                id: AlarmId::random(),
                tenant_id: tenant.clone(),
                binding_id: write.binding_id.clone(),
                well_id,
                wellpad_id,
            }
        };
        let Some(transition) = lifecycle::apply_signal(open.get(&key), signal, &write.actor, new) else {
            continue;
        };
        if transition.alarm.status.is_active() {
            open.insert(key, transition.alarm.clone());
        } else {
            open.remove(&key);
        }
        transitions.push(transition);
    }
    transitions
}

/// Each alarm the transitions touched, once, as the last of them left it.
pub struct AlarmRows<'a> {
    /// Alarms that existed before: their rows to update. Write these
    /// first: one a clear closed must be closed before a new one of its
    /// (device, type) is inserted (one open alarm per pair).
    pub known: Vec<&'a Alarm>,
    /// Alarms raised here, with when (their `created_time`): rows to insert.
    pub new: Vec<(&'a Alarm, TimestampMs)>,
}

impl<'a> AlarmRows<'a> {
    /// The rows of `transitions`' alarms, in first-seen order.
    pub fn of(transitions: &'a [AlarmTransition]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut alarms: Vec<(&Alarm, Option<TimestampMs>)> = Vec::new();
        for t in transitions {
            let raised = (t.action == TransitionKind::Raised).then_some(t.ts);
            match index.get(t.alarm.id.as_str()) {
                Some(&i) => alarms[i] = (&t.alarm, alarms[i].1.or(raised)),
                None => {
                    index.insert(t.alarm.id.as_str(), alarms.len());
                    alarms.push((&t.alarm, raised));
                }
            }
        }
        let mut rows = AlarmRows { known: Vec::new(), new: Vec::new() };
        for (alarm, raised) in alarms {
            match raised {
                Some(ts) => rows.new.push((alarm, ts)),
                None => rows.known.push(alarm),
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::{Actor, AlarmAction, AlarmSignal, AlarmStatus, BindingId, Severity};

    use super::*;

    fn write(action: AlarmAction, ts: i64) -> SignalWrite {
        SignalWrite {
            binding_id: BindingId::new("b"),
            actor: Actor::user("rule"),
            propagate: true,
            signal: AlarmSignal {
                action,
                device_id: "d".into(),
                alarm_type: "High".into(),
                severity: Severity::Major,
                ts,
                details: "{}".into(),
            },
        }
    }

    #[test]
    fn a_clear_then_a_raise_updates_the_known_alarm_and_inserts_the_new_one() {
        let tenant = TenantId::from("t");
        let raised = apply_signals(&tenant, &[write(AlarmAction::Raise, 1)], Vec::new(), &Homes::new());
        let known = raised[0].alarm.clone();
        let writes = [write(AlarmAction::Clear, 2), write(AlarmAction::Raise, 3), write(AlarmAction::Raise, 4)];
        let transitions = apply_signals(&tenant, &writes, vec![known.clone()], &Homes::new());
        // The second raise finds the alarm the first opened and updates it.
        assert_eq!(transitions.len(), 3);
        let rows = AlarmRows::of(&transitions);
        assert_eq!(rows.known.len(), 1);
        assert_eq!((&rows.known[0].id, rows.known[0].status.is_active()), (&known.id, false));
        assert_eq!(rows.new.len(), 1);
        assert_ne!(rows.new[0].0.id, known.id);
        assert_eq!((rows.new[0].0.status, rows.new[0].1), (AlarmStatus::ActiveUnack, 3), "created when raised");
        assert_eq!(rows.new[0].0.end_ts, 4, "as the last transition left it");
    }

    #[test]
    fn an_alarm_raised_and_cleared_in_one_unit_is_inserted_as_it_ended() {
        let writes = [write(AlarmAction::Raise, 1), write(AlarmAction::Clear, 2)];
        let transitions = apply_signals(&TenantId::from("t"), &writes, Vec::new(), &Homes::new());
        let rows = AlarmRows::of(&transitions);
        assert!(rows.known.is_empty());
        assert_eq!(rows.new.len(), 1);
        assert!(!rows.new[0].0.status.is_active());
        assert_eq!(rows.new[0].1, 1, "created when raised");
        assert_eq!(signalled_pairs(&writes), vec![("d", "High")]);
        assert_eq!(propagating_devices(&writes), vec!["d"]);
    }
}
