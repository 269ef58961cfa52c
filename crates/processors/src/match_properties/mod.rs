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

mod config;
mod matcher;

pub use config::{Attribute, ConfigValue, Library, MatchProperties, RegexpOptions, SeverityNumber};
pub(crate) use matcher::go_string;
use matcher::{AttributeMatch, LibraryMatch, Pattern, SeverityMatch, ValueMatch};
pub use matcher::{Matcher, Selector};

use weir_core::ConfigError;
use weir_otlp::Signal;

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

#[cfg(test)]
mod tests;
