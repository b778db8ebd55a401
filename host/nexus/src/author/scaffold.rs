//! `nexus plugin new`: a plugin crate for the alarm-rule world, from the
//! SDK's template — a threshold rule with a deadband the author edits —
//! with a recorded CSV of readings to try it on.

use std::path::{Path, PathBuf};

use super::{AuthorError, io};

/// What `new` writes.
pub struct Scaffold<'a> {
    /// The crate's directory (created; must not exist or be empty).
    pub dir: &'a Path,
    /// The plugin's name: lower-case kebab.
    pub name: &'a str,
    /// The SDK crate (`sdk/` of the Nexus repository).
    pub sdk: &'a Path,
}

/// The SDK next to this build's sources, if it is there.
pub fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
    sdk.join("Cargo.toml").is_file().then(|| sdk.canonicalize().unwrap_or(sdk))
}

/// Writes the crate; returns the files written.
pub fn new_plugin(s: &Scaffold<'_>) -> Result<Vec<PathBuf>, AuthorError> {
    nexus_registry::validate_name(s.name).map_err(|e| AuthorError::Invalid(e.to_string()))?;
    if !s.sdk.join("Cargo.toml").is_file() {
        return Err(AuthorError::Invalid(format!("{} is not the Nexus plugin SDK (no Cargo.toml)", s.sdk.display())));
    }
    if s.dir.exists() && std::fs::read_dir(s.dir).map_err(io(s.dir))?.next().is_some() {
        return Err(AuthorError::Exists(s.dir.display().to_string()));
    }
    std::fs::create_dir_all(s.dir.join("src")).map_err(io(s.dir))?;
    let sdk = s.sdk.canonicalize().map_err(io(s.sdk))?;
    let files = [
        ("Cargo.toml", cargo_toml(s.name, &sdk)),
        ("src/lib.rs", LIB_RS.replace("{name}", s.name)),
        ("readings.csv", READINGS_CSV.to_string()),
        ("config.json", CONFIG_JSON.to_string()),
        (".gitignore", "/target\n*.wasm\n*.key\n".to_string()),
    ];
    let mut written = Vec::new();
    for (file, text) in files {
        let path = s.dir.join(file);
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    // The exact dependency versions the SDK is tested with, so the first
    // build resolves nothing new.
    let lock = sdk.join("../Cargo.lock");
    if lock.is_file() {
        let path = s.dir.join("Cargo.lock");
        std::fs::copy(&lock, &path).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# Its own workspace, wherever it is created.
[workspace]

[lib]
crate-type = ["cdylib"]

[dependencies]
nexus-plugin-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

# Small, fast components (what `nexus plugin build` builds).
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#,
        sdk = sdk.display()
    )
}

const LIB_RS: &str = r#"//! # {name}
//!
//! An alarm rule made with `nexus plugin new`: raises `alarm_type` when
//! `key` goes above `high`, and clears it once the value is back under
//! `high - deadband`. Edit `evaluate`; `nexus plugin build` makes the
//! component and `nexus plugin test` runs it on `readings.csv`.

use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, Severity, StatefulAlarmRule};
use serde_json::json;

/// The rule.
pub struct Rule;

/// The binding's configuration.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The telemetry key watched.
    pub key: String,
    /// Raised above this.
    pub high: f64,
    /// Cleared under `high - deadband`.
    #[serde(default)]
    pub deadband: f64,
    /// The alarm's type.
    #[serde(default = "high")]
    pub alarm_type: String,
}

fn high() -> String {
    "High".into()
}

impl StatefulAlarmRule for Rule {
    type Config = Config;
    /// Whether the alarm is raised.
    type State = bool;
    const STATE_KEY: &'static str = "raised";

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "{name}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raises an alarm above a threshold and clears it under the threshold less a deadband.".into(),
            config_schema: json!({
                "type": "object",
                "required": ["key", "high"],
                "properties": {
                    "key": {"type": "string"},
                    "high": {"type": "number"},
                    "deadband": {"type": "number", "minimum": 0},
                    "alarm_type": {"type": "string"}
                },
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn evaluate(
        config: &Config,
        raised: &mut bool,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        let mut signals = Vec::new();
        let Some(series) = nexus_plugin_sdk::series(batch, &config.key) else {
            return Ok(signals);
        };
        for (ts, value) in series.numbers() {
            let details = json!({"key": config.key, "value": value, "high": config.high});
            if !*raised && value > config.high {
                *raised = true;
                signals.push(AlarmSignal::raise_at(device_id, ts, &config.alarm_type, Severity::Major, details));
            } else if *raised && value < config.high - config.deadband {
                *raised = false;
                signals.push(AlarmSignal::clear_at(device_id, ts, &config.alarm_type, details));
            }
        }
        Ok(signals)
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(Rule);
"#;

const READINGS_CSV: &str = "ts,key,value
1767225600000,pressure,80.0
1767225601000,pressure,88.5
1767225602000,pressure,95.2
1767225603000,pressure,97.0
1767225604000,pressure,91.0
1767225605000,pressure,84.0
";

const CONFIG_JSON: &str = r#"{"key": "pressure", "high": 90.0, "deadband": 5.0, "alarm_type": "HighPressure"}
"#;
