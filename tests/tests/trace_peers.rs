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
    assert_eq!(status, 415, "{text}");
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
