//! `--storage B`: the storage-only figure beside the end-to-end one. B group
//! commits straight into each backend's unit of work (`commit_all`), with no
//! server, HTTP, decoder or rule: each batch holds `--frames F` frames (8 by
//! default, about what the server's lane commits at 100 × 32), each one
//! device's `--samples S` samples × 10 keys of numbers (the last of
//! `--samples`; 100 by default), over `--devices N` devices in turn, every
//! sample new. `--committers K` (default 1) tasks commit side by side, each its own
//! devices, as a tenant's lane does with K committers. `--signals K` (0 by
//! default) adds K alarm signals to each frame, raising and clearing one
//! alarm of its device in turn, as the end-to-end bench's threshold rule on
//! its sawtooth does (about 14 per 100-sample frame): each a transition,
//! with its history row and outbox event.
//!
//! Reports readings/s, commit time per batch (p50/p99), and CPU per reading
//! of this process (the store's client side; all of SQLite) and of the whole
//! machine (`/proc/stat`, so PostgreSQL's server processes too). On SQLite
//! the time includes folding every committed row into the clustered table
//! (`fold_recent` after the last commit; chunks are not folded), since the
//! background folder's work is part of what each reading costs.
//!
//! ```sh
//! cargo bench -p nexus --bench ingest -- --storage 200 \
//!     --postgres postgres://postgres@127.0.0.1:5432
//! ```

use std::time::{Duration, Instant};

use nexus_model::{Actor, AlarmAction, AlarmSignal, Clock, DeviceId, Series, Severity, TenantId};
use nexus_storage::{DeviceSeries, Effects, SignalWrite, UnitOfWork};

use super::{KEYS, cpu_seconds, psql};

/// Batches committed before timing starts.
const WARM_UP: usize = 5;

/// Machine-wide busy and total CPU seconds so far, from `/proc/stat`.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: f64 = ticks.iter().take(8).sum();
    // idle and iowait are the fourth and fifth.
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

/// The batches' shape.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub batches: usize,
    pub frames: usize,
    pub samples: usize,
    pub devices: usize,
    /// Committers side by side (the server's committers per tenant).
    pub committers: usize,
    /// Alarm signals per frame.
    pub signals: usize,
}

/// Makes committer `c`'s `index`th batch: frames of its devices (those
/// whose number is `c` modulo the committers) in turn, each with samples
/// stamped after every earlier sample of its device.
fn batch(tenant: &TenantId, shape: Shape, c: usize, index: usize, t0: i64) -> Vec<Effects> {
    let mine = (shape.devices / shape.committers).max(1);
    (0..shape.frames)
        .map(|f| {
            let frame = index * shape.frames + f;
            let device = (frame % mine) * shape.committers + c;
            // The device's how-manyth frame: its samples follow its last ones.
            let round = (frame / mine) as i64;
            let first = t0 + round * shape.samples as i64 * 1000;
            let ts: Vec<i64> = (0..shape.samples as i64).map(|i| first + i * 1000).collect();
            let series = (0..KEYS)
                .map(|k| {
                    let values = ts.iter().map(|&t| ((t / 1000 + k as i64) % 97) as f64 + 0.25).collect();
                    Series::numbers(format!("k{k}"), ts.clone(), values)
                })
                .collect();
            let device_id = DeviceId::from(format!("bench-device-{device}"));
            let mut effects = Effects::new(tenant, t0);
            // An even number of signals a frame leaves the alarm cleared,
            // so every frame's first signal raises it anew.
            effects.signals = (0..shape.signals)
                .map(|s| SignalWrite {
                    binding_id: "bench-rule".into(),
                    actor: Actor::system("bench"),
                    propagate: false,
                    signal: AlarmSignal {
                        action: if s % 2 == 0 { AlarmAction::Raise } else { AlarmAction::Clear },
                        device_id: device_id.clone(),
                        alarm_type: "bench-threshold".into(),
                        severity: Severity::Major,
                        ts: ts[(s * shape.samples / shape.signals).min(shape.samples - 1)],
                        details: format!(r#"{{"key":"k0","value":{s}.5,"threshold":50.0}}"#),
                    },
                })
                .collect();
            effects.telemetry.push(DeviceSeries { device_id, series, latest_until: None });
            effects
        })
        .collect()
}

/// Commits the batches into `store` from `shape.committers` tasks side by
/// side, each with its own devices; returns (wall s, commit ms per batch).
async fn drive<S: UnitOfWork + Clone + 'static>(store: &S, shape: Shape, t0: i64) -> (f64, Vec<f64>) {
    let tenant = TenantId::from("bench");
    let per = shape.batches.div_ceil(shape.committers);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..shape.committers {
        for i in 0..WARM_UP {
            store.commit_all(batch(&tenant, shape, c, i, t0)).await.expect("warm-up commit");
        }
    }
    let began = Instant::now();
    for c in 0..shape.committers {
        let (store, tenant) = (store.clone(), tenant.clone());
        tasks.spawn(async move {
            let mut commits = Vec::with_capacity(per);
            for i in WARM_UP..WARM_UP + per {
                let effects = batch(&tenant, shape, c, i, t0);
                let at = Instant::now();
                store.commit_all(effects).await.expect("commit");
                commits.push(at.elapsed().as_secs_f64() * 1e3);
            }
            commits
        });
    }
    let mut commits = Vec::with_capacity(per * shape.committers);
    while let Some(done) = tasks.join_next().await {
        commits.extend(done.expect("committer"));
    }
    (began.elapsed().as_secs_f64(), commits)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Measures one backend, printing its row.
async fn measure(name: &str, shape: Shape, run: impl AsyncFnOnce() -> (f64, Vec<f64>)) {
    let me = std::process::id();
    let (cpu0, (busy0, _)) = (cpu_seconds(me), machine_cpu());
    let (wall, mut commits) = run().await;
    let (cpu1, (busy1, _)) = (cpu_seconds(me), machine_cpu());
    let readings = (commits.len() * shape.frames * shape.samples * KEYS) as f64;
    commits.sort_by(f64::total_cmp);
    println!(
        "{name:>10} {:>13.0} {:>10.1} {:>10.1} {:>16.2} {:>16.2}",
        readings / wall,
        percentile(&commits, 0.5),
        percentile(&commits, 0.99),
        (cpu1 - cpu0) * 1e6 / readings,
        (busy1 - busy0) * 1e6 / readings,
    );
}

pub(crate) async fn run(shape: Shape, postgres: Option<&str>) {
    println!(
        "storage only: {} batches of {} frames × {} samples × {KEYS} keys ({} readings a batch) and {} alarm signals, {} devices, {} committer(s)",
        shape.batches,
        shape.frames,
        shape.samples,
        shape.frames * shape.samples * KEYS,
        shape.frames * shape.signals,
        shape.devices,
        shape.committers
    );
    println!(
        "{:>10} {:>13} {:>10} {:>10} {:>16} {:>16}",
        "backend", "readings/s", "p50 ms", "p99 ms", "CPU µs/reading", "machine µs/rdg"
    );
    // Samples end before now, so all are eligible to be latest: a device's
    // rounds are its committer's frames over its devices.
    let frames = (shape.batches.div_ceil(shape.committers) + WARM_UP) * shape.frames;
    let rounds = frames.div_ceil((shape.devices / shape.committers).max(1)) as i64 + 1;
    let t0 = Clock::system().now() - rounds * shape.samples as i64 * 1000;

    let dir = std::env::temp_dir().join(format!("nexus-bench-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite = nexus_storage_sqlite::SqliteStore::open(&dir).await.expect("SQLite store");
    measure("SQLite", shape, async || {
        let (wall, commits) = drive(&sqlite, shape, t0).await;
        // The background folder's work is part of the cost: drain it.
        let at = Instant::now();
        sqlite.fold_recent().await.expect("fold");
        (wall + at.elapsed().as_secs_f64(), commits)
    })
    .await;
    drop(sqlite);
    let _ = std::fs::remove_dir_all(&dir);

    if let Some(server) = postgres {
        let name = format!("nexus_bench_storage_{}", std::process::id());
        psql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql(server, &format!("CREATE DATABASE {name}"));
        let store = nexus_storage_postgres::PostgresStore::connect(&format!("{server}/{name}"))
            .await
            .expect("PostgreSQL store");
        println!("{:>10} telemetry layout: {:?}", "", store.telemetry_layout());
        measure("PostgreSQL", shape, async || drive(&store, shape, t0).await).await;
        drop(store);
        tokio::time::sleep(Duration::from_millis(100)).await;
        psql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}
