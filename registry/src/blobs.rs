//! The content-addressed component store: a directory of blobs, each named
//! by the sha256 of its bytes (`sha256/ab/abcd…`), written to a temporary
//! file, synced and renamed into place, so a blob is either whole or
//! absent. Reading checks the bytes against their name: a blob changed on
//! disk is refused, never handed to a compiler.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::content_hash;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// No blob of that digest.
    #[error("no blob `sha256:{0}` in the component store")]
    Missing(String),
    /// The stored bytes no longer hash to their name.
    #[error("the stored blob `sha256:{expected}` hashes to `sha256:{actual}`: it changed after it was stored")]
    DigestMismatch {
        /// Its name.
        expected: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// Not a sha256 hex digest.
    #[error("`{0}` is not a sha256 digest (64 hex digits)")]
    BadDigest(String),
    /// The file system failed.
    #[error("component store at {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A directory of content-addressed blobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// The store under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where the blob of `digest` lives (it may not exist).
    pub fn path(&self, digest: &str) -> Result<PathBuf, BlobError> {
        let ok = digest.len() == 64 && digest.chars().all(|c| c.is_ascii_digit() || matches!(c, 'a'..='f'));
        if !ok {
            return Err(BlobError::BadDigest(digest.to_string()));
        }
        Ok(self.root.join("sha256").join(&digest[..2]).join(digest))
    }

    /// Stores `bytes`; returns their digest (hex). Storing the same bytes
    /// twice keeps one blob.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let digest = content_hash(bytes);
        let path = self.path(&digest)?;
        if path.exists() && self.get(&digest).is_ok() {
            return Ok(digest);
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| BlobError::Io { path: dir.clone(), source })?;
        let temporary = dir.join(format!(".{digest}.{}.{}.partial", std::process::id(), unique()));
        let io = |source| BlobError::Io { path: temporary.clone(), source };
        let written = (|| {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)
        })();
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(source));
        }
        sync_dir(&dir);
        Ok(digest)
    }

    /// The bytes of `digest`, checked against it.
    pub fn get(&self, digest: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path(digest)?;
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => BlobError::Missing(digest.to_string()),
            _ => BlobError::Io { path: path.clone(), source },
        })?;
        let actual = content_hash(&bytes);
        if actual != digest {
            return Err(BlobError::DigestMismatch { expected: digest.to_string(), actual });
        }
        Ok(bytes)
    }
}

/// A number no other write of this process uses.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Makes a rename durable (best effort: not every file system syncs a
/// directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_named_by_their_digest_and_checked_when_read() {
        let dir = std::env::temp_dir().join(format!("nexus-blobs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let blobs = Blobs::new(&dir);
        let digest = blobs.put(b"component bytes").expect("put");
        assert_eq!(digest, content_hash(b"component bytes"));
        assert_eq!(blobs.put(b"component bytes").expect("again"), digest);
        assert_eq!(blobs.get(&digest).expect("get"), b"component bytes");
        let path = blobs.path(&digest).expect("path");
        assert!(path.ends_with(format!("sha256/{}/{digest}", &digest[..2])));
        // One byte flipped on disk.
        std::fs::write(&path, b"component bytez").expect("tamper");
        assert!(matches!(blobs.get(&digest), Err(BlobError::DigestMismatch { .. })));
        // Storing the true bytes again repairs it.
        blobs.put(b"component bytes").expect("repair");
        assert_eq!(blobs.get(&digest).expect("get"), b"component bytes");
        assert!(matches!(blobs.get(&content_hash(b"other")), Err(BlobError::Missing(_))));
        assert!(matches!(blobs.get("../etc/passwd"), Err(BlobError::BadDigest(_))));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
