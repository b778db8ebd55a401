//! The pump-off decision: a pure function from the well context to at most
//! one recommendation, or the reason for none.
//!
//! 1. Every card of the context's readings (`card_key`) is read and
//!    classified (`nexus_physics::card`); a malformed card is skipped with a
//!    warning.
//! 2. **Load interlocks** over the newest `max(strokes_below, strokes_above)`
//!    cards: a rod part (by the classifier's span rule or a peak polished-rod
//!    load below `min_peak_load_lbf`), a peak polished-rod load above
//!    `max_peak_load_lbf` or a minimum below `min_load_lbf` — no
//!    recommendation, and a warning.
//! 3. An open recommendation of the controlled setpoint younger than
//!    `open_recommendation_ttl_ms` — hold.
//! 4. The newest `strokes_below` strokes all below `fillage_setpoint`: the
//!    well pumps off — lengthen the idle time (mode `idle-time`) or lower the
//!    speed (mode `vfd`) by one step. Else the newest `strokes_above` strokes
//!    all at or above `high_fillage`: the well does not pump off — shorten
//!    the idle time or raise the speed by one step. Else hold (in band).
//! 5. **Setpoint interlocks**: the step is the configured one capped by the
//!    setpoint's `max_step`; the value stays within the setpoint's
//!    `min`/`max` (else the configured range); no change within the
//!    setpoint's `min_interval_ms` of its last change; none when the
//!    setpoint is already at the limit.

use nexus_physics::card::{CardClass, CardRecord, ClassifyOptions, classify_with};
use nexus_plugin_sdk::{Recommendation, Setpoint, Value, WellContext};
use serde_json::json;

use crate::config::{Config, Mode};

/// One stroke read from a card.
#[derive(Debug, Clone, PartialEq)]
pub struct Stroke {
    /// Time of the card, ms.
    pub ts: i64,
    /// Pump fillage, 0–1.
    pub fillage: f64,
    /// The card's class.
    pub class: CardClass,
    /// The classifier's confidence.
    pub confidence: f64,
    /// Peak polished-rod load, lbf.
    pub peak_load_lbf: f64,
    /// Minimum polished-rod load, lbf.
    pub min_load_lbf: f64,
}

/// Why nothing is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// No readable card.
    NoCards,
    /// A rod part or a load beyond its limit.
    Safety,
    /// A recommendation of the setpoint is still open.
    OpenRecommendation,
    /// The well has no setpoint of the controlled parameter.
    MissingSetpoint,
    /// The setpoint changed less than its `min_interval_ms` ago.
    MinInterval,
    /// The setpoint is at the limit the step would cross.
    AtLimit,
    /// Too few strokes, or neither pumped off nor well filled.
    InBand,
}

/// What was decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Propose this change.
    Recommend(Box<Recommendation>),
    /// Propose nothing.
    Hold {
        /// Why.
        reason: HoldReason,
        /// Explanation for the log.
        message: String,
    },
}

/// A decision and the warnings of the cards that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The decision.
    pub decision: Decision,
    /// The strokes read, oldest first.
    pub strokes: Vec<Stroke>,
    /// One line per skipped card.
    pub warnings: Vec<String>,
}

fn hold(reason: HoldReason, message: impl Into<String>) -> Decision {
    Decision::Hold { reason, message: message.into() }
}

/// Reads the strokes of the context's cards; malformed cards become warnings.
pub fn strokes(config: &Config, context: &WellContext) -> (Vec<Stroke>, Vec<String>) {
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    let options = ClassifyOptions { rod_part_span_lbf: config.rod_part_span_lbf };
    let w = config.buoyant_rod_weight_lbf;
    for sample in nexus_plugin_sdk::samples(&context.readings, &config.card_key).unwrap_or_default() {
        let read = match &sample.value {
            Value::Text(text) => serde_json::from_str::<CardRecord>(text).map_err(|e| format!("not a card: {e}")),
            _ => Err("the value is not text (expected a JSON card)".into()),
        }
        .and_then(|r| {
            let card = r.downhole(w).map_err(|e| format!("invalid card: {e}"))?;
            let c = classify_with(&card, &options).map_err(|e| e.to_string())?;
            Ok((r, c))
        });
        match read {
            Ok((record, c)) => {
                let (peak, min) = record.polished_rod_loads(w);
                let parted = config.min_peak_load_lbf.is_some_and(|limit| peak < limit);
                out.push(Stroke {
                    ts: sample.ts,
                    fillage: c.fillage,
                    class: if parted { CardClass::RodPart } else { c.class },
                    confidence: c.confidence,
                    peak_load_lbf: peak,
                    min_load_lbf: min,
                });
            }
            Err(why) => warnings.push(format!("card `{}` at {} skipped: {why}", config.card_key, sample.ts)),
        }
    }
    (out, warnings)
}

/// The load interlocks over `recent`: why they stop the optimizer, if they do.
fn safety(config: &Config, recent: &[Stroke]) -> Option<String> {
    for s in recent.iter().rev() {
        if s.class == CardClass::RodPart {
            return Some(format!("the card at {} shows a rod part (peak {:.0} lbf)", s.ts, s.peak_load_lbf));
        }
        if let Some(limit) = config.max_peak_load_lbf.filter(|&l| s.peak_load_lbf > l) {
            return Some(format!("the card at {} peaks at {:.0} lbf, above {limit:.0} lbf", s.ts, s.peak_load_lbf));
        }
        if let Some(limit) = config.min_load_lbf.filter(|&l| s.min_load_lbf < l) {
            return Some(format!("the card at {} falls to {:.0} lbf, below {limit:.0} lbf", s.ts, s.min_load_lbf));
        }
    }
    None
}

/// The limits of a change of `setpoint`: range and step.
fn limits(config: &Config, setpoint: &Setpoint) -> (f64, f64, f64) {
    let ([lo, hi], step) = match config.mode {
        Mode::IdleTime => (config.idle_range_min, config.idle_step_min),
        Mode::Vfd => (config.spm_range, config.spm_step),
    };
    let step = setpoint.max_step.filter(|m| *m > 0.0).map_or(step, |m| step.min(m));
    (setpoint.min.unwrap_or(lo), setpoint.max.unwrap_or(hi), step)
}

/// Decides on one well at `now_ms`.
pub fn decide(config: &Config, context: &WellContext, now_ms: i64) -> Outcome {
    let (strokes, warnings) = strokes(config, context);
    let decision = decide_on(config, context, &strokes, now_ms);
    Outcome { decision, strokes, warnings }
}

fn decide_on(config: &Config, context: &WellContext, strokes: &[Stroke], now_ms: i64) -> Decision {
    if strokes.is_empty() {
        return hold(HoldReason::NoCards, format!("no readable card under `{}`", config.card_key));
    }
    let window = config.strokes_below.max(config.strokes_above);
    let recent = &strokes[strokes.len().saturating_sub(window)..];
    if let Some(why) = safety(config, recent) {
        return hold(HoldReason::Safety, format!("load interlock: {why}: no recommendation"));
    }
    let parameter = config.parameter();
    if let Some(open) = context
        .open_recommendations
        .iter()
        .find(|r| r.parameter == parameter && now_ms - r.created_at < config.open_recommendation_ttl_ms)
    {
        let message =
            format!("the recommendation of {parameter} = {} is still open: not repeated", open.proposed_value);
        return hold(HoldReason::OpenRecommendation, message);
    }
    let Some(setpoint) = context.setpoints.iter().find(|s| s.parameter == parameter) else {
        return hold(HoldReason::MissingSetpoint, format!("the well has no `{parameter}` setpoint"));
    };
    let last = |n: usize| (strokes.len() >= n).then(|| &strokes[strokes.len() - n..]);
    let (pumped_off, run) = if let Some(s) =
        last(config.strokes_below).filter(|s| s.iter().all(|s| s.fillage < config.fillage_setpoint))
    {
        (true, s)
    } else if let Some(s) = last(config.strokes_above).filter(|s| s.iter().all(|s| s.fillage >= config.high_fillage)) {
        (false, s)
    } else {
        return hold(HoldReason::InBand, "the newest strokes are neither all pumped off nor all well filled");
    };
    if let Some(interval) = setpoint.min_interval_ms
        && now_ms - setpoint.updated_at < interval
    {
        return hold(HoldReason::MinInterval, format!("`{parameter}` changed less than {interval} ms ago"));
    }
    let (lo, hi, step) = limits(config, setpoint);
    // Pump-off: longer idle or slower; filled: shorter idle or faster.
    let up = pumped_off == (config.mode == Mode::IdleTime);
    let current = setpoint.value;
    let proposed = if up { (current + step).min(hi) } else { (current - step).max(lo) };
    let proposed = (proposed * 100.0).round() / 100.0;
    if (up && proposed <= current) || (!up && proposed >= current) {
        return hold(HoldReason::AtLimit, format!("`{parameter}` = {current} is at its limit [{lo}, {hi}]"));
    }
    Decision::Recommend(Box::new(recommendation(config, context, setpoint, run, pumped_off, proposed, (lo, hi, step))))
}

/// The most frequent class of `run` (ties: the newest).
fn dominant(run: &[Stroke]) -> CardClass {
    let mut best = (0, CardClass::FullPump);
    for s in run.iter().rev() {
        let n = run.iter().filter(|o| o.class == s.class).count();
        if n > best.0 {
            best = (n, s.class);
        }
    }
    best.1
}

fn recommendation(
    config: &Config,
    context: &WellContext,
    setpoint: &Setpoint,
    run: &[Stroke],
    pumped_off: bool,
    proposed: f64,
    (lo, hi, step): (f64, f64, f64),
) -> Recommendation {
    let fillages: Vec<String> = run.iter().map(|s| format!("{:.0} %", 100.0 * s.fillage)).collect();
    let class = dominant(run);
    let what = match config.mode {
        Mode::IdleTime => "idle time",
        Mode::Vfd => "pumping speed",
    };
    let situation = if pumped_off {
        format!(
            "The last {} strokes pumped off: fillage {} below the {:.0} % setpoint ({}).",
            run.len(),
            fillages.join(", "),
            100.0 * config.fillage_setpoint,
            class.name()
        )
    } else {
        format!(
            "The last {} strokes stayed well filled: fillage {}, at or above {:.0} %.",
            run.len(),
            fillages.join(", "),
            100.0 * config.high_fillage
        )
    };
    let rationale = format!(
        "{situation} {} the {what} from {} to {} {} (limits {lo}–{hi}, step at most {step}).",
        if proposed > setpoint.value { "Raise" } else { "Lower" },
        setpoint.value,
        proposed,
        setpoint.unit
    );
    let recent = run;
    let details = json!({
        "mode": config.mode,
        "direction": if pumped_off { "pumped-off" } else { "filled" },
        "fillage_setpoint": config.fillage_setpoint,
        "high_fillage": config.high_fillage,
        "class": class.name(),
        "strokes": run.iter().map(|s| json!({"ts": s.ts, "fillage": s.fillage, "class": s.class.name(), "confidence": s.confidence})).collect::<Vec<_>>(),
        "interlocks": {
            "setpoint_range": [lo, hi],
            "step": step,
            "max_step": setpoint.max_step,
            "min_interval_ms": setpoint.min_interval_ms,
            "rod_part": false,
            "max_peak_load_lbf": config.max_peak_load_lbf,
            "min_load_lbf": config.min_load_lbf,
            "min_peak_load_lbf": config.min_peak_load_lbf,
            "peak_load_lbf": recent.iter().map(|s| s.peak_load_lbf).fold(f64::NEG_INFINITY, f64::max),
            "min_seen_load_lbf": recent.iter().map(|s| s.min_load_lbf).fold(f64::INFINITY, f64::min),
        },
    });
    let confidence = run.iter().map(|s| s.confidence).sum::<f64>() / run.len() as f64;
    Recommendation {
        device_id: context.device_id.clone(),
        parameter: setpoint.parameter.clone(),
        current_value: setpoint.value,
        proposed_value: proposed,
        unit: setpoint.unit.clone(),
        expected_gain: 0.0,
        gain_unit: "none (not estimated from cards)".into(),
        confidence: confidence as f32,
        rationale,
        details: details.to_string(),
    }
}
