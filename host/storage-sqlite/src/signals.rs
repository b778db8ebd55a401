//! Rules' alarm signals, a unit of work's at once, in a handful of
//! statements whatever their number: the open alarms of every (device,
//! type) signalled are read in one query, the lifecycle applies the signals
//! in order in memory, and the alarms' final rows and every transition's
//! history row are written with one statement each, their rows bound as
//! one `VALUES` list ([`crate::values`]). Each statement is a hand-off to the
//! connection's worker thread; three or four per signal were a large part
//! of a commit end to end (a threshold rule on a sawtooth raises and clears
//! about 14 times per 100-sample frame). The write transaction is SQLite's
//! only writer, so what was read stays true until the commit.

use nexus_model::{Alarm, AlarmTransition, TenantId, TimestampMs};
use nexus_storage::{AlarmRows, Homes, Result, SignalWrite, apply_signals, propagating_devices, signalled_pairs};
use serde_json::json;

use crate::db;
use crate::rows::{self, get};
use crate::values::{Query, Statements};

/// The open alarms of the signalled (device, type) pairs (`?2`: `[[device, type], …]`).
const OPEN: &str = "SELECT a.* FROM json_each(?2) AS p CROSS JOIN alarm a
    WHERE a.tenant_id = ?1 AND a.device_id = p.value ->> 0 AND a.alarm_type = p.value ->> 1
      AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK')";

/// Where new alarms of these devices (`?2`: `[device, …]`) propagate. The
/// unary `+` keeps the planner off the (tenant, name) index: without it,
/// SQLite read every device of the tenant at each commit that raised an
/// alarm (a tenth of a millisecond at 100 devices, growing with the
/// fleet); with it, each device is one primary-key look-up.
const HOMES: &str = "SELECT d.id, d.well_id, w.wellpad_id FROM device d LEFT JOIN well w ON w.id = d.well_id
    WHERE +d.tenant_id = ?1 AND d.id IN (SELECT value FROM json_each(?2))";

/// [`INSERT`], [`UPDATE`] and [`EVENTS`] read their rows from a `VALUES`
/// list of bound parameters ([`values`]): `column1` is a row's number in
/// the batch, then its fields in the order of [`ALARM`] and [`EVENT`].
/// In [`UPDATE`] the unary `+` keeps the planner off the tenant's index:
/// with it, SQLite scanned every alarm of the tenant for each commit (the
/// table grows with every raise); without, each row is one primary-key
/// look-up.
const INSERT: (&str, &str) = (
    "INSERT INTO alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts,
        ack_ts, clear_ts, binding_id, details, created_time, well_id, wellpad_id, assignee)
    SELECT column2, column3, column4, column5, column6, column7, column8, column9, column10, column11,
        column12, column13, column14, column15, column16, column17 FROM ",
    " WHERE column1 IS NOT NULL ORDER BY column1",
);

const UPDATE: (&str, &str) = (
    "UPDATE alarm SET severity = n.column6, status = n.column7, end_ts = n.column9, ack_ts = n.column10,
        clear_ts = n.column11, details = n.column13, assignee = n.column17 FROM ",
    " AS n WHERE n.column1 IS NOT NULL AND alarm.id = n.column2 AND +alarm.tenant_id = n.column3",
);

/// Parameters of an alarm's row: its number, then its columns.
const ALARM: usize = 17;

const EVENTS: (&str, &str) = (
    "INSERT INTO alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
    SELECT column2, column3, column4, column5, column6, column7, column8, column9 FROM ",
    " WHERE column1 IS NOT NULL ORDER BY column1",
);

/// Parameters of a history row: its number, then its columns.
const EVENT: usize = 9;

/// How SQLite plans the statements of a commit's signals that must look
/// rows up by key whatever the tenant's size — [`UPDATE`] of a list of 16
/// known alarms, and [`HOMES`] — by name, one line per step of
/// `EXPLAIN QUERY PLAN` (diagnostics).
pub(crate) async fn plans(writer: &sqlx::SqlitePool) -> Result<Vec<(&'static str, Vec<String>)>> {
    let mut update = String::from("EXPLAIN QUERY PLAN ");
    crate::values::statement(&mut update, UPDATE.0, ALARM, 16, UPDATE.1);
    let update = update.trim_end().trim_end_matches(';').to_string();
    let mut plans = Vec::new();
    for (name, sql) in [("update", update), ("homes", format!("EXPLAIN QUERY PLAN {HOMES}"))] {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(writer).await.map_err(db)?;
        plans.push((name, rows.into_iter().map(|(.., detail)| detail).collect()));
    }
    Ok(plans)
}

/// Applies a unit of work's signals in order inside `tx` and returns the
/// transitions they caused.
pub(crate) async fn apply(
    tx: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    writes: &[SignalWrite],
) -> Result<Vec<AlarmTransition>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(OPEN)
        .bind(tenant.as_str())
        .bind(json!(signalled_pairs(writes)).to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let open = rows.iter().map(rows::alarm).collect::<Result<Vec<_>>>()?;
    let homes = homes(tx, tenant, writes).await?;
    let transitions = apply_signals(tenant, writes, open, &homes);
    persist(tx, tenant, &transitions).await?;
    Ok(transitions)
}

/// The well and wellpad of each device with a signal that propagates.
async fn homes(tx: &mut sqlx::SqliteConnection, tenant: &TenantId, writes: &[SignalWrite]) -> Result<Homes> {
    let devices = propagating_devices(writes);
    if devices.is_empty() {
        return Ok(Homes::new());
    }
    let rows = sqlx::query(HOMES)
        .bind(tenant.as_str())
        .bind(json!(devices).to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut homes = Homes::with_capacity(rows.len());
    for row in &rows {
        let well: Option<String> = get(row, "well_id")?;
        let wellpad: Option<String> = get(row, "wellpad_id")?;
        homes.insert(get::<String>(row, "id")?, (well.map(Into::into), wellpad.map(Into::into)));
    }
    Ok(homes)
}

/// Binds an alarm's row: its number `n`, then the columns of [`INSERT`]
/// (the tenant the unit of work's, whose alarms alone it read).
fn bind_alarm<'q>(
    query: Query<'q>,
    n: usize,
    tenant: &'q TenantId,
    alarm: &'q Alarm,
    raised: Option<TimestampMs>,
) -> Query<'q> {
    query
        .bind(n as i64)
        .bind(alarm.id.as_str())
        .bind(tenant.as_str())
        .bind(alarm.device_id.as_str())
        .bind(alarm.alarm_type.as_str())
        .bind(alarm.severity.as_str())
        .bind(alarm.status.as_str())
        .bind(alarm.start_ts)
        .bind(alarm.end_ts)
        .bind(alarm.ack_ts)
        .bind(alarm.clear_ts)
        .bind(alarm.binding_id.as_ref().map(|b| b.as_str()))
        .bind(alarm.details.to_string())
        .bind(raised)
        .bind(alarm.well_id.as_ref().map(|w| w.as_str()))
        .bind(alarm.wellpad_id.as_ref().map(|w| w.as_str()))
        .bind(alarm.assignee.as_deref())
}

/// Writes the transitions in one round trip: each alarm's row as its last
/// transition left it ([`AlarmRows`]), then every transition's history row
/// in order; then any comments.
pub(crate) async fn persist(
    tx: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    transitions: &[AlarmTransition],
) -> Result<()> {
    let rows = AlarmRows::of(transitions);
    let events: Vec<&AlarmTransition> = transitions.iter().filter(|t| t.action.is_event()).collect();
    let mut statements = Statements::default();
    // Known alarms first (see [`AlarmRows::known`]).
    statements.rows(UPDATE, ALARM, &rows.known, move |q, n, a| bind_alarm(q, n, tenant, a, None));
    statements.rows(INSERT, ALARM, &rows.new, move |q, n, (a, raised)| bind_alarm(q, n, tenant, a, Some(*raised)));
    statements.rows(EVENTS, EVENT, &events, move |q, n, t| {
        q.bind(n as i64)
            .bind(t.alarm.id.as_str())
            .bind(tenant.as_str())
            .bind(t.ts)
            .bind(t.action.as_str())
            .bind(t.alarm.status.as_str())
            .bind(t.alarm.severity.as_str())
            .bind(t.actor.to_string())
            .bind(t.alarm.details.to_string())
    });
    statements.execute(tx).await?;
    for t in transitions {
        crate::alarms::insert_comment(tx, t).await?;
    }
    Ok(())
}
