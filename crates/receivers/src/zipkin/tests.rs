use weir_otlp::proto::{
    common::v1::any_value::Value,
    trace::v1::{ResourceSpans, span::SpanKind, status::StatusCode},
};

use super::{translate::to_otlp, v1, v2};

/// A payload as the OpenTelemetry Python SDK's `opentelemetry-exporter-zipkin-json` sends it:
/// resource attributes and scope copied into tags, status as `otel.status_code` and `error`,
/// events as `{"name": {attributes}}`, `INTERNAL` as a null kind.
const PYTHON: &str = r#"[
  {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "GET /cart",
   "timestamp": 1700000000000000, "duration": 1500, "kind": "SERVER",
   "localEndpoint": {"serviceName": "cart", "ipv4": "10.0.0.7", "port": 8080},
   "remoteEndpoint": {"serviceName": "web", "ipv6": "::1", "port": 52000},
   "annotations": [{"timestamp": 1700000000000500, "value": "{\"cache.miss\": {\"key\": \"u-7\", \"size\": 3}}"},
                   {"timestamp": 1700000000000900, "value": "retry"}],
   "tags": {"http.method": "GET", "http.status_code": "200", "service.name": "cart",
            "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
            "otel.library.name": "shop.http", "otel.scope.name": "shop.http", "otel.scope.version": "1.2",
            "otel.status_code": "OK", "ratio": "0.25", "cached": "true"},
   "debug": true},
  {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "b7ad6b7169203331", "parentId": "00f067aa0ba902b7",
   "name": "load", "timestamp": 1700000000000100, "duration": 700, "kind": null,
   "localEndpoint": {"serviceName": "cart"},
   "tags": {"service.name": "cart", "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
            "otel.status_code": "ERROR", "error": "cache down"}},
  {"traceId": "a3ce929d0e0e4736", "id": "0000000000000001", "name": "tick", "duration": 10,
   "localEndpoint": {"serviceName": "clock"}, "tags": {"span.kind": "internal"}}
]"#;

fn attribute(attributes: &[weir_otlp::proto::common::v1::KeyValue], key: &str) -> Option<Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone()?.value)
}

fn text(value: &str) -> Option<Value> {
    Some(Value::StringValue(value.into()))
}

fn check_python(resources: &[ResourceSpans], typed: bool) {
    assert_eq!(resources.len(), 2, "one resource per service");
    let cart = &resources[0];
    let resource = &cart.resource.as_ref().unwrap().attributes;
    assert_eq!(attribute(resource, "service.name"), text("cart"));
    assert_eq!(attribute(resource, "telemetry.sdk.language"), text("python"));
    assert_eq!(cart.scope_spans.len(), 2, "by scope: shop.http and none");
    let scope = cart.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("shop.http", "1.2"));
    let server = &cart.scope_spans[0].spans[0];
    assert_eq!(hex(&server.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&server.span_id), "00f067aa0ba902b7");
    assert!(server.parent_span_id.is_empty());
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(server.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(server.end_time_unix_nano, 1_700_000_000_001_500_000);
    assert_eq!(server.status.as_ref().unwrap().code, StatusCode::Ok as i32);
    let attributes = &server.attributes;
    assert_eq!(attribute(attributes, "http.method"), text("GET"));
    for moved in [
        "service.name",
        "telemetry.sdk.name",
        "otel.scope.name",
        "otel.library.name",
        "otel.status_code",
    ] {
        assert_eq!(attribute(attributes, moved), None, "{moved} is not a span attribute");
    }
    assert_eq!(attribute(attributes, "network.local.address"), text("10.0.0.7"));
    assert_eq!(attribute(attributes, "network.local.port"), Some(Value::IntValue(8080)));
    assert_eq!(attribute(attributes, "network.peer.address"), text("::1"));
    assert_eq!(attribute(attributes, "service.peer.name"), text("web"));
    if typed {
        assert_eq!(attribute(attributes, "http.status_code"), Some(Value::IntValue(200)));
        assert_eq!(attribute(attributes, "ratio"), Some(Value::DoubleValue(0.25)));
        assert_eq!(attribute(attributes, "cached"), Some(Value::BoolValue(true)));
    } else {
        assert_eq!(attribute(attributes, "http.status_code"), text("200"));
    }
    assert_eq!(server.events.len(), 2);
    assert_eq!(server.events[0].name, "cache.miss");
    assert_eq!(server.events[0].time_unix_nano, 1_700_000_000_000_500_000);
    assert_eq!(attribute(&server.events[0].attributes, "key"), text("u-7"));
    assert_eq!(attribute(&server.events[0].attributes, "size"), Some(Value::IntValue(3)));
    assert_eq!(server.events[1].name, "retry");

    let child = &cart.scope_spans[1].spans[0];
    assert_eq!(hex(&child.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(child.kind, SpanKind::Unspecified as i32);
    let status = child.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "cache down"));
    assert_eq!(attribute(&child.attributes, "error"), None);

    let tick = &resources[1].scope_spans[0].spans[0];
    assert_eq!(hex(&tick.trace_id), "0000000000000000a3ce929d0e0e4736", "64-bit ids left-padded");
    assert_eq!(tick.kind, SpanKind::Internal as i32);
    assert_eq!(tick.start_time_unix_nano, 0);
    assert_eq!(tick.end_time_unix_nano, 10_000);
    assert_eq!(
        attribute(&tick.attributes, "otel.zipkin.absentField.startTime"),
        Some(Value::BoolValue(true))
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn v2_json_from_an_sdk_becomes_otlp() {
    let spans = v2::json(PYTHON.as_bytes()).unwrap();
    check_python(&to_otlp(spans.clone(), false), false);
    check_python(&to_otlp(spans, true), true);
}

#[test]
fn v2_protobuf_decodes_to_the_same_spans() {
    let json = v2::json(PYTHON.as_bytes()).unwrap();
    let endpoint = |e: &Option<super::model::Endpoint>| {
        e.as_ref().map(|e| v2::ProtoEndpoint {
            service_name: e.service_name.clone().unwrap_or_default(),
            ipv4: match e.address.as_deref().map(|a| a.parse::<std::net::IpAddr>().unwrap()) {
                Some(std::net::IpAddr::V4(v4)) => v4.octets().to_vec(),
                _ => Vec::new(),
            },
            ipv6: match e.address.as_deref().map(|a| a.parse::<std::net::IpAddr>().unwrap()) {
                Some(std::net::IpAddr::V6(v6)) => v6.octets().to_vec(),
                _ => Vec::new(),
            },
            port: e.port.map_or(0, i32::from),
        })
    };
    let proto: Vec<v2::ProtoSpan> = json
        .iter()
        .map(|s| v2::ProtoSpan {
            trace_id: s.trace_id.to_vec(),
            parent_id: s.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
            id: s.id.to_vec(),
            kind: match s.kind {
                Some(super::model::Kind::Server) => 2,
                _ => 0,
            },
            name: s.name.clone(),
            timestamp: s.timestamp.unwrap_or(0),
            duration: s.duration,
            local_endpoint: endpoint(&s.local),
            remote_endpoint: endpoint(&s.remote),
            annotations: s
                .annotations
                .iter()
                .map(|(t, v)| v2::ProtoAnnotation { timestamp: *t, value: v.clone() })
                .collect(),
            tags: s.tags.iter().cloned().collect(),
            debug: false,
            shared: false,
        })
        .collect();
    let decoded = v2::protobuf(&v2::encode(proto)).unwrap();
    assert_eq!(decoded, json);
}

#[test]
fn v1_json_kinds_times_and_services_come_from_annotations() {
    let body = br#"[{"traceId": "4bf92f3577b34da6", "id": "00f067aa0ba902b7", "parentId": "b7ad6b7169203331",
      "name": "get", "annotations": [
        {"timestamp": 100, "value": "sr", "endpoint": {"serviceName": "cart", "ipv4": "10.0.0.7", "port": 8080}},
        {"timestamp": 150, "value": "cache.miss", "endpoint": {"serviceName": "cart"}},
        {"timestamp": 400, "value": "ss", "endpoint": {"serviceName": "cart"}}],
      "binaryAnnotations": [
        {"key": "lc", "value": "jdbc", "endpoint": {"serviceName": "cart"}},
        {"key": "ca", "value": true, "endpoint": {"serviceName": "web", "ipv4": "10.0.0.9"}}]}]"#;
    let resources = to_otlp(v1::json(body).unwrap(), false);
    let resource = &resources[0].resource.as_ref().unwrap().attributes;
    assert_eq!(attribute(resource, "service.name"), text("cart"));
    let span = &resources[0].scope_spans[0].spans[0];
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (100_000, 400_000));
    assert_eq!(span.events.len(), 1, "core annotations are not events");
    assert_eq!(attribute(&span.attributes, "component"), text("jdbc"));
    assert_eq!(attribute(&span.attributes, "service.peer.name"), text("web"));
    assert_eq!(attribute(&span.attributes, "network.peer.address"), text("10.0.0.9"));
    assert_eq!(hex(&span.parent_span_id), "b7ad6b7169203331");
}

#[test]
fn bad_spans_are_named_with_their_place() {
    let error = |body: &str| v2::json(body.as_bytes()).unwrap_err();
    assert!(error("{}").starts_with("invalid Zipkin v2 JSON"), "{}", error("{}"));
    assert_eq!(
        error(r#"[{"traceId": "1", "id": "2"}, {"traceId": "1", "id": "0"}]"#),
        "span 1: id is zero"
    );
    assert_eq!(error(r#"[{"id": "2"}]"#), "span 0: traceId \"\": expected 1 to 32 hex digits");
    assert_eq!(
        error(r#"[{"traceId": "xyz", "id": "2"}]"#),
        "span 0: traceId \"xyz\": expected hex digits"
    );
    assert!(error(r#"[{"traceId": "1", "id": "2", "tags": {"n": 3}}]"#).contains("invalid type"));
    let proto = v2::encode(vec![v2::ProtoSpan {
        trace_id: vec![1; 3],
        id: vec![1; 8],
        ..Default::default()
    }]);
    assert_eq!(v2::protobuf(&proto).unwrap_err(), "span 0: trace_id has 3 bytes: expected 8 or 16");
    assert!(v2::protobuf(b"\x0a\xff").unwrap_err().starts_with("invalid Zipkin v2 protobuf"));
    let v1 = v1::json(br#"[{"traceId": "123", "id": "00f067aa0ba902b7"}]"#).unwrap_err();
    assert_eq!(v1, "span 0: traceId \"123\": expected 16 or 32 hex digits");
}

/// A thrift v1 body as Zipkin's v1 instrumentation sends it: a binary-protocol list of spans.
#[test]
fn v1_thrift_decodes_like_v1_json() {
    use crate::thrift::{Protocol, write::Writer};
    let mut w = Writer::new(Protocol::Binary);
    let endpoint = |w: &mut Writer, service: &str, ipv4: i32, port: i16| {
        w.struct_begin();
        w.field(1, "i32", None);
        w.i32(ipv4);
        w.field(2, "i16", None);
        w.i16(port);
        w.field(3, "binary", None);
        w.string(service);
        w.stop();
    };
    w.list("struct", 1);
    w.struct_begin();
    w.field(1, "i64", None);
    w.i64(0x4bf9_2f35_77b3_4da6);
    w.field(3, "binary", None);
    w.string("get");
    w.field(4, "i64", None);
    w.i64(0x00f0_67aa_0ba9_02b7);
    w.field(5, "i64", None);
    w.i64(0x0b7a_d6b7_1692_0333);
    w.field(6, "list", None);
    w.list("struct", 2);
    for (at, value) in [(100i64, "sr"), (400, "ss")] {
        w.struct_begin();
        w.field(1, "i64", None);
        w.i64(at);
        w.field(2, "binary", None);
        w.string(value);
        w.field(3, "struct", None);
        endpoint(&mut w, "cart", 0x0a00_0007, 8080);
        w.stop();
    }
    w.field(8, "list", None);
    w.list("struct", 3);
    for (key, value, kind) in [
        ("http.path", b"/cart".to_vec(), 6),
        ("retries", 3i32.to_be_bytes().to_vec(), 3),
        ("ca", vec![1], 0),
    ] {
        w.struct_begin();
        w.field(1, "binary", None);
        w.string(key);
        w.field(2, "binary", None);
        w.binary(&value);
        w.field(3, "i32", None);
        w.i32(kind);
        if key == "ca" {
            w.field(4, "struct", None);
            endpoint(&mut w, "web", 0x0a00_0009, -1);
        }
        w.stop();
    }
    w.stop();
    let resources = to_otlp(v1::thrift(&w.bytes).unwrap(), false);
    let resource = &resources[0].resource.as_ref().unwrap().attributes;
    assert_eq!(attribute(resource, "service.name"), text("cart"));
    let span = &resources[0].scope_spans[0].spans[0];
    assert_eq!(hex(&span.trace_id), "00000000000000004bf92f3577b34da6");
    assert_eq!(hex(&span.parent_span_id), "0b7ad6b716920333");
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (100_000, 400_000));
    assert_eq!(attribute(&span.attributes, "http.path"), text("/cart"));
    assert_eq!(attribute(&span.attributes, "retries"), text("3"));
    assert_eq!(attribute(&span.attributes, "network.local.address"), text("10.0.0.7"));
    assert_eq!(attribute(&span.attributes, "network.peer.address"), text("10.0.0.9"));
    assert_eq!(
        attribute(&span.attributes, "network.peer.port"),
        Some(Value::IntValue(65535)),
        "ports are unsigned"
    );
    assert_eq!(attribute(&span.attributes, "service.peer.name"), text("web"));
    for cut in 0..w.bytes.len() {
        assert!(v1::thrift(&w.bytes[..cut]).is_err(), "cut at {cut}");
    }
}
