//! Rows to model types, and model values to columns.

use nexus_model::{
    Alarm, AlarmStatus, DeadLetter, Device, PluginKind, PluginRun, PluginVersion, Severity, Stage, Well, Wellpad,
};
use nexus_storage::Result;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{corrupt, db};

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(db)
}

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

pub(crate) fn alarm(row: &SqliteRow) -> Result<Alarm> {
    let severity: String = get(row, "severity")?;
    let status: String = get(row, "status")?;
    Ok(Alarm {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        device_id: get::<String>(row, "device_id")?.into(),
        alarm_type: get(row, "alarm_type")?,
        severity: Severity::parse(&severity).ok_or_else(|| corrupt(format!("severity {severity}")))?,
        status: AlarmStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        start_ts: get(row, "start_ts")?,
        end_ts: get(row, "end_ts")?,
        ack_ts: get(row, "ack_ts")?,
        clear_ts: get(row, "clear_ts")?,
        binding_id: get::<Option<String>>(row, "binding_id")?.map(Into::into),
        details: json(&get::<String>(row, "details")?),
        assignee: get(row, "assignee")?,
        well_id: get::<Option<String>>(row, "well_id")?.map(Into::into),
        wellpad_id: get::<Option<String>>(row, "wellpad_id")?.map(Into::into),
    })
}

pub(crate) fn device(row: &SqliteRow) -> Result<Device> {
    Ok(Device {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        well_id: get::<Option<String>>(row, "well_id")?.map(Into::into),
        created_time: get(row, "created_time")?,
        token_issued_time: get(row, "token_issued_time")?,
    })
}

pub(crate) fn wellpad(row: &SqliteRow) -> Result<Wellpad> {
    let constraints: String = get(row, "constraints")?;
    Ok(Wellpad {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        constraints: serde_json::from_str(&constraints).map_err(corrupt)?,
        created_time: get(row, "created_time")?,
    })
}

pub(crate) fn well(row: &SqliteRow) -> Result<Well> {
    let static_data: String = get(row, "static_data")?;
    Ok(Well {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        wellpad_id: get::<Option<String>>(row, "wellpad_id")?.map(Into::into),
        status: get(row, "status")?,
        static_data: serde_json::from_str(&static_data).map_err(corrupt)?,
        created_time: get(row, "created_time")?,
    })
}

pub(crate) fn plugin(row: &SqliteRow) -> Result<PluginVersion> {
    let kind: String = get(row, "kind")?;
    let info: String = get(row, "info")?;
    Ok(PluginVersion {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("plugin kind {kind}")))?,
        name: get(row, "name")?,
        version: get(row, "version")?,
        hash: get(row, "hash")?,
        size_bytes: get(row, "size_bytes")?,
        info: serde_json::from_str(&info).map_err(corrupt)?,
        created_time: get(row, "created_time")?,
        contract: get(row, "contract")?,
        release_id: get::<Option<String>>(row, "release_id")?.map(Into::into),
    })
}

pub(crate) fn plugin_run(row: &SqliteRow) -> Result<PluginRun> {
    Ok(PluginRun {
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        binding_id: get::<Option<String>>(row, "binding_id")?.map(Into::into),
        device_id: get::<Option<String>>(row, "device_id")?.map(Into::into),
        plugin: get(row, "plugin")?,
        version: get(row, "version")?,
        error_code: get(row, "error_code")?,
        error: get(row, "error")?,
        duration_us: get(row, "duration_us")?,
        fuel_used: get(row, "fuel_used")?,
        ts: get(row, "ts")?,
    })
}

pub(crate) fn dead_letter(row: &SqliteRow) -> Result<DeadLetter> {
    let stage: String = get(row, "stage")?;
    Ok(DeadLetter {
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        binding_id: get::<Option<String>>(row, "binding_id")?.map(Into::into),
        device_id: get::<Option<String>>(row, "device_id")?.map(Into::into),
        stage: Stage::parse(&stage).ok_or_else(|| corrupt(format!("stage {stage}")))?,
        error_code: get(row, "error_code")?,
        error: get(row, "error")?,
        payload: get(row, "payload")?,
        ts: get(row, "ts")?,
    })
}
