//! The file, flag and default layers of [`super::load`], and the generated
//! reference page. (The environment layer is tested on the real binary in
//! the e2e suite: a unit test may not set the process's environment.)

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use super::*;

#[derive(Parser)]
struct TestCli {
    #[command(subcommand)]
    command: TestCommand,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, in a test
enum TestCommand {
    Serve(ServeArgs),
    Other {
        #[arg(long)]
        name: Option<String>,
    },
}

/// A file that is removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn file(text: &str) -> TempFile {
    let path = std::env::temp_dir().join(format!("nexus-config-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).expect("writing the file");
    TempFile(path)
}

fn argv(args: &[&str]) -> Vec<OsString> {
    std::iter::once("nexus").chain(args.iter().copied()).map(OsString::from).collect()
}

fn serve(loaded: &Loaded<TestCli>) -> &ServeArgs {
    match &loaded.cli.command {
        TestCommand::Serve(args) => args,
        TestCommand::Other { .. } => panic!("not serve"),
    }
}

#[test]
fn the_file_replaces_defaults_and_flags_override_the_file() {
    let f =
        file("listen = \"127.0.0.1:9999\"\nrequest_timeout_ms = 1234\ncompile_workers = 3\ndemo = true\nwells = 7\n");
    let path = f.0.to_str().expect("utf-8 path");
    let loaded = load::<TestCli>(argv(&["serve", "--config", path, "--wells", "2"])).expect("loads");
    let args = serve(&loaded);
    assert_eq!(args.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(args.request_timeout_ms, 1234);
    assert_eq!(args.compile_workers, Some(3));
    assert!(args.demo);
    assert_eq!(args.wells, 2, "the flag wins over the file");
    assert_eq!(loaded.sources["listen"], Source::File);
    assert_eq!(loaded.sources["wells"], Source::Flag);
    assert_eq!(loaded.sources["header_read_timeout_ms"], Source::Default);
    assert_eq!(loaded.sources["admin_email"], Source::Unset);
    assert_eq!(loaded.shown["listen"], "127.0.0.1:9999");
    assert_eq!(args.services().compile_workers, 3);
    assert_eq!(args.http().request.as_millis(), 1234);
}

#[test]
fn secrets_are_redacted_when_shown() {
    let f = file("admin_token = \"0123456789abcdef0123456789abcdef\"\n");
    let path = f.0.to_str().expect("utf-8 path");
    let loaded = load::<TestCli>(argv(&["serve", "--config", path])).expect("loads");
    assert_eq!(serve(&loaded).admin_token.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(loaded.shown["admin_token"], "<redacted>");
}

#[test]
fn an_unknown_key_is_refused_with_the_known_ones() {
    let f = file("listen = \"127.0.0.1:9999\"\nlisten_port = 9\n");
    let path = f.0.to_str().expect("utf-8 path");
    let error = load::<TestCli>(argv(&["serve", "--config", path])).err().expect("refused");
    let message = error.to_string();
    assert!(matches!(error, ConfigError::UnknownKey { ref key, .. } if key == "listen_port"), "{message}");
    assert!(message.contains("request_timeout_ms") && message.contains(path), "{message}");
}

#[test]
fn a_value_the_flag_refuses_is_refused_naming_the_file() {
    for text in ["listen = \"not an address\"\n", "ingest_queue_frames = 0\n", "wells = -1\n"] {
        let f = file(text);
        let path = f.0.to_str().expect("utf-8 path");
        let error = load::<TestCli>(argv(&["serve", "--config", path])).err().expect("refused");
        assert!(matches!(error, ConfigError::Value { .. }), "{text}: {error}");
        assert!(error.to_string().contains(path), "{error}");
    }
}

#[test]
fn tables_arrays_and_syntax_errors_are_refused() {
    let f = file("listen = [\"a\"]\n");
    let error = load::<TestCli>(argv(&["serve", "--config", f.0.to_str().expect("path")])).err().expect("refused");
    assert!(matches!(error, ConfigError::Type { ref key, .. } if key == "listen"), "{error}");
    let f = file("demo = \"yes\"\n");
    let error = load::<TestCli>(argv(&["serve", "--config", f.0.to_str().expect("path")])).err().expect("refused");
    assert!(matches!(error, ConfigError::Type { ref key, .. } if key == "demo"), "{error}");
    let f = file("listen = \n");
    let error = load::<TestCli>(argv(&["serve", "--config", f.0.to_str().expect("path")])).err().expect("refused");
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    let error = load::<TestCli>(argv(&["serve", "--config", "/nonexistent/nexus.toml"])).err().expect("refused");
    assert!(matches!(error, ConfigError::Read { .. }), "{error}");
}

#[test]
fn commands_without_a_config_argument_parse_as_usual() {
    let loaded = load::<TestCli>(argv(&["other", "--name", "x"])).expect("loads");
    assert!(matches!(loaded.cli.command, TestCommand::Other { name: Some(ref n) } if n == "x"));
    assert!(loaded.sources.is_empty());
    assert!(matches!(load::<TestCli>(argv(&["serve", "--no-such-flag"])), Err(ConfigError::Cli(_))));
}

#[test]
fn check_finds_a_weak_token_and_an_unwritable_data_dir() {
    let f = file("admin_token = \"short\"\n");
    let blocker = file("not a directory");
    let data_dir = blocker.0.join("data");
    let loaded = load::<TestCli>(argv(&[
        "serve",
        "--config",
        f.0.to_str().expect("path"),
        "--data-dir",
        data_dir.to_str().expect("path"),
        "--listen",
        "127.0.0.1:0",
    ]))
    .expect("loads");
    let findings = check(serve(&loaded));
    let keys: Vec<_> = findings.iter().map(|f| f.key).collect();
    assert!(keys.contains(&"admin_token") && keys.contains(&"data_dir"), "{findings:?}");
    assert!(!keys.contains(&"listen"), "{findings:?}");
    let ok =
        load::<TestCli>(argv(&["serve", "--data-dir", std::env::temp_dir().to_str().expect("path")])).expect("loads");
    let mut args = serve(&ok).clone();
    args.listen = "127.0.0.1:0".parse().expect("address");
    assert!(check(&args).iter().all(|f| f.key == "admin_email"), "{:?}", check(&args));
}

#[test]
fn the_redis_cache_is_set_by_url_and_prefix_and_its_url_is_a_secret_checked_for_its_scheme() {
    let f = file("redis_url = \"redis://:pw@127.0.0.1:6379/0\"\nredis_prefix = \"site-a:\"\n");
    let loaded = load::<TestCli>(argv(&["serve", "--config", f.0.to_str().expect("path")])).expect("loads");
    let args = serve(&loaded);
    assert_eq!(args.redis_url.as_deref(), Some("redis://:pw@127.0.0.1:6379/0"));
    assert_eq!(args.redis_prefix, "site-a:");
    assert_eq!(loaded.shown["redis_url"], "<redacted>");
    let defaults = load::<TestCli>(argv(&["serve"])).expect("loads");
    assert_eq!(serve(&defaults).redis_prefix, "nexus:");
    let mut wrong = args.clone();
    wrong.redis_url = Some("http://127.0.0.1:6379".into());
    assert!(check(&wrong).iter().any(|f| f.key == "redis_url"), "{:?}", check(&wrong));
    assert!(!check(args).iter().any(|f| f.key == "redis_url"));
}

#[test]
fn the_version_names_the_contract_the_runtime_serves() {
    assert_eq!(env!("NEXUS_CONTRACT"), format!("nexus:plugin@{}", nexus_runtime::CONTRACT));
    assert!(crate::VERSION.contains(env!("NEXUS_CONTRACT")) && crate::VERSION.contains("build "));
}

/// `docs/configuration.md` carries the generated table between its markers;
/// when stale this prints the table to paste.
#[test]
fn the_reference_page_lists_every_setting() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md"))
        .expect("docs/configuration.md");
    let table = reference();
    let begin = "<!-- settings:begin -->\n";
    let inside =
        page.split_once(begin).and_then(|(_, rest)| rest.split_once("<!-- settings:end -->")).map(|(inside, _)| inside);
    assert_eq!(inside, Some(table.as_str()), "docs/configuration.md is stale; the table is:\n{table}");
}
