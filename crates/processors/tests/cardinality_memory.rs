//! The cardinality limiter's memory bound, measured by the allocator (jemalloc's count of
//! allocated bytes, which sees every heap byte and nothing else): 10,000,000 distinct series
//! offered to one metric with a budget of 100,000 leave the limiter holding at most
//! [`bound`] bytes, and nothing more after saturation than before it.

use tikv_jemalloc_ctl::{epoch, stats};
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
use weir_processors::cardinality_limiter::{Config, Limiter};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const BUDGET: usize = 100_000;
const OFFERED: usize = 10_000_000;
const BATCH: usize = 10_000;

/// The module documentation's bound for one metric with `labels` label keys: 40 bytes per
/// admitted series (hash map entries of 13 bytes at a load factor of at least 7/16, rounded
/// up), two windows of sketches for rejected series and each label key (3,200 bytes each at
/// precision 12), and 4 KiB for the rest of the metric's and the tenant's state.
fn bound(admitted: usize, labels: usize) -> usize {
    40 * admitted + 2 * (1 + labels) * 3200 + 4096
}

fn allocated() -> usize {
    epoch::advance().unwrap();
    stats::allocated::read().unwrap()
}

fn batch(first: usize) -> Batch {
    let points = (first..first + BATCH)
        .map(|i| NumberDataPoint {
            attributes: vec![
                kv("request.id", &format!("{i:010}")),
                kv("route", &format!("/{}", i % 50)),
            ],
            start_time_unix_nano: 1,
            time_unix_nano: 2,
            value: Some(Value::AsInt(1)),
            ..NumberDataPoint::default()
        })
        .collect();
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "svc")],
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "requests".into(),
                data: Some(Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Metric::default()
            }],
            ..ScopeMetrics::default()
        }],
        schema_url: String::new(),
    }])
}

#[test]
fn ten_million_series_stay_within_the_bound_and_flat_after_saturation() {
    let mut config = Config::default();
    config.limits.per_tenant.default.max_series_per_metric = BUDGET;
    let before = allocated();
    let mut limiter = Limiter::new(&config, "cardinality_limiter");
    let mut out = Output::new();
    let mut held_at = Vec::new();
    for first in (0..OFFERED).step_by(BATCH) {
        limiter.process(batch(first), &mut out);
        out.drain().for_each(drop);
        if first + BATCH == 2 * BUDGET || first + BATCH == OFFERED {
            held_at.push(allocated() - before);
        }
    }
    let stats = limiter.stats();
    assert_eq!(stats.series_admitted, BUDGET as u64);
    assert_eq!(stats.points_overflowed, (OFFERED - BUDGET) as u64);
    let (saturated, end) = (held_at[0], held_at[1]);
    let bound = bound(BUDGET, 2);
    eprintln!(
        "held after saturation {saturated} B, after {OFFERED} series {end} B, bound {bound} B, \
         self-reported {} B",
        limiter.memory_bytes()
    );
    assert!(end <= bound, "{end} B held, over the bound of {bound} B");
    assert!(end <= saturated + 16 * 1024, "flat after saturation: {saturated} B → {end} B");
    let reported = limiter.memory_bytes() as f64;
    // the allocator rounds large blocks up to its size classes (a quarter of a power of two)
    assert!(
        reported <= end as f64 && reported >= 0.75 * end as f64,
        "self-reported {reported} B is within 25 % below the {end} B allocated"
    );
}
