//! `GET /api/releases/{id}/review`: a release beside the versions of its
//! package the tenant runs, with what approving it would change.

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::ReleaseId;
use nexus_services::Review;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Path;
use crate::releases::ReleaseView;
use crate::schema::Problem;

/// A version of the package the tenant runs now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InUseView {
    plugin_id: String,
    version: String,
    /// The release it was approved from; none for a tenant's own upload.
    release_id: Option<String>,
    created_time: i64,
    /// The bindings running it.
    binding_ids: Vec<String>,
}

/// A release and what approving it would change in the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReviewView {
    release: ReleaseView,
    /// The package's versions the tenant's bindings run, newest first.
    in_use: Vec<InUseView>,
    /// Against the newest version in use: configuration properties added, removed, retyped or changed, and newly required or optional.
    config_changes: Vec<String>,
    /// Against the newest version in use that is a release: imports added.
    imports_added: Vec<String>,
    /// … and imports dropped.
    imports_removed: Vec<String>,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        Self {
            release: r.release.into(),
            in_use: r
                .in_use
                .into_iter()
                .map(|u| InUseView {
                    plugin_id: u.plugin.id.into(),
                    version: u.plugin.version,
                    release_id: u.plugin.release_id.map(Into::into),
                    created_time: u.plugin.created_time,
                    binding_ids: u.bindings.into_iter().map(Into::into).collect(),
                })
                .collect(),
            config_changes: r.config_changes,
            imports_added: r.imports_added,
            imports_removed: r.imports_removed,
        }
    }
}

/// `GET /api/releases/{id}/review`
#[utoipa::path(get, path = "/api/releases/{id}/review", tag = "catalogue", operation_id = "review_release",
    params(("id" = String, Path, description = "The release")),
    responses(
        (status = 200, description = "The release, the package's versions in use and what changes against the newest of them", body = ReviewView),
        (status = 404, description = "No such release of a vendor the tenant trusts", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn review(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<String>,
) -> Result<JsonResponse<ReviewView>, ApiError> {
    Ok(JsonResponse(state.services.releases().review(&principal.tenant_id, &ReleaseId::new(id)).await?.into()))
}
