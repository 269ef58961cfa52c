use std::time::Duration;

use weir_otlp::attributes::kv;
use weir_otlp::proto::{
    common::v1::InstrumentationScope,
    metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
        summary_data_point::ValueAtQuantile,
    },
    resource::v1::Resource,
};

use super::*;

fn point(value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
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
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "lib".into(),
                version: "1.0".into(),
                ..Default::default()
            }),
            metrics,
            ..ScopeMetrics::default()
        }],
        schema_url: String::new(),
    }])
}

fn metrics() -> Vec<Metric> {
    let delta = AggregationTemporality::Delta as i32;
    vec![
        Metric {
            name: "http.server.requests".into(),
            unit: "{request}".into(),
            description: "Requests \"served\"".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(2.0, vec![kv("http.route", "/a")])],
                aggregation_temporality: delta,
                is_monotonic: true,
            })),
            ..Metric::default()
        },
        Metric {
            name: "cpu.utilization".into(),
            unit: "1".into(),
            data: Some(Data::Gauge(Gauge { data_points: vec![point(0.25, vec![])] })),
            ..Metric::default()
        },
        Metric {
            name: "http.server.duration".into(),
            unit: "ms".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    count: 3,
                    sum: Some(450.0),
                    bucket_counts: vec![1, 1, 1],
                    explicit_bounds: vec![100.0, 300.0],
                    ..Default::default()
                }],
                aggregation_temporality: delta,
            })),
            ..Metric::default()
        },
        Metric {
            name: "rpc.latency".into(),
            unit: "s".into(),
            data: Some(Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    count: 4,
                    sum: 2.0,
                    quantile_values: vec![ValueAtQuantile { quantile: 0.5, value: 0.4 }],
                    ..Default::default()
                }],
            })),
            ..Metric::default()
        },
        Metric {
            name: "exp".into(),
            data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint::default()],
                aggregation_temporality: delta,
            })),
            ..Metric::default()
        },
    ]
}

async fn scrape(addr: SocketAddr, accept: &str) -> (String, String) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = http::Request::get(format!("http://{addr}/metrics"))
        .header("accept", accept)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn metrics_are_served_with_prometheus_names_and_delta_sums_accumulate() {
    let config = Config {
        endpoint: "127.0.0.1:0".into(),
        const_labels: [("env".to_owned(), "test".to_owned())].into(),
        ..Config::default()
    };
    let exporter = PrometheusExporter::start("prometheus", &config).await.unwrap();
    let addr = exporter.local_addr().unwrap();
    exporter.export(&batch(metrics()), &Default::default()).await.unwrap();
    exporter.export(&batch(metrics()), &Default::default()).await.unwrap();
    let (content_type, page) = scrape(addr, "text/plain").await;
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    let common =
        r#"env="test",instance="i-1",job="api",otel_scope_name="lib",otel_scope_version="1.0""#;
    for line in [
        "# HELP http_server_requests_total Requests \"served\"".to_owned(),
        "# TYPE http_server_requests_total counter".to_owned(),
        r#"http_server_requests_total{env="test",http_route="/a",instance="i-1",job="api",otel_scope_name="lib",otel_scope_version="1.0"} 4"#.to_owned(),
        format!("cpu_utilization_ratio{{{common}}} 0.25"),
        format!("http_server_duration_milliseconds_bucket{{{common},le=\"100\"}} 2"),
        format!("http_server_duration_milliseconds_bucket{{{common},le=\"300\"}} 4"),
        format!("http_server_duration_milliseconds_bucket{{{common},le=\"+Inf\"}} 6"),
        format!("http_server_duration_milliseconds_sum{{{common}}} 900"),
        format!("http_server_duration_milliseconds_count{{{common}}} 6"),
        format!("rpc_latency_seconds{{{common},quantile=\"0.5\"}} 0.4"),
        r#"target_info{env="test",host_name="h1",instance="i-1",job="api"} 1"#.to_owned(),
    ] {
        assert!(page.lines().any(|l| l == line), "missing {line:?} in\n{page}");
    }
    assert!(!page.contains("exp"), "exponential histograms have no classic form");
    // a real parser: Prometheus's own promtool (exit 1 is a parse error; 3 is lint advice)
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed: scripts/test installs it");
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let output = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_ne!(output.status.code(), Some(1), "promtool could not parse the page: {said}\n{page}");
    assert!(!said.contains("error"), "{said}");

    let (content_type, page) = scrape(addr, "application/openmetrics-text").await;
    assert!(content_type.starts_with("text/plain"), "OpenMetrics only when enabled");
    assert!(!page.contains("# EOF"));
    exporter.shutdown().await.unwrap();
}

#[tokio::test]
async fn open_metrics_on_request_when_enabled() {
    let config =
        Config { endpoint: "127.0.0.1:0".into(), enable_open_metrics: true, ..Config::default() };
    let exporter = PrometheusExporter::start("prometheus", &config).await.unwrap();
    exporter.export(&batch(metrics()), &Default::default()).await.unwrap();
    let (content_type, page) =
        scrape(exporter.local_addr().unwrap(), "application/openmetrics-text;version=1.0.0").await;
    assert!(content_type.starts_with("application/openmetrics-text"));
    assert!(page.ends_with("# EOF\n"));
    assert!(page.contains("# TYPE http_server_requests counter\n"), "{page}");
    assert!(page.contains("http_server_requests_total{"), "{page}");
}

#[tokio::test]
async fn series_are_bounded_and_expire_without_scrapes() {
    let config = Config {
        endpoint: "127.0.0.1:0".into(),
        max_series: 10,
        metric_expiration: Duration::from_millis(300),
        ..Config::default()
    };
    let exporter = PrometheusExporter::start("prometheus", &config).await.unwrap();
    let many: Vec<Metric> = vec![Metric {
        name: "g".into(),
        data: Some(Data::Gauge(Gauge {
            data_points: (0..50).map(|i| point(1.0, vec![kv("id", &i.to_string())])).collect(),
        })),
        ..Metric::default()
    }];
    exporter.export(&batch(many), &Default::default()).await.unwrap();
    {
        let table = exporter.table.lock().unwrap();
        assert_eq!(table.series, 10, "target_info and nine of the gauge's series");
        assert_eq!(table.refused, 41);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(exporter.table.lock().unwrap().series, 0, "expired with nobody scraping");
    let (_, page) = scrape(exporter.local_addr().unwrap(), "text/plain").await;
    assert!(page.is_empty(), "{page}");
}
