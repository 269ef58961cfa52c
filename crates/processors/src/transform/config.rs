//! `processors.transform`: the options as written, and their validation into compiled groups.

use serde::Deserialize;
use weir_core::{Component, ConfigError};
use weir_ottl::{Context, ErrorMode, Signal};

use super::Group;
use crate::ottl;

/// `processors.transform`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `error_mode`: the default of every group.
    pub error_mode: ErrorMode,
    /// `trace_statements`.
    pub trace_statements: Vec<Entry>,
    /// `metric_statements`.
    pub metric_statements: Vec<Entry>,
    /// `log_statements`.
    pub log_statements: Vec<Entry>,
    /// `flatten_data` (logs; behind a feature gate in the Collector): not supported.
    pub flatten_data: bool,
}

/// One entry of a `*_statements` list: a statement, or a group.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    /// A statement whose paths carry their context.
    Statement(String),
    /// `{context, conditions, statements, error_mode}`.
    Group(GroupConfig),
}

/// A group of statements.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupConfig {
    /// `context`; inferred from the paths when absent.
    pub context: Option<String>,
    /// `conditions`, ORed.
    pub conditions: Vec<String>,
    /// `statements`.
    pub statements: Vec<String>,
    /// `error_mode`, overriding the processor's.
    pub error_mode: Option<ErrorMode>,
}

/// The validated processor: compiled groups per signal.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    traces: Vec<Group>,
    metrics: Vec<Group>,
    logs: Vec<Group>,
}

impl Settings {
    /// The groups that run on batches of `signal`.
    pub fn groups(&self, signal: Signal) -> &[Group] {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

/// Compiles one `*_statements` list (at `key`) into groups, collecting every problem.
fn groups(
    entries: &[Entry],
    key: &str,
    signal: Signal,
    error_mode: ErrorMode,
    errors: &mut Vec<ConfigError>,
) -> Vec<Group> {
    let flat: Vec<&String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Statement(s) => Some(s),
            Entry::Group(_) => None,
        })
        .collect();
    if !flat.is_empty() && flat.len() != entries.len() {
        errors.push(ConfigError::new(key, "mixes statements and groups: use one style per list"));
        return Vec::new();
    }
    if !flat.is_empty() {
        // the flat form is one group whose context is inferred from all its statements
        let texts: Vec<(String, &str)> =
            flat.iter().enumerate().map(|(i, s)| (format!("{key}[{i}]"), s.as_str())).collect();
        let group = group(None, &[], &texts, signal, error_mode, key, errors);
        return group.into_iter().collect();
    }
    let mut groups = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let Entry::Group(config) = entry else { continue };
        let at = format!("{key}[{i}]");
        let context = match &config.context {
            Some(name) => match ottl::context(name, signal, format!("{at}.context")) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            None => None,
        };
        if config.statements.is_empty() {
            errors.push(ConfigError::new(
                format!("{at}.statements"),
                "must hold at least one statement",
            ));
            continue;
        }
        let conditions: Vec<(String, &str)> = config
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| (format!("{at}.conditions[{j}]"), c.as_str()))
            .collect();
        let statements: Vec<(String, &str)> = config
            .statements
            .iter()
            .enumerate()
            .map(|(j, s)| (format!("{at}.statements[{j}]"), s.as_str()))
            .collect();
        let mode = config.error_mode.unwrap_or(error_mode);
        groups.extend(group(context, &conditions, &statements, signal, mode, &at, errors));
    }
    groups
}

/// Compiles one group; its context is `context` or the deepest its texts name.
fn group(
    context: Option<Context>,
    conditions: &[(String, &str)],
    statements: &[(String, &str)],
    signal: Signal,
    error_mode: ErrorMode,
    at: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Group> {
    let before = errors.len();
    let mut compiled_conditions = Vec::new();
    for (path, text) in conditions {
        match ottl::condition(text, context, signal, path.clone()) {
            Ok(c) => compiled_conditions.push(c),
            Err(e) => errors.push(e),
        }
    }
    let mut compiled_statements = Vec::new();
    for (path, text) in statements {
        match ottl::statement(text, context, signal, path.clone()) {
            Ok(s) => compiled_statements.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.len() > before {
        return None;
    }
    let contexts = compiled_statements.iter().map(|s| s.context());
    let contexts = contexts.chain(compiled_conditions.iter().map(|c| c.context()));
    let Some(context) = context.or_else(|| ottl::deepest(contexts)) else {
        errors.push(ConfigError::new(
            at,
            "its statements name contexts of different lines (such as span and spanevent \
             siblings): split them into groups with a context each",
        ));
        return None;
    };
    for ((path, _), statement) in statements.iter().zip(&compiled_statements) {
        if let Some(only) = statement.editor_context()
            && only != context
        {
            errors.push(ConfigError::new(
                path.clone(),
                format!("{:?} runs in the {only} context, but its group runs in the {context} context: put it in a group of its own", statement.text()),
            ));
        }
    }
    Some(Group {
        context,
        conditions: compiled_conditions,
        statements: compiled_statements,
        error_mode,
    })
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "transform",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "changes telemetry with OTTL statements",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if config.flatten_data {
            errors.push(ConfigError::new("flatten_data", "is not supported by weir yet"));
        }
        let mode = config.error_mode;
        let settings = Settings {
            traces: groups(
                &config.trace_statements,
                "trace_statements",
                Signal::Traces,
                mode,
                &mut errors,
            ),
            metrics: groups(
                &config.metric_statements,
                "metric_statements",
                Signal::Metrics,
                mode,
                &mut errors,
            ),
            logs: groups(&config.log_statements, "log_statements", Signal::Logs, mode, &mut errors),
        };
        if errors.is_empty() { Ok(settings) } else { Err(errors) }
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        let all = [&self.traces, &self.metrics, &self.logs];
        all.iter().any(|groups| groups.iter().any(|g| g.context != Context::Resource))
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(super::Transform::new(self, id))
    }
}
