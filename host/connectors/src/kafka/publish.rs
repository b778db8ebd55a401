//! The outbox's Kafka producer: an outbox [`Subscriber`] that publishes
//! each event as its JSON (the outbox's serde form: `seq`, `tenant_id`,
//! `ts`, `key`, `type` and the body's fields), keyed by the event's key —
//! the device, for telemetry-plane events — so the order per device holds.
//!
//! Alarms go to `pf.alarms`, recommendations to `po.recommendations`, every
//! other event to `pf.events`. The producer is idempotent with
//! `acks=all`; a batch counts as delivered only once the brokers
//! acknowledged every record of it, so the outbox cursor never passes an
//! event that is not in Kafka (at least once; a retried batch may publish
//! an event again, with the same `seq`).

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{Event, EventBody};
use nexus_services::{StartFrom, Subscriber};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

/// How long a record may wait for the brokers' acknowledgement before the
/// batch fails (and the outbox offers it again).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The topics events go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Alarm transitions (default `pf.alarms`).
    pub alarms: String,
    /// Recommendations (default `po.recommendations`).
    pub recommendations: String,
    /// Setpoint writes and their outcomes (default `po.setpoint-changes`).
    pub setpoint_changes: String,
    /// Every other event (default `pf.events`).
    pub events: String,
    /// Committed telemetry, from the telemetry tap (default
    /// `pf.telemetry.validated`).
    pub validated: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            alarms: "pf.alarms".into(),
            recommendations: "po.recommendations".into(),
            setpoint_changes: "po.setpoint-changes".into(),
            events: "pf.events".into(),
            validated: "pf.telemetry.validated".into(),
        }
    }
}

impl Topics {
    /// The topic of `event`.
    pub fn of(&self, event: &Event) -> &str {
        match event.body {
            EventBody::Alarm(_) => &self.alarms,
            EventBody::Recommendation(_) | EventBody::RecommendationChanged(_) => &self.recommendations,
            EventBody::SetpointWrite(_) => &self.setpoint_changes,
            _ => &self.events,
        }
    }
}

/// Why the producer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker list is not `host:port[,host:port…]`.
    #[error("Kafka brokers `{0}`: expected host:port[,host:port…]")]
    Brokers(String),
    /// librdkafka refused the configuration.
    #[error("the Kafka producer: {0}")]
    Client(#[from] KafkaError),
}

/// Publishes the outbox's events to Kafka.
pub struct KafkaPublisher {
    producer: FutureProducer,
    pub(super) topics: Topics,
}

impl KafkaPublisher {
    /// A producer on `brokers` (`host:port[,…]`; the host's own setting,
    /// so the connectors' network policy does not apply).
    pub fn new(brokers: &str, topics: Topics) -> Result<Self, PublishError> {
        let list = nexus_services::kafka_brokers(brokers).ok_or_else(|| PublishError::Brokers(brokers.into()))?;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", list.join(","))
            .set("client.id", "nexus-outbox")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", DELIVERY_TIMEOUT.as_millis().to_string())
            .create()?;
        Ok(Self { producer, topics })
    }
}

#[async_trait]
impl Subscriber for KafkaPublisher {
    fn name(&self) -> &str {
        "kafka"
    }

    /// A first start publishes what happens from then on, not the history.
    fn start_from(&self) -> StartFrom {
        StartFrom::Now
    }

    async fn deliver(&self, events: &[Event]) -> Result<(), String> {
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            // Through a map, so a key the body repeats (`tenant_id`, an
            // alarm transition's `ts`) appears once, with the body's value.
            let json = serde_json::to_value(event)
                .and_then(|value| serde_json::to_vec(&value))
                .map_err(|e| format!("event {}: {e}", event.seq))?;
            records.push((self.topics.of(event), event.key.as_str(), json));
        }
        self.send_all(&records).await
    }
}

impl KafkaPublisher {
    /// Produces `(topic, key, payload)` records and waits until the brokers
    /// acknowledged every one of them.
    pub(super) async fn send_all(&self, records: &[(&str, &str, Vec<u8>)]) -> Result<(), String> {
        match self.send_each(records).await.into_iter().find_map(|(_, outcome)| outcome.err()) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Produces `(topic, key, payload)` records and waits for each one's
    /// acknowledgement; returns each record's index and outcome.
    pub(super) async fn send_each(&self, records: &[(&str, &str, Vec<u8>)]) -> Vec<(usize, Result<(), String>)> {
        let mut outcomes = Vec::with_capacity(records.len());
        let mut pending: VecDeque<(usize, DeliveryFuture)> = VecDeque::with_capacity(records.len());
        for (index, (topic, key, payload)) in records.iter().enumerate() {
            let mut record = FutureRecord::to(topic).key(*key).payload(payload.as_slice());
            loop {
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push_back((index, delivery));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        // Wait for the oldest record to make room.
                        match pending.pop_front() {
                            Some((oldest, delivery)) => outcomes.push((oldest, acknowledged(delivery).await)),
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                    Err((error, _)) => {
                        outcomes.push((index, Err(format!("a record for {topic}: {error}"))));
                        break;
                    }
                }
            }
        }
        for (index, delivery) in pending {
            outcomes.push((index, acknowledged(delivery).await));
        }
        outcomes
    }
}

async fn acknowledged(delivery: DeliveryFuture) -> Result<(), String> {
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((error, _))) => Err(format!("Kafka did not take a record: {error}")),
        Err(_) => Err("the Kafka producer went away".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_the_seed_topics_by_type() {
        let event = |body: serde_json::Value| -> Event {
            let mut value = serde_json::json!({"seq": 1, "tenant_id": "t", "ts": 1, "key": "d"});
            value.as_object_mut().expect("object").extend(body.as_object().expect("object").clone());
            serde_json::from_value(value).expect("event")
        };
        let topics = Topics::default();
        let dead = event(serde_json::json!({"type": "binding_quarantined", "binding_id": "b", "reason": "r"}));
        assert_eq!(topics.of(&dead), "pf.events");
        let write = event(serde_json::json!({"type": "setpoint_write", "device_id": "d", "parameter": "frequency_hz",
            "value": 52.5, "error_code": "write-timeout", "error": "no answer within 500 ms"}));
        assert_eq!(topics.of(&write), "po.setpoint-changes");
    }
}
