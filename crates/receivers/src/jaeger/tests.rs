use prost::Message as _;
use weir_otlp::proto::{
    common::v1::any_value::Value as Otlp,
    trace::v1::{span::SpanKind, status::StatusCode},
};

use super::{
    model::{Batch, Log, Process, Reference, Span, Tag, Value, trace_id},
    proto, thrift, translate,
};
use crate::thrift::{Protocol, write::Writer};

fn tag(key: &str, value: Value) -> Tag {
    Tag { key: key.into(), value }
}

fn str(value: &str) -> Value {
    Value::Str(value.into())
}

/// A batch as the SDKs' Jaeger exporters send one: a server span with an event, its client
/// child in error, and a span linked from another trace.
fn batch() -> Batch {
    let trace = trace_id(0x4bf9_2f35_77b3_4da6, 0x0a3c_e929_d0e0_e473);
    let process = Process {
        service_name: "cart".into(),
        tags: vec![tag("hostname", str("node-3")), tag("jaeger.version", str("Python-1.21"))],
    };
    let server = Span {
        trace_id: trace,
        span_id: 7u64.to_be_bytes(),
        operation_name: "GET /cart".into(),
        flags: 1,
        start_nanos: 1_700_000_000_000_000_000,
        duration_nanos: 1_500_000,
        tags: vec![
            tag("span.kind", str("server")),
            tag("index", Value::Long(3)),
            tag("ratio", Value::Double(0.5)),
            tag("cached", Value::Bool(false)),
            tag("otel.scope.name", str("shop.http")),
            tag("otel.scope.version", str("1.2")),
            tag("otel.status_code", str("OK")),
        ],
        logs: vec![Log {
            timestamp_nanos: 1_700_000_000_000_500_000,
            fields: vec![tag("message", str("checkpoint")), tag("step", Value::Long(3))],
        }],
        ..Span::default()
    };
    let client = Span {
        trace_id: trace,
        span_id: 8u64.to_be_bytes(),
        parent_span_id: 7u64.to_be_bytes(),
        operation_name: "call".into(),
        flags: 1,
        start_nanos: 1_700_000_000_000_100_000,
        duration_nanos: 700_000,
        tags: vec![
            tag("span.kind", str("client")),
            tag("error", Value::Bool(true)),
            tag("otel.status_code", str("ERROR")),
            tag("otel.status_description", str("boom")),
        ],
        ..Span::default()
    };
    let linked = Span {
        trace_id: trace,
        span_id: 9u64.to_be_bytes(),
        operation_name: "after".into(),
        references: vec![
            Reference { follows_from: false, trace_id: trace, span_id: 7u64.to_be_bytes() },
            Reference {
                follows_from: true,
                trace_id: trace_id(0, 42),
                span_id: 5u64.to_be_bytes(),
            },
        ],
        tags: vec![tag("http.status_code", Value::Long(503))],
        ..Span::default()
    };
    Batch { process: Some(process), spans: vec![server, client, linked] }
}

fn write_tag(w: &mut Writer, tag: &Tag) {
    w.struct_begin();
    w.field(1, "binary", None);
    w.string(&tag.key);
    w.field(2, "i32", None);
    match &tag.value {
        Value::Str(s) => {
            w.i32(0);
            w.field(3, "binary", None);
            w.string(s);
        }
        Value::Double(d) => {
            w.i32(1);
            w.field(4, "double", None);
            w.double(*d);
        }
        Value::Bool(b) => {
            w.i32(2);
            w.field(5, "bool", Some(*b));
        }
        Value::Long(l) => {
            w.i32(3);
            w.field(6, "i64", None);
            w.i64(*l);
        }
        Value::Binary(_) => unreachable!(),
    }
    w.stop();
}

fn halves(id: &[u8; 16]) -> (i64, i64) {
    let high = i64::from_be_bytes(id[..8].try_into().unwrap());
    let low = i64::from_be_bytes(id[8..].try_into().unwrap());
    (high, low)
}

fn write_batch(w: &mut Writer, batch: &Batch) {
    w.struct_begin();
    let process = batch.process.as_ref().unwrap();
    w.field(1, "struct", None);
    w.struct_begin();
    w.field(1, "binary", None);
    w.string(&process.service_name);
    w.field(2, "list", None);
    w.list("struct", process.tags.len());
    process.tags.iter().for_each(|t| write_tag(w, t));
    w.stop();
    w.field(2, "list", None);
    w.list("struct", batch.spans.len());
    for span in &batch.spans {
        let (high, low) = halves(&span.trace_id);
        w.struct_begin();
        for (id, value) in [
            (1, low),
            (2, high),
            (3, i64::from_be_bytes(span.span_id)),
            (4, i64::from_be_bytes(span.parent_span_id)),
        ] {
            w.field(id, "i64", None);
            w.i64(value);
        }
        w.field(5, "binary", None);
        w.string(&span.operation_name);
        if !span.references.is_empty() {
            w.field(6, "list", None);
            w.list("struct", span.references.len());
            for r in &span.references {
                let (high, low) = halves(&r.trace_id);
                w.struct_begin();
                w.field(1, "i32", None);
                w.i32(i32::from(r.follows_from));
                for (id, value) in [(2, low), (3, high), (4, i64::from_be_bytes(r.span_id))] {
                    w.field(id, "i64", None);
                    w.i64(value);
                }
                w.stop();
            }
        }
        w.field(7, "i32", None);
        w.i32(span.flags as i32);
        w.field(8, "i64", None);
        w.i64((span.start_nanos / 1000) as i64);
        w.field(9, "i64", None);
        w.i64((span.duration_nanos / 1000) as i64);
        w.field(10, "list", None);
        w.list("struct", span.tags.len());
        span.tags.iter().for_each(|t| write_tag(w, t));
        if !span.logs.is_empty() {
            w.field(11, "list", None);
            w.list("struct", span.logs.len());
            for log in &span.logs {
                w.struct_begin();
                w.field(1, "i64", None);
                w.i64((log.timestamp_nanos / 1000) as i64);
                w.field(2, "list", None);
                w.list("struct", log.fields.len());
                log.fields.iter().for_each(|t| write_tag(w, t));
                w.stop();
            }
        }
        // an optional field weir does not read is skipped
        w.field(12, "bool", Some(false));
        w.stop();
    }
    w.stop();
}

/// `emitBatch` as an agent client sends it in one datagram.
pub(crate) fn emit_batch(batch: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut w = Writer::new(protocol);
    w.message("emitBatch");
    w.struct_begin();
    w.field(1, "struct", None);
    write_batch(&mut w, batch);
    w.stop();
    w.bytes
}

#[test]
fn thrift_batches_decode_in_both_protocols() {
    let expected = batch();
    for protocol in [Protocol::Binary, Protocol::Compact] {
        let datagram = emit_batch(&expected, protocol);
        assert_eq!(thrift::emit_batch(&datagram, protocol).unwrap(), expected, "{protocol:?}");
        let mut w = Writer::new(protocol);
        write_batch(&mut w, &expected);
        assert_eq!(thrift::batch(&w.bytes, protocol).unwrap(), expected, "{protocol:?}");
    }
}

#[test]
fn truncated_or_corrupt_thrift_is_an_error_not_a_crash() {
    for protocol in [Protocol::Binary, Protocol::Compact] {
        let datagram = emit_batch(&batch(), protocol);
        for cut in 0..datagram.len() {
            assert!(thrift::emit_batch(&datagram[..cut], protocol).is_err(), "{protocol:?} {cut}");
        }
        // every byte flipped in turn: decoded or refused, never a panic or a huge allocation
        for at in 0..datagram.len() {
            let mut corrupt = datagram.clone();
            corrupt[at] ^= 0xff;
            let _ = thrift::emit_batch(&corrupt, protocol);
        }
    }
    let error = thrift::emit_batch(b"\x82\x81\x00\x0femitZipkinBatch", Protocol::Compact);
    assert_eq!(error.unwrap_err(), "method \"emitZipkinBatch\" is not accepted: only emitBatch");
    let huge = [0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff];
    assert!(thrift::batch(&huge, Protocol::Binary).unwrap_err().starts_with("truncated"));
}

#[test]
fn spans_become_otlp_as_the_collector_translates_them() {
    let resources = translate::to_otlp(batch());
    assert_eq!(resources.len(), 1);
    let resource = &resources[0].resource.as_ref().unwrap().attributes;
    let text = |attributes: &[weir_otlp::proto::common::v1::KeyValue], key: &str| {
        attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone()?.value)
    };
    assert_eq!(text(resource, "service.name"), Some(Otlp::StringValue("cart".into())));
    assert_eq!(text(resource, "host.name"), Some(Otlp::StringValue("node-3".into())));
    assert_eq!(
        text(resource, "opencensus.exporterversion"),
        Some(Otlp::StringValue("Jaeger-Python-1.21".into()))
    );
    let scopes = &resources[0].scope_spans;
    assert_eq!(scopes[0].scope.as_ref().unwrap().name, "shop.http");
    let server = &scopes[0].spans[0];
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(server.status.as_ref().unwrap().code, StatusCode::Ok as i32);
    assert_eq!(server.flags, 1);
    assert_eq!(server.end_time_unix_nano - server.start_time_unix_nano, 1_500_000);
    assert_eq!(text(&server.attributes, "index"), Some(Otlp::IntValue(3)));
    assert_eq!(text(&server.attributes, "span.kind"), None);
    assert_eq!(server.events[0].name, "checkpoint");
    assert_eq!(text(&server.events[0].attributes, "step"), Some(Otlp::IntValue(3)));
    let client = &scopes[1].spans[0];
    assert_eq!(client.kind, SpanKind::Client as i32);
    assert_eq!(client.parent_span_id, 7u64.to_be_bytes());
    let status = client.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "boom"));
    assert!(client.attributes.is_empty(), "{:?}", client.attributes);
    let linked = &scopes[1].spans[1];
    assert_eq!(linked.parent_span_id, 7u64.to_be_bytes(), "the CHILD_OF reference");
    assert_eq!(linked.links.len(), 1, "the other trace's span");
    assert_eq!(
        text(&linked.links[0].attributes, "opentracing.ref_type"),
        Some(Otlp::StringValue("follows_from".into()))
    );
    assert_eq!(linked.status.as_ref().unwrap().code, StatusCode::Error as i32, "http 503");
}

#[test]
fn protobuf_post_spans_decodes_ids_times_and_processes() {
    let request = proto::api_v2::PostSpansRequest {
        batch: Some(proto::api_v2::Batch {
            spans: vec![proto::api_v2::Span {
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                operation_name: "op".into(),
                start_time: Some(proto::api_v2::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
                duration: Some(proto::api_v2::Duration { seconds: 1, nanos: 0 }),
                tags: vec![proto::api_v2::KeyValue {
                    key: "span.kind".into(),
                    v_str: "producer".into(),
                    ..Default::default()
                }],
                process: Some(proto::api_v2::Process { service_name: "own".into(), tags: vec![] }),
                ..Default::default()
            }],
            process: Some(proto::api_v2::Process { service_name: "batch".into(), tags: vec![] }),
        }),
    };
    let batch = proto::post_spans(&request.encode_to_vec()).unwrap();
    let resources = translate::to_otlp(batch);
    let span = &resources[0].scope_spans[0].spans[0];
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_005);
    assert_eq!(span.end_time_unix_nano, 1_700_000_001_000_000_005);
    assert_eq!(span.kind, SpanKind::Producer as i32);
    let service = &resources[0].resource.as_ref().unwrap().attributes[0];
    assert_eq!(service.value.clone().unwrap().value, Some(Otlp::StringValue("own".into())));
    let bad = proto::api_v2::PostSpansRequest {
        batch: Some(proto::api_v2::Batch {
            spans: vec![proto::api_v2::Span { trace_id: vec![1; 3], ..Default::default() }],
            process: None,
        }),
    };
    let error = proto::post_spans(&bad.encode_to_vec()).unwrap_err();
    assert_eq!(error, "span 0: trace_id has 3 bytes: expected 16 (or 8)");
}
