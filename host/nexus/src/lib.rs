//! # nexus
//!
//! Wiring: builds storage, runtime and services from a [`ServerConfig`],
//! serves the API, runs the optimizer scheduler, and (with `--demo`) sets
//! up and feeds a simulated field. `main.rs` is only the command line.

pub mod demo;
pub mod eval;
pub mod plugin_files;
mod sim;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nexus_api::{AppState, HttpTimeouts, StaticToken};
use nexus_runtime::{CompilerCommand, Runtime, RuntimeConfig};
use nexus_services::{Services, ServicesConfig};
use nexus_storage_sqlite::SqliteStore;

/// How often dead-letter retention runs.
const RETENTION_SWEEP: Duration = Duration::from_secs(600);

/// What `nexus serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the database and the compile cache live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The admin bearer token.
    pub admin_token: String,
    /// How often the scheduler looks for due optimizers.
    pub scheduler_tick: Duration,
    /// Deadlines on request heads and requests.
    pub http: HttpTimeouts,
    /// The clock and upload compile bounds.
    pub services: ServicesConfig,
    /// The `nexus` executable, to compile uploads in a child process
    /// (`nexus compile-worker`) that is killed at the compile timeout;
    /// `None` compiles in this process.
    pub compiler: Option<PathBuf>,
}

/// The hidden subcommand that compiles one component (see
/// [`nexus_runtime::compile_worker`]).
pub const COMPILE_WORKER: &str = "compile-worker";

/// A running server.
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The services it serves.
    pub services: Services,
    /// How long loading the active plugins took at start-up.
    pub preload: Duration,
    /// How many bindings' plugins were loaded at start-up.
    pub preloaded: usize,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Opens storage, loads active plugins, binds the listener and serves.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Self> {
        let store = SqliteStore::open(&config.data_dir).await.context("opening storage")?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(config.data_dir.join("compiled")),
            compiler: config.compiler.as_ref().map(|program| CompilerCommand::new(program, [COMPILE_WORKER])),
            ..RuntimeConfig::default()
        })
        .context("starting the plugin runtime")?;
        let clock = config.services.clock.clone();
        let services = Services::new(Arc::new(store), runtime, config.services.clone());
        let started = Instant::now();
        let preloaded = services.plugins().preload().await.context("loading active plugins")?;
        let preload = started.elapsed();
        if preloaded > 0 {
            tracing::info!(bindings = preloaded, elapsed_ms = preload.as_millis() as u64, "Active plugins loaded.");
        }
        let log = services.outbox().subscribe_log();
        let state = AppState::new(services.clone(), Arc::new(StaticToken::new(config.admin_token.clone())), clock);
        let app = nexus_api::router(state);
        let listener =
            tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(services.optimizers().clone().run_scheduler(config.scheduler_tick));
        let retention = tokio::spawn(services.records().clone().run_retention(RETENTION_SWEEP));
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            nexus_api::serve(listener, app, config.http, stopped).await.context("serving HTTP")?;
            scheduler.abort();
            retention.abort();
            drop(log);
            Ok(())
        });
        tracing::info!(%addr, "Nexus is serving.");
        Ok(Self { addr, services, preload, preloaded, shutdown, task })
    }

    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task")?
    }

    /// Runs until the server task ends (it does not by itself).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?
    }
}
