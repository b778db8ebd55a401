//! The architecture's layering, checked on `cargo metadata`: which crate
//! may know wasmtime, SQL, Redis and HTTP, and that host and guests stand apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// A workspace member: its name, where it lives, and its direct
/// dependencies of every kind (normal, build and dev).
struct Member {
    dir: PathBuf,
    deps: BTreeSet<String>,
}

fn workspace() -> (BTreeMap<String, Member>, Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("root");
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let members: BTreeSet<&str> =
        metadata["workspace_members"].as_array().expect("members").iter().filter_map(Value::as_str).collect();
    let mut out = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        if !members.contains(package["id"].as_str().unwrap_or_default()) {
            continue;
        }
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest"));
        let dir = manifest.parent().expect("dir").strip_prefix(&root).expect("inside the workspace").to_path_buf();
        let deps = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        out.insert(package["name"].as_str().expect("name").to_string(), Member { dir, deps });
    }
    (out, metadata)
}

fn who_depends_on(members: &BTreeMap<String, Member>, dependency: impl Fn(&str) -> bool) -> BTreeSet<String> {
    members.iter().filter(|(_, m)| m.deps.iter().any(|d| dependency(d))).map(|(name, _)| name.clone()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn only_the_runtime_knows_wasmtime_only_storage_knows_sql_only_the_api_knows_http() {
    let (members, metadata) = workspace();
    assert_eq!(who_depends_on(&members, |d| d.starts_with("wasmtime")), set(&["nexus-runtime"]));
    assert_eq!(
        who_depends_on(&members, |d| d == "sqlx" || d.starts_with("sqlx-")),
        set(&["nexus-storage-sqlite", "nexus-storage-postgres"])
    );
    assert_eq!(who_depends_on(&members, |d| d == "axum" || d == "hyper"), set(&["nexus-api"]));
    // Only the cache crate knows Redis; the services know the cache by its port.
    assert_eq!(who_depends_on(&members, |d| d == "redis"), set(&["nexus-cache-redis"]));
    assert!(!members["nexus-services"].deps.contains("nexus-cache-redis"), "nexus-services depends on the cache");
    // Rate limiters live in the services (the API asks them).
    assert_eq!(who_depends_on(&members, |d| d == "governor"), set(&["nexus-services"]));
    // The API reaches storage and plugins only through the services.
    let api = &members["nexus-api"].deps;
    for forbidden in
        ["nexus-storage", "nexus-storage-sqlite", "nexus-storage-postgres", "nexus-runtime", "nexus-registry"]
    {
        assert!(!api.contains(forbidden), "nexus-api depends on {forbidden}");
    }
    // The services know storage only by its ports.
    for backend in ["nexus-storage-sqlite", "nexus-storage-postgres"] {
        assert!(!members["nexus-services"].deps.contains(backend), "nexus-services depends on {backend}");
    }
    // One wasmtime in the whole build.
    let wasmtime_versions: BTreeSet<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["name"] == "wasmtime")
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert_eq!(wasmtime_versions.len(), 1, "{wasmtime_versions:?}");
    // Trace export sends through the workspace's reqwest: one reqwest, no gRPC stack.
    let packages = metadata["packages"].as_array().expect("packages");
    let reqwests: BTreeSet<&str> =
        packages.iter().filter(|p| p["name"] == "reqwest").filter_map(|p| p["version"].as_str()).collect();
    assert_eq!(reqwests.len(), 1, "{reqwests:?}");
    assert!(!packages.iter().any(|p| p["name"] == "tonic"), "tonic is in the build");
}

#[test]
fn host_and_guests_stand_apart() {
    let (members, _) = workspace();
    let in_dir = |m: &Member, dir: &str| m.dir.starts_with(dir);
    let host: BTreeSet<&String> =
        members.iter().filter(|(_, m)| in_dir(m, "host") || in_dir(m, "registry")).map(|(n, _)| n).collect();
    let guests: BTreeSet<&String> = members
        .iter()
        .filter(|(name, m)| in_dir(m, "plugins") || name.as_str() == "nexus-plugin-sdk")
        .map(|(n, _)| n)
        .collect();
    assert!(host.len() >= 7 && guests.len() >= 10, "host {host:?}, guests {guests:?}");
    for name in &host {
        let crossing: Vec<&String> = members[*name].deps.iter().filter(|d| guests.contains(d)).collect();
        assert!(crossing.is_empty(), "host crate {name} depends on guest crates {crossing:?}");
    }
    for name in &guests {
        let crossing: Vec<&String> = members[*name].deps.iter().filter(|d| host.contains(d)).collect();
        assert!(crossing.is_empty(), "guest crate {name} depends on host crates {crossing:?}");
    }
}
