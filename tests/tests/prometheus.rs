//! A real Prometheus server (Debian package `prometheus`) scrapes weir's `prometheus`
//! exporter while the OpenTelemetry Rust SDK sends traces through `spanmetrics` and `slo`:
//! the series it stores carry the values weir derived.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use weir_tests::Weir;

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
connectors:
  spanmetrics:
    metrics_flush_interval: 1s
  slo:
    evaluation_interval: 1s
    slos:
      - name: availability
        service: shop
        objectives: [{target: 0.99}]
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, slo]
    metrics:
      receivers: [spanmetrics, slo]
      exporters: [prometheus]
";

/// A Prometheus server that stops with the test.
struct Prometheus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_prometheus(target: std::net::SocketAddr) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: weir\n    static_configs: [{{targets: ['{target}']}}]\n"),
    )
    .unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={address}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus) is installed: scripts/test installs it");
    Prometheus { child, address, _dir: dir }
}

/// The value of an instant PromQL query, once Prometheus has one.
fn query(prometheus: &Prometheus, promql: &str, want: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let url = format!("http://{}/api/v1/query?query={encoded}", prometheus.address);
        if let Ok(response) = reqwest::blocking::get(&url)
            && let Ok(text) = response.text()
            && let Ok(body) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(value) = body["data"]["result"][0]["value"][1].as_str()
        {
            let value: f64 = value.parse().unwrap();
            if want(value) {
                return value;
            }
            last = Some(value);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{promql}: no wanted value within 60 s (last {last:?})");
}

#[test]
fn prometheus_scrapes_the_derived_metrics() {
    let weir = Weir::start_with(CONFIG);
    let prometheus = start_prometheus(weir.addr("prometheus", "http"));
    let exporter = {
        let _runtime = weir.runtime.enter();
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", weir.grpc()))
            .build()
            .unwrap()
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("shop").build())
        .build();
    let tracer = provider.tracer("weir.e2e");
    for i in 0..200 {
        let mut span = tracer
            .span_builder(format!("GET /item/{}", i % 2))
            .with_kind(SpanKind::Server)
            .start(&tracer);
        if i % 50 == 0 {
            span.set_status(Status::error("failed"));
        }
        span.end();
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();

    // the scrape's own job is `weir`: Prometheus keeps weir's `job` (the service) as
    // `exported_job`
    let calls =
        query(&prometheus, "sum(traces_span_metrics_calls_total{exported_job=\"shop\"})", |v| {
            v >= 200.0
        });
    assert_eq!(calls, 200.0);
    let errors = query(
        &prometheus,
        "sum(traces_span_metrics_calls_total{status_code=\"STATUS_CODE_ERROR\"})",
        |v| v >= 4.0,
    );
    assert_eq!(errors, 4.0);
    let total = query(&prometheus, "slo_events_total{slo_name=\"availability\"}", |v| v >= 200.0);
    let good =
        query(&prometheus, "slo_events_good_total{slo_name=\"availability\"}", |v| v >= 196.0);
    assert_eq!((total, good), (200.0, 196.0));
    // 2 % bad against a 1 % budget: burning at twice the sustainable rate
    let burn =
        query(&prometheus, "slo_burn_rate{slo_name=\"availability\",slo_window=\"5m\"}", |v| {
            v > 0.0
        });
    assert!((burn - 2.0).abs() < 1e-9, "{burn}");
    let up = query(&prometheus, "up{job=\"weir\"}", |v| v == 1.0);
    assert_eq!(up, 1.0);
}
