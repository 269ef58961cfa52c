//! weir → weir → file: an SDK sends traces, metrics and logs to weir A, which forwards them
//! with the `otlp` exporter (gRPC) or the `otlphttp` exporter (protobuf or JSON) to weir B,
//! which writes them to a file. Every item arrives exactly once.

use weir_tests::{
    Weir,
    sdk::{self, Transport},
};

/// Weir A: everything from its receiver to the exporter defined by the `exporter` snippet.
fn forwarder(exporter: &str) -> String {
    let id = exporter.trim().split(':').next().unwrap();
    format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    send_batch_size: 50
    timeout: 50ms
exporters:
{exporter}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [{id}]
    metrics:
      receivers: [otlp]
      exporters: [{id}]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [{id}]
"
    )
}

#[test]
fn every_item_crosses_two_weirs_once() {
    let exporters = [
        (
            "otlp (gRPC)",
            Transport::Grpc,
            "  otlp/otlp_fwd:\n    endpoint: {grpc}\n    tls:\n      insecure: true\n",
        ),
        (
            "otlphttp proto",
            Transport::HttpProtobuf,
            "  otlphttp/otlp_fwd:\n    endpoint: http://{http}\n",
        ),
        (
            "otlphttp json",
            Transport::Grpc,
            "  otlp_http/otlp_fwd:\n    endpoint: http://{http}\n    encoding: json\n    compression: zstd\n",
        ),
    ];
    for (name, transport, exporter) in exporters {
        let b = Weir::start();
        let exporter = exporter
            .replace("{grpc}", &b.grpc().to_string())
            .replace("{http}", &b.http().to_string());
        let a = Weir::start_with(&forwarder(&exporter));
        sdk::send_traces(&a, transport);
        sdk::send_metrics(&a, transport);
        sdk::send_logs(&a, transport);
        a.stop();
        let written = b.stop();
        eprintln!("{name}: {} batches", written.len());
        sdk::check_traces(&written, transport);
        sdk::check_metrics(&written, transport);
        sdk::check_logs(&written, transport);
    }
}
