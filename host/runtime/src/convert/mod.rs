//! Conversions between `nexus-model` and the generated WIT types of each
//! contract version. 0.2.0 is the model's own shape (columns); 0.1.0 is
//! the adapter that keeps components built against it running.

pub(crate) mod v01;
pub(crate) mod v02;

/// The conversions both versions spell the same way: enums, frames,
/// signals, errors and `describe`'s answer.
macro_rules! shared_conversions {
    ($wit:path) => {
        use $wit as wit;

        pub(crate) fn source_to_wit(source: model::SourceKind) -> wit::SourceKind {
            match source {
                model::SourceKind::Mqtt => wit::SourceKind::Mqtt,
                model::SourceKind::Http => wit::SourceKind::Http,
                model::SourceKind::Opcua => wit::SourceKind::Opcua,
                model::SourceKind::Modbus => wit::SourceKind::Modbus,
                model::SourceKind::Kafka => wit::SourceKind::Kafka,
            }
        }

        pub(crate) fn severity_from_wit(severity: wit::Severity) -> model::Severity {
            match severity {
                wit::Severity::Critical => model::Severity::Critical,
                wit::Severity::Major => model::Severity::Major,
                wit::Severity::Minor => model::Severity::Minor,
                wit::Severity::Warning => model::Severity::Warning,
                wit::Severity::Indeterminate => model::Severity::Indeterminate,
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
                severity: severity_from_wit(signal.severity),
                ts: signal.ts,
                details: signal.details,
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
    };
}

pub(crate) use shared_conversions;
