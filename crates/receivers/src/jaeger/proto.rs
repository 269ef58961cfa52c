//! Jaeger's collector API v2 in protobuf (`jaeger.api_v2`, compiled here): the `PostSpans`
//! request of the gRPC `CollectorService`.

use prost::Message as _;

use super::model::{Batch, Log, Process, Reference, Span, Tag, Value};

pub(crate) mod api_v2 {
    #![allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/jaeger.api_v2.rs"));
}

/// The batch of a `PostSpansRequest`.
pub(crate) fn post_spans(bytes: &[u8]) -> Result<Batch, String> {
    let request = api_v2::PostSpansRequest::decode(bytes)
        .map_err(|e| format!("invalid jaeger.api_v2.PostSpansRequest: {e}"))?;
    let batch = request.batch.unwrap_or_default();
    let mut spans = Vec::with_capacity(batch.spans.len());
    for (i, span) in batch.spans.into_iter().enumerate() {
        spans.push(span_of(span).map_err(|e| format!("span {i}: {e}"))?);
    }
    Ok(Batch { process: batch.process.map(process), spans })
}

fn trace_id(bytes: &[u8]) -> Result<[u8; 16], String> {
    match bytes.len() {
        16 => Ok(bytes.try_into().expect("16")),
        8 => {
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(bytes);
            Ok(id)
        }
        n => Err(format!("trace_id has {n} bytes: expected 16 (or 8)")),
    }
}

fn span_id(bytes: &[u8]) -> Result<[u8; 8], String> {
    bytes.try_into().map_err(|_| format!("span_id has {} bytes: expected 8", bytes.len()))
}

fn nanos(seconds: i64, nanos: i32) -> u64 {
    (seconds.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(nanos.max(0) as u64)
}

fn span_of(span: api_v2::Span) -> Result<Span, String> {
    let mut references = Vec::with_capacity(span.references.len());
    for reference in span.references {
        references.push(Reference {
            follows_from: reference.ref_type == api_v2::SpanRefType::FollowsFrom as i32,
            trace_id: trace_id(&reference.trace_id)?,
            span_id: span_id(&reference.span_id)?,
        });
    }
    let start = span.start_time.map_or(0, |t| nanos(t.seconds, t.nanos));
    Ok(Span {
        trace_id: trace_id(&span.trace_id)?,
        span_id: span_id(&span.span_id)?,
        parent_span_id: [0; 8],
        operation_name: span.operation_name,
        references,
        flags: span.flags,
        start_nanos: start,
        duration_nanos: span.duration.map_or(0, |d| nanos(d.seconds, d.nanos)),
        tags: span.tags.into_iter().map(tag).collect(),
        logs: span
            .logs
            .into_iter()
            .map(|log| Log {
                timestamp_nanos: log.timestamp.map_or(0, |t| nanos(t.seconds, t.nanos)),
                fields: log.fields.into_iter().map(tag).collect(),
            })
            .collect(),
        process: span.process.map(process),
    })
}

fn process(process: api_v2::Process) -> Process {
    Process {
        service_name: process.service_name,
        tags: process.tags.into_iter().map(tag).collect(),
    }
}

fn tag(kv: api_v2::KeyValue) -> Tag {
    let value = match api_v2::ValueType::try_from(kv.v_type) {
        Ok(api_v2::ValueType::Bool) => Value::Bool(kv.v_bool),
        Ok(api_v2::ValueType::Int64) => Value::Long(kv.v_int64),
        Ok(api_v2::ValueType::Float64) => Value::Double(kv.v_float64),
        Ok(api_v2::ValueType::Binary) => Value::Binary(kv.v_binary),
        _ => Value::Str(kv.v_str),
    };
    Tag { key: kv.key, value }
}
