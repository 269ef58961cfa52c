//! Checks that the protobuf and JSON decoders leave to us: identifier lengths.
//!
//! A trace id is 16 bytes and a span id 8 bytes wherever they appear; log records and
//! exemplars may leave them empty, a span's parent and a link may not be shorter or longer.

use std::fmt;

use crate::{Batch, Decoded};

/// A request that decoded but breaks an OTLP rule; `path` names the offending field in the
/// OTLP/JSON spelling (`resourceSpans[0].scopeSpans[1].spans[3].traceId`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InvalidRequest {
    /// Where the problem is.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Copy)]
enum Id {
    Trace,
    Span,
}

impl Id {
    fn len(self) -> usize {
        match self {
            Id::Trace => 16,
            Id::Span => 8,
        }
    }
}

fn check(
    id: &[u8],
    kind: Id,
    optional: bool,
    path: impl FnOnce() -> String,
) -> Result<(), InvalidRequest> {
    if id.len() == kind.len() || (optional && id.is_empty()) {
        return Ok(());
    }
    let name = match kind {
        Id::Trace => "trace id",
        Id::Span => "span id",
    };
    Err(InvalidRequest {
        path: path(),
        message: format!("invalid {name} of {} bytes: expected {}", id.len(), kind.len()),
    })
}

struct Path<'a>(&'a [(&'a str, usize)], &'a str);

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, index) in self.0 {
            write!(f, "{name}[{index}].")?;
        }
        f.write_str(self.1)
    }
}

/// Checks every identifier of the batch; returns the first problem found.
pub fn validate(batch: &Batch) -> Result<(), InvalidRequest> {
    // an encoded batch was walked when it was made, and the walk checks the same rules
    let Some(decoded) = batch.as_decoded() else { return Ok(()) };
    match decoded {
        Decoded::Traces(resources) => {
            for (r, rs) in resources.iter().enumerate() {
                for (s, ss) in rs.scope_spans.iter().enumerate() {
                    for (i, span) in ss.spans.iter().enumerate() {
                        let at = [("resourceSpans", r), ("scopeSpans", s), ("spans", i)];
                        let p = |field| move || Path(&at, field).to_string();
                        check(&span.trace_id, Id::Trace, false, p("traceId"))?;
                        check(&span.span_id, Id::Span, false, p("spanId"))?;
                        check(&span.parent_span_id, Id::Span, true, p("parentSpanId"))?;
                        for (l, link) in span.links.iter().enumerate() {
                            let at = [at[0], at[1], at[2], ("links", l)];
                            let p = |field| move || Path(&at, field).to_string();
                            check(&link.trace_id, Id::Trace, false, p("traceId"))?;
                            check(&link.span_id, Id::Span, false, p("spanId"))?;
                        }
                    }
                }
            }
        }
        Decoded::Logs(resources) => {
            for (r, rl) in resources.iter().enumerate() {
                for (s, sl) in rl.scope_logs.iter().enumerate() {
                    for (i, record) in sl.log_records.iter().enumerate() {
                        let at = [("resourceLogs", r), ("scopeLogs", s), ("logRecords", i)];
                        let p = |field| move || Path(&at, field).to_string();
                        check(&record.trace_id, Id::Trace, true, p("traceId"))?;
                        check(&record.span_id, Id::Span, true, p("spanId"))?;
                    }
                }
            }
        }
        Decoded::Metrics(resources) => validate_metrics(resources)?,
    }
    Ok(())
}

fn validate_metrics(
    resources: &[opentelemetry_proto::tonic::metrics::v1::ResourceMetrics],
) -> Result<(), InvalidRequest> {
    use opentelemetry_proto::tonic::metrics::v1::{Exemplar, metric::Data};
    fn exemplars(data: &Data) -> Vec<(usize, &[Exemplar])> {
        match data {
            Data::Gauge(g) => g.data_points.iter().map(|p| &p.exemplars[..]).enumerate().collect(),
            Data::Sum(s) => s.data_points.iter().map(|p| &p.exemplars[..]).enumerate().collect(),
            Data::Histogram(h) => {
                h.data_points.iter().map(|p| &p.exemplars[..]).enumerate().collect()
            }
            Data::ExponentialHistogram(h) => {
                h.data_points.iter().map(|p| &p.exemplars[..]).enumerate().collect()
            }
            Data::Summary(_) => Vec::new(),
        }
    }
    for (r, rm) in resources.iter().enumerate() {
        for (s, sm) in rm.scope_metrics.iter().enumerate() {
            for (m, metric) in sm.metrics.iter().enumerate() {
                let Some(data) = &metric.data else { continue };
                for (d, list) in exemplars(data) {
                    for (e, ex) in list.iter().enumerate() {
                        let at = [
                            ("resourceMetrics", r),
                            ("scopeMetrics", s),
                            ("metrics", m),
                            ("dataPoints", d),
                            ("exemplars", e),
                        ];
                        let p = |field| move || Path(&at, field).to_string();
                        check(&ex.trace_id, Id::Trace, true, p("traceId"))?;
                        check(&ex.span_id, Id::Span, true, p("spanId"))?;
                    }
                }
            }
        }
    }
    Ok(())
}
