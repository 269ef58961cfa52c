//! The `memory_limiter` processor as admission control: over its soft limit, receivers
//! refuse with RESOURCE_EXHAUSTED carrying RetryInfo (gRPC) or 429 with Retry-After (HTTP),
//! which OTLP clients retry; under it, data flows.

use tonic_types::StatusExt;
use weir_otlp::{
    ExportTraceServiceRequest,
    proto::collector::trace::v1::trace_service_client::TraceServiceClient,
};
use weir_tests::Weir;

fn config(limit_mib: u64) -> String {
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
  memory_limiter:
    check_interval: 1s
    limit_mib: {limit_mib}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [file]
"
    )
}

fn request() -> ExportTraceServiceRequest {
    let weir_otlp::Decoded::Traces(resource_spans) =
        weir_core::testing::spans("svc", 5, 1).into_decoded()
    else {
        unreachable!()
    };
    ExportTraceServiceRequest { resource_spans }
}

#[test]
fn over_the_limit_clients_are_told_to_retry_later() {
    // 1 MiB: any process is over it
    let weir = Weir::start_with(&config(1));
    let http = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", weir.http()))
        .header("content-type", "application/x-protobuf")
        .body(weir_core::testing::spans("svc", 5, 1).encode_protobuf())
        .send()
        .unwrap();
    assert_eq!(http.status(), 429);
    assert_eq!(http.headers()["retry-after"], "1");

    let endpoint = format!("http://{}", weir.grpc());
    let status = weir.runtime.block_on(async {
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        client.export(request()).await.unwrap_err()
    });
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let retry = status.get_details_retry_info().expect("RetryInfo in the status details");
    assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
    assert!(weir.stop().is_empty(), "nothing was accepted");
}

#[test]
fn under_the_limit_data_flows() {
    let weir = Weir::start_with(&config(64 * 1024));
    let endpoint = format!("http://{}", weir.grpc());
    weir.runtime.block_on(async {
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        client.export(request()).await.unwrap();
    });
    let spans: usize = weir.stop().iter().map(|b| b.item_count()).sum();
    assert_eq!(spans, 5);
}
