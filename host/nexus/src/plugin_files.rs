//! Where the first-party plugin components are found after a build.

use std::path::{Path, PathBuf};

/// The directory holding `<crate_name>.wasm` files built by
/// `.ci/build-plugins`: `$NEXUS_PLUGIN_DIR`, else
/// `<target dir>/wasm32-wasip2/plugin` next to the running executable's
/// target directory.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_PLUGIN_DIR") {
        return PathBuf::from(dir);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).or_else(|| {
        // <target>/release/nexus or <target>/release/deps/<test binary>
        let exe = std::env::current_exe().ok()?;
        exe.ancestors().find(|p| p.join("wasm32-wasip2").is_dir()).map(Path::to_path_buf)
    });
    target_dir.unwrap_or_else(|| PathBuf::from("target")).join("wasm32-wasip2").join("plugin")
}

/// The path of a plugin's component, e.g. `alarm-rule-threshold`.
pub fn path(dir: &Path, plugin: &str) -> PathBuf {
    dir.join(format!("{}.wasm", plugin.replace('-', "_")))
}

/// Reads a plugin's component, with a hint when it was not built.
pub fn read(dir: &Path, plugin: &str) -> anyhow::Result<Vec<u8>> {
    let path = path(dir, plugin);
    std::fs::read(&path).map_err(|e| {
        anyhow::anyhow!("cannot read {}: {e}; build the plugins first with `.ci/build-plugins`", path.display())
    })
}

/// `component` with a custom section (`nexus-padding`, filled with `fill`)
/// appended so the whole is exactly `size` bytes: the same code at any
/// size, for size caps and publish benchmarks. Panics when `size` leaves
/// no room for the section.
pub fn padded(mut component: Vec<u8>, size: usize, fill: u8) -> Vec<u8> {
    const NAME: &[u8] = b"nexus-padding";
    // Section id 0, its size as a 5-byte LEB128, the name's length and the
    // name, then the fill.
    let room = size - component.len() - 1 - 5 - 1 - NAME.len();
    let content = 1 + NAME.len() + room;
    component.push(0);
    for i in 0..5 {
        let byte = ((content >> (7 * i)) & 0x7f) as u8;
        component.push(if i < 4 { byte | 0x80 } else { byte });
    }
    component.push(NAME.len() as u8);
    component.extend(NAME);
    component.extend(std::iter::repeat_n(fill, room));
    debug_assert_eq!(component.len(), size);
    component
}
