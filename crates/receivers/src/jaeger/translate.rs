//! Jaeger spans as OTLP, per the Collector's Jaeger translator:
//!
//! - the process as the resource (`service.name`, its tags; `hostname` as `host.name`,
//!   `jaeger.version` as `opencensus.exporterversion`); a span with its own process
//!   (protobuf) gets its own resource;
//! - the scope from `otel.scope.name`/`version` (or the older `otel.library.*`), read from
//!   both encodings — the Collector reads them from protobuf only, but the SDKs' thrift
//!   exporters send them too;
//! - the parent from `parentSpanId`, else the first reference in the same trace (`CHILD_OF`,
//!   then `FOLLOWS_FROM`); the other references as links with `opentracing.ref_type`;
//! - kind from `span.kind`; status from a boolean `error` tag, else `otel.status_code` and
//!   `otel.status_description`, else `http.status_code` (4xx is an error for a client only);
//!   `w3c.tracestate` as the trace state; the sampled flag as the span's;
//! - logs as events, named by their `event` field (else `message`, as the SDKs' Jaeger
//!   exporters name them).

use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span, status::StatusCode},
};

use super::model::{Batch, Process, Span, Tag, Value};

/// The batch as OTLP resources.
pub(crate) fn to_otlp(batch: Batch) -> Vec<ResourceSpans> {
    let mut resources: Vec<(Option<Process>, Vec<ScopeSpans>)> = Vec::new();
    for mut span in batch.spans {
        if span.trace_id == [0; 16] && span.span_id == [0; 8] {
            continue;
        }
        let process = span.process.take().or_else(|| batch.process.clone());
        let (scope, otlp) = convert(span);
        let at = match resources.iter().position(|(p, _)| *p == process) {
            Some(at) => at,
            None => {
                resources.push((process, Vec::new()));
                resources.len() - 1
            }
        };
        let scopes = &mut resources[at].1;
        match scopes.iter_mut().find(|s| s.scope.as_ref() == Some(&scope)) {
            Some(scoped) => scoped.spans.push(otlp),
            None => scopes.push(ScopeSpans {
                scope: Some(scope),
                spans: vec![otlp],
                ..Default::default()
            }),
        }
    }
    resources
        .into_iter()
        .map(|(process, scope_spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: process.map(resource).unwrap_or_default(),
                ..Default::default()
            }),
            scope_spans,
            ..Default::default()
        })
        .collect()
}

fn resource(process: Process) -> Vec<KeyValue> {
    let mut attributes = Vec::new();
    if !process.service_name.is_empty() {
        attributes.push(kv("service.name", any_value::Value::StringValue(process.service_name)));
    }
    for tag in process.tags {
        let (key, value) = match (tag.key.as_str(), tag.value) {
            ("hostname", value) => ("host.name".to_owned(), value),
            ("jaeger.version", Value::Str(version)) => {
                ("opencensus.exporterversion".to_owned(), Value::Str(format!("Jaeger-{version}")))
            }
            (_, value) => (tag.key, value),
        };
        let value = kv(&key, otlp_value(value));
        match attributes.iter_mut().find(|a| a.key == key) {
            Some(existing) => *existing = value,
            None => attributes.push(value),
        }
    }
    attributes
}

fn convert(span: Span) -> (InstrumentationScope, OtlpSpan) {
    let mut tags = span.tags;
    let mut take = |key: &str| tags.iter().position(|t| t.key == key).map(|i| tags.remove(i).value);
    let text = |value: Option<Value>| match value {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    };
    let scope_name = text(take("otel.scope.name"));
    let scope_version = text(take("otel.scope.version"));
    let library_name = text(take("otel.library.name"));
    let library_version = text(take("otel.library.version"));
    let (name, version) = match scope_name {
        Some(name) => (name, scope_version.unwrap_or_default()),
        None => (library_name.unwrap_or_default(), library_version.unwrap_or_default()),
    };
    let scope = InstrumentationScope { name, version, ..Default::default() };
    let kind = match text(take("span.kind")).as_deref() {
        Some("client") => span::SpanKind::Client,
        Some("server") => span::SpanKind::Server,
        Some("producer") => span::SpanKind::Producer,
        Some("consumer") => span::SpanKind::Consumer,
        Some("internal") => span::SpanKind::Internal,
        _ => span::SpanKind::Unspecified,
    };
    let error = match tags.iter().position(|t| t.key == "error" && t.value == Value::Bool(true)) {
        Some(i) => {
            tags.remove(i);
            true
        }
        None => false,
    };
    let mut take = |key: &str| tags.iter().position(|t| t.key == key).map(|i| tags.remove(i).value);
    let code = text(take("otel.status_code"));
    let description = text(take("otel.status_description"));
    let trace_state = text(take("w3c.tracestate")).unwrap_or_default();
    let find = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
    let http_message = text(find("http.status_message"));
    let status = if error {
        Some((StatusCode::Error, description.or(http_message).unwrap_or_default()))
    } else if let Some(code) = code {
        let code = match code.to_ascii_uppercase().as_str() {
            "OK" => StatusCode::Ok,
            "ERROR" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        Some((code, description.unwrap_or_default()))
    } else {
        let http = match find("http.status_code") {
            Some(Value::Long(code)) => Some(code),
            Some(Value::Str(code)) => code.parse().ok(),
            _ => None,
        };
        http.map(|code| {
            let failed = match code {
                400..=499 => kind != span::SpanKind::Server,
                100..=398 => false,
                _ => true,
            };
            let code = if failed { StatusCode::Error } else { StatusCode::Unset };
            (code, http_message.unwrap_or_default())
        })
    };
    let parent = if span.parent_span_id != [0; 8] {
        Some(span.parent_span_id)
    } else {
        let same = |follows: bool| {
            span.references
                .iter()
                .find(|r| r.trace_id == span.trace_id && r.follows_from == follows)
                .map(|r| r.span_id)
        };
        same(false).or_else(|| same(true))
    };
    let links = span
        .references
        .iter()
        .filter(|r| r.follows_from || Some(r.span_id) != parent)
        .map(|r| span::Link {
            trace_id: r.trace_id.to_vec(),
            span_id: r.span_id.to_vec(),
            attributes: vec![kv(
                "opentracing.ref_type",
                any_value::Value::StringValue(
                    if r.follows_from { "follows_from" } else { "child_of" }.into(),
                ),
            )],
            ..Default::default()
        })
        .collect();
    let events = span
        .logs
        .into_iter()
        .map(|log| {
            let mut fields = log.fields;
            let named = |key: &str| fields.iter().position(|f| f.key == key);
            let name = match named("event").or_else(|| named("message")) {
                Some(i) => match fields.remove(i).value {
                    Value::Str(name) => name,
                    other => display(&other),
                },
                None => String::new(),
            };
            span::Event {
                time_unix_nano: log.timestamp_nanos,
                name,
                attributes: fields.into_iter().map(attribute).collect(),
                ..Default::default()
            }
        })
        .collect();
    let otlp = OtlpSpan {
        trace_id: span.trace_id.to_vec(),
        span_id: span.span_id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        trace_state,
        flags: span.flags & 1,
        name: span.operation_name,
        kind: kind as i32,
        start_time_unix_nano: span.start_nanos,
        end_time_unix_nano: span.start_nanos.saturating_add(span.duration_nanos),
        attributes: tags.into_iter().map(attribute).collect(),
        events,
        links,
        status: status.map(|(code, message)| Status { code: code as i32, message }),
        ..Default::default()
    };
    (scope, otlp)
}

fn display(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        Value::Double(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Long(l) => l.to_string(),
        Value::Binary(b) => format!("{b:?}"),
    }
}

fn otlp_value(value: Value) -> any_value::Value {
    match value {
        Value::Str(s) => any_value::Value::StringValue(s),
        Value::Double(d) => any_value::Value::DoubleValue(d),
        Value::Bool(b) => any_value::Value::BoolValue(b),
        Value::Long(l) => any_value::Value::IntValue(l),
        Value::Binary(b) => any_value::Value::BytesValue(b),
    }
}

fn attribute(tag: Tag) -> KeyValue {
    kv(&tag.key, otlp_value(tag.value))
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
