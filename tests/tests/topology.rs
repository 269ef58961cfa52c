//! Pipelines wired as the Collector wires them: several receivers into one pipeline, one
//! receiver into several pipelines (each gets its own copy), and a connector joining two
//! pipelines.

use weir_otlp::Signal;
use weir_tests::Weir;

const CONFIG: &str = "
receivers:
  otlp/a:
    protocols:
      http:
        endpoint: 127.0.0.1:0
  otlp/b:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 10s
exporters:
  file:
    path: {output}
  file/copy:
    path: {output}.copy
connectors:
  forward:
service:
  pipelines:
    traces:
      receivers: [otlp/a, otlp/b]
      processors: [batch]
      exporters: [file]
    traces/copy:
      receivers: [otlp/a]
      exporters: [file/copy]
    logs/in:
      receivers: [otlp/b]
      exporters: [forward]
    logs/out:
      receivers: [forward]
      processors: [batch]
      exporters: [file]
";

fn post(
    client: &reqwest::blocking::Client,
    addr: std::net::SocketAddr,
    signal: &str,
    body: impl Into<reqwest::blocking::Body>,
) {
    let response = client
        .post(format!("http://{addr}/v1/{signal}"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn receivers_pipelines_and_connectors_fan_in_and_out() {
    let weir = Weir::start_with(CONFIG);
    let addr = |id: &str| weir.addr(id, "http");
    let client = reqwest::blocking::Client::new();
    post(&client, addr("otlp/a"), "traces", weir_core::testing::spans("a", 2, 1).encode_protobuf());
    post(&client, addr("otlp/b"), "traces", weir_core::testing::spans("b", 3, 2).encode_protobuf());
    post(&client, addr("otlp/b"), "logs", weir_core::testing::logs("b", 4).encode_protobuf());
    // otlp/a takes no logs: no pipeline of that signal lists it
    let refused = client
        .post(format!("http://{}/v1/logs", addr("otlp/a")))
        .header("content-type", "application/x-protobuf")
        .body(weir_core::testing::logs("a", 1).encode_protobuf())
        .send()
        .unwrap();
    assert_eq!(refused.status(), 404);

    let mut files = weir.stop_files();
    let main = files.remove("out.jsonl").unwrap();
    let count = |signal| {
        main.iter().filter(|b| b.signal() == signal).map(|b| b.item_count()).sum::<usize>()
    };
    assert_eq!(count(Signal::Traces), 5, "both receivers feed the traces pipeline");
    assert_eq!(count(Signal::Logs), 4, "logs crossed the forward connector");
    let copy = files.remove("out.jsonl.copy").unwrap();
    let copied: usize = copy.iter().map(|b| b.item_count()).sum();
    assert_eq!(copied, 2, "traces/copy has only what otlp/a received");
}
