//! The OpenTelemetry Transformation Language (OTTL): statements such as
//! `set(attributes["env"], "prod") where resource.attributes["service.name"] == "api"` and
//! conditions such as `IsMatch(name, "^GET /health")`, compiled once (parsed, paths resolved
//! against their context, functions bound, regular expressions compiled) and then run on OTLP
//! items with no parsing per item.
//!
//! Follows the Collector's language definition (`pkg/ottl`): its grammar, contexts and paths,
//! comparison rules and function reference. A mistake is an [`Error`] with the column it was
//! found at; a failure while running is an [`EvalError`], which the components handle by their
//! [`ErrorMode`]. No runtime, no IO: the crate depends on `weir-otlp` only.

mod enums;
mod funcs;
mod path;
mod program;
mod record;
mod syntax;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

pub use program::{Condition, Getter, Statement, condition, getter, statement};
pub use record::{Record, Visit, visit_resource, walk};
pub use value::Value;
pub use weir_otlp::Signal;

/// A context: the kind of item statements run on, and the paths they can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `resource`: each resource.
    Resource,
    /// `scope` (`instrumentation_scope`): each instrumentation scope.
    Scope,
    /// `span`.
    Span,
    /// `spanevent`.
    SpanEvent,
    /// `metric`.
    Metric,
    /// `datapoint`.
    DataPoint,
    /// `log`.
    Log,
}

impl Context {
    /// Every context.
    pub const ALL: [Context; 7] = [
        Context::Resource,
        Context::Scope,
        Context::Span,
        Context::SpanEvent,
        Context::Metric,
        Context::DataPoint,
        Context::Log,
    ];

    /// Its name in configurations (`context: span`).
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Resource => "resource",
            Context::Scope => "scope",
            Context::Span => "span",
            Context::SpanEvent => "spanevent",
            Context::Metric => "metric",
            Context::DataPoint => "datapoint",
            Context::Log => "log",
        }
    }

    /// The context a configuration names (`instrumentation_scope` is `scope`).
    pub fn parse(name: &str) -> Option<Context> {
        match name {
            "instrumentation_scope" => Some(Context::Scope),
            _ => Context::ALL.into_iter().find(|c| c.as_str() == name),
        }
    }

    /// The context a path prefix names (`span.`, `resource.`, `instrumentation_scope.`).
    fn from_prefix(name: &str) -> Option<Context> {
        Context::parse(name)
    }

    /// How deep it lies below the resource.
    fn depth(self) -> u8 {
        match self {
            Context::Resource => 0,
            Context::Scope => 1,
            Context::Span | Context::Metric | Context::Log => 2,
            Context::SpanEvent | Context::DataPoint => 3,
        }
    }

    /// Whether statements of this context can use paths of `other` (itself or an ancestor).
    pub fn reaches(self, other: Context) -> bool {
        let line: &[Context] = match self {
            Context::Resource => &[Context::Resource],
            Context::Scope => &[Context::Resource, Context::Scope],
            Context::Span => &[Context::Resource, Context::Scope, Context::Span],
            Context::SpanEvent => {
                &[Context::Resource, Context::Scope, Context::Span, Context::SpanEvent]
            }
            Context::Metric => &[Context::Resource, Context::Scope, Context::Metric],
            Context::DataPoint => {
                &[Context::Resource, Context::Scope, Context::Metric, Context::DataPoint]
            }
            Context::Log => &[Context::Resource, Context::Scope, Context::Log],
        };
        line.contains(&other)
    }

    /// Whether pipelines of `signal` have items of this context.
    pub fn of_signal(self, signal: Signal) -> bool {
        Context::item_of(signal).reaches(self)
            || matches!(
                (self, signal),
                (Context::SpanEvent, Signal::Traces) | (Context::DataPoint, Signal::Metrics)
            )
    }

    /// The item context of a signal: span, metric or log.
    pub fn item_of(signal: Signal) -> Context {
        match signal {
            Signal::Traces => Context::Span,
            Signal::Metrics => Context::Metric,
            Signal::Logs => Context::Log,
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mistake in a statement or condition: where (1-based column) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct Error {
    /// The column (in characters, from 1) the mistake starts at.
    pub column: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl Error {
    pub(crate) fn at(column: usize, message: impl Into<String>) -> Error {
        Error { column, message: message.into() }
    }
}

/// A failure while running a statement or condition on an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// What a component does when a statement or condition fails on an item (`error_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorMode {
    /// The failure is returned and the whole payload dropped.
    Propagate,
    /// The failure is logged and processing goes on with the next statement; a failing
    /// condition counts as false. The Collector's default since its 2025 releases.
    #[default]
    Ignore,
    /// As `ignore`, without logging.
    Silent,
}

impl ErrorMode {
    /// The mode a configuration names.
    pub fn parse(name: &str) -> Option<ErrorMode> {
        match name {
            "propagate" => Some(ErrorMode::Propagate),
            "ignore" => Some(ErrorMode::Ignore),
            "silent" => Some(ErrorMode::Silent),
            _ => None,
        }
    }
}
