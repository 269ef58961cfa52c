//! The `metricstransform` processor, with the Collector's options: `transforms` apply in order
//! to the metrics of each scope, each to the metrics its `include` selects (the name, or a
//! regular expression matching anywhere in it with `match_type: regexp`; with
//! `experimental_match_labels`, only metrics with a point whose labels match, and only those
//! points). Its `action`:
//!
//! - `update` changes the metrics in place (a metric left without points is removed); when
//!   only some of its points match the labels, only `update_label`,
//!   `toggle_scalar_data_type` and `experimental_scale_value` apply, to those points;
//! - `insert` appends a changed copy of each (of its matching points);
//! - `combine` replaces them with one metric, `new_name`, holding their matching points
//!   merged by `aggregation_type`, each point labelled with the name's regexp groups (named
//!   groups by name, others `$1`, `$2`, ...; `submatch_case` lowers or raises them); metrics
//!   of different types, units, label keys, temporalities or monotonicity, and summaries, are
//!   not combined (logged);
//! - `group` moves them to a new resource: the scope's resource plus
//!   `group_resource_labels`.
//!
//! `new_name` renames (`$1`, `${name}` expand the `include` regexp's groups); `operations`
//! then apply in order: `add_label` (where absent), `update_label` (rename the label and/or
//! its values by `value_actions`), `delete_label_value` (drop the points carrying it),
//! `toggle_scalar_data_type` (integers ↔ doubles, gauges and sums), `experimental_scale_value`
//! (gauge and sum values; histogram sums, bounds, min, max and exemplars), `aggregate_labels`
//! (keep `label_set`, merge the points that then coincide) and `aggregate_label_values`
//! (`aggregated_values` of `label` become `new_value`, then merge), merging with `sum`,
//! `mean`, `min`, `max`, `count` or `median` (histograms always add up). `{{version}}` in a
//! new value is weir's version. Label values compare as text; the processor works within a
//! batch and keeps no state.

mod aggregate;
mod config;
#[cfg(test)]
mod tests;

use std::mem::discriminant;

use config::{Action, Case, Compiled, Filter, NameMatcher, Op};
pub use config::{Aggregation, Config, Operation, Settings, Transform, ValueAction};
use weir_core::{
    Batch, Component, ConfigError, Declaration, Decoded, Output, Processor, Signal, Signals,
    Stability, declare::BuildProcessor, log_limit::LogLimiter,
};
use weir_otlp::{
    attributes::{find, kv, text},
    proto::{
        common::v1::KeyValue,
        metrics::v1::{
            ExponentialHistogram, Gauge, Histogram, Metric, ResourceMetrics, ScopeMetrics, Sum,
            Summary, metric::Data, number_data_point,
        },
    },
};

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "metricstransform",
        aliases: &[],
        signals: Signals::Pipeline(&[Signal::Metrics]),
        stability: Stability::Beta,
        summary: "renames metrics, edits labels, scales values and aggregates points",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let transforms = config.compile()?;
        Ok(Settings { config, transforms })
    }
}

impl BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn Processor> {
        Box::new(MetricsTransform::new(self, id))
    }
}

/// The `metricstransform` processor.
pub struct MetricsTransform {
    id: String,
    transforms: Vec<Compiled>,
    log: LogLimiter,
}

impl MetricsTransform {
    /// A processor `id` with validated `settings`.
    pub fn new(settings: &Settings, id: &str) -> MetricsTransform {
        MetricsTransform {
            id: id.to_owned(),
            transforms: settings.transforms.clone(),
            log: LogLimiter::default(),
        }
    }
}

impl Processor for MetricsTransform {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        let Decoded::Metrics(resources) = batch.decoded_mut() else {
            out.push(batch);
            return;
        };
        let mut grouped = Vec::new();
        for resource in resources.iter_mut() {
            for scope in &mut resource.scope_metrics {
                for transform in &self.transforms {
                    let metrics = &mut scope.metrics;
                    match &transform.action {
                        Action::Update => update(transform, metrics),
                        Action::Insert => insert(transform, metrics),
                        Action::Combine => {
                            if let Err(reason) = combine(transform, metrics)
                                && let Some(suppressed) =
                                    self.log.check_at(out.unix_nanos() / 1_000_000)
                            {
                                tracing::warn!(processor = %self.id, %reason, suppressed,
                                    "metricstransform: metrics not combined");
                            }
                        }
                        Action::Group(labels) => {
                            let moved = take_matched(&transform.filter, metrics);
                            if moved.is_empty() {
                                continue;
                            }
                            let mut group_resource = resource.resource.clone().unwrap_or_default();
                            for (key, value) in labels {
                                put(&mut group_resource.attributes, key, value);
                            }
                            grouped.push(ResourceMetrics {
                                resource: Some(group_resource),
                                scope_metrics: vec![ScopeMetrics {
                                    scope: scope.scope.clone(),
                                    metrics: moved,
                                    schema_url: scope.schema_url.clone(),
                                }],
                                schema_url: resource.schema_url.clone(),
                            });
                        }
                    }
                }
            }
            resource.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        resources.retain(|r| !r.scope_metrics.is_empty());
        resources.extend(grouped);
        out.push(batch);
    }
}

/// Dispatches `$body` over the points of every metric type, `$d` bound to the data.
macro_rules! each_kind {
    ($data:expr, $d:ident => $body:expr, else $default:expr) => {
        match $data {
            Some(Data::Gauge($d)) => $body,
            Some(Data::Sum($d)) => $body,
            Some(Data::Histogram($d)) => $body,
            Some(Data::ExponentialHistogram($d)) => $body,
            Some(Data::Summary($d)) => $body,
            None => $default,
        }
    };
}

fn point_count(metric: &Metric) -> usize {
    each_kind!(&metric.data, d => d.data_points.len(), else 0)
}

fn point_attributes(metric: &Metric) -> Vec<&[KeyValue]> {
    each_kind!(&metric.data, d => d.data_points.iter().map(|p| &p.attributes[..]).collect(),
        else Vec::new())
}

fn retain_points(metric: &mut Metric, mut keep: impl FnMut(&[KeyValue]) -> bool) {
    each_kind!(&mut metric.data, d => d.data_points.retain(|p| keep(&p.attributes)), else ())
}

fn for_each_attributes(metric: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    each_kind!(&mut metric.data, d => d.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        else ())
}

/// A label value as text ("" when absent), as labels are compared.
fn label(attributes: &[KeyValue], key: &str) -> Option<String> {
    find(attributes, key).map(|v| text(Some(v)).unwrap_or_default())
}

/// Sets `key` to the string `value`, replacing what was there.
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: &str) {
    match attributes.iter_mut().find(|existing| existing.key == key) {
        Some(existing) => *existing = kv(key, value),
        None => attributes.push(kv(key, value)),
    }
}

impl Filter {
    fn names(&self, name: &str) -> bool {
        match &self.name {
            NameMatcher::Strict(include) => include == name,
            NameMatcher::Regexp(regex) => regex.is_match(name),
        }
    }

    fn labels(&self, attributes: &[KeyValue]) -> bool {
        self.labels
            .iter()
            .all(|(key, matcher)| matcher.matches(&label(attributes, key).unwrap_or_default()))
    }

    /// The metric's name matches and so do the labels of one of its points (or it has none).
    fn selects(&self, metric: &Metric) -> bool {
        self.names(&metric.name) && {
            let points = point_attributes(metric);
            points.is_empty() || points.iter().any(|a| self.labels(a))
        }
    }

    /// Every point's labels match.
    fn selects_all(&self, metric: &Metric) -> bool {
        point_attributes(metric).iter().all(|a| self.labels(a))
    }

    /// The name `new_name` gives `name`: the include regexp's groups expanded.
    fn rename(&self, name: &str, new_name: &str) -> String {
        if let NameMatcher::Regexp(regex) = &self.name
            && let Some(captures) = regex.captures(name)
        {
            let mut expanded = String::new();
            captures.expand(new_name, &mut expanded);
            if !expanded.is_empty() {
                return expanded;
            }
        }
        new_name.to_owned()
    }
}

/// Removes the metrics `filter` selects from `metrics`, each with its matching points only.
fn take_matched(filter: &Filter, metrics: &mut Vec<Metric>) -> Vec<Metric> {
    let mut taken = Vec::new();
    let mut kept = Vec::with_capacity(metrics.len());
    for mut metric in metrics.drain(..) {
        if filter.selects(&metric) {
            retain_points(&mut metric, |a| filter.labels(a));
            taken.push(metric);
        } else {
            kept.push(metric);
        }
    }
    *metrics = kept;
    taken
}

fn update(transform: &Compiled, metrics: &mut Vec<Metric>) {
    metrics.retain_mut(|metric| !transform.filter.selects(metric) || apply(transform, metric));
}

fn insert(transform: &Compiled, metrics: &mut Vec<Metric>) {
    let filter = &transform.filter;
    for i in 0..metrics.len() {
        if !filter.selects(&metrics[i]) {
            continue;
        }
        let mut copy = metrics[i].clone();
        retain_points(&mut copy, |a| filter.labels(a));
        if apply(transform, &mut copy) {
            metrics.push(copy);
        }
    }
}

/// Replaces the selected metrics with their combination, or says why they cannot combine.
fn combine(transform: &Compiled, metrics: &mut Vec<Metric>) -> Result<(), String> {
    let filter = &transform.filter;
    let selected: Vec<&Metric> = metrics.iter().filter(|m| filter.selects(m)).collect();
    let Some(first) = selected.first() else {
        return Ok(());
    };
    combinable(&selected)?;
    let mut combined = Metric {
        name: transform.new_name.clone(),
        description: first.description.clone(),
        unit: first.unit.clone(),
        data: first.data.as_ref().map(empty_like),
        metadata: first.metadata.clone(),
    };
    for mut metric in take_matched(filter, metrics) {
        if let NameMatcher::Regexp(regex) = &filter.name {
            let labels = submatch_labels(regex, &metric.name, transform.case);
            for_each_attributes(&mut metric, |attributes| {
                for (key, value) in &labels {
                    put(attributes, key, value);
                }
            });
        }
        append_points(&mut combined, metric);
    }
    aggregate::aggregate(&mut combined, transform.aggregation.unwrap_or(Aggregation::Sum));
    if apply(transform, &mut combined) {
        metrics.push(combined);
    }
    Ok(())
}

/// The labels `combine` gives points of metric `name`: the regexp's non-empty groups.
fn submatch_labels(regex: &regex::Regex, name: &str, case: Option<Case>) -> Vec<(String, String)> {
    let Some(captures) = regex.captures(name) else {
        return Vec::new();
    };
    let mut labels = Vec::new();
    for (i, group) in regex.capture_names().enumerate().skip(1) {
        let Some(value) = captures.get(i).map(|m| m.as_str()).filter(|v| !v.is_empty()) else {
            continue;
        };
        let value = match case {
            Some(Case::Lower) => value.to_lowercase(),
            Some(Case::Upper) => value.to_uppercase(),
            None => value.to_owned(),
        };
        labels.push((group.map_or_else(|| format!("${i}"), str::to_owned), value));
    }
    labels
}

/// Why metrics cannot be combined: types, units, label keys, temporality or monotonicity
/// differ, or one is a summary.
fn combinable(metrics: &[&Metric]) -> Result<(), String> {
    let label_keys = |m: &Metric| {
        let mut keys: Vec<String> = point_attributes(m)
            .into_iter()
            .flat_map(|a| a.iter().map(|kv| kv.key.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let first = metrics[0];
    for metric in metrics {
        if matches!(metric.data, Some(Data::Summary(_))) {
            return Err(format!("{} is a summary", metric.name));
        }
        let differ =
            |what: &str| Err(format!("{} and {} differ in {what}", first.name, metric.name));
        if first.data.as_ref().map(discriminant) != metric.data.as_ref().map(discriminant) {
            return differ("type");
        }
        if first.unit != metric.unit {
            return differ("unit");
        }
        if label_keys(first) != label_keys(metric) {
            return differ("label keys");
        }
        if temporality(first) != temporality(metric) {
            return differ("aggregation temporality");
        }
        if let (Some(Data::Sum(a)), Some(Data::Sum(b))) = (&first.data, &metric.data)
            && a.is_monotonic != b.is_monotonic
        {
            return differ("monotonicity");
        }
    }
    Ok(())
}

fn temporality(metric: &Metric) -> Option<i32> {
    match &metric.data {
        Some(Data::Sum(s)) => Some(s.aggregation_temporality),
        Some(Data::Histogram(h)) => Some(h.aggregation_temporality),
        Some(Data::ExponentialHistogram(e)) => Some(e.aggregation_temporality),
        _ => None,
    }
}

/// Data of the same type, temporality and monotonicity, without points.
fn empty_like(data: &Data) -> Data {
    match data {
        Data::Gauge(_) => Data::Gauge(Gauge::default()),
        Data::Sum(s) => Data::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: s.is_monotonic,
        }),
        Data::Histogram(h) => Data::Histogram(Histogram {
            data_points: Vec::new(),
            aggregation_temporality: h.aggregation_temporality,
        }),
        Data::ExponentialHistogram(e) => Data::ExponentialHistogram(ExponentialHistogram {
            data_points: Vec::new(),
            aggregation_temporality: e.aggregation_temporality,
        }),
        Data::Summary(_) => Data::Summary(Summary::default()),
    }
}

/// Moves `from`'s points into `into` (of the same type: [`combinable`] checked).
fn append_points(into: &mut Metric, from: Metric) {
    match (&mut into.data, from.data) {
        (Some(Data::Gauge(a)), Some(Data::Gauge(b))) => a.data_points.extend(b.data_points),
        (Some(Data::Sum(a)), Some(Data::Sum(b))) => a.data_points.extend(b.data_points),
        (Some(Data::Histogram(a)), Some(Data::Histogram(b))) => a.data_points.extend(b.data_points),
        (Some(Data::ExponentialHistogram(a)), Some(Data::ExponentialHistogram(b))) => {
            a.data_points.extend(b.data_points)
        }
        _ => {}
    }
}

/// Renames `metric` and applies the transform's operations; returns whether it is kept (it
/// has points, or had none to begin with).
fn apply(transform: &Compiled, metric: &mut Metric) -> bool {
    let filter = &transform.filter;
    let was_empty = point_count(metric) == 0;
    let whole = transform.action != Action::Update || filter.selects_all(metric);
    if !transform.new_name.is_empty() && whole {
        metric.name = filter.rename(&metric.name, &transform.new_name);
    }
    for op in &transform.operations {
        match op {
            Op::AddLabel { label: key, value } if whole => {
                for_each_attributes(metric, |attributes| {
                    if find(attributes, key).is_none() {
                        attributes.push(kv(key, value));
                    }
                });
            }
            Op::UpdateLabel { label: key, new_label, values } => {
                for_each_attributes(metric, |attributes| {
                    if filter.labels(attributes) {
                        update_label(attributes, key, new_label.as_deref(), values);
                    }
                });
            }
            Op::DeleteLabelValue { label: key, value } if whole => {
                retain_points(metric, |attributes| {
                    label(attributes, key).as_deref() != Some(value.as_str())
                });
            }
            Op::ToggleScalarDataType => toggle(metric, filter),
            Op::Scale(factor) => scale(metric, filter, *factor),
            Op::AggregateLabels { keep, aggregation } if whole => {
                for_each_attributes(metric, |attributes| {
                    attributes.retain(|kv| keep.contains(&kv.key));
                });
                aggregate::aggregate(metric, *aggregation);
            }
            Op::AggregateLabelValues { label: key, values, new_value, aggregation } if whole => {
                for_each_attributes(metric, |attributes| {
                    if label(attributes, key).is_some_and(|v| values.contains(&v)) {
                        put(attributes, key, new_value);
                    }
                });
                aggregate::aggregate(metric, *aggregation);
            }
            _ => {}
        }
    }
    was_empty || point_count(metric) > 0
}

fn update_label(
    attributes: &mut Vec<KeyValue>,
    key: &str,
    new_label: Option<&str>,
    values: &std::collections::HashMap<String, String>,
) {
    let Some(value) = label(attributes, key) else {
        return;
    };
    let mut key = key.to_owned();
    if let Some(new_label) = new_label.filter(|n| *n != key) {
        attributes.retain(|kv| kv.key != new_label);
        if let Some(kv) = attributes.iter_mut().find(|kv| kv.key == key) {
            kv.key = new_label.to_owned();
        }
        key = new_label.to_owned();
    }
    if let Some(new_value) = values.get(&value) {
        put(attributes, &key, new_value);
    }
}

/// Integers become doubles and doubles integers (truncated), in gauges and sums.
fn toggle(metric: &mut Metric, filter: &Filter) {
    let points = match &mut metric.data {
        Some(Data::Gauge(g)) => &mut g.data_points,
        Some(Data::Sum(s)) => &mut s.data_points,
        _ => return,
    };
    for p in points.iter_mut().filter(|p| filter.labels(&p.attributes)) {
        p.value = match p.value {
            Some(number_data_point::Value::AsInt(i)) => {
                Some(number_data_point::Value::AsDouble(i as f64))
            }
            Some(number_data_point::Value::AsDouble(d)) => {
                Some(number_data_point::Value::AsInt(d as i64))
            }
            None => None,
        };
    }
}

fn scale(metric: &mut Metric, filter: &Filter, factor: f64) {
    use weir_otlp::proto::metrics::v1::exemplar;
    let scaled = |i: i64| (i as f64 * factor) as i64;
    match &mut metric.data {
        Some(Data::Gauge(Gauge { data_points })) | Some(Data::Sum(Sum { data_points, .. })) => {
            for p in data_points.iter_mut().filter(|p| filter.labels(&p.attributes)) {
                p.value = match p.value {
                    Some(number_data_point::Value::AsInt(i)) => {
                        Some(number_data_point::Value::AsInt(scaled(i)))
                    }
                    Some(number_data_point::Value::AsDouble(d)) => {
                        Some(number_data_point::Value::AsDouble(d * factor))
                    }
                    None => None,
                };
            }
        }
        Some(Data::Histogram(h)) => {
            for p in h.data_points.iter_mut().filter(|p| filter.labels(&p.attributes)) {
                p.sum = p.sum.map(|s| s * factor);
                p.min = p.min.map(|m| m * factor);
                p.max = p.max.map(|m| m * factor);
                p.explicit_bounds.iter_mut().for_each(|b| *b *= factor);
                for e in &mut p.exemplars {
                    e.value = match e.value {
                        Some(exemplar::Value::AsInt(i)) => Some(exemplar::Value::AsInt(scaled(i))),
                        Some(exemplar::Value::AsDouble(d)) => {
                            Some(exemplar::Value::AsDouble(d * factor))
                        }
                        None => None,
                    };
                }
            }
        }
        _ => {}
    }
}
