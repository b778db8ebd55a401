//! The catalogue: vendors' signing keys and releases (vendor developers),
//! the vendors a tenant trusts, the releases it can see and the approval
//! of one (tenant admins).

use axum::Json as JsonResponse;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use nexus_model::{self as model, PluginKind, Principal, ReleaseId, VendorId, VendorKeyId};
use nexus_services::Publish;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path, Query, body_bytes};
use crate::schema::{self, Problem};
use crate::views::{PluginView, all};

/// A vendor's signing key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VendorKeyView {
    id: String,
    vendor_id: String,
    /// The ed25519 public key: 32 bytes, base64.
    public_key: String,
    created_time: i64,
    /// When it was revoked; nothing it signed verifies since.
    revoked_time: Option<i64>,
    revoked_reason: Option<String>,
}

impl From<model::VendorKey> for VendorKeyView {
    fn from(k: model::VendorKey) -> Self {
        Self {
            id: k.id.into(),
            vendor_id: k.vendor_id.into(),
            public_key: k.public_key,
            created_time: k.created_time,
            revoked_time: k.revoked_time,
            revoked_reason: k.revoked_reason,
        }
    }
}

/// A vendor's release: what a tenant admin reviews before approving it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReleaseView {
    id: String,
    vendor_id: String,
    /// `vendor/name`.
    package: String,
    version: String,
    /// The world it implements.
    #[schema(value_type = schema::PluginKind)]
    kind: PluginKind,
    /// sha256 of the component, hex.
    digest: String,
    size_bytes: i64,
    /// The contract version it targets.
    contract: String,
    /// What its `describe` returned, its configuration schema among it.
    #[schema(value_type = schema::PluginInfo)]
    info: model::PluginInfo,
    /// The interfaces it imports.
    imports: Vec<String>,
    description: String,
    licence: String,
    source_url: String,
    changelog: String,
    /// The key that signed it.
    key_id: String,
    /// ed25519 over the digest and metadata, base64.
    signature: String,
    published_by: String,
    published_time: i64,
    /// `published`, `yanked` (no new approval or binding) or `revoked`
    /// (runs nowhere).
    #[schema(value_type = String, example = "published")]
    status: model::ReleaseStatus,
    /// Why it was yanked or revoked.
    status_reason: Option<String>,
    /// When it was yanked or revoked.
    status_time: Option<i64>,
}

impl From<model::Release> for ReleaseView {
    fn from(r: model::Release) -> Self {
        Self {
            id: r.id.into(),
            vendor_id: r.vendor_id.into(),
            package: r.package,
            version: r.version,
            kind: r.kind,
            digest: r.digest,
            size_bytes: r.size_bytes,
            contract: r.contract,
            info: r.info,
            imports: r.imports,
            description: r.description,
            licence: r.licence,
            source_url: r.source_url,
            changelog: r.changelog,
            key_id: r.key_id.into(),
            signature: r.signature,
            published_by: r.published_by,
            published_time: r.published_time,
            status: r.status,
            status_reason: r.status_reason,
            status_time: r.status_time,
        }
    }
}

/// The caller's vendor (the access table lets only vendor developers in).
fn vendor_of(principal: &Principal) -> Result<VendorId, ApiError> {
    principal.vendor_id().cloned().ok_or_else(|| ApiError::forbidden("only a vendor's developer acts for a vendor"))
}

/// `POST /api/vendor-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewVendorKey {
    /// The ed25519 public key: 32 bytes, base64.
    public_key: String,
}

/// `POST /api/vendor-keys`: registers a signing key of the caller's vendor.
#[utoipa::path(post, path = "/api/vendor-keys", tag = "catalogue", operation_id = "register_vendor_key",
    request_body = NewVendorKey,
    responses((status = 201, description = "The key", body = VendorKeyView), (status = 400, description = "Not an ed25519 public key (`invalid-key`), or a bad body", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn register_key(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewVendorKey>,
) -> Result<(StatusCode, JsonResponse<VendorKeyView>), ApiError> {
    let key = state.services.releases().register_key(&vendor_of(&principal)?, &body.public_key).await?;
    Ok((StatusCode::CREATED, JsonResponse(key.into())))
}

/// `GET /api/vendor-keys`
#[utoipa::path(get, path = "/api/vendor-keys", tag = "catalogue", operation_id = "list_vendor_keys",
    responses((status = 200, description = "The caller's vendor's keys, oldest first", body = Vec<VendorKeyView>)),
    security(("bearer" = [])))]
pub(crate) async fn keys(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<Vec<VendorKeyView>>, ApiError> {
    Ok(JsonResponse(all(state.services.releases().keys(&vendor_of(&principal)?).await?)))
}

/// `POST /api/vendor-keys/{id}/revoke` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Revocation {
    /// Why (kept with the key).
    reason: String,
}

/// `POST /api/vendor-keys/{id}/revoke`: nothing the key signed verifies
/// from now on; approved versions signed by it stop loading.
#[utoipa::path(post, path = "/api/vendor-keys/{id}/revoke", tag = "catalogue", operation_id = "revoke_vendor_key",
    params(("id" = String, Path, description = "The key")),
    request_body = Revocation,
    responses((status = 200, description = "The revoked key", body = VendorKeyView), (status = 400, description = "No reason, or a bad body", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such key of the caller's vendor", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Revoked already", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<JsonResponse<VendorKeyView>, ApiError> {
    let vendor = vendor_of(&principal)?;
    let key = state.services.releases().revoke_key(&vendor, &VendorKeyId::new(id), &body.reason).await?;
    Ok(JsonResponse(key.into()))
}

/// What is published, besides the bytes: exactly what the signature covers.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PublishQuery {
    /// `vendor/name`: the vendor part is the caller's vendor's name.
    #[param(example = "acme/optimizer-esp")]
    package: String,
    /// `MAJOR.MINOR.PATCH` with an optional `-pre` suffix.
    #[param(example = "1.2.0")]
    version: String,
    /// The world: `decoder`, `alarm-rule`, `optimizer`, `transform`, `field-optimizer` or `forecaster`.
    #[param(example = "optimizer")]
    kind: String,
    /// The signing key's id.
    key_id: String,
    /// ed25519 over the claims (README, "Vendors' releases"), base64.
    signature: String,
    /// One paragraph for the tenant.
    #[serde(default)]
    description: String,
    /// SPDX licence expression.
    #[serde(default)]
    licence: String,
    /// Where the source is.
    #[serde(default)]
    source_url: String,
    /// What changed in this version.
    #[serde(default)]
    changelog: String,
}

/// `POST /api/vendor-releases`: publishes a signed release of the caller's
/// vendor; the component's bytes are the body.
#[utoipa::path(post, path = "/api/vendor-releases", tag = "catalogue", operation_id = "publish_release",
    params(PublishQuery),
    request_body(content = schema::Binary, description = "The WebAssembly component's bytes (any content type)", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "The published release", body = ReleaseView),
        (status = 400, description = "A bad package, version or kind; a malformed signature (`signature-malformed`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The package is not under the caller's vendor (`vendor-mismatch`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This package version is published already", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The component is over 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A key the vendor does not have (`unknown-key`) or revoked (`key-revoked`), a signature that does not verify (`signature-invalid`), or not a valid component of the world", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The compile slots stayed busy (`compile-busy`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<PublishQuery>,
    request: Request,
) -> Result<(StatusCode, JsonResponse<ReleaseView>), ApiError> {
    let vendor = vendor_of(&principal)?;
    let kind = PluginKind::parse(&query.kind).ok_or_else(|| {
        let allowed: Vec<&str> = PluginKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::bad_request(format!("unknown kind `{}`: use one of {}", query.kind, allowed.join(", ")))
            .with("allowed", serde_json::json!(allowed))
    })?;
    crate::json::check_declared_length(request.headers(), nexus_services::MAX_COMPONENT_BYTES_CEILING)?;
    let bytes = body_bytes(request, &()).await?;
    let publish = Publish {
        package: query.package,
        version: query.version,
        kind,
        description: query.description,
        licence: query.licence,
        source_url: query.source_url,
        changelog: query.changelog,
        key_id: VendorKeyId::new(query.key_id),
        signature: query.signature,
        bytes: bytes.to_vec(),
    };
    let release = state.services.releases().publish(&vendor, publish, &principal.actor()).await?;
    Ok((StatusCode::CREATED, JsonResponse(release.into())))
}

/// `GET /api/vendor-releases`
#[utoipa::path(get, path = "/api/vendor-releases", tag = "catalogue", operation_id = "list_vendor_releases",
    params(crate::json::PageQuery),
    responses((status = 200, description = "The caller's vendor's releases, in publish order", body = Vec<ReleaseView>)),
    security(("bearer" = [])))]
pub(crate) async fn vendor_releases(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<ReleaseView>>, ApiError> {
    let vendor = vendor_of(&principal)?;
    Ok(JsonResponse(all(state.services.releases().vendor_releases(&vendor, &page.page()?).await?)))
}

/// `POST /api/vendor-releases/{id}/yank`: no tenant can approve or bind
/// the release any more; bindings running it keep running, and each tenant
/// that approved it gets an event naming them.
#[utoipa::path(post, path = "/api/vendor-releases/{id}/yank", tag = "catalogue", operation_id = "yank_release",
    params(("id" = String, Path, description = "The release")),
    request_body = Revocation,
    responses((status = 200, description = "The yanked release", body = ReleaseView), (status = 400, description = "No reason, or a bad body", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such release of the caller's vendor", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Yanked or revoked already", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn yank(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<JsonResponse<ReleaseView>, ApiError> {
    let (vendor, id) = (vendor_of(&principal)?, ReleaseId::new(id));
    Ok(JsonResponse(state.services.releases().yank(&vendor, &id, &body.reason, &principal.actor()).await?.into()))
}

/// `POST /api/vendor-releases/{id}/revoke`: the release runs nowhere from
/// now on; each binding running it moves to its tenant's previous approved
/// version (tenants that trust the vendor with fallback) or stops, each
/// with an event.
#[utoipa::path(post, path = "/api/vendor-releases/{id}/revoke", tag = "catalogue", operation_id = "revoke_release",
    params(("id" = String, Path, description = "The release")),
    request_body = Revocation,
    responses((status = 200, description = "The revoked release", body = ReleaseView), (status = 400, description = "No reason, or a bad body", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such release of the caller's vendor", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Revoked already", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Revocation>,
) -> Result<JsonResponse<ReleaseView>, ApiError> {
    let (vendor, id) = (vendor_of(&principal)?, ReleaseId::new(id));
    Ok(JsonResponse(state.services.releases().revoke(&vendor, &id, &body.reason, &principal.actor()).await?.into()))
}

/// `GET /api/releases`
#[utoipa::path(get, path = "/api/releases", tag = "catalogue", operation_id = "list_releases",
    params(crate::json::PageQuery),
    responses((status = 200, description = "The releases of the vendors the tenant trusts, in publish order", body = Vec<ReleaseView>)),
    security(("bearer" = [])))]
pub(crate) async fn catalogue(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<ReleaseView>>, ApiError> {
    Ok(JsonResponse(all(state.services.releases().catalogue(&principal.tenant_id, &page.page()?).await?)))
}

/// `GET /api/releases/{id}`
#[utoipa::path(get, path = "/api/releases/{id}", tag = "catalogue", operation_id = "get_release",
    params(("id" = String, Path, description = "The release")),
    responses((status = 200, description = "The release: world, imports, describe, signature", body = ReleaseView), (status = 404, description = "No such release of a vendor the tenant trusts", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn get_release(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<String>,
) -> Result<JsonResponse<ReleaseView>, ApiError> {
    Ok(JsonResponse(state.services.releases().release(&principal.tenant_id, &ReleaseId::new(id)).await?.into()))
}

/// `POST /api/releases/{id}/approve`: installs this exact release in the
/// tenant as a plugin version, after checking its bytes, key and signature.
#[utoipa::path(post, path = "/api/releases/{id}/approve", tag = "catalogue", operation_id = "approve_release",
    params(("id" = String, Path, description = "The release")),
    responses(
        (status = 201, description = "The installed plugin version (bind it like an upload)", body = PluginView),
        (status = 404, description = "No such release of a vendor the tenant trusts", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Approved already, or yanked by its vendor (`release-yanked`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The stored bytes no longer match the digest (`digest-mismatch`), the key was revoked (`key-revoked`), the release was revoked (`release-revoked`), or the signature does not verify (`signature-invalid`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<String>,
) -> Result<(StatusCode, JsonResponse<PluginView>), ApiError> {
    let plugin = state.services.releases().approve(&principal.tenant_id, &ReleaseId::new(id), &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(plugin.into())))
}

/// A vendor the tenant trusts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrustedVendorView {
    vendor_id: String,
    /// When one of its releases is revoked, the tenant's bindings running it
    /// move to the previous approved version of the package (else they stop).
    fallback: bool,
    created_time: i64,
}

/// `GET /api/trusted-vendors`
#[utoipa::path(get, path = "/api/trusted-vendors", tag = "catalogue", operation_id = "list_trusted_vendors",
    responses((status = 200, description = "The vendors the tenant trusts, by vendor id", body = Vec<TrustedVendorView>)),
    security(("bearer" = [])))]
pub(crate) async fn trusted(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Vec<TrustedVendorView>>, ApiError> {
    let vendors = state.services.releases().trusted(&principal.tenant_id).await?;
    Ok(JsonResponse(
        vendors
            .into_iter()
            .map(|t| TrustedVendorView {
                vendor_id: t.vendor_id.into(),
                fallback: t.fallback,
                created_time: t.created_time,
            })
            .collect(),
    ))
}

/// `PUT /api/trusted-vendors/{vendor_id}` query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrustQuery {
    /// When one of the vendor's releases is revoked, move the tenant's
    /// bindings running it to the previous approved version of the package
    /// instead of stopping them. Default false.
    #[serde(default)]
    fallback: bool,
}

/// `PUT /api/trusted-vendors/{vendor_id}`: the vendor's releases become
/// visible to the tenant (each still needs an approval).
#[utoipa::path(put, path = "/api/trusted-vendors/{vendor_id}", tag = "catalogue", operation_id = "trust_vendor",
    params(("vendor_id" = String, Path, description = "The vendor"), TrustQuery),
    responses((status = 204, description = "Trusted (trusting again sets `fallback`)"), (status = 400, description = "A bad query", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such vendor", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn trust(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(vendor_id): Path<String>,
    Query(query): Query<TrustQuery>,
) -> Result<StatusCode, ApiError> {
    let vendor = VendorId::new(vendor_id);
    state.services.releases().trust(&principal.tenant_id, &vendor, query.fallback, &principal.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/trusted-vendors/{vendor_id}`: its releases are no longer
/// visible; versions approved already stay installed.
#[utoipa::path(delete, path = "/api/trusted-vendors/{vendor_id}", tag = "catalogue", operation_id = "distrust_vendor",
    params(("vendor_id" = String, Path, description = "The vendor")),
    responses((status = 204, description = "No longer trusted"), (status = 404, description = "The tenant does not trust this vendor", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn distrust(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(vendor_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.services.releases().distrust(&principal.tenant_id, &VendorId::new(vendor_id), &principal.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
