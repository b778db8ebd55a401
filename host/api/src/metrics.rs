//! `GET /metrics`: the caller's tenant's plugin counters in the Prometheus
//! text format (scrape with the admin bearer token).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;
use crate::auth::Principal;

/// A metric family: name, type, help and how to read it off a binding's counters.
type Family = (&'static str, &'static str, &'static str, fn(&nexus_services::BindingMetrics) -> f64);

/// Renders per-binding counters as Prometheus metrics.
pub(crate) async fn prometheus(State(state): State<AppState>, principal: Principal) -> impl IntoResponse {
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
