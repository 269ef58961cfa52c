use std::{future::Future, pin::Pin, time::Duration, time::Instant};

use tokio_util::sync::CancellationToken;
use weir_otlp::Batch;

use crate::{Ack, Message, Metadata, ReceiverOutput};

/// A boxed future, as returned by the object-safe async methods of the component traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a processor puts what it emits. Pushing nothing drops the input batch.
///
/// While a batch is processed, the output also carries that batch's request [`Metadata`]:
/// what a processor pushes inherits it (as a Go context flows to the next consumer), and
/// [`Output::metadata`] lets a processor read it. Batches emitted from `flush` carry none.
#[derive(Debug, Default)]
pub struct Output {
    messages: Vec<Message>,
    persists: Vec<Persist>,
    metadata: Metadata,
    ack: Ack,
    unix_nanos: u64,
}

impl Output {
    /// An empty output.
    pub fn new() -> Output {
        Output::default()
    }

    /// An empty output for a batch of a request with `metadata`.
    pub fn with_metadata(metadata: Metadata) -> Output {
        Output { metadata, ..Output::default() }
    }

    /// An empty output for a call made at wall-clock time `unix_nanos`.
    pub fn at(unix_nanos: u64) -> Output {
        Output { unix_nanos, ..Output::default() }
    }

    /// The wall-clock time of this call, in nanoseconds since the Unix epoch (0 when the
    /// caller gave none): processors read no clock, the pipeline passes the time in, for
    /// timestamps of what they emit.
    pub fn unix_nanos(&self) -> u64 {
        self.unix_nanos
    }

    /// Sets the wall-clock time of the next calls.
    pub fn set_unix_nanos(&mut self, unix_nanos: u64) {
        self.unix_nanos = unix_nanos;
    }

    /// The metadata of the request whose batch is being processed (empty while flushing).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Sets the metadata that pushed batches inherit.
    pub fn set_metadata(&mut self, metadata: Metadata) {
        self.metadata = metadata;
    }

    /// The acknowledgements waiting on the batch being processed.
    pub fn ack(&self) -> &Ack {
        &self.ack
    }

    /// Sets the acknowledgements that pushed batches inherit.
    pub fn set_ack(&mut self, ack: Ack) {
        self.ack = ack;
    }

    /// Emits a batch to the next stage, with the current request's metadata and
    /// acknowledgements.
    pub fn push(&mut self, batch: Batch) {
        let (metadata, ack) = (self.metadata.clone(), self.ack.clone());
        self.messages.push(Message { batch, metadata, ack, route: None });
    }

    /// Emits a batch, with the current request's metadata and acknowledgements, to the
    /// pipelines of `route` only (a connector's output, which feeds pipelines by their ids).
    pub fn push_routed(&mut self, batch: Batch, route: crate::Route) {
        let (metadata, ack) = (self.metadata.clone(), self.ack.clone());
        self.messages.push(Message { batch, metadata, ack, route: Some(route) });
    }

    /// Emits a batch with metadata of its own (none, for a batch merged from many requests).
    pub fn push_message(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// Takes everything emitted so far, leaving the output empty (and its buffer allocated).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Message> {
        self.messages.drain(..)
    }

    /// Asks the pipeline to keep `persist` on disk: processors do no IO, the pipeline writes
    /// it (atomically, off its task) after the call.
    pub fn persist(&mut self, persist: Persist) {
        self.persists.push(persist);
    }

    /// [`Output::persist`] of what there is.
    pub fn persist_all(&mut self, persists: impl IntoIterator<Item = Persist>) {
        self.persists.extend(persists);
    }

    /// Takes the state to write that processors asked for.
    pub fn take_persists(&mut self) -> Vec<Persist> {
        std::mem::take(&mut self.persists)
    }

    /// Whether no batch was emitted.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The batches emitted so far.
    pub fn batches(&self) -> impl Iterator<Item = &Batch> {
        self.messages.iter().map(|m| &m.batch)
    }
}

/// State a processor keeps across restarts (such as the `slo` connector's windows): the file
/// and its new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    /// Where it is kept.
    pub path: std::path::PathBuf,
    /// What to write there, replacing what was.
    pub bytes: Vec<u8>,
}

impl Persist {
    /// Writes the state: into a temporary file beside `path`, then renamed over it, so a crash
    /// leaves the old state or the new, never half of one.
    pub fn write(&self) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        std::fs::write(&temporary, &self.bytes)?;
        std::fs::rename(temporary, &self.path)
    }
}

/// A synchronous, pure stage of a pipeline: no IO, no locks, no clocks. Time comes in through
/// [`Processor::flush`], so a processor behaves the same in a test as in production.
pub trait Processor: Send {
    /// Handles one batch; emits zero or more batches to `out`.
    fn process(&mut self, batch: Batch, out: &mut Output);

    /// Called on every pipeline tick and once at shutdown (with the shutdown time): emits
    /// whatever the processor was holding that is due by `now`. At shutdown everything held
    /// is due.
    fn flush(&mut self, now: Instant, out: &mut Output) {
        let _ = (now, out);
    }

    /// Called once at shutdown after the last [`Processor::process`]: emit everything held.
    fn shutdown(&mut self, now: Instant, out: &mut Output) {
        self.flush(now, out);
    }
}

/// Why an export failed: whether trying again may help is a variant, not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The backend may accept the same data later, no sooner than `after` when it said so.
    #[error("retryable export error: {message}")]
    Retryable {
        /// The backend's hint (gRPC RetryInfo, HTTP Retry-After).
        after: Option<Duration>,
        /// What happened.
        message: String,
    },
    /// The backend will never accept this data.
    #[error("permanent export error: {message}")]
    Permanent {
        /// What happened.
        message: String,
    },
    /// The backend refused the request for its size (gRPC RESOURCE_EXHAUSTED or OUT_OF_RANGE
    /// saying so, HTTP 413): the same data in smaller requests may pass.
    #[error("request too large: {message}")]
    TooLarge {
        /// What the backend said.
        message: String,
    },
}

/// Sends batches to a backend. Only the encoding and the call live here: batching, retries,
/// timeouts and queueing belong to [`crate::export::ExportQueue`].
pub trait Exporter: Send + Sync + 'static {
    /// Delivers one batch of a request with `metadata` (empty unless a receiver kept it with
    /// `include_metadata` and no processor merged it away): client authenticators such as
    /// `headers_setter` read it.
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>>;

    /// The address the exporter serves on, if it serves (a scrape endpoint).
    fn local_addr(&self) -> Option<std::net::SocketAddr> {
        None
    }

    /// Called once after the last export: flush and close what the exporter holds open.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Why a receiver stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReceiverError(pub String);

/// Accepts telemetry from outside and sends it to its pipelines until `shutdown` fires; then
/// stops accepting, finishes requests in flight and returns, dropping its output.
pub trait Receiver: Send + 'static {
    /// The addresses the receiver listens on, by transport (`grpc`, `http`), once bound.
    fn local_addrs(&self) -> Vec<(&'static str, std::net::SocketAddr)> {
        Vec::new()
    }

    /// Runs the receiver to completion.
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>>;
}
