//! What a vendor signs when it publishes a release, and the check of that
//! signature.
//!
//! The signed message is the release's digest *and* its metadata, so a
//! signature over one component cannot be reused for other metadata (a
//! vendor's signature on `acme/esp@1.2.0` does not make `acme/esp@1.3.0`,
//! nor another description). It is the UTF-8 bytes of
//!
//! ```text
//! nexus-release-v1
//! {"digest":"sha256:…","package":"acme/esp","version":"1.2.0","kind":"optimizer",
//!  "description":"…","licence":"…","source_url":"…","changelog":"…"}
//! ```
//!
//! — the first line, a newline, then [`ReleaseClaims`] as compact JSON with
//! its members in that order (the order of the struct; serde_json keeps
//! it). The signature is ed25519 (RFC 8032) over those bytes, base64
//! (standard alphabet, padded); a public key is its 32 bytes, base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The first line of every signed message (the format's version).
pub const MESSAGE_HEADER: &str = "nexus-release-v1";

/// What a signature covers besides the bytes: the release's identity and
/// what a tenant reads before approving it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseClaims {
    /// `sha256:` and the hex digest of the component's bytes.
    pub digest: String,
    /// `vendor/name`.
    pub package: String,
    /// Semantic version.
    pub version: String,
    /// The world (`optimizer`, `alarm-rule`, …).
    pub kind: String,
    /// One paragraph for the tenant.
    pub description: String,
    /// SPDX licence expression.
    pub licence: String,
    /// Where the source is.
    pub source_url: String,
    /// What changed in this version.
    pub changelog: String,
}

impl ReleaseClaims {
    /// The exact bytes signed.
    pub fn message(&self) -> Vec<u8> {
        let mut message = format!("{MESSAGE_HEADER}\n").into_bytes();
        // A struct of strings always serializes.
        message.extend(serde_json::to_vec(self).unwrap_or_default());
        message
    }
}

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Not 32 bytes of base64, or not a point of the curve.
    #[error("the public key is not an ed25519 key (32 bytes, base64): {0}")]
    BadKey(String),
    /// Not 64 bytes of base64.
    #[error("the signature is not an ed25519 signature (64 bytes, base64): {0}")]
    Malformed(String),
    /// Well formed, but not by this key over these claims.
    #[error("the signature does not verify over this digest and metadata with key `{0}`")]
    Invalid(String),
}

/// A public key from its base64 text.
pub fn public_key(text: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|e| SignatureError::BadKey(e.to_string()))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| SignatureError::BadKey(format!("{} bytes, not 32", b.len())))?;
    // Weak (small-order) keys would let many messages verify: refused.
    VerifyingKey::from_bytes(&bytes)
        .ok()
        .filter(|key| !key.is_weak())
        .ok_or_else(|| SignatureError::BadKey("not a usable curve point".into()))
}

/// Checks `signature` (base64) over `claims` with `key` (base64); `key_id`
/// names the key in the error.
pub fn verify(key: &str, key_id: &str, claims: &ReleaseClaims, signature: &str) -> Result<(), SignatureError> {
    let key = public_key(key)?;
    let bytes = STANDARD.decode(signature.trim()).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let bytes: [u8; 64] =
        bytes.try_into().map_err(|b: Vec<u8>| SignatureError::Malformed(format!("{} bytes, not 64", b.len())))?;
    key.verify_strict(&claims.message(), &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Invalid(key_id.to_string()))
}

/// Signs `claims` with a 32-byte ed25519 seed; the signature in base64.
/// For vendors' tools (`nexus plugin sign`) and tests.
pub fn sign(seed: &[u8; 32], claims: &ReleaseClaims) -> String {
    STANDARD.encode(SigningKey::from_bytes(seed).sign(&claims.message()).to_bytes())
}

/// The base64 public key of a 32-byte seed.
pub fn public_key_of(seed: &[u8; 32]) -> String {
    STANDARD.encode(SigningKey::from_bytes(seed).verifying_key().to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ReleaseClaims {
        ReleaseClaims {
            digest: format!("sha256:{}", "ab".repeat(32)),
            package: "acme/optimizer-esp".into(),
            version: "1.2.0".into(),
            kind: "optimizer".into(),
            description: "ESP frequency".into(),
            licence: "Apache-2.0".into(),
            source_url: "https://example.com/acme".into(),
            changelog: "first".into(),
        }
    }

    #[test]
    fn a_signature_verifies_only_over_its_claims_and_with_its_key() {
        let seed = [7u8; 32];
        let key = public_key_of(&seed);
        let signature = sign(&seed, &claims());
        assert_eq!(verify(&key, "k1", &claims(), &signature), Ok(()));
        let mut other = claims();
        other.changelog = "second".into();
        assert_eq!(verify(&key, "k1", &other, &signature), Err(SignatureError::Invalid("k1".into())));
        let mut other = claims();
        other.digest = format!("sha256:{}", "cd".repeat(32));
        assert_eq!(verify(&key, "k1", &other, &signature), Err(SignatureError::Invalid("k1".into())));
        let stranger = public_key_of(&[8u8; 32]);
        assert_eq!(verify(&stranger, "k2", &claims(), &signature), Err(SignatureError::Invalid("k2".into())));
    }

    #[test]
    fn malformed_keys_and_signatures_are_named() {
        assert!(matches!(public_key("abc"), Err(SignatureError::BadKey(_))));
        assert!(matches!(public_key(&STANDARD.encode([0u8; 31])), Err(SignatureError::BadKey(_))));
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(public_key(&STANDARD.encode(identity)), Err(SignatureError::BadKey(_))));
        let key = public_key_of(&[7u8; 32]);
        assert!(matches!(verify(&key, "k", &claims(), "!!"), Err(SignatureError::Malformed(_))));
        assert!(matches!(verify(&key, "k", &claims(), &STANDARD.encode([1u8; 63])), Err(SignatureError::Malformed(_))));
    }

    #[test]
    fn the_message_is_the_header_and_the_claims_in_order() {
        let text = String::from_utf8(claims().message()).expect("utf-8");
        assert!(text.starts_with("nexus-release-v1\n{\"digest\":\"sha256:abab"), "{text}");
        let order = ["digest", "package", "version", "kind", "description", "licence", "source_url", "changelog"];
        let positions: Vec<usize> = order.iter().map(|k| text.find(&format!("\"{k}\"")).expect("member")).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }
}
