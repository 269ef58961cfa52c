//! A scraped page as OTLP metrics, per the Collector's Prometheus receiver and the
//! specification's Prometheus compatibility rules:
//!
//! - one resource per target: `service.name` (job), `service.instance.id` (instance),
//!   `server.address`, `server.port`, `url.scheme`, and `target_info`'s labels;
//! - counters as cumulative monotonic sums, histograms and summaries as cumulative points,
//!   their start time from `_created`, else the first observation, and a reset (the value
//!   falling) starting a new run at the previous scrape; gauges and untyped as gauges;
//! - a series that vanishes gets a point flagged "no recorded value" (staleness);
//! - each point's attributes are its labels after `metric_relabel_configs`, with the target's
//!   labels (a clash: `exported_<name>` unless `honor_labels`), without `job` and `instance`.

use std::collections::HashMap;

use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value},
    metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Sum, Summary, SummaryDataPoint, metric, number_data_point,
        summary_data_point::ValueAtQuantile,
    },
    resource::v1::Resource,
};

use super::{
    config::Job,
    exposition::{Family, Sample, Type},
    relabel,
};

/// The "no recorded value" data point flag.
const NO_RECORDED_VALUE: u32 = 1;

/// A target being scraped: its job's options and its labels after relabeling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) scheme: String,
    /// `job`, `instance` and the rest, sorted, without `__` labels.
    pub(crate) labels: Vec<(String, String)>,
}

impl Target {
    pub(crate) fn label(&self, name: &str) -> &str {
        self.labels.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// How a series is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Sum,
    Gauge,
    Histogram,
    Summary,
}

/// What is kept of a series between scrapes.
#[derive(Debug, Clone)]
struct Series {
    shape: Shape,
    start: u64,
    last: f64,
    time: u64,
    seen: u64,
}

/// A target's series across scrapes.
#[derive(Debug, Default)]
pub(crate) struct State {
    series: HashMap<(String, Vec<(String, String)>), Series>,
    scrape: u64,
}

/// What one scrape came to, for the synthetic metrics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) scraped: usize,
    pub(crate) kept: usize,
    pub(crate) added: usize,
}

/// Builds the metrics of one scrape.
struct Builder {
    metrics: Vec<Metric>,
}

impl Builder {
    fn metric(&mut self, name: &str, family: Option<&Family>, shape: Shape) -> &mut Metric {
        let i = match self.metrics.iter().position(|m| m.name == name) {
            Some(i) => i,
            None => {
                let data = match shape {
                    Shape::Sum => metric::Data::Sum(Sum {
                        aggregation_temporality: 2,
                        is_monotonic: true,
                        ..Default::default()
                    }),
                    Shape::Gauge => metric::Data::Gauge(Gauge::default()),
                    Shape::Histogram => metric::Data::Histogram(Histogram {
                        aggregation_temporality: 2,
                        ..Default::default()
                    }),
                    Shape::Summary => metric::Data::Summary(Summary::default()),
                };
                self.metrics.push(Metric {
                    name: name.to_owned(),
                    description: family.map(|f| f.help.clone()).unwrap_or_default(),
                    unit: family.map(|f| f.unit.clone()).unwrap_or_default(),
                    data: Some(data),
                    ..Default::default()
                });
                self.metrics.len() - 1
            }
        };
        &mut self.metrics[i]
    }

    fn number(
        &mut self,
        name: &str,
        family: Option<&Family>,
        shape: Shape,
        point: NumberDataPoint,
    ) {
        match &mut self.metric(name, family, shape).data {
            Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
            _ => {}
        }
    }
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .filter(|(k, _)| k != "job" && k != "instance")
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.clone())) }),
            ..Default::default()
        })
        .collect()
}

/// The family's name for a sample (its suffix removed).
fn base(name: &str, kind: Type) -> (&str, &str) {
    let suffixes: &[&str] = match kind {
        Type::Histogram | Type::GaugeHistogram => {
            &["_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"]
        }
        Type::Summary => &["_sum", "_count", "_created"],
        Type::Counter => &["_created"],
        _ => &[],
    };
    for suffix in suffixes {
        if let Some(base) = name.strip_suffix(suffix) {
            return (base, suffix);
        }
    }
    (name, "")
}

/// A scraped sample, relabeled, with its family's type.
struct Point<'a> {
    family: &'a Family,
    name: String,
    /// Sorted, with the target's labels, without `__name__`.
    labels: Vec<(String, String)>,
    value: f64,
    time: u64,
}

/// The resource metrics of one successful scrape at `now` (nanoseconds).
pub(crate) fn convert(
    target: &Target,
    job: &Job,
    families: &[Family],
    now: u64,
    state: &mut State,
    trim_suffixes: bool,
) -> (ResourceMetrics, Counts) {
    state.scrape += 1;
    let mut counts = Counts::default();
    let mut resource_extra = Vec::new();
    let mut points = Vec::new();
    for family in families {
        for sample in &family.samples {
            counts.scraped += 1;
            let Some(point) = relabeled(target, job, family, sample, now) else { continue };
            if point.name == "target_info" {
                resource_extra.extend(attributes(&point.labels));
                continue;
            }
            points.push(point);
        }
    }
    counts.kept = points.len();
    let mut builder = Builder { metrics: Vec::new() };
    let mut histograms: Vec<Grouped<'_>> = Vec::new();
    let mut created: HashMap<(String, Vec<(String, String)>), u64> = HashMap::new();
    for point in &points {
        if point.name.ends_with("_created")
            && matches!(point.family.kind, Type::Counter | Type::Histogram | Type::Summary)
        {
            let (base, _) = base(&point.name, point.family.kind);
            let base = if point.family.kind == Type::Counter {
                format!("{base}_total")
            } else {
                base.to_owned()
            };
            created.insert((base, point.labels.clone()), (point.value * 1e9) as u64);
        }
    }
    for point in &points {
        match point.family.kind {
            Type::Counter => {
                if point.name.ends_with("_created") {
                    continue;
                }
                let name = if trim_suffixes {
                    point.name.trim_end_matches("_total").to_owned()
                } else {
                    point.name.clone()
                };
                let key = (point.name.clone(), point.labels.clone());
                let start = start(
                    state,
                    &key,
                    Shape::Sum,
                    point.value,
                    point.time,
                    created.get(&key).copied(),
                    &mut counts,
                );
                builder.number(
                    &name,
                    Some(point.family),
                    Shape::Sum,
                    NumberDataPoint {
                        attributes: attributes(&point.labels),
                        start_time_unix_nano: start,
                        time_unix_nano: point.time,
                        value: Some(number_data_point::Value::AsDouble(point.value)),
                        ..Default::default()
                    },
                );
            }
            Type::Histogram | Type::GaugeHistogram | Type::Summary => {
                let (base, suffix) = base(&point.name, point.family.kind);
                if suffix == "_created" {
                    continue;
                }
                let split = if point.family.kind == Type::Summary { "quantile" } else { "le" };
                let bound = point.labels.iter().find(|(k, _)| k == split).map(|(_, v)| v.clone());
                let labels: Vec<(String, String)> =
                    point.labels.iter().filter(|(k, _)| k != split).cloned().collect();
                let at = match histograms.iter().position(|(n, l, ..)| n == base && *l == labels) {
                    Some(at) => at,
                    None => {
                        histograms.push((
                            base.to_owned(),
                            labels,
                            point.family,
                            point.time,
                            HistogramParts::default(),
                        ));
                        histograms.len() - 1
                    }
                };
                let parts = &mut histograms[at].4;
                match (suffix, bound) {
                    ("_sum" | "_gsum", _) => parts.sum = Some(point.value),
                    ("_count" | "_gcount", _) => parts.count = Some(point.value),
                    (_, Some(bound)) => {
                        let bound = match bound.as_str() {
                            "+Inf" | "Inf" => f64::INFINITY,
                            other => other.parse().unwrap_or(f64::NAN),
                        };
                        parts.buckets.push((bound, point.value));
                    }
                    _ => {}
                }
            }
            _ => {
                let key = (point.name.clone(), point.labels.clone());
                start(state, &key, Shape::Gauge, point.value, point.time, None, &mut counts);
                builder.number(
                    &point.name,
                    Some(point.family),
                    Shape::Gauge,
                    NumberDataPoint {
                        attributes: attributes(&point.labels),
                        time_unix_nano: point.time,
                        value: Some(number_data_point::Value::AsDouble(point.value)),
                        ..Default::default()
                    },
                );
            }
        }
    }
    for (name, labels, family, time, mut parts) in histograms {
        let count = parts
            .count
            .unwrap_or_else(|| parts.buckets.iter().map(|(_, c)| *c).fold(0.0, f64::max));
        let key = (name.clone(), labels.clone());
        if family.kind == Type::Summary {
            let start = start(
                state,
                &key,
                Shape::Summary,
                count,
                time,
                created.get(&key).copied(),
                &mut counts,
            );
            parts.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let point = SummaryDataPoint {
                attributes: attributes(&labels),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: count as u64,
                sum: parts.sum.unwrap_or(0.0),
                quantile_values: parts
                    .buckets
                    .iter()
                    .map(|(q, v)| ValueAtQuantile { quantile: *q, value: *v })
                    .collect(),
                ..Default::default()
            };
            if let Some(metric::Data::Summary(s)) =
                &mut builder.metric(&name, Some(family), Shape::Summary).data
            {
                s.data_points.push(point);
            }
            continue;
        }
        let start = start(
            state,
            &key,
            Shape::Histogram,
            count,
            time,
            created.get(&key).copied(),
            &mut counts,
        );
        parts.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut bounds = Vec::new();
        let mut bucket_counts = Vec::new();
        let mut below = 0.0;
        for (bound, cumulative) in &parts.buckets {
            if bound.is_finite() {
                bounds.push(*bound);
            }
            bucket_counts.push((cumulative - below).max(0.0) as u64);
            below = *cumulative;
        }
        if parts.buckets.last().is_none_or(|(b, _)| b.is_finite()) {
            bucket_counts.push((count - below).max(0.0) as u64);
        }
        let point = HistogramDataPoint {
            attributes: attributes(&labels),
            start_time_unix_nano: start,
            time_unix_nano: time,
            count: count as u64,
            sum: parts.sum,
            bucket_counts,
            explicit_bounds: bounds,
            ..Default::default()
        };
        if let Some(metric::Data::Histogram(h)) =
            &mut builder.metric(&name, Some(family), Shape::Histogram).data
        {
            h.data_points.push(point);
        }
    }
    stale(state, &mut builder, now);
    let mut resource = resource_of(target);
    resource.extend(resource_extra);
    (resource_metrics(resource, builder.metrics), counts)
}

/// A histogram's or summary's samples of one series: name, labels, family, time, parts.
type Grouped<'a> = (String, Vec<(String, String)>, &'a Family, u64, HistogramParts);

#[derive(Default)]
struct HistogramParts {
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

/// The start time of a cumulative series' point: `_created`, else when it was first seen;
/// a value that fell starts a new run at the previous scrape.
fn start(
    state: &mut State,
    key: &(String, Vec<(String, String)>),
    shape: Shape,
    value: f64,
    time: u64,
    created: Option<u64>,
    counts: &mut Counts,
) -> u64 {
    let scrape = state.scrape;
    match state.series.get_mut(key) {
        Some(series) => {
            if let Some(created) = created {
                series.start = created;
            } else if shape != Shape::Gauge && value < series.last {
                series.start = series.time;
            }
            series.last = value;
            series.time = time;
            series.seen = scrape;
            series.start
        }
        None => {
            counts.added += 1;
            let start = created.unwrap_or(time);
            state
                .series
                .insert(key.clone(), Series { shape, start, last: value, time, seen: scrape });
            start
        }
    }
}

/// Points flagged "no recorded value" for the series this scrape did not see; they are
/// forgotten.
fn stale(state: &mut State, builder: &mut Builder, now: u64) {
    let scrape = state.scrape;
    let gone: Vec<_> = state
        .series
        .iter()
        .filter(|(_, s)| s.seen != scrape)
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for ((name, labels), series) in gone {
        state.series.remove(&(name.clone(), labels.clone()));
        let attributes = attributes(&labels);
        match series.shape {
            Shape::Sum | Shape::Gauge => builder.number(
                &name,
                None,
                series.shape,
                NumberDataPoint {
                    attributes,
                    start_time_unix_nano: series.start,
                    time_unix_nano: now,
                    flags: NO_RECORDED_VALUE,
                    ..Default::default()
                },
            ),
            Shape::Histogram => {
                if let Some(metric::Data::Histogram(h)) =
                    &mut builder.metric(&name, None, Shape::Histogram).data
                {
                    h.data_points.push(HistogramDataPoint {
                        attributes,
                        start_time_unix_nano: series.start,
                        time_unix_nano: now,
                        flags: NO_RECORDED_VALUE,
                        ..Default::default()
                    });
                }
            }
            Shape::Summary => {
                if let Some(metric::Data::Summary(s)) =
                    &mut builder.metric(&name, None, Shape::Summary).data
                {
                    s.data_points.push(SummaryDataPoint {
                        attributes,
                        start_time_unix_nano: series.start,
                        time_unix_nano: now,
                        flags: NO_RECORDED_VALUE,
                        ..Default::default()
                    });
                }
            }
        }
    }
}

/// After a failed scrape: every series of the target goes stale.
pub(crate) fn all_stale(state: &mut State, now: u64) -> Vec<Metric> {
    state.scrape += 1;
    let mut builder = Builder { metrics: Vec::new() };
    stale(state, &mut builder, now);
    builder.metrics
}

/// A sample with its target's labels, relabeled; `None` when `metric_relabel_configs` drop it.
fn relabeled<'a>(
    target: &Target,
    job: &Job,
    family: &'a Family,
    sample: &Sample,
    now: u64,
) -> Option<Point<'a>> {
    let mut labels: Vec<(String, String)> = sample.labels.clone();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    for (name, value) in &target.labels {
        match labels.binary_search_by(|(k, _)| k.cmp(name)) {
            Ok(i) if job.honor_labels => {
                let _ = i;
            }
            Ok(i) => {
                let scraped = labels.remove(i);
                relabel::set(&mut labels, &format!("exported_{name}"), scraped.1);
                relabel::set(&mut labels, name, value.clone());
            }
            Err(i) => labels.insert(i, (name.clone(), value.clone())),
        }
    }
    relabel::set(&mut labels, "__name__", sample.name.clone());
    if !relabel::apply(&job.metric_relabel, &mut labels) {
        return None;
    }
    let name = labels.iter().find(|(k, _)| k == "__name__").map(|(_, v)| v.clone())?;
    labels.retain(|(k, _)| !k.starts_with("__"));
    let time = match (job.honor_timestamps, sample.timestamp_ms) {
        (true, Some(ms)) if ms > 0 => (ms as u64).saturating_mul(1_000_000),
        _ => now,
    };
    Some(Point { family, name, labels, value: sample.value, time })
}

/// The target's resource attributes.
pub(crate) fn resource_of(target: &Target) -> Vec<KeyValue> {
    let text = |key: &str, value: &str| KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_owned())) }),
        ..Default::default()
    };
    let instance = target.label("instance");
    let mut out =
        vec![text("service.name", target.label("job")), text("service.instance.id", instance)];
    if let Some((host, port)) = instance.rsplit_once(':')
        && let Ok(port) = port.parse::<i64>()
    {
        out.push(text("server.address", host.trim_start_matches('[').trim_end_matches(']')));
        out.push(KeyValue {
            key: "server.port".into(),
            value: Some(AnyValue { value: Some(any_value::Value::IntValue(port)) }),
            ..Default::default()
        });
    }
    out.push(text("url.scheme", &target.scheme));
    out
}

/// `metrics` on a resource with `attributes`, under the receiver's scope.
pub(crate) fn resource_metrics(attributes: Vec<KeyValue>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource { attributes, ..Default::default() }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(weir_otlp::proto::common::v1::InstrumentationScope {
                name: "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}
