//! One configuration surface for `nexus serve` (12-factor).
//!
//! Every setting is declared once, as a flag of [`ServeArgs`], and can be
//! given three ways, in this order of precedence over its default:
//!
//! 1. the flag (`--listen 0.0.0.0:8080`);
//! 2. its `NEXUS_*` environment variable (`NEXUS_LISTEN=0.0.0.0:8080`);
//! 3. a key of the TOML file named by `--config` / `NEXUS_CONFIG`, spelt as
//!    the flag with `_` for `-` (`listen = "0.0.0.0:8080"`).
//!
//! [`load`] parses the command line, reads the file, and parses again with
//! the file's values in place of the defaults they replace, so a value from
//! the file is checked exactly as the same value given as a flag. An unknown
//! key, a key of the wrong type, or a value the flag would refuse is an
//! error that names the file. `nexus config check` ([`check`]) resolves the
//! settings the same way, prints each with where it came from (secrets
//! redacted) and checks what can be checked before starting.
//!
//! [`reference`] renders the settings as the table in
//! `docs/configuration.md`; a test keeps that page true.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches};

/// The settings of `nexus serve` (and of `nexus config check`).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// A TOML file of settings; its keys are these flags' names with `_` for `-`. Flags and environment variables override it.
    #[arg(long, env = "NEXUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the database, compiled plugins and the component store of vendors' releases (`components/`) live (default: a new temporary directory with --demo, else ./nexus-data).
    #[arg(long, env = "NEXUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: unset for the embedded SQLite database in the data directory, or a `postgres://USER:PASSWORD@HOST:5432/DB` URL (migrated on start). A secret: it holds the password.
    #[arg(long, env = "NEXUS_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// The hot-state cache: unset for none, or a `redis://[:PASSWORD@]HOST:6379/DB` URL. A copy of stored data only (latest values, well status, active alarms); when Redis is down reads use the database. A secret: it may hold a password.
    #[arg(long, env = "NEXUS_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The prefix of every Redis key (the tenant follows it), so hosts sharing a Redis do not collide.
    #[arg(long, env = "NEXUS_REDIS_PREFIX", default_value = "nexus:")]
    pub redis_prefix: String,
    /// Which addresses connectors may reach: `default` (any but loopback, link-local — cloud metadata —, multicast and unspecified: a tenant cannot point one at the host's own services), `any`, or a comma-separated list of CIDR blocks (those only), checked on every connection after name resolution.
    #[arg(long, env = "NEXUS_CONNECTOR_NETWORKS", default_value = "default", value_parser = nexus_connectors::NetworkPolicy::parse)]
    pub connector_networks: nexus_connectors::NetworkPolicy,
    /// Kafka bootstrap brokers, `HOST:9092[,HOST:9092…]`: the outbox's events are published to the seed's topics (`pf.alarms`, `po.recommendations`, `po.setpoint-changes`, `pf.events`), and committed telemetry to `pf.telemetry.validated`. Unset: no Kafka producer (consumer connectors are configured per tenant).
    #[arg(long, env = "NEXUS_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "NEXUS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Bootstrap: kept (hashed) as the system administrator's API key `bootstrap`, ≥ 128 bits (generated and printed with --demo when unset). A secret.
    #[arg(long, env = "NEXUS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Bootstrap: a system administrator created on first start, when none exists (password: NEXUS_ADMIN_PASSWORD, environment only).
    #[arg(long, env = "NEXUS_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// Set up a simulated ESP field and feed it.
    #[arg(long)]
    pub demo: bool,
    /// Directory of the built plugin components (demo).
    #[arg(long, env = "NEXUS_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Number of simulated wells (demo).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub wells: u16,
    /// Leave the demo's recommendations for a person to approve (by default the demo's operator approves each a few seconds after it appears).
    #[arg(long)]
    pub manual_approval: bool,
    /// How long a client may take to send a request head, ms; past it the connection is closed.
    #[arg(long, env = "NEXUS_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// How long one request may take, ms; past it the answer is 408 `request-timeout`.
    #[arg(long, env = "NEXUS_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// The longest a device request over its tenant's ingest limits is held before its 429 is sent, ms (until the limit admits again; 0: at once), so a client that ignores Retry-After is paced at its limit.
    #[arg(long, env = "NEXUS_RATE_LIMIT_HOLD_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=30_000))]
    pub rate_limit_hold_ms: u64,
    /// How long compiling an uploaded component may take, ms; past it the compile is killed and the upload refused (`compile-timeout`).
    #[arg(long, env = "NEXUS_COMPILE_TIMEOUT_MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub compile_timeout_ms: u64,
    /// Uploads compiled at once over all tenants (default: half the cores, at least 2).
    #[arg(long, env = "NEXUS_COMPILE_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub compile_workers: Option<u16>,
    /// Frames that may wait in one tenant's ingest queue; past it new frames get 503 `overloaded`.
    #[arg(long, env = "NEXUS_INGEST_QUEUE_FRAMES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ingest_queue_frames: u32,
    /// Group commits one tenant's ingest runs at once, its devices split between them (default: 1 on SQLite, whose single writer serializes them; 2 on PostgreSQL).
    #[arg(long, env = "NEXUS_INGEST_COMMITTERS", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub ingest_committers: Option<u16>,
    /// Plugin calls one tenant may run at once unless its profile says otherwise (default: half the cores, at least 1).
    #[arg(long, env = "NEXUS_TENANT_CALL_SHARE", value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub tenant_call_share: Option<u16>,
    /// Distinct telemetry keys one device may have unless its tenant's profile says otherwise.
    #[arg(long, env = "NEXUS_MAX_KEYS_PER_DEVICE", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_keys_per_device: u32,
    /// Seconds one run of an optimizer, field optimizer or forecaster binding may take; it stops before its next device past it.
    #[arg(long, env = "NEXUS_RUN_BUDGET_S", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub run_budget_s: u64,
    /// Days dead letters are kept.
    #[arg(long, env = "NEXUS_DEAD_LETTER_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub dead_letter_days: u32,
    /// MiB of dead-letter payloads kept per tenant; the oldest go first.
    #[arg(long, env = "NEXUS_DEAD_LETTER_MIB", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub dead_letter_mib: u64,
    /// Log lines: `text` (colours on a terminal) or `json` (one object per line, with the fields of the spans it is in). Filter with RUST_LOG.
    #[arg(long, env = "NEXUS_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: crate::observability::LogFormat,
    /// Notifications: the SMTP server and the retry policy of deliveries.
    #[command(flatten)]
    pub notify: NotifyArgs,
}

impl ServeArgs {
    /// The data directory: as given, else a new temporary one for the demo,
    /// else `./nexus-data`.
    pub fn data_dir(&self) -> PathBuf {
        match &self.data_dir {
            Some(dir) => dir.clone(),
            None if self.demo => std::env::temp_dir().join(format!("nexus-demo-{}", std::process::id())),
            None => PathBuf::from("nexus-data"),
        }
    }

    /// The services' settings these arguments choose; the rest default.
    pub fn services(&self) -> nexus_services::ServicesConfig {
        let mut services = nexus_services::ServicesConfig {
            compile_timeout: Duration::from_millis(self.compile_timeout_ms),
            ingest_queue_frames: self.ingest_queue_frames as usize,
            ingest_committers: self.ingest_committers.map(usize::from),
            max_keys_per_device: self.max_keys_per_device,
            dead_letter_max_age: Duration::from_secs(u64::from(self.dead_letter_days) * 24 * 3600),
            dead_letter_max_bytes: self.dead_letter_mib << 20,
            notifications: self.notify.services(),
            run_budget: Duration::from_secs(self.run_budget_s),
            component_store: Some(self.data_dir().join("components")),
            ..nexus_services::ServicesConfig::default()
        };
        if let Some(workers) = self.compile_workers {
            services.compile_workers = workers.into();
        }
        if let Some(share) = self.tenant_call_share {
            services.tenant_call_share = share.into();
        }
        services
    }

    /// The request-head and request deadlines.
    pub fn http(&self) -> nexus_api::HttpTimeouts {
        nexus_api::HttpTimeouts {
            header_read: Duration::from_millis(self.header_read_timeout_ms),
            request: Duration::from_millis(self.request_timeout_ms),
            rate_limit_hold: Duration::from_millis(self.rate_limit_hold_ms),
        }
    }
}

/// Notifications: the SMTP server and the retry policy of deliveries.
#[derive(Args, Debug, Clone)]
pub struct NotifyArgs {
    /// SMTP server for email notifications: smtp://HOST:PORT, smtp://HOST:PORT?tls=required (STARTTLS), smtps://HOST:PORT; credentials as smtp://USER:PASSWORD@HOST. Unset: no email.
    #[arg(long, env = "NEXUS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of email notifications.
    #[arg(long, env = "NEXUS_SMTP_FROM", default_value = "nexus@localhost")]
    pub smtp_from: String,
    /// Attempts to send a notification before it is dead.
    #[arg(long, env = "NEXUS_NOTIFY_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub notify_attempts: u32,
    /// Wait after the first failed attempt, ms; it doubles with each failure.
    #[arg(long, env = "NEXUS_NOTIFY_BASE_DELAY_MS", default_value_t = 1_000)]
    pub notify_base_delay_ms: u64,
    /// Longest wait between two attempts, ms.
    #[arg(long, env = "NEXUS_NOTIFY_MAX_DELAY_MS", default_value_t = 300_000)]
    pub notify_max_delay_ms: u64,
    /// How long one webhook request or SMTP session may take, ms.
    #[arg(long, env = "NEXUS_NOTIFY_TIMEOUT_MS", default_value_t = 10_000)]
    pub notify_timeout_ms: u64,
}

impl NotifyArgs {
    /// The services' notification settings (retry policy, send timeout).
    pub fn services(&self) -> nexus_services::NotificationConfig {
        let ms = Duration::from_millis;
        nexus_services::NotificationConfig {
            retry: nexus_services::RetryPolicy {
                attempts: self.notify_attempts,
                base_delay: ms(self.notify_base_delay_ms),
                max_delay: ms(self.notify_max_delay_ms.max(self.notify_base_delay_ms)),
            },
            send_timeout: ms(self.notify_timeout_ms.max(1)),
            ..nexus_services::NotificationConfig::default()
        }
    }

    /// The binary's SMTP settings.
    pub fn notifier(&self) -> crate::NotifierConfig {
        crate::NotifierConfig { smtp_url: self.smtp_url.clone(), smtp_from: self.smtp_from.clone() }
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// Its `NEXUS_*` environment variable.
    Env,
    /// The configuration file.
    File,
    /// The built-in default.
    Default,
    /// Not set, and without a default.
    Unset,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
            Source::Unset => "unset",
        })
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line (or the environment) is wrong; clap's own message.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// The file could not be read.
    #[error("reading the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line.
        message: String,
    },
    /// A key the command does not have.
    #[error("the configuration file {path} has an unknown key `{key}`; known keys: {known}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The keys it may have.
        known: String,
    },
    /// A key whose value is a table or an array.
    #[error("the configuration file {path}: `{key}` must be a string, a number or a boolean")]
    Type {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value the setting refuses.
    #[error("the configuration file {path} has a value that is refused: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// clap's message, naming the setting by its flag.
        message: String,
    },
}

/// A parsed command line with the file's settings applied.
pub struct Loaded<C> {
    /// The command line.
    pub cli: C,
    /// Where each setting of the subcommand with a `config` argument came
    /// from (empty for other subcommands), by key.
    pub sources: BTreeMap<String, Source>,
    /// The values as strings (secrets redacted), by key, for display.
    pub shown: BTreeMap<String, String>,
}

/// Parses `argv` as `C`, applying the configuration file of the subcommand
/// that has a `config` argument (see the module documentation).
pub fn load<C: CommandFactory + FromArgMatches>(argv: Vec<OsString>) -> Result<Loaded<C>, ConfigError> {
    let command = C::command();
    let first = command.clone().try_get_matches_from(&argv)?;
    let Some((sub_command, sub_matches)) = configured(&command, &first) else {
        return Ok(Loaded { cli: C::from_arg_matches(&first)?, sources: BTreeMap::new(), shown: BTreeMap::new() });
    };
    let mut sources: BTreeMap<String, Source> = sub_command
        .get_arguments()
        .map(|arg| {
            let id = arg.get_id().as_str();
            let source = match sub_matches.value_source(id) {
                Some(ValueSource::CommandLine) => Source::Flag,
                Some(ValueSource::EnvVariable) => Source::Env,
                Some(ValueSource::DefaultValue) => Source::Default,
                _ => Source::Unset,
            };
            (id.to_string(), source)
        })
        .collect();
    let mut argv = argv;
    let file = sub_matches.get_one::<PathBuf>("config").cloned();
    if let Some(path) = &file {
        for (key, flag) in file_flags(sub_command, path)? {
            if matches!(sources.get(&key), Some(Source::Flag | Source::Env)) {
                continue; // a flag or the environment overrides the file
            }
            argv.extend(flag);
            sources.insert(key, Source::File);
        }
    }
    let matches = command.clone().try_get_matches_from(&argv).map_err(|error| match &file {
        Some(path) => ConfigError::Value { path: path.clone(), message: error.to_string().trim().to_string() },
        None => ConfigError::Cli(error),
    })?;
    let (_, final_matches) = configured(&command, &matches).expect("same command line shape");
    let shown = sub_command
        .get_arguments()
        .filter_map(|arg| {
            let id = arg.get_id().as_str();
            let raw = final_matches.get_raw(id)?;
            let value = raw.map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>().join(",");
            let secret = arg.is_hide_env_values_set();
            Some((id.to_string(), if secret { "<redacted>".to_string() } else { value }))
        })
        .collect();
    let cli = C::from_arg_matches(&matches)?;
    Ok(Loaded { cli, sources, shown })
}

/// The deepest subcommand that has a `config` argument, and its matches.
fn configured<'a>(command: &'a Command, matches: &'a ArgMatches) -> Option<(&'a Command, &'a ArgMatches)> {
    let (name, sub_matches) = matches.subcommand()?;
    let sub_command = command.find_subcommand(name)?;
    configured(sub_command, sub_matches).or_else(|| {
        sub_command.get_arguments().any(|arg| arg.get_id() == "config").then_some((sub_command, sub_matches))
    })
}

/// The file's settings as flags, by key.
fn file_flags(command: &Command, path: &Path) -> Result<Vec<(String, Vec<OsString>)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax { path: path.into(), message: e.to_string() })?;
    let mut flags = Vec::new();
    for (key, value) in table {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == key.as_str() && key != "config" && arg.get_long().is_some());
        let Some(arg) = arg else {
            let known = command
                .get_arguments()
                .map(|a| a.get_id().as_str())
                .filter(|id| *id != "config" && *id != "help")
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::UnknownKey { path: path.into(), key, known });
        };
        let long = format!("--{}", arg.get_long().unwrap_or_default());
        let flag = match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(true)) => vec![long.into()],
            (ArgAction::SetTrue, toml::Value::Boolean(false)) => vec![],
            (ArgAction::SetTrue, _) => return Err(ConfigError::Type { path: path.into(), key }),
            (_, toml::Value::String(s)) => vec![long.into(), s.into()],
            (_, toml::Value::Integer(i)) => vec![long.into(), i.to_string().into()],
            (_, toml::Value::Float(x)) => vec![long.into(), x.to_string().into()],
            (_, toml::Value::Boolean(b)) => vec![long.into(), b.to_string().into()],
            _ => return Err(ConfigError::Type { path: path.into(), key }),
        };
        flags.push((key, flag));
    }
    Ok(flags)
}

/// One finding of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The setting it is about.
    pub key: &'static str,
    /// What is wrong, and what to do.
    pub problem: String,
}

/// Checks what can be checked before starting: the bootstrap secrets, the
/// data directory (exists and is writable, or can be made), the plugin
/// directory of the demo, and whether the listen address is free.
pub fn check(args: &ServeArgs) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut problem = |key, problem: String| findings.push(Finding { key, problem });
    if let Some(token) = &args.admin_token
        && nexus_model::estimated_bits(token) < 128.0
    {
        problem("admin_token", "must carry at least 128 bits (e.g. 32 random hex characters)".into());
    }
    if args.admin_email.is_some() && std::env::var_os("NEXUS_ADMIN_PASSWORD").is_none() {
        problem("admin_email", "NEXUS_ADMIN_PASSWORD is not set; `serve` would read the password from stdin".into());
    }
    if let Some(url) = &args.database
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        problem("database", "must be a postgres:// URL, or unset for the embedded SQLite store".into());
    }
    if let Some(url) = &args.redis_url
        && !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
    {
        problem("redis_url", "must be a redis:// URL, or unset for no cache".into());
    }
    if let Some(brokers) = &args.kafka_brokers
        && nexus_services::kafka_brokers(brokers).is_none()
    {
        problem("kafka_brokers", "must be HOST:PORT[,HOST:PORT…], or unset for no Kafka producer".into());
    }
    if let Err(error) = writable(&args.data_dir()) {
        problem("data_dir", error);
    }
    if args.demo {
        let dir = args.plugin_dir.clone().unwrap_or_else(|| crate::demo::DemoOptions::default().plugin_dir);
        let has_wasm = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "wasm")))
            .unwrap_or(false);
        if !has_wasm {
            problem("plugin_dir", format!("{} holds no .wasm components (run .ci/build-plugins)", dir.display()));
        }
    }
    if let Err(error) = std::net::TcpListener::bind(args.listen) {
        problem("listen", format!("{} cannot be bound now: {error}", args.listen));
    }
    findings
}

/// Whether a directory is writable, or can be created.
fn writable(dir: &Path) -> Result<(), String> {
    let existing = dir.ancestors().find(|d| d.exists()).unwrap_or(Path::new("."));
    if !existing.is_dir() {
        return Err(format!("{} is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".nexus-config-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("{} is not writable: {e}", existing.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The settings of `nexus serve` as a Markdown table: key, flag,
/// environment variable, default, description.
pub fn reference() -> String {
    let command = ServeArgs::augment_args(Command::new("serve"));
    let mut out = String::from("| File key | Flag | Environment | Default | What it sets |\n|---|---|---|---|---|\n");
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_else(|| "—".into());
        let default = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>();
        let default = if default.is_empty() || arg.get_action().takes_values() && default == ["false"] {
            "—".to_string()
        } else {
            format!("`{}`", default.join(","))
        };
        let key = if id == "config" { "—".to_string() } else { format!("`{id}`") };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        out.push_str(&format!("| {key} | `--{long}` | {env} | {default} | {} |\n", help.replace('|', "\\|")));
    }
    out
}

#[cfg(test)]
mod tests;
