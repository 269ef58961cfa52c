//! The acceptance tests of research/algorithms.md §1.6 that run in-process, kept in one file
//! (about 690 lines) so that the list reads as the specification does.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};
use weir_otlp::attributes::kv;

use weir_core::{Metadata, Output};
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value::Value as AnyValueKind},
    metrics::v1::{
        AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        exponential_histogram_data_point::Buckets, metric::Data, number_data_point::Value,
    },
    resource::v1::Resource,
};

use super::*;

fn attrs(pairs: &[(&str, String)]) -> Vec<KeyValue> {
    pairs.iter().map(|(k, v)| kv(k, v)).collect()
}

fn number(attributes: Vec<KeyValue>, value: i64, start: u64, time: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(Value::AsInt(value)),
        ..NumberDataPoint::default()
    }
}

fn sum(name: &str, temporality: AggregationTemporality, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: "1".into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    }
}

fn batch_of(service: &str, metrics: Vec<Metric>) -> Batch {
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service), kv("host.name", "h1")],
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics { metrics, ..ScopeMetrics::default() }],
        schema_url: String::new(),
    }])
}

fn run(limiter: &mut Limiter, batch: Batch) -> Vec<ResourceMetrics> {
    run_with(limiter, batch, Metadata::default())
}

fn run_with(limiter: &mut Limiter, batch: Batch, metadata: Metadata) -> Vec<ResourceMetrics> {
    let mut out = Output::with_metadata(metadata);
    limiter.process(batch, &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => panic!("metrics expected"),
        })
        .collect()
}

fn is_overflow(attributes: &[KeyValue]) -> bool {
    attributes.len() == 1
        && attributes[0].key == OVERFLOW_ATTRIBUTE
        && attributes[0].value == Some(AnyValue { value: Some(AnyValueKind::BoolValue(true)) })
}

/// Every data point in `resources` as (resource attributes, metric, point attributes, point).
fn metrics_of(resources: &[ResourceMetrics]) -> Vec<(Vec<KeyValue>, Metric)> {
    let mut all = Vec::new();
    for r in resources {
        let resource = r.resource.clone().unwrap_or_default().attributes;
        for s in &r.scope_metrics {
            for m in &s.metrics {
                all.push((resource.clone(), m.clone()));
            }
        }
    }
    all
}

fn sum_points(metric: &Metric) -> Vec<NumberDataPoint> {
    match &metric.data {
        Some(Data::Sum(s)) => s.data_points.clone(),
        Some(Data::Gauge(g)) => g.data_points.clone(),
        _ => Vec::new(),
    }
}

fn int(p: &NumberDataPoint) -> i64 {
    match p.value {
        Some(Value::AsInt(i)) => i,
        other => panic!("integer expected, got {other:?}"),
    }
}

fn config(max_per_metric: usize) -> Config {
    let mut config = Config::default();
    config.limits.per_tenant.default.max_series_per_metric = max_per_metric;
    config
}

#[test]
fn ten_thousand_delta_series_through_a_budget_of_a_thousand_keep_their_sum() {
    let mut limiter = Limiter::new(&config(1000), "cardinality_limiter");
    let mut input_total = 0i64;
    let mut output = Vec::new();
    for chunk in 0..20 {
        let points = (0..500)
            .map(|j| {
                let i = chunk * 500 + j;
                input_total += i + 1;
                number(attrs(&[("id", format!("series-{i}"))]), i + 1, 10, 20)
            })
            .collect();
        let batch = batch_of("svc", vec![sum("requests", AggregationTemporality::Delta, points)]);
        output.extend(run(&mut limiter, batch));
    }
    let mut regular = HashMap::new();
    let mut overflow_series = HashSet::new();
    let mut output_total = 0i64;
    for (resource, metric) in metrics_of(&output) {
        assert_eq!(metric.name, "requests");
        for p in sum_points(&metric) {
            output_total += int(&p);
            if is_overflow(&p.attributes) {
                // only the kept resource attributes
                assert_eq!(resource, vec![kv("service.name", "svc")]);
                overflow_series.insert(format!("{resource:?}"));
            } else {
                let id = p.attributes[0].value.clone();
                assert!(regular.insert(format!("{id:?}"), int(&p)).is_none(), "one point each");
            }
        }
    }
    assert_eq!(regular.len(), 1000, "exactly the budget passes");
    // the first 1000 seen are admitted, unchanged
    for i in 0..1000 {
        let key = format!(
            "{:?}",
            Some(AnyValue { value: Some(AnyValueKind::StringValue(format!("series-{i}"))) })
        );
        assert_eq!(regular.get(&key), Some(&(i + 1)), "series-{i}");
    }
    assert_eq!(overflow_series.len(), 1, "one overflow series");
    assert_eq!(output_total, input_total, "no measurement lost or counted twice");
    let stats = limiter.stats();
    assert_eq!((stats.series_admitted, stats.points_overflowed), (1000, 9000));
    assert_eq!(limiter.series_active("default"), 1000);
}

fn histogram_point(id: usize) -> HistogramDataPoint {
    let counts = vec![id as u64 % 3, 1, (id as u64 % 5) + 1];
    HistogramDataPoint {
        attributes: attrs(&[("id", format!("h{id}"))]),
        start_time_unix_nano: 5,
        time_unix_nano: 6,
        count: counts.iter().sum(),
        sum: Some(id as f64 * 1.5),
        bucket_counts: counts,
        explicit_bounds: vec![10.0, 100.0],
        min: Some(id as f64),
        max: Some(id as f64 + 200.0),
        ..HistogramDataPoint::default()
    }
}

fn exponential_point(id: usize) -> ExponentialHistogramDataPoint {
    let scale = (id % 4) as i32; // mixed scales: the overflow meets at the coarsest
    let positive: Vec<u64> = (0..8).map(|b| ((id + b) % 4) as u64).collect();
    let negative = vec![1u64, 2];
    ExponentialHistogramDataPoint {
        attributes: attrs(&[("id", format!("e{id}"))]),
        start_time_unix_nano: 5,
        time_unix_nano: 6,
        count: positive.iter().sum::<u64>() + negative.iter().sum::<u64>() + 1,
        sum: Some(id as f64),
        scale,
        zero_count: 1,
        positive: Some(Buckets { offset: (id % 7) as i32 - 3, bucket_counts: positive }),
        negative: Some(Buckets { offset: 2, bucket_counts: negative }),
        min: Some(-(id as f64)),
        max: Some(id as f64 * 2.0),
        ..ExponentialHistogramDataPoint::default()
    }
}

/// The value of each of a point's values at scale 0 (for comparing exponential totals).
fn at_scale_zero(p: &ExponentialHistogramDataPoint) -> (BTreeMap<i64, u64>, BTreeMap<i64, u64>) {
    let fold = |b: &Option<Buckets>| {
        let mut map = BTreeMap::new();
        if let Some(b) = b {
            for (i, c) in b.bucket_counts.iter().enumerate() {
                if *c > 0 {
                    *map.entry((b.offset as i64 + i as i64) >> p.scale).or_insert(0) += c;
                }
            }
        }
        map
    };
    (fold(&p.positive), fold(&p.negative))
}

#[test]
fn histograms_over_budget_keep_buckets_counts_sums_minimums_and_maximums() {
    let mut limiter = Limiter::new(&config(100), "cardinality_limiter");
    let delta = AggregationTemporality::Delta as i32;
    let explicit: Vec<HistogramDataPoint> = (0..1000).map(histogram_point).collect();
    let exponential: Vec<ExponentialHistogramDataPoint> =
        (0..1000).map(exponential_point).collect();
    let metrics = vec![
        Metric {
            name: "latency".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: explicit.clone(),
                aggregation_temporality: delta,
            })),
            ..Metric::default()
        },
        Metric {
            name: "latency.exp".into(),
            data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: exponential.clone(),
                aggregation_temporality: delta,
            })),
            ..Metric::default()
        },
    ];
    let output = run(&mut limiter, batch_of("svc", metrics));
    let (mut out_explicit, mut out_exponential) = (Vec::new(), Vec::new());
    for (_, metric) in metrics_of(&output) {
        match metric.data {
            Some(Data::Histogram(h)) => out_explicit.extend(h.data_points),
            Some(Data::ExponentialHistogram(e)) => out_exponential.extend(e.data_points),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(out_explicit.len(), 101);
    assert_eq!(out_exponential.len(), 101);
    let overflow = out_explicit.iter().find(|p| is_overflow(&p.attributes)).expect("overflow");
    let rejected = &explicit[100..];
    let bucket =
        |i: usize, ps: &[HistogramDataPoint]| ps.iter().map(|p| p.bucket_counts[i]).sum::<u64>();
    for i in 0..3 {
        assert_eq!(overflow.bucket_counts[i], bucket(i, rejected), "bucket {i}");
    }
    assert_eq!(overflow.count, rejected.iter().map(|p| p.count).sum::<u64>());
    assert_eq!(overflow.sum, Some(rejected.iter().map(|p| p.sum.unwrap()).sum::<f64>()));
    assert_eq!(overflow.min, Some(100.0));
    assert_eq!(overflow.max, Some(999.0 + 200.0));
    assert_eq!(overflow.explicit_bounds, vec![10.0, 100.0]);

    let overflow = out_exponential.iter().find(|p| is_overflow(&p.attributes)).expect("overflow");
    let rejected = &exponential[100..];
    assert_eq!(overflow.scale, 0, "the coarsest scale among the inputs");
    assert_eq!(overflow.count, rejected.iter().map(|p| p.count).sum::<u64>());
    assert_eq!(overflow.zero_count, rejected.len() as u64);
    assert_eq!(overflow.sum, Some(rejected.iter().map(|p| p.sum.unwrap()).sum::<f64>()));
    assert_eq!(overflow.min, Some(-999.0));
    assert_eq!(overflow.max, Some(999.0 * 2.0));
    let mut expected = (BTreeMap::new(), BTreeMap::new());
    for p in rejected {
        let (pos, neg) = at_scale_zero(p);
        pos.into_iter().for_each(|(k, v)| *expected.0.entry(k).or_insert(0) += v);
        neg.into_iter().for_each(|(k, v)| *expected.1.entry(k).or_insert(0) += v);
    }
    assert_eq!(at_scale_zero(overflow), expected, "every count in the bucket it belongs to");
}

/// Cumulative counters: series come and go, restart, and budget frees mid-stream. At every
/// export, the increase of the summed output equals the increase of the summed input, as a
/// consumer computes it: a series counts from its second point, or from its first if it
/// started after the previous export, and a series unseen for `series_ttl` is forgotten (the
/// limiter keeps no more than that either).
#[test]
fn cumulative_overflow_keeps_the_rate_of_the_sum() {
    let mut config = config(5);
    config.series_ttl = Duration::from_secs(10);
    let ttl = 10u64;
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let started = Instant::now();
    limiter.flush(started, &mut Output::new());
    let second = 1_000_000_000u64;
    let mut values = [0i64; 20];
    let mut starts = [second; 20];
    type Seen = HashMap<String, (i64, u64, u64)>;
    let (mut last_in, mut last_out): (Seen, Seen) = (HashMap::new(), HashMap::new());
    let rate = |last: &mut Seen, key: String, value: i64, start: u64, previous: u64, now: u64| {
        let increase = match last.get(&key) {
            Some((v, s, seen)) if *s == start && now - seen < ttl => value - v,
            _ if start > previous => value,
            _ => 0,
        };
        last.insert(key, (value, start, now));
        increase
    };
    let mut previous_export = 0u64;
    let mut now = 0u64;
    for step in 1..=60u64 {
        let time = (step + 1) * second;
        // every 20 steps, 30 s of silence: every series passes its TTL
        now += if step % 20 == 0 { 31 } else { 1 };
        limiter.flush(started + Duration::from_secs(now), &mut Output::new());
        let mut batch_points = Vec::new();
        let mut in_rate = 0;
        for i in 0..20usize {
            // series i skips a step now and then; three go silent for good at step 40
            let skips = (step as usize + i).is_multiple_of(7);
            let gone = step >= 40 && i < 3;
            let active = !(skips || gone);
            if !active {
                continue;
            }
            if step == 30 && i >= 15 {
                // a restart: new start time, counting from zero
                values[i] = 0;
                starts[i] = time - second / 2;
            }
            values[i] += i as i64 + 1;
            let key = format!("s{i}");
            in_rate += rate(&mut last_in, key.clone(), values[i], starts[i], previous_export, now);
            batch_points.push(number(attrs(&[("id", key)]), values[i], starts[i], time));
        }
        let output = run(
            &mut limiter,
            batch_of("svc", vec![sum("c", AggregationTemporality::Cumulative, batch_points)]),
        );
        let mut out_rate = 0;
        for (_, metric) in metrics_of(&output) {
            for p in sum_points(&metric) {
                let key = format!("{:?}", p.attributes);
                let start = p.start_time_unix_nano;
                out_rate += rate(&mut last_out, key, int(&p), start, previous_export, now);
            }
        }
        assert_eq!(out_rate, in_rate, "step {step}");
        previous_export = time;
    }
    let stats = limiter.stats();
    assert!(stats.series_expired > 0, "budget was freed mid-stream");
    assert!(stats.points_overflowed > 100, "{stats:?}");
    assert_eq!(stats.untracked_points, 0);
}

#[test]
fn a_label_over_its_value_limit_takes_the_sentinel_and_totals_stay() {
    let mut config = config(0);
    config.limits.label_value_limits =
        vec![LabelLimit { metric: "*".into(), label: "user.id".into(), max_values: 100 }];
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let (mut input_total, mut output_total) = (0i64, 0i64);
    let mut users = HashSet::new();
    let mut routes = HashSet::new();
    for chunk in 0..100 {
        let points = (0..1000)
            .map(|j| {
                let i = chunk * 1000 + j;
                input_total += 1;
                number(
                    attrs(&[("user.id", format!("u{i}")), ("http.route", format!("/r{}", i % 7))]),
                    1,
                    1,
                    2,
                )
            })
            .collect();
        let output = run(
            &mut limiter,
            batch_of("svc", vec![sum("hits", AggregationTemporality::Delta, points)]),
        );
        for (_, metric) in metrics_of(&output) {
            for p in sum_points(&metric) {
                output_total += int(&p);
                assert!(!is_overflow(&p.attributes), "no series budget was hit");
                for a in &p.attributes {
                    match a.key.as_str() {
                        "user.id" => users.insert(format!("{:?}", a.value)),
                        "http.route" => routes.insert(format!("{:?}", a.value)),
                        other => panic!("unexpected label {other}"),
                    };
                }
            }
        }
    }
    assert_eq!(users.len(), 101, "100 values and the sentinel");
    assert!(users.contains(&format!(
        "{:?}",
        Some(AnyValue { value: Some(AnyValueKind::StringValue("<overflow>".into())) })
    )));
    assert_eq!(routes.len(), 7, "other labels untouched");
    assert_eq!(output_total, input_total);
    assert_eq!(limiter.stats().label_values_rewritten, 100_000 - 100);
}

/// Offers `n` distinct series with `user.id` (n values), `http.route` (50) and `status` (5)
/// to a metric with a budget of 1,000.
fn explode(limiter: &mut Limiter, n: usize) {
    for chunk in (0..n).step_by(2000) {
        let points = (chunk..(chunk + 2000).min(n))
            .map(|i| {
                number(
                    attrs(&[
                        ("user.id", format!("user-{i}")),
                        ("http.route", format!("/api/{}", i % 50)),
                        ("status", format!("{}", 200 + i % 5)),
                    ]),
                    1,
                    1,
                    2,
                )
            })
            .collect();
        run(limiter, batch_of("svc", vec![sum("requests", AggregationTemporality::Delta, points)]));
    }
}

#[test]
fn demand_is_estimated_within_three_sigma_and_the_exploding_label_is_named() {
    for n in [100_000usize, 1_000_000] {
        let mut limiter = Limiter::new(&config(1000), "cardinality_limiter");
        explode(&mut limiter, n);
        let demand = limiter.demand("default", "requests").expect("seen");
        assert_eq!(demand.admitted, 1000);
        let error = (demand.estimate() as f64 - n as f64).abs() / n as f64;
        assert!(
            error <= 3.0 * SIGMA,
            "n = {n}: estimate {} ({:.2} %)",
            demand.estimate(),
            error * 100.0
        );
        let labels: Vec<&str> = demand.top_labels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(labels, vec!["user.id", "http.route", "status"], "{:?}", demand.top_labels);
        let user_ids = demand.top_labels[0].1 as f64;
        let rejected = (n - 1000) as f64;
        assert!((user_ids - rejected).abs() / rejected <= 3.0 * SIGMA, "{user_ids}");
    }
}

#[test]
fn a_window_rotation_keeps_the_demand_estimate() {
    let mut config = config(1000);
    config.reporting.window = Duration::from_secs(60);
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let start = Instant::now();
    limiter.flush(start, &mut Output::new());
    explode(&mut limiter, 50_000);
    let steady = limiter.demand("default", "requests").unwrap().estimate();
    // the next window starts: the previous one still counts
    limiter.flush(start + Duration::from_secs(61), &mut Output::new());
    let after = limiter.demand("default", "requests").unwrap().estimate();
    assert!(after as f64 >= 0.5 * steady as f64, "{after} after rotation, {steady} before");
    assert_eq!(after, steady, "nothing new yet: the same union");
    // two windows later with nothing offered, the rejected series are forgotten
    limiter.flush(start + Duration::from_secs(121), &mut Output::new());
    assert_eq!(limiter.demand("default", "requests").unwrap().rejected_estimate, 0);
}

#[test]
fn shadow_mode_changes_nothing_and_reports_what_enforce_does() {
    let build = |mode| {
        let mut config = config(50);
        config.mode = mode;
        config.limits.label_value_limits =
            vec![LabelLimit { metric: "*".into(), label: "user.id".into(), max_values: 30 }];
        Limiter::new(&config, "cardinality_limiter")
    };
    let (mut enforce, mut shadow) = (build(Mode::Enforce), build(Mode::Shadow));
    for round in 0..5 {
        let points: Vec<NumberDataPoint> = (0..200)
            .map(|i| number(attrs(&[("user.id", format!("u{}", i * (round + 1)))]), i, 1, 2))
            .collect();
        let cumulative: Vec<NumberDataPoint> = (0..200)
            .map(|i| number(attrs(&[("k", format!("v{i}"))]), i * round, 1, 2 + round as u64))
            .collect();
        let batch = batch_of(
            "svc",
            vec![
                sum("delta", AggregationTemporality::Delta, points),
                sum("cumulative", AggregationTemporality::Cumulative, cumulative),
            ],
        );
        let enforced = run(&mut enforce, batch.clone());
        assert_ne!(Batch::from(enforced), batch);
        let shadowed = run(&mut shadow, batch.clone());
        assert_eq!(Batch::from(shadowed), batch, "round {round}");
    }
    assert_eq!(shadow.stats(), enforce.stats());
    assert!(enforce.stats().points_overflowed > 0 && enforce.stats().label_values_rewritten > 0);
}

#[test]
fn expiry_releases_budget_after_the_ttl() {
    let mut config = config(10);
    config.series_ttl = Duration::from_secs(60);
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let start = Instant::now();
    limiter.flush(start, &mut Output::new());
    let offer = |limiter: &mut Limiter, prefix: &str| {
        let points =
            (0..10).map(|i| number(attrs(&[("id", format!("{prefix}{i}"))]), 1, 1, 2)).collect();
        let output =
            run(limiter, batch_of("svc", vec![sum("m", AggregationTemporality::Delta, points)]));
        metrics_of(&output)
            .iter()
            .flat_map(|(_, m)| sum_points(m))
            .filter(|p| !is_overflow(&p.attributes))
            .count()
    };
    assert_eq!(offer(&mut limiter, "a"), 10);
    assert_eq!(offer(&mut limiter, "b"), 0, "budget full");
    limiter.flush(start + Duration::from_secs(30), &mut Output::new());
    assert_eq!(offer(&mut limiter, "b"), 0, "not yet expired");
    limiter.flush(start + Duration::from_secs(61), &mut Output::new());
    assert_eq!(limiter.stats().series_expired, 10);
    assert_eq!(limiter.series_active("default"), 0);
    assert_eq!(offer(&mut limiter, "b"), 10, "the freed budget admits new series");
}

#[test]
fn gauge_policies_drop_or_keep_one_value() {
    for (policy, expected) in [
        (GaugePolicy::Drop, None),
        (GaugePolicy::Last, Some(7)),
        (GaugePolicy::Min, Some(-3)),
        (GaugePolicy::Max, Some(50)),
    ] {
        let mut config = config(1);
        config.overflow.gauge_policy = policy;
        let mut limiter = Limiter::new(&config, "cardinality_limiter");
        let points = vec![
            number(attrs(&[("id", "a".into())]), 1, 0, 1),
            number(attrs(&[("id", "b".into())]), 50, 0, 2),
            number(attrs(&[("id", "c".into())]), 7, 0, 9),
            number(attrs(&[("id", "d".into())]), -3, 0, 3),
        ];
        let metric = Metric {
            name: "g".into(),
            data: Some(Data::Gauge(Gauge { data_points: points })),
            ..Metric::default()
        };
        let output = run(&mut limiter, batch_of("svc", vec![metric]));
        let overflow: Vec<i64> = metrics_of(&output)
            .iter()
            .flat_map(|(_, m)| sum_points(m))
            .filter(|p| is_overflow(&p.attributes))
            .map(|p| int(&p))
            .collect();
        assert_eq!(overflow.first().copied(), expected, "{policy:?}");
        let dropped = if policy == GaugePolicy::Drop { 3 } else { 0 };
        assert_eq!(limiter.stats().gauge_points_dropped, dropped);
    }
}

#[test]
fn tenants_come_from_metadata_then_resource_then_default_each_with_its_budget() {
    let mut config = config(0);
    config.tenant_from.metadata_key = Some("X-Scope-OrgID".into());
    config.tenant_from.resource_attribute = Some("tenant.id".into());
    config.limits.per_tenant.default.max_series = 5;
    config
        .limits
        .per_tenant
        .overrides
        .insert("big".into(), TenantLimits { max_series: 20, max_series_per_metric: 0 });
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let batch = |tenant: Option<&str>| {
        let points = (0..30).map(|i| number(attrs(&[("id", format!("{i}"))]), 1, 1, 2)).collect();
        let mut batch = batch_of("svc", vec![sum("m", AggregationTemporality::Delta, points)]);
        if let (Some(tenant), Decoded::Metrics(r)) = (tenant, batch.decoded_mut()) {
            r[0].resource.as_mut().unwrap().attributes.push(kv("tenant.id", tenant));
        }
        batch
    };
    let header = |t: &str| Metadata::new([("x-scope-orgid".to_owned(), t.to_owned())]);
    run_with(&mut limiter, batch(Some("small")), header("big"));
    run_with(&mut limiter, batch(Some("small")), Metadata::default());
    let output = run(&mut limiter, batch(None));
    assert_eq!(limiter.series_active("big"), 20, "the header wins over the resource");
    assert_eq!(limiter.series_active("small"), 5);
    assert_eq!(limiter.series_active("default"), 5);
    assert_eq!(limiter.global_series_active(), 30);
    // a tenant's overflow keeps the tenant attribute apart from other tenants'
    let overflow_resources: Vec<Vec<KeyValue>> = metrics_of(&output)
        .into_iter()
        .filter(|(_, m)| sum_points(m).iter().any(|p| is_overflow(&p.attributes)))
        .map(|(r, _)| r)
        .collect();
    assert_eq!(overflow_resources, vec![vec![kv("service.name", "svc")]]);
}

#[test]
fn per_metric_overrides_match_names_and_the_global_budget_caps_all() {
    let mut config = config(3);
    config.limits.global_max_series = 12;
    config.limits.per_metric = vec![
        MetricLimit { pattern: "http.*".into(), max_series: 8 },
        MetricLimit { pattern: "*".into(), max_series: 2 },
    ];
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let points = || (0..20).map(|i| number(attrs(&[("id", format!("{i}"))]), 1, 1, 2)).collect();
    run(
        &mut limiter,
        batch_of(
            "svc",
            vec![
                sum("http.server.requests", AggregationTemporality::Delta, points()),
                sum("db.calls", AggregationTemporality::Delta, points()),
                sum("http.client.requests", AggregationTemporality::Delta, points()),
            ],
        ),
    );
    let admitted = |name: &str| limiter.demand("default", name).unwrap().admitted;
    assert_eq!(admitted("http.server.requests"), 8);
    assert_eq!(admitted("db.calls"), 2);
    assert_eq!(admitted("http.client.requests"), 2, "the global budget of 12 is spent");
    assert_eq!(limiter.global_series_active(), 12);
}

mod budget {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Limiters on several threads, sharing one global budget, offered random series at
        /// random times with expiries: the global count never passes the budget, and it
        /// always equals what the limiters hold.
        #[test]
        fn the_budget_is_never_exceeded_under_concurrent_producers(
            budget in 1usize..200,
            per_metric in 0usize..100,
            seeds in proptest::collection::vec(any::<u64>(), 2..6),
        ) {
            let global = Budget::new(budget);
            let watcher_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let watcher = {
                let (global, stop) = (global.clone(), watcher_stop.clone());
                std::thread::spawn(move || {
                    let mut max = 0;
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        max = max.max(global.used());
                        std::hint::spin_loop();
                    }
                    max
                })
            };
            let producers: Vec<_> = seeds.iter().map(|&seed| {
                let global = global.clone();
                std::thread::spawn(move || {
                    let mut config = config(per_metric);
                    config.series_ttl = Duration::from_secs(4);
                    let mut limiter = Limiter::with_global_budget(&config, "l", global);
                    let start = Instant::now();
                    let mut state = seed | 1;
                    let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
                    for round in 0..20u64 {
                        limiter.flush(start + Duration::from_secs(round), &mut Output::new());
                        let points = (0..50).map(|_| number(attrs(&[("id", format!("{}", next() % 500))]), 1, 1, 2)).collect();
                        let name = format!("m{}", next() % 3);
                        run(&mut limiter, batch_of("svc", vec![sum(&name, AggregationTemporality::Delta, points)]));
                    }
                    limiter.global_series_active();
                    limiter.series_active("default")
                })
            }).collect();
            let held: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
            watcher_stop.store(true, std::sync::atomic::Ordering::Release);
            let max = watcher.join().unwrap();
            prop_assert!(max <= budget as u64, "observed {max} > {budget}");
            prop_assert_eq!(global.used(), held);
        }
    }
}
