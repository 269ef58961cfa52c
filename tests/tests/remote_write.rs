//! OTLP metrics in, Prometheus remote write out, into a real Prometheus server (Debian package
//! `prometheus`, with its remote-write receiver and native histograms): names, labels,
//! `target_info`, values and bucket counts arrive exactly; with Prometheus stopped and
//! restarted mid-stream, nothing weir acknowledged is lost.

use std::time::{SystemTime, UNIX_EPOCH};
use weir_otlp::attributes::kv;

use weir_otlp::{
    Batch,
    proto::{
        metrics::v1::{
            AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
            Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
            Sum, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
        },
        resource::v1::Resource,
    },
};
use weir_tests::{
    Weir,
    prometheus::{Prometheus, encode, query, start_prometheus},
    sample,
};

fn config(prometheus: &Prometheus) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  prometheusremotewrite:
    endpoint: {}
    tls: {{insecure: true}}
    retry_on_failure: {{initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0s}}
  file:
    path: {{output}}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite, file]
",
        prometheus.remote_write_url()
    )
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A counter at `count`, a gauge, an explicit and an exponential histogram, all cumulative.
fn metrics(count: f64) -> Batch {
    let t = now_nanos();
    let cumulative = AggregationTemporality::Cumulative as i32;
    let number = |v: f64, attributes| NumberDataPoint {
        attributes,
        start_time_unix_nano: t - 60_000_000_000,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..NumberDataPoint::default()
    };
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", "shop"),
                kv("service.instance.id", "pod-1"),
                kv("k8s.namespace.name", "prod"),
            ],
            ..Resource::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![
                Metric {
                    name: "http.server.requests".into(),
                    unit: "{request}".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![number(count, vec![kv("http.route", "/cart")])],
                        aggregation_temporality: cumulative,
                        is_monotonic: true,
                    })),
                    ..Metric::default()
                },
                Metric {
                    name: "queue.depth".into(),
                    unit: "{item}".into(),
                    data: Some(Data::Gauge(Gauge { data_points: vec![number(12.5, vec![])] })),
                    ..Metric::default()
                },
                Metric {
                    name: "http.server.duration".into(),
                    unit: "ms".into(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            start_time_unix_nano: t - 60_000_000_000,
                            time_unix_nano: t,
                            count: 10,
                            sum: Some(1234.0),
                            bucket_counts: vec![2, 5, 3],
                            explicit_bounds: vec![100.0, 300.0],
                            ..Default::default()
                        }],
                        aggregation_temporality: cumulative,
                    })),
                    ..Metric::default()
                },
                Metric {
                    name: "rpc.duration".into(),
                    unit: "s".into(),
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            start_time_unix_nano: t - 60_000_000_000,
                            time_unix_nano: t,
                            count: 7,
                            sum: Some(3.5),
                            scale: 2,
                            zero_count: 1,
                            positive: Some(Buckets { offset: -4, bucket_counts: vec![1, 2, 0, 3] }),
                            ..Default::default()
                        }],
                        aggregation_temporality: cumulative,
                    })),
                    ..Metric::default()
                },
            ],
            ..ScopeMetrics::default()
        }],
        schema_url: String::new(),
    }])
}

fn post(weir: &Weir, batch: &Batch) {
    let response = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/metrics", weir.http()))
        .header("content-type", "application/x-protobuf")
        .body(batch.encode_protobuf())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn metrics_arrive_in_prometheus_exactly_and_survive_its_restart() {
    let mut prometheus = start_prometheus(
        None,
        &["--web.enable-remote-write-receiver", "--enable-feature=native-histograms"],
    );
    let weir = Weir::start_with(&config(&prometheus));
    post(&weir, &metrics(7.0));

    let exact = |prometheus: &Prometheus, promql: &str, value: f64| {
        assert_eq!(query(prometheus, promql, |v| v == value), value, "{promql}");
    };
    exact(
        &prometheus,
        "http_server_requests_total{job=\"shop\",instance=\"pod-1\",http_route=\"/cart\"}",
        7.0,
    );
    exact(&prometheus, "queue_depth{job=\"shop\"}", 12.5);
    exact(&prometheus, "http_server_duration_milliseconds_bucket{job=\"shop\",le=\"100\"}", 2.0);
    exact(&prometheus, "http_server_duration_milliseconds_bucket{job=\"shop\",le=\"300\"}", 7.0);
    exact(&prometheus, "http_server_duration_milliseconds_bucket{job=\"shop\",le=\"+Inf\"}", 10.0);
    exact(&prometheus, "http_server_duration_milliseconds_sum{job=\"shop\"}", 1234.0);
    exact(&prometheus, "http_server_duration_milliseconds_count{job=\"shop\"}", 10.0);
    exact(&prometheus, "histogram_count(rpc_duration_seconds{job=\"shop\"})", 7.0);
    exact(&prometheus, "histogram_sum(rpc_duration_seconds{job=\"shop\"})", 3.5);
    let series =
        prometheus.api(&format!("/api/v1/series?match[]={}", encode("target_info"))).unwrap();
    let labels = &series["data"][0];
    assert_eq!(labels["job"], "shop");
    assert_eq!(labels["instance"], "pod-1");
    assert_eq!(labels["k8s_namespace_name"], "prod");

    // Prometheus goes away; weir keeps accepting and retrying
    prometheus.stop();
    std::thread::sleep(std::time::Duration::from_secs(1));
    post(&weir, &metrics(9.0));
    let retried = || {
        let page = weir.metrics();
        sample(&page, "weir_exporter_retries_total", &[("exporter", "prometheusremotewrite")])
    };
    assert!(
        weir_tests::wait_until(std::time::Duration::from_secs(10), || retried() > Some(0.0)),
        "the write is retried while Prometheus is away"
    );
    prometheus.restart();
    exact(&prometheus, "http_server_requests_total{job=\"shop\",http_route=\"/cart\"}", 9.0);
    assert_eq!(
        query(&prometheus, "count_over_time(http_server_requests_total{job=\"shop\"}[10m])", |v| v
            >= 2.0),
        2.0,
        "both samples, the one before the restart and the one sent while it was down"
    );
    let written = weir.stop();
    assert_eq!(written.len(), 2, "two requests accepted");
}
