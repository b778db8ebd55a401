//! MQTT delivery: the frames of a message go through the shared lanes
//! ([`crate::lanes`]: one per device, in arrival order, at most
//! [`IN_FLIGHT`](crate::lanes::IN_FLIGHT) under way), and the message is
//! acknowledged to the broker once every frame made from it was stored or
//! refused; a frame the sink cannot take now is retried, and its message is
//! never acknowledged before that.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nexus_model::Frame;
use rumqttc::{AsyncClient, Publish};
use tokio::sync::watch;

use crate::lanes::{Done, Lanes};
use crate::{FrameSink, Health};

/// A message's acknowledgement, sent once its last frame is done.
pub(super) struct AckWhenDone {
    remaining: AtomicUsize,
    publish: Publish,
    client: AsyncClient,
}

impl AckWhenDone {
    /// Never waits for the session's request queue: a lane blocked on it
    /// would hold its permit, the run loop would wait for permits, the
    /// event loop for the run loop, and nobody would drain the queue.
    fn part_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 && self.client.try_ack(&self.publish).is_err() {
            // Full (or gone: then the broker redelivers anyway).
            let (client, publish) = (self.client.clone(), self.publish.clone());
            tokio::spawn(async move {
                let _ = client.ack(&publish).await;
            });
        }
    }
}

impl Done for Arc<AckWhenDone> {
    fn done(self) {
        self.part_done();
    }
}

/// The lanes of one session ([`crate::lanes`]), each frame's token its
/// message's acknowledgement. Dropping it aborts them (their messages,
/// unacknowledged, come again in the next session).
pub(super) struct Dispatcher {
    lanes: Lanes<Arc<AckWhenDone>>,
    client: AsyncClient,
}

impl Dispatcher {
    /// Lanes delivering into `sink`.
    pub(super) fn new(
        sink: Arc<dyn FrameSink>,
        health: Arc<Health>,
        client: AsyncClient,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self { lanes: Lanes::new(sink, health, stop), client }
    }

    /// Queues the frames of `publish` on their devices' lanes (waiting for
    /// room when [`IN_FLIGHT`](crate::lanes::IN_FLIGHT) frames are under
    /// way); the message is acknowledged once the last is done.
    pub(super) async fn dispatch(&mut self, publish: Publish, frames: Vec<(String, Frame)>) {
        if frames.is_empty() {
            return;
        }
        let ack =
            Arc::new(AckWhenDone { remaining: AtomicUsize::new(frames.len()), publish, client: self.client.clone() });
        for (device, frame) in frames {
            self.lanes.dispatch(device, frame, ack.clone()).await;
        }
    }
}
