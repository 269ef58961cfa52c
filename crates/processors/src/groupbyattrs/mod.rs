//! The `groupbyattrs` processor, with the Collector's one option, `keys`: each span, log
//! record and metric data point that carries any of the keys has those attributes moved to
//! its resource, so that records sharing them end up under one resource (the original
//! resource's attributes plus the moved ones, which win on a clash). Records carrying none stay
//! under their resource. Either way identical resources, and identical scopes within them, are
//! merged: with no `keys` the processor only compacts, as after a `batch`. Metric points join a
//! metric of the same name and type in their new scope, which keeps the metric's description,
//! unit, temporality and monotonicity.

mod regroup;
#[cfg(test)]
mod tests;

use serde::Deserialize;
use weir_core::{
    Batch, Component, ConfigError, Declaration, Decoded, Output, Processor, Signals, Stability,
    declare::{ALL_SIGNALS, BuildProcessor},
};

/// `processors.groupbyattrs`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `keys`: the record attributes to group by (none: compact only).
    pub keys: Vec<String>,
}

impl Component for Config {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "groupbyattrs",
        aliases: &[],
        signals: Signals::Pipeline(ALL_SIGNALS),
        stability: Stability::Beta,
        summary: "moves record attributes to the resource and merges records by resource",
    };

    fn validate(config: Config) -> Result<Config, Vec<ConfigError>> {
        let mut errors = Vec::new();
        for (i, key) in config.keys.iter().enumerate() {
            if key.is_empty() {
                errors.push(ConfigError::new(format!("keys[{i}]"), "must not be empty"));
            } else if config.keys[..i].contains(key) {
                errors.push(ConfigError::new(
                    format!("keys[{i}]"),
                    format!("{key:?} is listed twice"),
                ));
            }
        }
        if errors.is_empty() { Ok(config) } else { Err(errors) }
    }
}

impl BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn Processor> {
        Box::new(GroupByAttrs::new(self, id))
    }
}

/// Counters of one signal, with the Collector's metric names.
struct Counters {
    grouped: metrics::Counter,
    non_grouped: metrics::Counter,
    groups: metrics::Histogram,
}

impl Counters {
    fn new(id: &str, [grouped, non_grouped, groups]: [&'static str; 3]) -> Counters {
        let labels = [("processor", id.to_owned())];
        Counters {
            grouped: metrics::counter!(grouped, &labels),
            non_grouped: metrics::counter!(non_grouped, &labels),
            groups: metrics::histogram!(groups, &labels),
        }
    }

    fn record(&self, tally: regroup::Tally) {
        self.grouped.increment(tally.grouped);
        self.non_grouped.increment(tally.non_grouped);
        self.groups.record(tally.resources as f64);
    }
}

/// The `groupbyattrs` processor.
pub struct GroupByAttrs {
    keys: Vec<String>,
    spans: Counters,
    logs: Counters,
    metrics: Counters,
}

impl GroupByAttrs {
    /// A processor `id` with validated `config`.
    pub fn new(config: &Config, id: &str) -> GroupByAttrs {
        GroupByAttrs {
            keys: config.keys.clone(),
            spans: Counters::new(id, crate::telemetry::GROUPBYATTRS_SPANS),
            logs: Counters::new(id, crate::telemetry::GROUPBYATTRS_LOGS),
            metrics: Counters::new(id, crate::telemetry::GROUPBYATTRS_METRICS),
        }
    }
}

impl Processor for GroupByAttrs {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let batch = match batch.into_decoded() {
            Decoded::Traces(resources) => {
                let (resources, tally) = regroup::regroup(&self.keys, resources);
                self.spans.record(tally);
                Batch::from(resources)
            }
            Decoded::Logs(resources) => {
                let (resources, tally) = regroup::regroup(&self.keys, resources);
                self.logs.record(tally);
                Batch::from(resources)
            }
            Decoded::Metrics(resources) => {
                let (resources, tally) = regroup::regroup(&self.keys, resources);
                self.metrics.record(tally);
                Batch::from(resources)
            }
        };
        out.push(batch);
    }
}
