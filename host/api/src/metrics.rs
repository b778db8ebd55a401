//! `GET /metrics`: the caller's tenant's plugin counters in the Prometheus
//! text format (scrape with the admin bearer token).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;
use crate::auth::TenantPrincipal;

/// A metric family: name, type, help and how to read it off a binding's counters.
type Family = (&'static str, &'static str, &'static str, fn(&nexus_services::BindingMetrics) -> f64);

/// The tenant's plugin counters and the host's ingest counters in the
/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "tenant", operation_id = "prometheus_metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain; version=0.0.4"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn prometheus(State(state): State<AppState>, principal: TenantPrincipal) -> impl IntoResponse {
    let metrics = state.services.plugins().metering(&principal.tenant_id);
    let mut out = String::new();
    let families: [Family; 5] = [
        ("nexus_plugin_calls_total", "counter", "Plugin calls.", |m| m.calls as f64),
        ("nexus_plugin_faults_total", "counter", "Plugin calls that faulted (timeout, memory, trap, ...).", |m| {
            m.faults as f64
        }),
        ("nexus_plugin_rejections_total", "counter", "Plugin calls whose plugin rejected its input.", |m| {
            m.rejections as f64
        }),
        ("nexus_plugin_wall_seconds_total", "counter", "Wall time of plugin calls.", |m| m.wall_us as f64 / 1e6),
        ("nexus_plugin_fuel_total", "counter", "Fuel used by successful plugin calls.", |m| m.fuel as f64),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for m in &metrics {
            let _ = writeln!(out, "{name}{{tenant=\"{}\",binding=\"{}\"}} {}", m.tenant_id, m.binding_id, value(m));
        }
    }
    let ingest = state.services.ingest().stats();
    let counters: [(&str, &str, f64); 6] = [
        ("nexus_ingest_batches_total", "Group commits of the ingest path.", ingest.batches as f64),
        ("nexus_ingest_batch_frames_total", "Frames answered by the ingest path.", ingest.frames as f64),
        (
            "nexus_ingest_overloaded_total",
            "Frames refused because the ingest queue was full.",
            ingest.overloaded as f64,
        ),
        ("nexus_ingest_points_stored_total", "Readings stored by the ingest path.", ingest.points as f64),
        ("nexus_ingest_process_seconds_total", "Time processing batches.", ingest.process_us as f64 / 1e6),
        ("nexus_ingest_commit_seconds_total", "Time committing batches.", ingest.commit_us as f64 / 1e6),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
