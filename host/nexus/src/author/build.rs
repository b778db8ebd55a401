//! `nexus plugin build`: the crate built for `wasm32-wasip2`, then checked
//! here as the host checks an upload — the component validator, then
//! compiled for its kind by the host's runtime (which refuses any import
//! but `nexus:plugin/host` and the deny-all WASI subset, and type-checks
//! the world), and `describe` called — so what fails on the host fails here first.

use std::path::{Path, PathBuf};
use std::process::Command;

use nexus_model::{PluginInfo, PluginKind};

use super::{AuthorError, io};

/// A built and checked component.
#[derive(Debug)]
pub struct Built {
    /// The component, copied next to the crate as `<name>.wasm`.
    pub path: PathBuf,
    /// What its `describe` answered.
    pub info: PluginInfo,
    /// What it imports.
    pub imports: Vec<String>,
    /// Its size, bytes.
    pub size: usize,
    /// sha256, hex.
    pub hash: String,
}

/// The package name in `dir/Cargo.toml`.
fn package_name(dir: &Path) -> Result<String, AuthorError> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let manifest: toml::Table = text.parse().map_err(|e| AuthorError::Invalid(format!("{}: {e}", path.display())))?;
    manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| AuthorError::Invalid(format!("{} names no package", path.display())))
}

/// Builds the crate in `dir` as a `kind` component and checks it; `say`
/// hears each step.
pub fn build(dir: &Path, kind: PluginKind, say: &mut dyn FnMut(&str)) -> Result<Built, AuthorError> {
    let name = package_name(dir)?;
    say(&format!("building {name} for wasm32-wasip2 (cargo build --release)"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(dir)
        .status()
        .map_err(|e| AuthorError::Build(format!("{cargo} did not run: {e}")))?;
    if !status.success() {
        return Err(AuthorError::Build(format!("cargo build failed ({status})")));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| dir.join("target"), PathBuf::from);
    let artifact = target.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    let bytes = std::fs::read(&artifact).map_err(io(&artifact))?;
    say(&format!("checking {} ({} KiB) as the host does", artifact.display(), bytes.len() / 1024));
    let validated = nexus_registry::validate_component(&bytes, nexus_registry::DEFAULT_MAX_COMPONENT_BYTES)
        .map_err(|e| AuthorError::Check(e.to_string()))?;
    let imports = nexus_registry::imports(&bytes);
    // Compiled as the host compiles it: the allowed imports and the world
    // are checked there (`forbidden-import`, `wrong-world`).
    let info = super::trial::describe(kind, &bytes)?;
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, &bytes).map_err(io(&path))?;
    say(&format!(
        "{} {} is a valid {kind} component importing {}: {}",
        info.name,
        info.version,
        imports.join(", "),
        path.display()
    ));
    Ok(Built { path, info, imports, size: validated.size, hash: validated.hash })
}
