//! The export queue: the bounded input of one exporter and the task that drains it, with the
//! Collector's `sending_queue`, `retry_on_failure` and `timeout` semantics.
//!
//! Every pipeline that lists an exporter sends into the exporter's one queue. A full queue
//! blocks the pipelines sending to it (`block_on_overflow: true`, weir's default) or drops
//! the newest batch (counted). Up to `num_consumers` exports run at once; an attempt that
//! fails retryably or passes `timeout` is retried with exponential backoff and jitter,
//! waiting at least as long as the backend asked; a permanent failure or exhausted retries
//! drop the batch, counted and logged with the exporter id and the number of items.
//!
//! Bounds: at most `queue_size` batches wait in the queue and `num_consumers` are being
//! delivered.

mod backoff;
mod config;
mod persistent;
pub mod wal;

use std::sync::Arc;

pub use config::{
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_SIZE, QueueBatch, QueueConfig,
    RetryConfig, Settings,
};
pub use persistent::{Storage, persistent_queue};
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use weir_otlp::{Batch, Signal};

use crate::{
    Capacity, Consumer, ExportError, Exporter, Message, Metadata, WhenFull, log_limit::LogLimiter,
    telemetry,
};

/// The receiving end of an exporter's queue, ready to run: in memory, or persistent.
pub struct ExportQueue(Kind);

enum Kind {
    Memory(MemoryQueue),
    Persistent(persistent::PersistentQueue),
}

struct MemoryQueue {
    input: mpsc::Receiver<Message>,
    delivery: Arc<Delivery>,
    units: Option<Arc<Capacity>>,
}

/// The most batches a queue sized in items or bytes holds, whatever their size.
const MAX_QUEUED_BATCHES: usize = 100_000;

struct Delivery {
    id: String,
    exporter: Arc<dyn Exporter>,
    settings: Settings,
    /// The logs of dropped batches and of retries, rate-limited (the counters count all).
    dropped_log: LogLimiter,
    retry_log: LogLimiter,
    split_log: LogLimiter,
}

impl Delivery {
    fn new(id: &str, exporter: Arc<dyn Exporter>, settings: Settings) -> Delivery {
        let (dropped_log, retry_log) = (LogLimiter::default(), LogLimiter::default());
        let split_log = LogLimiter::default();
        Delivery { id: id.to_owned(), exporter, settings, dropped_log, retry_log, split_log }
    }
}

/// Creates the queue of exporter `id`; returns the sender side for pipelines and the queue to
/// run.
pub fn queue(id: &str, exporter: Arc<dyn Exporter>, settings: Settings) -> (Consumer, ExportQueue) {
    let queue = &settings.queue;
    let (sizer, size) = queue.bound(false);
    // With a sizer other than requests, the units bound the queue; the channel still holds
    // at most as many batches as units (every batch takes at least one).
    // Units are taken as a batch is queued and given back once it is delivered or dropped,
    // so the bound covers what is being delivered and retried too.
    let units = queue.enabled.then(|| Capacity::of_exporter(sizer, size, id));
    let capacity = if queue.enabled { size.clamp(1, MAX_QUEUED_BATCHES) } else { 1 };
    let (sender, input) = mpsc::channel(capacity);
    let when_full = if settings.queue.block_on_overflow || !settings.queue.enabled {
        WhenFull::Block
    } else {
        WhenFull::DropNewest
    };
    let consumer = Consumer { name: id.to_owned(), sender, when_full, capacity: units.clone() };
    // in the sizer's unit, as the Collector reports it
    let bound = if queue.enabled { size } else { 1 };
    metrics::gauge!(telemetry::EXPORTER_QUEUE_CAPACITY, telemetry::EXPORTER => id.to_owned())
        .set(bound as f64);
    let delivery = Arc::new(Delivery::new(id, exporter, settings));
    (consumer, ExportQueue(Kind::Memory(MemoryQueue { input, delivery, units })))
}

impl ExportQueue {
    /// Exports every batch until all senders are gone and every delivery has ended (a
    /// persistent queue: until what can be delivered now is, the rest staying on disk), then
    /// shuts the exporter down.
    pub async fn run(self) {
        match self.0 {
            Kind::Memory(queue) => queue.run().await,
            Kind::Persistent(queue) => queue.run().await,
        }
    }
}

/// What a group of queued batches took from the queue's capacity, given back when the last
/// delivery holding it ends.
#[derive(Default)]
struct Held {
    capacity: Option<Arc<Capacity>>,
    units: u32,
    bytes: usize,
}

impl Held {
    fn add(&mut self, batch: &Batch) {
        if let Some(capacity) = &self.capacity {
            let (units, bytes) = capacity.measure(batch);
            self.units += units;
            self.bytes += bytes;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(capacity) = &self.capacity {
            capacity.release(self.units, self.bytes);
        }
    }
}

impl MemoryQueue {
    async fn run(mut self) {
        let settings = &self.delivery.settings;
        let consumers =
            if settings.queue.enabled { settings.queue.num_consumers.max(1) } else { 1 };
        let slots = Arc::new(Semaphore::new(consumers));
        let mut deliveries = JoinSet::new();
        loop {
            // A slot first, then a batch: batches wait in the bounded queue, not in tasks.
            let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
            let Some(Message { batch, metadata, .. }) = self.input.recv().await else { break };
            let mut held = Held { capacity: self.units.clone(), ..Held::default() };
            held.add(&batch);
            let parts = match self.delivery.settings.queue.batch.clone() {
                Some(config) => {
                    gather(&mut self.input, (batch, metadata), &config, &mut held).await
                }
                None => vec![(batch, metadata)],
            };
            // a batch taken alone was measured as it was queued: its size need not be again
            let known = (parts.len() == 1 && held.capacity.is_some()).then_some(held.bytes);
            let held = Arc::new(held);
            let mut slot = Some(slot);
            for part in parts {
                let slot = match slot.take() {
                    Some(slot) => slot,
                    None => slots.clone().acquire_owned().await.expect("never closed"),
                };
                let (delivery, held) = (self.delivery.clone(), held.clone());
                deliveries.spawn(async move {
                    delivery.deliver(&part.0, &part.1, known, None).await;
                    drop((slot, held));
                });
            }
            while deliveries.try_join_next().is_some() {}
        }
        while deliveries.join_next().await.is_some() {}
        if let Err(error) = self.delivery.exporter.shutdown().await {
            tracing::warn!(exporter = %self.delivery.id, %error, "exporter shutdown failed");
        }
        tracing::debug!(exporter = %self.delivery.id, "export queue stopped");
    }
}

/// Merges queued batches after `first` until `min_size` items wait or `flush_timeout`
/// passes: one merged batch per signal and request metadata (batches of different tenants
/// never share a request), each split at `max_size` items.
async fn gather(
    input: &mut mpsc::Receiver<Message>,
    first: (Batch, Metadata),
    config: &QueueBatch,
    held: &mut Held,
) -> Vec<(Batch, Metadata)> {
    let deadline = tokio::time::Instant::now() + config.flush_timeout;
    let mut items = first.0.item_count();
    let mut merged: Vec<(Batch, Metadata)> = vec![first];
    while items < config.min_size {
        let Ok(Some(Message { batch: next, metadata, .. })) =
            tokio::time::timeout_at(deadline, input.recv()).await
        else {
            break;
        };
        held.add(&next);
        items += next.item_count();
        // the client's address (the peer) is for the processors: requests of one tenant from
        // many clients still share an export request
        let same = merged
            .iter_mut()
            .find(|(batch, m)| batch.signal() == next.signal() && m.pairs() == metadata.pairs());
        match same {
            Some((batch, _)) => batch.append(next).expect("same signal"),
            None => merged.push((next, metadata)),
        }
    }
    merged
        .into_iter()
        .flat_map(|(batch, metadata)| {
            batch.split(config.max_size).into_iter().map(move |part| (part, metadata.clone()))
        })
        .collect()
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivered {
    /// Exported, or dropped (permanent error, retries exhausted): the batch is done.
    Done,
    /// Stopped while retrying, because the queue is closing: a persistent queue keeps it.
    Interrupted,
}

/// How one request's delivery ended.
enum Attempted {
    Ended(Delivered),
    /// The backend refused it for its size.
    TooLarge(String),
}

impl Delivery {
    /// Delivers `batch` of a request with `metadata`, retrying as configured: as one request,
    /// or several when it encodes to more than `max_request_bytes` or the backend refuses it
    /// as too large (then it is halved until it passes; a single item too large is dropped).
    /// `bytes` is the batch's encoded size when the caller knows it. With `stop`, a retry
    /// that would wait after `stop` is cancelled ends the delivery instead.
    async fn deliver(
        &self,
        batch: &Batch,
        metadata: &Metadata,
        bytes: Option<usize>,
        stop: Option<&CancellationToken>,
    ) -> Delivered {
        let cap = self.settings.max_request_bytes;
        let over = |batch: &Batch| bytes.unwrap_or_else(|| batch.encoded_len()) > cap;
        let mut pending: Vec<std::borrow::Cow<'_, Batch>> = if cap > 0
            && batch.item_count() > 1
            && over(batch)
        {
            self.split_counter().increment(1);
            batch.clone().split_bytes(cap).into_iter().rev().map(std::borrow::Cow::Owned).collect()
        } else {
            vec![std::borrow::Cow::Borrowed(batch)]
        };
        while let Some(part) = pending.pop() {
            match self.attempt(&part, metadata, stop).await {
                Attempted::Ended(Delivered::Done) => {}
                Attempted::Ended(Delivered::Interrupted) => return Delivered::Interrupted,
                Attempted::TooLarge(message) => {
                    let signal = part.signal();
                    let items = part.item_count();
                    if items <= 1 {
                        let reason = format!("too large even alone: {message}");
                        self.drop_batch(signal, items as u64, 1, &reason);
                        continue;
                    }
                    self.split_counter().increment(1);
                    if let Some(suppressed) = self.split_log.check() {
                        tracing::warn!(exporter = %self.id, %signal, items, bytes = part.encoded_len(),
                            error = %message, suppressed,
                            "export refused as too large: sending it in two halves");
                    }
                    let mut back = part.into_owned();
                    let front = back.split_front(items / 2);
                    pending.push(std::borrow::Cow::Owned(back));
                    pending.push(std::borrow::Cow::Owned(front));
                }
            }
        }
        Delivered::Done
    }

    fn split_counter(&self) -> metrics::Counter {
        metrics::counter!(telemetry::EXPORTER_REQUESTS_SPLIT, telemetry::EXPORTER => self.id.clone())
    }

    /// Delivers one request, retrying as configured.
    async fn attempt(
        &self,
        batch: &Batch,
        metadata: &Metadata,
        stop: Option<&CancellationToken>,
    ) -> Attempted {
        let signal = batch.signal();
        let items = batch.item_count() as u64;
        // tokio's clock, so that tests with paused time see retries elapse
        let now = || tokio::time::Instant::now().into_std();
        let started = now();
        let mut backoff = backoff::Backoff::new(&self.settings.retry, started);
        let mut attempts = 1u32;
        loop {
            let outcome =
                tokio::time::timeout(self.settings.timeout, self.exporter.export(batch, metadata))
                    .await
                    .unwrap_or_else(|_| {
                        Err(ExportError::Retryable {
                            after: None,
                            message: format!("timed out after {:?}", self.settings.timeout),
                        })
                    });
            let (after, message) = match outcome {
                Ok(()) => {
                    self.counter(telemetry::exporter_sent(signal), signal).increment(items);
                    return Attempted::Ended(Delivered::Done);
                }
                Err(ExportError::Permanent { message }) => {
                    self.drop_batch(
                        signal,
                        items,
                        attempts,
                        &format!("permanent error: {message}"),
                    );
                    return Attempted::Ended(Delivered::Done);
                }
                Err(ExportError::TooLarge { message }) => return Attempted::TooLarge(message),
                Err(ExportError::Retryable { after, message }) => (after, message),
            };
            if !self.settings.retry.enabled {
                self.drop_batch(
                    signal,
                    items,
                    attempts,
                    &format!("{message} (retry_on_failure is disabled)"),
                );
                return Attempted::Ended(Delivered::Done);
            }
            if stop.is_some_and(CancellationToken::is_cancelled) {
                tracing::info!(exporter = %self.id, %signal, items, error = %message,
                    "export failed while closing: kept in the persistent queue");
                return Attempted::Ended(Delivered::Interrupted);
            }
            let Some(wait) = backoff.next(now(), after) else {
                let elapsed = now().duration_since(started);
                let reason =
                    format!("{message}; no more retries after {elapsed:.1?} (max_elapsed_time)");
                self.drop_batch(signal, items, attempts, &reason);
                return Attempted::Ended(Delivered::Done);
            };
            metrics::counter!(telemetry::EXPORTER_RETRIES, telemetry::EXPORTER => self.id.clone(),
                telemetry::SIGNAL => signal.as_str())
            .increment(1);
            if let Some(suppressed) = self.retry_log.check() {
                tracing::info!(exporter = %self.id, %signal, items, attempts, error = %message,
                    ?wait, suppressed, "export failed: retrying");
            }
            match stop {
                Some(stop) => {
                    if tokio::time::timeout(wait, stop.cancelled()).await.is_ok() {
                        return Attempted::Ended(Delivered::Interrupted);
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
            attempts += 1;
        }
    }

    fn drop_batch(&self, signal: Signal, items: u64, attempts: u32, reason: &str) {
        self.counter(telemetry::exporter_send_failed(signal), signal).increment(items);
        if let Some(suppressed) = self.dropped_log.check() {
            tracing::error!(exporter = %self.id, %signal, items, attempts, reason, suppressed,
                "export failed: items dropped");
        }
    }

    fn counter(&self, name: &'static str, signal: Signal) -> metrics::Counter {
        metrics::counter!(name, telemetry::EXPORTER => self.id.clone(),
            telemetry::SIGNAL => signal.as_str())
    }
}

impl From<std::io::Error> for ExportError {
    fn from(error: std::io::Error) -> ExportError {
        ExportError::Retryable { after: None, message: error.to_string() }
    }
}

#[cfg(test)]
mod tests;
