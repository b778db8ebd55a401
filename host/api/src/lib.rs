//! # nexus-api
//!
//! The HTTP edge, and the only crate that knows HTTP:
//!
//! - the ThingsBoard device API, `POST /api/v1/{accessToken}/telemetry`;
//! - the admin REST API under `/api/` (identity, plugins, devices, wells,
//!   bindings, alarms, recommendations, telemetry, failed runs, dead
//!   letters, events, notification rules and deliveries, and the audit
//!   log): every route is authenticated,
//!   authorized by its access class ([`access`]) and confined to the
//!   principal's tenant in one layer (`auth`); every change is audited.
//!
//! Handlers call the services (`nexus-services`) and nothing else: this
//! crate knows neither storage nor the plugin runtime. Requests and
//! responses are its own types (`views`).
//!
//! The operator console is served at `/` (`console`): static files built
//! into the binary that call this API with the user's token.
//!
//! Every request passes the edge layer first (`observe`): a request id
//! (`X-Request-Id`), a `request` span, its deadline and the HTTP series of
//! `/metrics`. `GET /healthz` (liveness) and `GET /readyz` (readiness) need
//! no credential.
//!
//! [`serve`] runs the router with a deadline on request heads.
//!
//! Every error is `application/problem+json` with a stable `code`
//! ([`ApiError`]).

pub mod access;
mod alarms;
mod approvals;
mod audit;
mod auth;
mod backtests;
mod connectors;
mod console;
mod device;
mod entities;
mod error;
mod forecasts;
mod identity;
mod json;
mod limits;
mod live;
mod metrics;
mod notifications;
mod observe;
mod openapi;
mod pacing;
mod plugins;
mod profiles;
mod ready;
mod records;
mod releases;
mod review;
mod rollouts;
mod rpc;
mod runs;
mod schema;
mod serve;
mod setpoints;
mod throttle;
mod views;
mod well_tests;
mod wellpads;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use nexus_model::Clock;
use nexus_services::Services;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

pub use auth::{TENANT_HEADER, TenantPrincipal};
pub use error::ApiError;
pub use json::MAX_JSON_BYTES;
pub use observe::{BUCKETS, MAX_REQUEST_ID, REQUEST_ID_HEADER, UNMATCHED};
pub use pacing::RefusalPacing;
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
    /// Failed logins per address (password guessing).
    failed_logins: Arc<TokenThrottle>,
    /// The HTTP series of `/metrics`.
    http: Arc<observe::HttpMetrics>,
    /// How long one request may take before it is answered 408.
    request_timeout: std::time::Duration,
    /// Holds refusals of rate-limited device requests.
    pacing: RefusalPacing,
}

impl AppState {
    /// State over the services and the host's clock.
    pub fn new(services: Services, clock: Clock) -> Self {
        Self {
            services,
            clock,
            failed_tokens: Arc::default(),
            failed_logins: Arc::default(),
            http: Arc::default(),
            request_timeout: HttpTimeouts::default().request,
            pacing: RefusalPacing::default(),
        }
    }

    /// The same state with another deadline on requests (from head read to
    /// response head); past it the answer is 408 `request-timeout`.
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same state with other pacing of rate-limited device requests.
    pub fn with_refusal_pacing(mut self, pacing: RefusalPacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The same state with another throttle of failed device-token guesses.
    pub fn with_token_throttle(mut self, throttle: TokenThrottle) -> Self {
        self.failed_tokens = Arc::new(throttle);
        self
    }
}

/// The whole HTTP API: the routes of [`openapi()`], the document itself at
/// `GET /api/openapi.json`, Swagger UI at `/swagger-ui` and the operator
/// console at `/` (all without credentials; their files are inside the
/// binary, and the console's data comes from the API with the user's
/// token).
///
/// Admin JSON bodies are limited to [`MAX_JSON_BYTES`], telemetry to
/// [`MAX_TELEMETRY_BYTES`], plugin uploads to the tenant profile's
/// `max_component_bytes` (default [`nexus_services::MAX_COMPONENT_BYTES`])
/// and vendors' releases to [`nexus_services::MAX_COMPONENT_BYTES_CEILING`];
/// over it the answer is 413 `payload-too-large`.
pub fn router(state: AppState) -> Router {
    let (router, _) = api_routes().split_for_parts();
    // Authentication, authorization, the acting tenant, rate limits and the
    // audit log, after routing (the layer reads the matched route).
    let router = router.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authorize));
    let swagger = utoipa_swagger_ui::SwaggerUi::new("/swagger-ui")
        .config(utoipa_swagger_ui::Config::from("/api/openapi.json").validator_url("none"));
    router
        .merge(Router::from(swagger))
        .merge(console::routes())
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no-route", "no such endpoint") })
        // Outermost: request id, span, deadline and HTTP series, for every
        // route and the fallback (it runs after routing, so it reads the
        // matched route template).
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::edge))
        .with_state(state)
}

/// The OpenAPI 3.1 document of [`router`]: every operation, its
/// parameters, bodies, answers and problem documents.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(api_routes().split_for_parts().1)
}

/// Every route, each with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<AppState> {
    // The system ceiling; each tenant's own limit is checked in the handler.
    let upload_limit = nexus_services::MAX_COMPONENT_BYTES_CEILING;
    let (schemas, paths, upload): UtoipaMethodRouter<AppState> = routes!(plugins::upload);
    let upload = (schemas, paths, upload.layer(DefaultBodyLimit::max(upload_limit)));
    let (schemas, paths, publish): UtoipaMethodRouter<AppState> = routes!(releases::publish, releases::vendor_releases);
    let publish = (schemas, paths, publish.layer(DefaultBodyLimit::max(upload_limit)));
    let (schemas, paths, telemetry): UtoipaMethodRouter<AppState> = routes!(device::post_telemetry);
    let telemetry = (schemas, paths, telemetry.layer(DefaultBodyLimit::max(MAX_TELEMETRY_BYTES)));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::healthz))
        .routes(routes!(ready::readyz))
        .routes(routes!(openapi::document))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::get_one))
        .routes(routes!(plugins::bind, plugins::list_bindings))
        .routes(routes!(plugins::get_binding))
        .routes(routes!(plugins::run_binding))
        .routes(routes!(plugins::swap))
        .routes(routes!(plugins::rollback))
        .routes(routes!(rollouts::start, rollouts::get))
        .routes(routes!(rollouts::promote))
        .routes(routes!(rollouts::abort))
        .routes(routes!(plugins::enable))
        .routes(routes!(plugins::set_auto_approve))
        .routes(routes!(plugins::release_device))
        .routes(routes!(plugins::metering))
        .routes(publish)
        .routes(routes!(releases::register_key, releases::keys))
        .routes(routes!(releases::revoke_key))
        .routes(routes!(releases::yank))
        .routes(routes!(releases::revoke))
        .routes(routes!(releases::catalogue))
        .routes(routes!(releases::get_release))
        .routes(routes!(review::review))
        .routes(routes!(releases::approve))
        .routes(routes!(releases::trusted))
        .routes(routes!(releases::trust, releases::distrust))
        .routes(routes!(backtests::start))
        .routes(routes!(backtests::get))
        .routes(routes!(runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::cancel))
        .routes(routes!(metrics::prometheus))
        .routes(routes!(profiles::get_own))
        .routes(routes!(profiles::put))
        .routes(routes!(identity::login))
        .routes(routes!(identity::refresh))
        .routes(routes!(identity::logout))
        .routes(routes!(identity::me))
        .routes(routes!(identity::create_tenant, identity::tenants))
        .routes(routes!(identity::create_tenant_user))
        .routes(routes!(identity::create_vendor, identity::vendors))
        .routes(routes!(identity::create_vendor_user))
        .routes(routes!(identity::create_user, identity::users))
        .routes(routes!(identity::delete_user))
        .routes(routes!(identity::create_key, identity::keys))
        .routes(routes!(identity::revoke_key))
        .routes(routes!(audit::list))
        .routes(routes!(plugins::usage))
        .routes(routes!(entities::create_wellpad))
        .routes(routes!(wellpads::get))
        .routes(routes!(wellpads::put_constraints))
        .routes(routes!(entities::create_well, entities::list_wells))
        .routes(routes!(entities::well_status))
        .routes(routes!(well_tests::record, well_tests::list))
        .routes(routes!(setpoints::put))
        .routes(routes!(setpoints::list))
        .routes(routes!(forecasts::list))
        .routes(routes!(entities::create_device, entities::list_devices))
        .routes(routes!(entities::get_device))
        .routes(routes!(entities::rotate_token))
        .routes(routes!(records::events))
        .routes(routes!(live::stream))
        .routes(routes!(records::latest))
        .routes(routes!(records::history))
        .routes(routes!(alarms::list))
        .routes(routes!(alarms::get_one))
        .routes(routes!(alarms::events))
        .routes(routes!(alarms::acknowledge))
        .routes(routes!(alarms::clear))
        .routes(routes!(alarms::assign))
        .routes(routes!(alarms::comment, alarms::comments))
        .routes(routes!(records::recommendations))
        .routes(routes!(approvals::get_one))
        .routes(routes!(approvals::transitions))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(rpc::poll))
        .routes(routes!(rpc::answer))
        .routes(routes!(records::plugin_runs))
        .routes(routes!(records::dead_letters))
        .routes(routes!(connectors::list, connectors::create))
        .routes(routes!(connectors::get, connectors::replace, connectors::delete))
        .routes(routes!(connectors::write_setpoint))
        .routes(routes!(notifications::list_rules, notifications::create_rule))
        .routes(routes!(notifications::get_rule, notifications::replace_rule, notifications::delete_rule))
        .routes(routes!(notifications::list_deliveries))
        .routes(routes!(notifications::retry_delivery))
        // Every JSON body of the admin API; the two routes above with
        // larger bodies keep their own (inner) limits.
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .routes(upload)
        .routes(telemetry)
}
