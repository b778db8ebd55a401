//! # nexus-api
//!
//! The HTTP edge, and the only crate that knows HTTP:
//!
//! - the ThingsBoard device API, `POST /api/v1/{accessToken}/telemetry`;
//! - the admin REST API under `/api/` (identity, plugins, devices, wells,
//!   bindings, alarms, recommendations, telemetry, failed runs, dead
//!   letters, events and the audit log): every route is authenticated,
//!   authorized by its access class ([`access`]) and confined to the
//!   principal's tenant in one layer (`auth`); every change is audited.
//!
//! Handlers call the services (`nexus-services`) and nothing else: this
//! crate knows neither storage nor the plugin runtime. Requests and
//! responses are its own types (`views`).
//!
//! [`serve`] runs the router with deadlines on request heads and requests.
//!
//! Every error is `application/problem+json` with a stable `code`
//! ([`ApiError`]).

pub mod access;
mod alarms;
mod audit;
mod auth;
mod device;
mod entities;
mod error;
mod identity;
mod json;
mod limits;
mod metrics;
mod plugins;
mod profiles;
mod records;
mod serve;
mod throttle;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use nexus_model::Clock;
use nexus_services::Services;

pub use auth::{TENANT_HEADER, TenantPrincipal};
pub use error::ApiError;
pub use serve::{HttpTimeouts, serve};
pub use throttle::TokenThrottle;

/// Largest telemetry request body (1 MiB).
pub const MAX_TELEMETRY_BYTES: usize = 1 << 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    services: Services,
    clock: Clock,
    failed_tokens: Arc<TokenThrottle>,
}

impl AppState {
    /// State over the services and the host's clock.
    pub fn new(services: Services, clock: Clock) -> Self {
        Self { services, clock, failed_tokens: Arc::default() }
    }

    /// The same state with another throttle of failed device-token guesses.
    pub fn with_token_throttle(mut self, throttle: TokenThrottle) -> Self {
        self.failed_tokens = Arc::new(throttle);
        self
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let upload_limit = nexus_services::MAX_COMPONENT_BYTES;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/api/v1/{token}/telemetry",
            post(device::post_telemetry).layer(DefaultBodyLimit::max(MAX_TELEMETRY_BYTES)),
        )
        .route("/api/plugins", post(plugins::upload).layer(DefaultBodyLimit::max(upload_limit)).get(plugins::list))
        .route("/api/plugins/{id}", get(plugins::get_one))
        .route("/api/bindings", post(plugins::bind).get(plugins::list_bindings))
        .route("/api/bindings/{id}", get(plugins::get_binding))
        .route("/api/bindings/{id}/run", post(plugins::run_binding))
        .route("/api/bindings/{id}/plugin", axum::routing::put(plugins::swap))
        .route("/api/bindings/{id}/enable", post(plugins::enable))
        .route("/api/bindings/{id}/devices/{device_id}/release", post(plugins::release_device))
        .route("/api/auth/login", post(identity::login))
        .route("/api/auth/refresh", post(identity::refresh))
        .route("/api/auth/logout", post(identity::logout))
        .route("/api/auth/me", get(identity::me))
        .route("/api/tenants", post(identity::create_tenant).get(identity::tenants))
        .route("/api/tenants/{tenant_id}/users", post(identity::create_tenant_user))
        .route("/api/vendors", post(identity::create_vendor).get(identity::vendors))
        .route("/api/vendors/{vendor_id}/users", post(identity::create_vendor_user))
        .route("/api/users", post(identity::create_user).get(identity::users))
        .route("/api/users/{id}", axum::routing::delete(identity::delete_user))
        .route("/api/api-keys", post(identity::create_key).get(identity::keys))
        .route("/api/api-keys/{id}", axum::routing::delete(identity::revoke_key))
        .route("/api/audit", get(audit::list))
        .route("/api/metering", get(plugins::metering))
        .route("/metrics", get(metrics::prometheus))
        .route("/api/tenant/profile", get(profiles::get_own))
        .route("/api/tenants/{tenant_id}/profile", axum::routing::put(profiles::put))
        .route("/api/tenant/usage", get(plugins::usage))
        .route("/api/wellpads", post(entities::create_wellpad))
        .route("/api/wells", post(entities::create_well).get(entities::list_wells))
        .route("/api/devices", post(entities::create_device).get(entities::list_devices))
        .route("/api/devices/{id}", get(entities::get_device))
        .route("/api/devices/{id}/token", post(entities::rotate_token))
        .route("/api/events", get(records::events))
        .route("/api/devices/{id}/telemetry/latest", get(records::latest))
        .route("/api/devices/{id}/telemetry", get(records::history))
        .route("/api/alarms", get(alarms::list))
        .route("/api/alarms/{id}", get(alarms::get_one))
        .route("/api/alarms/{id}/events", get(alarms::events))
        .route("/api/alarms/{id}/ack", post(alarms::acknowledge))
        .route("/api/alarms/{id}/clear", post(alarms::clear))
        .route("/api/alarms/{id}/assign", post(alarms::assign))
        .route("/api/alarms/{id}/comments", post(alarms::comment).get(alarms::comments))
        .route("/api/recommendations", get(records::recommendations))
        .route("/api/plugin-runs", get(records::plugin_runs))
        .route("/api/dead-letters", get(records::dead_letters))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize))
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no-route", "no such endpoint") })
        .with_state(state)
}
