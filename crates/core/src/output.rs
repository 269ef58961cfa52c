use std::{sync::Arc, time::Instant};

use tokio::sync::mpsc;
use weir_otlp::{Batch, Signal};

use crate::Ack;

use crate::memory::MemoryLimiter;

/// The metadata of the request a batch came in (the client's headers, kept by a receiver with
/// `include_metadata: true`, and the client's address), shared by every batch cut from that
/// request. Keys are lowercase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Metadata {
    pairs: Option<Arc<[(String, String)]>>,
    /// The IP address of the client that sent the request (the Collector's `client.Info.Addr`),
    /// where a receiver knows it: the `k8sattributes` processor's `connection` association.
    peer: Option<std::net::IpAddr>,
}

impl Metadata {
    /// Metadata from `(key, value)` pairs; keys are lowercased.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Metadata {
        let pairs: Vec<(String, String)> =
            pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        Metadata { pairs: (!pairs.is_empty()).then(|| pairs.into()), peer: None }
    }

    /// The same metadata, from a client at `peer` (an IPv4 address mapped into IPv6 is given
    /// as IPv4).
    pub fn with_peer(mut self, peer: Option<std::net::IpAddr>) -> Metadata {
        self.peer = peer.map(|ip| ip.to_canonical());
        self
    }

    /// The IP address of the client that sent the request, where the receiver knows it.
    pub fn peer(&self) -> Option<std::net::IpAddr> {
        self.peer
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        let pairs = self.pairs.as_deref()?;
        pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (case-insensitive), in request order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs()
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every `(key, value)` pair, in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        self.pairs.as_deref().unwrap_or_default()
    }

    /// The metadata of `keys` only (the batch processor's `metadata_keys`), in the order of
    /// `keys`.
    pub fn select(&self, keys: &[String]) -> Metadata {
        Metadata::new(
            keys.iter().flat_map(|key| {
                self.get_all(key).map(move |value| (key.clone(), value.to_owned()))
            }),
        )
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_none() && self.peer.is_none()
    }
}

/// What flows through pipelines and queues: a batch, the metadata of its request and the
/// acknowledgements waiting on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The telemetry.
    pub batch: Batch,
    /// The request's metadata.
    pub metadata: Metadata,
    /// Receivers waiting for this batch to be kept durably (see [`crate::Ack`]).
    pub ack: Ack,
    /// The pipelines it goes to, when a connector routes it (the `routing` connector); `None`:
    /// every consumer. Cleared once the fan-out has followed it.
    pub route: Option<Route>,
}

/// The ids of the pipelines a routed batch goes to.
pub type Route = Arc<[String]>;

impl From<Batch> for Message {
    fn from(batch: Batch) -> Message {
        Message { batch, metadata: Metadata::default(), ack: Ack::default(), route: None }
    }
}

/// What a pipeline does when a consumer's input is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room: backpressure travels upstream to the receivers.
    Block,
    /// Drop the batch being sent, counted and logged.
    DropNewest,
}

/// What a queue's capacity counts (`sending_queue.sizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sizer {
    /// Batches (export requests): the Collector's default.
    Requests,
    /// Spans, data points or log records.
    Items,
    /// Bytes of the batch encoded as protobuf.
    Bytes,
}

/// An export queue's capacity, in its sizer's units, shared by its senders and its reader:
/// senders take a batch's units before enqueueing it, the reader gives them back once the
/// batch is delivered or dropped, so what is being delivered or retried counts too.
#[derive(Debug)]
pub struct Capacity {
    sizer: Sizer,
    limit: u32,
    units: tokio::sync::Semaphore,
    /// Encoded bytes of what is held, whatever the sizer.
    bytes: std::sync::atomic::AtomicUsize,
    /// `otelcol_exporter_queue_size` (units held) and `weir_exporter_queue_bytes`.
    gauges: (metrics::Gauge, metrics::Gauge),
}

impl Capacity {
    /// The capacity of exporter `exporter`'s queue: `limit` units counted by `sizer`, what is
    /// held reported in the exporter's gauges.
    pub fn of_exporter(sizer: Sizer, limit: usize, exporter: &str) -> Arc<Capacity> {
        let label = || (crate::telemetry::EXPORTER, exporter.to_owned());
        let gauges = (
            metrics::gauge!(crate::telemetry::EXPORTER_QUEUE_SIZE, &[label()]),
            metrics::gauge!(crate::telemetry::EXPORTER_QUEUE_BYTES, &[label()]),
        );
        let limit = limit.clamp(1, u32::MAX as usize >> 4) as u32;
        let units = tokio::sync::Semaphore::new(limit as usize);
        Arc::new(Capacity { sizer, limit, units, bytes: Default::default(), gauges })
    }

    /// What `batch` takes: its units (a batch larger than the whole capacity takes all of it)
    /// and its encoded bytes.
    pub fn measure(&self, batch: &Batch) -> (u32, usize) {
        let bytes = batch.encoded_len();
        let units = match self.sizer {
            Sizer::Requests => 1,
            Sizer::Items => batch.item_count(),
            Sizer::Bytes => bytes,
        };
        ((units.min(self.limit as usize) as u32).max(1), bytes)
    }

    /// Counts `bytes` as held (their units were taken from the semaphore).
    fn hold(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::AcqRel);
        self.report();
    }

    /// Gives back what a batch took, once it is no longer held (delivered or dropped).
    pub fn release(&self, units: u32, bytes: usize) {
        self.units.add_permits(units as usize);
        self.bytes.fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
        self.report();
    }

    fn report(&self) {
        self.gauges.0.set(self.held() as f64);
        self.gauges.1.set(self.held_bytes() as f64);
    }

    /// Units free now.
    pub fn available(&self) -> usize {
        self.units.available_permits()
    }

    /// Units held now: queued, being delivered or waiting to be retried.
    pub fn held(&self) -> usize {
        (self.limit as usize).saturating_sub(self.available())
    }

    /// Encoded bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.bytes.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A named bounded input: a pipeline's, an export queue's or a connector's.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// The component id or pipeline id behind the sender, for logs.
    pub name: String,
    /// The bounded input.
    pub sender: mpsc::Sender<Message>,
    /// The policy when the input is full.
    pub when_full: WhenFull,
    /// A bound in items or bytes on top of the channel's bound in batches.
    pub capacity: Option<Arc<Capacity>>,
}

/// Why a consumer did not take a batch.
#[derive(Debug)]
pub enum Refused {
    /// It is full and its policy is to drop.
    Full(Message),
    /// It has stopped.
    Closed(Message),
}

impl Consumer {
    /// A consumer that makes its senders wait when full.
    pub fn blocking(name: impl Into<String>, sender: mpsc::Sender<Message>) -> Consumer {
        Consumer { name: name.into(), sender, when_full: WhenFull::Block, capacity: None }
    }

    /// Enqueues `message` following the consumer's policy: waits for room (`Block`) or
    /// refuses when full (`DropNewest`).
    pub async fn send(&self, mut message: Message) -> Result<(), Refused> {
        let taken = match &self.capacity {
            Some(capacity) => {
                // an export queue holds batches for as long as a backend is away: each holds
                // its own bytes only, not the receive buffers they were views into
                message.batch.compact();
                let (units, bytes) = capacity.measure(&message.batch);
                let permit = match self.when_full {
                    WhenFull::Block => capacity.units.acquire_many(units).await.ok(),
                    WhenFull::DropNewest => match capacity.units.try_acquire_many(units) {
                        Ok(permit) => Some(permit),
                        Err(tokio::sync::TryAcquireError::NoPermits) => {
                            return Err(Refused::Full(message));
                        }
                        Err(tokio::sync::TryAcquireError::Closed) => None,
                    },
                };
                let Some(permit) = permit else { return Err(Refused::Closed(message)) };
                // The reader gives the units back once the batch is no longer held.
                permit.forget();
                capacity.hold(bytes);
                Some((capacity, units, bytes))
            }
            None => None,
        };
        let result = match self.when_full {
            WhenFull::Block => self.sender.send(message).await.map_err(|e| Refused::Closed(e.0)),
            WhenFull::DropNewest => self.sender.try_send(message).map_err(|e| match e {
                mpsc::error::TrySendError::Full(m) => Refused::Full(m),
                mpsc::error::TrySendError::Closed(m) => Refused::Closed(m),
            }),
        };
        if result.is_err()
            && let Some((capacity, units, bytes)) = taken
        {
            capacity.release(units, bytes);
        }
        result
    }
}

/// Why a receiver could not hand a batch to its pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A pipeline input stayed full until the deadline: the client should retry later.
    #[error("pipeline is full: try again later")]
    Full,
    /// The pipeline is shutting down.
    #[error("pipeline is shutting down")]
    Closed,
    /// The receiver feeds no pipeline of this signal.
    #[error("no pipeline accepts {0}")]
    NoPipeline(Signal),
    /// A persistent queue did not write the data (full, or the disk failed), or did not
    /// before the deadline: the client should retry.
    #[error("the persistent queue did not keep the data: try again later")]
    NotPersisted,
    /// A pipeline's `memory_limiter` is over its soft limit: retry after the given time.
    #[error("memory usage is over the limit: try again later")]
    MemoryLimited {
        /// When usage is next sampled.
        retry_after: std::time::Duration,
    },
}

/// What a receiver feeds: the inputs of every pipeline that lists it, by signal.
#[derive(Debug, Clone, Default)]
pub struct ReceiverOutput {
    traces: Vec<Consumer>,
    metrics: Vec<Consumer>,
    logs: Vec<Consumer>,
    limiters: Vec<(Signal, Arc<MemoryLimiter>)>,
    durable: Vec<Signal>,
    decoding: Vec<Signal>,
}

impl ReceiverOutput {
    /// An output that feeds nothing yet.
    pub fn new() -> ReceiverOutput {
        ReceiverOutput::default()
    }

    /// Adds a pipeline input for `signal`.
    pub fn add(&mut self, signal: Signal, consumer: Consumer) {
        self.consumers_mut(signal).push(consumer);
    }

    /// Makes data of `signal` wait for `limiter`'s admission (a pipeline of that signal runs
    /// the `memory_limiter` processor).
    pub fn add_limiter(&mut self, signal: Signal, limiter: Arc<MemoryLimiter>) {
        self.limiters.push((signal, limiter));
    }

    /// Makes requests of `signal` wait until every copy is written by the persistent queues
    /// downstream (some pipeline of that signal reaches an exporter with `storage`).
    pub fn set_durable(&mut self, signal: Signal) {
        self.durable.push(signal);
    }

    /// Says that every pipeline taking `signal` from this receiver reads the items: the
    /// receiver should decode requests at once rather than walk them and leave them encoded.
    pub fn set_decoding(&mut self, signal: Signal) {
        self.decoding.push(signal);
    }

    /// Whether requests of `signal` are best decoded on receipt (see
    /// [`ReceiverOutput::set_decoding`]).
    pub fn decodes(&self, signal: Signal) -> bool {
        self.decoding.contains(&signal)
    }

    /// Whether some pipeline takes `signal` from this receiver.
    pub fn accepts(&self, signal: Signal) -> bool {
        !self.consumers(signal).is_empty()
    }

    fn consumers(&self, signal: Signal) -> &[Consumer] {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    fn consumers_mut(&mut self, signal: Signal) -> &mut Vec<Consumer> {
        match signal {
            Signal::Traces => &mut self.traces,
            Signal::Metrics => &mut self.metrics,
            Signal::Logs => &mut self.logs,
        }
    }

    /// Hands `batch` to every pipeline of its signal, or to none: a slot is reserved in every
    /// pipeline input first (waiting until `deadline`), and only then is the batch sent, so a
    /// refusal never leaves a copy behind in some pipelines. Success means the data is in the
    /// pipelines, which is when the client may be told it was accepted — or, for a durable
    /// signal, that every copy is in its persistent queues.
    pub async fn send(
        &self,
        message: impl Into<Message>,
        deadline: Instant,
    ) -> Result<(), SendError> {
        let mut message = message.into();
        let wait = self.durable.contains(&message.batch.signal()).then(|| {
            let (ack, wait) = Ack::new();
            message.ack = ack;
            wait
        });
        let batch = &message.batch;
        let signal = batch.signal();
        let consumers = self.consumers(signal);
        if consumers.is_empty() {
            return Err(SendError::NoPipeline(signal));
        }
        let limiters: Vec<&MemoryLimiter> =
            self.limiters.iter().filter(|(s, _)| *s == signal).map(|(_, l)| l.as_ref()).collect();
        if let Some(refusing) = limiters.iter().find(|limiter| !limiter.admits()) {
            return Err(SendError::MemoryLimited { retry_after: refusing.retry_after() });
        }
        if !limiters.is_empty() {
            let bytes = batch.encoded_len() as u64;
            limiters.iter().for_each(|limiter| limiter.admitted(bytes));
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut permits = Vec::with_capacity(consumers.len());
        for consumer in consumers {
            let permit = tokio::time::timeout_at(deadline, consumer.sender.reserve())
                .await
                .map_err(|_| SendError::Full)?
                .map_err(|_| SendError::Closed)?;
            permits.push(permit);
        }
        // Clone for every pipeline but the last, which takes the batch itself.
        let last = permits.pop().expect("at least one consumer");
        for permit in permits {
            permit.send(message.clone());
        }
        last.send(message);
        match wait {
            None => Ok(()),
            Some(wait) => match tokio::time::timeout_at(deadline, wait).await {
                Ok(Ok(true)) => Ok(()),
                _ => Err(SendError::NotPersisted),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn consumer(name: &str, capacity: usize) -> (Consumer, mpsc::Receiver<Message>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (Consumer::blocking(name, sender), receiver)
    }

    #[tokio::test]
    async fn every_pipeline_gets_the_batch() {
        let (a, mut ra) = consumer("a", 1);
        let (b, mut rb) = consumer("b", 1);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Logs, a);
        out.add(Signal::Logs, b);
        let deadline = Instant::now() + Duration::from_secs(1);
        out.send(Batch::empty(Signal::Logs), deadline).await.unwrap();
        assert_eq!(ra.recv().await, Some(Batch::empty(Signal::Logs).into()));
        assert_eq!(rb.recv().await, Some(Batch::empty(Signal::Logs).into()));
    }

    #[tokio::test]
    async fn a_full_pipeline_refuses_for_all() {
        let (a, mut ra) = consumer("a", 1);
        let (b, _rb) = consumer("b", 1);
        b.sender.try_send(Batch::empty(Signal::Traces).into()).unwrap();
        let mut out = ReceiverOutput::new();
        out.add(Signal::Traces, a);
        out.add(Signal::Traces, b);
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(out.send(Batch::empty(Signal::Traces), deadline).await, Err(SendError::Full));
        assert!(ra.try_recv().is_err(), "the refused batch must not reach any pipeline");
    }

    #[tokio::test]
    async fn a_limiter_over_its_limit_refuses_with_its_retry_hint() {
        let (a, mut ra) = consumer("a", 4);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Traces, a);
        let limiter = MemoryLimiter::new("memory_limiter", 1 << 40, 0, Duration::from_secs(2));
        out.add_limiter(Signal::Traces, limiter.clone());
        let deadline = Instant::now() + Duration::from_secs(1);
        out.send(Batch::empty(Signal::Traces), deadline).await.unwrap();
        limiter.sample(1 << 41);
        assert_eq!(
            out.send(Batch::empty(Signal::Traces), deadline).await,
            Err(SendError::MemoryLimited { retry_after: Duration::from_secs(2) })
        );
        assert!(ra.try_recv().is_ok() && ra.try_recv().is_err(), "only the first was sent");
    }

    #[tokio::test]
    async fn signals_without_pipeline_and_closed_pipelines_are_refused() {
        let (a, ra) = consumer("a", 1);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Metrics, a);
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            out.send(Batch::empty(Signal::Logs), deadline).await,
            Err(SendError::NoPipeline(Signal::Logs))
        );
        drop(ra);
        assert_eq!(out.send(Batch::empty(Signal::Metrics), deadline).await, Err(SendError::Closed));
    }
}
