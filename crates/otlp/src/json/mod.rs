//! The OTLP/JSON encoding (OTLP specification, "JSON Protobuf Encoding").
//!
//! Decoding accepts what the specification requires and what the proto3 JSON mapping allows:
//! lowerCamelCase keys and the original proto field names (`resource_spans`), trace and span
//! ids as hex in either case, 64-bit integers as strings or numbers, enums as integers or by
//! name, `null` as the default value, and unknown fields (ignored). Decoded requests are then
//! checked with [`crate::validate`]. Encoding writes lowerCamelCase keys, hex ids, enums as
//! integers and 64-bit integers as decimal strings.
//!
//! The field-level work is the `opentelemetry-proto` crate's serde support; this module adds
//! key normalisation, enum names and the checks that crate leaves out.

use opentelemetry_proto::tonic::{
    logs::v1::{ResourceLogs, SeverityNumber},
    metrics::v1::{AggregationTemporality, ResourceMetrics},
    trace::v1::{ResourceSpans, span::SpanKind, status::StatusCode},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Batch, Decoded, InvalidRequest, Signal, validate};

/// Why an OTLP/JSON request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(serde_json::Error),
    /// JSON, but not an OTLP export request.
    #[error("invalid OTLP/JSON {signal} request: {source}")]
    Schema {
        /// The signal of the request.
        signal: Signal,
        /// What serde reported.
        source: serde_json::Error,
    },
    /// An OTLP export request that breaks a rule of the specification.
    #[error("invalid OTLP/JSON {signal} request: {source}")]
    Invalid {
        /// The signal of the request.
        signal: Signal,
        /// The rule broken.
        source: InvalidRequest,
    },
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TracesRequest<T> {
    resource_spans: T,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MetricsRequest<T> {
    resource_metrics: T,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct LogsRequest<T> {
    resource_logs: T,
}

/// Decodes an OTLP/JSON export request of `signal`.
pub fn decode(signal: Signal, body: &[u8]) -> Result<Batch, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(JsonError::Syntax)?;
    decode_value(signal, value)
}

fn decode_value(signal: Signal, mut value: Value) -> Result<Batch, JsonError> {
    normalize(&mut value);
    let schema = |source| JsonError::Schema { signal, source };
    let batch = match signal {
        Signal::Traces => {
            let r: TracesRequest<Vec<ResourceSpans>> =
                serde_json::from_value(value).map_err(schema)?;
            Batch::from(r.resource_spans)
        }
        Signal::Metrics => {
            let r: MetricsRequest<Vec<ResourceMetrics>> =
                serde_json::from_value(value).map_err(schema)?;
            Batch::from(r.resource_metrics)
        }
        Signal::Logs => {
            let r: LogsRequest<Vec<ResourceLogs>> =
                serde_json::from_value(value).map_err(schema)?;
            Batch::from(r.resource_logs)
        }
    };
    validate(&batch).map_err(|source| JsonError::Invalid { signal, source })?;
    Ok(batch)
}

/// Decodes an OTLP/JSON export request of any signal, telling the signal by its top-level
/// key (`resourceSpans`, `resourceMetrics` or `resourceLogs`, or their proto names), as in
/// files that hold requests of several signals, one per line.
pub fn decode_any(body: &[u8]) -> Result<Batch, JsonError> {
    let value: Value = serde_json::from_slice(body).map_err(JsonError::Syntax)?;
    let has = |camel: &str, snake: &str| value.get(camel).or_else(|| value.get(snake)).is_some();
    let signal = if has("resourceMetrics", "resource_metrics") {
        Signal::Metrics
    } else if has("resourceLogs", "resource_logs") {
        Signal::Logs
    } else {
        Signal::Traces
    };
    decode_value(signal, value)
}

/// Encodes a batch as the OTLP/JSON export request of its signal, on one line.
pub fn encode(batch: &Batch) -> Vec<u8> {
    let encoded = match &*batch.view() {
        Decoded::Traces(v) => serde_json::to_vec(&TracesRequest { resource_spans: v }),
        Decoded::Metrics(v) => serde_json::to_vec(&MetricsRequest { resource_metrics: v }),
        Decoded::Logs(v) => serde_json::to_vec(&LogsRequest { resource_logs: v }),
    };
    // Serialising these types cannot fail: every map key is a string and no serializer
    // of the generated types returns an error.
    encoded.expect("OTLP messages always serialise to JSON")
}

/// Rewrites a parsed request into the one spelling the serde types accept: snake_case keys
/// become lowerCamelCase, enum names become their numbers, and `null` members are removed.
/// Every object key in an OTLP request is a field name (attributes are lists of
/// `{key, value}`), so renaming keys never touches user data.
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let needs_rename = map.keys().any(|k| k.contains('_'));
            if needs_rename {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(lower_camel(&k), v);
                }
            }
            map.retain(|_, v| !v.is_null());
            enum_names(map);
            for v in map.values_mut() {
                normalize(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn lower_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Replaces enum values given by name (`"SPAN_KIND_SERVER"`) with their numbers. Names that
/// match no value are left for the deserializer to reject.
fn enum_names(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        let Value::String(name) = value else { continue };
        let number = match key.as_str() {
            "kind" => SpanKind::from_str_name(name).map(|v| v as i32),
            "code" => StatusCode::from_str_name(name).map(|v| v as i32),
            "aggregationTemporality" => {
                AggregationTemporality::from_str_name(name).map(|v| v as i32)
            }
            "severityNumber" => SeverityNumber::from_str_name(name).map(|v| v as i32),
            _ => None,
        };
        if let Some(number) = number {
            *value = Value::from(number);
        }
    }
}

#[cfg(test)]
mod tests;
