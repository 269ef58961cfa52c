//! The `count` connector: counts spans, span events, metrics, data points and log records into
//! metrics, with the Collector's options — per kind (`spans`, `spanevents`, `metrics`,
//! `datapoints`, `logs`) a map of metric names to `{description, conditions, attributes}`:
//! an item is counted when any condition holds (or always), once per metric, under the values
//! of `attributes` (`{key, default_value}`; an item without the key and without a default is
//! not counted). A kind left out of the configuration counts into the Collector's default
//! metric (`trace.span.count`, `trace.span.event.count`, `metric.count`,
//! `metric.datapoint.count`, `log.record.count`).
//!
//! Each input batch gives, per resource with counts, a resource with the same attributes and
//! the scope `otelcol/countconnector` holding one delta monotonic integer sum per metric, a
//! point per attribute set, stamped with the time of counting.

mod config;
#[cfg(test)]
mod tests;

pub use config::{Config, Settings};

use std::collections::BTreeMap;

use weir_core::{Batch, Decoded, Output, Processor};
use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
    metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
    },
    resource::v1::Resource,
};
use weir_ottl::{Condition, Context, Getter, Record, Signal};

use crate::ottl::Failures;

/// The scope of the metrics the connector writes.
pub const SCOPE: &str = "otelcol/countconnector";

/// One metric to count into.
#[derive(Debug, Clone)]
pub struct Counter {
    name: String,
    description: String,
    context: Context,
    conditions: Vec<Condition>,
    /// `(key, getter of attributes[key], default)`.
    attributes: Vec<(String, Getter, Option<String>)>,
}

/// Counts of one resource: by metric and attribute values.
type Counts = BTreeMap<(usize, Vec<(String, String)>), i64>;

/// The `count` connector.
pub struct Count {
    settings: Settings,
    failures: Failures,
}

impl Count {
    /// A connector for component `id`.
    pub fn new(settings: &Settings, id: &str) -> Count {
        Count { settings: settings.clone(), failures: Failures::new(id) }
    }

    /// The attribute values an item is counted under, or `None` when it lacks one.
    fn attributes(
        &self,
        counter: &Counter,
        record: &Record<'_>,
        signal: Signal,
    ) -> Option<Vec<(String, String)>> {
        let mut values = Vec::with_capacity(counter.attributes.len());
        for (key, getter, default) in &counter.attributes {
            let value = match getter.get(record) {
                Ok(v) => v.to_text(),
                Err(e) => {
                    let _ = self.failures.handle(signal, weir_ottl::ErrorMode::Ignore, key, e);
                    None
                }
            };
            values.push((key.clone(), value.or_else(|| default.clone())?));
        }
        Some(values)
    }

    fn holds(&self, counter: &Counter, record: &Record<'_>, signal: Signal) -> bool {
        if counter.conditions.is_empty() {
            return true;
        }
        // a failing condition does not hold: counting never drops a payload
        let mode = weir_ottl::ErrorMode::Ignore;
        counter
            .conditions
            .iter()
            .any(|c| self.failures.test(c, record, signal, mode).unwrap_or(false))
    }

    /// Counts `data` per resource, in the order resources come.
    fn count(&self, mut data: Decoded) -> Vec<(Resource, Counts)> {
        let signal = data.signal();
        let mut per_resource: Vec<(Resource, Counts)> = Vec::new();
        let counters = self.settings.counters(signal);
        let mut contexts: Vec<Context> = Vec::new();
        for counter in counters {
            if !contexts.contains(&counter.context) {
                contexts.push(counter.context);
            }
        }
        for context in contexts {
            let mut resource_index = usize::MAX;
            let mut last: Option<*const Resource> = None;
            let _ = weir_ottl::walk(context, &mut data, &mut |record| {
                let here: *const Resource = record.resource();
                if last != Some(here) {
                    last = Some(here);
                    let attributes = &record.resource().attributes;
                    resource_index =
                        match per_resource.iter().position(|(r, _)| &r.attributes == attributes) {
                            Some(i) => i,
                            None => {
                                per_resource.push((record.resource().clone(), Counts::new()));
                                per_resource.len() - 1
                            }
                        };
                }
                for (i, counter) in counters.iter().enumerate() {
                    if counter.context != context || !self.holds(counter, record, signal) {
                        continue;
                    }
                    if let Some(values) = self.attributes(counter, record, signal) {
                        *per_resource[resource_index].1.entry((i, values)).or_default() += 1;
                    }
                }
                Ok(true)
            });
        }
        per_resource.retain(|(_, counts)| !counts.is_empty());
        per_resource
    }
}

impl Processor for Count {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let signal = batch.signal();
        let counters = self.settings.counters(signal);
        if counters.is_empty() {
            return;
        }
        let now = out.unix_nanos();
        let mut resources = Vec::new();
        for (resource, counts) in self.count(batch.into_decoded()) {
            let mut metrics: Vec<Metric> = Vec::new();
            for ((i, values), count) in counts {
                let counter = &counters[i];
                let point = NumberDataPoint {
                    attributes: values.into_iter().map(|(key, value)| string(key, value)).collect(),
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(count)),
                    ..NumberDataPoint::default()
                };
                match metrics.iter_mut().find(|m| m.name == counter.name) {
                    Some(Metric { data: Some(metric::Data::Sum(sum)), .. }) => {
                        sum.data_points.push(point)
                    }
                    _ => metrics.push(Metric {
                        name: counter.name.clone(),
                        description: counter.description.clone(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        ..Metric::default()
                    }),
                }
            }
            resources.push(ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope { name: SCOPE.into(), ..Default::default() }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            });
        }
        if !resources.is_empty() {
            out.push(Batch::from(resources));
        }
    }
}

fn string(key: String, value: String) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value)) }),
        ..KeyValue::default()
    }
}
