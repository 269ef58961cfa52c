//! Per-tenant and per-metric state: admitted series, sticky overflow routes, label values.

use std::sync::Arc;

use super::points::Point;
use super::report::Sketches;

use crate::telemetry::*;

use super::{
    Ids, Shared,
    budget::{Budget, Stats},
    config,
};

/// A cumulative series routed to overflow: the last point it sent (to turn its next one
/// into an increment), or `None` when its increments are not tracked.
#[derive(Debug)]
pub(super) struct Sticky {
    pub(super) last: Option<Point>,
    pub(super) seen: u32,
}

/// The distinct values one label took on one metric.
#[derive(Debug)]
pub(super) struct LabelValues {
    pub(super) key: String,
    pub(super) max: usize,
    pub(super) values: Ids<u32>,
    pub(super) rewritten: metrics::Counter,
}

/// What the limiter knows about one metric of one tenant.
#[derive(Debug)]
pub(super) struct MetricState {
    pub(super) name: String,
    pub(super) limit: usize,
    pub(super) admitted: Ids<u32>,
    pub(super) sticky: Ids<Sticky>,
    pub(super) labels: Vec<LabelValues>,
    /// Running totals of cumulative overflow series, by overflow key, with the batch that
    /// created them.
    pub(super) totals: Ids<(Point, u64)>,
    /// Distinct resource subsets of overflow series.
    pub(super) overflow_resources: Ids<()>,
    /// The latest point time seen before the current batch.
    pub(super) last_time: u64,
    /// The latest point time seen in the current batch.
    pub(super) batch_time: u64,
    pub(super) seen: u32,
    pub(super) sketches: Option<Box<Sketches>>,
    /// The reporting window in which the first overflow was logged.
    pub(super) logged_window: Option<u64>,
}

impl MetricState {
    pub(super) fn bytes(&self) -> usize {
        // A hash map holds a power of two of slots of (key, value), at most 7/8 full, plus
        // one control byte each and a group of 16.
        fn entry<V>(map: &Ids<V>) -> usize {
            let slots = match map.capacity() {
                0 => return 0,
                c if c < 8 => (c + 1).next_power_of_two(),
                c => (c * 8 / 7).next_power_of_two(),
            };
            slots * (std::mem::size_of::<(u64, V)>() + 1) + 16
        }
        let point = |p: &Point| match p {
            Point::Number(_) => 0,
            Point::Histogram(h) => 8 * (h.bucket_counts.capacity() + h.explicit_bounds.capacity()),
            Point::Exponential(e) => {
                8 * (e.positive.as_ref().map_or(0, |b| b.bucket_counts.capacity())
                    + e.negative.as_ref().map_or(0, |b| b.bucket_counts.capacity()))
            }
        };
        std::mem::size_of::<MetricState>()
            + self.name.capacity()
            + entry(&self.admitted)
            + entry(&self.sticky)
            + self.sticky.values().filter_map(|s| s.last.as_ref()).map(point).sum::<usize>()
            + self.labels.iter().map(|l| entry(&l.values) + l.key.capacity()).sum::<usize>()
            + entry(&self.totals)
            + self.totals.values().map(|(p, _)| point(p)).sum::<usize>()
            + entry(&self.overflow_resources)
            + self.sketches.as_ref().map_or(0, |s| s.bytes())
    }
}

/// One tenant.
#[derive(Debug)]
pub(super) struct TenantState {
    pub(super) name: String,
    pub(super) budget: Arc<Budget>,
    pub(super) max_series_per_metric: usize,
    pub(super) metrics: Ids<MetricState>,
    pub(super) stats: Stats,
    pub(super) published: Stats,
    pub(super) counters: TenantCounters,
}

/// Self-metric handles of one tenant.
#[derive(Debug)]
pub(super) struct TenantCounters {
    pub(super) active: metrics::Gauge,
    pub(super) tenant_limit: metrics::Gauge,
    pub(super) overflowed: metrics::Counter,
    pub(super) admitted: metrics::Counter,
    pub(super) expired: metrics::Counter,
    pub(super) gauge_dropped: metrics::Counter,
    pub(super) summary_dropped: metrics::Counter,
    pub(super) untracked: metrics::Counter,
    pub(super) folded: metrics::Counter,
}

/// How a point goes on.
pub(super) enum Route {
    Keep,
    Overflow(u64),
}

pub(super) fn new_metric(shared: &Shared, tenant_default: usize, name: &str) -> MetricState {
    let limits = &shared.config.limits;
    let limit = limits
        .per_metric
        .iter()
        .find(|l| config::glob(&l.pattern, name))
        .map_or(tenant_default, |l| l.max_series);
    let mut labels: Vec<LabelValues> = Vec::new();
    for limit in &limits.label_value_limits {
        if config::glob(&limit.metric, name) && !labels.iter().any(|l| l.key == limit.label) {
            labels.push(LabelValues {
                key: limit.label.clone(),
                max: limit.max_values,
                values: Ids::default(),
                rewritten: metrics::counter!(LABEL_VALUES_REWRITTEN, "processor" => shared.id.clone(), "label" => limit.label.clone()),
            });
        }
    }
    MetricState {
        name: name.to_owned(),
        limit: if limit == 0 { usize::MAX } else { limit },
        admitted: Ids::default(),
        sticky: Ids::default(),
        labels,
        totals: Ids::default(),
        overflow_resources: Ids::default(),
        last_time: 0,
        batch_time: 0,
        seen: shared.now,
        sketches: None,
        logged_window: None,
    }
}
