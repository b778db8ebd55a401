//! Conversions between the generated WIT types and `nexus-model`.

use nexus_model as model;

use crate::bindings::types as wit;

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

/// Groups one device's readings into one series per key, each in ts order.
pub(crate) fn batch_to_wit(readings: &[model::Reading]) -> Vec<wit::Series> {
    let mut by_key: std::collections::BTreeMap<&str, Vec<wit::Sample>> = std::collections::BTreeMap::new();
    for r in readings {
        by_key.entry(r.key.as_str()).or_default().push(wit::Sample {
            ts: r.ts,
            value: value_to_wit(&r.value),
            quality: r.quality,
        });
    }
    by_key
        .into_iter()
        .map(|(key, mut samples)| {
            if !samples.is_sorted_by_key(|s| s.ts) {
                samples.sort_by_key(|s| s.ts);
            }
            wit::Series { key: key.to_string(), samples }
        })
        .collect()
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

pub(crate) fn frame_to_wit(frame: &model::Frame) -> wit::Frame {
    wit::Frame {
        source: match frame.source {
            model::SourceKind::Mqtt => wit::SourceKind::Mqtt,
            model::SourceKind::Http => wit::SourceKind::Http,
            model::SourceKind::Opcua => wit::SourceKind::Opcua,
            model::SourceKind::Modbus => wit::SourceKind::Modbus,
            model::SourceKind::Kafka => wit::SourceKind::Kafka,
        },
        device_id: frame.device_id.to_string(),
        topic: frame.topic.clone(),
        content_type: frame.content_type.clone(),
        payload: frame.payload.clone(),
        received_at: frame.received_at,
        metadata: frame.metadata.clone(),
    }
}

pub(crate) fn signal_from_wit(signal: wit::AlarmSignal) -> model::AlarmSignal {
    model::AlarmSignal {
        action: match signal.action {
            wit::AlarmAction::Raise => model::AlarmAction::Raise,
            wit::AlarmAction::Clear => model::AlarmAction::Clear,
        },
        device_id: signal.device_id.into(),
        alarm_type: signal.alarm_type,
        severity: match signal.severity {
            wit::Severity::Critical => model::Severity::Critical,
            wit::Severity::Major => model::Severity::Major,
            wit::Severity::Minor => model::Severity::Minor,
            wit::Severity::Warning => model::Severity::Warning,
            wit::Severity::Indeterminate => model::Severity::Indeterminate,
        },
        ts: signal.ts,
        details: signal.details,
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
    }
}

pub(crate) fn context_to_wit(ctx: &model::WellContext) -> wit::WellContext {
    wit::WellContext {
        well_id: ctx.well_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        device_id: ctx.device_id.to_string(),
        readings: ctx.readings.iter().map(reading_to_wit).collect(),
        setpoints: ctx
            .setpoints
            .iter()
            .map(|s| wit::Setpoint { parameter: s.parameter.clone(), value: s.value, unit: s.unit.clone() })
            .collect(),
        static_data: ctx.static_data.clone(),
    }
}

pub(crate) fn error_from_wit(e: wit::PluginError) -> model::PluginError {
    model::PluginError { code: e.code, message: e.message }
}

pub(crate) fn info_from_wit(info: wit::PluginInfo) -> model::PluginInfo {
    let config_schema =
        serde_json::from_str(&info.config_schema).unwrap_or(serde_json::Value::String(info.config_schema));
    model::PluginInfo { name: info.name, version: info.version, description: info.description, config_schema }
}
