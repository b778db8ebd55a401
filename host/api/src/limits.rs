//! Rate limits of the REST API, for the authentication layer: once a
//! request's principal is known, [`check_request`] takes one request from
//! its windows (per user or API key, and per tenant, from its tenant's
//! profile). A refusal is 429 `rate-limited` with `Retry-After`.

use crate::AppState;
use crate::error::ApiError;

/// Takes one request of `principal` from its tenant profile's rate limits
/// (`rate_limits.per_user` keyed by [`nexus_model::Principal::subject`],
/// and `rate_limits.per_tenant`); the system administrator is not limited.
/// Refused: 429 problem+json `rate-limited`, `Retry-After` in whole seconds
/// (rounded up, at least 1), `limit` naming the profile field.
pub(crate) async fn check_request(state: &AppState, principal: &nexus_model::Principal) -> Result<(), ApiError> {
    Ok(state.services.limits().check_request(principal).await?)
}
