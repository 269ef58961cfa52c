//! Operators' view: the self-metrics endpoint shows the Collector's metric names with the
//! right values after a known load, and the health_check extension answers while weir runs.

use weir_tests::{Weir, sample};

const CONFIG: &str = "
receivers:
  otlp/known:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch/known:
exporters:
  file:
    path: {output}
extensions:
  health_check:
    endpoint: 127.0.0.1:0
    path: /health
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp/known]
      processors: [batch/known]
      exporters: [file]
";

#[test]
fn metrics_and_health_tell_what_weir_did() {
    let weir = Weir::start_with(CONFIG);
    let client = reqwest::blocking::Client::new();
    let health =
        client.get(format!("http://{}/health", weir.addr("health_check", "http"))).send().unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.text().unwrap().contains("Server available"));

    let url = format!("http://{}/v1/traces", weir.addr("otlp/known", "http"));
    for seed in 0..4 {
        let body = weir_core::testing::spans("svc", 25, seed).encode_protobuf();
        let response = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let mut invalid = weir_core::testing::spans("svc", 7, 9);
    if let weir_otlp::Decoded::Traces(rs) = invalid.decoded_mut() {
        rs[0].scope_spans[0].spans[3].span_id.clear();
    }
    let response = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(invalid.encode_protobuf())
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);

    let metrics_url = format!("http://{}/metrics", weir.addr(weir::topology::TELEMETRY, "http"));
    let receiver = [("receiver", "otlp/known"), ("transport", "http")];
    // the batch processor holds items up to 200 ms: wait until the exporter has sent them
    let page = weir_tests::wait_for(std::time::Duration::from_secs(5), || {
        let page = client.get(&metrics_url).send().unwrap().text().unwrap();
        let sent = sample(&page, "otelcol_exporter_sent_spans_total", &[("exporter", "file")]);
        (sent == Some(100.0)).then_some(page)
    })
    .expect("the file exporter sends the 100 spans");
    assert_eq!(
        sample(&page, "otelcol_receiver_accepted_spans_total", &receiver),
        Some(100.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "otelcol_receiver_refused_spans_total", &receiver),
        Some(7.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "otelcol_exporter_sent_spans_total", &[("exporter", "file")]),
        Some(100.0),
        "{page}"
    );
    let processor = [("processor", "batch/known"), ("otel_signal", "traces")];
    assert_eq!(
        sample(&page, "otelcol_processor_incoming_items_total", &processor),
        Some(100.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "otelcol_processor_outgoing_items_total", &processor),
        Some(100.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "otelcol_exporter_queue_capacity", &[("exporter", "file")]),
        Some(64.0 * 1024.0 * 1024.0),
        "a queue whose size is not set is bounded in 64 MiB: {page}"
    );
    assert!(
        sample(&page, "otelcol_exporter_queue_size", &[("exporter", "file")]).is_some(),
        "{page}"
    );
    assert!(sample(&page, "otelcol_process_uptime", &[]).is_some_and(|v| v > 0.0), "{page}");
    assert!(sample(&page, "otelcol_process_memory_rss", &[]).is_some_and(|v| v > 1e6), "{page}");
    let written: usize = weir.stop().iter().map(|b| b.item_count()).sum();
    assert_eq!(written, 100);
}
