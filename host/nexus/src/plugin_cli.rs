//! `nexus plugin …`: the author's loop on the command line. Progress goes
//! to stderr, results (JSON, signals) to stdout.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use nexus::author::{self, build, oci, remote, scaffold, trial};
use nexus_model::PluginKind;
use nexus_registry::ReleaseClaims;

#[derive(Subcommand)]
pub(crate) enum PluginCommand {
    /// Scaffolds an alarm-rule plugin crate (a threshold rule to edit, readings.csv and config.json to try it on).
    New {
        /// The crate's directory (created; must not exist or be empty).
        dir: PathBuf,
        /// The plugin's name (lower-case kebab); default: the directory's name.
        #[arg(long)]
        name: Option<String>,
        /// The Nexus plugin SDK crate (default: `$NEXUS_SDK_DIR`, else the sdk/ this nexus was built from).
        #[arg(long, env = "NEXUS_SDK_DIR")]
        sdk: Option<PathBuf>,
    },
    /// Builds the crate for wasm32-wasip2 and checks the component as the host does (validator, world, imports, describe).
    Build {
        /// The crate's directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Its world.
        #[arg(long, default_value = "alarm-rule")]
        kind: String,
    },
    /// Runs an alarm-rule component on recorded readings (CSV ts,key,value or a JSON array) and prints its signals.
    Test {
        /// The component (.wasm).
        #[arg(long)]
        component: PathBuf,
        /// The readings.
        #[arg(long)]
        readings: PathBuf,
        /// The binding configuration: JSON, or @file.
        #[arg(long, default_value = "{}")]
        binding_config: String,
    },
    /// Pushes a component to an OCI registry as a Wasm artifact (config application/vnd.wasm.config.v0+json, layer application/wasm).
    Push {
        /// The component (.wasm).
        #[arg(long)]
        component: PathBuf,
        /// Its world (named in the artifact's config).
        #[arg(long, default_value = "alarm-rule")]
        kind: String,
        /// A bearer token for the registry, if it wants one.
        #[arg(long, env = "NEXUS_OCI_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// `[http[s]://]host[:port]/repository:tag`.
        reference: String,
    },
    /// Pulls a Wasm artifact's component from an OCI registry, checking every digest.
    Pull {
        /// Where to write the component.
        #[arg(long)]
        out: PathBuf,
        /// A bearer token for the registry, if it wants one.
        #[arg(long, env = "NEXUS_OCI_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// `[http[s]://]host[:port]/repository:tag`.
        reference: String,
    },
    /// Makes an ed25519 signing key (a file, mode 0600) and prints its public key for POST /api/vendor-keys.
    Keygen {
        /// The key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Prints the detached signature of a release (JSON: digest, signature, public_key) for POST /api/vendor-releases.
    Sign {
        /// The key file (from `nexus plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        release: Release,
    },
    /// Signs and publishes a release to a server (a vendor developer's token); prints the release.
    Publish {
        #[command(flatten)]
        server: ServerArgs,
        /// The key file; its public key must be registered.
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        release: Release,
    },
    /// Approves a release in the tenant (a tenant admin's token); prints the installed plugin version.
    Approve {
        #[command(flatten)]
        server: ServerArgs,
        /// The release's id.
        release: String,
    },
    /// Binds a plugin version to devices (a tenant admin's token); prints the binding.
    Bind {
        #[command(flatten)]
        server: ServerArgs,
        /// The plugin version's id.
        #[arg(long)]
        plugin: String,
        /// Devices, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        devices: Vec<String>,
        /// The binding configuration: JSON, or @file.
        #[arg(long, default_value = "{}")]
        binding_config: String,
    },
}

/// A server and a credential.
#[derive(Args)]
pub(crate) struct ServerArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "NEXUS_URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A bearer token (access token or API key).
    #[arg(long, env = "NEXUS_TOKEN", hide_env_values = true)]
    token: String,
}

/// What a release says about itself (all of it is signed).
#[derive(Args)]
pub(crate) struct Release {
    /// The component (.wasm).
    #[arg(long)]
    component: PathBuf,
    /// `vendor/name`.
    #[arg(long)]
    package: String,
    /// Semantic version.
    #[arg(long)]
    version: String,
    /// The world: decoder, alarm-rule, optimizer, transform, field-optimizer, forecaster.
    #[arg(long)]
    kind: String,
    /// One paragraph for the tenant.
    #[arg(long, default_value = "")]
    description: String,
    /// SPDX licence expression.
    #[arg(long, default_value = "")]
    licence: String,
    /// Where the source is.
    #[arg(long, default_value = "")]
    source_url: String,
    /// What changed in this version.
    #[arg(long, default_value = "")]
    changelog: String,
}

impl Release {
    fn claims(&self) -> ReleaseClaims {
        ReleaseClaims {
            digest: String::new(),
            package: self.package.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            description: self.description.clone(),
            licence: self.licence.clone(),
            source_url: self.source_url.clone(),
            changelog: self.changelog.clone(),
        }
    }
}

/// JSON given inline or as `@file`.
fn json_arg(text: &str) -> anyhow::Result<serde_json::Value> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_string(),
    };
    serde_json::from_str(&text).context("the configuration is not JSON")
}

fn kind(text: &str) -> anyhow::Result<PluginKind> {
    PluginKind::parse(text).with_context(|| format!("`{text}` is not a world"))
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(runtime.block_on(work))
}

pub(crate) fn run(command: PluginCommand) -> anyhow::Result<()> {
    let say = &mut |line: &str| eprintln!("==> {line}");
    match command {
        PluginCommand::New { dir, name, sdk } => {
            let name = match name {
                Some(name) => name,
                None => dir.file_name().and_then(|n| n.to_str()).context("name the plugin with --name")?.to_string(),
            };
            let sdk = sdk.or_else(scaffold::default_sdk).context("give the SDK's directory with --sdk")?;
            let written = scaffold::new_plugin(&scaffold::Scaffold { dir: &dir, name: &name, sdk: &sdk })?;
            for path in &written {
                say(&format!("wrote {}", path.display()));
            }
            say(&format!(
                "next: nexus plugin build --dir {0} && nexus plugin test --component {0}/{name}.wasm \
                 --readings {0}/readings.csv --binding-config @{0}/config.json",
                dir.display()
            ));
        }
        PluginCommand::Build { dir, kind: world } => {
            let built = build::build(&dir, kind(&world)?, say)?;
            let answer = serde_json::json!({"component": built.path, "name": built.info.name,
                "version": built.info.version, "size": built.size, "digest": format!("sha256:{}", built.hash),
                "imports": built.imports});
            println!("{answer}");
        }
        PluginCommand::Test { component, readings, binding_config } => {
            let readings = trial::read_readings(&readings)?;
            let config = json_arg(&binding_config)?;
            say(&format!("running {} on {} readings", component.display(), readings.len()));
            let signals = trial::run_rule(&component, &config, &readings)?;
            for signal in &signals {
                println!("{}", serde_json::to_string(signal)?);
            }
            say(&format!("{} signals", signals.len()));
        }
        PluginCommand::Push { component, kind: world, token, reference } => {
            let r: oci::Reference = reference.parse()?;
            let bytes = std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
            let target = format!("nexus:plugin/{}@{}", kind(&world)?, nexus_runtime::CONTRACT);
            say(&format!("pushing {} ({} KiB) to {reference}", component.display(), bytes.len() / 1024));
            let pushed = block_on(oci::Registry::new(token).push(&r, &bytes, &target))??;
            let answer = serde_json::json!({"reference": reference, "digest": pushed.digest,
                "manifest_digest": pushed.manifest_digest, "size": pushed.size});
            println!("{answer}");
        }
        PluginCommand::Pull { out, token, reference } => {
            let r: oci::Reference = reference.parse()?;
            say(&format!("pulling {reference}"));
            let (bytes, pulled) = block_on(oci::Registry::new(token).pull(&r))??;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            let answer = serde_json::json!({"reference": reference, "digest": pulled.digest,
                "manifest_digest": pulled.manifest_digest, "size": pulled.size, "component": out});
            println!("{answer}");
        }
        PluginCommand::Keygen { out } => {
            let public = author::keygen(&out)?;
            eprintln!("wrote {}; register its public key with POST /api/vendor-keys:", out.display());
            println!("{public}");
        }
        PluginCommand::Sign { key, release } => {
            let claims = author::claims_for(&release.component, release.claims())?;
            let (signature, public_key) = author::sign_release(&key, &claims)?;
            let answer = serde_json::json!({"digest": claims.digest, "signature": signature, "public_key": public_key});
            println!("{answer}");
        }
        PluginCommand::Publish { server, key, release } => {
            let remote = remote::Server { url: &server.server, token: &server.token };
            let public = nexus_registry::signing::public_key_of(&author::read_key(&key)?);
            say(&format!("publishing {}@{} to {}", release.package, release.version, server.server));
            let published = block_on(async {
                let key_id = remote.key_id(&public).await?;
                remote.publish(&release.component, &key, release.claims(), &key_id).await
            })??;
            println!("{published}");
        }
        PluginCommand::Approve { server, release } => {
            let remote = remote::Server { url: &server.server, token: &server.token };
            say(&format!("approving release {release}"));
            println!("{}", block_on(remote.approve(&release))??);
        }
        PluginCommand::Bind { server, plugin, devices, binding_config } => {
            let remote = remote::Server { url: &server.server, token: &server.token };
            let config = json_arg(&binding_config)?;
            say(&format!("binding {plugin} to {} devices", devices.len()));
            println!("{}", block_on(remote.bind(&plugin, &devices, &config))??);
        }
    }
    Ok(())
}
