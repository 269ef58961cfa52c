//! `processors.filter`: the options as written, and their validation into rules per signal.

use serde::Deserialize;
use weir_core::{Component, ConfigError};
use weir_ottl::{Context, ErrorMode, Signal};

use super::{Rule, Rules};
use crate::{
    match_properties::{Attribute, MatchProperties, RegexpOptions, Selector, SeverityNumber},
    ottl,
};

/// `processors.filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `error_mode`.
    pub error_mode: ErrorMode,
    /// `trace_conditions`.
    pub trace_conditions: Vec<Entry>,
    /// `metric_conditions`.
    pub metric_conditions: Vec<Entry>,
    /// `log_conditions`.
    pub log_conditions: Vec<Entry>,
    /// `traces`: conditions by context.
    pub traces: Traces,
    /// `metrics`: conditions by context, or the legacy `include`/`exclude`.
    pub metrics: Metrics,
    /// `logs`: conditions by context, or the legacy `include`/`exclude`.
    pub logs: Logs,
    /// `spans`: the legacy `include`/`exclude`.
    pub spans: Spans,
}

/// One entry of a `*_conditions` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    /// A condition whose paths carry their context.
    Condition(String),
    /// `{context, error_mode, conditions}`.
    Group(Group),
}

/// A group of conditions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Group {
    /// `context`; inferred per condition when absent.
    pub context: Option<String>,
    /// `error_mode`.
    pub error_mode: Option<ErrorMode>,
    /// `conditions`.
    pub conditions: Vec<String>,
}

/// `traces`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Traces {
    /// `resource`.
    pub resource: Vec<String>,
    /// `span`.
    pub span: Vec<String>,
    /// `spanevent`.
    pub spanevent: Vec<String>,
}

/// `metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `resource`.
    pub resource: Vec<String>,
    /// `metric`.
    pub metric: Vec<String>,
    /// `datapoint`.
    pub datapoint: Vec<String>,
    /// `include`.
    pub include: Option<MetricMatch>,
    /// `exclude`.
    pub exclude: Option<MetricMatch>,
}

/// The legacy metric match properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricMatch {
    /// `match_type`: `strict` or `regexp` (`expr` is not supported).
    pub match_type: String,
    /// `metric_names`.
    pub metric_names: Vec<String>,
    /// `resource_attributes`.
    pub resource_attributes: Vec<Attribute>,
    /// `expressions` (for `expr`, not supported).
    pub expressions: Vec<String>,
    /// `regexp` cache options.
    pub regexp: Option<RegexpOptions>,
}

/// `logs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// `resource`.
    pub resource: Vec<String>,
    /// `log_record`.
    pub log_record: Vec<String>,
    /// `include`.
    pub include: Option<LogMatch>,
    /// `exclude`.
    pub exclude: Option<LogMatch>,
}

/// The legacy log match properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogMatch {
    /// `match_type`.
    pub match_type: String,
    /// `resource_attributes`.
    pub resource_attributes: Vec<Attribute>,
    /// `record_attributes`.
    pub record_attributes: Vec<Attribute>,
    /// `severity_texts`.
    pub severity_texts: Vec<String>,
    /// `severity_number`.
    pub severity_number: Option<SeverityNumber>,
    /// `bodies`.
    pub bodies: Vec<String>,
    /// `regexp` cache options.
    pub regexp: Option<RegexpOptions>,
}

/// `spans`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spans {
    /// `include`.
    pub include: Option<MatchProperties>,
    /// `exclude`.
    pub exclude: Option<MatchProperties>,
}

impl MetricMatch {
    fn properties(&self, path: &str, errors: &mut Vec<ConfigError>) -> MatchProperties {
        if self.match_type == "expr" || !self.expressions.is_empty() {
            errors.push(ConfigError::new(
                format!("{path}.match_type"),
                "expr is not supported by weir: use metric_conditions (OTTL)",
            ));
        }
        MatchProperties {
            match_type: self.match_type.clone(),
            regexp: self.regexp.clone(),
            metric_names: self.metric_names.clone(),
            resources: self.resource_attributes.clone(),
            ..MatchProperties::default()
        }
    }
}

impl LogMatch {
    fn properties(&self) -> MatchProperties {
        MatchProperties {
            match_type: self.match_type.clone(),
            regexp: self.regexp.clone(),
            resources: self.resource_attributes.clone(),
            attributes: self.record_attributes.clone(),
            log_severity_texts: self.severity_texts.clone(),
            log_severity_number: self.severity_number.clone(),
            log_bodies: self.bodies.clone(),
            ..MatchProperties::default()
        }
    }
}

/// The validated processor.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    traces: Rules,
    metrics: Rules,
    logs: Rules,
}

impl Settings {
    /// What drops items of `signal`.
    pub fn rules(&self, signal: Signal) -> &Rules {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

/// Collects conditions into rules by context.
struct Builder<'e> {
    signal: Signal,
    rules: Vec<Rule>,
    errors: &'e mut Vec<ConfigError>,
}

impl Builder<'_> {
    fn add(&mut self, text: &str, context: Option<Context>, mode: ErrorMode, path: String) {
        match ottl::condition(text, context, self.signal, path) {
            Ok(condition) => {
                let context = condition.context();
                match self.rules.iter_mut().find(|r| r.context == context) {
                    Some(rule) => rule.conditions.push((condition, mode)),
                    None => self.rules.push(Rule { context, conditions: vec![(condition, mode)] }),
                }
            }
            Err(e) => self.errors.push(e),
        }
    }

    fn entries(&mut self, entries: &[Entry], key: &str, mode: ErrorMode) {
        let flat = entries.iter().filter(|e| matches!(e, Entry::Condition(_))).count();
        if flat != 0 && flat != entries.len() {
            self.errors
                .push(ConfigError::new(key, "mixes conditions and groups: use one style per list"));
            return;
        }
        for (i, entry) in entries.iter().enumerate() {
            match entry {
                Entry::Condition(text) => self.add(text, None, mode, format!("{key}[{i}]")),
                Entry::Group(group) => {
                    let context = match &group.context {
                        None => None,
                        Some(name) => {
                            match ottl::context(name, self.signal, format!("{key}[{i}].context")) {
                                Ok(c) => Some(c),
                                Err(e) => {
                                    self.errors.push(e);
                                    continue;
                                }
                            }
                        }
                    };
                    let mode = group.error_mode.unwrap_or(mode);
                    for (j, text) in group.conditions.iter().enumerate() {
                        self.add(text, context, mode, format!("{key}[{i}].conditions[{j}]"));
                    }
                }
            }
        }
    }

    fn lists(&mut self, lists: &[(&str, Context, &[String])], key: &str, mode: ErrorMode) {
        for (name, context, texts) in lists {
            for (i, text) in texts.iter().enumerate() {
                self.add(text, Some(*context), mode, format!("{key}.{name}[{i}]"));
            }
        }
    }

    /// The rules, from the resource down (drops above spare the work below).
    fn finish(mut self, legacy: Option<Selector>) -> Rules {
        self.rules.sort_by_key(|r| depth(r.context));
        Rules { rules: self.rules, legacy }
    }
}

fn depth(context: Context) -> u8 {
    match context {
        Context::Resource => 0,
        Context::Scope => 1,
        Context::Span | Context::Metric | Context::Log => 2,
        Context::SpanEvent | Context::DataPoint => 3,
    }
}

/// The legacy `include`/`exclude` for `signal` at `key`.
fn selector(
    include: Option<MatchProperties>,
    exclude: Option<MatchProperties>,
    signal: Signal,
    key: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Selector> {
    if include.is_none() && exclude.is_none() {
        return None;
    }
    for (name, properties) in [("include", &include), ("exclude", &exclude)] {
        if let Some(p) = properties {
            errors
                .extend(p.check_for(signal).into_iter().map(|e| e.under(&format!("{key}.{name}"))));
        }
    }
    match Selector::new(include.as_ref(), exclude.as_ref()) {
        Ok(selector) => Some(selector),
        Err(e) => {
            errors.extend(e.into_iter().map(|e| e.under(key)));
            None
        }
    }
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "filter",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "drops telemetry matching OTTL conditions or include/exclude properties",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mode = config.error_mode;
        let conflict = |errors: &mut Vec<ConfigError>, key: &str, other: &str, clash: bool| {
            if clash {
                errors.push(ConfigError::new(key, format!("cannot be used together with {other}")));
            }
        };
        let traces_lists = [
            ("resource", Context::Resource, &config.traces.resource[..]),
            ("span", Context::Span, &config.traces.span[..]),
            ("spanevent", Context::SpanEvent, &config.traces.spanevent[..]),
        ];
        let traces_ottl = traces_lists.iter().any(|(_, _, l)| !l.is_empty());
        let legacy_spans = config.spans.include.is_some() || config.spans.exclude.is_some();
        conflict(
            &mut errors,
            "trace_conditions",
            "traces",
            !config.trace_conditions.is_empty() && traces_ottl,
        );
        conflict(
            &mut errors,
            "spans",
            "OTTL conditions",
            legacy_spans && (traces_ottl || !config.trace_conditions.is_empty()),
        );

        let metrics_lists = [
            ("resource", Context::Resource, &config.metrics.resource[..]),
            ("metric", Context::Metric, &config.metrics.metric[..]),
            ("datapoint", Context::DataPoint, &config.metrics.datapoint[..]),
        ];
        let metrics_ottl = metrics_lists.iter().any(|(_, _, l)| !l.is_empty());
        let legacy_metrics = config.metrics.include.is_some() || config.metrics.exclude.is_some();
        conflict(
            &mut errors,
            "metric_conditions",
            "metrics",
            !config.metric_conditions.is_empty() && (metrics_ottl || legacy_metrics),
        );
        conflict(&mut errors, "metrics.include", "OTTL conditions", legacy_metrics && metrics_ottl);

        let logs_lists = [
            ("resource", Context::Resource, &config.logs.resource[..]),
            ("log_record", Context::Log, &config.logs.log_record[..]),
        ];
        let logs_ottl = logs_lists.iter().any(|(_, _, l)| !l.is_empty());
        let legacy_logs = config.logs.include.is_some() || config.logs.exclude.is_some();
        conflict(
            &mut errors,
            "log_conditions",
            "logs",
            !config.log_conditions.is_empty() && (logs_ottl || legacy_logs),
        );
        conflict(&mut errors, "logs.include", "OTTL conditions", legacy_logs && logs_ottl);

        let mut traces = Builder { signal: Signal::Traces, rules: Vec::new(), errors: &mut errors };
        traces.entries(&config.trace_conditions, "trace_conditions", mode);
        traces.lists(&traces_lists, "traces", mode);
        let traces = traces.finish(None);

        let mut metrics =
            Builder { signal: Signal::Metrics, rules: Vec::new(), errors: &mut errors };
        metrics.entries(&config.metric_conditions, "metric_conditions", mode);
        metrics.lists(&metrics_lists, "metrics", mode);
        let metrics = metrics.finish(None);

        let mut logs = Builder { signal: Signal::Logs, rules: Vec::new(), errors: &mut errors };
        logs.entries(&config.log_conditions, "log_conditions", mode);
        logs.lists(&logs_lists, "logs", mode);
        let logs = logs.finish(None);

        let mut settings = Settings { traces, metrics, logs };
        settings.traces.legacy = selector(
            config.spans.include.clone(),
            config.spans.exclude.clone(),
            Signal::Traces,
            "spans",
            &mut errors,
        );
        let include =
            config.metrics.include.as_ref().map(|m| m.properties("metrics.include", &mut errors));
        let exclude =
            config.metrics.exclude.as_ref().map(|m| m.properties("metrics.exclude", &mut errors));
        settings.metrics.legacy =
            selector(include, exclude, Signal::Metrics, "metrics", &mut errors);
        let include = config.logs.include.as_ref().map(LogMatch::properties);
        let exclude = config.logs.exclude.as_ref().map(LogMatch::properties);
        settings.logs.legacy = selector(include, exclude, Signal::Logs, "logs", &mut errors);
        if errors.is_empty() { Ok(settings) } else { Err(errors) }
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(super::Filter::new(self, id))
    }
}
