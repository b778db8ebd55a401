//! `nexus`: the Nexus server.

mod plugin_cli;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use nexus::config::{self, ServeArgs};
use nexus::demo::{self, DemoOptions};
use nexus::{Server, ServerConfig};

/// Nexus: production telemetry with sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(version = nexus::VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the device and admin APIs.
    Serve(ServeArgs),
    /// The configuration of `serve`: flags, NEXUS_* variables and the --config file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
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
    /// The author's loop: new, build, test, keygen, sign, publish, approve, bind.
    Plugin {
        #[command(subcommand)]
        command: plugin_cli::PluginCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Resolves the settings as `serve` would, shows each with its source (secrets redacted) and checks them; exits 1 on a problem.
    Check(ServeArgs),
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
        /// The store, as `serve --database` takes it (unset: SQLite in the data directory).
        #[arg(long, env = "NEXUS_DATABASE_URL", hide_env_values = true)]
        database: Option<String>,
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
    let loaded = match config::load::<Cli>(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(config::ConfigError::Cli(error)) => error.exit(),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(2);
        }
    };
    if let Command::Config { command: ConfigCommand::Check(args) } = &loaded.cli.command {
        std::process::exit(config_check(args, &loaded));
    }
    let cli = loaded.cli;
    if let Command::Plugin { command } = cli.command {
        return plugin_cli::run(command);
    }
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
    // Logs (RUST_LOG, NEXUS_LOG_FORMAT) and OTLP traces (OTEL_*) until `run` returns.
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => nexus::observability::LogFormat::default(),
    };
    let _observability = nexus::observability::init(log_format)?;
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Admin { command: AdminCommand::Bootstrap { data_dir, email, database } } => {
            let password = admin_password()?;
            nexus::bootstrap_admin(&data_dir, database.as_deref(), &email, &password).await?;
            println!("System administrator {email} created in {}.", data_dir.display());
            return Ok(());
        }
        Command::Eval { mode } => return run_eval(mode),
        Command::Config { .. } | Command::CompileWorker { .. } | Command::Plugin { .. } => {
            anyhow::bail!("handled before the runtime starts")
        }
    };
    let demo = args.demo;
    let admin_token = match (args.admin_token.clone(), demo) {
        (Some(token), _) if nexus_model::estimated_bits(&token) >= 128.0 => Some(token),
        (Some(_), _) => anyhow::bail!("NEXUS_ADMIN_TOKEN must carry at least 128 bits (e.g. 32 random hex characters)"),
        (None, true) => {
            let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
            println!("\nSystem administrator's bootstrap key: NEXUS_ADMIN_TOKEN={token}\n");
            Some(token)
        }
        (None, false) => None,
    };
    let bootstrap_admin = match &args.admin_email {
        Some(email) => Some((email.clone(), admin_password()?)),
        None => None,
    };
    let data_dir = args.data_dir();
    tracing::info!(data_dir = %data_dir.display(), "Starting Nexus.");
    let server = Server::start(ServerConfig {
        data_dir,
        database: args.database.clone(),
        redis_url: args.redis_url.clone(),
        redis_prefix: args.redis_prefix.clone(),
        connector_networks: args.connector_networks.clone(),
        kafka_brokers: args.kafka_brokers.clone(),
        listen: args.listen,
        bootstrap_token: admin_token.clone(),
        bootstrap_admin,
        scheduler_tick: Duration::from_secs(1),
        http: args.http(),
        services: args.services(),
        compiler: Some(std::env::current_exe().context("finding the nexus executable")?),
        notifier: args.notify.notifier(),
    })
    .await?;
    let base = format!("http://{}", server.addr);
    if let (true, Some(admin_token)) = (demo, admin_token) {
        let mut options =
            DemoOptions { wells: args.wells.into(), manual_approval: args.manual_approval, ..DemoOptions::default() };
        if let Some(dir) = args.plugin_dir.clone() {
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

/// `nexus config check`: every setting with its value and source, then the
/// problems found; the exit code is 1 when there is one.
fn config_check(args: &ServeArgs, loaded: &config::Loaded<Cli>) -> i32 {
    println!("nexus {}", nexus::VERSION);
    match &args.config {
        Some(file) => println!("configuration file: {}", file.display()),
        None => println!("configuration file: none (--config / NEXUS_CONFIG)"),
    }
    println!("\n{:<24} {:<8} value", "setting", "source");
    for (key, source) in &loaded.sources {
        if key == "config" || key == "help" {
            continue;
        }
        let value = match (key.as_str(), loaded.shown.get(key)) {
            (_, Some(value)) => value.clone(),
            ("data_dir", None) => format!("({})", args.data_dir().display()),
            ("compile_workers", None) => format!("({})", args.services().compile_workers),
            ("tenant_call_share", None) => format!("({})", args.services().tenant_call_share),
            _ => String::new(),
        };
        println!("{key:<24} {source:<8} {value}");
    }
    let findings = config::check(args);
    if findings.is_empty() {
        println!("\nconfiguration ok");
        return 0;
    }
    println!();
    for finding in &findings {
        println!("problem: {}: {}", finding.key, finding.problem);
    }
    println!("{} problem(s)", findings.len());
    1
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
