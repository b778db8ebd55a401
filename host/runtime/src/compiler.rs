//! Compiling a component in a child process that is really stopped at its
//! deadline.
//!
//! The parent spawns the configured [`CompilerCommand`] with
//! `--settings <engine settings> --out <temp file>` appended, writes the
//! component bytes to its stdin, and waits. The child (the runtime's
//! [`compile_worker`], behind a hidden subcommand of the host binary) builds
//! an engine configured like the parent's, precompiles the component and
//! writes the artifact to the temp file. The child runs under an address
//! space and a CPU-time limit, dies with the thread that spawned it, and is
//! killed when the deadline passes; the temp file is removed unless the
//! artifact is kept.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Engine;

use crate::engine::{RuntimeConfig, wasm_config};
use crate::error::LoadError;

/// The program that compiles components in a child process.
#[derive(Debug, Clone)]
pub struct CompilerCommand {
    /// The executable, e.g. the host binary itself.
    pub program: PathBuf,
    /// Arguments before the runtime's own (`--settings`, `--out`), e.g. the
    /// hidden subcommand's name.
    pub args: Vec<String>,
    /// The child's address-space limit (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// The child's CPU-time limit (`RLIMIT_CPU`) when a compile has no
    /// deadline; with a deadline it is the deadline rounded up, plus one.
    pub cpu_seconds: u64,
}

impl CompilerCommand {
    /// `program args...` with the default limits: 4 GiB of address space
    /// and 300 s of CPU time.
    pub fn new(program: impl Into<PathBuf>, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            memory_bytes: 4 << 30,
            cpu_seconds: 300,
        }
    }
}

/// A file the child wrote (or was writing); removed when dropped unless it
/// was [`Artifact::keep_as`] moved into the cache.
#[derive(Debug)]
pub(crate) struct Artifact(Option<PathBuf>);

impl Artifact {
    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    /// Moves it to `path` (the cache); it is no longer removed.
    pub(crate) fn keep_as(mut self, path: &Path) -> std::io::Result<()> {
        let from = self.0.take().unwrap_or_default();
        std::fs::rename(&from, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&from);
        })
    }
}

impl Drop for Artifact {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The settings of [`RuntimeConfig`] that change compiled code, as the
/// child's `--settings` argument.
pub(crate) fn settings(config: &RuntimeConfig) -> String {
    format!(
        "epoch_interruption={},fuel_metering={}",
        u8::from(config.epoch_interruption),
        u8::from(config.fuel_metering)
    )
}

fn parse_settings(settings: &str) -> Result<RuntimeConfig, String> {
    let mut config = RuntimeConfig { pooling: false, ..RuntimeConfig::default() };
    for pair in settings.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("bad setting `{pair}`"))?;
        let on = match value {
            "1" => true,
            "0" => false,
            _ => return Err(format!("bad value of `{key}`: `{value}`")),
        };
        match key {
            "epoch_interruption" => config.epoch_interruption = on,
            "fuel_metering" => config.fuel_metering = on,
            _ => return Err(format!("unknown setting `{key}`")),
        }
    }
    Ok(config)
}

/// The child's side: reads a component from stdin and writes its
/// precompiled artifact to `out`, with an engine built from `settings`
/// (single-threaded: one compile takes one core).
pub fn compile_worker(settings: &str, out: &Path) -> Result<(), String> {
    let config = parse_settings(settings)?;
    let mut wasm = wasm_config(&config);
    wasm.parallel_compilation(false);
    let engine = Engine::new(&wasm).map_err(|e| format!("{e:#}"))?;
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| format!("reading the component: {e}"))?;
    let artifact = engine.precompile_component(&bytes).map_err(|e| format!("{e:#}"))?;
    std::fs::write(out, artifact).map_err(|e| format!("{}: {e}", out.display()))
}

/// Compiles `bytes` in a child process into a temp file in `dir`, killing
/// the child at `deadline`.
pub(crate) fn compile_in_child(
    command: &CompilerCommand,
    settings: &str,
    dir: &Path,
    bytes: &[u8],
    deadline: Option<Instant>,
) -> Result<Artifact, LoadError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("compiling-{}-{}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let artifact = Artifact(Some(dir.join(name)));
    let cpu_seconds = match deadline {
        Some(deadline) => deadline.saturating_duration_since(Instant::now()).as_secs() + 1,
        None => command.cpu_seconds,
    }
    .min(command.cpu_seconds);
    let mut child = Command::new(&command.program);
    child
        .args(&command.args)
        .arg("--settings")
        .arg(settings)
        .arg("--out")
        .arg(artifact.path())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit(&mut child, command.memory_bytes, cpu_seconds);
    let mut child =
        child.spawn().map_err(|e| LoadError::Compiler(format!("starting {}: {e}", command.program.display())))?;
    let (mut stdin, mut stderr) = (child.stdin.take(), child.stderr.take());
    let (status, killed, message) = std::thread::scope(|scope| {
        // The child may die (or be killed) before it read everything: a
        // failed write is then expected, and the status tells why.
        scope.spawn(move || {
            if let Some(mut stdin) = stdin.take() {
                let _ = stdin.write_all(bytes);
            }
        });
        let message = scope.spawn(move || {
            let mut text = Vec::new();
            if let Some(stderr) = stderr.as_mut() {
                let _ = stderr.take(16 << 10).read_to_end(&mut text);
                let _ = std::io::copy(stderr, &mut std::io::sink());
            }
            String::from_utf8_lossy(&text).trim().to_string()
        });
        let (status, killed) = wait(&mut child, deadline);
        (status, killed, message.join().unwrap_or_default())
    });
    let status = status.map_err(|e| LoadError::Compiler(format!("waiting for the compiler: {e}")))?;
    if killed {
        return Err(LoadError::CompileTimeout);
    }
    if status.success() {
        return Ok(artifact);
    }
    Err(failed(status, message, command))
}

/// Waits for the child until `deadline`, then kills it. Returns its status
/// and whether it was killed for the deadline.
fn wait(child: &mut std::process::Child, deadline: Option<Instant>) -> (std::io::Result<ExitStatus>, bool) {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Ok(status), false),
            Ok(None) => {}
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return (Err(error), false);
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            return (child.wait(), true);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// What a failed child's status means.
fn failed(status: ExitStatus, message: String, command: &CompilerCommand) -> LoadError {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one.
        Some(libc::SIGXCPU | libc::SIGKILL) => LoadError::CompileTimeout,
        Some(_) if message.contains("memory allocation") => LoadError::Compile(format!(
            "compiling the component needed more than {} MiB of memory",
            command.memory_bytes >> 20
        )),
        Some(signal) => LoadError::Compiler(format!("the compiler was stopped by signal {signal}: {message}")),
        None if message.contains("memory allocation") => LoadError::Compile(format!(
            "compiling the component needed more than {} MiB of memory",
            command.memory_bytes >> 20
        )),
        None if status.code() == Some(1) && !message.is_empty() => LoadError::Compile(message),
        None => LoadError::Compiler(format!("the compiler exited with {status}: {message}")),
    }
}

/// Sets the child's resource limits, and kills it when the thread that
/// spawned it ends (the parent died).
#[allow(unsafe_code)]
fn limit(command: &mut Command, memory_bytes: u64, cpu_seconds: u64) {
    use std::os::unix::process::CommandExt;
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: setrlimit with a valid pointer to a local struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the child between fork and exec; it only
    // makes async-signal-safe system calls (setrlimit, prctl) and allocates
    // nothing.
    unsafe {
        command.pre_exec(move || {
            set(libc::RLIMIT_AS, memory_bytes, memory_bytes)?;
            set(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
            #[cfg(target_os = "linux")]
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip() {
        let config = RuntimeConfig { epoch_interruption: false, ..RuntimeConfig::default() };
        let parsed = parse_settings(&settings(&config)).expect("parses");
        assert!(!parsed.epoch_interruption);
        assert!(parsed.fuel_metering);
        assert!(!parsed.pooling);
        assert!(parse_settings("pooling=1").is_err());
    }
}
