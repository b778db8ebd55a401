//! Where the built plugin components are: `.ci/build-plugins` writes
//! `<crate_name>.wasm` files to `$CARGO_TARGET_DIR/wasm32-wasip2/plugin`.

use std::path::{Path, PathBuf};

use crate::EvalError;

/// The directory of the built components: `$NEXUS_PLUGIN_DIR`, else
/// `wasm32-wasip2/plugin` under `$CARGO_TARGET_DIR`, else under the target
/// directory that holds the running executable (a test or bench binary), else
/// under the workspace's `target`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_PLUGIN_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // <target>/release/deps/<test binary>
            let exe = std::env::current_exe().ok()?;
            exe.ancestors().find(|p| p.join("wasm32-wasip2").is_dir()).map(Path::to_path_buf)
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("wasm32-wasip2").join("plugin")
}

/// The built component of a plugin crate (e.g. `alarm-rule-threshold`) in
/// [`default_dir`], or an error saying how to build it.
pub fn component(plugin: &str) -> Result<PathBuf, EvalError> {
    component_in(&default_dir(), plugin)
}

/// The built component of a plugin crate in `dir`.
pub fn component_in(dir: &Path, plugin: &str) -> Result<PathBuf, EvalError> {
    let path = dir.join(format!("{}.wasm", plugin.replace('-', "_")));
    if path.is_file() { Ok(path) } else { Err(EvalError::MissingComponent { path: path.display().to_string() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_component_says_how_to_build_it() {
        let dir = std::env::temp_dir().join(format!("nexus-eval-plugins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let error = component_in(&dir, "alarm-rule-nothing").expect_err("not built");
        let message = error.to_string();
        assert!(message.contains("alarm_rule_nothing.wasm"), "{message}");
        assert!(message.contains(".ci/build-plugins"), "{message}");
        std::fs::write(dir.join("alarm_rule_nothing.wasm"), b"\0asm").expect("write");
        assert_eq!(component_in(&dir, "alarm-rule-nothing").ok(), Some(dir.join("alarm_rule_nothing.wasm")));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
