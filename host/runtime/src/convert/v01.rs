//! Contract 0.1.0 ↔ the model: the adapter for components built before
//! 0.2.0. Their batches are `list<sample>` per key and their decoders return
//! rows, so this side converts between columns and rows.

use nexus_model as model;

super::shared_conversions!(crate::bindings::v01::types);

pub(crate) fn value_to_wit(value: &model::Value) -> wit::Value {
    match value {
        model::Value::Number(n) => wit::Value::Number(*n),
        model::Value::Integer(i) => wit::Value::Integer(*i),
        model::Value::Boolean(b) => wit::Value::Boolean(*b),
        model::Value::Text(t) => wit::Value::Text(t.clone()),
    }
}

pub(crate) fn value_from_wit(value: wit::Value) -> model::Value {
    match value {
        wit::Value::Number(n) => model::Value::Number(n),
        wit::Value::Integer(i) => model::Value::Integer(i),
        wit::Value::Boolean(b) => model::Value::Boolean(b),
        wit::Value::Text(t) => model::Value::Text(t),
    }
}

pub(crate) fn reading_to_wit(reading: &model::Reading) -> wit::Reading {
    wit::Reading {
        device_id: reading.device_id.to_string(),
        key: reading.key.clone(),
        ts: reading.ts,
        value: value_to_wit(&reading.value),
        quality: reading.quality,
    }
}

pub(crate) fn reading_from_wit(reading: wit::Reading) -> model::Reading {
    model::Reading {
        device_id: reading.device_id.into(),
        key: reading.key,
        ts: reading.ts,
        value: value_from_wit(reading.value),
        quality: reading.quality,
    }
}

/// One 0.1.0 series (samples) per key, keys in order, samples by time:
/// series of one key but different value types are merged.
pub(crate) fn batch_to_wit(batch: &[model::Series]) -> Vec<wit::Series> {
    let mut out: Vec<wit::Series> = Vec::new();
    for series in batch {
        let samples = (0..series.len()).filter_map(|i| {
            Some(wit::Sample {
                ts: series.ts[i],
                value: value_to_wit(&series.values.get(i)?),
                quality: series.quality_at(i),
            })
        });
        match out.iter_mut().find(|s| s.key == series.key) {
            Some(existing) => existing.samples.extend(samples),
            None => out.push(wit::Series { key: series.key.clone(), samples: samples.collect() }),
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    for series in &mut out {
        if !series.samples.is_sorted_by_key(|s| s.ts) {
            series.samples.sort_by_key(|s| s.ts);
        }
    }
    out
}

pub(crate) fn frame_to_wit(frame: &model::Frame) -> wit::Frame {
    wit::Frame {
        source: source_to_wit(frame.source),
        device_id: frame.device_id.to_string(),
        topic: frame.topic.clone(),
        content_type: frame.content_type.clone(),
        payload: frame.payload.clone(),
        received_at: frame.received_at,
        metadata: frame.metadata.clone(),
    }
}

pub(crate) fn recommendation_from_wit(r: wit::Recommendation) -> model::Recommendation {
    model::Recommendation {
        device_id: r.device_id.into(),
        parameter: r.parameter,
        current_value: r.current_value,
        proposed_value: r.proposed_value,
        unit: r.unit,
        expected_gain: r.expected_gain,
        gain_unit: r.gain_unit,
        confidence: r.confidence,
        rationale: r.rationale,
        details: serde_json::json!({}),
    }
}

pub(crate) fn context_to_wit(ctx: &model::WellContext) -> wit::WellContext {
    let mut readings: Vec<model::Reading> = ctx.readings.iter().flat_map(|s| s.readings(&ctx.device_id)).collect();
    readings.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.key.cmp(&b.key)));
    wit::WellContext {
        well_id: ctx.well_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        device_id: ctx.device_id.to_string(),
        readings: readings.iter().map(reading_to_wit).collect(),
        setpoints: ctx
            .setpoints
            .iter()
            .map(|s| wit::Setpoint { parameter: s.parameter.clone(), value: s.value, unit: s.unit.clone() })
            .collect(),
        static_data: ctx.static_data.clone(),
    }
}
