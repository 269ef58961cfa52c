//! What the components that speak OTTL share (`transform`, `filter`, `routing`, `count`):
//! compiling statements and conditions at validation with errors that name the option path,
//! the column and the text, and handling failures on items by `error_mode`, counted in
//! `weir_processor_ottl_errors_total{processor, signal}` and logged at a limited rate.

use weir_core::{ConfigError, log_limit::LogLimiter};
use weir_ottl::{Condition, Context, ErrorMode, EvalError, Record, Signal, Statement};

use crate::telemetry;

/// Compiles a statement found at `path` (`trace_statements[0].statements[2]`).
pub(crate) fn statement(
    text: &str,
    context: Option<Context>,
    signal: Signal,
    path: String,
) -> Result<Statement, ConfigError> {
    weir_ottl::statement(text, context, signal).map_err(|e| problem(text, e, path))
}

/// Compiles a condition found at `path`.
pub(crate) fn condition(
    text: &str,
    context: Option<Context>,
    signal: Signal,
    path: String,
) -> Result<Condition, ConfigError> {
    weir_ottl::condition(text, context, signal).map_err(|e| problem(text, e, path))
}

fn problem(text: &str, e: weir_ottl::Error, path: String) -> ConfigError {
    ConfigError::new(path, format!("column {}: {} in {text:?}", e.column, e.message))
}

/// A context named in a configuration (`context: span`), or a problem at `path`.
pub(crate) fn context(name: &str, signal: Signal, path: String) -> Result<Context, ConfigError> {
    match Context::parse(name) {
        Some(c) if c.of_signal(signal) => Ok(c),
        Some(c) => {
            Err(ConfigError::new(path, format!("the {c} context does not exist for {signal}")))
        }
        None => Err(ConfigError::new(
            path,
            format!(
                "unknown context {name:?}: expected resource, scope, span, spanevent, metric, datapoint or log"
            ),
        )),
    }
}

/// The deepest of `contexts` if each of them is reachable from it: the context a group of
/// statements without a `context:` runs in (the Collector infers one per group).
pub(crate) fn deepest(contexts: impl IntoIterator<Item = Context>) -> Option<Context> {
    let contexts: Vec<Context> = contexts.into_iter().collect();
    let deepest = contexts.iter().copied().find(|c| contexts.iter().all(|o| c.reaches(*o)))?;
    Some(deepest)
}

/// Failures on items, counted and logged for one component.
pub(crate) struct Failures {
    component: String,
    counters: [metrics::Counter; 3],
    log: LogLimiter,
}

impl Failures {
    pub(crate) fn new(component: &str) -> Failures {
        let counter = |signal: Signal| {
            metrics::counter!(telemetry::OTTL_ERRORS,
                "processor" => component.to_owned(), "signal" => signal.as_str())
        };
        Failures {
            component: component.to_owned(),
            counters: [counter(Signal::Traces), counter(Signal::Metrics), counter(Signal::Logs)],
            log: LogLimiter::default(),
        }
    }

    /// Whether `condition` holds for `record`; a failure is recorded and, unless `mode` is
    /// `propagate` (then it is returned), the condition does not hold.
    pub(crate) fn test(
        &self,
        condition: &Condition,
        record: &Record<'_>,
        signal: Signal,
        mode: ErrorMode,
    ) -> Result<bool, EvalError> {
        match condition.test(record) {
            Ok(holds) => Ok(holds),
            Err(e) => self.handle(signal, mode, condition.text(), e).map(|()| false),
        }
    }

    /// Records a failure; under `propagate` returns it (the caller drops the payload),
    /// otherwise the caller goes on.
    pub(crate) fn handle(
        &self,
        signal: Signal,
        mode: ErrorMode,
        text: &str,
        error: EvalError,
    ) -> Result<(), EvalError> {
        let i = match signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        };
        self.counters[i].increment(1);
        if mode != ErrorMode::Silent
            && let Some(suppressed) = self.log.check()
        {
            tracing::warn!(component = %self.component, statement = text, %error, suppressed,
                "OTTL failed on an item");
        }
        match mode {
            ErrorMode::Propagate => Err(error),
            ErrorMode::Ignore | ErrorMode::Silent => Ok(()),
        }
    }
}
