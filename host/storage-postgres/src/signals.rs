//! Rules' alarm signals, a unit of work's at once, in two statements
//! whatever their number: the open alarms of every (device, type) signalled
//! are read and locked (`FOR UPDATE`) in one query, with the homes of the
//! devices whose alarms propagate; the lifecycle applies the signals in
//! order in memory; and the alarms' final rows and every transition's
//! history row are written in one statement. One round trip per signal —
//! three or four statements each — was most of a commit's time end to end
//! (a threshold rule on a sawtooth raises and clears about 14 times per
//! 100-sample frame); then one per query and table was most of what was
//! left at half load, where each round trip also wakes an idle server.

use nexus_model::{Alarm, AlarmTransition, TenantId};
use nexus_storage::{AlarmRows, Homes, Result, SignalWrite, apply_signals, propagating_devices, signalled_pairs};

use crate::db;
use crate::rows::{self, get};

/// The open alarms of the signalled (device, type) pairs (`$2`, `$3`),
/// locked, in one statement with the homes (well and wellpad) of the
/// devices whose new alarms propagate (`$4`): one row per open alarm, each
/// carrying the homes as arrays, or a single row of homes and no alarm
/// (its alarm columns null) when none is open.
const OPEN: &str = "WITH open AS MATERIALIZED (
        SELECT a.* FROM pf.alarm a
        JOIN UNNEST($2::text[], $3::text[]) AS p(device_id, alarm_type)
          ON a.device_id = p.device_id COLLATE \"C\" AND a.alarm_type = p.alarm_type
        WHERE a.tenant_id = $1 AND a.status IN ('ACTIVE_UNACK', 'ACTIVE_ACK')
        ORDER BY a.id FOR UPDATE OF a
    ), homes AS (
        SELECT array_agg(d.id) AS home_ids, array_agg(d.well_id) AS home_wells,
            array_agg(w.wellpad_id) AS home_wellpads
        FROM pf.device d LEFT JOIN pf.well w ON w.id = d.well_id
        WHERE d.tenant_id = $1 AND d.id = ANY($4)
    )
    SELECT o.*, h.* FROM homes h LEFT JOIN open o ON true";

/// The transitions' writes in one statement: the known alarms' rows
/// updated (`$2`..`$9`), then the new ones inserted (`$10`..`$24`; the
/// insert's one-time filter reads the update's result, so it runs after
/// it: a clear closes an alarm before a new one of its (device, type) is
/// inserted, one open alarm per pair), and every transition's history row
/// (`$25`..`$31`, in order; their alarms' foreign keys are checked at the
/// statement's end, when the new alarms are in).
const PERSIST: &str = "WITH updated AS (
        UPDATE pf.alarm a SET severity = n.severity, status = n.status, end_ts = n.end_ts,
            ack_ts = n.ack_ts, clear_ts = n.clear_ts, details = n.details::jsonb, assignee = n.assignee
        FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::text[], $9::text[])
            AS n(id, severity, status, end_ts, ack_ts, clear_ts, details, assignee)
        WHERE a.id = n.id COLLATE \"C\" AND a.tenant_id = $1
        RETURNING a.id
    ), inserted AS (
        INSERT INTO pf.alarm (id, tenant_id, device_id, alarm_type, severity, status, start_ts, end_ts,
            ack_ts, clear_ts, binding_id, details, created_time, well_id, wellpad_id, assignee)
        SELECT id, $1, device_id, alarm_type, severity, status, start_ts, end_ts, ack_ts, clear_ts, binding_id,
            details::jsonb, created_time, well_id, wellpad_id, assignee
        FROM UNNEST($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::int8[], $16::int8[],
            $17::int8[], $18::int8[], $19::text[], $20::text[], $21::int8[], $22::text[], $23::text[], $24::text[])
            AS n(id, device_id, alarm_type, severity, status, start_ts, end_ts, ack_ts, clear_ts, binding_id,
                 details, created_time, well_id, wellpad_id, assignee)
        WHERE (SELECT count(*) FROM updated) >= 0
        RETURNING id
    )
    INSERT INTO pf.alarm_event (alarm_id, tenant_id, ts, action, status, severity, actor, details)
    SELECT alarm_id, $1, ts, action, status, severity, actor, details::jsonb
    FROM UNNEST($25::text[], $26::int8[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[])
        WITH ORDINALITY AS e(alarm_id, ts, action, status, severity, actor, details, n)
    WHERE (SELECT count(*) FROM inserted) >= 0
    ORDER BY n";

/// Applies a unit of work's signals in order inside `tx` and returns the
/// transitions they caused.
pub(crate) async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    writes: &[SignalWrite],
) -> Result<Vec<AlarmTransition>> {
    if writes.is_empty() {
        return Ok(Vec::new());
    }
    let (devices, types): (Vec<&str>, Vec<&str>) = signalled_pairs(writes).into_iter().unzip();
    let rows = sqlx::query(OPEN)
        .bind(tenant.as_str())
        .bind(&devices)
        .bind(&types)
        .bind(propagating_devices(writes))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut open = Vec::with_capacity(rows.len());
    for row in &rows {
        if get::<Option<String>>(row, "id")?.is_some() {
            open.push(rows::alarm(row)?);
        }
    }
    let homes = match rows.first() {
        Some(row) => homes(row)?,
        None => Homes::new(),
    };
    let transitions = apply_signals(tenant, writes, open, &homes);
    persist(tx, tenant, &transitions).await?;
    Ok(transitions)
}

/// The well and wellpad of each device with a signal that propagates, from
/// [`OPEN`]'s arrays.
fn homes(row: &sqlx::postgres::PgRow) -> Result<Homes> {
    let ids: Vec<String> = get::<Option<Vec<String>>>(row, "home_ids")?.unwrap_or_default();
    let wells: Vec<Option<String>> = get::<Option<Vec<Option<String>>>>(row, "home_wells")?.unwrap_or_default();
    let pads: Vec<Option<String>> = get::<Option<Vec<Option<String>>>>(row, "home_wellpads")?.unwrap_or_default();
    Ok(ids
        .into_iter()
        .zip(wells.into_iter().zip(pads))
        .map(|(id, (well, pad))| (id, (well.map(Into::into), pad.map(Into::into))))
        .collect())
}

/// Writes the transitions in one statement ([`PERSIST`]): each alarm's row
/// as its last transition left it ([`AlarmRows`]) and every transition's
/// history row in order; then any comments.
async fn persist(tx: &mut sqlx::PgConnection, tenant: &TenantId, transitions: &[AlarmTransition]) -> Result<()> {
    let details = |a: &Alarm| a.details.to_string();
    let AlarmRows { known, new } = AlarmRows::of(transitions);
    let events: Vec<&AlarmTransition> = transitions.iter().filter(|t| t.action.is_event()).collect();
    if !known.is_empty() || !new.is_empty() || !events.is_empty() {
        let known_text = |f: fn(&Alarm) -> Option<String>| known.iter().map(|a| f(a)).collect::<Vec<_>>();
        let known_int = |f: fn(&Alarm) -> Option<i64>| known.iter().map(|a| f(a)).collect::<Vec<_>>();
        let text = |f: fn(&Alarm) -> Option<String>| new.iter().map(|(a, _)| f(a)).collect::<Vec<_>>();
        let int = |f: fn(&Alarm) -> Option<i64>| new.iter().map(|(a, _)| f(a)).collect::<Vec<_>>();
        let event_text = |f: fn(&AlarmTransition) -> String| events.iter().map(|t| f(t)).collect::<Vec<_>>();
        sqlx::query(PERSIST)
            .bind(tenant.as_str())
            .bind(known_text(|a| Some(a.id.as_str().to_string())))
            .bind(known_text(|a| Some(a.severity.as_str().to_string())))
            .bind(known_text(|a| Some(a.status.as_str().to_string())))
            .bind(known_int(|a| Some(a.end_ts)))
            .bind(known_int(|a| a.ack_ts))
            .bind(known_int(|a| a.clear_ts))
            .bind(known.iter().map(|a| details(a)).collect::<Vec<_>>())
            .bind(known_text(|a| a.assignee.clone()))
            .bind(text(|a| Some(a.id.as_str().to_string())))
            .bind(text(|a| Some(a.device_id.as_str().to_string())))
            .bind(text(|a| Some(a.alarm_type.clone())))
            .bind(text(|a| Some(a.severity.as_str().to_string())))
            .bind(text(|a| Some(a.status.as_str().to_string())))
            .bind(int(|a| Some(a.start_ts)))
            .bind(int(|a| Some(a.end_ts)))
            .bind(int(|a| a.ack_ts))
            .bind(int(|a| a.clear_ts))
            .bind(text(|a| a.binding_id.as_ref().map(|b| b.as_str().to_string())))
            .bind(new.iter().map(|(a, _)| details(a)).collect::<Vec<_>>())
            .bind(new.iter().map(|(_, raised)| *raised).collect::<Vec<_>>())
            .bind(text(|a| a.well_id.as_ref().map(|w| w.as_str().to_string())))
            .bind(text(|a| a.wellpad_id.as_ref().map(|w| w.as_str().to_string())))
            .bind(text(|a| a.assignee.clone()))
            .bind(event_text(|t| t.alarm.id.as_str().to_string()))
            .bind(events.iter().map(|t| t.ts).collect::<Vec<_>>())
            .bind(event_text(|t| t.action.as_str().to_string()))
            .bind(event_text(|t| t.alarm.status.as_str().to_string()))
            .bind(event_text(|t| t.alarm.severity.as_str().to_string()))
            .bind(event_text(|t| t.actor.to_string()))
            .bind(event_text(|t| t.alarm.details.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    for t in transitions {
        crate::alarms::insert_comment(tx, t).await?;
    }
    Ok(())
}
