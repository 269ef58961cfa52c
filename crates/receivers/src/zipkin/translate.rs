//! Zipkin spans as OTLP, per the Collector's Zipkin translator:
//!
//! - resources by local service (`service.name`), with the tags that are resource attributes
//!   by the semantic conventions (`telemetry.sdk.*`, `host.*`, `k8s.*`, ...), which SDKs'
//!   Zipkin exporters copy onto every span;
//! - scopes from `otel.scope.name`/`version` (or the older `otel.library.*`);
//! - kind from `kind` (`span.kind: internal` for internal spans); times from microseconds
//!   (no timestamp: start 0 and `otel.zipkin.absentField.startTime`);
//! - status from `otel.status_code` (`OK`/`ERROR` as SDKs send them, `Ok`/`Error`, the
//!   `STATUS_CODE_*` names) and `otel.status_description`, and an `error` tag, which is an
//!   error whose message is the tag's value;
//! - endpoints as `network.local.address`/`port`, `network.peer.address`/`port`,
//!   `service.peer.name`; annotations as events (a `{"name": {attributes}}` value, as the
//!   OpenTelemetry SDKs write events, gives the event's name and attributes);
//! - with `parse_string_tags`, tags that read as integers, doubles or booleans typed so.

use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span, status::StatusCode},
};

use super::model::{Kind, Span};

/// Whether a tag is a resource attribute (the semantic conventions' resource attributes, as
/// the Collector's translator lists them). A `match` compiles to a switch on the length and a
/// comparison, not a scan of the list: this runs for every tag of every span.
fn is_resource_key(key: &str) -> bool {
    matches!(
        key,
        "service.name"
            | "service.namespace"
            | "service.instance.id"
            | "service.version"
            | "telemetry.sdk.name"
            | "telemetry.sdk.language"
            | "telemetry.sdk.version"
            | "telemetry.auto.version"
            | "cloud.provider"
            | "cloud.account.id"
            | "cloud.region"
            | "cloud.availability_zone"
            | "cloud.platform"
            | "aws.eks.cluster.arn"
            | "container.name"
            | "container.id"
            | "container.runtime"
            | "container.image.name"
            | "container.image.tag"
            | "deployment.environment"
            | "deployment.environment.name"
            | "device.id"
            | "device.model.identifier"
            | "device.model.name"
            | "faas.name"
            | "faas.id"
            | "faas.version"
            | "faas.instance"
            | "faas.max_memory"
            | "host.id"
            | "host.name"
            | "host.type"
            | "host.arch"
            | "host.image.name"
            | "host.image.id"
            | "host.image.version"
            | "k8s.cluster.name"
            | "k8s.node.name"
            | "k8s.node.uid"
            | "k8s.namespace.name"
            | "k8s.pod.uid"
            | "k8s.pod.name"
            | "k8s.container.name"
            | "k8s.replicaset.uid"
            | "k8s.replicaset.name"
            | "k8s.deployment.uid"
            | "k8s.deployment.name"
            | "k8s.statefulset.uid"
            | "k8s.statefulset.name"
            | "k8s.daemonset.uid"
            | "k8s.daemonset.name"
            | "k8s.job.uid"
            | "k8s.job.name"
            | "k8s.cronjob.uid"
            | "k8s.cronjob.name"
            | "os.type"
            | "os.description"
            | "os.name"
            | "os.version"
            | "process.pid"
            | "process.executable.name"
            | "process.executable.path"
            | "process.command"
            | "process.command_line"
            | "process.command_args"
            | "process.owner"
            | "process.runtime.name"
            | "process.runtime.version"
            | "process.runtime.description"
            | "webengine.name"
            | "webengine.version"
            | "webengine.description"
            | "opencensus.starttime"
            | "opencensus.exporterversion"
            | "opencensus.resourcetype"
    ) || key.starts_with("aws.ecs.")
        || key.starts_with("aws.log.")
}

/// One resource's key: its service and resource tags.
type ResourceKey = (Option<String>, Vec<(String, String)>);
/// One scope's key: name and version.
type ScopeKey = (String, String);
/// A resource's spans by scope.
type Scopes = Vec<(ScopeKey, Vec<OtlpSpan>)>;

/// `spans` as OTLP resources.
pub(crate) fn to_otlp(spans: Vec<Span>, parse_string_tags: bool) -> Vec<ResourceSpans> {
    let mut resources: Vec<(ResourceKey, Scopes)> = Vec::new();
    for span in spans {
        let (resource, scope, otlp) = convert(span, parse_string_tags);
        let at = match resources.iter().position(|(key, _)| *key == resource) {
            Some(at) => at,
            None => {
                resources.push((resource, Vec::new()));
                resources.len() - 1
            }
        };
        let scopes = &mut resources[at].1;
        match scopes.iter_mut().find(|(key, _)| *key == scope) {
            Some((_, spans)) => spans.push(otlp),
            None => scopes.push((scope, vec![otlp])),
        }
    }
    resources
        .into_iter()
        .map(|((service, tags), scopes)| {
            let mut attributes: Vec<KeyValue> = Vec::new();
            if let Some(service) = service {
                attributes.push(text("service.name", service));
            }
            for (key, value) in tags {
                match attributes.iter_mut().find(|a| a.key == key) {
                    Some(existing) => *existing = text(&key, value),
                    None => attributes.push(text(&key, value)),
                }
            }
            ResourceSpans {
                resource: Some(Resource { attributes, ..Default::default() }),
                scope_spans: scopes
                    .into_iter()
                    .map(|((name, version), spans)| ScopeSpans {
                        scope: Some(InstrumentationScope { name, version, ..Default::default() }),
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect()
}

fn convert(span: Span, parse: bool) -> (ResourceKey, ScopeKey, OtlpSpan) {
    let mut tags = span.tags;
    let mut take = |key: &str| tags.iter().position(|(k, _)| k == key).map(|i| tags.remove(i).1);
    let scope_name = take("otel.scope.name");
    let scope_version = take("otel.scope.version");
    let library_name = take("otel.library.name");
    let library_version = take("otel.library.version");
    let scope = match scope_name {
        Some(name) => (name, scope_version.unwrap_or_default()),
        None => (library_name.unwrap_or_default(), library_version.unwrap_or_default()),
    };
    let kind_tag = take("span.kind");
    let kind = match (span.kind, kind_tag.as_deref()) {
        (Some(Kind::Client), _) => span::SpanKind::Client,
        (Some(Kind::Server), _) => span::SpanKind::Server,
        (Some(Kind::Producer), _) => span::SpanKind::Producer,
        (Some(Kind::Consumer), _) => span::SpanKind::Consumer,
        (None, Some("internal")) => span::SpanKind::Internal,
        (None, _) => span::SpanKind::Unspecified,
    };
    let status = status(&mut take);
    let trace_state = take("w3c.tracestate").unwrap_or_default();
    let mut resource_tags = Vec::new();
    let mut attributes = Vec::new();
    for (key, value) in tags {
        if is_resource_key(&key) {
            if key != "service.name"
                || span.local.as_ref().and_then(|l| l.service_name.as_ref()).is_none()
            {
                resource_tags.push((key, value));
            }
        } else if parse {
            attributes.push(typed(&key, &value));
        } else {
            attributes.push(owned(key, value));
        }
    }
    resource_tags.sort();
    let service = span.local.as_ref().and_then(|l| l.service_name.clone());
    for (prefix, endpoint) in [("local", &span.local), ("peer", &span.remote)] {
        let Some(endpoint) = endpoint else { continue };
        if let Some(address) = &endpoint.address {
            attributes.push(text(&format!("network.{prefix}.address"), address.clone()));
        }
        if let Some(port) = endpoint.port {
            attributes.push(int(&format!("network.{prefix}.port"), i64::from(port)));
        }
    }
    if let Some(peer) = span.remote.as_ref().and_then(|r| r.service_name.clone()) {
        attributes.push(text("service.peer.name", peer));
    }
    let start = span.timestamp.unwrap_or(0).saturating_mul(1000);
    if span.timestamp.is_none() {
        attributes.push(KeyValue {
            key: "otel.zipkin.absentField.startTime".into(),
            value: Some(AnyValue { value: Some(Value::BoolValue(true)) }),
            ..Default::default()
        });
    }
    let events = span.annotations.into_iter().map(|(at, value)| event(at, value)).collect();
    let otlp = OtlpSpan {
        trace_id: span.trace_id.to_vec(),
        span_id: span.id.to_vec(),
        parent_span_id: span.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
        trace_state,
        name: span.name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(span.duration.saturating_mul(1000)),
        attributes,
        events,
        status,
        ..Default::default()
    };
    ((service, resource_tags), scope, otlp)
}

fn status(take: &mut impl FnMut(&str) -> Option<String>) -> Option<Status> {
    let code = take("otel.status_code");
    let description = take("otel.status_description");
    let error = take("error");
    let mut status = code.map(|code| {
        let code = match code.to_ascii_lowercase().trim_start_matches("status_code_") {
            "ok" => StatusCode::Ok,
            "error" => StatusCode::Error,
            _ => StatusCode::Unset,
        };
        Status { code: code as i32, message: description.clone().unwrap_or_default() }
    });
    if let Some(error) = error {
        let message = match error.as_str() {
            "" | "true" => description.unwrap_or_default(),
            text => text.to_owned(),
        };
        status = Some(Status { code: StatusCode::Error as i32, message });
    }
    status
}

/// An annotation as an event: `{"name": {attributes}}` (the OpenTelemetry SDKs' Zipkin
/// exporters), `name|{attributes}|dropped` (the Collector's), or the value as the name.
fn event(at: u64, value: String) -> span::Event {
    let time_unix_nano = at.saturating_mul(1000);
    if value.starts_with('{')
        && let Ok(serde_json::Value::Object(outer)) = serde_json::from_str(&value)
        && outer.len() == 1
        && let Some((name, serde_json::Value::Object(fields))) = outer.into_iter().next()
    {
        let attributes = fields.into_iter().map(|(k, v)| json_attribute(k, v)).collect();
        return span::Event { time_unix_nano, name, attributes, ..Default::default() };
    }
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3
        && let Ok(serde_json::Value::Object(fields)) =
            serde_json::from_str(&parts[1..parts.len() - 1].join("|"))
        && let Ok(dropped) = parts[parts.len() - 1].parse::<u32>()
    {
        let attributes = fields.into_iter().map(|(k, v)| json_attribute(k, v)).collect();
        let name = parts[0].to_owned();
        return span::Event { time_unix_nano, name, attributes, dropped_attributes_count: dropped };
    }
    span::Event { time_unix_nano, name: value, ..Default::default() }
}

fn json_attribute(key: String, value: serde_json::Value) -> KeyValue {
    let value = match value {
        serde_json::Value::String(s) => Value::StringValue(s),
        serde_json::Value::Bool(b) => Value::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        other => Value::StringValue(other.to_string()),
    };
    KeyValue { key, value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn owned(key: String, value: String) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue { value: Some(Value::StringValue(value)) }),
        ..Default::default()
    }
}

fn text(key: &str, value: String) -> KeyValue {
    owned(key.to_owned(), value)
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(Value::IntValue(value)) }),
        ..Default::default()
    }
}

/// A tag typed as `parse_string_tags` reads it: integer, double, boolean, else text.
fn typed(key: &str, value: &str) -> KeyValue {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let parsed = if digits(unsigned) {
        value.parse::<i64>().ok().map(Value::IntValue)
    } else if let Some((whole, fraction)) = unsigned.split_once('.')
        && digits(whole)
        && digits(fraction)
    {
        value.parse::<f64>().ok().map(Value::DoubleValue)
    } else {
        match value {
            "true" => Some(Value::BoolValue(true)),
            "false" => Some(Value::BoolValue(false)),
            _ => None,
        }
    };
    match parsed {
        Some(value) => KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        },
        None => text(key, value.to_owned()),
    }
}
