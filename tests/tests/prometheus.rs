//! A real Prometheus server (Debian package `prometheus`) scrapes weir's `prometheus`
//! exporter while the OpenTelemetry Rust SDK sends traces through `spanmetrics` and `slo`:
//! the series it stores carry the values weir derived.

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use weir_tests::{
    Weir,
    prometheus::{query, start_prometheus},
};

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

#[test]
fn prometheus_scrapes_the_derived_metrics() {
    let weir = Weir::start_with(CONFIG);
    let prometheus = start_prometheus(Some(weir.addr("prometheus", "http")), &[]);
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
