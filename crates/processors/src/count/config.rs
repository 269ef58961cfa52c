//! `connectors.count`: the options as written, and their validation into counters.

use std::collections::BTreeMap;

use serde::Deserialize;
use weir_core::{Component, ConfigError};
use weir_ottl::{Context, Signal};

use super::Counter;
use crate::{match_properties::ConfigValue, ottl};

/// `connectors.count`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `spans`.
    pub spans: Option<BTreeMap<String, MetricConfig>>,
    /// `spanevents`.
    pub spanevents: Option<BTreeMap<String, MetricConfig>>,
    /// `metrics`.
    pub metrics: Option<BTreeMap<String, MetricConfig>>,
    /// `datapoints`.
    pub datapoints: Option<BTreeMap<String, MetricConfig>>,
    /// `logs`.
    pub logs: Option<BTreeMap<String, MetricConfig>>,
}

/// One metric counted into.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricConfig {
    /// `description`.
    pub description: String,
    /// `conditions`, ORed.
    pub conditions: Vec<String>,
    /// `attributes`.
    pub attributes: Vec<AttributeConfig>,
}

/// One attribute counts are split by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    /// `key`.
    pub key: String,
    /// `default_value`: used when an item lacks the key.
    #[serde(default)]
    pub default_value: Option<ConfigValue>,
}

/// The validated connector: counters per input signal.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    traces: Vec<Counter>,
    metrics: Vec<Counter>,
    logs: Vec<Counter>,
}

impl Settings {
    /// The counters of batches of `signal`.
    pub fn counters(&self, signal: Signal) -> &[Counter] {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

/// The kinds counted: option key, context, signal, default metric and description.
const KINDS: [(&str, Context, Signal, &str, &str); 5] = [
    ("spans", Context::Span, Signal::Traces, "trace.span.count", "The number of spans observed."),
    (
        "spanevents",
        Context::SpanEvent,
        Signal::Traces,
        "trace.span.event.count",
        "The number of span events observed.",
    ),
    (
        "metrics",
        Context::Metric,
        Signal::Metrics,
        "metric.count",
        "The number of metrics observed.",
    ),
    (
        "datapoints",
        Context::DataPoint,
        Signal::Metrics,
        "metric.datapoint.count",
        "The number of data points observed.",
    ),
    ("logs", Context::Log, Signal::Logs, "log.record.count", "The number of log records observed."),
];

/// A string for a default value, as the attribute's text.
fn text(value: &ConfigValue) -> String {
    weir_ottl::Value::of(Some(&value.to_any_value())).to_text().unwrap_or_default()
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "count",
        aliases: &[],
        signals: weir_core::Signals::Connector(&[
            (Signal::Traces, Signal::Metrics),
            (Signal::Metrics, Signal::Metrics),
            (Signal::Logs, Signal::Metrics),
        ]),
        stability: weir_core::Stability::Alpha,
        summary: "counts spans, span events, metrics, data points and log records as metrics",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut settings = Settings::default();
        let sections =
            [&config.spans, &config.spanevents, &config.metrics, &config.datapoints, &config.logs];
        for ((key, context, signal, default_name, default_description), section) in
            KINDS.into_iter().zip(sections)
        {
            let defaults;
            let metrics = match section {
                Some(metrics) => metrics,
                None => {
                    let metric = MetricConfig {
                        description: default_description.into(),
                        ..MetricConfig::default()
                    };
                    defaults = BTreeMap::from([(default_name.to_owned(), metric)]);
                    &defaults
                }
            };
            for (name, metric) in metrics {
                let at = format!("{key}.{name}");
                if name.is_empty() {
                    errors.push(ConfigError::new(key, "a metric name must not be empty"));
                }
                if context == Context::Metric && !metric.attributes.is_empty() {
                    errors.push(ConfigError::new(
                        format!("{at}.attributes"),
                        "metrics are not counted by attributes",
                    ));
                    continue;
                }
                let mut conditions = Vec::new();
                for (i, text) in metric.conditions.iter().enumerate() {
                    match ottl::condition(
                        text,
                        Some(context),
                        signal,
                        format!("{at}.conditions[{i}]"),
                    ) {
                        Ok(c) => conditions.push(c),
                        Err(e) => errors.push(e),
                    }
                }
                let mut attributes = Vec::new();
                for (i, attribute) in metric.attributes.iter().enumerate() {
                    if attribute.key.is_empty() {
                        errors.push(ConfigError::new(
                            format!("{at}.attributes[{i}].key"),
                            "must be set",
                        ));
                        continue;
                    }
                    let path = format!("attributes[{:?}]", attribute.key);
                    match weir_ottl::getter(&path, Some(context), signal) {
                        Ok(getter) => attributes.push((
                            attribute.key.clone(),
                            getter,
                            attribute.default_value.as_ref().map(text),
                        )),
                        Err(e) => errors.push(ConfigError::new(
                            format!("{at}.attributes[{i}].key"),
                            e.to_string(),
                        )),
                    }
                }
                let counter = Counter {
                    name: name.clone(),
                    description: metric.description.clone(),
                    context,
                    conditions,
                    attributes,
                };
                match signal {
                    Signal::Traces => settings.traces.push(counter),
                    Signal::Metrics => settings.metrics.push(counter),
                    Signal::Logs => settings.logs.push(counter),
                }
            }
        }
        if errors.is_empty() { Ok(settings) } else { Err(errors) }
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(super::Count::new(self, id))
    }
}
