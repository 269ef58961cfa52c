//! Moving records between resources and scopes. Resources are told apart by their attributes
//! (sorted by key, then protobuf-encoded: a stable encoding) and schema URL; scopes by their
//! encoded scope and schema URL.

use std::collections::HashMap;

use prost::Message as _;
use weir_otlp::proto::{
    common::v1::{InstrumentationScope, KeyValue},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric::Data},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Records (metric data points) that carried at least one key.
    pub(super) grouped: u64,
    /// Records that carried none.
    pub(super) non_grouped: u64,
    /// Resources out.
    pub(super) resources: usize,
}

/// One signal's resource-level list, as the regrouping sees it.
pub(super) trait Resources: Default {
    /// The scope-level entry.
    type Scoped: Default;
    /// A record: a span, a log record, or a metric holding one data point.
    type Item;

    fn parts(self) -> (Option<Resource>, String, Vec<Self::Scoped>);
    fn new(resource: Resource, schema_url: String) -> Self;
    fn scopes(&mut self) -> &mut Vec<Self::Scoped>;
    fn scope_parts(scoped: Self::Scoped)
    -> (Option<InstrumentationScope>, String, Vec<Self::Item>);
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> Self::Scoped;
    /// The record's attributes (none for a metric without points).
    fn attributes(item: &mut Self::Item) -> Option<&mut Vec<KeyValue>>;
    fn push(scoped: &mut Self::Scoped, item: Self::Item);
}

/// Moves the `keys` attributes of every record of `input` to its resource and merges equal
/// resources and scopes, keeping the order in which each first appears.
pub(super) fn regroup<R: Resources>(keys: &[String], input: Vec<R>) -> (Vec<R>, Tally) {
    let mut out: Vec<R> = Vec::new();
    let mut resources: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut scopes: HashMap<(usize, Vec<u8>), usize> = HashMap::new();
    let mut tally = Tally::default();
    for entry in input {
        let (resource, schema_url, scoped) = entry.parts();
        let resource = resource.unwrap_or_default();
        for scoped in scoped {
            let (scope, scope_url, items) = R::scope_parts(scoped);
            let encoded = scope.as_ref().map(|s| s.encode_to_vec()).unwrap_or_default();
            let scope_key = [encoded, scope_url.as_bytes().to_vec()].concat();
            for mut item in items {
                let moved = R::attributes(&mut item).map(|a| take(keys, a)).unwrap_or_default();
                if moved.is_empty() {
                    tally.non_grouped += 1;
                } else {
                    tally.grouped += 1;
                }
                let attributes = merged(&resource.attributes, moved);
                let key = resource_key(&attributes, &schema_url);
                let r = *resources.entry(key).or_insert_with(|| {
                    let grouped = Resource { attributes, ..resource.clone() };
                    out.push(R::new(grouped, schema_url.clone()));
                    out.len() - 1
                });
                let s = *scopes.entry((r, scope_key.clone())).or_insert_with(|| {
                    let list = out[r].scopes();
                    list.push(R::new_scope(scope.clone(), scope_url.clone()));
                    list.len() - 1
                });
                R::push(&mut out[r].scopes()[s], item);
            }
        }
    }
    tally.resources = out.len();
    (out, tally)
}

/// Removes the `keys` attributes from `attributes` and returns them.
fn take(keys: &[String], attributes: &mut Vec<KeyValue>) -> Vec<KeyValue> {
    let mut moved = Vec::new();
    for key in keys {
        if let Some(i) = attributes.iter().position(|kv| &kv.key == key) {
            moved.push(attributes.remove(i));
        }
    }
    moved
}

/// `base` with `moved` upserted.
fn merged(base: &[KeyValue], moved: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut out = base.to_vec();
    for kv in moved {
        match out.iter_mut().find(|o| o.key == kv.key) {
            Some(existing) => *existing = kv,
            None => out.push(kv),
        }
    }
    out
}

fn resource_key(attributes: &[KeyValue], schema_url: &str) -> Vec<u8> {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut key = Vec::new();
    for kv in sorted {
        kv.encode_length_delimited(&mut key).expect("a Vec grows");
    }
    key.extend_from_slice(schema_url.as_bytes());
    key
}

impl Resources for ResourceSpans {
    type Scoped = ScopeSpans;
    type Item = Span;

    fn parts(self) -> (Option<Resource>, String, Vec<ScopeSpans>) {
        (self.resource, self.schema_url, self.scope_spans)
    }
    fn new(resource: Resource, schema_url: String) -> Self {
        ResourceSpans { resource: Some(resource), schema_url, scope_spans: Vec::new() }
    }
    fn scopes(&mut self) -> &mut Vec<ScopeSpans> {
        &mut self.scope_spans
    }
    fn scope_parts(s: ScopeSpans) -> (Option<InstrumentationScope>, String, Vec<Span>) {
        (s.scope, s.schema_url, s.spans)
    }
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> ScopeSpans {
        ScopeSpans { scope, schema_url, spans: Vec::new() }
    }
    fn attributes(item: &mut Span) -> Option<&mut Vec<KeyValue>> {
        Some(&mut item.attributes)
    }
    fn push(scoped: &mut ScopeSpans, item: Span) {
        scoped.spans.push(item);
    }
}

impl Resources for ResourceLogs {
    type Scoped = ScopeLogs;
    type Item = LogRecord;

    fn parts(self) -> (Option<Resource>, String, Vec<ScopeLogs>) {
        (self.resource, self.schema_url, self.scope_logs)
    }
    fn new(resource: Resource, schema_url: String) -> Self {
        ResourceLogs { resource: Some(resource), schema_url, scope_logs: Vec::new() }
    }
    fn scopes(&mut self) -> &mut Vec<ScopeLogs> {
        &mut self.scope_logs
    }
    fn scope_parts(s: ScopeLogs) -> (Option<InstrumentationScope>, String, Vec<LogRecord>) {
        (s.scope, s.schema_url, s.log_records)
    }
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> ScopeLogs {
        ScopeLogs { scope, schema_url, log_records: Vec::new() }
    }
    fn attributes(item: &mut LogRecord) -> Option<&mut Vec<KeyValue>> {
        Some(&mut item.attributes)
    }
    fn push(scoped: &mut ScopeLogs, item: LogRecord) {
        scoped.log_records.push(item);
    }
}

/// Metrics regroup point by point: each item is its metric holding one data point, and a
/// point joins the scope's metric of the same name and type.
impl Resources for ResourceMetrics {
    type Scoped = ScopeMetrics;
    type Item = Metric;

    fn parts(self) -> (Option<Resource>, String, Vec<ScopeMetrics>) {
        (self.resource, self.schema_url, self.scope_metrics)
    }
    fn new(resource: Resource, schema_url: String) -> Self {
        ResourceMetrics { resource: Some(resource), schema_url, scope_metrics: Vec::new() }
    }
    fn scopes(&mut self) -> &mut Vec<ScopeMetrics> {
        &mut self.scope_metrics
    }
    fn scope_parts(s: ScopeMetrics) -> (Option<InstrumentationScope>, String, Vec<Metric>) {
        (s.scope, s.schema_url, s.metrics.into_iter().flat_map(one_point_each).collect())
    }
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> ScopeMetrics {
        ScopeMetrics { scope, schema_url, metrics: Vec::new() }
    }
    fn attributes(item: &mut Metric) -> Option<&mut Vec<KeyValue>> {
        point_attributes(item)
    }
    fn push(scoped: &mut ScopeMetrics, item: Metric) {
        let same = scoped
            .metrics
            .iter_mut()
            .find(|m| m.name == item.name && data_kind(&m.data) == data_kind(&item.data));
        match same {
            Some(metric) => append_points(metric, item),
            None => scoped.metrics.push(item),
        }
    }
}

/// Which of the five metric types `data` is (none for a metric without data).
fn data_kind(data: &Option<Data>) -> Option<std::mem::Discriminant<Data>> {
    data.as_ref().map(std::mem::discriminant)
}

/// `metric` split into metrics of one data point each (a metric with no points is kept as
/// it is, so that nothing is lost).
fn one_point_each(metric: Metric) -> Vec<Metric> {
    macro_rules! split {
        ($metric:expr, $Variant:ident, $inner:expr) => {{
            let mut inner = $inner;
            let points = std::mem::take(&mut inner.data_points);
            if points.is_empty() {
                return vec![Metric { data: Some(Data::$Variant(inner)), ..$metric }];
            }
            points
                .into_iter()
                .map(|point| {
                    let mut one = inner.clone();
                    one.data_points = vec![point];
                    Metric { data: Some(Data::$Variant(one)), ..$metric.clone() }
                })
                .collect()
        }};
    }
    let mut metric = metric;
    match metric.data.take() {
        None => vec![metric],
        Some(Data::Gauge(g)) => split!(metric, Gauge, g),
        Some(Data::Sum(s)) => split!(metric, Sum, s),
        Some(Data::Histogram(h)) => split!(metric, Histogram, h),
        Some(Data::ExponentialHistogram(e)) => split!(metric, ExponentialHistogram, e),
        Some(Data::Summary(s)) => split!(metric, Summary, s),
    }
}

/// The attributes of the (one) data point of `metric`, if it has one.
fn point_attributes(metric: &mut Metric) -> Option<&mut Vec<KeyValue>> {
    macro_rules! first {
        ($points:expr) => {
            $points.first_mut().map(|point| &mut point.attributes)
        };
    }
    match &mut metric.data {
        Some(Data::Gauge(g)) => first!(g.data_points),
        Some(Data::Sum(s)) => first!(s.data_points),
        Some(Data::Histogram(h)) => first!(h.data_points),
        Some(Data::ExponentialHistogram(e)) => first!(e.data_points),
        Some(Data::Summary(s)) => first!(s.data_points),
        None => None,
    }
}

/// Appends the points of `from` to `to`, both of the same type.
fn append_points(to: &mut Metric, from: Metric) {
    match (&mut to.data, from.data) {
        (Some(Data::Gauge(a)), Some(Data::Gauge(b))) => a.data_points.extend(b.data_points),
        (Some(Data::Sum(a)), Some(Data::Sum(b))) => a.data_points.extend(b.data_points),
        (Some(Data::Histogram(a)), Some(Data::Histogram(b))) => a.data_points.extend(b.data_points),
        (Some(Data::ExponentialHistogram(a)), Some(Data::ExponentialHistogram(b))) => {
            a.data_points.extend(b.data_points)
        }
        (Some(Data::Summary(a)), Some(Data::Summary(b))) => a.data_points.extend(b.data_points),
        // `push` only appends metrics of the same type; two without data have nothing to add
        (to, from) => debug_assert!(to.is_none() && from.is_none()),
    }
}
