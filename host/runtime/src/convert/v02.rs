//! Contract 0.2.0 ↔ the model: series move across as columns.

use nexus_model as model;

super::shared_conversions!(crate::bindings::v02::types);

pub(crate) fn column_to_wit(column: &model::Column) -> wit::Column {
    match column {
        model::Column::Number(v) => wit::Column::Number(v.clone()),
        model::Column::Integer(v) => wit::Column::Integer(v.clone()),
        model::Column::Boolean(v) => wit::Column::Boolean(v.clone()),
        model::Column::Text(v) => wit::Column::Text(v.clone()),
    }
}

pub(crate) fn series_to_wit(series: &model::Series) -> wit::Series {
    wit::Series {
        key: series.key.clone(),
        ts: series.ts.clone(),
        values: column_to_wit(&series.values),
        quality: series.quality.clone(),
    }
}

pub(crate) fn series_from_wit(series: wit::Series) -> model::Series {
    let values = match series.values {
        wit::Column::Number(v) => model::Column::Number(v),
        wit::Column::Integer(v) => model::Column::Integer(v),
        wit::Column::Boolean(v) => model::Column::Boolean(v),
        wit::Column::Text(v) => model::Column::Text(v),
    };
    model::Series { key: series.key, ts: series.ts, values, quality: series.quality }
}

pub(crate) fn reading_to_wit(reading: &model::Reading) -> wit::Reading {
    wit::Reading {
        device_id: reading.device_id.to_string(),
        key: reading.key.clone(),
        ts: reading.ts,
        value: match &reading.value {
            model::Value::Number(n) => wit::Value::Number(*n),
            model::Value::Integer(i) => wit::Value::Integer(*i),
            model::Value::Boolean(b) => wit::Value::Boolean(*b),
            model::Value::Text(t) => wit::Value::Text(t.clone()),
        },
        quality: reading.quality,
    }
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
    let details = serde_json::from_str(&r.details)
        .ok()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
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
        details,
    }
}

fn severity_to_wit(severity: model::Severity) -> wit::Severity {
    match severity {
        model::Severity::Critical => wit::Severity::Critical,
        model::Severity::Major => wit::Severity::Major,
        model::Severity::Minor => wit::Severity::Minor,
        model::Severity::Warning => wit::Severity::Warning,
        model::Severity::Indeterminate => wit::Severity::Indeterminate,
    }
}

pub(crate) fn context_to_wit(ctx: &model::WellContext) -> wit::WellContext {
    wit::WellContext {
        well_id: ctx.well_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        device_id: ctx.device_id.to_string(),
        readings: ctx.readings.iter().map(series_to_wit).collect(),
        setpoints: ctx
            .setpoints
            .iter()
            .map(|s| wit::Setpoint {
                parameter: s.parameter.clone(),
                value: s.value,
                unit: s.unit.clone(),
                min: s.min,
                max: s.max,
                max_step: s.max_step,
                min_interval_ms: s.min_interval_ms,
                source: match s.source {
                    model::SetpointSource::Device => wit::SetpointSource::Device,
                    model::SetpointSource::Written => wit::SetpointSource::Written,
                    model::SetpointSource::Manual => wit::SetpointSource::Manual,
                },
                updated_at: s.updated_at,
            })
            .collect(),
        static_data: ctx.static_data.clone(),
        open_alarms: ctx
            .open_alarms
            .iter()
            .map(|a| wit::OpenAlarm {
                alarm_type: a.alarm_type.clone(),
                severity: severity_to_wit(a.severity),
                since: a.since,
            })
            .collect(),
        open_recommendations: ctx
            .open_recommendations
            .iter()
            .map(|r| wit::OpenRecommendation {
                parameter: r.parameter.clone(),
                proposed_value: r.proposed_value,
                created_at: r.created_at,
            })
            .collect(),
        well_tests: ctx
            .well_tests
            .iter()
            .map(|t| wit::WellTest {
                ts: t.ts,
                duration_h: t.duration_h,
                oil_bbl_d: t.oil_bbl_d,
                water_bbl_d: t.water_bbl_d,
                gas_mscf_d: t.gas_mscf_d,
                conditions: t.conditions.to_string(),
            })
            .collect(),
    }
}

pub(crate) fn field_to_wit(field: &model::FieldContext) -> wit::FieldContext {
    let c = &field.constraints;
    wit::FieldContext {
        group_id: field.group_id.clone(),
        wells: field.wells.iter().map(context_to_wit).collect(),
        constraints: wit::FieldConstraints {
            lift_gas_available: c.lift_gas_available,
            compressor_capacity: c.compressor_capacity,
            water_handling: c.water_handling,
            separator_liquid: c.separator_liquid,
            injection_bounds: c
                .injection_bounds
                .iter()
                .map(|b| wit::InjectionBounds { well_id: b.well_id.to_string(), min: b.min, max: b.max })
                .collect(),
        },
    }
}

fn json_object(text: &str) -> serde_json::Value {
    serde_json::from_str(text).ok().filter(serde_json::Value::is_object).unwrap_or_else(|| serde_json::json!({}))
}

pub(crate) fn plan_from_wit(plan: wit::FieldPlan) -> model::FieldPlan {
    model::FieldPlan {
        recommendations: plan.recommendations.into_iter().map(recommendation_from_wit).collect(),
        rationale: plan.rationale,
        details: json_object(&plan.details),
    }
}

pub(crate) fn forecast_from_wit(f: wit::Forecast) -> model::Forecast {
    model::Forecast {
        device_id: f.device_id.into(),
        key: f.key,
        unit: f.unit,
        points: f
            .points
            .into_iter()
            .map(|p| model::ForecastPoint { ts: p.ts, value: p.value, low: p.low, high: p.high })
            .collect(),
        model: json_object(&f.model),
    }
}

pub(crate) fn forecast_to_wit(f: model::Forecast) -> wit::Forecast {
    wit::Forecast {
        device_id: f.device_id.to_string(),
        key: f.key,
        unit: f.unit,
        points: f
            .points
            .into_iter()
            .map(|p| wit::ForecastPoint { ts: p.ts, value: p.value, low: p.low, high: p.high })
            .collect(),
        model: f.model.to_string(),
    }
}
