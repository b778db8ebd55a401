//! The rule itself: [`evaluate_batch`] folds a batch of one device into the
//! per-device [`DhsvState`] and returns the raise and clear signals.

use nexus_plugin_sdk::{AlarmSignal, Series};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::DhsvConfig;
use crate::window::BucketWindow;

/// The host-state key under which [`DhsvState`] is kept.
pub const STATE_KEY: &str = "dhsv";

/// What the rule remembers per (binding, device) between calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DhsvState {
    /// Recent T-TPT history.
    #[serde(default)]
    pub t_tpt: BucketWindow,
    /// Recent P-TPT history.
    #[serde(default)]
    pub p_tpt: BucketWindow,
    /// Recent P-PDG history.
    #[serde(default)]
    pub p_pdg: BucketWindow,
    /// Since when the raise conditions hold (while not active).
    #[serde(default)]
    pub pending_since: Option<i64>,
    /// The open alarm, if any.
    #[serde(default)]
    pub active: Option<Latched>,
}

/// The pre-event levels latched when the alarm was raised; while it is open,
/// the conditions are evaluated against them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latched {
    /// When the alarm was raised.
    pub raised_at: i64,
    /// T-TPT reference at the raise.
    pub t_ref: f64,
    /// P-TPT reference at the raise.
    pub p_ref: f64,
    /// P-PDG reference at the raise, if it was usable.
    pub g_ref: Option<f64>,
    /// Since when the conditions fail against the latched references.
    #[serde(default)]
    pub failing_since: Option<i64>,
}

/// The three variables of the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    TTpt,
    PTpt,
    PPdg,
}

/// The references and current levels at one instant.
#[derive(Debug, Clone, Copy)]
struct Levels {
    t_now: f64,
    t_ref: f64,
    p_now: f64,
    p_ref: f64,
    /// P-PDG (now, reference), when both are usable.
    g: Option<(f64, f64)>,
}

impl DhsvConfig {
    /// Whether the signature holds for `levels`.
    fn holds(&self, l: &Levels) -> bool {
        let t_drop = l.t_ref - l.t_now;
        let t_ok = t_drop > self.t_drop_c || (l.t_ref > 0.0 && t_drop > l.t_ref * self.t_drop_pct / 100.0);
        let p_ok = l.p_ref >= self.min_pressure_pa && l.p_ref - l.p_now > l.p_ref * self.p_drop_pct / 100.0;
        let g_ok = l.g.is_none_or(|(now, reference)| now >= reference * (1.0 - self.pdg_max_drop_pct / 100.0));
        t_ok && p_ok && g_ok
    }
}

impl DhsvState {
    fn window_mut(&mut self, var: Var) -> &mut BucketWindow {
        match var {
            Var::TTpt => &mut self.t_tpt,
            Var::PTpt => &mut self.p_tpt,
            Var::PPdg => &mut self.p_pdg,
        }
    }

    /// Current levels against the trailing-window references (the highest
    /// bucket mean of the lookback for T-TPT and P-TPT, the oldest one for
    /// P-PDG), if T-TPT and P-TPT are available.
    fn window_levels(&self, config: &DhsvConfig, now: i64) -> Option<Levels> {
        let since = now.saturating_sub(config.lookback_ms);
        let g = match (self.p_pdg.level(now, config.stale_ms), self.p_pdg.oldest_since(since)) {
            (Some(g_now), Some(g_ref)) if g_ref.abs() >= config.min_pressure_pa => Some((g_now, g_ref)),
            _ => None,
        };
        Some(Levels {
            t_now: self.t_tpt.level(now, config.stale_ms)?,
            t_ref: self.t_tpt.max_since(since)?,
            p_now: self.p_tpt.level(now, config.stale_ms)?,
            p_ref: self.p_tpt.max_since(since)?,
            g,
        })
    }

    /// Current levels against the references latched at the raise.
    fn latched_levels(&self, config: &DhsvConfig, latched: &Latched, now: i64) -> Option<Levels> {
        let g = latched.g_ref.zip(self.p_pdg.level(now, config.stale_ms)).map(|(g_ref, g_now)| (g_now, g_ref));
        Some(Levels {
            t_now: self.t_tpt.level(now, config.stale_ms)?,
            t_ref: latched.t_ref,
            p_now: self.p_tpt.level(now, config.stale_ms)?,
            p_ref: latched.p_ref,
            g,
        })
    }
}

/// Whether a value can be used: finite and not exactly 0 (3W and many
/// historians write 0 for "no gauge").
fn usable(value: f64) -> bool {
    value.is_finite() && value != 0.0
}

/// Whether a batch holds anything the rule looks at.
pub fn is_relevant(config: &DhsvConfig, batch: &[Series]) -> bool {
    batch.iter().any(|s| !s.is_empty() && config_var(config, &s.key).is_some())
}

fn config_var(config: &DhsvConfig, key: &str) -> Option<Var> {
    if key == config.t_tpt_key {
        Some(Var::TTpt)
    } else if key == config.p_tpt_key {
        Some(Var::PTpt)
    } else if config.p_pdg_key.as_deref() == Some(key) {
        Some(Var::PPdg)
    } else {
        None
    }
}

/// Runs the rule over one batch of one device (any series; the three keys
/// of the configuration are picked out), updating `state`, and returns the
/// signals for `device_id` in time order.
///
/// Samples of the three keys are merged in time order; after the samples of
/// each distinct timestamp the conditions are evaluated, so a raise carries
/// the timestamp of the sample that completed the signature.
pub fn evaluate_batch(
    config: &DhsvConfig,
    state: &mut DhsvState,
    device_id: &str,
    batch: &[Series],
) -> Vec<AlarmSignal> {
    let mut events: Vec<(i64, Var, f64)> = Vec::new();
    for series in batch {
        let Some(var) = config_var(config, &series.key) else { continue };
        events.extend(series.numbers().filter(|&(_, v)| usable(v)).map(|(ts, v)| (ts, var, v)));
    }
    // Stable: samples with equal timestamps keep the batch's order.
    events.sort_by_key(|&(ts, _, _)| ts);
    let keep_ms = config.lookback_ms.saturating_add(config.bucket_ms);
    let mut signals = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let ts = events[i].0;
        while i < events.len() && events[i].0 == ts {
            let (_, var, value) = events[i];
            state.window_mut(var).push(ts, value, config.bucket_ms, keep_ms);
            i += 1;
        }
        step(config, state, device_id, ts, &mut signals);
    }
    signals
}

/// Evaluates the conditions at `ts`, pushing the signal they cause, if any.
fn step(config: &DhsvConfig, state: &mut DhsvState, device_id: &str, ts: i64, signals: &mut Vec<AlarmSignal>) {
    if let Some(mut latched) = state.active {
        let Some(levels) = state.latched_levels(config, &latched, ts) else { return };
        if config.holds(&levels) {
            latched.failing_since = None;
        } else {
            let since = *latched.failing_since.get_or_insert(ts);
            if ts.saturating_sub(since) >= config.clear_after_ms {
                signals.push(AlarmSignal::clear_at(device_id, ts, &config.alarm_type, details(config, &levels, since)));
                state.active = None;
                state.pending_since = None;
                return;
            }
        }
        state.active = Some(latched);
        return;
    }
    let Some(levels) = state.window_levels(config, ts).filter(|l| config.holds(l)) else {
        state.pending_since = None;
        return;
    };
    let since = *state.pending_since.get_or_insert(ts);
    if ts.saturating_sub(since) < config.confirm_ms {
        return;
    }
    signals.push(AlarmSignal::raise_at(
        device_id,
        ts,
        &config.alarm_type,
        config.severity,
        details(config, &levels, since),
    ));
    state.pending_since = None;
    state.active = Some(Latched {
        raised_at: ts,
        t_ref: levels.t_ref,
        p_ref: levels.p_ref,
        g_ref: levels.g.map(|(_, reference)| reference),
        failing_since: None,
    });
}

/// The details of a signal: levels, references and changes in percent.
fn details(config: &DhsvConfig, l: &Levels, since: i64) -> serde_json::Value {
    let pct = |now: f64, reference: f64| if reference == 0.0 { None } else { Some((now / reference - 1.0) * 100.0) };
    json!({
        "t_tpt": l.t_now,
        "t_tpt_ref": l.t_ref,
        "t_tpt_change_c": l.t_now - l.t_ref,
        "t_tpt_change_pct": pct(l.t_now, l.t_ref),
        "p_tpt": l.p_now,
        "p_tpt_ref": l.p_ref,
        "p_tpt_change_pct": pct(l.p_now, l.p_ref),
        "p_pdg": l.g.map(|(now, _)| now),
        "p_pdg_ref": l.g.map(|(_, reference)| reference),
        "p_pdg_change_pct": l.g.and_then(|(now, reference)| pct(now, reference)),
        "since": since,
        "lookback_s": config.lookback_ms / 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DhsvClosureRule;
    use crate::config::parse_config;
    use nexus_plugin_sdk::testing::Harness;
    use nexus_plugin_sdk::{AlarmAction, Sample, Severity};

    const DEVICE: &str = "well-7";

    /// One row of the signature's variables at second `t` (`None` = missing).
    type Row = (i64, Option<f64>, Option<f64>, Option<f64>);

    fn batch(rows: &[Row]) -> Vec<Series> {
        let series = |key: &str, pick: fn(&Row) -> Option<f64>| {
            Series::from_samples(key, rows.iter().filter_map(|r| pick(r).map(|v| Sample::new(r.0 * 1000, v))))
        };
        vec![series("T-TPT", |r| r.1), series("P-TPT", |r| r.2), series("P-PDG", |r| r.3)]
    }

    /// A flowing well for `secs` seconds from `from`: T 110 °C, P-TPT 200 bar, P-PDG 380 bar.
    fn flowing(from: i64, secs: i64) -> Vec<Row> {
        (from..from + secs).map(|t| (t, Some(110.0), Some(2.0e7), Some(3.8e7))).collect()
    }

    /// A closure starting at `from`: over `secs` s, T falls by 40 °C, P-TPT by 30 %, P-PDG rises 2 %.
    fn closing(from: i64, secs: i64, pdg: Option<f64>) -> Vec<Row> {
        (0..secs)
            .map(|i| {
                let f = (i + 1) as f64 / secs as f64;
                (from + i, Some(110.0 - 40.0 * f), Some(2.0e7 * (1.0 - 0.3 * f)), pdg.map(|g| g * (1.0 + 0.02 * f)))
            })
            .collect()
    }

    /// Runs batches of 60 rows through the SDK harness (the state carried
    /// between calls as JSON bytes, as on the host), each call at the time
    /// of its last row.
    fn replay(config: &DhsvConfig, rows: &[Row]) -> Vec<AlarmSignal> {
        let mut rule = Harness::<DhsvClosureRule>::new(config.clone()).with_device(DEVICE);
        let mut signals = Vec::new();
        for chunk in rows.chunks(60) {
            let now = chunk.last().map_or(0, |r| r.0 * 1000);
            signals.extend(rule.evaluate(now, &batch(chunk)).expect("the rule runs"));
        }
        signals
    }

    fn summary(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
        signals.iter().map(|s| (s.action, s.ts / 1000)).collect()
    }

    fn first_raise(signals: &[AlarmSignal]) -> Option<i64> {
        signals.iter().find(|s| s.action == AlarmAction::Raise).map(|s| s.ts / 1000)
    }

    #[test]
    fn raises_on_the_signature_with_details() {
        let mut rows = flowing(0, 900);
        rows.extend(closing(900, 300, Some(3.8e7)));
        let signals = replay(&DhsvConfig::default(), &rows);
        assert_eq!(signals.len(), 1, "{:?}", summary(&signals));
        let raise = &signals[0];
        assert_eq!((raise.action, raise.severity), (AlarmAction::Raise, Severity::Critical));
        assert_eq!((raise.alarm_type.as_str(), raise.device_id.as_str()), ("DhsvClosure", DEVICE));
        // P-TPT is the slower condition: > 15 % of 30 % means past half the ramp.
        let at = raise.ts / 1000;
        assert!((1050..1070).contains(&at), "raised at {at}");
        let details: serde_json::Value = serde_json::from_str(&raise.details).expect("json");
        assert_eq!(details["t_tpt_ref"], 110.0);
        assert!(details["p_tpt_change_pct"].as_f64().is_some_and(|p| p < -15.0));
        assert!(details["p_pdg_change_pct"].as_f64().is_some_and(|p| p > 0.0));
        assert_eq!(details["lookback_s"], 600);
    }

    #[test]
    fn falling_pdg_vetoes_and_missing_or_zero_pdg_is_ignored() {
        let mut falling = flowing(0, 900);
        falling.extend(closing(900, 300, Some(3.8e7)).into_iter().map(|r| (r.0, r.1, r.2, Some(3.7e7))));
        assert!(replay(&DhsvConfig::default(), &falling).is_empty(), "P-PDG fell by 2.6 %");
        for pdg in [None, Some(0.0)] {
            let mut rows: Vec<Row> = flowing(0, 900).into_iter().map(|r| (r.0, r.1, r.2, pdg)).collect();
            rows.extend(closing(900, 300, pdg));
            assert_eq!(first_raise(&replay(&DhsvConfig::default(), &rows)).map(|t| t / 10), Some(105), "{pdg:?}");
        }
        let no_pdg = parse_config(r#"{"p_pdg_key": null}"#).expect("valid");
        assert!(first_raise(&replay(&no_pdg, &falling)).is_some(), "P-PDG condition disabled");
    }

    #[test]
    fn each_condition_is_needed() {
        // T falls 40 °C but P-TPT only 10 %: no raise; P-TPT 30 % but T only 5 °C: no raise.
        let t_only: Vec<Row> = flowing(0, 900)
            .into_iter()
            .chain(closing(900, 300, Some(3.8e7)).into_iter().map(|r| (r.0, r.1, r.2.map(|p| p.max(1.8e7)), r.3)))
            .collect();
        assert!(replay(&DhsvConfig::default(), &t_only).is_empty());
        let p_only: Vec<Row> = flowing(0, 900)
            .into_iter()
            .chain(closing(900, 300, Some(3.8e7)).into_iter().map(|r| (r.0, r.1.map(|t| t.max(105.0)), r.2, r.3)))
            .collect();
        assert!(replay(&DhsvConfig::default(), &p_only).is_empty());
    }

    #[test]
    fn relative_temperature_drop_counts_on_cold_wells() {
        // A cold tree: 40 °C falling to 30 °C (−25 %, but exactly 10 °C).
        let cold = |rows: Vec<Row>| -> Vec<Row> {
            rows.into_iter().map(|r| (r.0, r.1.map(|t| t / 4.0 + 2.5), r.2, r.3)).collect()
        };
        let mut rows = cold(flowing(0, 900));
        rows.extend(cold(closing(900, 300, Some(3.8e7))));
        assert!(first_raise(&replay(&DhsvConfig::default(), &rows)).is_some());
    }

    #[test]
    fn slow_drifts_within_the_lookback_do_not_raise() {
        // T and P-TPT fall by the same totals, but over 3 h: never 15 % within 10 min.
        let mut rows = flowing(0, 900);
        rows.extend(closing(900, 3 * 3600, Some(3.8e7)));
        assert!(replay(&DhsvConfig::default(), &rows).is_empty());
    }

    #[test]
    fn stays_raised_while_shut_in_and_clears_after_reopening() {
        let mut rows = flowing(0, 900);
        rows.extend(closing(900, 300, Some(3.8e7)));
        // Shut in for an hour at the closed levels, then reopened.
        rows.extend((1200..4800).map(|t| (t, Some(70.0), Some(1.4e7), Some(3.876e7))));
        rows.extend(flowing(4800, 900));
        let signals = replay(&DhsvConfig::default(), &rows);
        let got = summary(&signals);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[1].0, got[1].1), (AlarmAction::Clear, 4800 + 300));
        let details: serde_json::Value = serde_json::from_str(&signals[1].details).expect("json");
        assert_eq!(details["since"], 4_800_000);
    }

    #[test]
    fn confirmation_delays_the_raise_and_a_blip_does_not_raise() {
        let mut rows = flowing(0, 900);
        rows.extend(closing(900, 300, Some(3.8e7)));
        let plain = first_raise(&replay(&DhsvConfig::default(), &rows)).expect("raised");
        let confirmed = parse_config(r#"{"confirm_s": 30}"#).expect("valid");
        assert_eq!(first_raise(&replay(&confirmed, &rows)), Some(plain + 30));
        // A 5 s glitch of both transmitters does not survive a 30 s confirmation.
        let mut blip = flowing(0, 900);
        blip.extend((900..905).map(|t| (t, Some(60.0), Some(1.0e7), Some(3.8e7))));
        blip.extend(flowing(905, 300));
        assert!(first_raise(&replay(&DhsvConfig::default(), &blip)).is_some());
        assert!(replay(&confirmed, &blip).is_empty());
    }

    #[test]
    fn zeros_and_stale_transmitters_never_raise() {
        // The transmitters drop out to 0 (a dead gauge), then go silent.
        let mut rows = flowing(0, 900);
        rows.extend((900..1200).map(|t| (t, Some(0.0), Some(0.0), Some(0.0))));
        rows.extend((1200..1500).map(|t| (t, None, None, Some(3.8e7))));
        assert!(replay(&DhsvConfig::default(), &rows).is_empty());
        // After a gap longer than the lookback, the old levels are not a reference.
        let mut gap = flowing(0, 600);
        gap.extend((2000..2600).map(|t| (t, Some(70.0), Some(1.4e7), Some(3.876e7))));
        assert!(replay(&DhsvConfig::default(), &gap).is_empty());
    }

    #[test]
    fn other_keys_and_irrelevant_batches_are_ignored() {
        let config = DhsvConfig::default();
        let other = vec![Series::from_samples("QGL", [Sample::new(0, 1.0)])];
        assert!(!is_relevant(&config, &other));
        assert!(!is_relevant(&config, &[Series::from_samples("T-TPT", [])]));
        assert!(is_relevant(&config, &batch(&flowing(0, 1))));
        let mut state = DhsvState::default();
        assert!(evaluate_batch(&config, &mut state, DEVICE, &other).is_empty());
        assert_eq!(state, DhsvState::default());
    }

    #[test]
    fn state_stays_small() {
        let mut state = DhsvState::default();
        let config = DhsvConfig::default();
        for chunk in flowing(0, 4 * 3600).chunks(60) {
            evaluate_batch(&config, &mut state, DEVICE, &batch(chunk));
        }
        let bytes = serde_json::to_vec(&state).expect("encode").len();
        assert!(state.t_tpt.len() <= 61 && bytes < 8 * 1024, "{} buckets, {bytes} B", state.t_tpt.len());
    }
}
