//! Build script: the build's identity for `nexus --version` — `NEXUS_BUILD`
//! when set (image builds have no `.git`: pass it as a build argument), else
//! the git commit this was built from, else `unknown` — and the WIT package
//! it serves, read from `wit/worlds.wit`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=NEXUS_BUILD");
    let build = std::env::var("NEXUS_BUILD")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=NEXUS_BUILD={build}");
    // The WIT package this host serves, as `wit/worlds.wit` declares it
    // (a unit test checks it against the runtime's `CONTRACT`).
    let worlds = "../../wit/worlds.wit";
    println!("cargo:rerun-if-changed={worlds}");
    let text = std::fs::read_to_string(worlds).expect("reading wit/worlds.wit");
    let package = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("package ")?.strip_suffix(';'))
        .expect("wit/worlds.wit declares its package");
    println!("cargo:rustc-env=NEXUS_CONTRACT={package}");
}

/// The short commit of HEAD; asks cargo to run again when HEAD moves.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    for path in ["HEAD", "packed-refs"] {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            watch(&file);
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch])
    {
        watch(&file);
    }
    Some(commit)
}

/// Runs the script again when `file` changes; a file that does not exist
/// would make it run on every build, so it is left out.
fn watch(file: &str) {
    if std::path::Path::new(file).exists() {
        println!("cargo:rerun-if-changed={file}");
    }
}
