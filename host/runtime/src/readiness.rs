//! Whether the compile cache can take new artifacts: the readiness probe's
//! check of the runtime.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{LoadError, Runtime};

/// Distinguishes concurrent probes' files.
static PROBES: AtomicU64 = AtomicU64::new(0);

impl Runtime {
    /// Writes, syncs and removes a small file in the compile cache's
    /// directory: `Ok` when that works (or when there is no on-disk
    /// cache), [`LoadError::Cache`] naming the directory when it does not
    /// (gone, not a directory, read-only, full). Blocking file I/O.
    pub fn check_cache(&self) -> Result<(), LoadError> {
        let Some(dir) = self.cache_dir() else { return Ok(()) };
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".probe-{}-{n}", std::process::id()));
        let failed = |what: &str, e: std::io::Error| LoadError::Cache(format!("{what} {}: {e}", path.display()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| failed("creating", e))
            .and_then(|mut file| {
                file.write_all(b"ready").map_err(|e| failed("writing", e))?;
                file.sync_all().map_err(|e| failed("syncing", e))
            });
        let removed = std::fs::remove_file(&path);
        written?;
        removed.map_err(|e| failed("removing", e))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Runtime, RuntimeConfig};

    #[test]
    fn the_cache_check_fails_while_the_directory_is_a_file() {
        let dir = std::env::temp_dir().join(format!("nexus-cache-check-{}", std::process::id()));
        let runtime =
            Runtime::new(RuntimeConfig { cache_dir: Some(dir.clone()), pooling: false, ..RuntimeConfig::default() })
                .expect("runtime");
        runtime.check_cache().expect("a new directory takes files");
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0, "the probe file is removed");
        std::fs::remove_dir_all(&dir).expect("remove");
        std::fs::write(&dir, b"a file where the directory was").expect("file");
        let error = runtime.check_cache().expect_err("not a directory");
        assert!(error.to_string().contains("compile cache"), "{error}");
        std::fs::remove_file(&dir).expect("remove");
        std::fs::create_dir(&dir).expect("dir");
        runtime.check_cache().expect("works again");
        std::fs::remove_dir_all(&dir).expect("remove");
    }
}
