//! Splitting the front off nested OTLP lists while keeping each item's resource and scope.

use opentelemetry_proto::tonic::{
    logs::v1::{ResourceLogs, ScopeLogs},
    metrics::v1::{
        ExponentialHistogram, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum,
        Summary, metric::Data,
    },
    trace::v1::{ResourceSpans, ScopeSpans},
};

use crate::batch::data_point_count;

/// A level of the OTLP hierarchy that holds items, directly or through children.
pub(crate) trait Group: Sized {
    /// Items held, at any depth.
    fn count(&self) -> usize;
    /// Removes the first `n` items (`0 < n < self.count()`) into a new group with the same
    /// resource or scope.
    fn split_front(&mut self, n: usize) -> Self;
}

/// Removes the first `n` items of a list of groups, splitting one group if it straddles `n`.
pub(crate) fn split_front<G: Group>(groups: &mut Vec<G>, n: usize) -> Vec<G> {
    let mut remaining = n;
    let mut whole = 0;
    let mut partial = None;
    for group in groups.iter_mut() {
        let count = group.count();
        if count <= remaining {
            remaining -= count;
            whole += 1;
            continue;
        }
        if remaining > 0 {
            partial = Some(group.split_front(remaining));
        }
        break;
    }
    let mut front: Vec<G> = groups.drain(..whole).collect();
    front.extend(partial);
    front
}

impl Group for ResourceSpans {
    fn count(&self) -> usize {
        self.scope_spans.iter().map(Group::count).sum()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ResourceSpans {
            resource: self.resource.clone(),
            scope_spans: split_front(&mut self.scope_spans, n),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for ScopeSpans {
    fn count(&self) -> usize {
        self.spans.len()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ScopeSpans {
            scope: self.scope.clone(),
            spans: self.spans.drain(..n).collect(),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for ResourceLogs {
    fn count(&self) -> usize {
        self.scope_logs.iter().map(Group::count).sum()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ResourceLogs {
            resource: self.resource.clone(),
            scope_logs: split_front(&mut self.scope_logs, n),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for ScopeLogs {
    fn count(&self) -> usize {
        self.log_records.len()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ScopeLogs {
            scope: self.scope.clone(),
            log_records: self.log_records.drain(..n).collect(),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for ResourceMetrics {
    fn count(&self) -> usize {
        self.scope_metrics.iter().map(Group::count).sum()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ResourceMetrics {
            resource: self.resource.clone(),
            scope_metrics: split_front(&mut self.scope_metrics, n),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for ScopeMetrics {
    fn count(&self) -> usize {
        self.metrics.iter().map(Group::count).sum()
    }
    fn split_front(&mut self, n: usize) -> Self {
        ScopeMetrics {
            scope: self.scope.clone(),
            metrics: split_front(&mut self.metrics, n),
            schema_url: self.schema_url.clone(),
        }
    }
}

impl Group for Metric {
    fn count(&self) -> usize {
        self.data.as_ref().map_or(0, data_point_count)
    }
    fn split_front(&mut self, n: usize) -> Self {
        let data = self.data.as_mut().map(|data| match data {
            Data::Gauge(g) => {
                Data::Gauge(Gauge { data_points: g.data_points.drain(..n).collect() })
            }
            Data::Sum(s) => Data::Sum(Sum {
                data_points: s.data_points.drain(..n).collect(),
                aggregation_temporality: s.aggregation_temporality,
                is_monotonic: s.is_monotonic,
            }),
            Data::Histogram(h) => Data::Histogram(Histogram {
                data_points: h.data_points.drain(..n).collect(),
                aggregation_temporality: h.aggregation_temporality,
            }),
            Data::ExponentialHistogram(h) => Data::ExponentialHistogram(ExponentialHistogram {
                data_points: h.data_points.drain(..n).collect(),
                aggregation_temporality: h.aggregation_temporality,
            }),
            Data::Summary(s) => {
                Data::Summary(Summary { data_points: s.data_points.drain(..n).collect() })
            }
        });
        Metric {
            name: self.name.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            metadata: self.metadata.clone(),
            data,
        }
    }
}
