//! The storage conformance suite on SQLite (a fresh in-memory database per
//! case), and what is particular to the SQLite file: its migration of
//! tokens stored before they were hashed.

use std::sync::Arc;

use nexus_model::{TenantId, token_hash};
use nexus_storage::EntityStore;
use nexus_storage_sqlite::SqliteStore;

#[path = "sqlite/chunks.rs"]
mod chunks;

nexus_storage::conformance_suite!(async { Arc::new(SqliteStore::in_memory().await.expect("in-memory SQLite")) });

#[tokio::test]
async fn raw_tokens_from_before_hashing_are_hashed_when_the_database_opens() {
    let dir = std::env::temp_dir().join(format!("nexus-sqlite-{}", uuid::Uuid::new_v4()));
    let store = SqliteStore::open(&dir).await.expect("opens");
    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 1).await.expect("tenant");
    // A device row as the schema before hashing left it: the raw token.
    let url = format!("sqlite://{}", dir.join("nexus.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    sqlx::query("INSERT INTO device (id, tenant_id, name, token_hash, created_time) VALUES ('d1', 't', 'old', 'legacy-token-123', 5)")
        .execute(&pool)
        .await
        .expect("insert");
    pool.close().await;
    drop(store);

    let store = SqliteStore::open(&dir).await.expect("reopens");
    let stored: String = {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        sqlx::query_scalar("SELECT token_hash FROM device WHERE id = 'd1'").fetch_one(&pool).await.expect("row")
    };
    assert_eq!(stored, token_hash("legacy-token-123"), "the raw token is still stored");
    let device = store.device_by_token_hash(&token_hash("legacy-token-123")).await.expect("lookup");
    assert_eq!(device.map(|d| d.id.to_string()), Some("d1".to_string()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nexus-sqlite-{}", uuid::Uuid::new_v4()))
}

fn readings(device: &nexus_model::DeviceId, key: &str, points: &[(i64, f64)]) -> Vec<nexus_model::Reading> {
    points
        .iter()
        .map(|&(ts, v)| nexus_model::Reading {
            device_id: device.clone(),
            key: key.into(),
            ts,
            value: nexus_model::Value::Number(v),
            quality: 1.0,
        })
        .collect()
}

/// New rows land in `telemetry_recent` and are folded into `telemetry`; a
/// read sees both, a re-delivered sample replacing the stored one whether
/// the stored one is folded or recent, before and after a fold.
#[tokio::test]
async fn a_redelivered_sample_replaces_the_stored_one_across_folds() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory().await.expect("store");
    let tenant = TenantId::new("t");
    let device = nexus_model::DeviceId::new("d1");
    let commit = |points: &[(i64, f64)]| {
        let mut effects = Effects::new(&tenant, 0);
        effects.add_readings(&readings(&device, "p", points));
        let store = store.clone();
        async move { store.commit(effects).await.expect("commit") }
    };
    let values = || async {
        let history = store.history(&tenant, &device, Some("p"), 0, i64::MAX, 100).await.expect("history");
        history.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>()
    };
    commit(&[(1, 1.0), (2, 2.0)]).await;
    // (The background folder may have folded some already.)
    store.fold_recent().await.expect("fold");
    commit(&[(2, 20.0), (3, 3.0)]).await;
    assert_eq!(values().await, [(1, 1.0), (2, 20.0), (3, 3.0)]);
    commit(&[(2, 200.0)]).await;
    assert_eq!(values().await, [(1, 1.0), (2, 200.0), (3, 3.0)], "the last write of a recent sample wins");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 3);
    store.fold_recent().await.expect("fold");
    assert_eq!(values().await, [(1, 1.0), (2, 200.0), (3, 3.0)], "the fold changed what is read");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 3);
    let recent = store.recent(&tenant, &device, 2).await.expect("recent");
    assert_eq!(recent.iter().map(|r| r.ts).collect::<Vec<_>>(), [2, 3]);
    let latest = store.latest(&tenant, &device, &[]).await.expect("latest");
    assert_eq!((latest[0].ts, latest[0].value.as_f64()), (3, Some(3.0)));
    // Another tenant sees none of it.
    let other = TenantId::new("u");
    assert!(store.history(&other, &device, None, 0, i64::MAX, 100).await.expect("history").is_empty());
    assert!(store.latest(&other, &device, &[]).await.expect("latest").is_empty());
}

/// A database file in `dir` migrated up to `version` and no further, as an
/// older release left it.
async fn migrated_up_to(dir: &std::path::Path, version: i64) -> sqlx::SqlitePool {
    std::fs::create_dir_all(dir).expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("nexus.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut before = sqlx::migrate::Migrator::new(migrations).await.expect("migrations");
    let upto: Vec<_> = before.migrations.iter().filter(|m| m.version <= version).cloned().collect();
    before.migrations = upto.into();
    before.run(&pool).await.unwrap_or_else(|e| panic!("migrates to {version}: {e}"));
    pool
}

/// A database from before the compact telemetry schema (migrations up to
/// 0006, rows keyed by tenant, device and key text) keeps every reading and
/// latest value through migration 0007.
#[tokio::test]
async fn telemetry_stored_before_the_compact_schema_survives_its_migration() {
    use nexus_storage::TelemetryStore;
    let dir = temp_dir();
    let pool = migrated_up_to(&dir, 6).await;
    for (key, ts, v) in [("p", 1, 1.0), ("p", 2, 2.0), ("q", 1, 7.0)] {
        sqlx::query("INSERT INTO telemetry (tenant_id, device_id, key, ts, value_numeric, quality) VALUES ('t', 'd1', ?, ?, ?, 1)")
            .bind(key)
            .bind(ts)
            .bind(v)
            .execute(&pool)
            .await
            .expect("old row");
    }
    sqlx::query("INSERT INTO telemetry_latest (tenant_id, device_id, key, ts, value_numeric, quality) VALUES ('t', 'd1', 'p', 2, 2.0, 1), ('t', 'd1', 'q', 1, 7.0, 1)")
        .execute(&pool)
        .await
        .expect("old latest");
    pool.close().await;

    let store = SqliteStore::open(&dir).await.expect("migrates to the compact schema");
    let (tenant, device) = (TenantId::new("t"), nexus_model::DeviceId::new("d1"));
    let history = store.history(&tenant, &device, None, 0, i64::MAX, 100).await.expect("history");
    let rows: Vec<(String, i64)> = history.iter().map(|r| (r.key.clone(), r.ts)).collect();
    assert_eq!(rows, [("p".to_string(), 1), ("q".to_string(), 1), ("p".to_string(), 2)]);
    let latest = store.latest(&tenant, &device, &[]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| (r.key.as_str(), r.ts)).collect::<Vec<_>>(), [("p", 2), ("q", 1)]);
    // New rows of an old series join it.
    let mut effects = nexus_storage::Effects::new(&tenant, 0);
    effects.add_readings(&readings(&device, "p", &[(3, 3.0)]));
    nexus_storage::UnitOfWork::commit(&store, effects).await.expect("commit");
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 4);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Recent rows written before `telemetry_recent` was keyed by (series, ts)
/// survive its migration, and of two rows of one (series, ts) the one
/// written last is kept.
#[tokio::test]
async fn recent_telemetry_survives_keying_by_series_and_time() {
    use nexus_storage::TelemetryStore;
    let dir = temp_dir();
    let pool = migrated_up_to(&dir, 20).await;
    sqlx::query("INSERT INTO series (id, tenant_id, device_id, key) VALUES (1, 't', 'd1', 'p'), (2, 't', 'd1', 'q')")
        .execute(&pool)
        .await
        .expect("series");
    // In arrival (rowid) order: (1, 2) is written twice, 5.0 last.
    for (series, ts, v) in [(1, 2, 2.0), (2, 1, 7.0), (1, 1, 1.0), (1, 2, 5.0)] {
        sqlx::query("INSERT INTO telemetry_recent (series_id, ts, value_numeric, quality) VALUES (?, ?, ?, 1)")
            .bind(series)
            .bind(ts)
            .bind(v)
            .execute(&pool)
            .await
            .expect("old recent row");
    }
    pool.close().await;

    let store = SqliteStore::open(&dir).await.expect("migrates to the keyed recent table");
    let (tenant, device) = (TenantId::new("t"), nexus_model::DeviceId::new("d1"));
    let history = store.history(&tenant, &device, None, 0, i64::MAX, 100).await.expect("history");
    let rows: Vec<(String, i64, f64)> =
        history.iter().map(|r| (r.key.clone(), r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect();
    assert_eq!(rows, [("p".to_string(), 1, 1.0), ("q".to_string(), 1, 7.0), ("p".to_string(), 2, 5.0)]);
    assert_eq!(store.count_readings(&tenant, &device).await.expect("count"), 3);
    // (The store's background folder may have folded them already.)
    store.fold_recent().await.expect("fold");
    let folded = store.history(&tenant, &device, None, 0, i64::MAX, 100).await.expect("history");
    assert_eq!(
        folded.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>(),
        [(1, 1.0), (1, 7.0), (2, 5.0)]
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A ping opens the database file afresh: while the open connections still
/// answer from the file they hold, a database file gone from its place (or
/// something else there that is no database) fails the ping, and putting it
/// back heals it.
#[tokio::test]
async fn a_ping_fails_while_the_database_file_is_gone() {
    use nexus_storage::MonitorStore;
    let dir = temp_dir();
    let store = SqliteStore::open(&dir).await.expect("opens");
    store.ping().await.expect("a fresh database answers");
    let pools = store.pools();
    assert_eq!(pools.iter().map(|p| (p.pool, p.max)).collect::<Vec<_>>(), [("read", 8), ("write", 1)]);
    let file = dir.join("nexus.db");
    let aside = dir.join("nexus.db.aside");
    std::fs::rename(&file, &aside).expect("move the database aside");
    let gone = store.ping().await.expect_err("no database file");
    assert!(gone.is_transient() && gone.to_string().contains("nexus.db"), "{gone}");
    std::fs::create_dir(&file).expect("a directory in its place");
    let directory = store.ping().await.expect_err("a directory is no database");
    assert!(directory.to_string().contains("nexus.db"), "{directory}");
    std::fs::remove_dir(&file).expect("remove the directory");
    std::fs::rename(&aside, &file).expect("put it back");
    store.ping().await.expect("answers again");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fold moves its rows in pieces along the recent table's index: with
/// many series (350 of 4 rows a round) and one of 5 000 rows, so a fold
/// takes several pieces and a series can span them, each re-delivered
/// sample still replaces the stored one, nothing is lost or doubled, and
/// the recent table ends empty.
#[tokio::test]
async fn a_fold_in_pieces_keeps_every_series_whole() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    let store = SqliteStore::in_memory().await.expect("store");
    let tenant = TenantId::new("t");
    let devices: Vec<_> = (0..50).map(|d| nexus_model::DeviceId::new(format!("d{d}"))).collect();
    let keys: Vec<String> = (0..7).map(|k| format!("k{k}")).collect();
    for round in 0..3i64 {
        let mut effects = Effects::new(&tenant, 0);
        for device in &devices {
            for key in &keys {
                // Round 2 re-delivers ts 1 with a new value.
                let points: Vec<(i64, f64)> =
                    if round == 2 { vec![(1, 100.0)] } else { (0..4).map(|i| (round * 4 + i, i as f64)).collect() };
                effects.add_readings(&readings(device, key, &points));
            }
        }
        store.commit(effects).await.expect("commit");
        if round == 0 {
            store.fold_recent().await.expect("fold");
        }
    }
    // One series of 5 000 rows, re-delivered in part: its rows span pieces.
    let long = nexus_model::DeviceId::new("long");
    let points: Vec<(i64, f64)> = (0..5000).map(|ts| (ts, ts as f64)).collect();
    let mut effects = Effects::new(&tenant, 0);
    effects.add_readings(&readings(&long, "k", &points));
    // 1500 is re-delivered in a later statement of the commit, 4500 in the
    // same list of rows as its first delivery: the later wins either way.
    effects.add_readings(&readings(&long, "k", &[(1500, -1.0), (4500, -2.0)]));
    store.commit(effects).await.expect("commit");
    store.fold_recent().await.expect("fold");
    let history = store.history(&tenant, &long, Some("k"), 0, i64::MAX, 10_000).await.expect("history");
    let expected: Vec<(i64, f64)> = (0..5000)
        .map(|ts| {
            (
                ts,
                if ts == 1500 {
                    -1.0
                } else if ts == 4500 {
                    -2.0
                } else {
                    ts as f64
                },
            )
        })
        .collect();
    assert_eq!(history.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>(), expected);
    for device in &devices {
        assert_eq!(store.count_readings(&tenant, device).await.expect("count"), 8 * keys.len() as i64);
        for key in &keys {
            let history = store.history(&tenant, device, Some(key), 0, i64::MAX, 100).await.expect("history");
            let values: Vec<(i64, f64)> =
                history.iter().map(|r| (r.ts, r.value.as_f64().unwrap_or(f64::NAN))).collect();
            let expected: Vec<(i64, f64)> =
                (0..8).map(|ts| (ts, if ts == 1 { 100.0 } else { (ts % 4) as f64 })).collect();
            assert_eq!(values, expected, "{device} {key}");
        }
    }
    assert_eq!(store.fold_recent().await.expect("fold"), 0, "rows were left in the recent table");
}

/// The background folder keeps pace with a steady stream of commits, its
/// pieces taken in their wake (commits 5 ms apart: never quiet long enough
/// for its quiet path), and folds the rest once the writer is quiet: the
/// recent table never holds more than about a fold's worth of readings,
/// ends empty, and every reading is read back once.
#[tokio::test]
async fn the_background_folder_keeps_pace_with_commits_and_empties_the_table_when_quiet() {
    use nexus_storage::{Effects, TelemetryStore, UnitOfWork};
    use std::time::{Duration, Instant};
    let dir = temp_dir();
    let store = SqliteStore::open(&dir).await.expect("store");
    let tenant = TenantId::new("t");
    let devices: Vec<_> = (0..10).map(|d| nexus_model::DeviceId::new(format!("d{d}"))).collect();
    let (mut commits, mut most, mut ts) = (0u64, 0u64, 0i64);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let mut effects = Effects::new(&tenant, 0);
        let points: Vec<(i64, f64)> = (ts..ts + 10).map(|t| (t, t as f64)).collect();
        for device in &devices {
            effects.add_readings(&readings(device, "k", &points));
        }
        ts += 10;
        store.commit(effects).await.expect("commit");
        commits += 1;
        if commits.is_multiple_of(25) {
            most = most.max(store.recent_rows().await.expect("count"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let written = commits * 100;
    // A fold starts every second and ends within about one more: without
    // folding in the wake of commits the table would hold every reading.
    assert!(most > 0 && most < written / 2, "the recent table held up to {most} of {written} readings");
    let quiet = Instant::now();
    while store.recent_rows().await.expect("count") > 0 {
        assert!(quiet.elapsed() < Duration::from_secs(15), "the folder left rows in the recent table");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for device in &devices {
        let history = store.history(&tenant, device, Some("k"), 0, i64::MAX, 100_000).await.expect("history");
        assert_eq!(history.len() as i64, ts, "{device}: readings lost or doubled");
        assert!(history.iter().enumerate().all(|(i, r)| r.ts == i as i64), "{device}: readings out of order");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A fold piece reads the rows it moves as a range of the recent table's
/// `(series_id, ts)` key, in the order it writes them: its cost is its own
/// rows — not a scan of the backlog, nor a sort.
#[tokio::test]
async fn a_fold_piece_reads_its_series_range_in_index_order() {
    let store = SqliteStore::in_memory().await.expect("store");
    let plan = store.fold_plan().await.expect("plan");
    assert!(
        plan.iter().any(|step| step.starts_with("SEARCH telemetry_recent USING PRIMARY KEY ((series_id,ts)>")),
        "the fold does not read a range of the recent table's key: {plan:?}"
    );
    assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "the fold sorts its rows: {plan:?}");
}

/// A commit's signals look up the alarms they know and their devices' wells
/// by key: a scan of the alarms (which grow with every raise) or of the
/// tenant's devices would make every commit slower than the last, or slower
/// the larger the fleet.
#[tokio::test]
async fn a_commits_signals_look_alarms_and_devices_up_by_key() {
    let store = SqliteStore::in_memory().await.expect("store");
    let plans = store.signal_plans().await.expect("plans");
    let plan = |name: &str| plans.iter().find(|(n, _)| *n == name).map(|(_, p)| p.clone()).expect(name);
    let update = plan("update");
    assert!(
        update.iter().any(|step| step.starts_with("SEARCH alarm USING INDEX sqlite_autoindex_alarm_1 (id=?)")),
        "known alarms are not looked up by key: {update:?}"
    );
    assert!(!update.iter().any(|step| step.starts_with("SCAN alarm")), "the update scans the alarms: {update:?}");
    let homes = plan("homes");
    assert!(
        homes.iter().any(|step| step.starts_with("SEARCH d USING INDEX sqlite_autoindex_device_1 (id=?)")),
        "devices are not looked up by key: {homes:?}"
    );
}

/// The background checkpointer copies committed pages from the log into the
/// database file on its own: a commit far below the writer's automatic
/// checkpoint (thousands of pages) is in a copy of the database file alone,
/// without its log, within a few seconds. (Without the checkpointer this
/// fails: the commit stays in the log.)
#[tokio::test]
async fn commits_reach_the_database_file_without_a_commit_checkpointing() {
    use nexus_storage::{Effects, UnitOfWork};
    let dir = temp_dir();
    let store = SqliteStore::open(&dir).await.expect("opens");
    let tenant = TenantId::new("t");
    store.ensure_tenant(&tenant, "t", 1).await.expect("tenant");
    let device = nexus_model::DeviceId::new("checkpointed-device");
    let mut effects = Effects::new(&tenant, 0);
    effects.add_readings(&readings(&device, "p", &[(1, 1.0), (2, 2.0)]));
    store.commit(effects).await.expect("commit");
    // A copy taken while a checkpoint writes may be torn: it counts as not
    // there yet.
    let in_file_alone = || async {
        let copy = temp_dir();
        std::fs::create_dir_all(&copy).expect("dir");
        std::fs::copy(dir.join("nexus.db"), copy.join("nexus.db")).expect("copy the database file, not its log");
        let url = format!("sqlite://{}", copy.join("nexus.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        let series: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM series WHERE device_id = 'checkpointed-device'")
                .fetch_one(&pool)
                .await;
        pool.close().await;
        let _ = std::fs::remove_dir_all(&copy);
        series.is_ok_and(|n| n == 1)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !in_file_alone().await {
        assert!(std::time::Instant::now() < deadline, "the commit is still only in the log after 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
