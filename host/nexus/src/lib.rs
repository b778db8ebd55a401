//! # nexus
//!
//! Wiring: builds storage, runtime and services from a [`ServerConfig`],
//! serves the API, runs the optimizer scheduler and the notification loops
//! (with the webhook and SMTP senders of [`notifiers`]), and (with
//! `--demo`) sets up and feeds a simulated field. `main.rs` is only the
//! command line.

pub mod demo;
pub mod eval;
pub mod notifiers;
pub mod plugin_files;
mod sim;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nexus_api::{AppState, HttpTimeouts};
use nexus_runtime::{CompilerCommand, Runtime, RuntimeConfig};
use nexus_services::{Services, ServicesConfig, SigningKey};
use nexus_storage_sqlite::SqliteStore;
pub use notifiers::NotifierConfig;

/// How often dead-letter retention runs.
const RETENTION_SWEEP: Duration = Duration::from_secs(600);

/// What `nexus serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the database and the compile cache live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `NEXUS_ADMIN_TOKEN`: kept (hashed) as the system administrator's
    /// `bootstrap` API key, the way in before any user exists.
    pub bootstrap_token: Option<String>,
    /// A system administrator to create on first start (email, password),
    /// when none exists.
    pub bootstrap_admin: Option<(String, String)>,
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
    /// The SMTP server notifications are mailed through (none: no email).
    pub notifier: NotifierConfig,
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
    pub async fn start(mut config: ServerConfig) -> anyhow::Result<Self> {
        let store = SqliteStore::open(&config.data_dir).await.context("opening storage")?;
        if config.services.identity.signing_key.is_none() {
            config.services.identity.signing_key = Some(signing_key(&config.data_dir)?);
        }
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(config.data_dir.join("compiled")),
            compiler: config.compiler.as_ref().map(|program| CompilerCommand::new(program, [COMPILE_WORKER])),
            ..RuntimeConfig::default()
        })
        .context("starting the plugin runtime")?;
        let clock = config.services.clock.clone();
        config.services.notifications.email = config.notifier.smtp_url.is_some();
        let senders = notifiers::Senders::new(&config.notifier, config.services.notifications.send_timeout)
            .context("setting up the notification senders")?;
        let services = Services::new(Arc::new(store), runtime, config.services.clone());
        let started = Instant::now();
        let preloaded = services.plugins().preload().await.context("loading active plugins")?;
        let preload = started.elapsed();
        if preloaded > 0 {
            tracing::info!(bindings = preloaded, elapsed_ms = preload.as_millis() as u64, "Active plugins loaded.");
        }
        bootstrap(&services, &config).await?;
        let log = services.outbox().subscribe_log();
        // Before the API serves: every event from here on is matched.
        let notifications = services.notifications().subscribe().await.context("starting notifications")?;
        let state = AppState::new(services.clone(), clock);
        let app = nexus_api::router(state);
        let listener =
            tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(services.optimizers().clone().run_scheduler(config.scheduler_tick));
        let retention = tokio::spawn(services.records().clone().run_retention(RETENTION_SWEEP));
        // Stopped when serving stops.
        let (stop_deliveries, deliveries_stop) = tokio::sync::watch::channel(false);
        let worker = services.notifications().clone().run_deliveries(Arc::new(senders), deliveries_stop);
        let mut deliveries = tokio::spawn(worker);
        // The worker finishes the sends in flight once told to stop; each
        // is bounded by the send timeout.
        let drain = config.services.notifications.send_timeout + Duration::from_secs(5);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            let served = nexus_api::serve(listener, app, config.http, stopped).await.context("serving HTTP");
            scheduler.abort();
            retention.abort();
            drop(log);
            notifications.stop().await;
            let _ = stop_deliveries.send(true);
            if tokio::time::timeout(drain, &mut deliveries).await.is_err() {
                tracing::warn!("Notification sends did not finish in time; stopping them.");
                deliveries.abort();
            }
            served
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

/// The access-token signing key of a data directory: `jwt-signing-key.pem`
/// (PKCS#8, Ed25519), generated with mode 0600 on first start.
pub fn signing_key(data_dir: &std::path::Path) -> anyhow::Result<SigningKey> {
    let path = data_dir.join("jwt-signing-key.pem");
    match std::fs::read_to_string(&path) {
        Ok(pem) => SigningKey::from_pem(&pem).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate()?;
            std::fs::create_dir_all(data_dir)?;
            write_secret(&path, key.to_pem().as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "Generated the access-token signing key.");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_secret(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The bootstrap key and the configured first system administrator.
async fn bootstrap(services: &Services, config: &ServerConfig) -> anyhow::Result<()> {
    let identity = services.identity();
    if let Some(token) = &config.bootstrap_token {
        identity.bootstrap_key(token).await.context("storing the bootstrap key")?;
    }
    if let Some((email, password)) = &config.bootstrap_admin
        && !identity.has_system_admin().await?
    {
        identity.bootstrap_admin(email, password).await.context("creating the system administrator")?;
        tracing::info!(email, "Created the system administrator.");
    }
    Ok(())
}

/// Creates a system administrator in a data directory (`nexus admin
/// bootstrap`); refuses when the email is taken.
pub async fn bootstrap_admin(data_dir: &std::path::Path, email: &str, password: &str) -> anyhow::Result<()> {
    let store = SqliteStore::open(data_dir).await.context("opening storage")?;
    let runtime = Runtime::new(RuntimeConfig::default()).context("starting the plugin runtime")?;
    let services = Services::new(Arc::new(store), runtime, ServicesConfig::default());
    services.identity().bootstrap_admin(email, password).await.context("creating the system administrator")?;
    Ok(())
}
