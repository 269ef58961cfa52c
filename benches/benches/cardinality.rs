//! The `cardinality_limiter`'s cost per data point on its paths: admitted series (a hash
//! map hit), delta points over budget (merged into the overflow series), cumulative points
//! over budget (sticky route and increment), and a label over its value limit (rewritten,
//! then admitted). Batches of 1,000 points of one counter with three attributes; the batch
//! clone is outside the timing. Run with `cargo bench -p weir-benches --bench cardinality`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_core::{Batch, Output, Processor};
use weir_otlp::{
    attributes::kv,
    proto::{
        metrics::v1::{
            AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
            metric::Data, number_data_point::Value,
        },
        resource::v1::Resource,
    },
};
use weir_processors::cardinality_limiter::{Config, LabelLimit, Limiter};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POINTS: usize = 1000;

/// 1,000 points of series `first..first + 1000`.
fn batch(first: usize, temporality: AggregationTemporality, round: u64) -> Batch {
    let points = (first..first + POINTS)
        .map(|i| NumberDataPoint {
            attributes: vec![
                kv("user.id", &format!("user-{i}")),
                kv("http.route", &format!("/api/{}", i % 50)),
                kv("status", &format!("{}", 200 + i % 5)),
            ],
            start_time_unix_nano: 1,
            time_unix_nano: 2 + round,
            value: Some(Value::AsInt(1 + round as i64)),
            ..NumberDataPoint::default()
        })
        .collect();
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "svc"), kv("host.name", "h")],
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "http.requests".into(),
                unit: "1".into(),
                data: Some(Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: temporality as i32,
                    is_monotonic: true,
                })),
                ..Metric::default()
            }],
            ..ScopeMetrics::default()
        }],
        schema_url: String::new(),
    }])
}

fn limiter(max_series_per_metric: usize, label_limit: bool) -> Limiter {
    let mut config = Config::default();
    config.limits.per_tenant.default.max_series_per_metric = max_series_per_metric;
    if label_limit {
        config.limits.label_value_limits =
            vec![LabelLimit { metric: "*".into(), label: "user.id".into(), max_values: 10 }];
    }
    Limiter::new(&config, "cardinality_limiter")
}

fn paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("cardinality_limiter");
    group.throughput(Throughput::Elements(POINTS as u64));
    let delta = AggregationTemporality::Delta;
    let cumulative = AggregationTemporality::Cumulative;
    let cases: [(&str, usize, bool, AggregationTemporality); 4] = [
        ("admitted", 2000, false, delta),
        ("overflow_delta", 10, false, delta),
        ("overflow_cumulative", 10, false, cumulative),
        ("label_rewritten", 2000, true, delta),
    ];
    for (name, budget, label_limit, temporality) in cases {
        let mut limiter = limiter(budget, label_limit);
        let mut out = Output::new();
        // warm up: the series are known (admitted or sticky in overflow)
        limiter.process(batch(0, temporality, 0), &mut out);
        out.drain().for_each(drop);
        let mut round = 1;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    round += 1;
                    batch(0, temporality, round)
                },
                |input| {
                    limiter.process(input, &mut out);
                    out.drain().count()
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, paths);
criterion_main!(benches);
