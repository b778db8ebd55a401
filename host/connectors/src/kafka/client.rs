//! The librdkafka clients a Kafka connector makes: the broker list checked
//! against the host's [`NetworkPolicy`](crate::NetworkPolicy) after name
//! resolution (the client is given the checked addresses, not the names),
//! the consumer's configuration (manual commits, earliest offset for a new
//! group), and a context that reports the client's errors to the run loop.

use std::time::Duration;

use nexus_model::{ConnectorId, KafkaSettings};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;

use crate::policy::Unreachable;
use crate::{ConnectorError, Link};

/// How long connecting and reading the cluster's metadata may take.
pub(super) const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The bootstrap list: each broker of the settings resolved and checked.
pub(super) async fn bootstrap(settings: &KafkaSettings, link: &Link) -> Result<String, ConnectorError> {
    let Some(brokers) = nexus_services::kafka_brokers(&settings.brokers) else {
        return Err(ConnectorError::Settings(format!("brokers `{}`: expected host:port[,…]", settings.brokers)));
    };
    let mut checked = Vec::with_capacity(brokers.len());
    for broker in brokers {
        checked.push(allowed(link, &broker).await?.to_string());
    }
    Ok(checked.join(","))
}

/// The address `broker` resolves to that the policy allows.
pub(super) async fn allowed(link: &Link, broker: &str) -> Result<std::net::SocketAddr, ConnectorError> {
    link.policy.resolve(broker).await.map_err(|e| match e {
        Unreachable::Forbidden(reason) => ConnectorError::NotAllowed(reason),
        Unreachable::Unresolved(reason) => ConnectorError::Connect { peer: broker.to_string(), reason },
    })
}

/// Every broker the cluster advertises must be allowed too: the client
/// connects to them for the partitions they lead.
pub(super) async fn check_advertised(advertised: &[String], link: &Link) -> Result<(), ConnectorError> {
    for broker in advertised {
        allowed(link, broker).await?;
    }
    Ok(())
}

/// The `host:port` of every broker in `metadata`.
pub(super) fn advertised(metadata: &Metadata) -> Vec<String> {
    metadata.brokers().iter().map(|b| format!("{}:{}", b.host(), b.port())).collect()
}

/// Reports the client's errors: losing every broker ends the run (the
/// supervisor restarts it after its backoff), the rest is logged.
pub(super) struct Context {
    pub(super) faults: mpsc::UnboundedSender<String>,
    /// Why an asynchronous commit failed.
    pub(super) commit_failures: mpsc::UnboundedSender<String>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                let _ = self.faults.send(format!("every broker is down: {reason}"));
            }
            _ => tracing::warn!(%error, "Kafka client: {reason}"),
        }
    }
}

impl ConsumerContext for Context {
    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _offsets: &rdkafka::TopicPartitionList) {
        if let Err(error) = result {
            let _ = self.commit_failures.send(error.to_string());
        }
    }
}

/// The consumer: in the settings' group, offsets committed by the
/// connector only (none stored or committed automatically), a new group
/// starting at the earliest record.
pub(super) fn consumer(
    id: &ConnectorId,
    settings: &KafkaSettings,
    bootstrap: &str,
    context: Context,
) -> Result<StreamConsumer<Context>, ConnectorError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", format!("nexus-{id}"))
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("socket.timeout.ms", "10000")
        .create_with_context(context)
        .map_err(|e| ConnectorError::Settings(e.to_string()))
}
