//! Device access tokens: generated with 160 random bits, shown once, and
//! kept only as a hash.

use sha2::{Digest, Sha256};

/// The stored form of an access token: `sha256:<hex>`. Tokens are
/// high-entropy random strings, so a plain hash is enough (no salt or
/// stretching); the prefix keeps hashes apart from any raw token, whose
/// alphabet has no `:`.
pub fn token_hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Whether stored text is a token hash (not a raw token).
pub fn is_token_hash(stored: &str) -> bool {
    stored.starts_with("sha256:")
}

/// A new random access token: 160 bits as 40 hex characters.
pub fn new_access_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    // Two v4 UUIDs carry 244 random bits; 160 of them are kept.
    let mut bytes = [0u8; 20];
    bytes[..16].copy_from_slice(a.as_bytes());
    bytes[16..].copy_from_slice(&b.as_bytes()[..4]);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_are_stable() {
        let (a, b) = (new_access_token(), new_access_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 40);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(is_token_hash(&token_hash(&a)) && !is_token_hash(&a));
        // sha256("abc")
        assert_eq!(token_hash("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
