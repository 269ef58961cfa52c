use weir_otlp::{
    attributes::kv,
    proto::{
        metrics::v1::{
            ExponentialHistogram, Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum,
            exponential_histogram_data_point::Buckets,
        },
        resource::v1::Resource,
    },
};

use super::*;

const SECOND: u64 = 1_000_000_000;
/// The wall-clock time the tests' pipeline hands in: the processor starts at 1000 s.
const STARTED: u64 = 1000 * SECOND;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).expect("valid")
}

fn errors(yaml: &str) -> Vec<String> {
    Settings::parse(yaml).expect_err("invalid").iter().map(ToString::to_string).collect()
}

/// A processor started at [`STARTED`] (its first flush).
fn processor(yaml: &str) -> CumulativeToDelta {
    let mut p = CumulativeToDelta::new(&settings(yaml), "c2d");
    p.flush(Instant::now(), &mut Output::at(STARTED));
    p
}

/// A cumulative point: `(series, start s, time s, value)`.
type Cumulative = (&'static str, u64, u64, i64);

fn number(&(id, start, time, value): &Cumulative) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![kv("id", id)],
        start_time_unix_nano: start * SECOND,
        time_unix_nano: time * SECOND,
        value: Some(number_data_point::Value::AsInt(value)),
        ..NumberDataPoint::default()
    }
}

fn sum_metric(name: &str, points: Vec<NumberDataPoint>, monotonic: bool) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: monotonic,
        })),
        ..Metric::default()
    }
}

fn batch(metrics: Vec<Metric>) -> Batch {
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "shop")],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics { metrics, ..ScopeMetrics::default() }],
        ..ResourceMetrics::default()
    }])
}

fn sums(points: &[Cumulative]) -> Batch {
    batch(vec![sum_metric("requests", points.iter().map(number).collect(), true)])
}

fn run(p: &mut CumulativeToDelta, b: Batch) -> Vec<Metric> {
    let mut out = Output::at(STARTED + 5000 * SECOND);
    p.process(b, &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => vec![],
        })
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect()
}

/// The delta points of sum metric `name`: `(series, start s, time s, value)`.
fn deltas(metrics: &[Metric], name: &str) -> Vec<Cumulative> {
    let Some(metric) = metrics.iter().find(|m| m.name == name) else {
        return Vec::new();
    };
    let Some(Data::Sum(s)) = &metric.data else { panic!("{name} is not a sum") };
    assert_eq!(s.aggregation_temporality, AggregationTemporality::Delta as i32, "{name}");
    assert!(s.is_monotonic);
    s.data_points
        .iter()
        .map(|p| {
            let id = match p.attributes[0].value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(weir_otlp::proto::common::v1::any_value::Value::StringValue(s)) => {
                    if s == "a" {
                        "a"
                    } else if s == "b" {
                        "b"
                    } else {
                        "other"
                    }
                }
                _ => "none",
            };
            let value = match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                other => panic!("unexpected value {other:?}"),
            };
            (id, p.start_time_unix_nano / SECOND, p.time_unix_nano / SECOND, value)
        })
        .collect()
}

#[test]
fn sums_become_the_difference_from_the_previous_point() {
    let mut p = processor("initial_value: keep");
    let out = run(&mut p, sums(&[("a", 500, 1010, 10), ("b", 500, 1010, 4)]));
    assert_eq!(deltas(&out, "requests"), vec![("a", 500, 1010, 10), ("b", 500, 1010, 4)]);
    let out = run(&mut p, sums(&[("a", 500, 1020, 25), ("b", 500, 1020, 4)]));
    assert_eq!(deltas(&out, "requests"), vec![("a", 1010, 1020, 15), ("b", 1010, 1020, 0)]);
    let out = run(&mut p, sums(&[("a", 500, 1030, 26)]));
    assert_eq!(deltas(&out, "requests"), vec![("a", 1020, 1030, 1)]);
    assert_eq!(p.streams(), 2);
}

#[test]
fn doubles_subtract_as_doubles_and_keep_their_attributes() {
    let mut p = processor("initial_value: drop");
    let point = |time, value| NumberDataPoint {
        attributes: vec![kv("id", "a"), kv("route", "/x")],
        start_time_unix_nano: 500 * SECOND,
        time_unix_nano: time * SECOND,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    };
    assert!(run(&mut p, batch(vec![sum_metric("s", vec![point(1010, 1.5)], true)])).is_empty());
    let out = run(&mut p, batch(vec![sum_metric("s", vec![point(1020, 4.0)], true)]));
    let Some(Data::Sum(s)) = &out[0].data else { panic!() };
    assert_eq!(s.data_points[0].value, Some(number_data_point::Value::AsDouble(2.5)));
    assert_eq!(s.data_points[0].attributes, vec![kv("id", "a"), kv("route", "/x")]);
}

#[test]
fn initial_value_auto_sends_only_series_born_after_the_start() {
    let mut p = processor("{}");
    let first = run(
        &mut p,
        sums(&[
            ("a", 500, 1010, 10),  // started before the processor: someone may have sent it
            ("b", 1005, 1010, 7),  // born since: sent
            ("other", 0, 1010, 3), // no start time: not sent
        ]),
    );
    assert_eq!(deltas(&first, "requests"), vec![("b", 1005, 1010, 7)]);
    let restarted = run(&mut p, sums(&[("a", 1015, 1015, 5)]));
    assert!(restarted.is_empty(), "a start equal to the time is not sent: {restarted:?}");
    let next =
        run(&mut p, sums(&[("a", 1015, 1020, 12), ("b", 1005, 1020, 9), ("other", 0, 1020, 3)]));
    assert_eq!(
        deltas(&next, "requests"),
        vec![("a", 1015, 1020, 7), ("b", 1010, 1020, 2), ("other", 1010, 1020, 0)]
    );
}

#[test]
fn initial_value_keep_and_drop() {
    let points = [("a", 500, 1010, 10), ("b", 1005, 1010, 7)];
    let mut keep = processor("initial_value: keep");
    assert_eq!(
        deltas(&run(&mut keep, sums(&points)), "requests"),
        vec![("a", 500, 1010, 10), ("b", 1005, 1010, 7)]
    );
    let mut drop = processor("initial_value: drop");
    assert!(run(&mut drop, sums(&points)).is_empty(), "a metric left without points is removed");
    assert_eq!(drop.streams(), 2, "kept as baselines");
    assert_eq!(
        deltas(&run(&mut drop, sums(&[("a", 500, 1020, 11)])), "requests"),
        vec![("a", 1010, 1020, 1)]
    );
}

#[test]
fn a_lower_value_is_a_reset_and_counts_whole() {
    let mut p = processor("initial_value: drop");
    let mut sent = Vec::new();
    for (time, value) in [(1010, 100), (1020, 105), (1030, 120), (1040, 100), (1050, 110)] {
        sent.extend(deltas(&run(&mut p, sums(&[("a", 500, time, value)])), "requests"));
    }
    assert_eq!(
        sent,
        vec![
            ("a", 1010, 1020, 5),
            ("a", 1020, 1030, 15),
            ("a", 1030, 1040, 100),
            ("a", 1040, 1050, 10)
        ]
    );
}

#[test]
fn a_new_start_time_starts_the_series_again_under_initial_value() {
    let mut auto = processor("{}");
    run(&mut auto, sums(&[("a", 500, 1010, 100)]));
    // the source restarted at 1015: its 3 counts since then are new
    assert_eq!(
        deltas(&run(&mut auto, sums(&[("a", 1015, 1020, 3)])), "requests"),
        vec![("a", 1015, 1020, 3)]
    );
    assert_eq!(
        deltas(&run(&mut auto, sums(&[("a", 1015, 1030, 8)])), "requests"),
        vec![("a", 1020, 1030, 5)]
    );
    let mut drop = processor("initial_value: drop");
    run(&mut drop, sums(&[("a", 500, 1010, 100)]));
    assert!(run(&mut drop, sums(&[("a", 1015, 1020, 3)])).is_empty());
    assert_eq!(
        deltas(&run(&mut drop, sums(&[("a", 1015, 1030, 8)])), "requests"),
        vec![("a", 1020, 1030, 5)]
    );
}

#[test]
fn duplicates_out_of_order_points_no_values_and_nan_are_not_subtracted() {
    let mut p = processor("initial_value: keep");
    run(&mut p, sums(&[("a", 500, 1020, 10)]));
    assert!(run(&mut p, sums(&[("a", 500, 1020, 10)])).is_empty(), "a duplicate");
    assert!(run(&mut p, sums(&[("a", 500, 1015, 8)])).is_empty(), "an older point");
    let mut empty = number(&("a", 500, 1030, 99));
    empty.flags = DataPointFlags::NoRecordedValueMask as u32;
    assert!(run(&mut p, batch(vec![sum_metric("requests", vec![empty], true)])).is_empty());
    let mut nan = number(&("a", 500, 1035, 0));
    nan.value = Some(number_data_point::Value::AsDouble(f64::NAN));
    let out = run(&mut p, batch(vec![sum_metric("requests", vec![nan], true)]));
    let Some(Data::Sum(s)) = &out[0].data else { panic!() };
    assert_eq!(s.aggregation_temporality, AggregationTemporality::Delta as i32);
    assert!(
        matches!(s.data_points[0].value, Some(number_data_point::Value::AsDouble(v)) if v.is_nan())
    );
    assert_eq!(s.data_points[0].start_time_unix_nano, 500 * SECOND, "passed as it was");
    assert_eq!(
        deltas(&run(&mut p, sums(&[("a", 500, 1040, 13)])), "requests"),
        vec![("a", 1020, 1040, 3)],
        "the series is where the last number left it"
    );
}

fn histogram(time: u64, count: u64, sum: f64, buckets: &[u64], bounds: &[f64]) -> Metric {
    Metric {
        name: "latency".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv("id", "a")],
                start_time_unix_nano: 500 * SECOND,
                time_unix_nano: time * SECOND,
                count,
                sum: Some(sum),
                bucket_counts: buckets.to_vec(),
                explicit_bounds: bounds.to_vec(),
                min: Some(0.1),
                max: Some(9.0),
                ..HistogramDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    }
}

/// `(start s, time s, count, sum, buckets, min, max)` of the histogram points.
type HistogramDelta = (u64, u64, u64, Option<f64>, Vec<u64>, Option<f64>, Option<f64>);

fn histogram_deltas(metrics: &[Metric]) -> Vec<HistogramDelta> {
    metrics
        .iter()
        .filter_map(|m| match &m.data {
            Some(Data::Histogram(h)) => {
                assert_eq!(h.aggregation_temporality, AggregationTemporality::Delta as i32);
                Some(h.data_points.iter().map(|p| {
                    (
                        p.start_time_unix_nano / SECOND,
                        p.time_unix_nano / SECOND,
                        p.count,
                        p.sum,
                        p.bucket_counts.clone(),
                        p.min,
                        p.max,
                    )
                }))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn histograms_subtract_counts_sums_and_buckets_without_min_and_max() {
    let mut p = processor("initial_value: keep");
    let bounds = [1.0, 5.0];
    let out = run(&mut p, batch(vec![histogram(1010, 3, 6.0, &[1, 1, 1], &bounds)]));
    assert_eq!(histogram_deltas(&out), vec![(500, 1010, 3, Some(6.0), vec![1, 1, 1], None, None)]);
    let out = run(&mut p, batch(vec![histogram(1020, 7, 16.5, &[2, 4, 1], &bounds)]));
    assert_eq!(
        histogram_deltas(&out),
        vec![(1010, 1020, 4, Some(10.5), vec![1, 3, 0], None, None)]
    );
    // a lower count: a reset, counted whole
    let out = run(&mut p, batch(vec![histogram(1030, 2, 1.0, &[2, 0, 0], &bounds)]));
    assert_eq!(histogram_deltas(&out), vec![(1020, 1030, 2, Some(1.0), vec![2, 0, 0], None, None)]);
    // new bounds under the same start time: dropped, and the new baseline
    let out = run(&mut p, batch(vec![histogram(1040, 4, 2.0, &[2, 2], &[1.0])]));
    assert!(histogram_deltas(&out).is_empty());
    let out = run(&mut p, batch(vec![histogram(1050, 5, 3.0, &[2, 3], &[1.0])]));
    assert_eq!(histogram_deltas(&out), vec![(1040, 1050, 1, Some(1.0), vec![0, 1], None, None)]);
}

#[test]
fn a_nan_histogram_sum_stays_nan_and_the_next_subtracts_from_the_last_number() {
    let mut p = processor("initial_value: drop");
    run(&mut p, batch(vec![histogram(1010, 1, 2.0, &[1], &[])]));
    let out = run(&mut p, batch(vec![histogram(1020, 2, f64::NAN, &[2], &[])]));
    assert!(histogram_deltas(&out)[0].3.is_some_and(f64::is_nan));
    let out = run(&mut p, batch(vec![histogram(1030, 3, 5.0, &[3], &[])]));
    assert_eq!(histogram_deltas(&out), vec![(1020, 1030, 1, Some(3.0), vec![1], None, None)]);
}

fn exponential(time: u64, scale: i32, zero: u64, offset: i32, counts: &[u64]) -> Metric {
    let count = zero + counts.iter().sum::<u64>();
    Metric {
        name: "size".into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint {
                start_time_unix_nano: 500 * SECOND,
                time_unix_nano: time * SECOND,
                count,
                sum: Some(count as f64),
                scale,
                zero_count: zero,
                positive: Some(Buckets { offset, bucket_counts: counts.to_vec() }),
                min: Some(0.0),
                ..ExponentialHistogramDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    }
}

#[test]
fn exponential_histograms_subtract_at_the_coarser_scale() {
    let mut p = processor("initial_value: drop");
    assert!(run(&mut p, batch(vec![exponential(1010, 1, 1, 0, &[1, 2])])).is_empty());
    let out = run(&mut p, batch(vec![exponential(1020, 1, 2, 0, &[2, 3, 1])]));
    let Some(Data::ExponentialHistogram(e)) = &out[0].data else { panic!() };
    assert_eq!(e.aggregation_temporality, AggregationTemporality::Delta as i32);
    let d = &e.data_points[0];
    assert_eq!(
        (d.start_time_unix_nano, d.count, d.zero_count, d.sum),
        (1010 * SECOND, 4, 1, Some(4.0))
    );
    assert_eq!(d.positive, Some(Buckets { offset: 0, bucket_counts: vec![1, 1, 1] }));
    assert_eq!(d.min, None);
    // the source downscaled (scale 1 → 0: buckets 0,1 → 0 and 2 → 1)
    let out = run(&mut p, batch(vec![exponential(1030, 0, 2, 0, &[7, 2])]));
    let Some(Data::ExponentialHistogram(e)) = &out[0].data else { panic!() };
    let d = &e.data_points[0];
    assert_eq!((d.scale, d.count, d.zero_count), (0, 3, 0));
    assert_eq!(d.positive, Some(Buckets { offset: 0, bucket_counts: vec![2, 1] }));
}

#[test]
fn only_cumulative_monotonic_sums_and_histograms_change() {
    let mut p = processor("initial_value: keep");
    let gauge = Metric {
        name: "temperature".into(),
        data: Some(Data::Gauge(Gauge { data_points: vec![number(&("a", 0, 1010, 20))] })),
        ..Metric::default()
    };
    let non_monotonic = sum_metric("queue", vec![number(&("a", 500, 1010, 5))], false);
    let mut delta = sum_metric("sent", vec![number(&("a", 1000, 1010, 5))], true);
    let Some(Data::Sum(s)) = &mut delta.data else { unreachable!() };
    s.aggregation_temporality = AggregationTemporality::Delta as i32;
    let input = vec![gauge, non_monotonic, delta];
    let out = run(&mut p, batch(input.clone()));
    assert_eq!(out, input);
    assert_eq!(p.streams(), 0);
}

#[test]
fn include_and_exclude_select_by_name_and_type() {
    let metrics = || {
        vec![
            sum_metric("http.requests", vec![number(&("a", 500, 1010, 1))], true),
            sum_metric("http.errors", vec![number(&("a", 500, 1010, 1))], true),
            sum_metric("db.calls", vec![number(&("a", 500, 1010, 1))], true),
            histogram(1010, 1, 1.0, &[1], &[]),
        ]
    };
    let converted = |yaml: &str| -> Vec<String> {
        let mut p = processor(&format!("initial_value: keep\n{yaml}"));
        run(&mut p, batch(metrics()))
            .into_iter()
            .filter(|m| match &m.data {
                Some(Data::Sum(s)) => {
                    s.aggregation_temporality == AggregationTemporality::Delta as i32
                }
                Some(Data::Histogram(h)) => {
                    h.aggregation_temporality == AggregationTemporality::Delta as i32
                }
                _ => false,
            })
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(converted(""), ["http.requests", "http.errors", "db.calls", "latency"]);
    assert_eq!(
        converted("include: {metrics: [db.calls, latency], match_type: strict}"),
        ["db.calls", "latency"]
    );
    assert_eq!(
        converted("include: {metrics: ['http'], match_type: regexp}"),
        ["http.requests", "http.errors"],
        "a regexp matches anywhere in the name"
    );
    assert_eq!(
        converted(
            "include: {metrics: ['^http'], match_type: regexp}
exclude: {metrics: [http.errors], match_type: strict}"
        ),
        ["http.requests"],
        "exclude wins"
    );
    assert_eq!(converted("include: {metric_types: [Histogram]}"), ["latency"]);
    assert_eq!(
        converted("exclude: {metric_types: [sum]}"),
        ["latency"],
        "a type in exclude excludes on its own"
    );
    assert_eq!(
        converted(
            "include: {metrics: ['.'], match_type: regexp, metric_types: [sum]}
exclude: {metrics: [db.calls], match_type: strict}"
        ),
        ["http.requests", "http.errors"]
    );
}

#[test]
fn series_are_told_apart_by_resource_and_value_type() {
    let mut p = processor("initial_value: keep");
    let mut two = sums(&[("a", 500, 1010, 10)]);
    let Decoded::Metrics(resources) = two.decoded_mut() else { unreachable!() };
    let mut other = resources[0].clone();
    other.resource =
        Some(Resource { attributes: vec![kv("service.name", "cart")], ..Default::default() });
    resources.push(other);
    run(&mut p, two);
    assert_eq!(p.streams(), 2);
    let mut double = number(&("a", 500, 1020, 0));
    double.value = Some(number_data_point::Value::AsDouble(12.0));
    run(&mut p, batch(vec![sum_metric("requests", vec![double], true)]));
    assert_eq!(p.streams(), 3, "a double series is not the integer one");
}

#[test]
fn series_are_bounded_and_stale_ones_forgotten() {
    let mut p = processor("{initial_value: keep, max_streams: 2, max_staleness: 1m}");
    let start = Instant::now();
    p.flush(start, &mut Output::at(STARTED));
    let out =
        run(&mut p, sums(&[("a", 500, 1010, 1), ("b", 500, 1010, 1), ("other", 500, 1010, 1)]));
    assert_eq!(
        deltas(&out, "requests"),
        vec![("a", 500, 1010, 1), ("b", 500, 1010, 1)],
        "the third series is dropped (counted)"
    );
    p.flush(start + Duration::from_secs(30), &mut Output::at(STARTED));
    run(&mut p, sums(&[("a", 500, 1020, 2)]));
    p.flush(start + Duration::from_secs(61), &mut Output::at(STARTED));
    assert_eq!(p.streams(), 1, "b, not seen for a minute, is forgotten; a was seen at 30 s");
    let out = run(&mut p, sums(&[("other", 500, 1030, 4)]));
    assert_eq!(deltas(&out, "requests"), vec![("other", 500, 1030, 4)], "room again");

    let mut forever = processor("{initial_value: keep, max_staleness: 0}");
    run(&mut forever, sums(&[("a", 500, 1010, 1)]));
    forever.flush(start + Duration::from_secs(86_400 * 365), &mut Output::at(STARTED));
    assert_eq!(forever.streams(), 1, "0: never forgotten");
}

#[test]
fn defaults_are_the_collectors() {
    let s = settings("");
    assert_eq!(s.config(), &Config::default());
    assert_eq!(s.config().max_staleness, Duration::from_secs(3600));
    assert_eq!(s.config().initial_value, InitialValue::Auto);
    assert_eq!(Settings::DECLARATION.name, "cumulativetodelta");
    assert!(Settings::DECLARATION.signals.accepts(Signal::Metrics));
    assert!(!Settings::DECLARATION.signals.accepts(Signal::Traces));
}

#[test]
fn problems_are_reported_with_their_paths() {
    assert_eq!(
        errors(
            "include: {metrics: [a]}
exclude: {match_type: strict, metric_types: [sum, gauge]}
max_streams: 0"
        ),
        vec![
            "include.match_type: must be set with metrics (strict or regexp)",
            "exclude.metrics: must be set with match_type",
            "exclude.metric_types[1]: unsupported metric type \"gauge\": expected sum, histogram \
             or exponentialhistogram",
            "max_streams: must be > 0",
        ]
    );
    let bad_regexp = errors("include: {metrics: ['ok', '(unclosed'], match_type: regexp}");
    assert_eq!(bad_regexp.len(), 1);
    assert!(bad_regexp[0].starts_with("include.metrics[1]: invalid regexp \"(unclosed\""));
    for (yaml, expected) in [
        ("max_stale: 1m", "unknown field `max_stale`"),
        (
            "include: {metrics: [a], match_type: strict, regexp: {cacheenabled: true}}",
            "unknown field `regexp`",
        ),
        ("initial_value: sometimes", "unknown variant `sometimes`"),
        ("include: {metrics: [a], match_type: glob}", "unknown variant `glob`"),
        ("max_staleness: 300", "invalid duration \"300\""),
    ] {
        let message = errors(yaml).join("\n");
        assert!(message.contains(expected), "{yaml}: {message}");
    }
}
