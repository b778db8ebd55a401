//! Rows to model types.

use nexus_model::{
    Alarm, AlarmStatus, DeadLetter, Device, PluginKind, PluginRun, PluginVersion, Severity, Stage, Well, Wellpad,
};
use nexus_storage::Result;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::{corrupt, db};

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(db)
}

/// A jsonb column as a typed value.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(row: &PgRow, column: &str) -> Result<T> {
    serde_json::from_value(get::<serde_json::Value>(row, column)?).map_err(corrupt)
}

pub(crate) fn alarm(row: &PgRow) -> Result<Alarm> {
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
        details: get(row, "details")?,
        assignee: get(row, "assignee")?,
        well_id: get::<Option<String>>(row, "well_id")?.map(Into::into),
        wellpad_id: get::<Option<String>>(row, "wellpad_id")?.map(Into::into),
    })
}

pub(crate) fn device(row: &PgRow) -> Result<Device> {
    Ok(Device {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        well_id: get::<Option<String>>(row, "well_id")?.map(Into::into),
        created_time: get(row, "created_time")?,
        token_issued_time: get(row, "token_issued_time")?,
    })
}

pub(crate) fn wellpad(row: &PgRow) -> Result<Wellpad> {
    Ok(Wellpad {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        constraints: typed(row, "constraints")?,
        created_time: get(row, "created_time")?,
    })
}

pub(crate) fn well(row: &PgRow) -> Result<Well> {
    Ok(Well {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        wellpad_id: get::<Option<String>>(row, "wellpad_id")?.map(Into::into),
        status: get(row, "status")?,
        static_data: get(row, "static_data")?,
        created_time: get(row, "created_time")?,
    })
}

pub(crate) fn plugin(row: &PgRow) -> Result<PluginVersion> {
    let kind: String = get(row, "kind")?;
    Ok(PluginVersion {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("plugin kind {kind}")))?,
        name: get(row, "name")?,
        version: get(row, "version")?,
        hash: get(row, "hash")?,
        size_bytes: get(row, "size_bytes")?,
        info: typed(row, "info")?,
        created_time: get(row, "created_time")?,
        contract: get(row, "contract")?,
        release_id: get::<Option<String>>(row, "release_id")?.map(Into::into),
    })
}

pub(crate) fn plugin_run(row: &PgRow) -> Result<PluginRun> {
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

pub(crate) fn dead_letter(row: &PgRow) -> Result<DeadLetter> {
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
