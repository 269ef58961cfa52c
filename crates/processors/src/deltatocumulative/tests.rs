use weir_otlp::proto::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    number_data_point,
};

use super::*;
use weir_otlp::attributes::kv;

fn batch(series: &[(&str, i64, u64)]) -> Batch {
    let delta = AggregationTemporality::Delta as i32;
    Batch::from(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![
                Metric {
                    name: "calls".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: series
                            .iter()
                            .map(|(id, v, t)| NumberDataPoint {
                                attributes: vec![kv("id", id)],
                                start_time_unix_nano: t - 10,
                                time_unix_nano: *t,
                                value: Some(number_data_point::Value::AsInt(*v)),
                                ..NumberDataPoint::default()
                            })
                            .collect(),
                        aggregation_temporality: delta,
                        is_monotonic: true,
                    })),
                    ..Metric::default()
                },
                Metric {
                    name: "latency".into(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            start_time_unix_nano: 90,
                            time_unix_nano: 100,
                            count: 2,
                            sum: Some(3.0),
                            bucket_counts: vec![1, 1],
                            explicit_bounds: vec![1.0],
                            ..Default::default()
                        }],
                        aggregation_temporality: delta,
                    })),
                    ..Metric::default()
                },
            ],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }])
}

fn run(p: &mut DeltaToCumulative, b: Batch) -> Vec<Metric> {
    let mut out = Output::new();
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

fn sums(metrics: &[Metric]) -> Vec<(i64, u64)> {
    metrics
        .iter()
        .filter_map(|m| match &m.data {
            Some(Data::Sum(s)) => {
                assert_eq!(s.aggregation_temporality, AggregationTemporality::Cumulative as i32);
                Some(s.data_points.iter().map(|p| match p.value {
                    Some(number_data_point::Value::AsInt(v)) => (v, p.start_time_unix_nano),
                    _ => (0, 0),
                }))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn deltas_add_up_per_stream_from_their_first_start() {
    let mut p = DeltaToCumulative::new(&Config::default(), "d");
    assert_eq!(sums(&run(&mut p, batch(&[("a", 2, 100), ("b", 5, 100)]))), vec![(2, 90), (5, 90)]);
    let second = run(&mut p, batch(&[("a", 3, 200)]));
    assert_eq!(sums(&second), vec![(5, 90)], "a: 2 + 3 since its first start");
    let histogram = second.iter().find(|m| m.name == "latency").unwrap();
    let Some(Data::Histogram(h)) = &histogram.data else { panic!() };
    assert_eq!((h.data_points[0].count, h.data_points[0].bucket_counts.clone()), (4, vec![2, 2]));
    assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
}

#[test]
fn streams_are_bounded_and_stale_ones_forgotten() {
    let mut p =
        DeltaToCumulative::new(&Config { max_streams: 2, max_stale: Duration::from_secs(60) }, "d");
    let start = Instant::now();
    p.flush(start, &mut Output::new());
    // two streams fit: a and b; the histogram's does not
    let out = run(&mut p, batch(&[("a", 1, 100), ("b", 1, 100)]));
    assert_eq!(sums(&out), vec![(1, 90), (1, 90)]);
    assert!(
        out.iter().all(|m| m.name != "latency"),
        "its points dropped (counted), the empty metric gone"
    );
    assert_eq!(p.streams(), 2);
    p.flush(start + Duration::from_secs(61), &mut Output::new());
    assert_eq!(p.streams(), 0, "stale streams are forgotten");
    assert_eq!(
        sums(&run(&mut p, batch(&[("b", 4, 300)]))),
        vec![(4, 290)],
        "room again, from zero"
    );
}
