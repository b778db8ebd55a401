//! `nexus`: the Nexus server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use nexus::demo::{self, DemoOptions};
use nexus::{Server, ServerConfig};

/// Nexus: production telemetry with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the device and admin APIs.
    Serve {
        /// Where the database and compiled plugins live (default: a new temporary directory with --demo, else ./nexus-data).
        #[arg(long, env = "NEXUS_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, env = "NEXUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Bootstrap: kept (hashed) as the system administrator's API key `bootstrap` (generated and printed with --demo when unset).
        #[arg(long, env = "NEXUS_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Bootstrap: a system administrator created on first start (with NEXUS_ADMIN_PASSWORD) when none exists.
        #[arg(long, env = "NEXUS_ADMIN_EMAIL")]
        admin_email: Option<String>,
        /// Set up a simulated ESP field and feed it.
        #[arg(long)]
        demo: bool,
        /// Directory of the built plugin components (demo).
        #[arg(long, env = "NEXUS_PLUGIN_DIR")]
        plugin_dir: Option<PathBuf>,
        /// Number of simulated wells (demo).
        #[arg(long, default_value_t = 4)]
        wells: usize,
        /// How long a client may take to send a request head, ms; past it the connection is closed.
        #[arg(long, env = "NEXUS_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
        header_read_timeout_ms: u64,
        /// How long one request may take, ms; past it the answer is 408 `request-timeout`.
        #[arg(long, env = "NEXUS_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
        request_timeout_ms: u64,
        #[command(flatten)]
        notify: NotifyArgs,
    },
    /// Administration of a data directory.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Compile one component from stdin (run by `serve` in a child process).
    #[command(name = "compile-worker", hide = true)]
    CompileWorker {
        /// The engine settings, as the runtime passes them.
        #[arg(long)]
        settings: String,
        /// Where to write the compiled artifact.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay recorded well data through an alarm-rule component in virtual time.
    Eval {
        #[command(subcommand)]
        mode: EvalMode,
    },
}

/// Notifications: the SMTP server and the retry policy of deliveries.
#[derive(clap::Args)]
struct NotifyArgs {
    /// SMTP server for email notifications: smtp://HOST:PORT, smtp://HOST:PORT?tls=required (STARTTLS), smtps://HOST:PORT; credentials as smtp://USER:PASSWORD@HOST. Unset: no email.
    #[arg(long, env = "NEXUS_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender address of email notifications.
    #[arg(long, env = "NEXUS_SMTP_FROM", default_value = "nexus@localhost")]
    smtp_from: String,
    /// Attempts to send a notification before it is dead.
    #[arg(long, env = "NEXUS_NOTIFY_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    notify_attempts: u32,
    /// Wait after the first failed attempt, ms; it doubles with each failure.
    #[arg(long, env = "NEXUS_NOTIFY_BASE_DELAY_MS", default_value_t = 1_000)]
    notify_base_delay_ms: u64,
    /// Longest wait between two attempts, ms.
    #[arg(long, env = "NEXUS_NOTIFY_MAX_DELAY_MS", default_value_t = 300_000)]
    notify_max_delay_ms: u64,
    /// How long one webhook request or SMTP session may take, ms.
    #[arg(long, env = "NEXUS_NOTIFY_TIMEOUT_MS", default_value_t = 10_000)]
    notify_timeout_ms: u64,
}

impl NotifyArgs {
    /// The services' notification settings and the binary's SMTP settings.
    fn config(self) -> (nexus_services::NotificationConfig, nexus::NotifierConfig) {
        let ms = Duration::from_millis;
        let services = nexus_services::NotificationConfig {
            retry: nexus_services::RetryPolicy {
                attempts: self.notify_attempts,
                base_delay: ms(self.notify_base_delay_ms),
                max_delay: ms(self.notify_max_delay_ms.max(self.notify_base_delay_ms)),
            },
            send_timeout: ms(self.notify_timeout_ms.max(1)),
            ..nexus_services::NotificationConfig::default()
        };
        (services, nexus::NotifierConfig { smtp_url: self.smtp_url, smtp_from: self.smtp_from })
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Creates a system administrator (password from NEXUS_ADMIN_PASSWORD, else the first line of stdin).
    Bootstrap {
        /// The data directory of the server.
        #[arg(long, env = "NEXUS_DATA_DIR", default_value = "nexus-data")]
        data_dir: PathBuf,
        /// The administrator's email (login name).
        #[arg(long)]
        email: String,
    },
}

#[derive(clap::Args)]
struct EvalCommon {
    /// The alarm-rule component (.wasm).
    #[arg(long)]
    plugin: PathBuf,
    /// The binding configuration (JSON).
    #[arg(long, default_value = "{}")]
    config: String,
    /// The 3W data directory (`<class>/<instance>.csv.gz`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Deadline of one call, ms.
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
}

#[derive(Subcommand)]
enum EvalMode {
    /// The 3W anomaly-detection benchmark (benchmark 2), one score per seed.
    Bench2 {
        #[command(flatten)]
        common: EvalCommon,
        /// Seeds (each overrides `seed` in the configuration).
        #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5")]
        seeds: Vec<u64>,
    },
    /// Whole instances in one-minute batches: detection, delay, false alarms per hour.
    Detect {
        #[command(flatten)]
        common: EvalCommon,
        /// Event classes to detect.
        #[arg(long, value_delimiter = ',')]
        classes: Vec<u32>,
        /// Normal classes for the false-alarm rate.
        #[arg(long, value_delimiter = ',', default_value = "0")]
        normal_classes: Vec<u32>,
    },
    /// Every real instance of every class: raises per class, false alarms per 24 h of labelled-normal data.
    Specificity {
        #[command(flatten)]
        common: EvalCommon,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::CompileWorker { settings, out } = &cli.command {
        // No runtime, no logging: a small, single-threaded child.
        if let Err(error) = nexus_runtime::compile_worker(settings, out) {
            eprintln!("{error}");
            std::process::exit(1);
        }
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let (data_dir, listen, admin_token, admin_email, demo, plugin_dir, wells, timeouts, notify) = match cli.command {
        Command::Serve {
            data_dir,
            listen,
            admin_token,
            admin_email,
            demo,
            plugin_dir,
            wells,
            header_read_timeout_ms,
            request_timeout_ms,
            notify,
        } => (
            data_dir,
            listen,
            admin_token,
            admin_email,
            demo,
            plugin_dir,
            wells,
            (header_read_timeout_ms, request_timeout_ms),
            notify.config(),
        ),
        Command::Admin { command: AdminCommand::Bootstrap { data_dir, email } } => {
            let password = admin_password()?;
            nexus::bootstrap_admin(&data_dir, &email, &password).await?;
            println!("System administrator {email} created in {}.", data_dir.display());
            return Ok(());
        }
        Command::Eval { mode } => return run_eval(mode),
        Command::CompileWorker { .. } => anyhow::bail!("compile-worker runs before the server starts"),
    };
    let admin_token = match (admin_token, demo) {
        (Some(token), _) if nexus_model::estimated_bits(&token) >= 128.0 => Some(token),
        (Some(_), _) => anyhow::bail!("NEXUS_ADMIN_TOKEN must carry at least 128 bits (e.g. 32 random hex characters)"),
        (None, true) => {
            let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            println!("\nSystem administrator's bootstrap key: NEXUS_ADMIN_TOKEN={token}\n");
            Some(token)
        }
        (None, false) => None,
    };
    let bootstrap_admin = match admin_email {
        Some(email) => Some((email, admin_password()?)),
        None => None,
    };
    let data_dir = match data_dir {
        Some(dir) => dir,
        None if demo => std::env::temp_dir().join(format!("nexus-demo-{}", std::process::id())),
        None => PathBuf::from("nexus-data"),
    };
    tracing::info!(data_dir = %data_dir.display(), "Starting Nexus.");
    let server = Server::start(ServerConfig {
        data_dir,
        listen,
        bootstrap_token: admin_token.clone(),
        bootstrap_admin,
        scheduler_tick: Duration::from_secs(1),
        http: nexus_api::HttpTimeouts {
            header_read: Duration::from_millis(timeouts.0.max(1)),
            request: Duration::from_millis(timeouts.1.max(1)),
        },
        services: nexus_services::ServicesConfig {
            notifications: notify.0,
            ..nexus_services::ServicesConfig::default()
        },
        compiler: Some(std::env::current_exe().context("finding the nexus executable")?),
        notifier: notify.1,
    })
    .await?;
    let base = format!("http://{}", server.addr);
    if let (true, Some(admin_token)) = (demo, admin_token) {
        let mut options = DemoOptions { wells, ..DemoOptions::default() };
        if let Some(dir) = plugin_dir {
            options.plugin_dir = dir;
        }
        tokio::spawn(async move {
            if let Err(error) = demo::run(base, admin_token, options).await {
                tracing::error!("Demo stopped: {error:#}");
            }
        });
    }
    tokio::select! {
        result = server.wait() => result.context("server"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("Interrupted; stopping.");
            Ok(())
        }
    }
}

/// NEXUS_ADMIN_PASSWORD, else the first line of stdin.
fn admin_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("NEXUS_ADMIN_PASSWORD") {
        return Ok(password);
    }
    eprintln!("Password of the system administrator (one line):");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn run_eval(mode: EvalMode) -> anyhow::Result<()> {
    let parse = |common: &EvalCommon| -> anyhow::Result<(serde_json::Value, PathBuf)> {
        let config = serde_json::from_str(&common.config).context("--config must be JSON")?;
        Ok((config, common.data.clone().unwrap_or_else(nexus::eval::default_data_dir)))
    };
    match mode {
        EvalMode::Bench2 { common, seeds } => {
            let (config, data) = parse(&common)?;
            nexus::eval::bench2(&common.plugin, &config, &data, &seeds, common.deadline_ms).map(|_| ())
        }
        EvalMode::Detect { common, classes, normal_classes } => {
            let (config, data) = parse(&common)?;
            nexus::eval::detect(&common.plugin, &config, &data, &classes, &normal_classes, common.deadline_ms)
        }
        EvalMode::Specificity { common } => {
            let (config, data) = parse(&common)?;
            nexus::eval::specificity(&common.plugin, &config, &data, common.deadline_ms)
        }
    }
}
