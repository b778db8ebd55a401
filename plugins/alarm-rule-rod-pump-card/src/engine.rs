//! The rule as a pure function: each card of the batch, oldest first, is
//! read, classified and compared with the alarm now raised.
//!
//! * A fault class raises the alarm named after it (`FluidPound`, ...),
//!   with the class's severity; an alarm of another class still raised is
//!   cleared first (one card alarm at a time: a card has one class).
//! * A full-pump card clears the raised alarm and raises nothing.
//! * A card of the raised class changes nothing (the host keeps the alarm).
//! * A card below `min_confidence` changes nothing.
//! * A malformed card (not text, not JSON of the card format, or a card
//!   that does not validate) is skipped with a warning naming why; the rest
//!   of the batch is evaluated.

use nexus_physics::card::{CardClass, CardRecord, Classification, classify_with};
use nexus_plugin_sdk::{AlarmSignal, Series, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Config;

/// The key the state is kept under.
pub const STATE_KEY: &str = "card-alarm";

/// What the rule remembers per (binding, device).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardState {
    /// The alarm type this rule has raised and not cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raised: Option<String>,
}

/// What one batch produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Raise and clear signals, in card order.
    pub signals: Vec<AlarmSignal>,
    /// Why cards were skipped, one line each.
    pub warnings: Vec<String>,
    /// The classification of each card read, with its time.
    pub classified: Vec<(i64, Classification)>,
}

/// Reads one card sample: its class, or why it cannot be used.
pub fn read_card(config: &Config, value: &Value) -> Result<(Classification, CardRecord), String> {
    let Value::Text(text) = value else {
        return Err("the value is not text (expected a JSON card)".into());
    };
    let record: CardRecord = serde_json::from_str(text).map_err(|e| format!("not a card: {e}"))?;
    let card = record.downhole(config.buoyant_rod_weight_lbf).map_err(|e| format!("invalid card: {e}"))?;
    let mut classification = classify_with(&card, &config.classify_options()).map_err(|e| e.to_string())?;
    let (peak, _) = record.polished_rod_loads(config.buoyant_rod_weight_lbf);
    if config.min_peak_load_lbf.is_some_and(|limit| peak < limit) {
        classification.class = CardClass::RodPart;
    }
    Ok((classification, record))
}

/// The details of a card's signal.
fn details(c: &Classification, record: &CardRecord, previous: Option<&str>) -> serde_json::Value {
    json!({
        "class": c.class.name(),
        "fillage": c.fillage,
        "confidence": c.confidence,
        "kind": record.kind,
        "points": record.position.len(),
        "previous": previous,
        "features": c.features,
    })
}

/// Evaluates a batch (see the module documentation).
pub fn evaluate_batch(config: &Config, state: &mut CardState, device_id: &str, batch: &[Series]) -> Outcome {
    let mut out = Outcome::default();
    let Some(samples) = nexus_plugin_sdk::samples(batch, &config.key) else {
        return out;
    };
    for sample in samples {
        if sample.quality < config.min_quality {
            continue;
        }
        let (classification, record) = match read_card(config, &sample.value) {
            Ok(read) => read,
            Err(why) => {
                out.warnings.push(format!("device {device_id}: card `{}` at {} skipped: {why}", config.key, sample.ts));
                continue;
            }
        };
        if classification.confidence < config.min_confidence {
            out.classified.push((sample.ts, classification));
            continue;
        }
        let class = classification.class;
        let wanted = class.is_fault().then(|| class.name().to_string());
        if wanted != state.raised {
            if let Some(raised) = state.raised.take() {
                let details = details(&classification, &record, Some(&raised));
                out.signals.push(AlarmSignal::clear_at(device_id, sample.ts, &raised, details));
            }
            if let Some(alarm_type) = wanted {
                let details = details(&classification, &record, None);
                let severity = config.severity(class);
                out.signals.push(AlarmSignal::raise_at(device_id, sample.ts, &alarm_type, severity, details));
                state.raised = Some(alarm_type);
            }
        }
        out.classified.push((sample.ts, classification));
    }
    out
}
