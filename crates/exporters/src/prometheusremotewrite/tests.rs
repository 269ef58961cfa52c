use std::sync::{Arc, Mutex};

use weir_otlp::attributes::kv;
use weir_otlp::proto::{
    common::v1::KeyValue,
    metrics::v1::{
        ExponentialHistogram, Gauge, Histogram as OtlpHistogram, HistogramDataPoint,
        NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    },
    resource::v1::Resource,
};

use super::*;

fn number(value: f64, time_ms: u64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        time_unix_nano: time_ms * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn batch(metrics: Vec<Metric>) -> Batch {
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", "api"),
                kv("service.instance.id", "i-1"),
                kv("host.name", "h1"),
            ],
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics { metrics, ..ScopeMetrics::default() }],
        schema_url: String::new(),
    }])
}

fn cumulative() -> i32 {
    AggregationTemporality::Cumulative as i32
}

fn series(requests: &[WriteRequest]) -> Vec<(String, Vec<(f64, i64)>)> {
    requests
        .iter()
        .flat_map(|r| &r.timeseries)
        .map(|s| {
            let labels = s
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect::<Vec<_>>()
                .join(",");
            (labels, s.samples.iter().map(|x| (x.value, x.timestamp)).collect())
        })
        .collect()
}

#[test]
fn metrics_convert_to_sorted_unique_labels_and_time_ordered_samples() {
    let metrics = vec![
        Metric {
            name: "http.server.requests".into(),
            unit: "{request}".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![
                    number(7.0, 2000, vec![kv("http.route", "/a"), kv("http_route", "/b")]),
                    number(5.0, 1000, vec![kv("http.route", "/a"), kv("http_route", "/b")]),
                ],
                aggregation_temporality: cumulative(),
                is_monotonic: true,
            })),
            ..Metric::default()
        },
        Metric {
            name: "queue.depth".into(),
            data: Some(Data::Gauge(Gauge { data_points: vec![number(3.0, 1000, vec![])] })),
            ..Metric::default()
        },
        Metric {
            name: "latency".into(),
            unit: "ms".into(),
            data: Some(Data::Histogram(OtlpHistogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: 1_000_000_000,
                    count: 4,
                    sum: Some(150.0),
                    bucket_counts: vec![1, 2, 1],
                    explicit_bounds: vec![10.0, 100.0],
                    ..Default::default()
                }],
                aggregation_temporality: cumulative(),
            })),
            ..Metric::default()
        },
        Metric {
            name: "delta.calls".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![number(1.0, 1000, vec![])],
                aggregation_temporality: AggregationTemporality::Delta as i32,
                is_monotonic: true,
            })),
            ..Metric::default()
        },
    ];
    let config = Config {
        external_labels: [("cluster".to_owned(), "c1".to_owned())].into(),
        ..Config::default()
    };
    let converted = convert(&config, &batch(metrics));
    assert_eq!(converted.delta, 1, "delta points are counted, not sent");
    let got = series(&converted.requests(1 << 20, false));
    let expected = vec![
        (
            "__name__=http_server_requests_total,cluster=c1,http_route=/a;/b,instance=i-1,job=api",
            vec![(5.0, 1000), (7.0, 2000)],
        ),
        (
            "__name__=latency_milliseconds_bucket,cluster=c1,instance=i-1,job=api,le=+Inf",
            vec![(4.0, 1000)],
        ),
        (
            "__name__=latency_milliseconds_bucket,cluster=c1,instance=i-1,job=api,le=10",
            vec![(1.0, 1000)],
        ),
        (
            "__name__=latency_milliseconds_bucket,cluster=c1,instance=i-1,job=api,le=100",
            vec![(3.0, 1000)],
        ),
        ("__name__=latency_milliseconds_count,cluster=c1,instance=i-1,job=api", vec![(4.0, 1000)]),
        ("__name__=latency_milliseconds_sum,cluster=c1,instance=i-1,job=api", vec![(150.0, 1000)]),
        ("__name__=queue_depth,cluster=c1,instance=i-1,job=api", vec![(3.0, 1000)]),
        ("__name__=target_info,cluster=c1,host_name=h1,instance=i-1,job=api", vec![(1.0, 2000)]),
    ];
    let expected: Vec<(String, Vec<(f64, i64)>)> =
        expected.into_iter().map(|(l, s)| (l.to_owned(), s)).collect();
    assert_eq!(got, expected);
}

#[test]
fn exponential_histograms_become_native_histograms() {
    let point = ExponentialHistogramDataPoint {
        time_unix_nano: 1_000_000_000,
        count: 10,
        sum: Some(42.0),
        scale: 10,
        zero_count: 1,
        positive: Some(Buckets { offset: -2, bucket_counts: vec![2, 0, 3, 0, 0, 0, 4] }),
        ..Default::default()
    };
    let h = native(&point);
    assert_eq!(h.schema, 8, "scale 10 lowered to the highest schema");
    // scale 10 → 8 folds indexes by 4: -2..=4 → -1, -1, 0, 0, 0, 1, 1 (floor division)
    let total: i64 = {
        let mut running = 0;
        h.positive_deltas
            .iter()
            .map(|d| {
                running += d;
                running
            })
            .sum()
    };
    assert_eq!(total, 9, "every bucket count kept");
    assert_eq!(h.count, Some(proto::histogram::Count::CountInt(10)));
    assert_eq!(h.zero_count, Some(proto::histogram::ZeroCount::ZeroCountInt(1)));
    let (spans, deltas) =
        spans_and_deltas(Some(&Buckets { offset: 0, bucket_counts: vec![1, 2, 0, 0, 0, 0, 5] }));
    assert_eq!(
        spans,
        vec![BucketSpan { offset: 1, length: 2 }, BucketSpan { offset: 4, length: 1 }]
    );
    assert_eq!(deltas, vec![1, 1, 3]);
}

#[test]
fn requests_stay_under_the_size_bound() {
    let points: Vec<NumberDataPoint> =
        (0..500).map(|i| number(i as f64, 1000, vec![kv("id", &i.to_string())])).collect();
    let metrics = vec![Metric {
        name: "g".into(),
        data: Some(Data::Gauge(Gauge { data_points: points })),
        ..Metric::default()
    }];
    let requests = convert(&Config::default(), &batch(metrics)).requests(4096, true);
    assert!(requests.len() > 1);
    assert!(requests.iter().all(|r| r.encoded_len() <= 4096 + 200));
    assert_eq!(
        requests.iter().map(|r| r.timeseries.len()).sum::<usize>(),
        501,
        "500 and target_info"
    );
    assert_eq!(requests[0].metadata.len(), 1, "metadata once");
}

/// A remote-write server answering with a fixed status, recording requests.
async fn server(status: u16) -> (String, Arc<Mutex<Vec<(http::HeaderMap, WriteRequest)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/api/v1/write",
        axum::routing::post(move |headers: http::HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            async move {
                // the exporter under test sent it
                #[allow(clippy::disallowed_types)]
                let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                recorded
                    .lock()
                    .unwrap()
                    .push((headers, WriteRequest::decode(raw.as_slice()).unwrap()));
                let mut response =
                    http::Response::new(axum::body::Body::from("out of order sample"));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, http::HeaderValue::from_static("3"));
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v1/write"), seen)
}

#[tokio::test]
async fn responses_decide_retry_and_requests_follow_the_specification() {
    let gauge = || {
        batch(vec![Metric {
            name: "g".into(),
            data: Some(Data::Gauge(Gauge { data_points: vec![number(1.0, 1000, vec![])] })),
            ..Metric::default()
        }])
    };
    let (endpoint, seen) = server(204).await;
    let exporter =
        RemoteWriteExporter::new("prw", &Config { endpoint, ..Config::default() }, None).unwrap();
    exporter.export(&gauge(), &Default::default()).await.unwrap();
    {
        let seen = seen.lock().unwrap();
        let (headers, request) = &seen[0];
        assert_eq!(headers["content-encoding"], "snappy");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
        assert_eq!(request.timeseries.len(), 2, "g and target_info");
    }
    let (endpoint, _) = server(400).await;
    let exporter =
        RemoteWriteExporter::new("prw", &Config { endpoint, ..Config::default() }, None).unwrap();
    match exporter.export(&gauge(), &Default::default()).await {
        Err(ExportError::Permanent { message }) => {
            assert!(message.contains("400") && message.contains("out of order sample"), "{message}")
        }
        other => panic!("400 is permanent: {other:?}"),
    }
    let (endpoint, _) = server(503).await;
    let exporter =
        RemoteWriteExporter::new("prw", &Config { endpoint, ..Config::default() }, None).unwrap();
    match exporter.export(&gauge(), &Default::default()).await {
        Err(ExportError::Retryable { after, .. }) => {
            assert_eq!(after, Some(std::time::Duration::from_secs(3)))
        }
        other => panic!("503 is retryable: {other:?}"),
    }
    let config: Config =
        Config { endpoint: "http://x".into(), compression: "gzip".into(), ..Config::default() };
    assert_eq!(config.problems()[0].0, "compression");
}

#[test]
fn exponential_histograms_are_not_sent_as_delta_either() {
    let metrics = vec![Metric {
        name: "e".into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![ExponentialHistogramDataPoint::default()],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Metric::default()
    }];
    assert_eq!(convert(&Config::default(), &batch(metrics)).delta, 1);
}
