//! Merging the points of a metric that share attributes and timestamps (after
//! `aggregate_labels`, `aggregate_label_values` or `combine`), as the Collector does: points
//! meet when their attributes and time are equal (and their start time, for delta sums and
//! histograms); gauge and sum values merge by the aggregation type, histograms add up (their
//! buckets must agree: same bounds, or same scale and offsets for exponential ones). The
//! merged point takes the earliest start time. Groups keep the order of their first point.

use std::collections::HashMap;

use weir_otlp::{
    attributes::text,
    proto::{
        common::v1::KeyValue,
        metrics::v1::{
            AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
            NumberDataPoint, exponential_histogram_data_point::Buckets, metric::Data,
            number_data_point::Value,
        },
    },
};

use super::Aggregation;

/// Merges `metric`'s points that share attributes and timestamps. Summaries are left as they
/// are: their quantiles do not merge.
pub(crate) fn aggregate(metric: &mut Metric, aggregation: Aggregation) {
    let delta = AggregationTemporality::Delta as i32;
    match &mut metric.data {
        Some(Data::Gauge(g)) => {
            let groups = group(std::mem::take(&mut g.data_points), |p| number_key(p, false));
            g.data_points = groups.into_iter().map(|g| merge_numbers(g, aggregation)).collect();
        }
        Some(Data::Sum(s)) => {
            let by_start = s.aggregation_temporality == delta;
            let groups = group(std::mem::take(&mut s.data_points), |p| number_key(p, by_start));
            s.data_points = groups.into_iter().map(|g| merge_numbers(g, aggregation)).collect();
        }
        Some(Data::Histogram(h)) => {
            let by_start = h.aggregation_temporality == delta;
            let groups = group(std::mem::take(&mut h.data_points), |p| histogram_key(p, by_start));
            h.data_points = groups.into_iter().map(merge_histograms).collect();
        }
        Some(Data::ExponentialHistogram(e)) => {
            let by_start = e.aggregation_temporality == delta;
            let groups =
                group(std::mem::take(&mut e.data_points), |p| exponential_key(p, by_start));
            e.data_points = groups.into_iter().map(merge_exponentials).collect();
        }
        Some(Data::Summary(_)) | None => {}
    }
}

/// Points by key, groups in the order of their first point.
fn group<P>(points: Vec<P>, key: impl Fn(&P) -> String) -> Vec<Vec<P>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<P>> = Vec::new();
    for point in points {
        let next = groups.len();
        let i = *index.entry(key(&point)).or_insert(next);
        if i == next {
            groups.push(Vec::new());
        }
        groups[i].push(point);
    }
    groups
}

/// The attributes in key order, each value with its type, so that `"1"` and `1` differ.
fn attributes_key(attributes: &[KeyValue]) -> String {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut key = String::new();
    for kv in sorted {
        let value = kv.value.as_ref();
        let tag = value.and_then(|v| v.value.as_ref()).map(std::mem::discriminant);
        key.push_str(&kv.key);
        key.push('\u{0}');
        key.push_str(&format!("{tag:?}"));
        key.push_str(&text(value).unwrap_or_default());
        key.push('\u{1}');
    }
    key
}

fn number_key(p: &NumberDataPoint, by_start: bool) -> String {
    let start = if by_start { p.start_time_unix_nano } else { 0 };
    format!("{}|{}|{start}", attributes_key(&p.attributes), p.time_unix_nano)
}

fn histogram_key(p: &HistogramDataPoint, by_start: bool) -> String {
    let start = if by_start { p.start_time_unix_nano } else { 0 };
    let bounds: Vec<u64> = p.explicit_bounds.iter().map(|b| b.to_bits()).collect();
    format!(
        "{}|{}|{start}|{bounds:?}|{}|{}|{}",
        attributes_key(&p.attributes),
        p.time_unix_nano,
        p.min.is_some(),
        p.max.is_some(),
        p.flags
    )
}

fn exponential_key(p: &ExponentialHistogramDataPoint, by_start: bool) -> String {
    let start = if by_start { p.start_time_unix_nano } else { 0 };
    let offset = |b: &Option<Buckets>| b.as_ref().map_or(0, |b| b.offset);
    format!(
        "{}|{}|{start}|{}|{}|{}|{}|{}|{}",
        attributes_key(&p.attributes),
        p.time_unix_nano,
        p.scale,
        offset(&p.positive),
        offset(&p.negative),
        p.min.is_some(),
        p.max.is_some(),
        p.flags
    )
}

fn as_f64(value: Option<Value>) -> f64 {
    match value {
        Some(Value::AsDouble(d)) => d,
        Some(Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

fn as_i64(value: Option<Value>) -> i64 {
    match value {
        Some(Value::AsDouble(d)) => d as i64,
        Some(Value::AsInt(i)) => i,
        None => 0,
    }
}

/// One point of a group: the first, its value the group's by `aggregation`, in the first's
/// value type.
fn merge_numbers(points: Vec<NumberDataPoint>, aggregation: Aggregation) -> NumberDataPoint {
    let start = points.iter().map(|p| p.start_time_unix_nano).min().unwrap_or(0);
    let values: Vec<Option<Value>> = points.iter().map(|p| p.value).collect();
    let mut merged = points.into_iter().next().expect("a group has a point");
    merged.start_time_unix_nano = start;
    merged.value = match merged.value {
        Some(Value::AsDouble(_)) => {
            Some(Value::AsDouble(doubles(values.into_iter().map(as_f64).collect(), aggregation)))
        }
        Some(Value::AsInt(_)) => {
            Some(Value::AsInt(integers(values.into_iter().map(as_i64).collect(), aggregation)))
        }
        None => None,
    };
    merged
}

fn doubles(mut values: Vec<f64>, aggregation: Aggregation) -> f64 {
    let n = values.len() as f64;
    match aggregation {
        Aggregation::Sum => values.iter().sum(),
        Aggregation::Mean => values.iter().sum::<f64>() / n,
        Aggregation::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Aggregation::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Aggregation::Count => n,
        Aggregation::Median => {
            values.sort_by(f64::total_cmp);
            let middle = values.len() / 2;
            if values.len() % 2 == 1 {
                values[middle]
            } else {
                (values[middle - 1] + values[middle]) / 2.0
            }
        }
    }
}

fn integers(mut values: Vec<i64>, aggregation: Aggregation) -> i64 {
    let sum = || values.iter().fold(0i64, |a, b| a.wrapping_add(*b));
    match aggregation {
        Aggregation::Sum => sum(),
        Aggregation::Mean => sum() / values.len() as i64,
        Aggregation::Min => values.iter().copied().min().unwrap_or(0),
        Aggregation::Max => values.iter().copied().max().unwrap_or(0),
        Aggregation::Count => values.len() as i64,
        Aggregation::Median => {
            values.sort_unstable();
            let middle = values.len() / 2;
            if values.len() % 2 == 1 {
                values[middle]
            } else {
                ((i128::from(values[middle - 1]) + i128::from(values[middle])) / 2) as i64
            }
        }
    }
}

fn add_sums(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

fn lower(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn higher(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Histograms of a group add up into the first (empty ones are skipped).
fn merge_histograms(points: Vec<HistogramDataPoint>) -> HistogramDataPoint {
    let mut points = points.into_iter();
    let mut merged = points.next().expect("a group has a point");
    for p in points.filter(|p| p.count > 0) {
        merged.count += p.count;
        merged.sum = add_sums(merged.sum, p.sum);
        merged.min = lower(merged.min, p.min);
        merged.max = higher(merged.max, p.max);
        for (total, count) in merged.bucket_counts.iter_mut().zip(&p.bucket_counts) {
            *total += count;
        }
        merged.exemplars.extend(p.exemplars);
        merged.start_time_unix_nano = merged.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    merged
}

/// Exponential histograms of a group (same scale and offsets) add up into the first.
fn merge_exponentials(points: Vec<ExponentialHistogramDataPoint>) -> ExponentialHistogramDataPoint {
    let mut points = points.into_iter();
    let mut merged = points.next().expect("a group has a point");
    for p in points.filter(|p| p.count > 0) {
        merged.count += p.count;
        merged.zero_count += p.zero_count;
        merged.sum = add_sums(merged.sum, p.sum);
        merged.min = lower(merged.min, p.min);
        merged.max = higher(merged.max, p.max);
        for (into, from) in [(&mut merged.positive, p.positive), (&mut merged.negative, p.negative)]
        {
            let Some(from) = from else { continue };
            let into = into.get_or_insert_with(Default::default);
            if into.bucket_counts.len() < from.bucket_counts.len() {
                into.bucket_counts.resize(from.bucket_counts.len(), 0);
            }
            for (total, count) in into.bucket_counts.iter_mut().zip(&from.bucket_counts) {
                *total += count;
            }
        }
        merged.exemplars.extend(p.exemplars);
        merged.start_time_unix_nano = merged.start_time_unix_nano.min(p.start_time_unix_nano);
    }
    merged
}
