//! Routing the points of one metric: admitted, rewritten, or aggregated into overflow
//! series, and regrouping what is emitted by resource and scope.

use std::sync::Arc;

use super::config::GaugePolicy;
use super::identity::{self, Hasher};
use super::points::{self, Point};
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{
        AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        SummaryDataPoint, metric::Data,
    },
    resource::v1::Resource,
};

use super::{OVERFLOW_ATTRIBUTE, Shared, budget::*, state::*};

/// The resource a metric is in.
pub(super) struct ResourceContext<'a> {
    pub(super) attributes: &'a [KeyValue],
    pub(super) resource_hash: u64,
    pub(super) kept_hash: u64,
    pub(super) folded: bool,
}

pub(super) fn string_value(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(e)) => e.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// The kinds of aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Gauge,
    DeltaSum,
    CumulativeSum { monotonic: bool },
    DeltaHistogram,
    CumulativeHistogram,
    Summary,
}

/// A data point of any type, as the router sees it.
pub(super) trait DataPoint: Clone {
    fn attributes(&self) -> &[KeyValue];
    fn attributes_mut(&mut self) -> &mut Vec<KeyValue>;
    fn start(&self) -> u64;
    fn time(&self) -> u64;
    /// A hash of what makes points of one series unmergeable (histogram bounds).
    fn shape(&self) -> u64 {
        0
    }
    fn into_point(self) -> Option<Point>;
}

macro_rules! data_point {
    ($type:ty, $variant:ident) => {
        impl DataPoint for $type {
            fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }
            fn attributes_mut(&mut self) -> &mut Vec<KeyValue> {
                &mut self.attributes
            }
            fn start(&self) -> u64 {
                self.start_time_unix_nano
            }
            fn time(&self) -> u64 {
                self.time_unix_nano
            }
            data_point!(@shape $type);
            fn into_point(self) -> Option<Point> {
                data_point!(@into self, $variant)
            }
        }
    };
    (@shape HistogramDataPoint) => {
        fn shape(&self) -> u64 {
            let bounds: Vec<u64> = self.explicit_bounds.iter().map(|b| b.to_bits()).collect();
            identity::combine(&bounds).wrapping_add(1)
        }
    };
    (@shape $other:ty) => {};
    (@into $self:ident, None) => {
        None
    };
    (@into $self:ident, $variant:ident) => {
        Some(Point::$variant($self))
    };
}

data_point!(NumberDataPoint, Number);
data_point!(HistogramDataPoint, Histogram);
data_point!(ExponentialHistogramDataPoint, Exponential);
data_point!(SummaryDataPoint, None);

/// Routes every point of one metric.
pub(super) fn limit_metric(
    shared: &mut Shared,
    tenant: &mut TenantState,
    metric: &mut Metric,
    resource: &ResourceContext<'_>,
    scope_hash: u64,
    overflow: &mut Collector,
) {
    let Metric { name, description, unit, data, .. } = metric;
    let Some(data) = data.as_mut() else { return };
    let cumulative = |t: i32| t == AggregationTemporality::Cumulative as i32;
    let (metric_type, temporality, monotonic) = match data {
        Data::Gauge(_) => (MetricType::Gauge, 0, false),
        Data::Sum(s) => (MetricType::Sum, s.aggregation_temporality, s.is_monotonic),
        Data::Histogram(h) => (MetricType::Histogram, h.aggregation_temporality, false),
        Data::ExponentialHistogram(e) => {
            (MetricType::ExponentialHistogram, e.aggregation_temporality, false)
        }
        Data::Summary(_) => (MetricType::Summary, 0, false),
    };
    let kind = match (metric_type, cumulative(temporality)) {
        (MetricType::Gauge, _) => Kind::Gauge,
        (MetricType::Sum, false) => Kind::DeltaSum,
        (MetricType::Sum, true) => Kind::CumulativeSum { monotonic },
        (MetricType::Histogram | MetricType::ExponentialHistogram, false) => Kind::DeltaHistogram,
        (MetricType::Histogram | MetricType::ExponentialHistogram, true) => {
            Kind::CumulativeHistogram
        }
        (MetricType::Summary, _) => Kind::Summary,
    };
    let metric_key = identity::combine(&[
        identity::bytes(name.as_bytes()),
        metric_type as u64,
        identity::bytes(unit.as_bytes()),
        temporality as u64,
        monotonic as u64,
    ]);
    let state = tenant
        .metrics
        .entry(metric_key)
        .or_insert_with(|| new_metric(shared, tenant.max_series_per_metric, name));
    state.seen = shared.now;
    let header =
        Header { key: metric_key, name, description, unit, metric_type, temporality, monotonic };
    let mut router = Router {
        shared,
        tenant_budget: &tenant.budget,
        stats: &mut tenant.stats,
        state,
        resource,
        scope_hash,
        overflow,
        header,
        kind,
    };
    match data {
        Data::Gauge(g) => router.route(&mut g.data_points),
        Data::Sum(s) => router.route(&mut s.data_points),
        Data::Histogram(h) => router.route(&mut h.data_points),
        Data::ExponentialHistogram(e) => router.route(&mut e.data_points),
        Data::Summary(s) => router.route(&mut s.data_points),
    }
}
/// The five OTLP metric types; the number is part of a metric's identity hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MetricType {
    Gauge = 1,
    Sum = 2,
    Histogram = 3,
    ExponentialHistogram = 4,
    Summary = 5,
}

/// What an overflow series copies from its metric.
pub(super) struct Header<'a> {
    pub(super) key: u64,
    pub(super) name: &'a str,
    pub(super) description: &'a str,
    pub(super) unit: &'a str,
    pub(super) metric_type: MetricType,
    pub(super) temporality: i32,
    pub(super) monotonic: bool,
}

impl Header<'_> {
    /// The overflow metric carrying `point`.
    pub(super) fn metric(&self, point: Point) -> Metric {
        let overflow_attribute = vec![KeyValue {
            key: OVERFLOW_ATTRIBUTE.into(),
            value: Some(AnyValue { value: Some(any_value::Value::BoolValue(true)) }),
            ..KeyValue::default()
        }];
        let data = match point {
            Point::Number(mut p) => {
                p.attributes = overflow_attribute;
                if self.metric_type == MetricType::Gauge {
                    Data::Gauge(Gauge { data_points: vec![p] })
                } else {
                    Data::Sum(Sum {
                        data_points: vec![p],
                        aggregation_temporality: self.temporality,
                        is_monotonic: self.monotonic,
                    })
                }
            }
            Point::Histogram(mut p) => {
                p.attributes = overflow_attribute;
                Data::Histogram(Histogram {
                    data_points: vec![p],
                    aggregation_temporality: self.temporality,
                })
            }
            Point::Exponential(mut p) => {
                p.attributes = overflow_attribute;
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![p],
                    aggregation_temporality: self.temporality,
                })
            }
        };
        Metric {
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            unit: self.unit.to_owned(),
            metadata: Vec::new(),
            data: Some(data),
        }
    }
}

/// Routes the points of one metric.
pub(super) struct Router<'a, 'b> {
    pub(super) shared: &'a mut Shared,
    pub(super) tenant_budget: &'a Arc<Budget>,
    pub(super) stats: &'a mut Stats,
    pub(super) state: &'a mut MetricState,
    pub(super) resource: &'a ResourceContext<'b>,
    pub(super) scope_hash: u64,
    pub(super) overflow: &'a mut Collector,
    pub(super) header: Header<'a>,
    pub(super) kind: Kind,
}

impl Router<'_, '_> {
    pub(super) fn route<P: DataPoint>(&mut self, points: &mut Vec<P>) {
        if self.resource.folded {
            self.stats.tenant_points_folded += points.len() as u64;
        }
        let taken = std::mem::take(points);
        let mut kept = Vec::with_capacity(taken.len());
        for mut point in taken {
            self.state.batch_time = self.state.batch_time.max(point.time());
            match self.decide(&mut point) {
                Route::Keep => {
                    self.stats.points_admitted += 1;
                    kept.push(point);
                }
                Route::Overflow(series) => {
                    self.stats.points_overflowed += 1;
                    self.report_overflow(series, point.attributes());
                    if self.shared.enforce {
                        self.aggregate(series, point);
                    } else {
                        self.aggregate(series, point.clone());
                        kept.push(point);
                    }
                }
            }
        }
        *points = kept;
    }

    /// Applies label value limits, then admits or rejects the point's series.
    pub(super) fn decide<P: DataPoint>(&mut self, point: &mut P) -> Route {
        let shared = &mut *self.shared;
        let now = shared.now;
        shared.kv_hashes.clear();
        for kv in point.attributes() {
            let hash = shared.hasher.key_value(kv);
            shared.kv_hashes.push(hash);
        }
        for label in &mut self.state.labels {
            let Some(index) = point.attributes().iter().position(|kv| kv.key == label.key) else {
                continue;
            };
            let value = shared.kv_hashes[index];
            if let Some(seen) = label.values.get_mut(&value) {
                *seen = now;
            } else if label.values.len() < label.max {
                label.values.insert(value, now);
            } else {
                let sentinel = &shared.config.overflow.label_sentinel;
                shared.kv_hashes[index] = shared.hasher.key_string(&label.key, sentinel);
                self.stats.label_values_rewritten += 1;
                label.rewritten.increment(1);
                if shared.enforce {
                    point.attributes_mut()[index].value = Some(AnyValue {
                        value: Some(any_value::Value::StringValue(sentinel.clone())),
                    });
                }
            }
        }
        let attributes = shared.kv_hashes.iter().fold(0u64, |sum, h| sum.wrapping_add(*h));
        let series = identity::combine(&[self.resource.resource_hash, self.scope_hash, attributes]);
        let state = &mut *self.state;
        if let Some(seen) = state.admitted.get_mut(&series) {
            *seen = now;
            return Route::Keep;
        }
        if let Some(sticky) = state.sticky.get_mut(&series) {
            sticky.seen = now;
            return Route::Overflow(series);
        }
        if state.admitted.len() < state.limit && self.tenant_budget.try_reserve() {
            if shared.global.try_reserve() {
                state.admitted.insert(series, now);
                self.stats.series_admitted += 1;
                if state.sketches.is_none()
                    && state.admitted.len().saturating_mul(5) >= state.limit.saturating_mul(4)
                {
                    state.sketches = Some(Box::default());
                }
                return Route::Keep;
            }
            self.tenant_budget.release(1);
        }
        Route::Overflow(series)
    }

    /// Records a rejected series in the sketches, and logs a metric's first overflow in a
    /// reporting window.
    pub(super) fn report_overflow(&mut self, series: u64, attributes: &[KeyValue]) {
        let sketches = self.state.sketches.get_or_insert_with(Box::default);
        let hashes = &self.shared.kv_hashes;
        sketches.reject(series, attributes.iter().zip(hashes).map(|(kv, h)| (kv.key.as_str(), *h)));
        let window = self.shared.window;
        let shared = &mut *self.shared;
        if self.state.logged_window != Some(window)
            && shared.logs_this_window < shared.config.reporting.top_metrics
        {
            self.state.logged_window = Some(window);
            shared.logs_this_window += 1;
            let labels = sketches.top_labels(shared.config.reporting.top_labels_per_metric);
            tracing::warn!(
                processor = %shared.id,
                metric = %self.state.name,
                budget = self.state.limit,
                admitted = self.state.admitted.len(),
                global_used = shared.global.used(),
                top_labels = ?labels,
                "metric over its series budget: points go to its otel.metric.overflow series"
            );
        }
    }

    /// Adds a rejected point to its metric's overflow series.
    pub(super) fn aggregate<P: DataPoint>(&mut self, series: u64, point: P) {
        let max_resources = self.shared.config.overflow.max_overflow_series_per_metric;
        let state = &mut *self.state;
        let kept_hash = self.resource.kept_hash;
        let resource_key = if state.overflow_resources.contains_key(&kept_hash)
            || state.overflow_resources.len() < max_resources
        {
            state.overflow_resources.insert(kept_hash, ());
            kept_hash
        } else {
            0
        };
        let key = identity::combine(&[self.header.key, resource_key, point.shape()]);
        let start = point.start();
        let Some(mut point) = point.into_point() else {
            self.stats.summary_points_dropped += 1;
            return;
        };
        point.strip();
        let resource = if resource_key == 0 { &[][..] } else { self.resource.attributes };
        let keep = &self.shared.keep_resource;
        match self.kind {
            Kind::Summary => self.stats.summary_points_dropped += 1,
            Kind::Gauge => match self.shared.config.overflow.gauge_policy {
                GaugePolicy::Drop => self.stats.gauge_points_dropped += 1,
                policy => self
                    .overflow
                    .add(key, &self.header, resource, keep, point, |m, p| keep_gauge(m, p, policy)),
            },
            Kind::DeltaSum | Kind::DeltaHistogram => {
                self.overflow.add(key, &self.header, resource, keep, point, merge_into)
            }
            Kind::CumulativeSum { .. } | Kind::CumulativeHistogram => {
                let monotonic = matches!(self.kind, Kind::CumulativeSum { monotonic: true })
                    || self.kind == Kind::CumulativeHistogram;
                let increment = match state.sticky.get_mut(&series) {
                    Some(Sticky { last: Some(last), .. }) => {
                        let increment = point.increment(last, monotonic);
                        *last = point;
                        increment
                    }
                    Some(Sticky { last: None, .. }) => {
                        self.stats.untracked_points += 1;
                        return;
                    }
                    None => {
                        let tracked = self.shared.tracked
                            < self.shared.config.overflow.max_tracked_cumulative_series;
                        // All of a first value counts if the series started after the
                        // metric's previous point (or this is the metric's first batch);
                        // otherwise it was counted before, or never will be: a baseline.
                        let whole = state.last_time == 0 || start >= state.last_time;
                        let increment = if whole {
                            point.clone()
                        } else {
                            let mut zero = point.zero();
                            zero.set_start(point.time());
                            zero
                        };
                        let seen = self.shared.now;
                        if !tracked {
                            state.sticky.insert(series, Sticky { last: None, seen });
                            self.stats.untracked_points += 1;
                            return;
                        }
                        self.shared.tracked += 1;
                        state.sticky.insert(series, Sticky { last: Some(point), seen });
                        increment
                    }
                };
                let batch = self.shared.batches;
                let (total, created) = state.totals.entry(key).or_insert_with(|| {
                    let mut zero = increment.zero();
                    zero.set_start(increment.time());
                    (zero, batch)
                });
                // The start of an overflow series is settled once it has been exported.
                let start = total_start(total);
                total.merge(increment);
                if *created != batch {
                    total.set_start(start);
                }
                let header = &self.header;
                self.overflow
                    .add(key, header, resource, keep, total.clone(), |m, p| *m = header.metric(p));
            }
        }
    }
}

pub(super) fn total_start(point: &Point) -> u64 {
    match point {
        Point::Number(p) => p.start_time_unix_nano,
        Point::Histogram(p) => p.start_time_unix_nano,
        Point::Exponential(p) => p.start_time_unix_nano,
    }
}

/// The overflow series of one batch: (resource key, resource attributes, metric).
#[derive(Default)]
pub(super) struct Collector {
    pub(super) entries: Vec<(u64, Vec<KeyValue>, Metric)>,
    pub(super) index: Ids<usize>,
}

impl Collector {
    /// Puts `point` into the overflow series `key` of this batch: a new series is created
    /// with it; an existing one takes it through `combine`.
    pub(super) fn add(
        &mut self,
        key: u64,
        header: &Header<'_>,
        resource: &[KeyValue],
        keep: &[String],
        point: Point,
        combine: impl FnOnce(&mut Metric, Point),
    ) {
        if let Some(&i) = self.index.get(&key) {
            combine(&mut self.entries[i].2, point);
            return;
        }
        let attributes: Vec<KeyValue> =
            resource.iter().filter(|kv| keep.contains(&kv.key)).cloned().collect();
        let resource_key = Hasher::default().set(&attributes, |_| true);
        self.index.insert(key, self.entries.len());
        self.entries.push((resource_key, attributes, header.metric(point)));
    }

    /// The overflow series grouped by resource.
    pub(super) fn into_resources(self) -> Vec<ResourceMetrics> {
        let mut resources: Vec<(u64, ResourceMetrics)> = Vec::new();
        for (key, attributes, metric) in self.entries {
            let index = match resources.iter().position(|(k, _)| *k == key) {
                Some(index) => index,
                None => {
                    resources.push((
                        key,
                        ResourceMetrics {
                            resource: Some(Resource { attributes, ..Resource::default() }),
                            scope_metrics: vec![ScopeMetrics::default()],
                            schema_url: String::new(),
                        },
                    ));
                    resources.len() - 1
                }
            };
            resources[index].1.scope_metrics[0].metrics.push(metric);
        }
        resources.into_iter().map(|(_, r)| r).collect()
    }
}

/// Keeps in a gauge overflow metric the point `policy` prefers (its time the latest seen).
pub(super) fn keep_gauge(metric: &mut Metric, point: Point, policy: GaugePolicy) {
    let Some(Data::Gauge(gauge)) = &mut metric.data else { return };
    let (Some(current), Point::Number(mut new)) = (gauge.data_points.first_mut(), point) else {
        return;
    };
    let value = |p: &NumberDataPoint| points::as_f64(p.value);
    let replace = match policy {
        GaugePolicy::Last => new.time_unix_nano >= current.time_unix_nano,
        GaugePolicy::Min => value(&new) < value(current),
        GaugePolicy::Max => value(&new) > value(current),
        GaugePolicy::Drop => false,
    };
    let time = current.time_unix_nano.max(new.time_unix_nano);
    if replace {
        new.attributes = std::mem::take(&mut current.attributes);
        *current = new;
    }
    current.time_unix_nano = time;
}

/// Merges `point` into the one point of an overflow metric.
pub(super) fn merge_into(metric: &mut Metric, point: Point) {
    let Some(data) = metric.data.as_mut() else { return };
    let slot = match data {
        Data::Sum(s) => s.data_points.first_mut().map(|p| Point::Number(std::mem::take(p))),
        Data::Gauge(g) => g.data_points.first_mut().map(|p| Point::Number(std::mem::take(p))),
        Data::Histogram(h) => {
            h.data_points.first_mut().map(|p| Point::Histogram(std::mem::take(p)))
        }
        Data::ExponentialHistogram(e) => {
            e.data_points.first_mut().map(|p| Point::Exponential(std::mem::take(p)))
        }
        Data::Summary(_) => None,
    };
    let Some(mut merged) = slot else { return };
    merged.merge(point);
    match (data, merged) {
        (Data::Sum(s), Point::Number(p)) => s.data_points[0] = p,
        (Data::Gauge(g), Point::Number(p)) => g.data_points[0] = p,
        (Data::Histogram(h), Point::Histogram(p)) => h.data_points[0] = p,
        (Data::ExponentialHistogram(e), Point::Exponential(p)) => e.data_points[0] = p,
        _ => {}
    }
}
