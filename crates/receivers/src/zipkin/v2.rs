//! Zipkin's API v2 (`POST /api/v2/spans`): a JSON list of spans, or a protobuf `ListOfSpans`
//! (`zipkin.proto3`).

use std::collections::BTreeMap;

use prost::Message as _;
use serde::Deserialize;

use super::model::{self, Endpoint, Kind, Span};

mod proto {
    #![allow(missing_docs, unreachable_pub, dead_code, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/zipkin.proto3.rs"));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: Option<String>,
    id: Option<String>,
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    kind: Option<String>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    local_endpoint: Option<JsonEndpoint>,
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    annotations: Vec<JsonAnnotation>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
}

/// The spans of a JSON v2 body.
pub(crate) fn json(body: &[u8]) -> Result<Vec<Span>, String> {
    let spans: Vec<JsonSpan> =
        serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v2 JSON: {e}"))?;
    let mut out = Vec::with_capacity(spans.len());
    for (i, span) in spans.into_iter().enumerate() {
        out.push(json_span(span).map_err(|e| format!("span {i}: {e}"))?);
    }
    Ok(out)
}

fn json_span(span: JsonSpan) -> Result<Span, String> {
    let trace_id = model::trace_id(span.trace_id.as_deref().unwrap_or(""))?;
    let id = model::span_id("id", span.id.as_deref().unwrap_or(""))?;
    let parent_id = match span.parent_id.as_deref() {
        None | Some("") => None,
        Some(hex) => Some(model::span_id("parentId", hex)?).filter(|p| *p != id),
    };
    let endpoint = |e: JsonEndpoint| {
        Endpoint {
            service_name: e.service_name.filter(|s| !s.is_empty()),
            address: e.ipv6.or(e.ipv4).filter(|a| !a.is_empty()),
            port: e.port.filter(|p| *p > 0),
        }
        .or_none()
    };
    Ok(Span {
        trace_id,
        id,
        parent_id,
        name: span.name.unwrap_or_default(),
        kind: span.kind.as_deref().and_then(Kind::parse),
        timestamp: span.timestamp.filter(|t| *t > 0),
        duration: span.duration.unwrap_or(0),
        local: span.local_endpoint.and_then(endpoint),
        remote: span.remote_endpoint.and_then(endpoint),
        annotations: span.annotations.into_iter().map(|a| (a.timestamp, a.value)).collect(),
        tags: span.tags.into_iter().collect(),
    })
}

/// The spans of a protobuf `ListOfSpans`.
pub(crate) fn protobuf(body: &[u8]) -> Result<Vec<Span>, String> {
    let list =
        proto::ListOfSpans::decode(body).map_err(|e| format!("invalid Zipkin v2 protobuf: {e}"))?;
    let mut out = Vec::with_capacity(list.spans.len());
    for (i, span) in list.spans.into_iter().enumerate() {
        out.push(proto_span(span).map_err(|e| format!("span {i}: {e}"))?);
    }
    Ok(out)
}

fn proto_span(span: proto::Span) -> Result<Span, String> {
    let trace_id: [u8; 16] = match span.trace_id.len() {
        16 => span.trace_id[..].try_into().expect("16 bytes"),
        8 => {
            let mut padded = [0u8; 16];
            padded[8..].copy_from_slice(&span.trace_id);
            padded
        }
        n => return Err(format!("trace_id has {n} bytes: expected 8 or 16")),
    };
    if trace_id == [0; 16] {
        return Err("trace_id is zero".into());
    }
    let eight = |field: &str, bytes: &[u8]| -> Result<[u8; 8], String> {
        let id: [u8; 8] = bytes
            .try_into()
            .map_err(|_| format!("{field} has {} bytes: expected 8", bytes.len()))?;
        if id == [0; 8] {
            return Err(format!("{field} is zero"));
        }
        Ok(id)
    };
    let id = eight("id", &span.id)?;
    let parent_id = match span.parent_id.is_empty() {
        true => None,
        false => Some(eight("parent_id", &span.parent_id)?).filter(|p| *p != id),
    };
    let kind = match proto::span::Kind::try_from(span.kind) {
        Ok(proto::span::Kind::Client) => Some(Kind::Client),
        Ok(proto::span::Kind::Server) => Some(Kind::Server),
        Ok(proto::span::Kind::Producer) => Some(Kind::Producer),
        Ok(proto::span::Kind::Consumer) => Some(Kind::Consumer),
        _ => None,
    };
    Ok(Span {
        trace_id,
        id,
        parent_id,
        name: span.name,
        kind,
        timestamp: Some(span.timestamp).filter(|t| *t > 0),
        duration: span.duration,
        local: span.local_endpoint.map(proto_endpoint).transpose()?.flatten(),
        remote: span.remote_endpoint.map(proto_endpoint).transpose()?.flatten(),
        annotations: span.annotations.into_iter().map(|a| (a.timestamp, a.value)).collect(),
        tags: span.tags.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect(),
    })
}

fn proto_endpoint(e: proto::Endpoint) -> Result<Option<Endpoint>, String> {
    let ipv4 = match e.ipv4.len() {
        0 => None,
        4 => {
            Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&e.ipv4[..]).expect("4")).to_string())
        }
        n => return Err(format!("ipv4 has {n} bytes: expected 4")),
    };
    let ipv6 = match e.ipv6.len() {
        0 => None,
        16 => Some(
            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&e.ipv6[..]).expect("16")).to_string(),
        ),
        n => return Err(format!("ipv6 has {n} bytes: expected 16")),
    };
    let port = u16::try_from(e.port).map_err(|_| format!("port {} is out of range", e.port))?;
    Ok(Endpoint {
        service_name: Some(e.service_name).filter(|s| !s.is_empty()),
        address: ipv6.or(ipv4),
        port: Some(port).filter(|p| *p > 0),
    }
    .or_none())
}

#[cfg(test)]
pub(crate) fn encode(spans: Vec<proto::Span>) -> Vec<u8> {
    proto::ListOfSpans { spans }.encode_to_vec()
}

#[cfg(test)]
pub(crate) use proto::{
    Annotation as ProtoAnnotation, Endpoint as ProtoEndpoint, Span as ProtoSpan,
};
