//! One slave's task: its own TCP connection and its own poll schedule.
//!
//! Each cycle runs on a `tokio::time::interval` of `poll_ms` with
//! [`MissedTickBehavior::Skip`]: a cycle that overruns its period (a slow
//! reply, a slow store, a write in between) is counted as a missed cycle
//! (`modbus-missed-cycle`, one per overrunning cycle); the next cycle then
//! starts at once, late, and the schedule resumes on the multiples of
//! `poll_ms` — ticks that fell inside the overrun are skipped, never caught
//! up in a burst. Between cycles the task carries out the setpoint writes
//! routed to it, on the same connection; writes are served before a due
//! tick, so a slave whose cycles always overrun still answers them. A failed request is reported against the device with a
//! stable code; anything but a Modbus exception drops the connection,
//! which is made again after a capped, jittered backoff (reset by a clean
//! cycle). The task ends only when the connector stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus_model::{Clock, ConnectorId, ModbusDevice, WriteOutcome};
use nexus_services::WriteError;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_modbus::client::Context;

use super::Routed;
use super::read::{self, PollError};
use super::setpoint;
use crate::{Backoff, DeviceRef, FrameSink, Health, SinkError, run_write};

/// A slave's task and what it needs.
pub(super) struct Slave {
    pub(super) device: ModbusDevice,
    pub(super) connector: ConnectorId,
    pub(super) sink: Arc<dyn FrameSink>,
    pub(super) health: Arc<Health>,
    pub(super) clock: Clock,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) writes: mpsc::Receiver<Routed>,
    pub(super) policy: Arc<crate::NetworkPolicy>,
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Slave {
    fn key(&self) -> &str {
        self.device.device_id.as_str()
    }

    /// Connects, polls and reconnects until the connector stops.
    pub(super) async fn run(mut self) {
        let mut backoff = Backoff::new();
        loop {
            if *self.stop.borrow() {
                return;
            }
            match self.connect().await {
                Ok(ctx) => {
                    if self.serve(ctx, &mut backoff).await.is_none() {
                        return;
                    }
                }
                Err(error) => self.health.error(Some(self.key()), error.code(), &error.to_string()),
            }
            if !self.wait(backoff.next_delay()).await {
                return;
            }
        }
    }

    async fn connect(&self) -> Result<Context, PollError> {
        let address = &self.device.address;
        let fail = |reason: String| PollError::Connect { address: address.clone(), reason };
        let timeout = Duration::from_millis(self.device.timeout_ms.into());
        let target = self.policy.resolve(address).await.map_err(|e| fail(e.to_string()))?;
        let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(target)).await {
            Err(_) => return Err(fail(format!("no connection within {} ms", self.device.timeout_ms))),
            Ok(Err(error)) => return Err(fail(error.to_string())),
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        Ok(tokio_modbus::client::tcp::attach_slave(stream, tokio_modbus::Slave(self.device.unit)))
    }

    /// Waits `delay` before a reconnect. A write meanwhile gets a
    /// connection of its own (a slave that stopped answering polls may still
    /// take a write, and one that answers nothing is told from one that
    /// cannot be reached: `write-timeout`, not `device-unreachable`).
    /// `false`: the connector stops.
    async fn wait(&mut self, delay: Duration) -> bool {
        let wake = tokio::time::sleep(delay);
        let stop = stopped(self.stop.clone());
        tokio::pin!(wake, stop);
        loop {
            tokio::select! {
                () = &mut stop => return false,
                () = &mut wake => return true,
                Some(routed) = self.writes.recv() => match self.connect().await {
                    Ok(mut ctx) => {
                        // Answered either way; the polls reconnect on their own schedule.
                        let _ = self.write(&mut ctx, routed).await;
                    }
                    Err(error) => run_write(&self.health, routed.request, Err(WriteError::Unreachable(error.to_string()))),
                },
            }
        }
    }

    /// Polls on the connection until it must be made again (`Some`) or
    /// the connector stops (`None`).
    async fn serve(&mut self, mut ctx: Context, backoff: &mut Backoff) -> Option<()> {
        let period = Duration::from_millis(self.device.poll_ms.into());
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let stop = stopped(self.stop.clone());
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break None,
                Some(routed) = self.writes.recv() => {
                    if self.write(&mut ctx, routed).await.is_err() {
                        break Some(());
                    }
                }
                _ = interval.tick() => {
                    let started = Instant::now();
                    let clean = self.cycle(&mut ctx).await;
                    self.count_missed(started.elapsed(), period);
                    match clean {
                        Ok(true) => backoff.reset(),
                        Ok(false) => {}
                        Err(()) => break Some(()),
                    }
                }
            }
        }
    }

    /// Reads every block, one frame each. `Ok(true)`: all read; `Ok(false)`:
    /// a block was refused with an exception (reported; the connection
    /// stays); `Err`: the connection must be made again (reported).
    async fn cycle(&mut self, ctx: &mut Context) -> Result<bool, ()> {
        let mut clean = true;
        for block in &self.device.blocks {
            let words = match read::read_block(ctx, block, self.device.timeout_ms).await {
                Ok(words) => words,
                Err(error) => {
                    self.health.error(Some(self.key()), error.code(), &error.to_string());
                    if error.reconnect() {
                        return Err(());
                    }
                    clean = false;
                    continue;
                }
            };
            let frame = read::frame(self.device.unit, block, &words, self.clock.now());
            match self.sink.deliver(&DeviceRef::Id(self.device.device_id.clone()), frame).await {
                Ok(report) => self.health.frame_stored(&report),
                Err(SinkError::Refused { code, reason }) => self.health.frame_refused(Some(self.key()), &code, &reason),
                // Not stored now: the next cycle reads fresh values, so this
                // one is not kept to be tried again.
                Err(SinkError::Unavailable { reason, .. }) => {
                    let reason = format!("a frame of {} was dropped: {reason}", self.key());
                    self.health.error(None, "ingest-unavailable", &reason);
                }
            }
        }
        Ok(clean)
    }

    fn count_missed(&self, took: Duration, period: Duration) {
        if took > period {
            let reason = format!(
                "a poll cycle took {} ms, over the period of {} ms: the next cycle is late and the ticks it overran are skipped",
                took.as_millis(),
                period.as_millis()
            );
            self.health.error(Some(self.key()), "modbus-missed-cycle", &reason);
        }
    }

    /// Carries out one setpoint write. `Err`: the connection must be made
    /// again (the write has been answered).
    async fn write(&mut self, ctx: &mut Context, routed: Routed) -> Result<(), PollError> {
        let Routed { taken, request } = routed;
        let wanted = &request.write.parameter;
        let Some(point) = self.device.setpoints.iter().find(|s| &s.parameter == wanted) else {
            let error = WriteError::NotWritable { device: request.write.device_id.clone(), parameter: wanted.clone() };
            run_write(&self.health, request, Err(error));
            return Ok(());
        };
        match setpoint::write(ctx, point, request.write.value, self.device.timeout_ms).await {
            Ok((confirmed, read_back)) => {
                let elapsed_ms = taken.elapsed().as_millis() as u64;
                let outcome = WriteOutcome {
                    connector_id: self.connector.clone(),
                    confirmed,
                    read_back: Some(read_back),
                    elapsed_ms,
                };
                run_write(&self.health, request, Ok(outcome));
                Ok(())
            }
            Err(failed) => {
                run_write(&self.health, request, Err(failed.error));
                failed.poll.map_or(Ok(()), Err)
            }
        }
    }
}
