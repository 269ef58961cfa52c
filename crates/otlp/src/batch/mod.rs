use std::fmt;

use std::borrow::Cow;

use bytes::Bytes;
use opentelemetry_proto::tonic::{
    logs::v1::ResourceLogs, metrics::v1::ResourceMetrics, metrics::v1::metric::Data,
    resource::v1::Resource, trace::v1::ResourceSpans,
};
use prost::{Message, encoding::message};

use crate::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
    InvalidRequest, wire::Encoded,
};

/// One of the three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// Every signal, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The name used in configuration and self-telemetry: `traces`, `metrics`, `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    /// The name of one item of this signal in the Collector's metric names:
    /// `spans`, `metric_points`, `log_records`.
    pub fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    /// The gRPC method of this signal's OTLP export service.
    pub fn grpc_export_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }

    /// Parses a pipeline signal name.
    pub fn parse(name: &str) -> Option<Signal> {
        match name {
            "traces" => Some(Signal::Traces),
            "metrics" => Some(Signal::Metrics),
            "logs" => Some(Signal::Logs),
            _ => None,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Telemetry of one signal as it flows through a pipeline: the resource-level list of an OTLP
/// export request, kept as the protobuf bytes it arrived in (encoded) until something asks for
/// its items, then as the decoded messages. Which form a batch is in is this type's concern:
/// counting, merging, splitting and encoding work on either, and an encoded batch stays
/// encoded through every step that does not read items.
#[derive(Debug, Clone)]
pub struct Batch(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Encoded(Encoded),
    Decoded(Decoded),
}

/// The items of a batch as the `opentelemetry-proto` messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// Spans grouped by resource and scope.
    Traces(Vec<ResourceSpans>),
    /// Metrics grouped by resource and scope.
    Metrics(Vec<ResourceMetrics>),
    /// Log records grouped by resource and scope.
    Logs(Vec<ResourceLogs>),
}

impl From<Decoded> for Batch {
    fn from(decoded: Decoded) -> Batch {
        Batch(Repr::Decoded(decoded))
    }
}

impl From<Vec<ResourceSpans>> for Batch {
    fn from(resources: Vec<ResourceSpans>) -> Batch {
        Decoded::Traces(resources).into()
    }
}

impl From<Vec<ResourceMetrics>> for Batch {
    fn from(resources: Vec<ResourceMetrics>) -> Batch {
        Decoded::Metrics(resources).into()
    }
}

impl From<Vec<ResourceLogs>> for Batch {
    fn from(resources: Vec<ResourceLogs>) -> Batch {
        Decoded::Logs(resources).into()
    }
}

impl From<Encoded> for Batch {
    fn from(encoded: Encoded) -> Batch {
        Batch(Repr::Encoded(encoded))
    }
}

/// Batches are equal when they hold the same items under the same resources and scopes,
/// whatever their form.
impl PartialEq for Batch {
    fn eq(&self, other: &Batch) -> bool {
        match (&self.0, &other.0) {
            (Repr::Decoded(a), Repr::Decoded(b)) => a == b,
            _ => self.signal() == other.signal() && *self.view() == *other.view(),
        }
    }
}

impl Decoded {
    /// An empty list of `signal`.
    pub fn empty(signal: Signal) -> Decoded {
        match signal {
            Signal::Traces => Decoded::Traces(Vec::new()),
            Signal::Metrics => Decoded::Metrics(Vec::new()),
            Signal::Logs => Decoded::Logs(Vec::new()),
        }
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        match self {
            Decoded::Traces(_) => Signal::Traces,
            Decoded::Metrics(_) => Signal::Metrics,
            Decoded::Logs(_) => Signal::Logs,
        }
    }

    /// The number of resources.
    pub fn resource_count(&self) -> usize {
        match self {
            Decoded::Traces(v) => v.len(),
            Decoded::Metrics(v) => v.len(),
            Decoded::Logs(v) => v.len(),
        }
    }

    /// The number of items: spans, metric data points or log records.
    pub fn item_count(&self) -> usize {
        match self {
            Decoded::Traces(rs) => {
                rs.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
            }
            Decoded::Metrics(rm) => rm
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| m.data.as_ref().map_or(0, data_point_count))
                .sum(),
            Decoded::Logs(rl) => {
                rl.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum()
            }
        }
    }

    /// Appends the resources of `other`, of the same signal (the caller's to ensure).
    pub(crate) fn extend_from(&mut self, other: Decoded) {
        match (self, other) {
            (Decoded::Traces(a), Decoded::Traces(b)) => a.extend(b),
            (Decoded::Metrics(a), Decoded::Metrics(b)) => a.extend(b),
            (Decoded::Logs(a), Decoded::Logs(b)) => a.extend(b),
            _ => debug_assert!(false, "signals differ"),
        }
    }

    fn split_front(&mut self, n: usize) -> Decoded {
        match self {
            Decoded::Traces(v) => Decoded::Traces(crate::split::split_front(v, n)),
            Decoded::Metrics(v) => Decoded::Metrics(crate::split::split_front(v, n)),
            Decoded::Logs(v) => Decoded::Logs(crate::split::split_front(v, n)),
        }
    }

    /// The export request's protobuf bytes (field 1 of every export request is the repeated
    /// resource list, so no request needs to be built).
    pub(crate) fn encode(&self) -> Bytes {
        let mut buf = Vec::with_capacity(self.encoded_len());
        match self {
            Decoded::Traces(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
            Decoded::Metrics(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
            Decoded::Logs(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
        }
        buf.into()
    }

    fn encoded_len(&self) -> usize {
        match self {
            Decoded::Traces(v) => message::encoded_len_repeated(1, v),
            Decoded::Metrics(v) => message::encoded_len_repeated(1, v),
            Decoded::Logs(v) => message::encoded_len_repeated(1, v),
        }
    }

    /// Decodes an OTLP protobuf export request of `signal`.
    pub fn decode_protobuf(signal: Signal, bytes: &[u8]) -> Result<Decoded, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => {
                Decoded::Traces(ExportTraceServiceRequest::decode(bytes)?.resource_spans)
            }
            Signal::Metrics => {
                Decoded::Metrics(ExportMetricsServiceRequest::decode(bytes)?.resource_metrics)
            }
            Signal::Logs => Decoded::Logs(ExportLogsServiceRequest::decode(bytes)?.resource_logs),
        })
    }

    /// The resource of each resource-level entry, to read or change.
    fn resources_mut(&mut self) -> Box<dyn Iterator<Item = &mut Option<Resource>> + '_> {
        match self {
            Decoded::Traces(v) => Box::new(v.iter_mut().map(|r| &mut r.resource)),
            Decoded::Metrics(v) => Box::new(v.iter_mut().map(|r| &mut r.resource)),
            Decoded::Logs(v) => Box::new(v.iter_mut().map(|r| &mut r.resource)),
        }
    }
}

impl Batch {
    /// An empty batch of `signal`.
    pub fn empty(signal: Signal) -> Batch {
        Decoded::empty(signal).into()
    }

    /// The signal of this batch.
    pub fn signal(&self) -> Signal {
        match &self.0 {
            Repr::Encoded(e) => e.signal(),
            Repr::Decoded(d) => d.signal(),
        }
    }

    /// The number of items: spans, metric data points or log records.
    pub fn item_count(&self) -> usize {
        match &self.0 {
            Repr::Encoded(e) => e.item_count(),
            Repr::Decoded(d) => d.item_count(),
        }
    }

    /// Whether the batch holds no resource at all.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Encoded(e) => e.is_empty(),
            Repr::Decoded(d) => d.resource_count() == 0,
        }
    }

    /// Whether the batch is still the bytes it was received as (for tests and benchmarks:
    /// nothing else should depend on it).
    pub fn is_encoded(&self) -> bool {
        matches!(self.0, Repr::Encoded(_))
    }

    /// The items, decoded now if they were not (and kept decoded), to read or change.
    pub fn decoded_mut(&mut self) -> &mut Decoded {
        if let Repr::Encoded(_) = &self.0 {
            let empty = Repr::Decoded(Decoded::empty(self.signal()));
            let Repr::Encoded(encoded) = std::mem::replace(&mut self.0, empty) else {
                unreachable!("checked above")
            };
            self.0 = Repr::Decoded(encoded.into_decoded());
        }
        match &mut self.0 {
            Repr::Decoded(decoded) => decoded,
            Repr::Encoded(_) => unreachable!("decoded above"),
        }
    }

    /// The items, decoded.
    pub fn into_decoded(self) -> Decoded {
        match self.0 {
            Repr::Encoded(encoded) => encoded.into_decoded(),
            Repr::Decoded(decoded) => decoded,
        }
    }

    /// The items to read, without changing the batch's form: an encoded batch decodes them
    /// once, shared by its clones (consumers side by side read one decode).
    pub fn view(&self) -> Cow<'_, Decoded> {
        match &self.0 {
            Repr::Encoded(encoded) => Cow::Borrowed(encoded.decoded()),
            Repr::Decoded(decoded) => Cow::Borrowed(decoded),
        }
    }

    /// The decoded items when the batch is decoded.
    pub(crate) fn as_decoded(&self) -> Option<&Decoded> {
        match &self.0 {
            Repr::Decoded(decoded) => Some(decoded),
            Repr::Encoded(_) => None,
        }
    }

    /// Calls `change` with the resource of every resource-level entry. An encoded batch
    /// stays encoded: each resource is decoded and written back, scopes and items are copied
    /// as they are.
    pub fn for_each_resource(&mut self, mut change: impl FnMut(&mut Option<Resource>)) {
        match &mut self.0 {
            Repr::Encoded(encoded) => encoded.for_each_resource(change),
            Repr::Decoded(decoded) => decoded.resources_mut().for_each(&mut change),
        }
    }

    /// Makes an encoded batch hold exactly its own bytes, in one buffer (see
    /// [`Encoded::compact`]); a decoded batch is left as it is.
    pub fn compact(&mut self) {
        if let Repr::Encoded(encoded) = &mut self.0 {
            encoded.compact();
        }
    }

    /// Appends the items of `other`, which must be of the same signal; returns `other`
    /// unchanged when it is not. Two encoded batches join without a copy; a decoded batch
    /// joins an encoded one encoded, so that what was forwarded as bytes stays bytes.
    pub fn append(&mut self, other: Batch) -> Result<(), Batch> {
        if self.signal() != other.signal() {
            return Err(other);
        }
        if self.is_empty() {
            *self = other;
            return Ok(());
        }
        match (&mut self.0, other.0) {
            (Repr::Encoded(a), Repr::Encoded(b)) => a.append(b),
            (Repr::Decoded(a), Repr::Decoded(b)) => a.extend_from(b),
            (Repr::Encoded(a), Repr::Decoded(b)) => a.append(Encoded::from_decoded(&b)),
            (Repr::Decoded(a), Repr::Encoded(b)) => {
                let mut joined = Encoded::from_decoded(a);
                joined.append(b);
                self.0 = Repr::Encoded(joined);
            }
        }
        Ok(())
    }

    /// Removes and returns the first `n` items (or all when there are fewer), keeping resource
    /// and scope of each item. Items of one resource or scope stay in order.
    pub fn split_front(&mut self, n: usize) -> Batch {
        match &mut self.0 {
            Repr::Encoded(e) => Batch(Repr::Encoded(e.split_front(n))),
            Repr::Decoded(d) => Batch(Repr::Decoded(d.split_front(n))),
        }
    }

    /// Splits the batch in halves (by items) until each part encodes to at most `max_bytes`
    /// or holds a single item, keeping the items' order.
    pub fn split_bytes(self, max_bytes: usize) -> Vec<Batch> {
        let mut done = Vec::new();
        let mut pending = vec![self];
        while let Some(mut batch) = pending.pop() {
            let items = batch.item_count();
            if items <= 1 || batch.encoded_len() <= max_bytes {
                done.push(batch);
                continue;
            }
            let front = batch.split_front(items / 2);
            pending.push(batch);
            pending.push(front);
        }
        done
    }

    /// Splits the batch into batches of at most `max` items each (`max` of 0 means no limit).
    pub fn split(mut self, max: usize) -> Vec<Batch> {
        if max == 0 {
            return vec![self];
        }
        let mut out = Vec::new();
        while self.item_count() > max {
            out.push(self.split_front(max));
        }
        out.push(self);
        out
    }

    /// The batch as the OTLP protobuf export request of its signal (field 1 of every export
    /// request is the repeated resource list, so no request needs to be built): the bytes
    /// themselves when encoded.
    pub fn encode_protobuf(&self) -> Bytes {
        match &self.0 {
            Repr::Encoded(e) => e.to_bytes(),
            Repr::Decoded(d) => d.encode(),
        }
    }

    /// [`Batch::encode_protobuf`]'s output in the pieces it is held in (their concatenation
    /// is the request), for a writer that copies them into its own buffer anyway.
    pub fn encode_protobuf_chunks(&self) -> Vec<Bytes> {
        match &self.0 {
            Repr::Encoded(e) => e.chunks().cloned().collect(),
            Repr::Decoded(d) => vec![d.encode()],
        }
    }

    /// The size in bytes of [`Batch::encode_protobuf`]'s output.
    pub fn encoded_len(&self) -> usize {
        match &self.0 {
            Repr::Encoded(e) => e.len(),
            Repr::Decoded(d) => d.encoded_len(),
        }
    }

    /// Checks an OTLP protobuf export request of `signal` (see [`crate::wire::walk`]) and
    /// keeps it encoded.
    pub fn from_protobuf(signal: Signal, bytes: Bytes) -> Result<Batch, InvalidRequest> {
        Encoded::new(signal, bytes).map(Batch::from)
    }

    /// Decodes an OTLP protobuf export request of `signal`.
    pub fn decode_protobuf(signal: Signal, bytes: &[u8]) -> Result<Batch, prost::DecodeError> {
        Decoded::decode_protobuf(signal, bytes).map(Batch::from)
    }
}

/// The number of data points of one metric.
pub(crate) fn data_point_count(data: &Data) -> usize {
    match data {
        Data::Gauge(g) => g.data_points.len(),
        Data::Sum(s) => s.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        Data::ExponentialHistogram(h) => h.data_points.len(),
        Data::Summary(s) => s.data_points.len(),
    }
}

mod partition;
#[cfg(test)]
mod tests;

pub use partition::Item;
