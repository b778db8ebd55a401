//! The author's loop, `nexus plugin …`: `new` scaffolds a plugin crate
//! ([`scaffold`]), `build` builds and checks it as the host would
//! ([`build`]), `test` runs it on recorded readings ([`trial`]), `keygen`
//! and `sign` make a vendor's key and a release's detached signature
//! (here: made where the vendor builds, never on the host; the key file
//! holds the 32-byte ed25519 seed, base64, on one line, mode 0600; the
//! signature covers what [`nexus_registry::ReleaseClaims`] lists), and
//! `publish`, `approve` and `bind` call a server ([`remote`]); `push` and
//! `pull` move a component to and from an OCI registry ([`oci`]).

pub mod build;
pub mod oci;
pub mod remote;
pub mod scaffold;
pub mod trial;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use nexus_registry::ReleaseClaims;
use nexus_registry::signing::{public_key_of, sign};

/// Why a key or a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file does not hold a seed.
    #[error("{0} does not hold an ed25519 seed (32 bytes, base64, one line)")]
    BadKey(String),
    /// The system has no randomness to give.
    #[error("no randomness for a key: {0}")]
    Random(String),
    /// The key file (or the new crate's directory) exists already.
    #[error("{0} exists; it is not overwritten")]
    Exists(String),
    /// An argument or an input file is not what it must be.
    #[error("{0}")]
    Invalid(String),
    /// `cargo build` failed or did not run.
    #[error("build: {0}")]
    Build(String),
    /// The component fails a check the host makes.
    #[error("check: {0}")]
    Check(String),
    /// The server refused or could not be reached.
    #[error("{0}")]
    Http(String),
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthorError + '_ {
    move |source| AuthorError::Io { path: path.display().to_string(), source }
}

/// Makes a new key in `out` (refusing to overwrite one); returns its
/// public key, base64, to register with `POST /api/vendor-keys`.
pub fn keygen(out: &Path) -> Result<String, AuthorError> {
    if out.exists() {
        return Err(AuthorError::Exists(out.display().to_string()));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| AuthorError::Random(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(io(out))?;
    std::io::Write::write_all(&mut file, format!("{}\n", STANDARD.encode(seed)).as_bytes()).map_err(io(out))?;
    Ok(public_key_of(&seed))
}

/// The seed in a key file.
pub fn read_key(path: &Path) -> Result<[u8; 32], AuthorError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bytes = STANDARD.decode(text.trim()).map_err(|_| AuthorError::BadKey(path.display().to_string()))?;
    bytes.try_into().map_err(|_| AuthorError::BadKey(path.display().to_string()))
}

/// The release's claims for a component file and its metadata.
pub fn claims_for(component: &Path, mut claims: ReleaseClaims) -> Result<ReleaseClaims, AuthorError> {
    let bytes = std::fs::read(component).map_err(io(component))?;
    claims.digest = format!("sha256:{}", nexus_registry::content_hash(&bytes));
    Ok(claims)
}

/// The detached signature (base64) of `claims` with the key in `key`,
/// and the key's public half.
pub fn sign_release(key: &Path, claims: &ReleaseClaims) -> Result<(String, String), AuthorError> {
    let seed = read_key(key)?;
    Ok((sign(&seed, claims), public_key_of(&seed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_the_registry_verifies() {
        let dir = std::env::temp_dir().join(format!("nexus-author-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = dir.join("vendor.key");
        let _ = std::fs::remove_file(&key);
        let public = keygen(&key).expect("keygen");
        assert!(matches!(keygen(&key), Err(AuthorError::Exists(_))));
        let component = dir.join("c.wasm");
        std::fs::write(&component, b"\0asm component bytes").expect("component");
        let claims = ReleaseClaims {
            digest: String::new(),
            package: "acme/x".into(),
            version: "1.0.0".into(),
            kind: "optimizer".into(),
            description: String::new(),
            licence: "MIT".into(),
            source_url: String::new(),
            changelog: String::new(),
        };
        let claims = claims_for(&component, claims).expect("claims");
        assert_eq!(claims.digest, format!("sha256:{}", nexus_registry::content_hash(b"\0asm component bytes")));
        let (signature, key_public) = sign_release(&key, &claims).expect("sign");
        assert_eq!(key_public, public);
        assert_eq!(nexus_registry::signing::verify(&public, "k", &claims, &signature), Ok(()));
        std::fs::write(&key, "not a key").expect("overwrite");
        assert!(matches!(read_key(&key), Err(AuthorError::BadKey(_))));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
