//! Zipkin's API v1 (`POST /api/v1/spans`) in JSON: spans whose kind, times and service come
//! from the core annotations (`cs`, `cr`, `ss`, `sr`, `ms`, `mr`) and whose tags are binary
//! annotations (`lc` named `component`, `ca`/`sa` the remote address).

use serde::Deserialize;

use super::model::{self, Endpoint, Kind, Span};

#[derive(Deserialize)]
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

#[derive(Deserialize)]
struct Annotation {
    timestamp: u64,
    value: String,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize)]
struct BinaryAnnotation {
    key: String,
    value: serde_json::Value,
    endpoint: Option<JsonEndpoint>,
}

#[derive(Deserialize, Clone)]
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
