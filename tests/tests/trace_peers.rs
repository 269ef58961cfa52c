//! Zipkin and Jaeger clients as users run them — the OpenTelemetry Python SDK's Zipkin JSON and
//! protobuf exporters and its Jaeger thrift exporter (over HTTP to the collector endpoint and as
//! an agent over UDP) — sending to weir's `zipkin` and `jaeger` receivers: every span arrives
//! with its ids, parent, name, kind, attributes and status. The exporters are installed by
//! `scripts/test` (target/python-venv, and target/python-legacy-venv for the retired ones).

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use weir_otlp::proto::{
    common::v1::any_value::Value,
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use weir_tests::Weir;

const COUNT: usize = 30;

fn python(venv: &str) -> PathBuf {
    let python =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/{venv}/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which installs it",
        python.display()
    );
    python
}

/// What the SDK says it sent: `span id → (trace id, parent id, name, kind, status, message)`.
type Sent = BTreeMap<String, (String, String, String, String, String, String)>;

fn send(venv: &str, exporter: &str, endpoint: &str) -> Sent {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/trace_peers.py");
    let output = Command::new(python(venv))
        .arg(script)
        .args([exporter, endpoint, &COUNT.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{exporter}: {}", String::from_utf8_lossy(&output.stderr));
    let mut sent = Sent::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let span: serde_json::Value = serde_json::from_str(line).unwrap();
        let field = |name: &str| span[name].as_str().unwrap().to_owned();
        let kind = field("kind");
        sent.insert(
            field("span_id"),
            (
                field("trace_id"),
                field("parent_id"),
                field("name"),
                kind,
                field("status"),
                field("message"),
            ),
        );
    }
    assert_eq!(sent.len(), 2 * COUNT, "{exporter}: the SDK finished every span");
    sent
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "SERVER",
        Ok(SpanKind::Client) => "CLIENT",
        Ok(SpanKind::Internal) => "INTERNAL",
        _ => "UNSPECIFIED",
    }
}

fn int_attribute(span: &Span, key: &str) -> Option<i64> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value {
        Some(Value::IntValue(i)) => Some(i),
        _ => None,
    })
}

/// Checks that weir wrote exactly what the SDK sent.
fn check(exporter: &str, sent: &Sent, weir: Weir) {
    let mut seen = 0;
    for batch in weir.stop() {
        let weir_otlp::Decoded::Traces(resources) = batch.into_decoded() else { continue };
        for resource in resources {
            let attributes = &resource.resource.as_ref().unwrap().attributes;
            let service = attributes.iter().find(|kv| kv.key == "service.name");
            let service = service.and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.clone()),
                _ => None,
            });
            assert_eq!(service.as_deref(), Some("weir-peer"), "{exporter}");
            for span in resource.scope_spans.iter().flat_map(|s| &s.spans) {
                seen += 1;
                let id = hex(&span.span_id);
                let (trace, parent, name, kind, status, message) =
                    sent.get(&id).unwrap_or_else(|| panic!("{exporter}: span {id} was not sent"));
                assert_eq!(&hex(&span.trace_id), trace, "{exporter}: {name}");
                assert_eq!(&hex(&span.parent_span_id), parent, "{exporter}: {name}");
                assert_eq!(&span.name, name, "{exporter}");
                assert_eq!(kind_name(span.kind), kind, "{exporter}: {name}");
                let code = span.status.as_ref().map_or(0, |s| s.code);
                let expected = match status.as_str() {
                    "OK" => StatusCode::Ok,
                    "ERROR" => StatusCode::Error,
                    _ => StatusCode::Unset,
                };
                assert_eq!(code, expected as i32, "{exporter}: {name}");
                if expected == StatusCode::Error {
                    assert_eq!(&span.status.as_ref().unwrap().message, message, "{exporter}");
                }
                if let Some(i) = name.strip_prefix("request-") {
                    assert_eq!(int_attribute(span, "index"), i.parse().ok(), "{exporter}: {name}");
                    assert_eq!(span.events.len(), 1, "{exporter}: {name}");
                }
                assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
                assert!(span.start_time_unix_nano > 1_600_000_000_000_000_000, "{exporter}");
            }
        }
    }
    assert_eq!(seen, sent.len(), "{exporter}: every span arrived once");
}

#[test]
fn zipkin_exporters_of_the_python_sdk() {
    for (venv, exporter) in [("python-venv", "zipkin-json"), ("python-legacy-venv", "zipkin-proto")]
    {
        let weir = Weir::start_with(
            "
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
    parse_string_tags: true
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [file]
",
        );
        let endpoint = format!("http://{}/api/v2/spans", weir.addr("zipkin", "http"));
        let sent = send(venv, exporter, &endpoint);
        check(exporter, &sent, weir);
    }
}

/// Bad input to the zipkin receiver is answered with what is wrong, counted, and leaves the
/// receiver serving the next client; compressed bodies are read.
#[test]
fn zipkin_answers_bad_input_and_keeps_serving() {
    use std::io::Write as _;
    let weir = Weir::start_with(
        "
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
    max_request_body_size: 4096
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [file]
",
    );
    let base = format!("http://{}", weir.addr("zipkin", "http"));
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut request =
            client.post(format!("{base}{path}")).header("content-type", content_type).body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let json = "application/json";
    let (status, text) =
        post("/api/v2/spans", json, None, b"[{\"traceId\": \"1\", \"id\": \"0\"}]".to_vec());
    assert_eq!((status, text.as_str()), (400, "span 0: id is zero"));
    let (status, text) = post("/api/v2/spans", json, None, b"[{\"traceId\"".to_vec());
    assert_eq!(status, 400);
    assert!(text.starts_with("invalid Zipkin v2 JSON"), "{text}");
    let (status, _) = post("/api/v2/spans", "application/x-protobuf", None, vec![0x0a, 0xff, 0x01]);
    assert_eq!(status, 400);
    let (status, text) = post("/api/v1/spans", "application/x-thrift", None, vec![0; 8]);
    assert_eq!(status, 400, "{text}");
    assert!(text.starts_with("invalid Zipkin v1 thrift"), "{text}");
    let (status, text) = post("/api/v2/spans", json, None, vec![b' '; 5000]);
    assert_eq!((status, text.as_str()), (413, "request body exceeds 4096 bytes"));
    let (status, _) = post("/api/v2/spans", json, Some("br"), b"[]".to_vec());
    assert_eq!(status, 400);
    let (status, _) = post("/zipkin", json, None, b"[]".to_vec());
    assert_eq!(status, 404);

    let span = br#"[{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "ok", "timestamp": 1700000000000000, "duration": 5, "localEndpoint": {"serviceName": "after"}}]"#;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(span).unwrap();
    let (status, text) = post("/api/v2/spans", json, Some("gzip"), gzip.finish().unwrap());
    assert_eq!((status, text.as_str()), (202, ""));
    let metrics = weir.metrics();
    let spans: usize = weir.stop().into_iter().map(|b| b.item_count()).sum();
    assert_eq!(spans, 1, "the good request after the bad ones");
    assert!(
        metrics.contains(
            "otelcol_receiver_accepted_spans_total{receiver=\"zipkin\",transport=\"http\"} 1"
        ),
        "{metrics}"
    );
}

fn jaeger_weir() -> Weir {
    Weir::start_with(
        "
receivers:
  jaeger:
    protocols:
      grpc: {endpoint: 127.0.0.1:0}
      thrift_http: {endpoint: 127.0.0.1:0}
      thrift_compact: {endpoint: 127.0.0.1:0}
      thrift_binary: {endpoint: 127.0.0.1:0}
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [file]
",
    )
}

/// Waits until the receiver took `count` spans over `transport` (UDP has no answer to wait
/// for).
fn wait_accepted(weir: &Weir, transport: &str, count: usize) {
    let line = format!(
        "otelcol_receiver_accepted_spans_total{{receiver=\"jaeger\",transport=\"{transport}\"}} {count}"
    );
    let seen = weir_core::testing::wait_until(std::time::Duration::from_secs(10), || {
        weir.metrics().contains(&line)
    });
    assert!(seen, "{line}\n{}", weir.metrics());
}

#[test]
fn jaeger_thrift_exporter_of_the_python_sdk_over_http_and_udp() {
    let weir = jaeger_weir();
    let endpoint =
        format!("http://{}/api/traces?format=jaeger.thrift", weir.addr("jaeger", "thrift_http"));
    let sent = send("python-legacy-venv", "jaeger-http", &endpoint);
    wait_accepted(&weir, "collector_http", 2 * COUNT);
    check("jaeger-http", &sent, weir);

    let weir = jaeger_weir();
    let sent = send(
        "python-legacy-venv",
        "jaeger-udp",
        &weir.addr("jaeger", "thrift_compact").to_string(),
    );
    wait_accepted(&weir, "udp_thrift_compact", 2 * COUNT);
    check("jaeger-udp", &sent, weir);
}

/// `jaeger.api_v2` messages, the fields a client sets, to make a `PostSpans` request.
mod api_v2 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct PostSpansRequest {
        #[prost(message, optional, tag = "1")]
        pub(crate) batch: Option<Batch>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Batch {
        #[prost(message, repeated, tag = "1")]
        pub(crate) spans: Vec<Span>,
        #[prost(message, optional, tag = "2")]
        pub(crate) process: Option<Process>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Process {
        #[prost(string, tag = "1")]
        pub(crate) service_name: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub(crate) trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub(crate) span_id: Vec<u8>,
        #[prost(string, tag = "3")]
        pub(crate) operation_name: String,
        #[prost(message, repeated, tag = "4")]
        pub(crate) references: Vec<SpanRef>,
        #[prost(message, optional, tag = "6")]
        pub(crate) start_time: Option<Timestamp>,
        #[prost(message, optional, tag = "7")]
        pub(crate) duration: Option<Timestamp>,
        #[prost(message, repeated, tag = "8")]
        pub(crate) tags: Vec<KeyValue>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct SpanRef {
        #[prost(bytes = "vec", tag = "1")]
        pub(crate) trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub(crate) span_id: Vec<u8>,
        #[prost(int32, tag = "3")]
        pub(crate) ref_type: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Timestamp {
        #[prost(int64, tag = "1")]
        pub(crate) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(crate) nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct KeyValue {
        #[prost(string, tag = "1")]
        pub(crate) key: String,
        #[prost(int32, tag = "2")]
        pub(crate) v_type: i32,
        #[prost(string, tag = "3")]
        pub(crate) v_str: String,
        #[prost(bool, tag = "4")]
        pub(crate) v_bool: bool,
        #[prost(int64, tag = "5")]
        pub v_int64: i64,
    }
}

/// gRPC `PostSpans` with the api_v2 protobuf: spans arrive with ids, parent (a CHILD_OF
/// reference), kind, attributes and status; a request that breaks the format is
/// INVALID_ARGUMENT and the receiver goes on.
#[test]
fn jaeger_grpc_post_spans() {
    use prost::Message as _;
    let weir = jaeger_weir();
    let addr = weir.addr("jaeger", "grpc");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let trace: Vec<u8> = (1..=16).collect();
    let kv = |key: &str, v_type: i32, v_str: &str, v_bool: bool, v_int64: i64| api_v2::KeyValue {
        key: key.into(),
        v_type,
        v_str: v_str.into(),
        v_bool,
        v_int64,
    };
    let span = |id: u8, name: &str, parent: Option<u8>, tags: Vec<api_v2::KeyValue>| api_v2::Span {
        trace_id: trace.clone(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        operation_name: name.into(),
        references: parent
            .map(|p| api_v2::SpanRef {
                trace_id: trace.clone(),
                span_id: vec![0, 0, 0, 0, 0, 0, 0, p],
                ref_type: 0,
            })
            .into_iter()
            .collect(),
        start_time: Some(api_v2::Timestamp { seconds: 1_700_000_000, nanos: 0 }),
        duration: Some(api_v2::Timestamp { seconds: 0, nanos: 2_000_000 }),
        tags,
    };
    let request = api_v2::PostSpansRequest {
        batch: Some(api_v2::Batch {
            spans: vec![
                span(
                    1,
                    "serve",
                    None,
                    vec![kv("span.kind", 0, "server", false, 0), kv("index", 2, "", false, 7)],
                ),
                span(
                    2,
                    "query",
                    Some(1),
                    vec![
                        kv("span.kind", 0, "client", false, 0),
                        kv("error", 1, "", true, 0),
                        kv("otel.status_description", 0, "timeout", false, 0),
                    ],
                ),
            ],
            process: Some(api_v2::Process { service_name: "grpc-peer".into() }),
        }),
    };
    let path = "/jaeger.api_v2.CollectorService/PostSpans";
    let answer =
        runtime.block_on(weir_tests::grpc_raw(addr, path, request.encode_to_vec().into(), &[]));
    assert_eq!(answer.code, 0, "{answer:?}");
    let bad = runtime.block_on(weir_tests::grpc_raw(
        addr,
        path,
        vec![0x0a, 0x03, 0x0a, 0x01].into(),
        &[],
    ));
    assert_eq!(bad.code, 3, "INVALID_ARGUMENT: {bad:?}");
    let spans: Vec<Span> = weir
        .stop()
        .into_iter()
        .filter_map(|b| match b.into_decoded() {
            weir_otlp::Decoded::Traces(r) => Some(r),
            _ => None,
        })
        .flatten()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].kind, SpanKind::Server as i32);
    assert_eq!(int_attribute(&spans[0], "index"), Some(7));
    assert_eq!(spans[1].parent_span_id, vec![0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(spans[1].trace_id, trace);
    let status = spans[1].status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "timeout"));
    assert_eq!(spans[1].end_time_unix_nano - spans[1].start_time_unix_nano, 2_000_000);
}

/// Bad datagrams on the agent's ports are dropped and counted, and the port keeps reading
/// (good ones arrive: the Python agent-mode test).
#[test]
fn jaeger_udp_drops_bad_datagrams_and_goes_on() {
    let weir = Weir::start_with(
        "
receivers:
  jaeger:
    protocols:
      thrift_compact: {endpoint: 127.0.0.1:0, max_packet_size: 1000}
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [file]
",
    );
    let addr = weir.addr("jaeger", "thrift_compact");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        socket.send_to(b"\x82\x81\x00\x09emitBat", addr).unwrap();
        socket.send_to(&[0x82; 1500], addr).unwrap();
    }
    let dropped = |reason: &str, n: usize| {
        format!(
            "weir_receiver_udp_dropped_packets_total{{receiver=\"jaeger\",transport=\"udp_thrift_compact\",reason=\"{reason}\"}} {n}"
        )
    };
    let counted = weir_core::testing::wait_until(std::time::Duration::from_secs(10), || {
        let page = weir.metrics();
        page.contains(&dropped("invalid", 2)) && page.contains(&dropped("oversized", 2))
    });
    assert!(counted, "{}", weir.metrics());
    weir.stop();
}

/// `POST /api/traces` refuses what is not a thrift batch, saying why.
#[test]
fn jaeger_thrift_http_refuses_bad_bodies() {
    let weir = jaeger_weir();
    let url = format!("http://{}/api/traces", weir.addr("jaeger", "thrift_http"));
    let client = reqwest::blocking::Client::new();
    let post = |content_type: &str, body: &[u8]| {
        let response = client
            .post(&url)
            .header("content-type", content_type)
            .body(body.to_vec())
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let (status, text) = post("application/x-thrift", &[0x0c, 0x00, 0x01, 0x0b, 0x00]);
    assert_eq!(status, 400);
    assert!(text.starts_with("Unable to process request body: truncated"), "{text}");
    let (status, text) = post("application/x-thrift", &[0x00]);
    assert_eq!(
        (status, text.as_str()),
        (400, "Unable to process request body: Batch: required field process is not set")
    );
    let (status, text) = post("application/json", b"{}");
    assert_eq!(status, 400);
    assert!(text.starts_with("Unsupported content type"), "{text}");
    weir.stop();
}
