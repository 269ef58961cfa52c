//! The `attributes` processor, with the Collector's options: `actions` change the attributes
//! of spans, log records and metric data points, in the order listed, on the items selected by
//! `include` and `exclude` (see [`crate::match_properties`]; for metrics, a metric selected has
//! all its data points changed).
//!
//! - `insert` sets `key` where it is absent, `update` where it is present, `upsert` either
//!   way, from `value` (kept with its YAML type: `2245` an int, `"2245"` a string),
//!   `from_attribute` (another attribute of the same item), or `from_context` (the request's
//!   metadata: `metadata.<header>`, `auth.<name>` or a bare key; several values joined with
//!   `;`), falling back to `default_value`. With no value found, nothing is set.
//! - `delete` removes `key`, and every key `pattern` finds.
//! - `hash` replaces those values with the SHA-256 of their bytes in lowercase hex, as the
//!   Collector does (strings' UTF-8, a bool's byte, numbers' eight little-endian bytes); other
//!   types and the empty string become the empty string. An attribute named by both the key
//!   and the pattern is hashed once (the Collector hashes it twice).
//! - `extract` searches the string value of `key` with `pattern`: each named group of the
//!   first match becomes (or replaces) a string attribute; `key` itself is kept.
//! - `convert` changes the value of `key` to `converted_type` (`int`, `double`, `string`) by
//!   the Collector's rules; a value that cannot be converted is left as it is, and logged at
//!   debug level per batch.
//!
//! Nothing is dropped: every batch is passed on, changed in place.

mod action;
mod config;
#[cfg(test)]
mod tests;

pub use config::{ActionConfig, Config};
use weir_core::{
    Batch, Component, ConfigError, Declaration, Decoded, Metadata, Output, Processor, Signals,
    Stability,
    declare::{ALL_SIGNALS, BuildProcessor},
};
use weir_otlp::proto::{common::v1::KeyValue, metrics::v1::Metric, metrics::v1::metric::Data};

use crate::match_properties::Selector;
use action::Action;

/// A validated `attributes` configuration: actions and selection compiled.
#[derive(Debug, Clone)]
pub struct Settings {
    actions: Vec<Action>,
    selector: Selector,
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "attributes",
        aliases: &[],
        signals: Signals::Pipeline(ALL_SIGNALS),
        stability: Stability::Beta,
        summary: "inserts, updates, deletes, hashes, extracts or converts span, log and data \
                  point attributes",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let actions = config.actions();
        let selector = Selector::new(config.include.as_ref(), config.exclude.as_ref());
        match (actions, selector) {
            (Ok(actions), Ok(selector)) => Ok(Settings { actions, selector }),
            (actions, selector) => {
                Err(actions.err().into_iter().chain(selector.err()).flatten().collect())
            }
        }
    }
}

impl BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn Processor> {
        Box::new(AttributesProcessor::new(self, id))
    }
}

/// The `attributes` processor.
pub struct AttributesProcessor {
    id: String,
    actions: Vec<Action>,
    selector: Selector,
}

impl AttributesProcessor {
    /// A processor `id` with validated `settings`.
    pub fn new(settings: &Settings, id: &str) -> AttributesProcessor {
        AttributesProcessor {
            id: id.to_owned(),
            actions: settings.actions.clone(),
            selector: settings.selector.clone(),
        }
    }

    fn apply(&self, attributes: &mut Vec<KeyValue>, metadata: &Metadata) -> u64 {
        action::apply(&self.actions, attributes, metadata)
    }
}

impl Processor for AttributesProcessor {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        let metadata = out.metadata();
        let selector = &self.selector;
        let mut unconverted = 0;
        match batch.decoded_mut() {
            Decoded::Traces(resources) => {
                for r in resources {
                    let resource = r.resource.as_ref();
                    for s in &mut r.scope_spans {
                        let scope = s.scope.as_ref();
                        for span in &mut s.spans {
                            if selector.span(resource, scope, span) {
                                unconverted += self.apply(&mut span.attributes, metadata);
                            }
                        }
                    }
                }
            }
            Decoded::Logs(resources) => {
                for r in resources {
                    let resource = r.resource.as_ref();
                    for s in &mut r.scope_logs {
                        let scope = s.scope.as_ref();
                        for record in &mut s.log_records {
                            if selector.log(resource, scope, record) {
                                unconverted += self.apply(&mut record.attributes, metadata);
                            }
                        }
                    }
                }
            }
            Decoded::Metrics(resources) => {
                for r in resources {
                    let resource = r.resource.as_ref();
                    for s in &mut r.scope_metrics {
                        let scope = s.scope.as_ref();
                        for metric in &mut s.metrics {
                            if selector.metric(resource, scope, &metric.name) {
                                for_each_point(metric, |attributes| {
                                    unconverted += self.apply(attributes, metadata);
                                });
                            }
                        }
                    }
                }
            }
        }
        if unconverted > 0 {
            tracing::debug!(
                processor = %self.id,
                values = unconverted,
                "convert left values it could not convert as they were"
            );
        }
        out.push(batch);
    }
}

/// Calls `change` with the attributes of each data point of `metric`.
fn for_each_point(metric: &mut Metric, mut change: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut metric.data {
        Some(Data::Gauge(gauge)) => {
            gauge.data_points.iter_mut().for_each(|p| change(&mut p.attributes));
        }
        Some(Data::Sum(sum)) => sum.data_points.iter_mut().for_each(|p| change(&mut p.attributes)),
        Some(Data::Histogram(histogram)) => {
            histogram.data_points.iter_mut().for_each(|p| change(&mut p.attributes));
        }
        Some(Data::ExponentialHistogram(histogram)) => {
            histogram.data_points.iter_mut().for_each(|p| change(&mut p.attributes));
        }
        Some(Data::Summary(summary)) => {
            summary.data_points.iter_mut().for_each(|p| change(&mut p.attributes));
        }
        None => {}
    }
}
