//! Zipkin's API v1 (`POST /api/v1/spans`) in JSON, or in thrift (`zipkinCore.thrift`: a list
//! of spans in the binary protocol): spans whose kind, times and service come from the core
//! annotations (`cs`, `cr`, `ss`, `sr`, `ms`, `mr`) and whose tags are binary annotations
//! (`lc` named `component`, `ca`/`sa` the remote address).

use serde::Deserialize;

use super::model::{self, Endpoint, Kind, Span};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    #[serde(default)]
    name: String,
    timestamp: Option<u64>,
    duration: Option<u64>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    #[serde(default)]
    binary_annotations: Vec<BinaryAnnotation>,
}

#[derive(Deserialize, Default)]
struct Annotation {
    timestamp: u64,
    value: String,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize, Default)]
struct BinaryAnnotation {
    key: String,
    value: serde_json::Value,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<i32>,
}

impl JsonEndpoint {
    fn model(self) -> Option<Endpoint> {
        Endpoint {
            service_name: self.service_name.filter(|s| !s.is_empty()),
            address: self.ipv6.or(self.ipv4).filter(|a| !a.is_empty()),
            port: self.port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0),
        }
        .or_none()
    }
}

/// The spans of a JSON v1 body.
pub(crate) fn json(body: &[u8]) -> Result<Vec<Span>, String> {
    let spans: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v1 JSON: {e}"))?;
    let mut out = Vec::with_capacity(spans.len());
    for (i, span) in spans.into_iter().enumerate() {
        out.push(span_of(span).map_err(|e| format!("span {i}: {e}"))?);
    }
    Ok(out)
}

/// The spans of a thrift v1 body: a binary-protocol list of `Span` structs.
pub(crate) fn thrift(body: &[u8]) -> Result<Vec<Span>, String> {
    use crate::thrift::{Protocol, Reader};
    let mut reader = Reader::new(body, Protocol::Binary);
    let spans =
        reader.list_of(thrift_span).map_err(|e| format!("invalid Zipkin v1 thrift: {e}"))?;
    let mut out = Vec::with_capacity(spans.len());
    for (i, span) in spans.into_iter().enumerate() {
        out.push(span_of(span).map_err(|e| format!("span {i}: {e}"))?);
    }
    Ok(out)
}

fn thrift_span(reader: &mut crate::thrift::Reader<'_>) -> crate::thrift::Result<JsonSpan> {
    use crate::thrift::Type;
    let (mut low, mut high, mut id, mut parent) = (0i64, 0i64, 0i64, None);
    let mut span = JsonSpan::default();
    reader.read_struct(|r, field, kind| {
        match (field, kind) {
            (1, Type::I64) => low = r.i64()?,
            (3, Type::Binary) => span.name = r.string()?,
            (4, Type::I64) => id = r.i64()?,
            (5, Type::I64) => parent = Some(r.i64()?),
            (6, Type::List) => span.annotations = r.list_of(thrift_annotation)?,
            (8, Type::List) => span.binary_annotations = r.list_of(thrift_binary_annotation)?,
            (10, Type::I64) => span.timestamp = Some(r.i64()? as u64),
            (11, Type::I64) => span.duration = Some(r.i64()? as u64),
            (12, Type::I64) => high = r.i64()?,
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    span.trace_id = if high == 0 {
        format!("{:016x}", low as u64)
    } else {
        format!("{:016x}{:016x}", high as u64, low as u64)
    };
    span.id = format!("{:016x}", id as u64);
    span.parent_id = parent.map(|p| format!("{:016x}", p as u64));
    Ok(span)
}

fn thrift_endpoint(reader: &mut crate::thrift::Reader<'_>) -> crate::thrift::Result<JsonEndpoint> {
    use crate::thrift::Type;
    let mut endpoint = JsonEndpoint::default();
    reader.read_struct(|r, field, kind| {
        match (field, kind) {
            (1, Type::I32) => {
                endpoint.ipv4 = Some(std::net::Ipv4Addr::from(r.i32()? as u32).to_string());
            }
            (2, Type::I16) => endpoint.port = Some(i32::from(r.i16()? as u16)),
            (3, Type::Binary) => endpoint.service_name = Some(r.string()?),
            (4, Type::Binary) => {
                let bytes = r.binary()?;
                if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                    endpoint.ipv6 = Some(std::net::Ipv6Addr::from(v6).to_string());
                }
            }
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    Ok(endpoint)
}

fn thrift_annotation(reader: &mut crate::thrift::Reader<'_>) -> crate::thrift::Result<Annotation> {
    use crate::thrift::Type;
    let mut annotation = Annotation::default();
    reader.read_struct(|r, field, kind| {
        match (field, kind) {
            (1, Type::I64) => annotation.timestamp = r.i64()? as u64,
            (2, Type::Binary) => annotation.value = r.string()?,
            (3, Type::Struct) => annotation.endpoint = Some(thrift_endpoint(r)?),
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    Ok(annotation)
}

fn thrift_binary_annotation(
    reader: &mut crate::thrift::Reader<'_>,
) -> crate::thrift::Result<BinaryAnnotation> {
    use crate::thrift::Type;
    let (mut key, mut bytes, mut kind_of, mut endpoint) = (String::new(), Vec::new(), 6, None);
    reader.read_struct(|r, field, kind| {
        match (field, kind) {
            (1, Type::Binary) => key = r.string()?,
            (2, Type::Binary) => bytes = r.binary()?.to_vec(),
            (3, Type::I32) => kind_of = r.i32()?,
            (4, Type::Struct) => endpoint = Some(thrift_endpoint(r)?),
            (_, kind) => r.skip(kind)?,
        }
        Ok(())
    })?;
    // The value's thrift type: BOOL, BYTES, I16, I32, I64, DOUBLE, STRING (big-endian).
    let number = |n: usize| -> Option<i64> {
        let slice = bytes.get(..n)?;
        let mut padded = [0u8; 8];
        padded[8 - n..].copy_from_slice(slice);
        let value = i64::from_be_bytes(padded);
        let shift = 64 - 8 * n as u32;
        Some((value << shift) >> shift)
    };
    let value = match kind_of {
        0 => serde_json::Value::Bool(bytes == [1]),
        1 => {
            use base64::Engine as _;
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes))
        }
        2..=4 => {
            let n = [2, 4, 8][(kind_of - 2) as usize];
            number(n).map_or(serde_json::Value::Null, |v| serde_json::Value::String(v.to_string()))
        }
        5 => <[u8; 8]>::try_from(&bytes[..bytes.len().min(8)])
            .map_or(serde_json::Value::Null, |b| {
                serde_json::Value::String(f64::from_be_bytes(b).to_string())
            }),
        _ => serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()),
    };
    Ok(BinaryAnnotation { key, value, endpoint })
}

fn core_kind(value: &str) -> Option<Kind> {
    match value {
        "cs" | "cr" => Some(Kind::Client),
        "ss" | "sr" => Some(Kind::Server),
        "ms" => Some(Kind::Producer),
        "mr" => Some(Kind::Consumer),
        _ => None,
    }
}

fn span_of(span: JsonSpan) -> Result<Span, String> {
    if !matches!(span.trace_id.len(), 16 | 32) {
        return Err(format!("traceId {:?}: expected 16 or 32 hex digits", span.trace_id));
    }
    let trace_id = model::trace_id(&span.trace_id)?;
    let exact = |field: &str, hex: &str| {
        if hex.len() != 16 {
            return Err(format!("{field} {hex:?}: expected 16 hex digits"));
        }
        model::span_id(field, hex)
    };
    let id = exact("id", &span.id)?;
    let parent_id = match span.parent_id.as_deref() {
        None | Some("") => None,
        Some(hex) => Some(exact("parentId", hex)?),
    };
    let mut kind = None;
    let mut local = None;
    let mut annotations = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    for annotation in span.annotations.into_iter().filter(|a| !a.value.is_empty()) {
        first = first.min(annotation.timestamp);
        last = last.max(annotation.timestamp);
        match core_kind(&annotation.value) {
            Some(core) => {
                kind = kind.or(Some(core));
                if local.is_none() {
                    local = annotation.endpoint.and_then(JsonEndpoint::model);
                    local = local.filter(|e: &Endpoint| e.service_name.is_some());
                }
            }
            None => annotations.push((annotation.timestamp, annotation.value)),
        }
    }
    let mut tags = Vec::new();
    let mut remote = None;
    let mut fallback = None;
    for binary in span.binary_annotations {
        if let Some(endpoint) = binary.endpoint.clone().and_then(JsonEndpoint::model) {
            if matches!(binary.key.as_str(), "ca" | "sa") {
                remote = Some(endpoint);
                continue;
            }
            if endpoint.service_name.is_some() {
                fallback = Some(endpoint);
            }
        }
        let value = match binary.value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        let key = if binary.key == "lc" { "component".to_owned() } else { binary.key };
        tags.push((key, value));
    }
    let local = local.or(fallback).or_else(|| {
        let component = tags.iter().find(|(k, _)| k == "component")?;
        Some(Endpoint { service_name: Some(component.1.clone()), ..Endpoint::default() })
    });
    let (timestamp, duration) = match span.timestamp.filter(|t| *t > 0) {
        Some(start) => (Some(start), span.duration.unwrap_or(0)),
        None if first != u64::MAX && first > 0 => (Some(first), last - first),
        None => (None, span.duration.unwrap_or(0)),
    };
    Ok(Span {
        trace_id,
        id,
        parent_id,
        name: span.name,
        kind,
        timestamp,
        duration,
        local,
        remote,
        annotations,
        tags,
    })
}
