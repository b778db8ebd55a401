//! Notification rules (which alarm transitions go to which webhook or
//! email addresses) and their deliveries. A webhook's secret is taken,
//! never shown.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use nexus_model::{
    self as model, DeliveryStatus, NotificationDeliveryId, NotificationFilter, NotificationRuleId, Severity,
    TransitionKind,
};
use nexus_services::{ChannelRequest, RuleRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path, Query, page_limit};
use crate::schema::{self, Problem};

/// Which alarm transitions a rule sends; every condition must hold.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterBody {
    /// Only alarms of these types (empty or absent: every type).
    #[serde(default)]
    alarm_types: Vec<String>,
    /// Only alarms at least this severe; not with `severities`.
    #[schema(value_type = Option<schema::Severity>)]
    min_severity: Option<Severity>,
    /// Only alarms of these severities (empty or absent: every severity).
    #[serde(default)]
    #[schema(value_type = Vec<schema::Severity>)]
    severities: Vec<Severity>,
    /// Only these transitions (absent: `RAISED`, `ESCALATED`, `CLEARED`;
    /// `UPDATED` is not an event).
    #[schema(value_type = Option<Vec<schema::TransitionKind>>)]
    transitions: Option<Vec<TransitionKind>>,
}

/// Where a rule sends.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ChannelBody {
    /// A signed `POST` of the notification's JSON.
    Webhook {
        /// An `http` or `https` URL.
        url: String,
        /// The HMAC-SHA256 key (16 to 256 characters), never shown again.
        /// Required for a new webhook; absent on a replace, the stored one
        /// is kept.
        secret: Option<String>,
    },
    /// An email over the host's SMTP server.
    Email {
        /// 1 to 50 addresses.
        to: Vec<String>,
    },
}

/// A notification rule to create, or to replace one with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleBody {
    /// Unique in the tenant.
    name: String,
    /// Whether it matches new events (default true).
    #[serde(default = "enabled")]
    enabled: bool,
    /// Which alarm transitions it sends (absent: every alarm's `RAISED`,
    /// `ESCALATED` and `CLEARED`).
    #[serde(default)]
    filter: Option<FilterBody>,
    /// Where.
    channel: ChannelBody,
}

fn enabled() -> bool {
    true
}

impl From<RuleBody> for RuleRequest {
    fn from(body: RuleBody) -> Self {
        let filter = body.filter.map_or_else(
            || NotificationFilter {
                transitions: NotificationFilter::DEFAULT_TRANSITIONS.to_vec(),
                ..NotificationFilter::default()
            },
            |f| NotificationFilter {
                alarm_types: f.alarm_types,
                min_severity: f.min_severity,
                severities: f.severities,
                transitions: f.transitions.unwrap_or_else(|| NotificationFilter::DEFAULT_TRANSITIONS.to_vec()),
            },
        );
        let channel = match body.channel {
            ChannelBody::Webhook { url, secret } => ChannelRequest::Webhook { url, secret },
            ChannelBody::Email { to } => ChannelRequest::Email { to },
        };
        RuleRequest { name: body.name, enabled: body.enabled, filter, channel }
    }
}

/// A rule's channel, without the webhook's secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ChannelView {
    /// A signed `POST` of the notification's JSON.
    Webhook {
        /// The URL.
        url: String,
    },
    /// An email.
    Email {
        /// The recipients.
        to: Vec<String>,
    },
}

/// A notification rule (never its webhook's secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleView {
    id: String,
    tenant_id: String,
    name: String,
    enabled: bool,
    filter: FilterBody,
    channel: ChannelView,
    created_time: i64,
    updated_time: i64,
}

impl From<model::NotificationRule> for RuleView {
    fn from(rule: model::NotificationRule) -> Self {
        let channel = match rule.channel {
            model::Channel::Webhook { url, .. } => ChannelView::Webhook { url },
            model::Channel::Email { to } => ChannelView::Email { to },
        };
        let filter = FilterBody {
            alarm_types: rule.filter.alarm_types,
            min_severity: rule.filter.min_severity,
            severities: rule.filter.severities,
            transitions: Some(rule.filter.transitions),
        };
        Self {
            id: rule.id.into(),
            tenant_id: rule.tenant_id.into(),
            name: rule.name,
            enabled: rule.enabled,
            filter,
            channel,
            created_time: rule.created_time,
            updated_time: rule.updated_time,
        }
    }
}

/// One rule's sending of one event.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// Also the receivers' idempotency key (`X-Nexus-Delivery`).
    id: String,
    rule_id: String,
    /// The event's position in the outbox.
    event_seq: i64,
    /// The event's type (`alarm`).
    event_type: String,
    /// The alarm, for an alarm transition.
    alarm_id: Option<String>,
    /// What the alarm did.
    #[schema(value_type = Option<schema::TransitionKind>)]
    transition: Option<TransitionKind>,
    #[schema(value_type = schema::ChannelKind)]
    channel: model::ChannelKind,
    #[schema(value_type = schema::DeliveryStatus)]
    status: DeliveryStatus,
    /// Attempts so far (since the last retry by hand).
    attempts: u32,
    /// Why the last attempt failed.
    last_error: Option<String>,
    /// When a pending delivery is due, ms.
    next_attempt_time: Option<i64>,
    created_time: i64,
    updated_time: i64,
    sent_time: Option<i64>,
}

impl From<model::NotificationDelivery> for DeliveryView {
    fn from(d: model::NotificationDelivery) -> Self {
        let (alarm_id, transition) = match &d.event.body {
            model::EventBody::Alarm(t) => (Some(t.alarm.id.to_string()), Some(t.action)),
            _ => (None, None),
        };
        Self {
            id: d.id.into(),
            rule_id: d.rule_id.into(),
            event_seq: d.event.seq.0,
            event_type: d.event.body.type_name().into(),
            alarm_id,
            transition,
            channel: d.channel,
            status: d.status,
            attempts: d.attempts,
            last_error: d.last_error,
            next_attempt_time: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_time),
            created_time: d.created_time,
            updated_time: d.updated_time,
            sent_time: d.sent_time,
        }
    }
}

/// A page of items: `X-Next-After` names the last one when the page is
/// full (more may follow).
fn paged<T, V: Serialize + From<T>>(items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Response {
    let next = (items.len() == limit as usize).then(|| items.last().map(&id)).flatten();
    crate::views::with_next(crate::views::all::<T, V>(items), next)
}

/// Lists the tenant's notification rules, by name.
#[utoipa::path(get, path = "/api/notification-rules", tag = "notifications", operation_id = "list_notification_rules",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The rules, by name (never a webhook's secret)", body = Vec<RuleView>,
            headers(("x-next-after" = String, description = "The last id of a full page: pass it as `after`"))),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_rules(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<Response, ApiError> {
    let page = page.page()?;
    let rules = state.services.notifications().list(&principal.tenant_id, &page).await?;
    Ok(paged::<_, RuleView>(rules, page.limit, |r| r.id.to_string()))
}

/// Creates a notification rule.
#[utoipa::path(post, path = "/api/notification-rules", tag = "notifications", operation_id = "create_notification_rule",
    request_body = RuleBody,
    responses(
        (status = 201, description = "The rule (without the webhook's secret)", body = RuleView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a filter that matches nothing, `invalid-webhook-url`, `invalid-webhook-secret`, `invalid-email`, `email-not-configured`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A rule of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_rule(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<RuleBody>,
) -> Result<(StatusCode, JsonResponse<RuleView>), ApiError> {
    let rule = state.services.notifications().create(&principal.tenant_id, body.into(), &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(rule.into())))
}

/// Reads one notification rule.
#[utoipa::path(get, path = "/api/notification-rules/{id}", tag = "notifications", operation_id = "get_notification_rule",
    params(("id" = String, Path, description = "The rule")),
    responses(
        (status = 200, description = "The rule (without the webhook's secret)", body = RuleView),
        (status = 404, description = "No such notification rule in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_rule(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<NotificationRuleId>,
) -> Result<JsonResponse<RuleView>, ApiError> {
    Ok(JsonResponse(state.services.notifications().get(&principal.tenant_id, &id).await?.into()))
}

/// Replaces a notification rule: name, enabled, filter and channel; a
/// webhook without `secret` keeps the stored one. Deliveries already
/// enqueued are sent over the channel as it is when they are attempted.
#[utoipa::path(put, path = "/api/notification-rules/{id}", tag = "notifications", operation_id = "replace_notification_rule",
    params(("id" = String, Path, description = "The rule")),
    request_body = RuleBody,
    responses(
        (status = 200, description = "The rule (without the webhook's secret)", body = RuleView),
        (status = 400, description = "A bad body (as for creating one)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification rule in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another rule has that name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn replace_rule(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<NotificationRuleId>,
    Json(body): Json<RuleBody>,
) -> Result<JsonResponse<RuleView>, ApiError> {
    let notifications = state.services.notifications();
    Ok(JsonResponse(notifications.replace(&principal.tenant_id, &id, body.into(), &principal.actor).await?.into()))
}

/// Deletes a notification rule and its deliveries.
#[utoipa::path(delete, path = "/api/notification-rules/{id}", tag = "notifications", operation_id = "delete_notification_rule",
    params(("id" = String, Path, description = "The rule")),
    responses(
        (status = 204, description = "Deleted, with its deliveries"),
        (status = 404, description = "No such notification rule in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete_rule(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<NotificationRuleId>,
) -> Result<StatusCode, ApiError> {
    state.services.notifications().delete(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// Only deliveries in this state.
    #[param(value_type = Option<schema::DeliveryStatus>)]
    status: Option<DeliveryStatus>,
    /// The id of the last delivery of the previous page.
    after: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Lists the tenant's notification deliveries in event order.
#[utoipa::path(get, path = "/api/notification-deliveries", tag = "notifications", operation_id = "list_notification_deliveries",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "The deliveries, in event order", body = Vec<DeliveryView>,
            headers(("x-next-after" = String, description = "The last id of a full page: pass it as `after`"))),
        (status = 400, description = "A bad query: unknown parameter or status, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<DeliveryQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, model::Page::DEFAULT, model::Page::MAX)?;
    let page = model::Page { after: query.after, limit };
    let deliveries = state.services.notifications().deliveries(&principal.tenant_id, query.status, &page).await?;
    Ok(paged::<_, DeliveryView>(deliveries, limit, |d| d.id.to_string()))
}

/// Sends a dead delivery again, now, with a fresh budget of attempts (for
/// example once its rule's URL is fixed).
#[utoipa::path(post, path = "/api/notification-deliveries/{id}/retry", tag = "notifications", operation_id = "retry_notification_delivery",
    params(("id" = String, Path, description = "The delivery")),
    responses(
        (status = 200, description = "The delivery, pending again", body = DeliveryView),
        (status = 404, description = "No such delivery in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is not dead (it is pending or sent)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn retry_delivery(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<NotificationDeliveryId>,
) -> Result<JsonResponse<DeliveryView>, ApiError> {
    Ok(JsonResponse(state.services.notifications().retry(&principal.tenant_id, &id).await?.into()))
}
