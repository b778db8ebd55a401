//! Discriminators: a restriction in the production choke moves more than
//! P-MON-CKP. Closing the choke backs pressure up the line, so the tree
//! pressure P-TPT rises too, but less than the pressure right upstream of
//! the choke; the flow falls, so the temperature downstream of the choke
//! (T-JUS-CKP) falls; and nobody touched the gas lift (QGL steady) — an
//! operator's gas-lift change also moves P-MON-CKP.
//!
//! Each auxiliary key keeps coarse bucket means (`discriminators.bucket_s`,
//! 10 s) over the pre-step window and the step. When a step has been
//! confirmed, each key's change is its mean over the last `confirm_s` (at
//! least one bucket) against its mean over the baseline window before the
//! step. With `required` (the default), a step whose P-TPT or T-JUS-CKP
//! cannot be judged (no data in either window) is not raised: without them
//! nothing tells a restriction from any other pressure rise. A QGL without
//! data, or at 0 throughout (no gas lift), is steady.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Discriminators, PckConfig};
use crate::rule::Step;

/// Coarse buckets of one auxiliary key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aux {
    /// Completed buckets, oldest first: (start in ms, mean).
    #[serde(default, rename = "b")]
    buckets: VecDeque<(i64, f64)>,
    /// The bucket being filled: (start in ms, sum, count).
    #[serde(default, rename = "c")]
    current: Option<(i64, f64, u32)>,
}

impl Aux {
    /// Adds a sample (older than the open bucket: ignored) and forgets
    /// buckets older than `keep_ms` before it.
    pub fn push(&mut self, bucket_ms: i64, keep_ms: i64, ts: i64, value: f64) {
        let start = ts.div_euclid(bucket_ms) * bucket_ms;
        match self.current {
            Some((open, ref mut sum, ref mut count)) if open == start => {
                *sum += value;
                *count += 1;
            }
            Some((open, _, _)) if open > start => return,
            Some((open, sum, count)) => {
                self.buckets.push_back((open, sum / f64::from(count.max(1))));
                self.current = Some((start, value, 1));
            }
            None => self.current = Some((start, value, 1)),
        }
        while self.buckets.front().is_some_and(|&(s, _)| s < ts - keep_ms) {
            self.buckets.pop_front();
        }
    }

    /// Mean of the buckets that start in `[from, to]`, the open one included.
    pub fn mean(&self, from: i64, to: i64) -> Option<f64> {
        let open = self.current.map(|(s, sum, n)| (s, sum / f64::from(n.max(1))));
        let values: Vec<f64> =
            self.buckets.iter().copied().chain(open).filter(|&(s, _)| s >= from && s <= to).map(|(_, v)| v).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// What the discriminators found for one confirmed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// P-TPT change, %, if judged.
    pub tpt_change_pct: Option<f64>,
    /// T-JUS-CKP change, °C, if judged.
    pub t_jus_change_c: Option<f64>,
    /// QGL change, %, if judged.
    pub qgl_change_pct: Option<f64>,
    /// The discriminators that failed.
    pub failed: Vec<&'static str>,
}

impl Verdict {
    /// The verdict as JSON for a signal's details.
    pub fn details(&self, enabled: bool) -> Value {
        json!({
            "enabled": enabled,
            "p_tpt_change_pct": self.tpt_change_pct,
            "t_jus_ckp_change_c": self.t_jus_change_c,
            "qgl_change_pct": self.qgl_change_pct,
            "failed": self.failed,
        })
    }
}

/// How long the auxiliary buckets must reach back, ms.
pub fn keep_ms(config: &PckConfig) -> i64 {
    config.rise_window_ms + config.baseline_ms + config.confirm_ms + 2 * config.discriminators.bucket_ms + 120_000
}

/// Judges a step confirmed at `ts`, with P-MON-CKP `mon_change_pct` above its pre-step level.
pub fn judge(
    config: &PckConfig,
    aux: &std::collections::BTreeMap<String, Aux>,
    step: &Step,
    ts: i64,
    mon_change_pct: f64,
) -> Verdict {
    let d: &Discriminators = &config.discriminators;
    let pre_to = step.since - config.rise_window_ms;
    let pre_from = pre_to - config.baseline_ms;
    let now_from = ts - config.confirm_ms.max(d.bucket_ms);
    // (before, now) of a key.
    let levels = |key: &Option<String>| {
        let series = aux.get(key.as_deref()?)?;
        Some((series.mean(pre_from, pre_to - 1)?, series.mean(now_from, ts)?))
    };
    let pct = |(before, now): (f64, f64)| (before.abs() > f64::EPSILON).then(|| (now / before - 1.0) * 100.0);
    let tpt_change_pct = levels(&d.p_tpt_key).filter(|(b, _)| *b > 0.0).and_then(pct);
    let t_jus_change_c = levels(&d.t_jus_ckp_key).map(|(before, now)| now - before);
    let qgl_change_pct = levels(&d.qgl_key).and_then(|(before, now)| match (before > 1e-9, now > 1e-9) {
        (false, false) => Some(0.0),
        (false, true) => Some(100.0),
        (true, _) => pct((before, now)),
    });
    let mut failed = Vec::new();
    if d.required && tpt_change_pct.is_none() {
        failed.push("p_tpt_missing");
    }
    if d.required && t_jus_change_c.is_none() {
        failed.push("t_jus_ckp_missing");
    }
    if let Some(tpt) = tpt_change_pct {
        if tpt <= d.tpt_min_rise_pct {
            failed.push("p_tpt_co_rise");
        } else if mon_change_pct < d.mon_over_tpt * tpt {
            failed.push("p_mon_ckp_rises_more");
        }
    }
    if t_jus_change_c.is_some_and(|dt| dt > -d.t_min_fall_c) {
        failed.push("t_jus_ckp_falls");
    }
    if qgl_change_pct.is_some_and(|dq| dq.abs() > d.qgl_max_change_pct) {
        failed.push("qgl_steady");
    }
    Verdict { tpt_change_pct, t_jus_change_c, qgl_change_pct, failed }
}

#[cfg(test)]
mod tests {
    use nexus_plugin_sdk::testing::Harness;
    use nexus_plugin_sdk::{AlarmAction, Sample, Series, Value};
    use serde_json::json;

    use crate::{PckRestrictionRule, parse_config};

    /// A key's value at second `t`.
    type Signal = Box<dyn Fn(i64) -> f64>;

    /// A 1 Hz trace of the four keys: steady for 10 min, then over 2 min
    /// P-MON-CKP rises 8 %, P-TPT by `tpt_pct`, T-JUS-CKP by `t_jus_c` and QGL
    /// by `qgl_pct`, then holds for 10 min. Keys with `None` are absent.
    fn trace(tpt_pct: Option<f64>, t_jus_c: Option<f64>, qgl_pct: Option<f64>) -> Vec<(i64, Vec<Series>)> {
        let ramp = |t: i64| ((t - 600) as f64 / 120.0).clamp(0.0, 1.0);
        let wiggle = |t: i64| 1.0 + 0.001 * ((t % 7) as f64 - 3.0) / 3.0;
        let keys: Vec<(&str, Signal)> = [
            Some((
                "P-MON-CKP",
                Box::new(move |t| 5.0e6 * (1.0 + 0.08 * ramp(t)) * wiggle(t)) as Box<dyn Fn(i64) -> f64>,
            )),
            tpt_pct.map(|p| ("P-TPT", Box::new(move |t| 8.0e6 * (1.0 + p / 100.0 * ramp(t))) as Signal)),
            t_jus_c.map(|c| ("T-JUS-CKP", Box::new(move |t| 60.0 + c * ramp(t)) as Signal)),
            qgl_pct.map(|p| ("QGL", Box::new(move |t| 1.5 * (1.0 + p / 100.0 * ramp(t))) as Signal)),
        ]
        .into_iter()
        .flatten()
        .collect();
        (0..22)
            .map(|minute| {
                let batch = keys
                    .iter()
                    .map(|(key, f)| {
                        Series::from_samples(
                            key,
                            (minute * 60..minute * 60 + 60).map(|t| Sample {
                                ts: t * 1000,
                                value: Value::Number(f(t)),
                                quality: 1.0,
                            }),
                        )
                    })
                    .collect();
                (minute * 60_000 + 59_000, batch)
            })
            .collect()
    }

    /// The raise's details, if the default rule raises on the trace.
    fn raised(config: &str, trace: Vec<(i64, Vec<Series>)>) -> Option<serde_json::Value> {
        let mut rule = Harness::<PckRestrictionRule>::new(parse_config(config).expect("valid"));
        let mut raises = Vec::new();
        for (now, batch) in trace {
            raises.extend(
                rule.evaluate(now, &batch).expect("runs").into_iter().filter(|s| s.action == AlarmAction::Raise),
            );
        }
        assert!(raises.len() <= 1, "{raises:?}");
        raises.first().map(|s| serde_json::from_str(&s.details).expect("json"))
    }

    #[test]
    fn a_restriction_moves_every_key_and_raises() {
        let details = raised("", trace(Some(1.0), Some(-0.5), Some(0.0))).expect("raised");
        let d = &details["discriminators"];
        // P-MON-CKP crosses 3 % above the baseline's highest second (+0.1 %)
        // at r = (1.03·1.001/(1 − 0.001·…) − 1)/0.08 ≈ 0.386 of the ramp, t ≈ 646 s;
        // the raise is 60 s later. The "now" level is the mean of the 10 s
        // buckets starting in [646, 706] (650…700, the last filled to 706):
        // ramp fractions 0.454, 0.537, 0.621, 0.704, 0.787, 0.858, mean 0.660,
        // so P-TPT is +0.66 % and T-JUS-CKP −0.33 °C against the flat pre-step window.
        assert!((d["p_tpt_change_pct"].as_f64().expect("judged") - 0.66).abs() < 0.03, "{d}");
        assert!((d["t_jus_ckp_change_c"].as_f64().expect("judged") + 0.33).abs() < 0.02, "{d}");
        assert!(d["qgl_change_pct"].as_f64().expect("judged").abs() < 0.01, "{d}");
        assert_eq!(d["failed"], json!([]));
    }

    #[test]
    fn a_rise_without_the_restriction_signature_does_not_raise() {
        // P-TPT falling, P-TPT rising more than P-MON-CKP, T-JUS-CKP rising, the gas lift changed.
        assert!(raised("", trace(Some(-0.5), Some(-0.5), Some(0.0))).is_none());
        assert!(raised("", trace(Some(12.0), Some(-0.5), Some(0.0))).is_none());
        assert!(raised("", trace(Some(1.0), Some(0.3), Some(0.0))).is_none());
        assert!(raised("", trace(Some(1.0), Some(-0.5), Some(20.0))).is_none());
        // Reported, not required, when disabled.
        let details = raised(r#"{"discriminators": {"enabled": false}}"#, trace(Some(-0.5), Some(0.3), Some(20.0)))
            .expect("raised");
        assert_eq!(details["discriminators"]["failed"], json!(["p_tpt_co_rise", "t_jus_ckp_falls", "qgl_steady"]));
    }

    #[test]
    fn missing_keys_block_only_when_required() {
        assert!(raised("", trace(Some(1.0), None, None)).is_none(), "no T-JUS-CKP");
        assert!(raised("", trace(None, Some(-0.5), None)).is_none(), "no P-TPT");
        // No gas lift at all is steady.
        assert!(raised("", trace(Some(1.0), Some(-0.5), None)).is_some());
        let lenient = r#"{"discriminators": {"required": false}}"#;
        assert!(raised(lenient, trace(None, None, None)).is_some());
    }
}
