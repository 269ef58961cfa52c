//! The Collector's legacy `include`/`exclude` match properties (`filterconfig.MatchProperties`):
//! which spans, log records and metrics a processor acts on. The `attributes` processor uses
//! them, and so can the `filter` processor's legacy `include`/`exclude`.
//!
//! **Configuration.** [`MatchProperties`] is one `include` or `exclude` as written;
//! [`MatchProperties::compile`] checks it (every problem, with its path) and compiles its
//! regular expressions once into a [`Matcher`]; [`Selector`] is an `include` and an `exclude`
//! together.
//!
//! **Matching**, as the Collector does it:
//! - `match_type: strict` compares for equality; `match_type: regexp` searches, unanchored, as
//!   Go's `regexp.MatchString` does (`^…$` anchors a pattern). `expr` is refused.
//! - Every property listed must match; an empty or absent list is not a condition.
//! - In `services`, `span_names`, `span_kinds`, `log_bodies`, `log_severity_texts`,
//!   `metric_names` and `libraries`, any entry matching is enough; in `attributes` and
//!   `resources`, every entry must match: its key must be present and, with a `value`, equal
//!   it (strict: same type and value) or match it (regexp: against the value's text; only
//!   strings, booleans and numbers have one).
//! - `services` reads the resource's `service.name` (`<nil-service-name>` when absent, as in
//!   the Collector); `span_kinds` compares `SPAN_KIND_SERVER`-style names; `log_bodies` the
//!   body as text (maps and arrays as JSON); `libraries` the instrumentation scope: name, and
//!   version when one is given (an empty `version` matches only an empty version).
//! - `log_severity_number: {min, match_undefined}` matches records at or above `min` (a
//!   number or a name such as `INFO` or `WARN2`); records without one match only with
//!   `match_undefined: true`.
//! - An item is selected when it matches `include` (if given) and does not match `exclude`
//!   (if given).
//!
//! **Signals.** `services`, `span_names` and `span_kinds` apply to spans, the `log_*`
//! properties to log records, `metric_names` to metrics, `attributes` to spans and log
//! records, `resources` and `libraries` to all three. A property an item does not have never
//! matches it: `include: {span_names: [...]}` selects no log record. Two properties that apply
//! to no common signal match nothing and are refused. Where the Collector ignores `resources`
//! for metrics (a known bug), weir applies them; [`MatchProperties::check_for`] reports what
//! the Collector refuses per signal, for components that know theirs. The `regexp` cache
//! options are accepted and have no effect: patterns are compiled once and need no cache.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, de};
use weir_core::ConfigError;
use weir_otlp::{
    Signal,
    proto::{
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
        logs::v1::LogRecord,
        resource::v1::Resource,
        trace::v1::{Span, span::SpanKind},
    },
};

/// One `include` or `exclude`, as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchProperties {
    /// `match_type`: `strict` or `regexp` (required).
    pub match_type: String,
    /// `regexp`: the Collector's cache options (accepted; weir needs no cache).
    pub regexp: Option<RegexpOptions>,
    /// `services`: the resource's `service.name`, any entry.
    pub services: Vec<String>,
    /// `span_names`: any entry.
    pub span_names: Vec<String>,
    /// `span_kinds`: `SPAN_KIND_SERVER`, ..., any entry.
    pub span_kinds: Vec<String>,
    /// `attributes`: the span's or log record's attributes, every entry.
    pub attributes: Vec<Attribute>,
    /// `resources`: the resource's attributes, every entry.
    pub resources: Vec<Attribute>,
    /// `libraries`: the instrumentation scope, any entry.
    pub libraries: Vec<Library>,
    /// `log_bodies`: the log record's body as text, any entry.
    pub log_bodies: Vec<String>,
    /// `log_severity_texts`: any entry.
    pub log_severity_texts: Vec<String>,
    /// `log_severity_number`: a lowest severity.
    pub log_severity_number: Option<SeverityNumber>,
    /// `metric_names`: any entry.
    pub metric_names: Vec<String>,
}

/// `regexp`: the Collector's match-result cache, which weir does not need.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexpOptions {
    /// `cacheenabled`.
    pub cacheenabled: bool,
    /// `cachemaxnumentries`.
    pub cachemaxnumentries: u64,
}

/// One entry of `attributes` or `resources`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    /// `key` (the Collector also reads `Key`).
    #[serde(alias = "Key")]
    pub key: String,
    /// `value`: absent, the key's presence is enough.
    #[serde(default, alias = "Value")]
    pub value: Option<ConfigValue>,
}

/// One entry of `libraries`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// `name`.
    #[serde(alias = "Name")]
    pub name: String,
    /// `version`: absent, any version.
    #[serde(default, alias = "Version")]
    pub version: Option<String>,
}

/// `log_severity_number`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityNumber {
    /// `min`: a severity number (0 to 24) or name (`INFO`, `warn2`, `SEVERITY_NUMBER_ERROR`).
    pub min: Option<ConfigValue>,
    /// `match_undefined`: whether records without a severity number match.
    pub match_undefined: bool,
}

/// A value written in the configuration, kept with its YAML type: `2245` is an int, `"2245"`
/// a string, `1.5` a double, `true` a bool; sequences and maps nest.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// A string.
    String(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// A sequence.
    Array(Vec<ConfigValue>),
    /// A map, in the order written.
    Map(Vec<(String, ConfigValue)>),
}

impl ConfigValue {
    /// The OTLP value it stands for.
    pub fn to_any_value(&self) -> AnyValue {
        let value = match self {
            ConfigValue::String(s) => any_value::Value::StringValue(s.clone()),
            ConfigValue::Int(i) => any_value::Value::IntValue(*i),
            ConfigValue::Double(d) => any_value::Value::DoubleValue(*d),
            ConfigValue::Bool(b) => any_value::Value::BoolValue(*b),
            ConfigValue::Array(values) => {
                any_value::Value::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
                    values: values.iter().map(ConfigValue::to_any_value).collect(),
                })
            }
            ConfigValue::Map(entries) => {
                any_value::Value::KvlistValue(weir_otlp::proto::common::v1::KeyValueList {
                    values: entries
                        .iter()
                        .map(|(key, value)| KeyValue {
                            key: key.clone(),
                            value: Some(value.to_any_value()),
                            ..KeyValue::default()
                        })
                        .collect(),
                })
            }
        };
        AnyValue { value: Some(value) }
    }

    /// Its type, in words for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ConfigValue::String(_) => "a string",
            ConfigValue::Int(_) => "an int",
            ConfigValue::Double(_) => "a double",
            ConfigValue::Bool(_) => "a bool",
            ConfigValue::Array(_) => "a sequence",
            ConfigValue::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<ConfigValue, D::Error> {
        deserializer.deserialize_any(ConfigValueVisitor)
    }
}

struct ConfigValueVisitor;

impl<'de> de::Visitor<'de> for ConfigValueVisitor {
    type Value = ConfigValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, number, bool, sequence or map")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfigValue, E> {
        i64::try_from(v)
            .map(ConfigValue::Int)
            .map_err(|_| E::custom(format!("{v} is out of range for a 64-bit signed integer")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigValue, E> {
        Ok(ConfigValue::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<ConfigValue, E> {
        Ok(ConfigValue::String(v))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ConfigValue, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(ConfigValue::Array(values))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ConfigValue, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, ConfigValue>()? {
            entries.push((key, value));
        }
        Ok(ConfigValue::Map(entries))
    }
}

/// Signals as a set of bits, for which properties apply to what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applies(u8);

impl Applies {
    const SPANS: Applies = Applies(1);
    const LOGS: Applies = Applies(2);
    const METRICS: Applies = Applies(4);
    const SPANS_AND_LOGS: Applies = Applies(1 | 2);
    const ALL: Applies = Applies(1 | 2 | 4);

    fn of(signal: Signal) -> Applies {
        match signal {
            Signal::Traces => Applies::SPANS,
            Signal::Logs => Applies::LOGS,
            Signal::Metrics => Applies::METRICS,
        }
    }

    fn and(self, other: Applies) -> Applies {
        Applies(self.0 & other.0)
    }

    fn contains(self, other: Applies) -> bool {
        self.0 & other.0 == other.0
    }

    fn describe(self) -> &'static str {
        match self.0 {
            1 => "spans",
            2 => "log records",
            4 => "metrics",
            3 => "spans and log records",
            _ => "every signal",
        }
    }
}

/// The properties of the Collector's span kinds (`traceutil.SpanKindStr`), sorted.
const SPAN_KINDS: [&str; 5] = [
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_CONSUMER",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_SERVER",
];

/// What the Collector compares `services` with when a resource has no `service.name`.
const NIL_SERVICE_NAME: &str = "<nil-service-name>";

impl MatchProperties {
    /// The properties listed, each with the signals it applies to.
    fn listed(&self) -> Vec<(&'static str, Applies)> {
        let mut listed = Vec::new();
        let mut add = |name, set: bool, applies| {
            if set {
                listed.push((name, applies));
            }
        };
        add("services", !self.services.is_empty(), Applies::SPANS);
        add("span_names", !self.span_names.is_empty(), Applies::SPANS);
        add("span_kinds", !self.span_kinds.is_empty(), Applies::SPANS);
        add("attributes", !self.attributes.is_empty(), Applies::SPANS_AND_LOGS);
        add("resources", !self.resources.is_empty(), Applies::ALL);
        add("libraries", !self.libraries.is_empty(), Applies::ALL);
        add("log_bodies", !self.log_bodies.is_empty(), Applies::LOGS);
        add("log_severity_texts", !self.log_severity_texts.is_empty(), Applies::LOGS);
        add("log_severity_number", self.log_severity_number.is_some(), Applies::LOGS);
        add("metric_names", !self.metric_names.is_empty(), Applies::METRICS);
        listed
    }

    /// What the Collector refuses for a processor of `signal` alone (its `ValidateForSpans`
    /// and `ValidateForLogs`, and the properties it ignores for metrics): properties that do
    /// not apply to that signal, or none that does.
    pub fn check_for(&self, signal: Signal) -> Vec<ConfigError> {
        let signal = Applies::of(signal);
        let listed = self.listed();
        let mut errors = Vec::new();
        for (name, applies) in &listed {
            if !applies.contains(signal) {
                errors.push(ConfigError::new(
                    *name,
                    format!(
                        "does not apply to {}, only to {}",
                        signal.describe(),
                        applies.describe()
                    ),
                ));
            }
        }
        if listed.is_empty() {
            errors.push(ConfigError::new("", "must list at least one property to match"));
        }
        errors
    }

    /// Checks the properties and compiles them; every problem comes with its path below the
    /// `include` or `exclude` (`services[1]`, `attributes[0].value`, or empty for the whole).
    pub fn compile(&self) -> Result<Matcher, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let regexp = match self.match_type.as_str() {
            "strict" => false,
            "regexp" => true,
            "" => {
                errors.push(ConfigError::new("match_type", "must be set: strict or regexp"));
                false
            }
            "expr" => {
                errors.push(ConfigError::new(
                    "match_type",
                    "expr is not supported: use strict or regexp (or OTTL conditions where \
                     the component offers them)",
                ));
                false
            }
            other => {
                errors.push(ConfigError::new(
                    "match_type",
                    format!("unknown match type {other:?}: expected strict or regexp"),
                ));
                false
            }
        };
        let listed = self.listed();
        let mut applies = Applies::ALL;
        for (_, a) in &listed {
            applies = applies.and(*a);
        }
        if listed.is_empty() {
            errors.push(ConfigError::new(
                "",
                "must list at least one of services, span_names, span_kinds, attributes, \
                 resources, libraries, log_bodies, log_severity_texts, log_severity_number or \
                 metric_names",
            ));
        } else if applies.0 == 0 {
            errors.push(ConfigError::new("", disjoint(&listed)));
        }
        let mut patterns = |name: &str, list: &[String]| -> Vec<Pattern> {
            let mut out = Vec::with_capacity(list.len());
            for (i, text) in list.iter().enumerate() {
                match Pattern::new(text, regexp) {
                    Ok(p) => out.push(p),
                    Err(message) => errors.push(ConfigError::new(format!("{name}[{i}]"), message)),
                }
            }
            out
        };
        let services = patterns("services", &self.services);
        let span_names = patterns("span_names", &self.span_names);
        let span_kinds = patterns("span_kinds", &self.span_kinds);
        let log_bodies = patterns("log_bodies", &self.log_bodies);
        let log_severity_texts = patterns("log_severity_texts", &self.log_severity_texts);
        let metric_names = patterns("metric_names", &self.metric_names);
        if self.match_type == "strict" {
            for (i, kind) in self.span_kinds.iter().enumerate() {
                if !SPAN_KINDS.contains(&kind.as_str()) {
                    errors.push(ConfigError::new(
                        format!("span_kinds[{i}]"),
                        format!(
                            "unknown span kind {kind:?}: expected one of {} with match_type strict",
                            SPAN_KINDS.join(", ")
                        ),
                    ));
                }
            }
        }
        let attributes = attribute_matches("attributes", &self.attributes, regexp, &mut errors);
        let resources = attribute_matches("resources", &self.resources, regexp, &mut errors);
        let mut libraries = Vec::new();
        for (i, library) in self.libraries.iter().enumerate() {
            let name = Pattern::new(&library.name, regexp);
            let version = library.version.as_deref().map(|v| Pattern::new(v, regexp)).transpose();
            match (name, version) {
                (Ok(name), Ok(version)) => libraries.push(LibraryMatch { name, version }),
                (Err(message), _) => {
                    errors.push(ConfigError::new(format!("libraries[{i}].name"), message))
                }
                (_, Err(message)) => {
                    errors.push(ConfigError::new(format!("libraries[{i}].version"), message))
                }
            }
        }
        let severity = match &self.log_severity_number {
            None => None,
            Some(s) => match severity_min(s.min.as_ref()) {
                Ok(min) => Some(SeverityMatch { min, match_undefined: s.match_undefined }),
                Err(message) => {
                    errors.push(ConfigError::new("log_severity_number.min", message));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Matcher {
            applies,
            services,
            span_names,
            span_kinds,
            attributes,
            resources,
            libraries,
            log_bodies,
            log_severity_texts,
            severity,
            metric_names,
        })
    }
}

/// The message for properties of no common signal, naming two of them.
fn disjoint(listed: &[(&'static str, Applies)]) -> String {
    for (i, (a, applies_a)) in listed.iter().enumerate() {
        for (b, applies_b) in &listed[i + 1..] {
            if applies_a.and(*applies_b).0 == 0 {
                return format!(
                    "{a} applies to {} and {b} to {}: together they match nothing",
                    applies_a.describe(),
                    applies_b.describe()
                );
            }
        }
    }
    "the properties apply to no common signal: together they match nothing".to_owned()
}

fn attribute_matches(
    name: &str,
    attributes: &[Attribute],
    regexp: bool,
    errors: &mut Vec<ConfigError>,
) -> Vec<AttributeMatch> {
    let mut out = Vec::with_capacity(attributes.len());
    for (i, attribute) in attributes.iter().enumerate() {
        if attribute.key.is_empty() {
            errors.push(ConfigError::new(format!("{name}[{i}].key"), "must be set"));
            continue;
        }
        let value = match (&attribute.value, regexp) {
            (None, _) => ValueMatch::Present,
            (Some(value), false) => ValueMatch::Equal(value.to_any_value()),
            (Some(ConfigValue::String(pattern)), true) => match Pattern::new(pattern, true) {
                Ok(Pattern::Regexp(regex)) => ValueMatch::Regexp(regex),
                Ok(Pattern::Strict(_)) => unreachable!("a regexp pattern"),
                Err(message) => {
                    errors.push(ConfigError::new(format!("{name}[{i}].value"), message));
                    continue;
                }
            },
            (Some(other), true) => {
                errors.push(ConfigError::new(
                    format!("{name}[{i}].value"),
                    format!("match_type regexp needs a string pattern, not {}", other.type_name()),
                ));
                continue;
            }
        };
        out.push(AttributeMatch { key: attribute.key.clone(), value });
    }
    out
}

/// The lowest severity number of `min` (absent: 0).
fn severity_min(min: Option<&ConfigValue>) -> Result<i32, String> {
    match min {
        None => Ok(0),
        Some(ConfigValue::Int(n)) if (0..=24).contains(n) => Ok(*n as i32),
        Some(ConfigValue::Int(n)) => Err(format!("{n} is not a severity number: expected 0 to 24")),
        Some(ConfigValue::String(name)) => severity_by_name(name).ok_or_else(|| {
            format!(
                "unknown severity {name:?}: expected a number (0 to 24) or a name such as \
                 TRACE, DEBUG2, INFO, WARN, ERROR or FATAL4"
            )
        }),
        Some(other) => {
            Err(format!("expected a severity number or name, not {}", other.type_name()))
        }
    }
}

/// `INFO` → 9, `warn2` → 14, `SEVERITY_NUMBER_ERROR` → 17, `UNSPECIFIED` → 0.
fn severity_by_name(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let name = upper.strip_prefix("SEVERITY_NUMBER_").unwrap_or(&upper);
    if name == "UNSPECIFIED" || name == "UNDEFINED" {
        return Some(0);
    }
    let bases =
        [("TRACE", 1), ("DEBUG", 5), ("INFO", 9), ("WARN", 13), ("ERROR", 17), ("FATAL", 21)];
    for (base, number) in bases {
        let Some(rest) = name.strip_prefix(base) else { continue };
        return match rest {
            "" => Some(number),
            "2" => Some(number + 1),
            "3" => Some(number + 2),
            "4" => Some(number + 3),
            _ => None,
        };
    }
    None
}

/// One entry of a list: a string to equal or a pattern to find.
#[derive(Debug, Clone)]
enum Pattern {
    Strict(String),
    Regexp(Regex),
}

impl Pattern {
    fn new(text: &str, regexp: bool) -> Result<Pattern, String> {
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
fn any(patterns: &[Pattern], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(text))
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Present,
    Equal(AnyValue),
    Regexp(Regex),
}

#[derive(Debug, Clone)]
struct AttributeMatch {
    key: String,
    value: ValueMatch,
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
struct LibraryMatch {
    name: Pattern,
    version: Option<Pattern>,
}

#[derive(Debug, Clone, Copy)]
struct SeverityMatch {
    min: i32,
    match_undefined: bool,
}

/// One `include` or `exclude`, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    applies: Applies,
    services: Vec<Pattern>,
    span_names: Vec<Pattern>,
    span_kinds: Vec<Pattern>,
    attributes: Vec<AttributeMatch>,
    resources: Vec<AttributeMatch>,
    libraries: Vec<LibraryMatch>,
    log_bodies: Vec<Pattern>,
    log_severity_texts: Vec<Pattern>,
    severity: Option<SeverityMatch>,
    metric_names: Vec<Pattern>,
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

fn service_name(resource: Option<&Resource>) -> String {
    let attributes = resource.map_or(&[][..], |r| &r.attributes[..]);
    match attributes.iter().find(|kv| kv.key == "service.name") {
        Some(kv) => go_string(kv.value.as_ref()),
        None => NIL_SERVICE_NAME.to_owned(),
    }
}

/// Strict equality of a configured value and an attribute's: same type and value (maps
/// regardless of key order).
fn same_value(expected: &AnyValue, actual: &AnyValue) -> bool {
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
fn scalar_text(value: Option<&AnyValue>) -> Option<String> {
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
fn go_float(d: f64) -> String {
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

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's `json.Marshal` of a value's raw form: maps with sorted keys (the last of duplicate
/// keys wins), bytes in base64, HTML characters escaped; `Err` on NaN or an infinity.
fn write_json(out: &mut String, value: Option<&any_value::Value>) -> Result<(), ()> {
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

fn write_json_string(out: &mut String, s: &str) {
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

#[cfg(test)]
mod tests;
