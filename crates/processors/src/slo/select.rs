//! Which events an SLO counts, and in which group.

use super::config::{Selector, Slo};
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};

pub(super) fn text(value: Option<&AnyValue>) -> Option<String> {
    weir_otlp::attributes::text(value)
}

pub(super) fn has(attributes: &[KeyValue], key: &str, value: &str) -> bool {
    attributes.iter().any(|kv| kv.key == key && text(kv.value.as_ref()).as_deref() == Some(value))
}

pub(super) fn attributes_match(
    wanted: &std::collections::BTreeMap<String, String>,
    attributes: &[KeyValue],
) -> bool {
    wanted.iter().all(|(k, v)| has(attributes, k, v))
}

pub(super) fn group_of(
    keys: &[String],
    attributes: &[KeyValue],
    resource: &[KeyValue],
) -> Vec<(String, String)> {
    keys.iter()
        .map(|key| {
            let value = attributes
                .iter()
                .chain(resource)
                .find(|kv| &kv.key == key)
                .and_then(|kv| text(kv.value.as_ref()));
            (key.clone(), value.unwrap_or_default())
        })
        .collect()
}

pub(super) fn span_matches(selector: &Selector, span: &Span, resource: &[KeyValue]) -> bool {
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified).as_str_name();
    let status = StatusCode::try_from(span.status.as_ref().map_or(0, |s| s.code))
        .unwrap_or(StatusCode::Unset)
        .as_str_name();
    (selector.span_kind.is_empty()
        || selector.span_kind.iter().any(|k| kind == format!("SPAN_KIND_{k}")))
        && (selector.status_code.is_empty()
            || selector.status_code.iter().any(|c| status == format!("STATUS_CODE_{c}")))
        && attributes_match(&selector.attributes, &span.attributes)
        && attributes_match(&selector.resource, resource)
}

/// Whether a span is an event of the SLO: its `total` selector (server spans by default)
/// and its service.
pub(super) fn span_total(slo: &Slo, span: &Span, resource: &[KeyValue]) -> bool {
    let service_ok = slo.service.is_empty() || has(resource, "service.name", &slo.service);
    let total = &slo.indicator.total;
    if *total == Selector::default() {
        return service_ok && span.kind == SpanKind::Server as i32;
    }
    service_ok && span_matches(total, span, resource)
}
