//! The configuration surface on the real binary: `nexus --version`, and
//! `nexus config check` resolving flag over environment over file over
//! default, refusing a bad file, and finding problems.

use std::process::{Command, Output};

fn nexus(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nexus"));
    command
        .current_dir(std::env::temp_dir())
        .args(args)
        .env_remove("NEXUS_CONFIG")
        .env_remove("NEXUS_LISTEN")
        .env_remove("NEXUS_DATA_DIR");
    command.env_remove("NEXUS_ADMIN_TOKEN").env_remove("NEXUS_ADMIN_EMAIL").env_remove("NEXUS_REQUEST_TIMEOUT_MS");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("running nexus")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The line of a setting in `config check`'s table: (source, value).
fn setting(table: &str, key: &str) -> (String, String) {
    let line =
        table.lines().find(|l| l.split_whitespace().next() == Some(key)).unwrap_or_else(|| panic!("{key}: {table}"));
    let mut words = line.split_whitespace().skip(1);
    let source = words.next().unwrap_or_default().to_string();
    (source, words.collect::<Vec<_>>().join(" "))
}

#[test]
fn version_names_release_contract_and_build() {
    let output = nexus(&["--version"], &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with(&format!("nexus {} (contract nexus:plugin@", env!("CARGO_PKG_VERSION"))), "{text}");
    let build = text.split("build ").nth(1).map(|b| b.trim().trim_end_matches(')')).unwrap_or_default();
    assert!(!build.is_empty(), "{text}");
}

#[test]
fn config_check_resolves_flag_over_env_over_file_over_default() {
    let dir = std::env::temp_dir().join(format!("nexus-config-e2e-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("nexus.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\nrequest_timeout_ms = 1111\nheader_read_timeout_ms = 2222\n\
             compile_workers = 3\ndata_dir = \"{}\"\nadmin_token = \"0123456789abcdef0123456789abcdef\"\n",
            dir.join("data").display()
        ),
    )
    .expect("writing the file");
    let file = file.to_str().expect("utf-8 path");
    let output = nexus(
        &["config", "check", "--config", file, "--compile-workers", "5"],
        &[("NEXUS_REQUEST_TIMEOUT_MS", "3333")],
    );
    let table = stdout(&output);
    assert!(output.status.success(), "{table}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(setting(&table, "compile_workers"), ("flag".into(), "5".into()));
    assert_eq!(setting(&table, "request_timeout_ms"), ("env".into(), "3333".into()));
    assert_eq!(setting(&table, "header_read_timeout_ms"), ("file".into(), "2222".into()));
    assert_eq!(setting(&table, "ingest_queue_frames"), ("default".into(), "1024".into()));
    assert_eq!(setting(&table, "admin_token"), ("file".into(), "<redacted>".into()));
    assert!(!table.contains("0123456789abcdef"), "a secret was printed: {table}");
    assert!(table.contains("configuration ok"), "{table}");

    // A bad file stops it with the file and the setting named (exit 2).
    std::fs::write(dir.join("bad.toml"), "ingest_queue_frames = 0\n").expect("writing");
    let bad = dir.join("bad.toml");
    let output = nexus(&["config", "check", "--config", bad.to_str().expect("path")], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml") && stderr.contains("ingest-queue-frames"), "{stderr}");
    // The same refusal for `serve`, before anything starts.
    let output = nexus(&["serve", "--config", bad.to_str().expect("path")], &[]);
    assert_eq!(output.status.code(), Some(2));

    // Problems are found and the exit code is 1.
    let output = nexus(&["config", "check", "--listen", "127.0.0.1:0"], &[("NEXUS_ADMIN_TOKEN", "weak")]);
    let table = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{table}");
    assert!(table.contains("problem: admin_token"), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
