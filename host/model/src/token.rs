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

/// Fewest bits a chosen access token must carry: as many as a random
/// 128-bit key.
pub const MIN_TOKEN_BITS: f64 = 128.0;
/// Shortest chosen access token: 22 base64url characters hold 132 bits.
pub const MIN_TOKEN_LEN: usize = 22;
/// Longest access token.
pub const MAX_TOKEN_LEN: usize = 128;
/// Fewest distinct characters of a chosen token (refuses `aaaa…`, `abab…`).
const MIN_DISTINCT_CHARS: usize = 8;

/// The entropy of a token estimated from the character classes it uses:
/// `length × log2(alphabet)`, where the alphabet is the sum of the classes
/// present (a–z 26, A–Z 26, 0–9 10, `-` and `_` 2). Generous to a person's
/// choice (it assumes every character was drawn at random), so it is only
/// a floor for [`check_chosen_token`].
pub fn estimated_bits(token: &str) -> f64 {
    let has = |class: fn(&char) -> bool| token.chars().any(|c| class(&c));
    let alphabet = [
        (has(char::is_ascii_lowercase), 26),
        (has(char::is_ascii_uppercase), 26),
        (has(char::is_ascii_digit), 10),
        (has(|c| matches!(c, '-' | '_')), 2),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, size)| size)
    .sum::<u32>();
    if alphabet < 2 {
        return 0.0;
    }
    token.chars().count() as f64 * f64::from(alphabet).log2()
}

/// Whether a token chosen by a device's creator meets the bar of generated
/// ones: [`MIN_TOKEN_LEN`] to [`MAX_TOKEN_LEN`] base64url characters
/// (`A–Z a–z 0–9 - _`), at least 8 distinct, and an [`estimated_bits`] of
/// at least [`MIN_TOKEN_BITS`] (e.g. 22 mixed-case letters and digits, 28
/// lowercase letters, 39 digits). The error says which rule failed.
pub fn check_chosen_token(token: &str) -> Result<(), String> {
    if !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("access_token may hold only a-z, A-Z, 0-9, '-' and '_' (base64url)".into());
    }
    if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len()) {
        return Err(format!("access_token must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters"));
    }
    let distinct = token.chars().collect::<std::collections::BTreeSet<_>>().len();
    if distinct < MIN_DISTINCT_CHARS {
        return Err(format!("access_token must use at least {MIN_DISTINCT_CHARS} distinct characters"));
    }
    let bits = estimated_bits(token);
    if bits < MIN_TOKEN_BITS {
        return Err(format!(
            "access_token is too weak: about {bits:.0} bits, at least {MIN_TOKEN_BITS:.0} needed \
             (length × log2 of the character classes used); use more characters or mix a-z, A-Z and 0-9, \
             or leave it out to have one generated"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_tokens_need_128_estimated_bits() {
        assert!(check_chosen_token(&new_access_token()).is_ok(), "a generated token meets the bar");
        assert!(check_chosen_token("Xk9-pQ2_vL7mN4rT8wZ1bC").is_ok()); // 22 of 64: 132 bits
        assert!(check_chosen_token("abcdefghijklmnopqrstuvwxyzab").is_ok()); // 28 lowercase: 132 bits
        for (weak, why) in [
            ("device-token-1", "characters"),
            ("abcdefghijklmnopqrstuvwxy", "too weak"), // 25 lowercase: 118 bits
            ("1234567890123456789012345678901234567", "too weak"), // 37 digits: 123 bits
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "distinct"),
            ("has space and is long enough to pass", "base64url"),
        ] {
            let error = check_chosen_token(weak).expect_err(weak);
            assert!(error.contains(why), "{weak}: {error}");
        }
        assert!((estimated_bits("aB3-") - 4.0 * 64f64.log2()).abs() < 1e-9);
    }

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
