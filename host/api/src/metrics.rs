//! `GET /metrics` in the Prometheus text format (0.0.4). Who sees what:
//!
//! - a tenant's admin, operator or viewer (or an API key of theirs), and
//!   the system administrator naming a tenant with `X-Nexus-Tenant`: that
//!   tenant's series only — wells monitored, active alarms by severity,
//!   ingest points and frames by outcome, plugin counters by binding;
//! - the system administrator without `X-Nexus-Tenant`: every tenant's
//!   series and the host's own — HTTP requests and latency by route,
//!   database pools, outbox lag by subscriber, ingest batch counters.
//!
//! `deploy/grafana/series.txt` lists what the dashboard queries; the
//! end-to-end test `metrics` checks every line of it against a scrape.
//! `nexus_kafka_consumer_lag` is not exported yet: the Kafka connectors
//! do not report their lag.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use nexus_model::{ConnectorState, ConnectorStatus};
use nexus_services::{HostGauges, TenantGauges};

use crate::AppState;
use crate::auth::MonitorScope;
use crate::error::ApiError;

/// Prometheus text being written: families and their samples.
#[derive(Default)]
pub(crate) struct Exposition(String);

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; label values are escaped.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{label}=\"{}\"", escape(value));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.0
    }
}

/// A label value as the text format writes it: `\`, `"` and newlines
/// escaped.
fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// The caller's series (see the module documentation).
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "prometheus_metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4: the caller's tenant's series; \
            for the system administrator without `X-Nexus-Tenant`, every tenant's and the host's",
            body = String, content_type = "text/plain; version=0.0.4"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn prometheus(
    State(state): State<AppState>,
    scope: MonitorScope,
) -> Result<impl IntoResponse, ApiError> {
    let snapshot = state.services.monitor().snapshot(scope.0.as_ref()).await?;
    let mut out = Exposition::default();
    tenant_series(&snapshot.tenants, &mut out);
    connector_series(&state.services.connectors().statuses(scope.0.as_ref()), &mut out);
    if let Some(host) = &snapshot.host {
        state.http.render(&mut out);
        host_series(host, &mut out);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out.finish()))
}

/// A family whose samples are read off each tenant.
type TenantFamily<'a> = (&'static str, &'static str, &'a str, fn(&TenantGauges, &mut dyn FnMut(&[(&str, &str)], f64)));

fn tenant_series(tenants: &[TenantGauges], out: &mut Exposition) {
    let wells = format!(
        "Wells with a device whose newest reading is stamped within the last {} minutes.",
        nexus_services::MONITORED_WINDOW.as_secs() / 60
    );
    let families: [TenantFamily<'_>; 4] = [
        ("nexus_wells_monitored", "gauge", &wells, |t, emit| emit(&[], t.wells_monitored as f64)),
        ("nexus_active_alarms", "gauge", "Open alarms (ACTIVE_UNACK, ACTIVE_ACK) by severity.", |t, emit| {
            for (severity, n) in &t.open_alarms {
                emit(&[("severity", severity.as_str())], *n as f64);
            }
        }),
        ("nexus_ingest_points_total", "counter", "Readings stored by the ingest path.", |t, emit| {
            emit(&[], t.ingest.points as f64)
        }),
        (
            "nexus_ingest_frames_total",
            "counter",
            "Device frames by outcome: stored, rejected (the frame or its plugins), failed (the host), overloaded.",
            |t, emit| {
                for (outcome, n) in t.ingest.outcomes() {
                    emit(&[("outcome", outcome)], n as f64);
                }
            },
        ),
    ];
    for (name, kind, help, samples) in families {
        out.family(name, kind, help);
        for tenant in tenants {
            samples(tenant, &mut |labels: &[(&str, &str)], value: f64| {
                let mut all = vec![("tenant", tenant.tenant_id.as_str())];
                all.extend_from_slice(labels);
                out.sample(name, &all, value);
            });
        }
    }
    type Binding = fn(&nexus_services::BindingMetrics) -> f64;
    let plugin: [(&str, &str, Binding); 5] = [
        ("nexus_plugin_calls_total", "Plugin calls.", |m| m.calls as f64),
        ("nexus_plugin_faults_total", "Plugin calls that faulted (timeout, memory, trap, ...).", |m| m.faults as f64),
        ("nexus_plugin_rejections_total", "Plugin calls whose plugin rejected its input.", |m| m.rejections as f64),
        ("nexus_plugin_wall_seconds_total", "Wall time of plugin calls.", |m| m.wall_us as f64 / 1e6),
        ("nexus_plugin_fuel_total", "Fuel used by successful plugin calls.", |m| m.fuel as f64),
    ];
    for (name, help, value) in plugin {
        out.family(name, "counter", help);
        for m in tenants.iter().flat_map(|t| &t.bindings) {
            out.sample(name, &[("tenant", m.tenant_id.as_str()), ("binding", m.binding_id.as_str())], value(m));
        }
    }
}

/// A family whose samples are read off each connector's status.
type ConnectorFamily =
    (&'static str, &'static str, &'static str, fn(&ConnectorStatus, &mut dyn FnMut(&[(&str, &str)], f64)));

fn connector_series(statuses: &[ConnectorStatus], out: &mut Exposition) {
    let families: [ConnectorFamily; 6] = [
        ("nexus_connector_up", "gauge", "1 while a connector is connected and working, else 0.", |c, emit| {
            emit(&[("state", state_name(c.state))], if c.state == ConnectorState::Running { 1.0 } else { 0.0 })
        }),
        (
            "nexus_connector_frames_total",
            "counter",
            "Frames a connector delivered, by outcome (stored, refused).",
            |c, emit| {
                emit(&[("outcome", "stored")], c.frames as f64);
                emit(&[("outcome", "refused")], c.refused as f64);
            },
        ),
        ("nexus_connector_readings_total", "counter", "Readings stored from a connector's frames.", |c, emit| {
            emit(&[], c.readings as f64)
        }),
        (
            "nexus_connector_errors_total",
            "counter",
            "Protocol and device errors of a connector (it went on).",
            |c, emit| emit(&[], c.errors as f64),
        ),
        ("nexus_connector_restarts_total", "counter", "Restarts of a connector after a fault.", |c, emit| {
            emit(&[], c.restarts as f64)
        }),
        (
            "nexus_connector_setpoint_writes_total",
            "counter",
            "Setpoint writes through a connector, by outcome.",
            |c, emit| {
                emit(&[("outcome", "confirmed")], c.writes_ok as f64);
                emit(&[("outcome", "failed")], c.writes_failed as f64);
            },
        ),
    ];
    for (name, kind, help, samples) in families {
        out.family(name, kind, help);
        for status in statuses {
            samples(status, &mut |labels: &[(&str, &str)], value: f64| {
                let mut all = vec![
                    ("tenant", status.tenant_id.as_str()),
                    ("connector", status.connector_id.as_str()),
                    ("kind", status.kind.as_str()),
                ];
                all.extend_from_slice(labels);
                out.sample(name, &all, value);
            });
        }
    }
    // Only Kafka consumers have a lag: the family is left out without one.
    if statuses.iter().any(|s| !s.lag.is_empty()) {
        let name = "nexus_kafka_consumer_lag";
        out.family(name, "gauge", "Records past a Kafka connector's committed position, by partition.");
        for status in statuses {
            for lag in &status.lag {
                let partition = lag.partition.to_string();
                let labels = [
                    ("tenant", status.tenant_id.as_str()),
                    ("connector", status.connector_id.as_str()),
                    ("topic", lag.topic.as_str()),
                    ("partition", partition.as_str()),
                ];
                out.sample(name, &labels, lag.records as f64);
            }
        }
    }
}

fn state_name(state: ConnectorState) -> &'static str {
    match state {
        ConnectorState::Starting => "starting",
        ConnectorState::Running => "running",
        ConnectorState::Backoff => "backoff",
        ConnectorState::Stopped => "stopped",
    }
}

fn host_series(host: &HostGauges, out: &mut Exposition) {
    out.family("nexus_db_pool_connections", "gauge", "Open database connections by pool and state (idle, in_use).");
    for pool in &host.pools {
        out.sample("nexus_db_pool_connections", &[("pool", pool.pool), ("state", "idle")], f64::from(pool.idle));
        out.sample("nexus_db_pool_connections", &[("pool", pool.pool), ("state", "in_use")], f64::from(pool.in_use));
    }
    out.family("nexus_db_pool_max_connections", "gauge", "Most connections each database pool opens.");
    for pool in &host.pools {
        out.sample("nexus_db_pool_max_connections", &[("pool", pool.pool)], f64::from(pool.max));
    }
    out.family("nexus_outbox_lag_events", "gauge", "Outbox events appended after each running subscriber's cursor.");
    for (subscriber, lag) in &host.outbox_lag {
        out.sample("nexus_outbox_lag_events", &[("subscriber", subscriber.as_str())], *lag as f64);
    }
    let ingest = &host.ingest;
    let counters: [(&str, &str, f64); 6] = [
        ("nexus_ingest_batches_total", "Group commits of the ingest path.", ingest.batches as f64),
        ("nexus_ingest_batch_frames_total", "Frames taken into ingest batches.", ingest.frames as f64),
        ("nexus_ingest_process_seconds_total", "Time processing batches.", ingest.process_us as f64 / 1e6),
        ("nexus_ingest_commit_seconds_total", "Time committing batches.", ingest.commit_us as f64 / 1e6),
        (
            "nexus_hot_cache_skipped_total",
            "Latest-value writes the hot cache skipped (queue full or cache down).",
            host.hot_cache_skipped as f64,
        ),
        (
            "nexus_telemetry_tap_skipped_total",
            "Device commits not copied to a telemetry tap (pf.telemetry.validated): queue full or delivery failed.",
            host.telemetry_tap_skipped as f64,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.family("x", "gauge", "An example.");
        out.sample("x", &[("tenant", "a\"b\\c\nd"), ("k", "v")], 1.5);
        out.sample("y", &[], 2.0);
        assert_eq!(
            out.finish(),
            "# HELP x An example.\n# TYPE x gauge\nx{tenant=\"a\\\"b\\\\c\\nd\",k=\"v\"} 1.5\ny 2\n"
        );
    }
}
