//! Moving items between resource and scope lists, for every signal through one trait:
//! [`partition`] splits a resource-level list by a key per item, keeping each item under its
//! resource and scope (load balancing by endpoint, tail sampling by trace); [`Resources`] also
//! serves processors that move items to other resources (`groupbyattrs`). A resource's
//! identity as bytes is [`stable_key`]: attributes sorted by key, protobuf-encoded, never
//! `{:?}` output.

use std::collections::BTreeMap;

use prost::Message as _;

use crate::proto::{
    common::v1::{InstrumentationScope, KeyValue},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric::Data},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};

/// One signal's resource-level entry, taken apart and put together.
pub trait Resources: Sized {
    /// The scope-level entry.
    type Scoped;
    /// An item: a span, a log record, or a metric.
    type Item;

    /// The resource, its schema URL and its scopes.
    fn parts(self) -> (Option<Resource>, String, Vec<Self::Scoped>);
    /// An entry with no scopes yet.
    fn new(resource: Option<Resource>, schema_url: String) -> Self;
    /// Its scopes.
    fn scopes(&mut self) -> &mut Vec<Self::Scoped>;
    /// A scope, its schema URL and its items.
    fn scope_parts(scoped: Self::Scoped)
    -> (Option<InstrumentationScope>, String, Vec<Self::Item>);
    /// A scope with no items yet.
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> Self::Scoped;
    /// The item's attributes (a metric's: those of its first data point, if any).
    fn attributes(item: &mut Self::Item) -> Option<&mut Vec<KeyValue>>;
    /// Appends an item.
    fn push(scoped: &mut Self::Scoped, item: Self::Item);
    /// Appends an item, joining an equal one where the signal has such (a metric's points
    /// join the scope's metric of the same name and type).
    fn push_merging(scoped: &mut Self::Scoped, item: Self::Item) {
        Self::push(scoped, item);
    }
    /// The items, each as small as a key can tell apart (metrics: one data point each).
    fn atoms(items: Vec<Self::Item>) -> Vec<Self::Item> {
        items
    }
}

/// Splits `input` by `key(of_resource(resource), item)`, keeping each item under a copy of
/// its resource and scope and the order of items within each part. `of_resource` runs once
/// per resource entry, for what the keys of its items share.
pub fn partition<R: Resources, P, K: Ord>(
    input: Vec<R>,
    mut of_resource: impl FnMut(Option<&Resource>) -> P,
    mut key: impl FnMut(&P, &R::Item) -> K,
) -> BTreeMap<K, Vec<R>> {
    // per part: the input resource and scope its last entries came from
    let mut parts: BTreeMap<K, (Vec<R>, usize, usize)> = BTreeMap::new();
    for (r, entry) in input.into_iter().enumerate() {
        let (resource, schema_url, scopes) = entry.parts();
        let shared = of_resource(resource.as_ref());
        for (s, scoped) in scopes.into_iter().enumerate() {
            let (scope, scope_url, items) = R::scope_parts(scoped);
            for item in items {
                let (list, last_r, last_s) = parts.entry(key(&shared, &item)).or_insert((
                    Vec::new(),
                    usize::MAX,
                    usize::MAX,
                ));
                if *last_r != r || list.is_empty() {
                    list.push(R::new(resource.clone(), schema_url.clone()));
                    (*last_r, *last_s) = (r, usize::MAX);
                }
                let scopes = list.last_mut().expect("pushed above").scopes();
                if *last_s != s {
                    scopes.push(R::new_scope(scope.clone(), scope_url.clone()));
                    *last_s = s;
                }
                R::push(scopes.last_mut().expect("pushed above"), item);
            }
        }
    }
    parts.into_iter().map(|(k, (list, _, _))| (k, list)).collect()
}

/// A stable identity of an attribute set and schema URL: the attributes sorted by key and
/// protobuf-encoded, then the URL. Equal sets give equal keys whatever their order.
pub fn stable_key(attributes: &[KeyValue], schema_url: &str) -> Vec<u8> {
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
    fn new(resource: Option<Resource>, schema_url: String) -> Self {
        ResourceSpans { resource, schema_url, scope_spans: Vec::new() }
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
    fn new(resource: Option<Resource>, schema_url: String) -> Self {
        ResourceLogs { resource, schema_url, scope_logs: Vec::new() }
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

impl Resources for ResourceMetrics {
    type Scoped = ScopeMetrics;
    type Item = Metric;

    fn parts(self) -> (Option<Resource>, String, Vec<ScopeMetrics>) {
        (self.resource, self.schema_url, self.scope_metrics)
    }
    fn new(resource: Option<Resource>, schema_url: String) -> Self {
        ResourceMetrics { resource, schema_url, scope_metrics: Vec::new() }
    }
    fn scopes(&mut self) -> &mut Vec<ScopeMetrics> {
        &mut self.scope_metrics
    }
    fn scope_parts(s: ScopeMetrics) -> (Option<InstrumentationScope>, String, Vec<Metric>) {
        (s.scope, s.schema_url, s.metrics)
    }
    fn new_scope(scope: Option<InstrumentationScope>, schema_url: String) -> ScopeMetrics {
        ScopeMetrics { scope, schema_url, metrics: Vec::new() }
    }
    fn attributes(item: &mut Metric) -> Option<&mut Vec<KeyValue>> {
        point_attributes(item)
    }
    fn push(scoped: &mut ScopeMetrics, item: Metric) {
        scoped.metrics.push(item);
    }
    fn push_merging(scoped: &mut ScopeMetrics, item: Metric) {
        let same = scoped
            .metrics
            .iter_mut()
            .find(|m| m.name == item.name && data_kind(&m.data) == data_kind(&item.data));
        match same {
            Some(metric) => append_points(metric, item),
            None => scoped.metrics.push(item),
        }
    }
    fn atoms(items: Vec<Metric>) -> Vec<Metric> {
        items.into_iter().flat_map(one_point_each).collect()
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
        // `push_merging` only appends metrics of the same type; two without data have nothing to add
        (to, from) => debug_assert!(to.is_none() && from.is_none()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::kv;

    fn span(name: &str) -> Span {
        Span { name: name.into(), ..Span::default() }
    }

    fn resource(service: &str, scopes: Vec<(&str, Vec<Span>)>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: scopes
                .into_iter()
                .map(|(scope, spans)| ScopeSpans {
                    scope: Some(InstrumentationScope { name: scope.into(), ..Default::default() }),
                    spans,
                    schema_url: String::new(),
                })
                .collect(),
            schema_url: "s".into(),
        }
    }

    #[test]
    fn partition_keeps_each_item_under_its_resource_and_scope_in_order() {
        let input = vec![
            resource(
                "a",
                vec![("x", vec![span("1"), span("2"), span("3")]), ("y", vec![span("4")])],
            ),
            resource("b", vec![("x", vec![span("5"), span("6")])]),
        ];
        let services = |r: Option<&Resource>| r.unwrap().attributes[0].clone();
        let odd = |_: &KeyValue, s: &Span| s.name.parse::<u32>().unwrap() % 2 == 1;
        let parts = partition(input.clone(), services, odd);
        let odd_part = &parts[&true];
        assert_eq!(odd_part.len(), 2);
        assert_eq!(odd_part[0].resource, input[0].resource);
        assert_eq!(odd_part[0].schema_url, "s");
        let names = |r: &ResourceSpans| -> Vec<(String, Vec<String>)> {
            r.scope_spans
                .iter()
                .map(|s| {
                    let scope = s.scope.as_ref().unwrap().name.clone();
                    (scope, s.spans.iter().map(|x| x.name.clone()).collect())
                })
                .collect()
        };
        assert_eq!(names(&odd_part[0]), [("x".into(), vec!["1".into(), "3".into()])]);
        assert_eq!(names(&odd_part[1]), [("x".into(), vec!["5".into()])]);
        let even = &parts[&false];
        assert_eq!(
            names(&even[0]),
            [("x".into(), vec!["2".into()]), ("y".into(), vec!["4".into()])]
        );
        assert_eq!(names(&even[1]), [("x".into(), vec!["6".into()])]);
    }

    #[test]
    fn stable_keys_ignore_attribute_order_and_tell_types_apart() {
        let a = [kv("a", "1"), kv("b", "2")];
        let b = [kv("b", "2"), kv("a", "1")];
        assert_eq!(stable_key(&a, ""), stable_key(&b, ""));
        assert_ne!(stable_key(&a, ""), stable_key(&a, "url"));
        let mut int = kv("a", "");
        int.value = Some(crate::proto::common::v1::AnyValue {
            value: Some(crate::proto::common::v1::any_value::Value::IntValue(1)),
        });
        assert_ne!(stable_key(&[int], ""), stable_key(&[kv("a", "1")], ""));
    }
}
