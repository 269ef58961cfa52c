//! `include` and `exclude` compiled: what an item is tested against.

use std::collections::BTreeMap;

use regex::Regex;
use weir_core::ConfigError;
use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    logs::v1::LogRecord,
    resource::v1::Resource,
    trace::v1::{Span, span::SpanKind},
};

use super::*;

/// One entry of a list: a string to equal or a pattern to find.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    Strict(String),
    Regexp(Regex),
}

impl Pattern {
    pub(super) fn new(text: &str, regexp: bool) -> Result<Pattern, String> {
        if !regexp {
            return Ok(Pattern::Strict(text.to_owned()));
        }
        Regex::new(text)
            .map(Pattern::Regexp)
            .map_err(|e| format!("invalid regular expression {text:?}: {e}"))
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Strict(s) => s == text,
            Pattern::Regexp(r) => r.is_match(text),
        }
    }
}

/// Whether any of `patterns` matches `text`; an empty list is no condition.
pub(super) fn any(patterns: &[Pattern], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(text))
}

#[derive(Debug, Clone)]
pub(super) enum ValueMatch {
    Present,
    Equal(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
pub(super) struct AttributeMatch {
    pub(super) key: String,
    pub(super) value: ValueMatch,
}

impl AttributeMatch {
    fn matches(&self, attributes: &[KeyValue]) -> bool {
        let Some(kv) = attributes.iter().find(|kv| kv.key == self.key) else { return false };
        match &self.value {
            ValueMatch::Present => true,
            ValueMatch::Equal(expected) => {
                kv.value.as_ref().is_some_and(|v| same_value(expected, v))
            }
            ValueMatch::Regexp(regex) => {
                scalar_text(kv.value.as_ref()).is_some_and(|text| regex.is_match(&text))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct LibraryMatch {
    pub(super) name: Pattern,
    pub(super) version: Option<Pattern>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct SeverityMatch {
    pub(super) min: i32,
    pub(super) match_undefined: bool,
}

/// One `include` or `exclude`, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub(super) applies: Applies,
    pub(super) services: Vec<Pattern>,
    pub(super) span_names: Vec<Pattern>,
    pub(super) span_kinds: Vec<Pattern>,
    pub(super) attributes: Vec<AttributeMatch>,
    pub(super) resources: Vec<AttributeMatch>,
    pub(super) libraries: Vec<LibraryMatch>,
    pub(super) log_bodies: Vec<Pattern>,
    pub(super) log_severity_texts: Vec<Pattern>,
    pub(super) severity: Option<SeverityMatch>,
    pub(super) metric_names: Vec<Pattern>,
}

impl Matcher {
    /// Whether `span`, under `resource` and `scope`, has every property listed.
    pub fn matches_span(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if !self.applies.contains(Applies::SPANS) {
            return false;
        }
        if !self.services.is_empty() && !any(&self.services, &service_name(resource)) {
            return false;
        }
        let kind = SpanKind::try_from(span.kind).map_or("", |k| k.as_str_name());
        any(&self.span_names, &span.name)
            && any(&self.span_kinds, kind)
            && self.common(resource, scope, &span.attributes)
    }

    /// Whether `record`, under `resource` and `scope`, has every property listed.
    pub fn matches_log(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        record: &LogRecord,
    ) -> bool {
        if !self.applies.contains(Applies::LOGS) {
            return false;
        }
        if !self.log_bodies.is_empty() && !any(&self.log_bodies, &go_string(record.body.as_ref())) {
            return false;
        }
        if let Some(severity) = self.severity {
            let matched = match record.severity_number {
                0 => severity.match_undefined,
                n => n >= severity.min,
            };
            if !matched {
                return false;
            }
        }
        any(&self.log_severity_texts, &record.severity_text)
            && self.common(resource, scope, &record.attributes)
    }

    /// Whether the metric named `name`, under `resource` and `scope`, has every property
    /// listed.
    pub fn matches_metric(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        name: &str,
    ) -> bool {
        self.applies.contains(Applies::METRICS)
            && any(&self.metric_names, name)
            && self.common(resource, scope, &[])
    }

    /// `libraries`, `resources` and `attributes` (never listed for metrics, which pass none).
    fn common(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        attributes: &[KeyValue],
    ) -> bool {
        if !self.libraries.is_empty() {
            let (name, version) = scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
            let library = |l: &LibraryMatch| {
                l.name.matches(name) && l.version.as_ref().is_none_or(|v| v.matches(version))
            };
            if !self.libraries.iter().any(library) {
                return false;
            }
        }
        let resource_attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
        self.resources.iter().all(|m| m.matches(resource_attributes))
            && self.attributes.iter().all(|m| m.matches(attributes))
    }
}

/// `include` and `exclude` together: an item is selected when it matches `include` (if any)
/// and does not match `exclude` (if any).
#[derive(Debug, Clone, Default)]
pub struct Selector {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl Selector {
    /// Compiles `include` and `exclude`; problems have paths from `include` or `exclude`.
    pub fn new(
        include: Option<&MatchProperties>,
        exclude: Option<&MatchProperties>,
    ) -> Result<Selector, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut compile = |properties: Option<&MatchProperties>, prefix: &str| match properties
            .map(MatchProperties::compile)
            .transpose()
        {
            Ok(matcher) => matcher,
            Err(e) => {
                errors.extend(e.into_iter().map(|e| e.under(prefix)));
                None
            }
        };
        let include = compile(include, "include");
        let exclude = compile(exclude, "exclude");
        if errors.is_empty() { Ok(Selector { include, exclude }) } else { Err(errors) }
    }

    /// Whether every item is selected (neither `include` nor `exclude`).
    pub fn selects_all(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// Whether `span` is selected.
    pub fn span(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches_span(resource, scope, span))
            && !self.exclude.as_ref().is_some_and(|m| m.matches_span(resource, scope, span))
    }

    /// Whether `record` is selected.
    pub fn log(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        record: &LogRecord,
    ) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches_log(resource, scope, record))
            && !self.exclude.as_ref().is_some_and(|m| m.matches_log(resource, scope, record))
    }

    /// Whether the metric named `name` is selected.
    pub fn metric(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        name: &str,
    ) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches_metric(resource, scope, name))
            && !self.exclude.as_ref().is_some_and(|m| m.matches_metric(resource, scope, name))
    }
}

pub(super) fn service_name(resource: Option<&Resource>) -> String {
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    match attributes.iter().find(|kv| kv.key == "service.name") {
        Some(kv) => go_string(kv.value.as_ref()),
        None => NIL_SERVICE_NAME.to_owned(),
    }
}

/// Strict equality of a configured value and an attribute's: same type and value (maps
/// regardless of key order).
pub(super) fn same_value(expected: &AnyValue, actual: &AnyValue) -> bool {
    use any_value::Value as V;
    match (&expected.value, &actual.value) {
        (Some(V::ArrayValue(a)), Some(V::ArrayValue(b))) => {
            a.values.len() == b.values.len()
                && a.values.iter().zip(&b.values).all(|(a, b)| same_value(a, b))
        }
        (Some(V::KvlistValue(a)), Some(V::KvlistValue(b))) => {
            a.values.len() == b.values.len()
                && a.values.iter().all(|kv| {
                    b.values.iter().any(|other| {
                        other.key == kv.key
                            && match (&kv.value, &other.value) {
                                (Some(x), Some(y)) => same_value(x, y),
                                (x, y) => {
                                    x.as_ref().and_then(|v| v.value.as_ref()).is_none()
                                        && y.as_ref().and_then(|v| v.value.as_ref()).is_none()
                                }
                            }
                    })
                })
        }
        (a, b) => a == b,
    }
}

/// The text a `regexp` attribute match reads (the Collector's `attributeStringValue`):
/// strings, booleans, integers and doubles (in plain decimal); none for other types.
pub(super) fn scalar_text(value: Option<&AnyValue>) -> Option<String> {
    use any_value::Value as V;
    match value?.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::BoolValue(b) => Some(b.to_string()),
        V::IntValue(i) => Some(i.to_string()),
        V::DoubleValue(d) if d.is_nan() => Some("NaN".to_owned()),
        V::DoubleValue(d) if d.is_infinite() => {
            Some(if *d > 0.0 { "+Inf" } else { "-Inf" }.to_owned())
        }
        V::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// A value as text, as the Collector's `pcommon.Value.AsString` writes it: strings as they
/// are, doubles as JavaScript does (`1e+21`, `1e-7`), bytes in base64, maps and arrays as
/// Go's JSON (keys sorted), nothing as the empty string.
pub(crate) fn go_string(value: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    let Some(value) = value.and_then(|v| v.value.as_ref()) else { return String::new() };
    match value {
        V::StringValue(s) => s.clone(),
        V::BoolValue(b) => b.to_string(),
        V::IntValue(i) => i.to_string(),
        V::DoubleValue(d) if !d.is_finite() => {
            let text = if d.is_nan() {
                "NaN"
            } else if *d > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            format!("json: unsupported value: {text}")
        }
        V::DoubleValue(d) => go_float(*d),
        V::BytesValue(bytes) => base64_std(bytes),
        V::StringValueStrindex(i) => i.to_string(),
        V::ArrayValue(_) | V::KvlistValue(_) => {
            let mut out = String::new();
            // Go's json.Marshal fails on NaN and infinities, and the Collector then writes
            // the empty string.
            match write_json(&mut out, Some(value)) {
                Ok(()) => out,
                Err(()) => String::new(),
            }
        }
    }
}

/// A finite double as ECMAScript writes numbers (Go's JSON encoding): plain decimal from
/// 1e-6 up to 1e21, else exponent form with a sign (`1e+21`, `1.5e-7`).
pub(super) fn go_float(d: f64) -> String {
    let abs = d.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return d.to_string();
    }
    let text = format!("{d:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

pub(super) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's `json.Marshal` of a value's raw form: maps with sorted keys (the last of duplicate
/// keys wins), bytes in base64, HTML characters escaped; `Err` on NaN or an infinity.
pub(super) fn write_json(out: &mut String, value: Option<&any_value::Value>) -> Result<(), ()> {
    use any_value::Value as V;
    match value {
        None => out.push_str("null"),
        Some(V::StringValue(s)) => write_json_string(out, s),
        Some(V::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(V::IntValue(i)) => out.push_str(&i.to_string()),
        Some(V::StringValueStrindex(i)) => out.push_str(&i.to_string()),
        Some(V::DoubleValue(d)) if !d.is_finite() => return Err(()),
        Some(V::DoubleValue(d)) => out.push_str(&go_float(*d)),
        Some(V::BytesValue(bytes)) => write_json_string(out, &base64_std(bytes)),
        Some(V::ArrayValue(array)) => {
            out.push('[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, v.value.as_ref())?;
            }
            out.push(']');
        }
        Some(V::KvlistValue(list)) => {
            let sorted: BTreeMap<&str, Option<&any_value::Value>> = list
                .values
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_ref().and_then(|v| v.value.as_ref())))
                .collect();
            out.push('{');
            for (i, (key, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

pub(super) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
