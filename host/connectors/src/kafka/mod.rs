//! Kafka: the consumer connector and the outbox's producer.
//!
//! The connector ([`KafkaConnector`]) is a consumer in the settings' group
//! on one topic (the seed's `pf.telemetry.raw`):
//!
//! - a record's key names its device (id or name), its value is one raw
//!   frame for that device's decoder ([`record`]);
//! - frames are delivered concurrently across devices and in order per
//!   device ([`lanes`]); a partition's offset is committed only past
//!   records whose frames are durable or refused — refused records (no
//!   key, unknown device, too large, decoder refusal) are counted, reported
//!   and committed: they can never succeed;
//! - a frame the sink cannot take now (storage down) is retried and never
//!   committed before it is stored; on a restart, consumption resumes from
//!   the committed offsets (storage replaces a re-delivered reading, so
//!   nothing is stored twice);
//! - every broker address, bootstrap and advertised, is checked against the
//!   host's network policy after resolution; losing every broker ends the
//!   run, and the supervisor restarts it after its backoff.
//!
//! The producer ([`KafkaPublisher`], in [`publish`]) is an outbox
//! subscriber the host starts when `--kafka-brokers` is set, and a
//! telemetry tap publishing committed telemetry to
//! `pf.telemetry.validated` ([`validated`]).

mod client;
mod lanes;
mod publish;
mod record;
mod validated;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{ConnectorId, ConnectorState, DeviceId, Frame, KafkaSettings, SourceKind};
use nexus_services::WriteError;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::{Connector, ConnectorError, Link};
use client::Context;
use lanes::{Committable, Lanes, Offsets, Place};
pub use publish::{KafkaPublisher, PublishError, Topics};
use record::Sorted;

/// How long the last commit of a run may wait for the brokers.
const FINAL_COMMIT: Duration = Duration::from_secs(5);
/// How often done records' offsets are committed.
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// How long a stopping connector lets its lanes finish.
const FINISH_GRACE: Duration = Duration::from_secs(3);

/// A Kafka consumer connector.
pub struct KafkaConnector {
    id: ConnectorId,
    settings: KafkaSettings,
}

impl KafkaConnector {
    /// A connector with these settings.
    pub fn new(id: ConnectorId, settings: KafkaSettings) -> Self {
        Self { id, settings }
    }
}

#[async_trait]
impl Connector for KafkaConnector {
    async fn run(&mut self, link: &mut Link) -> Result<(), ConnectorError> {
        let bootstrap = client::bootstrap(&self.settings, link).await?;
        let peer = self.settings.brokers.clone();
        let (faults_tx, mut faults) = mpsc::unbounded_channel();
        let (failures_tx, mut commit_failures) = mpsc::unbounded_channel();
        let context = Context { faults: faults_tx, commit_failures: failures_tx, health: link.health.clone() };
        let consumer = Arc::new(client::consumer(&self.id, &self.settings, &bootstrap, context)?);
        let reading = consumer.clone();
        let topic = self.settings.topic.clone();
        let advertised = tokio::task::spawn_blocking(move || {
            reading.fetch_metadata(Some(&topic), client::METADATA_TIMEOUT).map(|m| client::advertised(&m))
        })
        .await
        .map_err(|e| ConnectorError::Protocol(e.to_string()))?
        .map_err(|e| ConnectorError::Connect { peer: peer.clone(), reason: e.to_string() })?;
        client::check_advertised(&advertised, link).await?;
        consumer.subscribe(&[self.settings.topic.as_str()]).map_err(|e| ConnectorError::Protocol(e.to_string()))?;
        link.health.set_state(ConnectorState::Running);

        let (done_tx, mut done) = mpsc::unbounded_channel();
        let mut run = Run {
            settings: &self.settings,
            consumer: consumer.clone(),
            lanes: Lanes::new(link.sink.clone(), link.health.clone(), link.stop.clone()),
            done: done_tx,
            offsets: Offsets::default(),
        };
        let mut tick = tokio::time::interval(COMMIT_EVERY);
        let stopped = link.stopped();
        tokio::pin!(stopped);
        let result = loop {
            tokio::select! {
                () = &mut stopped => break Ok(()),
                Some(reason) = faults.recv() => break Err(ConnectorError::Connect { peer: peer.clone(), reason }),
                Some(place) = done.recv() => run.offsets.done(place),
                Some(reason) = commit_failures.recv() => {
                    link.health.error(None, "commit-failed", &reason);
                    run.offsets.forget_commits();
                }
                Some(request) = link.writes.recv() => {
                    let outcome = Err(WriteError::NotWritable {
                        device: request.write.device_id.clone(),
                        parameter: request.write.parameter.clone(),
                    });
                    crate::run_write(&link.health, request, outcome);
                }
                _ = tick.tick() => run.commit(link, CommitMode::Async).await,
                message = consumer.recv() => match message {
                    Ok(message) => {
                        let place = (message.partition(), message.offset());
                        let at = format!("{}/{}@{}", message.topic(), place.0, place.1);
                        let (key, payload) = (message.key().map(<[u8]>::to_vec), message.payload().map(<[u8]>::to_vec));
                        drop(message);
                        run.record(link, &at, key.as_deref(), payload.as_deref(), place).await;
                    }
                    Err(error) => {
                        link.health.error(None, "consumer-error", &error.to_string());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        };
        // What the lanes finish in their grace is committed; the rest is
        // consumed again by the next run.
        let lanes =
            std::mem::replace(&mut run.lanes, Lanes::new(link.sink.clone(), link.health.clone(), link.stop.clone()));
        lanes.finish(FINISH_GRACE).await;
        while let Ok(place) = done.try_recv() {
            run.offsets.done(place);
        }
        run.commit(link, CommitMode::Sync).await;
        drop(run);
        // Leaving the group blocks until the brokers answer, which a dead
        // broker never does: on a thread of its own, not the runtime's
        // blocking pool (whose shutdown would wait for it).
        detach("kafka-close", move || drop(consumer));
        link.health.set_lag(Vec::new());
        result
    }
}

struct Run<'a> {
    settings: &'a KafkaSettings,
    consumer: Arc<StreamConsumer<Context>>,
    lanes: Lanes,
    /// Where the lanes send the places of done records.
    done: mpsc::UnboundedSender<Place>,
    offsets: Offsets,
}

impl Run<'_> {
    async fn record(&mut self, link: &Link, at: &str, key: Option<&[u8]>, value: Option<&[u8]>, place: Place) {
        self.offsets.consumed(place);
        match record::sort(at, key, value, self.settings.max_payload_bytes as usize) {
            Sorted::Frame(device, payload) => {
                let frame = Frame {
                    source: SourceKind::Kafka,
                    device_id: DeviceId::default(),
                    topic: self.settings.topic.clone(),
                    content_type: self.settings.content_type.clone(),
                    payload: payload.to_vec(),
                    received_at: link.clock.now(),
                    metadata: vec![("partition".into(), place.0.to_string()), ("offset".into(), place.1.to_string())],
                };
                let done = Committable { place, done: self.done.clone() };
                self.lanes.dispatch(device, frame, done).await;
            }
            Sorted::Refused { device, code, reason } => {
                link.health.frame_refused(device.as_deref(), code, &reason);
                self.offsets.done(place);
            }
        }
    }

    /// Commits the positions that moved. While running, asynchronously: a
    /// failure comes back through the context's commit callback, and every
    /// position is committed again at the next tick (a synchronous commit
    /// waits for a broker that may never answer). On the way out,
    /// synchronously, off the runtime's threads, for at most
    /// [`FINAL_COMMIT`].
    async fn commit(&mut self, link: &Link, mode: CommitMode) {
        let positions = self.offsets.to_commit();
        if positions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for (partition, position) in &positions {
            if let Err(error) = list.add_partition_offset(&self.settings.topic, *partition, Offset::Offset(*position)) {
                link.health.error(None, "commit-failed", &error.to_string());
                return;
            }
        }
        let result = match mode {
            CommitMode::Async => self.consumer.commit(&list, CommitMode::Async).map_err(|e| e.to_string()),
            CommitMode::Sync => {
                let consumer = self.consumer.clone();
                let (answer, answered) = tokio::sync::oneshot::channel();
                detach("kafka-commit", move || {
                    let _ = answer.send(consumer.commit(&list, CommitMode::Sync));
                });
                match tokio::time::timeout(FINAL_COMMIT, answered).await {
                    Ok(Ok(result)) => result.map_err(|e| e.to_string()),
                    Ok(Err(_)) => Err("the commit's thread ended without an answer".to_string()),
                    Err(_) => Err(format!("no answer from the brokers within {FINAL_COMMIT:?}")),
                }
            }
        };
        match result {
            Ok(()) => self.offsets.committed(&positions),
            Err(reason) => link.health.error(None, "commit-failed", &reason),
        }
    }
}

/// Runs `work`, which may block for as long as a broker does not answer
/// (librdkafka's synchronous calls have no deadline), on a detached thread:
/// the caller waits for it at most as long as it chooses, and neither the
/// runtime's shutdown nor the process's exit waits for it.
fn detach(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(error) = std::thread::Builder::new().name(name.into()).spawn(work) {
        tracing::warn!(%error, "no thread for {name}");
    }
}
