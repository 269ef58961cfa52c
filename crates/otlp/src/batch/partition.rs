//! Splitting a batch by a key per item, in whichever form it is: decoded lists regroup
//! through [`crate::regroup::partition`], encoded requests are cut on the wire.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::{
    logs::v1::LogRecord, metrics::v1::Metric, resource::v1::Resource, trace::v1::Span,
};

use super::{Batch, Decoded, Repr};
use crate::{Signal, regroup, wire};

/// One item (a span, a log record or a metric) as a partition key reads it.
pub struct Item<'a>(Form<'a>);

enum Form<'a> {
    Span(&'a Span),
    Log(&'a LogRecord),
    Metric(&'a Metric),
    /// The item's protobuf body.
    Wire(Signal, &'a [u8]),
}

/// Field numbers read from the wire: a span's and a log record's trace id, a metric's name.
const SPAN_TRACE_ID: u32 = 1;
const LOG_TRACE_ID: u32 = 9;
const METRIC_NAME: u32 = 1;

impl Item<'_> {
    /// A span's or log record's trace id (empty when it has none, and for metrics).
    pub fn trace_id(&self) -> &[u8] {
        match &self.0 {
            Form::Span(span) => &span.trace_id,
            Form::Log(record) => &record.trace_id,
            Form::Metric(_) => &[],
            Form::Wire(Signal::Traces, body) => wire::last_bytes(body, SPAN_TRACE_ID),
            Form::Wire(Signal::Logs, body) => wire::last_bytes(body, LOG_TRACE_ID),
            Form::Wire(Signal::Metrics, _) => &[],
        }
    }

    /// A metric's name (empty for spans and log records).
    pub fn metric_name(&self) -> &str {
        match &self.0 {
            Form::Metric(metric) => &metric.name,
            Form::Wire(Signal::Metrics, body) => {
                // UTF-8 was checked when the request was walked
                std::str::from_utf8(wire::last_bytes(body, METRIC_NAME)).unwrap_or("")
            }
            _ => "",
        }
    }
}

impl Batch {
    /// Splits the batch by `key(of_resource(resource), item)`, keeping each item under its
    /// resource and scope and the order of items within each part. `of_resource` runs once
    /// per resource entry, for what the keys of its items share. An encoded batch is cut
    /// into encoded parts: only resources are decoded.
    pub fn partition<P, K: Ord>(
        self,
        of_resource: impl FnMut(Option<&Resource>) -> P,
        mut key: impl FnMut(&P, Item<'_>) -> K,
    ) -> BTreeMap<K, Batch> {
        fn wrap<K: Ord, T: Into<Batch>>(parts: BTreeMap<K, T>) -> BTreeMap<K, Batch> {
            parts.into_iter().map(|(k, v)| (k, v.into())).collect()
        }
        match self.0 {
            Repr::Encoded(encoded) => {
                let signal = encoded.signal();
                wrap(wire::partition(&encoded, of_resource, |shared, body| {
                    key(shared, Item(Form::Wire(signal, body)))
                }))
            }
            Repr::Decoded(Decoded::Traces(v)) => {
                wrap(regroup::partition(v, of_resource, |p, s| key(p, Item(Form::Span(s)))))
            }
            Repr::Decoded(Decoded::Logs(v)) => {
                wrap(regroup::partition(v, of_resource, |p, r| key(p, Item(Form::Log(r)))))
            }
            Repr::Decoded(Decoded::Metrics(v)) => {
                wrap(regroup::partition(v, of_resource, |p, m| key(p, Item(Form::Metric(m)))))
            }
        }
    }
}
