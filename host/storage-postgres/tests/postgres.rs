//! The storage conformance suite on PostgreSQL, each case in a fresh
//! database of the server at `NEXUS_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `.ci/services` starts one),
//! and what is particular to PostgreSQL: migrations and the telemetry
//! layout, the 1-minute aggregate, the append-only audit log, and the
//! outbox's commit order under concurrent writers.
//!
//! A missing server fails every test with a message saying so: nothing is
//! skipped. Test databases are named `nexus_test_<unix seconds>_<uuid>` and
//! dropped when their test's thread ends; a later run drops any older than
//! an hour that a killed run left behind.

mod support;

use std::sync::Arc;

use nexus_model::{Actor, DeviceId, EventSeq, Reading, TenantId, Value};
use nexus_storage::{Effects, EntityStore, IdentityStore, OutboxStore, TelemetryStore, UnitOfWork};
use nexus_storage_postgres::{PostgresStore, TelemetryLayout};
use support::{fresh_database, now_ms, query_i64, query_strings};

nexus_storage::conformance_suite!(async {
    let options = fresh_database().await;
    Arc::new(PostgresStore::connect_with(options).await.expect("connects and migrates a fresh database"))
});

fn readings(device: &DeviceId, key: &str, points: &[(i64, f64)]) -> Vec<Reading> {
    points
        .iter()
        .map(|&(ts, v)| Reading {
            device_id: device.clone(),
            key: key.into(),
            ts,
            value: Value::Number(v),
            quality: 1.0,
        })
        .collect()
}

async fn commit(store: &PostgresStore, tenant: &TenantId, readings: &[Reading]) {
    let mut effects = Effects::new(tenant, 0);
    effects.add_readings(readings);
    store.commit(effects).await.expect("commit");
}

/// A fresh database migrates to the latest version; the layout the server
/// allows is the one made (here: day partitions, TimescaleDB being absent);
/// rows land in their day's partition or the default one, and move out of
/// it when their day is created; connecting again migrates nothing.
#[tokio::test]
async fn a_fresh_database_migrates_to_the_latest_version_with_its_telemetry_layout() {
    let options = fresh_database().await;
    let store = PostgresStore::connect_with(options.clone()).await.expect("migrates");
    let pool = sqlx::PgPool::connect_with(options.clone()).await.expect("connect");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres"))
        .expect("migrations")
        .filter(|f| f.as_ref().is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".sql")))
        .count();
    let applied =
        query_strings(&pool, "SELECT version::text || ':' || success FROM _sqlx_migrations ORDER BY version").await;
    assert_eq!(applied.len(), files, "{applied:?}");
    assert!(applied.iter().all(|m| m.ends_with(":true")), "{applied:?}");

    let timescale = query_i64(
        &pool,
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'
         AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'",
    )
    .await;
    let expected = if timescale > 0 { TelemetryLayout::Hypertable } else { TelemetryLayout::Partitioned };
    assert_eq!(store.telemetry_layout(), expected);
    println!("telemetry layout: {:?}", store.telemetry_layout());
    if expected == TelemetryLayout::Hypertable {
        return; // Timescale keeps its own chunks; the rest is about partitions.
    }
    // Yesterday, today and the coming week are ready, plus the default.
    let today = query_strings(&pool, "SELECT 'telemetry_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')").await;
    let parts = query_strings(
        &pool,
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'pf.telemetry'::regclass ORDER BY 1",
    )
    .await;
    assert_eq!(parts.len(), 1 + 1 + 1 + 7, "{parts:?}");
    assert!(parts.contains(&today[0]) && parts.contains(&"telemetry_default".to_string()), "{parts:?}");
    let brin = query_i64(
        &pool,
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'pf' AND indexdef LIKE '%USING brin (ts)%'",
    )
    .await;
    assert!(brin >= 1, "no BRIN index on ts");
    // The chunks' arrays are compressed with lz4 where the server has it
    // (every array column, or none).
    let lz4 = query_i64(
        &pool,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'pf.telemetry_chunk'::regclass
         AND attcompression = 'l'",
    )
    .await;
    let has_lz4 = query_i64(
        &pool,
        "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression'
         AND 'lz4' = ANY(enumvals)",
    )
    .await;
    assert_eq!(lz4, if has_lz4 > 0 { 6 } else { 0 }, "columns of pf.telemetry_chunk compressed with lz4");

    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 0).await.expect("tenant");
    let device = DeviceId::new("d1");
    let now = now_ms();
    let old = 1_600_000_000_000; // 2020-09-13: no partition of its own
    commit(&store, &tenant, &readings(&device, "p", &[(now, 1.0), (old, 2.0)])).await;
    let home =
        |ts: i64| query_strings(&pool, format!("SELECT tableoid::regclass::text FROM pf.telemetry WHERE ts = {ts}"));
    assert_eq!(home(now).await, [format!("pf.{}", today[0])]);
    assert_eq!(home(old).await, ["pf.telemetry_default"]);
    assert_eq!(store.ensure_partitions(old, old).await.expect("ensure"), 1);
    assert_eq!(home(old).await, ["pf.telemetry_p20200913"], "the day's rows left the default partition");
    assert_eq!(store.ensure_partitions(old, old).await.expect("ensure"), 0, "made twice");
    let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 10).await.expect("history");
    assert_eq!(history.iter().map(|r| r.ts).collect::<Vec<_>>(), [old, now]);

    // Connecting again is a no-op for the migrations, and keeps the data.
    let before = query_strings(
        &pool,
        "SELECT version || checksum::text || installed_on::text FROM _sqlx_migrations ORDER BY version",
    )
    .await;
    drop(store);
    let store = PostgresStore::connect_with(options).await.expect("reconnects");
    let after = query_strings(
        &pool,
        "SELECT version || checksum::text || installed_on::text FROM _sqlx_migrations ORDER BY version",
    )
    .await;
    assert_eq!(before, after);
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 2);

    // Dropping what is older than a cut-off goes a day partition at a time.
    assert_eq!(store.drop_partitions_before(old + 86_400_000).await.expect("drop"), 1);
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 1);
    pool.close().await;
}

/// Retention shared by every tenant drops the day partitions that end by
/// the cut-off whole, and deletes the rest before it row by row: the
/// default partition's rows and those of the cut-off's own day.
#[tokio::test]
async fn expiring_telemetry_drops_whole_day_partitions() {
    let options = fresh_database().await;
    let store = PostgresStore::connect_with(options.clone()).await.expect("migrates");
    if store.telemetry_layout() == TelemetryLayout::Hypertable {
        println!("a hypertable: Timescale's chunks are not the store's partitions");
        return;
    }
    let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
    const DAY: i64 = 86_400_000;
    let d0 = 1_599_955_200_000; // 2020-09-13T00:00Z
    assert_eq!(store.ensure_partitions(d0, d0 + 2 * DAY).await.expect("ensure"), 3);
    let hour = 3_600_000;
    let stamps = [d0 - 5 * DAY, d0 + hour, d0 + DAY + hour, d0 + 2 * DAY + hour, d0 + 2 * DAY + 13 * hour];
    let devices = [DeviceId::new("d1"), DeviceId::new("d2")];
    let tenants = [TenantId::new("t1"), TenantId::new("t2")];
    for (tenant, device) in tenants.iter().zip(&devices) {
        store.ensure_tenant(tenant, tenant.as_str(), 0).await.expect("tenant");
        let points: Vec<(i64, f64)> = stamps.iter().map(|&ts| (ts, ts as f64)).collect();
        commit(&store, tenant, &readings(device, "p", &points)).await;
    }
    let parts = || {
        query_strings(
            &pool,
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'pf.telemetry'::regclass AND c.relname LIKE 'telemetry_p2020%' ORDER BY 1",
        )
    };
    assert_eq!(parts().await, ["telemetry_p20200913", "telemetry_p20200914", "telemetry_p20200915"]);

    let expired = store.expire_telemetry_before(d0 + 2 * DAY + 12 * hour).await.expect("expire");
    assert_eq!(expired.partitions, 2, "the 13th and 14th: {expired:?}");
    assert_eq!(expired.rows, 4, "per tenant, the default partition's row and the 15th's first: {expired:?}");
    assert_eq!(parts().await, ["telemetry_p20200915"]);
    for (tenant, device) in tenants.iter().zip(&devices) {
        let left = store.history(tenant, device, None, 0, i64::MAX, 10).await.expect("history");
        assert_eq!(left.iter().map(|r| r.ts).collect::<Vec<_>>(), [d0 + 2 * DAY + 13 * hour], "{tenant}");
        assert_eq!(store.latest(tenant, device, &[]).await.expect("latest").len(), 1, "the latest value stays");
    }
    let again = store.expire_telemetry_before(d0 + 2 * DAY + 12 * hour).await.expect("again");
    assert_eq!((again.partitions, again.rows), (0, 0));
    pool.close().await;
}

/// Samples are inserted plainly and upserted only when one is already
/// stored: a commit of more samples than one statement writes, whose
/// re-delivered sample is in its last statement (samples are written in
/// (series, ts) order), stores every sample once, the re-delivered one with
/// its new value, and its other effects with them.
#[tokio::test]
async fn a_redelivery_in_a_large_commit_falls_back_to_upserting_every_sample() {
    let store = PostgresStore::connect_with(fresh_database().await).await.expect("migrates");
    let (tenant, device) = (TenantId::new("t1"), DeviceId::new("d1"));
    store.ensure_tenant(&tenant, "t1", 0).await.expect("tenant");
    let t0 = now_ms() - 3_600_000;
    let end = t0 + 20_000;
    commit(&store, &tenant, &readings(&device, "p", &[(end, 1.0), (end + 1, 2.0)])).await;
    // 20 000 new samples before those (three statements' worth), then `end`
    // again: the 20 001st row in key order, in the third statement.
    let mut points: Vec<(i64, f64)> = (0..20_000).map(|i| (t0 + i, i as f64)).collect();
    points.push((end, -1.0));
    let mut effects = Effects::new(&tenant, 0);
    effects.add_readings(&readings(&device, "p", &points));
    effects.add_readings(&readings(&device, "q", &[(t0, 7.0)]));
    store.commit(effects).await.expect("a re-delivery is not a conflict");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 20_003);
    let first = store.history(&tenant, &device, Some("p"), t0, t0 + 2, 10).await.expect("history");
    assert_eq!(first.iter().map(|r| r.value.as_f64()).collect::<Vec<_>>(), [Some(0.0), Some(1.0)]);
    let last = store.history(&tenant, &device, Some("p"), end - 1, end + 2, 10).await.expect("history");
    let values: Vec<(i64, Option<f64>)> = last.iter().map(|r| (r.ts, r.value.as_f64())).collect();
    assert_eq!(values, [(end - 1, Some(19_999.0)), (end, Some(-1.0)), (end + 1, Some(2.0))]);
    let q = store.latest(&tenant, &device, &["q".to_string()]).await.expect("latest");
    assert_eq!(q.iter().map(|r| r.value.as_f64()).collect::<Vec<_>>(), [Some(7.0)]);
}

/// A commit's run of 16 or more new samples of a series is one chunk
/// (fewer are rows); a late sample inside a chunk's span unpacks it into
/// rows; reads, aggregates, counts and retention see every sample once
/// either way, and retention inside a chunk keeps its later samples.
#[tokio::test]
async fn runs_of_new_samples_are_chunks_and_a_late_sample_unpacks_its_chunk() {
    let options = fresh_database().await;
    let store = PostgresStore::connect_with(options.clone()).await.expect("migrates");
    if store.telemetry_layout() == TelemetryLayout::Hypertable {
        println!("a hypertable: every sample is a row");
        return;
    }
    let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
    let (tenant, device) = (TenantId::new("t1"), DeviceId::new("d1"));
    store.ensure_tenant(&tenant, "t1", 0).await.expect("tenant");
    let t0 = now_ms() - 3_600_000;
    let at = |i: i64| t0 + i * 1000;
    let points = |range: std::ops::Range<i64>| -> Vec<(i64, f64)> { range.map(|i| (at(i), i as f64)).collect() };
    let stored = || async {
        (
            query_i64(&pool, "SELECT count(*) FROM pf.telemetry_chunk").await,
            query_i64(&pool, "SELECT count(*) FROM pf.telemetry").await,
        )
    };
    commit(&store, &tenant, &readings(&device, "p", &points(0..100))).await;
    assert_eq!(stored().await, (1, 0), "100 new samples: one chunk");
    commit(&store, &tenant, &readings(&device, "p", &points(100..115))).await;
    assert_eq!(stored().await, (1, 15), "15: rows");
    commit(&store, &tenant, &readings(&device, "p", &points(115..135))).await;
    assert_eq!(stored().await, (2, 15), "20 newer than all: a second chunk");
    // A re-delivery inside the first chunk, with a new value.
    commit(&store, &tenant, &readings(&device, "p", &[(at(50), -1.0)])).await;
    assert_eq!(stored().await, (1, 115), "the first chunk was unpacked");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 135);

    let values = |readings: Vec<Reading>| -> Vec<(i64, f64)> {
        readings.iter().map(|r| (r.ts, r.value.as_f64().expect("number"))).collect()
    };
    let around = store.history(&tenant, &device, Some("p"), at(49), at(52), 10).await.expect("history");
    assert_eq!(values(around), [(at(49), 49.0), (at(50), -1.0), (at(51), 51.0)]);
    let across = store.history(&tenant, &device, None, at(113), i64::MAX, 4).await.expect("history");
    assert_eq!(values(across), [(at(113), 113.0), (at(114), 114.0), (at(115), 115.0), (at(116), 116.0)]);
    let newest = store.history_newest(&tenant, &device, None, 0, at(120), 3).await.expect("newest");
    assert_eq!(values(newest), [(at(119), 119.0), (at(118), 118.0), (at(117), 117.0)]);
    let inside = store.history(&tenant, &device, None, at(120) + 1, at(121), 5).await.expect("gap");
    assert!(inside.is_empty(), "a range inside a chunk's span holding none of its samples: {inside:?}");
    let all = store.aggregate(&tenant, &device, &[], 0, i64::MAX, i64::MAX).await.expect("aggregate");
    assert_eq!(all.len(), 1, "{all:?}");
    let expected: f64 = (0..135).map(|i| if i == 50 { -1.0 } else { i as f64 }).sum();
    assert_eq!((all[0].count, all[0].sum), (135, Some(expected)), "{all:?}");

    // Retention cutting into the second chunk keeps its later samples.
    let deleted = store.delete_telemetry_before(&tenant, at(125)).await.expect("retention");
    assert_eq!(deleted, 125);
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 10);
    let left = store.history(&tenant, &device, None, 0, i64::MAX, 100).await.expect("history");
    assert_eq!(left.first().map(|r| r.ts), Some(at(125)));
    assert_eq!(left.len(), 10);
    pool.close().await;
}

/// Eight writers delivering the same run of samples of one series at once
/// (two committers or two hosts may): each sample is stored exactly once,
/// whoever wrote it as a chunk and whoever found it stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_one_run_store_each_sample_once() {
    let store = PostgresStore::connect_with(fresh_database().await).await.expect("migrates");
    let (tenant, device) = (TenantId::new("t1"), DeviceId::new("d1"));
    store.ensure_tenant(&tenant, "t1", 0).await.expect("tenant");
    // The series exists before the race (a first sample), as in the field.
    let t0 = now_ms() - 3_600_000;
    commit(&store, &tenant, &readings(&device, "p", &[(t0, 0.0)])).await;
    let points: Vec<(i64, f64)> = (1..=100).map(|i| (t0 + i * 1000, i as f64)).collect();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (store, tenant, batch) = (store.clone(), tenant.clone(), readings(&device, "p", &points));
            tokio::spawn(async move { commit(&store, &tenant, &batch).await })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 101);
    let all = store.history(&tenant, &device, None, 0, i64::MAX, 1000).await.expect("history");
    let stamps: Vec<i64> = all.iter().map(|r| r.ts).collect();
    let expected: Vec<i64> = (0..=100).map(|i| t0 + i * 1000).collect();
    assert_eq!(stamps, expected);
}

/// A database holding telemetry keyed by (tenant, device, key, ts), as
/// before migration 0013, keeps every sample and latest value when the
/// store migrates it to series numbers, and takes new samples after.
#[tokio::test]
async fn telemetry_stored_before_series_numbers_survives_the_upgrade() {
    let options = fresh_database().await;
    let pool = sqlx::PgPool::connect_with(options.clone()).await.expect("connect");
    // The migrations before 0013, from a directory of their own.
    let dir = std::env::temp_dir().join(format!("nexus-migrations-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("dir");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres");
    for file in std::fs::read_dir(source).expect("migrations").flatten() {
        let name = file.file_name().to_string_lossy().to_string();
        if name.ends_with(".sql") && name.as_str() < "0013" {
            std::fs::copy(file.path(), dir.join(&name)).expect("copy");
        }
    }
    sqlx::migrate::Migrator::new(dir.as_path()).await.expect("migrator").run(&pool).await.expect("to 0012");
    std::fs::remove_dir_all(&dir).ok();
    let now = now_ms();
    let old = 1_600_000_000_000;
    for (tenant, device, key, ts, v) in [
        ("t", "d1", "p", old, 1.0),
        ("t", "d1", "p", now - 1000, 2.0),
        ("t", "d1", "q", now - 500, 3.0),
        ("u", "d2", "p", now - 200, 4.0),
    ] {
        sqlx::query(
            "INSERT INTO pf.telemetry (tenant_id, device_id, key, ts, value_numeric, quality) VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(tenant)
        .bind(device)
        .bind(key)
        .bind(ts)
        .bind(v)
        .execute(&pool)
        .await
        .expect("old row");
    }
    // One series has its latest row, the others (as if lost) have none.
    sqlx::query(
        "INSERT INTO pf.telemetry_latest (tenant_id, device_id, key, ts, value_numeric, quality)
         VALUES ('t', 'd1', 'p', $1, 2, 1)",
    )
    .bind(now - 1000)
    .execute(&pool)
    .await
    .expect("old latest");

    let store = PostgresStore::connect_with(options).await.expect("migrates to series numbers");
    let (t, u, d1, d2) = (TenantId::new("t"), TenantId::new("u"), DeviceId::new("d1"), DeviceId::new("d2"));
    let history = store.history(&t, &d1, Some("p"), 0, i64::MAX, 10).await.expect("history");
    assert_eq!(
        history.iter().map(|r| (r.ts, r.value.clone())).collect::<Vec<_>>(),
        [(old, Value::Number(1.0)), (now - 1000, Value::Number(2.0))]
    );
    assert_eq!(store.count_readings(&t, &d1).await.expect("count"), 3);
    assert_eq!(store.count_readings(&u, &d2).await.expect("count"), 1);
    assert_eq!(store.count_readings(&t, &d2).await.expect("count"), 0, "series stay in their tenant");
    let latest = store.latest(&t, &d1, &[]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| (r.key.as_str(), r.ts)).collect::<Vec<_>>(), [("p", now - 1000)]);
    let mut keys = store.device_keys(&t, &d1).await.expect("keys");
    keys.sort();
    assert_eq!(keys, ["p", "q"], "a series without a latest row is listed after the upgrade");

    // New samples land on the old series and on new ones.
    commit(&store, &t, &readings(&d1, "p", &[(now, 5.0)])).await;
    commit(&store, &t, &readings(&d1, "r", &[(now, 6.0)])).await;
    assert_eq!(store.count_readings(&t, &d1).await.expect("count"), 5);
    let latest = store.latest(&t, &d1, &[]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| (r.key.as_str(), r.ts)).collect::<Vec<_>>(), [("p", now), ("r", now)]);
    let series = query_i64(&pool, "SELECT count(DISTINCT series_id) FROM pf.telemetry_latest").await;
    assert_eq!(series, 4, "(t, d1, p|q|r) and (u, d2, p)");
    pool.close().await;
}

/// A name no other run's directory has.
fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
}

/// `pf.telemetry_1min` (the continuous aggregate, or its view twin) gives
/// per minute the average, minimum, maximum, sum and count of a key's
/// numbers, integers included.
#[tokio::test]
async fn the_one_minute_aggregate_matches_the_samples() {
    let options = fresh_database().await;
    let store = PostgresStore::connect_with(options.clone()).await.expect("migrates");
    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 0).await.expect("tenant");
    let device = DeviceId::new("d1");
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;
    // Ten minutes at 1 Hz: a sawtooth with a spike per minute.
    let points: Vec<(i64, f64)> =
        (0..600).map(|s| (t0 + s * 1000, if s % 60 == 7 { 1000.0 } else { (s % 17) as f64 * 0.5 })).collect();
    commit(&store, &tenant, &readings(&device, "p", &points)).await;
    let ints: Vec<Reading> = (0..120)
        .map(|s| Reading {
            device_id: device.clone(),
            key: "n".into(),
            ts: t0 + s * 1000,
            value: Value::Integer(s),
            quality: 1.0,
        })
        .collect();
    commit(&store, &tenant, &ints).await;

    let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
    let rows: Vec<(String, i64, f64, f64, f64, f64, i64)> = sqlx::query_as(
        "SELECT key::text, bucket, avg_value, min_value, max_value, sum_value, samples FROM pf.telemetry_1min
         WHERE tenant_id = 't' AND device_id = 'd1' ORDER BY key, bucket",
    )
    .fetch_all(&pool)
    .await
    .expect("aggregate");
    assert_eq!(rows.len(), 10 + 2);
    for (minute, row) in rows.iter().filter(|r| r.0 == "p").enumerate() {
        let values: Vec<f64> = points[minute * 60..minute * 60 + 60].iter().map(|p| p.1).collect();
        let sum: f64 = values.iter().sum();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(row.1, t0 + minute as i64 * 60_000);
        assert!((row.2 - sum / 60.0).abs() < 1e-9 && (row.5 - sum).abs() < 1e-9, "{row:?}");
        assert_eq!((row.3, row.4, row.6), (min, max, 60), "{row:?}");
    }
    let n: Vec<_> = rows.iter().filter(|r| r.0 == "n").map(|r| (r.3, r.4, r.5, r.6)).collect();
    assert_eq!(n, [(0.0, 59.0, 1770.0, 60), (60.0, 119.0, 5370.0, 60)]);
    pool.close().await;
}

/// Nothing rewrites or removes an audit entry, not even a direct statement.
#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let options = fresh_database().await;
    let store = PostgresStore::connect_with(options.clone()).await.expect("migrates");
    let entry = nexus_storage::NewAuditEntry {
        tenant_id: None,
        actor: "system".into(),
        role: nexus_model::Role::SysAdmin,
        action: "POST /api/tenants".into(),
        object: String::new(),
        status: 201,
        summary: serde_json::json!({}),
        request_id: "r".into(),
    };
    store.append_audit(&entry, 1).await.expect("append");
    let pool = sqlx::PgPool::connect_with(options).await.expect("connect");
    for sql in
        ["UPDATE host.audit_log SET actor = 'someone else'", "DELETE FROM host.audit_log", "TRUNCATE host.audit_log"]
    {
        let refused = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(refused.to_string().contains("append-only"), "{sql}: {refused}");
    }
    assert_eq!(query_i64(&pool, "SELECT count(*) FROM host.audit_log").await, 1);
    pool.close().await;
}

/// Writers commit concurrently; a reader that follows the outbox with a
/// cursor, as the dispatcher does, still sees every event exactly once and
/// in `seq` order: a number is visible only after every smaller one is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_outbox_is_in_commit_order_under_concurrent_writers() {
    let store = Arc::new(PostgresStore::connect_with(fresh_database().await).await.expect("migrates"));
    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 0).await.expect("tenant");
    // The last `seq` once every writer is done; the reader stops there.
    let (done, mut last) = tokio::sync::watch::channel(None::<EventSeq>);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let (mut seen, mut cursor) = (Vec::new(), EventSeq(0));
            loop {
                let page = store.events_after(cursor, 7).await.expect("events");
                if let Some(event) = page.last() {
                    cursor = event.seq;
                }
                seen.extend(page.into_iter().map(|e| e.seq));
                if last.borrow_and_update().is_some_and(|last| cursor >= last) {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, tenant) = (store.clone(), tenant.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..40 {
                store.create_wellpad(&tenant, &format!("pad {w}/{i}"), &Actor::user("u"), 0).await.expect("pad");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let all: Vec<EventSeq> =
        store.events_after(EventSeq(0), 10_000).await.expect("events").iter().map(|e| e.seq).collect();
    assert_eq!(all.len(), 8 * 40);
    done.send(all.last().copied()).expect("reader waits");
    let seen = reader.await.expect("reader");
    let missed = all.iter().filter(|s| !seen.contains(s)).count();
    assert_eq!(missed, 0, "the cursor moved past {missed} events committed after it");
    assert_eq!(seen, all, "the reader saw events twice or out of order");
}
