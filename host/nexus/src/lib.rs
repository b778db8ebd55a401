//! # nexus
//!
//! Wiring: builds storage, runtime and services from a [`ServerConfig`],
//! serves the API, runs the optimizer scheduler and the notification loops
//! (with the webhook and SMTP senders of [`notifiers`]), and (with
//! `--demo`) sets up and feeds a simulated field. `main.rs` is only the
//! command line.

pub mod author;
pub mod config;
pub mod demo;
pub mod eval;
pub mod notifiers;
pub mod observability;
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
use nexus_storage::Store;
use nexus_storage_postgres::PostgresStore;
use nexus_storage_sqlite::SqliteStore;
pub use notifiers::NotifierConfig;

/// `nexus --version`: the release, the plugin contract (the WIT package its
/// components must target) and the build (git commit, or `NEXUS_BUILD`).
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (contract ", env!("NEXUS_CONTRACT"), ", build ", env!("NEXUS_BUILD"), ")");

/// How often retention (dead letters, and telemetry per tenant profile) runs.
const RETENTION_SWEEP: Duration = Duration::from_secs(600);

/// What `nexus serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the compile cache and the signing key live, and the embedded
    /// database when `database` is unset.
    pub data_dir: PathBuf,
    /// The store: unset for the embedded SQLite database in `data_dir`, or
    /// a `postgres://` URL.
    pub database: Option<String>,
    /// The hot-state cache: a `redis://` URL, or unset for none (reads go
    /// to the store). A copy only; Redis down makes reads use the store.
    pub redis_url: Option<String>,
    /// The prefix of every Redis key (default `nexus:`).
    pub redis_prefix: String,
    /// Which addresses connectors may reach.
    pub connector_networks: nexus_connectors::NetworkPolicy,
    /// Kafka bootstrap brokers (`host:port[,…]`): the outbox's events and
    /// committed telemetry are published to Kafka; unset: no producer.
    pub kafka_brokers: Option<String>,
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
        let store = open_store(&config.data_dir, config.database.as_deref()).await?;
        if config.services.identity.signing_key.is_none() {
            config.services.identity.signing_key = Some(signing_key(&config.data_dir)?);
        }
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(config.data_dir.join("compiled")),
            compiler: config.compiler.as_ref().map(|program| CompilerCommand::new(program, [COMPILE_WORKER])),
            ..RuntimeConfig::default()
        })
        .context("starting the plugin runtime")?;
        if config.services.component_store.is_none() {
            config.services.component_store = Some(config.data_dir.join("components"));
        }
        let clock = config.services.clock.clone();
        config.services.notifications.email = config.notifier.smtp_url.is_some();
        let senders = notifiers::Senders::new(&config.notifier, config.services.notifications.send_timeout)
            .context("setting up the notification senders")?;
        let services = Services::new(store, runtime, config.services.clone());
        let started = Instant::now();
        let preloaded = services.plugins().preload().await.context("loading active plugins")?;
        let preload = started.elapsed();
        if preloaded > 0 {
            tracing::info!(bindings = preloaded, elapsed_ms = preload.as_millis() as u64, "Active plugins loaded.");
        }
        bootstrap(&services, &config).await?;
        let log = services.outbox().subscribe_log();
        let live = services.live().start(services.outbox());
        let kafka = match &config.kafka_brokers {
            Some(brokers) => {
                let topics = nexus_connectors::kafka::Topics::default();
                let publisher = nexus_connectors::kafka::KafkaPublisher::new(brokers, topics)
                    .with_context(|| format!("the Kafka producer on {brokers}"))?;
                let publisher = Arc::new(publisher);
                let subscription = services
                    .outbox()
                    .subscribe_ready(publisher.clone())
                    .await
                    .context("starting the Kafka producer")?;
                services.attach_telemetry_tap(publisher);
                tracing::info!(%brokers, "Outbox events and committed telemetry are published to Kafka.");
                Some(subscription)
            }
            None => None,
        };
        let hot = match &config.redis_url {
            Some(url) => {
                let cache = nexus_cache_redis::RedisCache::new(url, &config.redis_prefix)
                    .with_context(|| format!("the Redis cache at {}", redact_url(url)))?;
                tracing::info!(prefix = %config.redis_prefix, "Hot-state cache: Redis.");
                services.attach_hot_cache(Arc::new(cache))
            }
            None => None,
        };
        // Before the API serves: every event from here on is matched.
        let notifications = services.notifications().subscribe().await.context("starting notifications")?;
        let connectors =
            nexus_connectors::Supervisor::new(services.clone(), clock.clone(), config.connector_networks.clone());
        let started = services.connectors().attach(connectors.clone()).await.context("starting connectors")?;
        if started > 0 {
            tracing::info!(connectors = started, "Connectors started.");
        }
        let pacing =
            nexus_api::RefusalPacing::new(config.http.rate_limit_hold, nexus_api::RefusalPacing::default().max_held());
        let state = AppState::new(services.clone(), clock)
            .with_request_timeout(config.http.request)
            .with_refusal_pacing(pacing);
        let app = nexus_api::router(state);
        let listener =
            tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = tokio::sync::watch::channel(false);
        services.approvals().recover().await.context("ending the recommendations a stopped server left")?;
        let scheduler = tokio::spawn(services.optimizers().clone().run_scheduler(config.scheduler_tick));
        let approvals = tokio::spawn(services.approvals().clone().run_sweeper(nexus_services::APPROVAL_SWEEP));
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
            let served =
                nexus_api::serve(listener, app, config.http.header_read, stopped).await.context("serving HTTP");
            scheduler.abort();
            approvals.abort();
            retention.abort();
            drop(log);
            drop(live);
            drop(kafka);
            drop(hot);
            notifications.stop().await;
            connectors.stop_all().await;
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

/// Opens the store `database` names: unset, the embedded SQLite database in
/// `data_dir`; a `postgres://` (or `postgresql://`) URL, that PostgreSQL
/// database (migrated on connect).
pub async fn open_store(data_dir: &std::path::Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        None | Some("") => {
            let store = SqliteStore::open(data_dir).await;
            Ok(Arc::new(store.with_context(|| format!("opening the SQLite store in {}", data_dir.display()))?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::connect(url).await;
            Ok(Arc::new(store.with_context(|| format!("opening the PostgreSQL store at {}", redact_url(url)))?))
        }
        Some(other) => anyhow::bail!(
            "the database must be a postgres:// URL, or unset for the embedded SQLite store; got `{}`",
            redact_url(other)
        ),
    }
}

/// A URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &credentials[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
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
pub async fn bootstrap_admin(
    data_dir: &std::path::Path,
    database: Option<&str>,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let store = open_store(data_dir, database).await?;
    let runtime = Runtime::new(RuntimeConfig::default()).context("starting the plugin runtime")?;
    let services = Services::new(store, runtime, ServicesConfig::default());
    services.identity().bootstrap_admin(email, password).await.context("creating the system administrator")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(super::redact_url("postgres://nexus:s3cret@db:5432/nexus"), "postgres://nexus:***@db:5432/nexus");
        assert_eq!(super::redact_url("postgres://nexus@db/nexus"), "postgres://nexus@db/nexus");
        assert_eq!(super::redact_url("mysql://a:b@c"), "mysql://a:***@c");
    }
}
