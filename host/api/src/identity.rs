//! Identity endpoints: login, refresh and logout; who am I; tenants and
//! vendors (system administrator); users and API keys of one's own scope;
//! and their views. Passwords, refresh tokens and keys are never shown but
//! once, at issue.

use std::time::Duration;

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{self as model, ApiKeyId, Principal, Role, Scope, TenantId, UserId, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::json::{Json, Path, Query};
use crate::schema::{self, Problem};

/// `POST /api/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    email: String,
    password: String,
}

/// `POST /api/auth/refresh` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refresh {
    refresh_token: String,
}

/// Tokens of a login or a refresh.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokensView {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    #[schema(value_type = schema::Role)]
    role: Role,
}

impl From<nexus_services::Tokens> for TokensView {
    fn from(t: nexus_services::Tokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            role: t.role,
        }
    }
}

/// Where a principal acts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScopeView {
    kind: &'static str,
    id: Option<String>,
}

impl From<Scope> for ScopeView {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::System => Self { kind: "system", id: None },
            Scope::Tenant(t) => Self { kind: "tenant", id: Some(t.into()) },
            Scope::Vendor(v) => Self { kind: "vendor", id: Some(v.into()) },
        }
    }
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeView {
    name: String,
    #[schema(value_type = schema::Role)]
    role: Role,
    scope: ScopeView,
    credential: &'static str,
}

/// A user (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    id: String,
    email: String,
    #[schema(value_type = schema::Role)]
    role: Role,
    scope: ScopeView,
    created_time: i64,
}

impl From<model::User> for UserView {
    fn from(u: model::User) -> Self {
        Self { id: u.id.into(), email: u.email, role: u.role, scope: u.scope.into(), created_time: u.created_time }
    }
}

/// An API key (never the key).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    id: String,
    name: String,
    #[schema(value_type = schema::Role)]
    role: Role,
    scope: ScopeView,
    expires_time: Option<i64>,
    revoked_time: Option<i64>,
    created_time: i64,
}

impl From<model::ApiKey> for ApiKeyView {
    fn from(k: model::ApiKey) -> Self {
        Self {
            id: k.id.into(),
            name: k.name,
            role: k.role,
            scope: k.scope.into(),
            expires_time: k.expires_time,
            revoked_time: k.revoked_time,
            created_time: k.created_time,
        }
    }
}

/// A key just created, with its secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedKeyView {
    #[serde(flatten)]
    key: ApiKeyView,
    key_secret: String,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TenantView {
    id: String,
    name: String,
    created_time: i64,
}

impl From<model::Tenant> for TenantView {
    fn from(t: model::Tenant) -> Self {
        Self { id: t.id.into(), name: t.name, created_time: t.created_time }
    }
}

/// A vendor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VendorView {
    id: String,
    name: String,
    created_time: i64,
}

impl From<model::Vendor> for VendorView {
    fn from(v: model::Vendor) -> Self {
        Self { id: v.id.into(), name: v.name, created_time: v.created_time }
    }
}

/// An audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    seq: i64,
    time: i64,
    tenant_id: Option<String>,
    actor: String,
    #[schema(value_type = schema::Role)]
    role: Role,
    action: String,
    object: String,
    status: u16,
    #[schema(value_type = Object)]
    summary: serde_json::Value,
    request_id: String,
}

impl From<model::AuditEntry> for AuditEntryView {
    fn from(e: model::AuditEntry) -> Self {
        Self {
            seq: e.seq,
            time: e.time,
            tenant_id: e.tenant_id.map(Into::into),
            actor: e.actor,
            role: e.role,
            action: e.action,
            object: e.object,
            status: e.status,
            summary: e.summary,
            request_id: e.request_id,
        }
    }
}

/// `POST /api/auth/login`: an access token (15 min) and a refresh token.
#[utoipa::path(post, path = "/api/auth/login", tag = "identity", operation_id = "login",
    request_body = Login,
    responses(
        (status = 200, description = "An access token and a refresh token", body = TokensView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The email or the password is wrong (the same answer for either)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins from this address (`too-many-failed-logins`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    Json(body): Json<Login>,
) -> Result<JsonResponse<TokensView>, ApiError> {
    // Password guessing: 10 failed logins a minute per address, then 429
    // until the minute ends, right password or not.
    let address = crate::serve::client_address(&extensions).map(|a| a.ip());
    let now = std::time::Instant::now();
    if let Some(wait) = address.and_then(|a| state.failed_logins.blocked(a, now)) {
        let detail = format!(
            "{} failed logins from this address within {} s; try again later",
            state.failed_logins.max_failures(),
            state.failed_logins.window().as_secs()
        );
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-failed-logins", detail).retry_after(wait));
    }
    match state.services.identity().login(&body.email, &body.password).await {
        Ok(tokens) => Ok(JsonResponse(tokens.into())),
        Err(error) => {
            if let (Some(address), nexus_services::ServiceError::Unauthenticated(_)) = (address, &error) {
                state.failed_logins.failed(address, now);
            }
            Err(error.into())
        }
    }
}

/// `POST /api/auth/refresh`: rotates the refresh token; a reused one
/// revokes the whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "identity", operation_id = "refresh",
    request_body = Refresh,
    responses(
        (status = 200, description = "A new access token and the next refresh token", body = TokensView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials are wrong, expired, revoked or reused (`unauthenticated`, with `WWW-Authenticate`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<Refresh>,
) -> Result<JsonResponse<TokensView>, ApiError> {
    Ok(JsonResponse(state.services.identity().refresh(&body.refresh_token).await?.into()))
}

/// `POST /api/auth/logout`: ends the session of this access token.
#[utoipa::path(post, path = "/api/auth/logout", tag = "identity", operation_id = "logout",
    responses((status = 204, description = "The session is ended")),
    security(("bearer" = [])))]
pub(crate) async fn logout(State(state): State<AppState>, principal: Principal) -> Result<StatusCode, ApiError> {
    state.services.identity().logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/auth/me`
#[utoipa::path(get, path = "/api/auth/me", tag = "identity", operation_id = "me",
    responses((status = 200, description = "The caller", body = MeView)),
    security(("bearer" = [])))]
pub(crate) async fn me(principal: Principal) -> JsonResponse<MeView> {
    let credential = match principal.credential {
        model::Credential::User { .. } => "user",
        model::Credential::ApiKey(_) => "api-key",
    };
    JsonResponse(MeView { name: principal.name, role: principal.role, scope: principal.scope.into(), credential })
}

/// `POST /api/tenants` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    /// 1-64 of a-z, 0-9, `-`, `_`; random when absent.
    id: Option<String>,
    name: String,
}

/// `POST /api/tenants` (system administrator)
#[utoipa::path(post, path = "/api/tenants", tag = "identity", operation_id = "create_tenant",
    request_body = NewTenant,
    responses((status = 201, description = "The tenant", body = TenantView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The tenant exists", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, JsonResponse<TenantView>), ApiError> {
    let tenant = state.services.identity().create_tenant(body.id.as_deref(), &body.name).await?;
    Ok((StatusCode::CREATED, JsonResponse(tenant.into())))
}

/// `GET /api/tenants` (system administrator)
#[utoipa::path(get, path = "/api/tenants", tag = "identity", operation_id = "list_tenants",
    params(crate::json::PageQuery),
    responses((status = 200, description = "Every tenant", body = Vec<TenantView>)),
    security(("bearer" = [])))]
pub(crate) async fn tenants(
    State(state): State<AppState>,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<TenantView>>, ApiError> {
    Ok(JsonResponse(crate::views::all(state.services.identity().tenants(&page.page()?).await?)))
}

/// `POST /api/vendors` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewVendor {
    name: String,
}

/// `POST /api/vendors` (system administrator)
#[utoipa::path(post, path = "/api/vendors", tag = "identity", operation_id = "create_vendor",
    request_body = NewVendor,
    responses((status = 201, description = "The vendor", body = VendorView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 409, description = "A vendor of that name exists", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_vendor(
    State(state): State<AppState>,
    Json(body): Json<NewVendor>,
) -> Result<(StatusCode, JsonResponse<VendorView>), ApiError> {
    let vendor = state.services.identity().create_vendor(&body.name).await?;
    Ok((StatusCode::CREATED, JsonResponse(vendor.into())))
}

/// `GET /api/vendors` (system administrator)
#[utoipa::path(get, path = "/api/vendors", tag = "identity", operation_id = "list_vendors",
    params(crate::json::PageQuery),
    responses((status = 200, description = "Every vendor", body = Vec<VendorView>)),
    security(("bearer" = [])))]
pub(crate) async fn vendors(
    State(state): State<AppState>,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<VendorView>>, ApiError> {
    Ok(JsonResponse(crate::views::all(state.services.identity().vendors(&page.page()?).await?)))
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    email: String,
    password: String,
    #[schema(value_type = schema::Role)]
    role: Role,
}

async fn create_user_in(
    state: &AppState,
    by: &Principal,
    scope: Scope,
    body: NewUser,
) -> Result<(StatusCode, JsonResponse<UserView>), ApiError> {
    let user = state.services.identity().create_user(by, scope, &body.email, &body.password, body.role).await?;
    Ok((StatusCode::CREATED, JsonResponse(user.into())))
}

/// `POST /api/tenants/{tenant_id}/users` (system administrator)
#[utoipa::path(post, path = "/api/tenants/{tenant_id}/users", tag = "identity", operation_id = "create_tenant_user",
    params(("tenant_id" = String, Path, description = "The tenant")),
    request_body = NewUser,
    responses((status = 201, description = "The user", body = UserView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_tenant_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<TenantId>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, JsonResponse<UserView>), ApiError> {
    create_user_in(&state, &principal, Scope::Tenant(tenant_id), body).await
}

/// `POST /api/vendors/{vendor_id}/users` (system administrator)
#[utoipa::path(post, path = "/api/vendors/{vendor_id}/users", tag = "identity", operation_id = "create_vendor_user",
    params(("vendor_id" = String, Path, description = "The vendor")),
    request_body = NewUser,
    responses((status = 201, description = "The user", body = UserView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such vendor", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_vendor_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(vendor_id): Path<VendorId>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, JsonResponse<UserView>), ApiError> {
    create_user_in(&state, &principal, Scope::Vendor(vendor_id), body).await
}

/// `POST /api/users`: a user in the caller's own tenant or vendor.
#[utoipa::path(post, path = "/api/users", tag = "identity", operation_id = "create_user",
    request_body = NewUser,
    responses((status = 201, description = "The user", body = UserView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, JsonResponse<UserView>), ApiError> {
    let scope = principal.scope.clone();
    create_user_in(&state, &principal, scope, body).await
}

/// `GET /api/users`: the users of the caller's scope.
#[utoipa::path(get, path = "/api/users", tag = "identity", operation_id = "list_users",
    params(crate::json::PageQuery),
    responses((status = 200, description = "The users of the caller's tenant or vendor", body = Vec<UserView>)),
    security(("bearer" = [])))]
pub(crate) async fn users(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<UserView>>, ApiError> {
    Ok(JsonResponse(crate::views::all(
        state.services.identity().users(&principal, &principal.scope, &page.page()?).await?,
    )))
}

/// `DELETE /api/users/{id}`: its sessions end at once.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "identity", operation_id = "delete_user",
    params(("id" = String, Path, description = "The user")),
    responses((status = 204, description = "Deleted; its sessions ended"), (status = 404, description = "No such user in the caller's scope", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<UserId>,
) -> Result<StatusCode, ApiError> {
    state.services.identity().delete_user(&principal, &principal.scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: String,
    #[schema(value_type = schema::Role)]
    role: Role,
    /// Days until it stops working (1 to 3650); never when absent.
    expires_in_days: Option<u32>,
}

/// `POST /api/api-keys`: a key in the caller's own scope.
#[utoipa::path(post, path = "/api/api-keys", tag = "identity", operation_id = "create_api_key",
    request_body = NewKey,
    responses((status = 201, description = "The key, with its secret (shown this once)", body = IssuedKeyView), (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, JsonResponse<IssuedKeyView>), ApiError> {
    let expires = match body.expires_in_days {
        None => None,
        Some(days @ 1..=3650) => Some(Duration::from_secs(u64::from(days) * 86_400)),
        Some(_) => return Err(ApiError::bad_request("expires_in_days must be 1 to 3650")),
    };
    let issued = state.services.identity().create_api_key(&principal, &body.name, body.role, expires).await?;
    Ok((StatusCode::CREATED, JsonResponse(IssuedKeyView { key: issued.key.into(), key_secret: issued.secret })))
}

/// `GET /api/api-keys`
#[utoipa::path(get, path = "/api/api-keys", tag = "identity", operation_id = "list_api_keys",
    params(crate::json::PageQuery),
    responses((status = 200, description = "The keys of the caller's scope (never their secrets)", body = Vec<ApiKeyView>)),
    security(("bearer" = [])))]
pub(crate) async fn keys(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<ApiKeyView>>, ApiError> {
    Ok(JsonResponse(crate::views::all(state.services.identity().api_keys(&principal, &page.page()?).await?)))
}

/// `DELETE /api/api-keys/{id}`: revokes it.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "identity", operation_id = "revoke_api_key",
    params(("id" = String, Path, description = "The key")),
    responses((status = 200, description = "The revoked key", body = ApiKeyView), (status = 404, description = "No such key in the caller's scope", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<ApiKeyId>,
) -> Result<JsonResponse<ApiKeyView>, ApiError> {
    Ok(JsonResponse(state.services.identity().revoke_api_key(&principal, &id).await?.into()))
}
