//! What both transports do with a decoded request: check it, hand it to the pipelines within
//! the deadline, and count it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use weir_core::{
    Message, Metadata, ReceiverOutput, SendError, Signal, auth::ServerAuth, telemetry,
};
use weir_otlp::Batch;

/// How long a request may wait for room in the pipelines when the client set no deadline.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Why a request was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request breaks an OTLP rule: the client must not retry it.
    Invalid(String),
    /// The pipelines stayed full until the deadline, or are shutting down: retry later.
    Unavailable(String),
    /// No pipeline takes this signal from this receiver.
    Unsupported(Signal),
    /// A `memory_limiter` refuses data for now: retry after the given time.
    Exhausted(String, Duration),
}

pub(crate) struct Intake {
    receiver: String,
    /// The pipelines' inputs, until [`Intake::close`]: connections that outlive shutdown
    /// (a client that never speaks) must not keep the pipelines open.
    output: std::sync::RwLock<Option<Arc<ReceiverOutput>>>,
    accepts: [bool; 3],
    decodes: [bool; 3],
    counters: [(metrics::Counter, metrics::Counter); 3],
    include_metadata: bool,
    auth: Option<Arc<dyn ServerAuth>>,
    unauthenticated: metrics::Counter,
}

impl Intake {
    pub(crate) fn new(
        receiver: &str,
        transport: &'static str,
        output: ReceiverOutput,
        include_metadata: bool,
        auth: Option<Arc<dyn ServerAuth>>,
    ) -> Intake {
        let counters = Signal::ALL.map(|signal| {
            let labels = [
                (telemetry::RECEIVER, receiver.to_owned()),
                (telemetry::TRANSPORT, transport.to_owned()),
            ];
            (
                metrics::counter!(telemetry::receiver_accepted(signal), &labels),
                metrics::counter!(telemetry::receiver_refused(signal), &labels),
            )
        });
        let unauthenticated = metrics::counter!(telemetry::RECEIVER_UNAUTHENTICATED,
            telemetry::RECEIVER => receiver.to_owned(), telemetry::TRANSPORT => transport);
        let accepts = Signal::ALL.map(|signal| output.accepts(signal));
        let decodes = Signal::ALL.map(|signal| output.decodes(signal));
        Intake {
            receiver: receiver.to_owned(),
            output: std::sync::RwLock::new(Some(Arc::new(output))),
            accepts,
            decodes,
            counters,
            include_metadata,
            auth,
            unauthenticated,
        }
    }

    /// Checks the request's credentials with the receiver's authenticator, if it has one:
    /// the authenticated client's attributes, or a refusal that says no more than that (the
    /// reason goes to weir's log).
    pub(crate) fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Vec<(String, String)>, ()> {
        let Some(auth) = &self.auth else { return Ok(Vec::new()) };
        auth.authenticate(headers).map_err(|reason| {
            self.unauthenticated.increment(1);
            tracing::debug!(receiver = %self.receiver, reason, "request refused: unauthenticated");
        })
    }

    /// The request's metadata to keep with its data: its headers with `include_metadata`,
    /// the authenticated client's attributes as `auth.<name>`, and the client's address.
    pub(crate) fn metadata(
        &self,
        headers: &http::HeaderMap,
        authenticated: Vec<(String, String)>,
        peer: Option<std::net::SocketAddr>,
    ) -> Metadata {
        let peer = peer.map(|addr| addr.ip());
        let auth = authenticated.into_iter().map(|(k, v)| (weir_core::auth::attribute_key(&k), v));
        if !self.include_metadata {
            return Metadata::new(auth).with_peer(peer);
        }
        Metadata::new(
            headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .chain(auth),
        )
        .with_peer(peer)
    }

    /// Lets go of the pipelines' inputs: requests still arriving are refused as unavailable.
    pub(crate) fn close(&self) {
        self.output.write().expect("not poisoned").take();
    }

    pub(crate) fn accepts(&self, signal: Signal) -> bool {
        self.accepts[signal as usize]
    }

    /// Makes a batch of a protobuf request: decoded at once when every pipeline fed reads
    /// the items (then [`Intake::accept`] validates them), else kept encoded after the
    /// validating walk, which refuses what a decode and validation would (the items of a
    /// refused request are counted).
    pub(crate) fn protobuf(&self, signal: Signal, bytes: Bytes) -> Result<Batch, String> {
        let batch = if self.decodes[signal as usize] {
            Batch::decode_protobuf(signal, &bytes).map_err(|e| e.to_string())
        } else {
            Batch::from_protobuf(signal, bytes.clone()).map_err(|e| e.to_string())
        };
        batch.map_err(|e| {
            self.refused(signal, &bytes);
            format!("invalid OTLP/protobuf {signal} request: {e}")
        })
    }

    /// Counts the items of a request refused before it became a batch.
    fn refused(&self, signal: Signal, bytes: &[u8]) {
        let items = weir_otlp::wire::count_items(signal, bytes) as u64;
        self.counters[signal as usize].1.increment(items);
    }

    /// Checks `batch` and hands it to every pipeline of its signal, waiting at most until
    /// `deadline` (the client's, capped at [`DEFAULT_WAIT`]).
    pub(crate) async fn accept(
        &self,
        batch: Batch,
        metadata: Metadata,
        deadline: Option<Instant>,
    ) -> Result<(), Refusal> {
        let signal = batch.signal();
        let items = batch.item_count() as u64;
        let (accepted, refused) = &self.counters[signal as usize];
        if let Err(invalid) = weir_otlp::validate(&batch) {
            refused.increment(items);
            return Err(Refusal::Invalid(invalid.to_string()));
        }
        let latest = Instant::now() + DEFAULT_WAIT;
        let deadline = deadline.map_or(latest, |d| d.min(latest));
        let Some(output) = self.output.read().expect("not poisoned").clone() else {
            refused.increment(items);
            return Err(Refusal::Unavailable("the receiver is shutting down".into()));
        };
        match output
            .send(Message { batch, metadata, ack: Default::default(), route: None }, deadline)
            .await
        {
            Ok(()) => {
                accepted.increment(items);
                Ok(())
            }
            Err(error) => {
                refused.increment(items);
                tracing::debug!(receiver = %self.receiver, %signal, items, %error, "request refused");
                Err(match error {
                    SendError::Full | SendError::Closed | SendError::NotPersisted => {
                        Refusal::Unavailable(error.to_string())
                    }
                    SendError::NoPipeline(signal) => Refusal::Unsupported(signal),
                    SendError::MemoryLimited { retry_after } => {
                        Refusal::Exhausted(error.to_string(), retry_after)
                    }
                })
            }
        }
    }
}
