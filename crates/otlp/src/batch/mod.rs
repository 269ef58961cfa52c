use std::fmt;

use opentelemetry_proto::tonic::{
    logs::v1::ResourceLogs, metrics::v1::ResourceMetrics, metrics::v1::metric::Data,
    trace::v1::ResourceSpans,
};
use prost::{Message, encoding::message};

use crate::{ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest};

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

/// Telemetry of one signal as it flows through a pipeline: the resource-level lists of an OTLP
/// export request.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Spans grouped by resource and scope.
    Traces(Vec<ResourceSpans>),
    /// Metrics grouped by resource and scope.
    Metrics(Vec<ResourceMetrics>),
    /// Log records grouped by resource and scope.
    Logs(Vec<ResourceLogs>),
}

impl Batch {
    /// An empty batch of `signal`.
    pub fn empty(signal: Signal) -> Batch {
        match signal {
            Signal::Traces => Batch::Traces(Vec::new()),
            Signal::Metrics => Batch::Metrics(Vec::new()),
            Signal::Logs => Batch::Logs(Vec::new()),
        }
    }

    /// The signal of this batch.
    pub fn signal(&self) -> Signal {
        match self {
            Batch::Traces(_) => Signal::Traces,
            Batch::Metrics(_) => Signal::Metrics,
            Batch::Logs(_) => Signal::Logs,
        }
    }

    /// The number of items: spans, metric data points or log records.
    pub fn item_count(&self) -> usize {
        match self {
            Batch::Traces(rs) => {
                rs.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
            }
            Batch::Metrics(rm) => rm
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| m.data.as_ref().map_or(0, data_point_count))
                .sum(),
            Batch::Logs(rl) => {
                rl.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum()
            }
        }
    }

    /// Whether the batch holds no resource at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Batch::Traces(v) => v.is_empty(),
            Batch::Metrics(v) => v.is_empty(),
            Batch::Logs(v) => v.is_empty(),
        }
    }

    /// Appends the resources of `other`, which must be of the same signal; returns `other`
    /// unchanged when it is not.
    pub fn append(&mut self, other: Batch) -> Result<(), Batch> {
        match (self, other) {
            (Batch::Traces(a), Batch::Traces(b)) => a.extend(b),
            (Batch::Metrics(a), Batch::Metrics(b)) => a.extend(b),
            (Batch::Logs(a), Batch::Logs(b)) => a.extend(b),
            (_, other) => return Err(other),
        }
        Ok(())
    }

    /// Removes and returns the first `n` items (or all when there are fewer), keeping resource
    /// and scope of each item. Items of one resource or scope stay in order.
    pub fn split_front(&mut self, n: usize) -> Batch {
        match self {
            Batch::Traces(v) => Batch::Traces(crate::split::split_front(v, n)),
            Batch::Metrics(v) => Batch::Metrics(crate::split::split_front(v, n)),
            Batch::Logs(v) => Batch::Logs(crate::split::split_front(v, n)),
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

    /// The batch encoded as the OTLP protobuf export request of its signal (field 1 of every
    /// export request is the repeated resource list, so no request needs to be built).
    pub fn encode_protobuf(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        match self {
            Batch::Traces(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
            Batch::Metrics(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
            Batch::Logs(v) => v.iter().for_each(|r| message::encode(1, r, &mut buf)),
        }
        buf
    }

    /// The size in bytes of [`Batch::encode_protobuf`]'s output.
    pub fn encoded_len(&self) -> usize {
        match self {
            Batch::Traces(v) => message::encoded_len_repeated(1, v),
            Batch::Metrics(v) => message::encoded_len_repeated(1, v),
            Batch::Logs(v) => message::encoded_len_repeated(1, v),
        }
    }

    /// Decodes an OTLP protobuf export request of `signal`.
    pub fn decode_protobuf(signal: Signal, bytes: &[u8]) -> Result<Batch, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => {
                Batch::Traces(ExportTraceServiceRequest::decode(bytes)?.resource_spans)
            }
            Signal::Metrics => {
                Batch::Metrics(ExportMetricsServiceRequest::decode(bytes)?.resource_metrics)
            }
            Signal::Logs => Batch::Logs(ExportLogsServiceRequest::decode(bytes)?.resource_logs),
        })
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

#[cfg(test)]
mod tests;
