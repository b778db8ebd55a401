//! The librdkafka clients a Kafka connector makes: the broker list checked
//! against the host's [`NetworkPolicy`](crate::NetworkPolicy) after name
//! resolution (the client is given the checked addresses, not the names),
//! the consumer's configuration (manual commits, earliest offset for a new
//! group), and a context that reports the client's errors to the run loop
//! and its lag to the connector's health.

use std::sync::Arc;
use std::time::Duration;

use nexus_model::{ConnectorId, KafkaSettings, PartitionLag};
use rdkafka::ClientConfig;
use rdkafka::Statistics;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;

use crate::policy::Unreachable;
use crate::{ConnectorError, Health, Link};

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
    /// Where the consumer's lag is reported (from the client's statistics,
    /// every [`STATISTICS_EVERY`]).
    pub(super) health: Arc<Health>,
}

/// How often the client reports its statistics (the consumer's lag).
const STATISTICS_EVERY: Duration = Duration::from_secs(1);

/// The lag of each assigned partition in the client's statistics:
/// records past the committed position (librdkafka's `consumer_lag`;
/// partitions whose lag it does not know yet are left out).
pub(super) fn lag_of(statistics: &Statistics) -> Vec<PartitionLag> {
    let mut lag: Vec<PartitionLag> = statistics
        .topics
        .iter()
        .flat_map(|(topic, t)| {
            t.partitions.values().filter(|p| p.partition >= 0 && p.consumer_lag >= 0).map(|p| PartitionLag {
                topic: topic.clone(),
                partition: p.partition,
                records: p.consumer_lag,
            })
        })
        .collect();
    lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    lag
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        self.health.set_lag(lag_of(&statistics));
    }

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
        .set("statistics.interval.ms", STATISTICS_EVERY.as_millis().to_string())
        .create_with_context(context)
        .map_err(|e| ConnectorError::Settings(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_each_known_partitions_consumer_lag() {
        // librdkafka's statistics, cut to what the lag needs: partition -1
        // is its internal one, lag -1 one it does not know yet.
        let partition = |id: i32, lag: i64| {
            serde_json::json!({"partition": id, "broker": 1, "leader": 1, "desired": true, "unknown": false,
                "msgq_cnt": 0, "msgq_bytes": 0, "xmit_msgq_cnt": 0, "xmit_msgq_bytes": 0, "fetchq_cnt": 0,
                "fetchq_size": 0, "fetch_state": "active", "query_offset": 0, "next_offset": 0, "app_offset": 0,
                "stored_offset": 0, "committed_offset": 0, "eof_offset": 0, "lo_offset": 0, "hi_offset": 0,
                "ls_offset": 0, "consumer_lag": lag, "consumer_lag_stored": lag, "txmsgs": 0, "txbytes": 0,
                "rxmsgs": 0, "rxbytes": 0, "msgs": 0, "rx_ver_drops": 0, "msgs_inflight": 0,
                "next_ack_seq": 0, "next_err_seq": 0, "acked_msgid": 0})
        };
        let topic = serde_json::json!({"topic": "pf.telemetry.raw", "age": 0, "metadata_age": 0,
            "batchsize": {"min": 0, "max": 0, "avg": 0, "sum": 0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0,
                "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 0, "cnt": 0},
            "batchcnt": {"min": 0, "max": 0, "avg": 0, "sum": 0, "stddev": 0, "p50": 0, "p75": 0, "p90": 0,
                "p95": 0, "p99": 0, "p99_99": 0, "outofrange": 0, "hdrsize": 0, "cnt": 0},
            "partitions": {"1": partition(1, 7), "0": partition(0, 0), "2": partition(2, -1),
                "-1": partition(-1, 5)}});
        let statistics = serde_json::json!({"name": "c", "client_id": "c", "type": "consumer", "ts": 0,
            "time": 0, "age": 0, "replyq": 0, "msg_cnt": 0, "msg_size": 0, "msg_max": 0, "msg_size_max": 0,
            "simple_cnt": 0, "metadata_cache_cnt": 0, "brokers": {}, "topics": {"pf.telemetry.raw": topic},
            "tx": 0, "tx_bytes": 0, "rx": 0, "rx_bytes": 0, "txmsgs": 0, "txmsg_bytes": 0, "rxmsgs": 0,
            "rxmsg_bytes": 0});
        let statistics: Statistics = serde_json::from_value(statistics).expect("librdkafka's statistics");
        let lag = |partition, records| PartitionLag { topic: "pf.telemetry.raw".into(), partition, records };
        assert_eq!(lag_of(&statistics), vec![lag(0, 0), lag(1, 7)]);
    }
}
