//! Identity: tenants and vendors (created by the system administrator),
//! users with roles, logins that give a short access JWT and a rotating
//! refresh token, machine API keys, authentication of a bearer credential
//! into a [`Principal`], and the audit log. Passwords are argon2id hashes;
//! refresh tokens and API keys are random and stored as sha256 hashes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use nexus_model::{
    ApiKey, ApiKeyId, AuditEntry, Credential, Page, Principal, Role, Scope, Session, SessionId, Tenant, TenantId, User,
    UserId, Vendor, VendorId, token_hash,
};
use nexus_storage::{AuditQuery, NewApiKey, NewAuditEntry, NewUser, Refreshed};

use crate::jwt::SigningKey;
use crate::{Inner, Result, ServiceError};

/// Prefix of API keys, so a key is recognisable in a leak scan.
pub const API_KEY_PREFIX: &str = "nxk_";
/// Prefix of refresh tokens: never accepted as a bearer credential.
pub const REFRESH_PREFIX: &str = "nxr_";
/// Shortest password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// How long credentials live.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The key that signs access tokens; `None`: a new random key (tokens
    /// die with the process).
    pub signing_key: Option<SigningKey>,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Lifetime of a login session (its refresh tokens).
    pub refresh_ttl: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            signing_key: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 86_400),
        }
    }
}

/// What a login or a refresh gives.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access JWT (`Authorization: Bearer …`).
    pub access_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// The refresh token: one use, then its successor.
    pub refresh_token: String,
    /// The user's role.
    pub role: Role,
}

/// An API key as created: the key itself is shown this once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The key's record.
    pub key: ApiKey,
    /// The secret.
    pub secret: String,
}

/// Identity and the audit log. Cheap to clone.
#[derive(Clone)]
pub struct IdentityService(pub(crate) Arc<Inner>, pub(crate) Arc<Keys>);

/// The signing key and the stand-in hash that makes a failed login cost the
/// same whether or not the user exists.
pub(crate) struct Keys {
    signing: SigningKey,
    config: IdentityConfig,
    dummy_hash: OnceLock<String>,
}

impl Keys {
    pub(crate) fn new(config: IdentityConfig) -> Self {
        let signing = config
            .signing_key
            .clone()
            .unwrap_or_else(|| SigningKey::generate().expect("the OS gives random bytes for a signing key"));
        Self { signing, config, dummy_hash: OnceLock::new() }
    }
}

fn random_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

fn unauthenticated(message: &str) -> ServiceError {
    ServiceError::Unauthenticated(message.to_string())
}

/// Whether `role` may exist in `scope`.
fn fits(role: Role, scope: &Scope) -> bool {
    match scope {
        Scope::System => role == Role::SysAdmin,
        Scope::Tenant(_) => role.is_tenant_role(),
        Scope::Vendor(_) => role == Role::VendorDeveloper,
    }
}

/// Whether `by` may manage credentials (users, keys) of `scope`.
fn may_manage(by: &Principal, scope: &Scope) -> bool {
    match (by.role, &by.scope) {
        (Role::SysAdmin, _) => true,
        (Role::TenantAdmin, own @ Scope::Tenant(_)) => own == scope,
        (Role::VendorDeveloper, own @ Scope::Vendor(_)) => own == scope,
        _ => false,
    }
}

fn check_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !ok {
        return Err(ServiceError::Invalid(format!("`{email}` is not an email address")));
    }
    Ok(email)
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(ServiceError::Invalid(format!(
            "a password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_tenant_id(id: &str) -> Result<()> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ServiceError::Invalid("a tenant id must be 1-64 characters of a-z, 0-9, '-' and '_'".into()));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::Invalid("a name must be 1 to 200 characters".into()));
    }
    Ok(())
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), on a blocking thread.
async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash: PasswordHash| hash.to_string())
            .map_err(|e| ServiceError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

async fn password_matches(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok())
        .await
        .unwrap_or(false)
}

impl IdentityService {
    fn now(&self) -> i64 {
        self.0.now()
    }

    /// Makes `token` a system administrator's API key named `bootstrap`
    /// (`NEXUS_ADMIN_TOKEN`): the way in before any user exists.
    pub async fn bootstrap_key(&self, token: &str) -> Result<()> {
        let hash = token_hash(token);
        if self.0.store.api_key_by_hash(&hash).await?.is_some() {
            return Ok(());
        }
        let new = NewApiKey {
            name: "bootstrap".into(),
            role: Role::SysAdmin,
            scope: Scope::System,
            hash,
            expires_time: None,
        };
        self.0.store.insert_api_key(&new, self.now()).await?;
        Ok(())
    }

    /// Creates a system administrator (`nexus admin bootstrap`, or the
    /// configured one on first start).
    pub async fn bootstrap_admin(&self, email: &str, password: &str) -> Result<User> {
        self.insert_user(Scope::System, email, password, Role::SysAdmin).await
    }

    /// Whether a system administrator user exists.
    pub async fn has_system_admin(&self) -> Result<bool> {
        Ok(self.0.store.any_user_with_role(Role::SysAdmin).await?)
    }

    async fn insert_user(&self, scope: Scope, email: &str, password: &str, role: Role) -> Result<User> {
        let email = check_email(email)?;
        check_password(password)?;
        if !fits(role, &scope) {
            return Err(ServiceError::Invalid(format!("a {role} cannot belong to this scope")));
        }
        let password_hash = hash_password(password.to_string()).await?;
        let new = NewUser { email, role, scope, password_hash };
        Ok(self.0.store.insert_user(&new, self.now()).await?)
    }

    /// Creates a tenant (system administrator). `id` defaults to a random one.
    pub async fn create_tenant(&self, id: Option<&str>, name: &str) -> Result<Tenant> {
        check_name(name)?;
        let id = match id {
            Some(id) => {
                check_tenant_id(id)?;
                TenantId::new(id)
            }
            None => TenantId::random(),
        };
        if self.0.store.tenant(&id).await.is_ok() {
            return Err(ServiceError::Conflict(format!("tenant `{id}` exists")));
        }
        Ok(self.0.store.ensure_tenant(&id, name, self.now()).await?)
    }

    /// Every tenant.
    pub async fn tenants(&self, page: &Page) -> Result<Vec<Tenant>> {
        Ok(self.0.store.tenants(page).await?)
    }

    /// One tenant (404 when it does not exist).
    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        Ok(self.0.store.tenant(id).await?)
    }

    /// Creates a vendor (system administrator).
    pub async fn create_vendor(&self, name: &str) -> Result<Vendor> {
        check_name(name)?;
        Ok(self.0.store.create_vendor(name.trim(), self.now()).await?)
    }

    /// Every vendor.
    pub async fn vendors(&self, page: &Page) -> Result<Vec<Vendor>> {
        Ok(self.0.store.vendors(page).await?)
    }

    /// Creates a user in `scope`: the system administrator anywhere, a
    /// tenant admin in its tenant, a vendor developer in its vendor.
    pub async fn create_user(
        &self,
        by: &Principal,
        scope: Scope,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User> {
        if !may_manage(by, &scope) {
            return Err(ServiceError::Forbidden("you may not create users there".into()));
        }
        match &scope {
            Scope::Tenant(tenant) => drop(self.0.store.tenant(tenant).await?),
            Scope::Vendor(vendor) => drop(self.0.store.vendor(vendor).await?),
            Scope::System => {}
        }
        self.insert_user(scope, email, password, role).await
    }

    /// The users of a scope.
    pub async fn users(&self, by: &Principal, scope: &Scope, page: &Page) -> Result<Vec<User>> {
        if !may_manage(by, scope) {
            return Err(ServiceError::Forbidden("you may not list users there".into()));
        }
        Ok(self.0.store.users(scope, page).await?)
    }

    /// Deletes a user of a scope; its sessions end and its access tokens
    /// stop working at once.
    pub async fn delete_user(&self, by: &Principal, scope: &Scope, id: &UserId) -> Result<()> {
        if !may_manage(by, scope) {
            return Err(ServiceError::Forbidden("you may not delete users there".into()));
        }
        Ok(self.0.store.delete_user(scope, id).await?)
    }

    /// Logs in. Costs one argon2id verification whether or not the user
    /// exists, and says the same on either failure.
    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens> {
        let email = email.trim().to_lowercase();
        let user = self.0.store.user_by_email(&email).await?;
        let (hash, user) = match user {
            Some(user) => (user.password_hash.clone(), Some(user)),
            None => (self.dummy_hash().await?, None),
        };
        let matches = password_matches(password.to_string(), hash).await;
        let Some(user) = user.filter(|_| matches) else {
            return Err(unauthenticated("the email or the password is wrong"));
        };
        let session = Session {
            id: SessionId::random(),
            user_id: user.id.clone(),
            expires_time: self.now() + self.1.config.refresh_ttl.as_millis() as i64,
            revoked_time: None,
        };
        let refresh = random_secret(REFRESH_PREFIX)?;
        self.0.store.insert_session(&session, &token_hash(&refresh), self.now()).await?;
        self.tokens(&user, &session.id, refresh)
    }

    async fn dummy_hash(&self) -> Result<String> {
        if let Some(hash) = self.1.dummy_hash.get() {
            return Ok(hash.clone());
        }
        let hash = hash_password(random_secret("")?).await?;
        Ok(self.1.dummy_hash.get_or_init(|| hash).clone())
    }

    fn tokens(&self, user: &User, session: &SessionId, refresh: String) -> Result<Tokens> {
        let ttl = self.1.config.access_ttl.as_secs();
        let access = self
            .1
            .signing
            .issue(&user.id, session, user.role, self.now(), ttl as i64)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Tokens { access_token: access, expires_in: ttl, refresh_token: refresh, role: user.role })
    }

    /// Rotates a refresh token. A token presented a second time revokes its
    /// whole family (every token of that login), since one of the two
    /// presenters stole it.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let next = random_secret(REFRESH_PREFIX)?;
        match self.0.store.refresh_session(&token_hash(refresh_token), &token_hash(&next), self.now()).await? {
            Refreshed::Rotated(session) => {
                let user =
                    self.0.store.user(&session.user_id).await.map_err(|_| unauthenticated("the user is gone"))?;
                self.tokens(&user, &session.id, next)
            }
            Refreshed::Reused(session) => {
                tracing::warn!(%session, "A used refresh token was presented again; its session is revoked.");
                Err(unauthenticated("this refresh token was already used; the session is revoked"))
            }
            Refreshed::Refused => Err(unauthenticated("the refresh token is not valid")),
        }
    }

    /// Ends the principal's session: its refresh tokens and access tokens
    /// stop working.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        match &principal.credential {
            Credential::User { session_id, .. } => Ok(self.0.store.revoke_session(session_id, self.now()).await?),
            Credential::ApiKey(_) => Err(ServiceError::Invalid("an API key has no session; revoke the key".into())),
        }
    }

    /// Who a bearer credential is: an API key (`nxk_…`) or an access JWT.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        if bearer.starts_with(REFRESH_PREFIX) {
            return Err(unauthenticated("a refresh token is not an access token; exchange it at /api/auth/refresh"));
        }
        if !bearer.contains('.') {
            return self.authenticate_key(bearer).await;
        }
        let now = self.now();
        let claims = self.1.signing.verify(bearer, now).map_err(|reason| {
            tracing::debug!(reason, "An access token was refused.");
            unauthenticated("the access token is not valid")
        })?;
        let session = self.0.store.session(&claims.sid).await?;
        let live = session.is_some_and(|s| s.revoked_time.is_none() && s.user_id == claims.sub);
        if !live {
            return Err(unauthenticated("the session of this access token has ended"));
        }
        let user = self.0.store.user(&claims.sub).await.map_err(|_| unauthenticated("the user is gone"))?;
        Ok(Principal {
            credential: Credential::User { user_id: user.id, session_id: claims.sid },
            scope: user.scope,
            role: user.role,
            name: user.email,
        })
    }

    async fn authenticate_key(&self, bearer: &str) -> Result<Principal> {
        let key = self.0.store.api_key_by_hash(&token_hash(bearer)).await?;
        let now = self.now();
        match key {
            Some(key) if key.revoked_time.is_none() && key.expires_time.is_none_or(|t| t > now) => Ok(Principal {
                credential: Credential::ApiKey(key.id),
                scope: key.scope,
                role: key.role,
                name: key.name,
            }),
            Some(_) => Err(unauthenticated("this API key is revoked or expired")),
            None => Err(unauthenticated("the bearer credential is not valid")),
        }
    }

    /// Creates an API key in the principal's own scope with a role that fits
    /// it and is not above the principal's.
    pub async fn create_api_key(
        &self,
        by: &Principal,
        name: &str,
        role: Role,
        expires_in: Option<Duration>,
    ) -> Result<IssuedKey> {
        check_name(name)?;
        let scope = by.scope.clone();
        if !may_manage(by, &scope) {
            return Err(ServiceError::Forbidden("your role may not create API keys".into()));
        }
        if !fits(role, &scope) {
            return Err(ServiceError::Invalid(format!("a {role} key cannot belong to this scope")));
        }
        if let Scope::Tenant(tenant) = &scope {
            let live =
                self.0.store.api_keys(&scope, &Page::all()).await?.iter().filter(|k| k.revoked_time.is_none()).count();
            self.0.check_quota_of(tenant, nexus_model::QuotaKind::ApiKeys, live as u64).await?;
        }
        let secret = random_secret(API_KEY_PREFIX)?;
        let expires_time = expires_in.map(|d| self.now() + d.as_millis() as i64);
        let new = NewApiKey { name: name.into(), role, scope, hash: token_hash(&secret), expires_time };
        let key = self.0.store.insert_api_key(&new, self.now()).await?;
        Ok(IssuedKey { key, secret })
    }

    /// The API keys of the principal's scope.
    pub async fn api_keys(&self, by: &Principal, page: &Page) -> Result<Vec<ApiKey>> {
        if !may_manage(by, &by.scope) {
            return Err(ServiceError::Forbidden("your role may not list API keys".into()));
        }
        Ok(self.0.store.api_keys(&by.scope, page).await?)
    }

    /// Revokes an API key of the principal's scope.
    pub async fn revoke_api_key(&self, by: &Principal, id: &ApiKeyId) -> Result<ApiKey> {
        if !may_manage(by, &by.scope) {
            return Err(ServiceError::Forbidden("your role may not revoke API keys".into()));
        }
        Ok(self.0.store.revoke_api_key(&by.scope, id, self.now()).await?)
    }

    /// Appends to the audit log.
    pub async fn record(&self, entry: NewAuditEntry) -> Result<i64> {
        Ok(self.0.store.append_audit(&entry, self.now()).await?)
    }

    /// A tenant's audit log (`None`: the system's own), oldest first.
    pub async fn audit(&self, tenant: Option<&TenantId>, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        if query.limit == 0 || query.limit > crate::MAX_PAGE {
            return Err(ServiceError::Invalid(format!("limit must be 1 to {}", crate::MAX_PAGE)));
        }
        Ok(self.0.store.audit(tenant, query).await?)
    }

    /// A vendor (404 when it does not exist).
    pub async fn vendor(&self, id: &VendorId) -> Result<Vendor> {
        Ok(self.0.store.vendor(id).await?)
    }
}
