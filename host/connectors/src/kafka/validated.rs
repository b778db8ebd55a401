//! `pf.telemetry.validated`: the Kafka producer as a telemetry tap. Each
//! device's readings of one commit become one record, keyed by the device
//! (so the order per device holds), in ThingsBoard's shape, samples grouped
//! by time:
//!
//! ```json
//! {"type": "telemetry", "tenant_id": "acme", "key": "<device id>",
//!  "device_id": "<device id>", "committed_at": 1764633600123,
//!  "samples": [{"ts": 1764633600000, "values": {"pip_psi": 1520.5, "running": true},
//!               "quality": {"pip_psi": 0.5}}]}
//! ```
//!
//! `quality` lists only the values whose quality is below 1 (good), and is
//! left out when there are none. A copy after the commit (see
//! `nexus_services::TelemetryTap`): at most once. The records the brokers
//! did not take are sent again, at most [`ATTEMPTS`] times in all (the
//! ones they took are not: no copy twice), before the rest are skipped.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{Series, TimestampMs};
use nexus_services::{TappedTelemetry, TelemetryTap};
use serde_json::{Map, Value, json};

use super::KafkaPublisher;

/// Sends of one record at most.
const ATTEMPTS: usize = 3;
/// The pause before the second send, doubled before each later one.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

#[async_trait]
impl TelemetryTap for KafkaPublisher {
    fn name(&self) -> &str {
        "kafka"
    }

    async fn deliver(&self, batch: &[TappedTelemetry]) -> Result<(), String> {
        let mut records = Vec::with_capacity(batch.len());
        for telemetry in batch {
            let json = serde_json::to_vec(&record(telemetry)).map_err(|e| e.to_string())?;
            records.push((self.topics.validated.as_str(), telemetry.device_id.as_str(), json));
        }
        let mut failed: Vec<usize> = (0..records.len()).collect();
        let mut pause = RETRY_AFTER;
        let mut last_error = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tracing::debug!(records = failed.len(), error = %last_error, "Resending telemetry Kafka did not take.");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let resend: Vec<_> = failed.iter().map(|&i| records[i].clone()).collect();
            let outcomes = self.send_each(&resend).await;
            let mut still = Vec::new();
            for (index, outcome) in outcomes {
                if let Err(error) = outcome {
                    still.push(failed[index]);
                    last_error = error;
                }
            }
            still.sort_unstable();
            failed = still;
            if failed.is_empty() {
                return Ok(());
            }
        }
        Err(format!("{} record(s) after {ATTEMPTS} sends: {last_error}", failed.len()))
    }
}

/// The record of one device's commit.
fn record(telemetry: &TappedTelemetry) -> Value {
    json!({
        "type": "telemetry",
        "tenant_id": telemetry.tenant_id,
        "key": telemetry.device_id,
        "device_id": telemetry.device_id,
        "committed_at": telemetry.committed_at,
        "samples": samples(&telemetry.series),
    })
}

/// One time's values and the qualities below good, by key.
type Sample = (Map<String, Value>, Map<String, Value>);

/// The series' values grouped by time, oldest first.
fn samples(series: &[Series]) -> Vec<Value> {
    let mut by_ts: BTreeMap<TimestampMs, Sample> = BTreeMap::new();
    for s in series {
        for (i, &ts) in s.ts.iter().enumerate() {
            let Some(value) = s.values.get(i) else { continue };
            let (values, quality) = by_ts.entry(ts).or_default();
            values.insert(s.key.clone(), serde_json::to_value(value).unwrap_or(Value::Null));
            let q = s.quality_at(i);
            if q < 1.0 {
                quality.insert(s.key.clone(), json!(q));
            }
        }
    }
    by_ts
        .into_iter()
        .map(|(ts, (values, quality))| {
            let mut sample = json!({"ts": ts, "values": values});
            if !quality.is_empty() {
                sample["quality"] = Value::Object(quality);
            }
            sample
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use nexus_model::{Column, DeviceId, TenantId};

    use super::*;

    #[test]
    fn a_commit_is_one_record_of_samples_grouped_by_time() {
        let telemetry = TappedTelemetry {
            tenant_id: TenantId::new("acme"),
            device_id: DeviceId::new("d-1"),
            committed_at: 99,
            series: vec![
                Series { key: "p".into(), ts: vec![2, 1], values: Column::Number(vec![2.5, 1.5]), quality: vec![] },
                Series { key: "run".into(), ts: vec![1], values: Column::Boolean(vec![true]), quality: vec![0.5] },
            ],
        };
        assert_eq!(
            record(&telemetry),
            json!({"type": "telemetry", "tenant_id": "acme", "key": "d-1", "device_id": "d-1", "committed_at": 99,
            "samples": [
                {"ts": 1, "values": {"p": 1.5, "run": true}, "quality": {"run": 0.5}},
                {"ts": 2, "values": {"p": 2.5}},
            ]})
        );
    }
}
