//! Access tokens: EdDSA (Ed25519) JWTs with the algorithm pinned, `exp`,
//! `nbf`, `iss` and `aud` checked with a small leeway. The signing key is
//! given (PKCS#8 PEM) or generated; the public key verifies.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use nexus_model::{Role, SessionId, TimestampMs, UserId};
use serde::{Deserialize, Serialize};

/// The issuer and audience of Nexus's access tokens.
pub const ISSUER: &str = "nexus";
/// The audience of access tokens: the admin API.
pub const AUDIENCE: &str = "nexus-api";
/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_S: u64 = 30;

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed
/// follows.
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Why a signing key was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("JWT signing key: {0}")]
pub struct KeyError(String);

/// The key pair that signs and verifies access tokens.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: [u8; 32],
    seed: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &hex::encode(self.public)).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError(format!("no randomness: {e}")))?;
        Ok(Self::from_seed(seed))
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        Self { encoding: EncodingKey::from_ed_der(&der), decoding: DecodingKey::from_ed_der(&public), public, seed }
    }

    /// A key from its PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as
    /// [`SigningKey::to_pem`] writes and `openssl genpkey -algorithm ed25519`
    /// makes.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|e| KeyError(format!("not PEM: {e}")))?;
        let seed = der
            .strip_prefix(&PKCS8_ED25519_PREFIX[..])
            .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
            .ok_or_else(|| KeyError("not an Ed25519 PKCS#8 private key".into()))?;
        Ok(Self::from_seed(seed))
    }

    /// The private key as PKCS#8 PEM (keep it secret).
    pub fn to_pem(&self) -> String {
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&self.seed);
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    }

    /// The public key, raw (32 bytes): what verifies tokens.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user.
    pub sub: UserId,
    /// The session (refresh-token family).
    pub sid: SessionId,
    /// The role when issued (the user's current role is what counts).
    pub role: Role,
    /// `access`: a token of another kind is refused.
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl SigningKey {
    /// Signs an access token valid from `now` for `ttl_s` seconds.
    pub(crate) fn issue(
        &self,
        user: &UserId,
        session: &SessionId,
        role: Role,
        now: TimestampMs,
        ttl_s: i64,
    ) -> Result<String, KeyError> {
        let now_s = now.div_euclid(1000);
        let claims = Claims {
            sub: user.clone(),
            sid: session.clone(),
            role,
            typ: "access".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now_s,
            nbf: now_s,
            exp: now_s + ttl_s,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Verifies an access token: signature with the pinned algorithm,
    /// `exp`, `nbf`, `iss`, `aud` (leeway [`LEEWAY_S`]) and `typ`. The
    /// reason on refusal is for the log, not for the caller.
    pub(crate) fn verify(&self, token: &str, now: TimestampMs) -> Result<Claims, String> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Time is checked below against the host's one clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| e.to_string())?;
        let claims = data.claims;
        let now_s = now.div_euclid(1000);
        let leeway = LEEWAY_S as i64;
        if claims.exp + leeway < now_s {
            return Err("expired".into());
        }
        if claims.nbf - leeway > now_s {
            return Err("not yet valid".into());
        }
        if claims.typ != "access" {
            return Err(format!("a `{}` token is not an access token", claims.typ));
        }
        Ok(claims)
    }
}
