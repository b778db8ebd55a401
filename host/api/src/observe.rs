//! The edge of every request, in front of everything else the router does:
//! a request id (the caller's `X-Request-Id` when sane, else a new one;
//! echoed in the response), a `request` span carrying it with the method,
//! the route template, the status and the latency (so every log line inside
//! the request carries the id), the request's deadline (408
//! `request-timeout`), and the HTTP series of `/metrics`: requests by
//! method, route and status, and a latency histogram by method and route.
//! Routes are templates (`MatchedPath`), never raw paths; a request no
//! route matched is `unmatched`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::Exposition;

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id taken from a caller.
pub const MAX_REQUEST_ID: usize = 128;
/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";
/// Upper bounds of the latency histogram's buckets, seconds (1 ms … 10 s).
pub const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A request's id, in its extensions for the layers and handlers after the
/// edge (the audit log records it).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) HeaderValue);

impl RequestId {
    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// A request id: the caller's `x-request-id` when it is 1 to
/// [`MAX_REQUEST_ID`] characters of `A-Z a-z 0-9 - _ . :`, else a new
/// random one (a UUID).
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    let sane = |v: &&HeaderValue| {
        (1..=MAX_REQUEST_ID).contains(&v.len())
            && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    headers.get(REQUEST_ID_HEADER).filter(sane).cloned().unwrap_or_else(|| {
        HeaderValue::from_str(nexus_model::SessionId::random().as_str()).unwrap_or(HeaderValue::from_static("unknown"))
    })
}

/// The layer at the edge of every request (see the module documentation).
pub(crate) async fn edge(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method,
        route = route.as_str(),
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let limit = state.request_timeout;
    let mut response = match tokio::time::timeout(limit, next.run(request)).instrument(span.clone()).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .with("note", "a telemetry frame may still have been stored; sending it again stores nothing twice")
        .into_response(),
    };
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status).record("latency_ms", elapsed.as_secs_f64() * 1e3);
    span.in_scope(|| tracing::debug!("Request answered."));
    state.http.observe(method, &route, status, elapsed);
    response
}

/// The method as a label: the standard ones by name, anything else `other`
/// (a bounded set).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN.iter().find(|(m, _)| m == method).map_or("other", |(_, name)| name)
}

/// One (method, route)'s requests by status and its latency histogram.
#[derive(Default)]
struct RouteSeries {
    by_status: HashMap<u16, u64>,
    /// Requests per bucket (not cumulative); past the last bound only in
    /// `count`.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The HTTP series since the server started.
#[derive(Default)]
pub(crate) struct HttpMetrics {
    /// Route → method → series.
    routes: Mutex<HashMap<String, HashMap<&'static str, RouteSeries>>>,
}

impl HttpMetrics {
    /// Counts one answered request.
    fn observe(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let methods = match routes.get_mut(route) {
            Some(methods) => methods,
            None => routes.entry(route.to_string()).or_default(),
        };
        let series = methods.entry(method).or_default();
        *series.by_status.entry(status).or_default() += 1;
        if let Some(bucket) = BUCKETS.iter().position(|&le| seconds <= le) {
            series.buckets[bucket] += 1;
        }
        series.count += 1;
        series.sum += seconds;
    }

    /// `nexus_http_requests_total` and `nexus_http_request_duration_seconds`.
    pub(crate) fn render(&self, out: &mut Exposition) {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<(&str, &str)> =
            routes.iter().flat_map(|(route, methods)| methods.keys().map(move |m| (route.as_str(), *m))).collect();
        keys.sort_unstable();
        let series = |route: &str, method: &str| routes.get(route).and_then(|m| m.get(method));
        let requests = "nexus_http_requests_total";
        out.family(requests, "counter", "HTTP requests answered, by method, route template and status.");
        for &(route, method) in &keys {
            let Some(s) = series(route, method) else { continue };
            let mut statuses: Vec<_> = s.by_status.iter().collect();
            statuses.sort_unstable();
            for (status, n) in statuses {
                let status = status.to_string();
                out.sample(requests, &[("method", method), ("route", route), ("status", &status)], *n as f64);
            }
        }
        let duration = "nexus_http_request_duration_seconds";
        out.family(duration, "histogram", "Time to answer an HTTP request (to the response head), seconds.");
        let mut le = String::new();
        for &(route, method) in &keys {
            let Some(s) = series(route, method) else { continue };
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                le.clear();
                let _ = write!(le, "{bound}");
                out.sample(
                    "nexus_http_request_duration_seconds_bucket",
                    &[("method", method), ("route", route), ("le", &le)],
                    cumulative as f64,
                );
            }
            let labels = [("method", method), ("route", route)];
            out.sample(
                "nexus_http_request_duration_seconds_bucket",
                &[("method", method), ("route", route), ("le", "+Inf")],
                s.count as f64,
            );
            out.sample("nexus_http_request_duration_seconds_sum", &labels, s.sum);
            out.sample("nexus_http_request_duration_seconds_count", &labels, s.count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_request_ids_are_kept_and_others_replaced() {
        let with = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(v).expect("header"));
            request_id(&headers)
        };
        assert_eq!(with("abc-123_x.y:z"), "abc-123_x.y:z");
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        for insane in [long.as_str(), "has space", "semi;colon", "quote\"", "<script>"] {
            let id = with(insane);
            assert_ne!(id, insane);
            assert_eq!(id.len(), 36, "a UUID: {id:?}");
        }
        assert_eq!(request_id(&HeaderMap::new()).len(), 36);
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_request() {
        let metrics = HttpMetrics::default();
        for ms in [0, 3, 3, 40, 20_000] {
            metrics.observe("GET", "/api/wells", 200, Duration::from_millis(ms));
        }
        metrics.observe("POST", "/api/wells", 201, Duration::from_millis(2));
        metrics.observe("GET", UNMATCHED, 404, Duration::from_millis(1));
        let mut out = Exposition::default();
        metrics.render(&mut out);
        let text = out.finish();
        let line = |needle: &str| text.lines().find(|l| l.starts_with(needle)).map(str::to_string);
        let get = r#"method="GET",route="/api/wells""#;
        assert_eq!(
            line(&format!("nexus_http_requests_total{{{get},status=\"200\"}}")).as_deref().map(value),
            Some(5.0)
        );
        assert_eq!(
            line(&format!("nexus_http_request_duration_seconds_bucket{{{get},le=\"0.001\"}}")).as_deref().map(value),
            Some(1.0)
        );
        assert_eq!(
            line(&format!("nexus_http_request_duration_seconds_bucket{{{get},le=\"0.005\"}}")).as_deref().map(value),
            Some(3.0)
        );
        assert_eq!(
            line(&format!("nexus_http_request_duration_seconds_bucket{{{get},le=\"10\"}}")).as_deref().map(value),
            Some(4.0)
        );
        assert_eq!(
            line(&format!("nexus_http_request_duration_seconds_bucket{{{get},le=\"+Inf\"}}")).as_deref().map(value),
            Some(5.0)
        );
        assert_eq!(
            line(&format!("nexus_http_request_duration_seconds_count{{{get}}}")).as_deref().map(value),
            Some(5.0)
        );
        assert!(text.contains(r#"nexus_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
        assert!(
            text.contains(r#"nexus_http_requests_total{method="POST",route="/api/wells",status="201"} 1"#),
            "{text}"
        );
    }

    fn value(line: &str) -> f64 {
        line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    }
}
