//! The `spanmetrics` connector: RED metrics from spans, with the Collector's names and
//! options — `{namespace}.calls` (a monotonic sum) and `{namespace}.duration` (a histogram in
//! `ms` or `s`, explicit or exponential) per resource and dimensions (`service.name`,
//! `span.name`, `span.kind`, `status.code`, plus `dimensions`; `calls_dimensions` only on
//! calls, `histogram.dimensions` only on durations), and with `events.enabled`
//! `{namespace}.events`, a count of span events by the base dimensions and
//! `events.dimensions`, looked up in the event's then the resource's attributes.
//!
//! Each span counts with its adjusted count from `ot=th` (1 without one), stochastically
//! rounded to an integer (`floor(w)` plus one with probability `frac(w)`, from a seeded
//! generator), so counts stay unbiased after upstream sampling; its events count with the
//! same weight. Past `aggregation_cardinality_limit` series of a metric, new ones fold into
//! one series per resource with `otel.metric.overflow=true`. Points are emitted every
//! `metrics_flush_interval`, stamped with the wall-clock time the pipeline passes in.
//!
//! The generated metrics keep the spans' resource attributes (all, or
//! `resource_metrics_key_attributes`): what the Collector does by default and what its
//! `add_resource_attributes: true` restores once its `connector.spanmetrics.excludeResourceMetrics`
//! gate is on, so weir accepts the option with either value and behaves the same.

mod config;
mod emit;
mod series;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, time::Instant};

pub use config::{
    Config, DEFAULT_BUCKETS_MS, Dimension, Events, Exemplars, Explicit, Exponential,
    HistogramConfig,
};
use series::{Distribution, Series, Table};
use weir_core::{Batch, Decoded, Output, Processor};
use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
    metrics::v1::{Exemplar, exemplar},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use xxhash_rust::xxh3::xxh3_64;

use crate::sampling;

/// The overflow attribute.
const OVERFLOW: &str = "otel.metric.overflow";

/// The metrics the connector makes, for their per-metric series counts.
#[derive(Clone, Copy)]
enum Kind {
    Calls,
    Duration,
    Events,
}

/// One resource's series.
struct ResourceState {
    attributes: Vec<KeyValue>,
    calls: Table<u64>,
    durations: Table<Distribution>,
    events: Table<u64>,
}

/// The `spanmetrics` connector.
pub struct SpanMetrics {
    config: Config,
    bounds: Vec<f64>,
    resources: HashMap<u64, ResourceState>,
    index: Index,
    rng: u64,
    last_flush: Option<Instant>,
    last_flush_unix: u64,
}

/// How series are found and counted: apart from the tables they index, so that a resource's
/// tables and the index can be borrowed at once.
struct Index {
    /// Series per metric, by [`Kind`].
    series: [usize; 3],
    /// `aggregation_cardinality_limit`.
    limit: usize,
    /// The latest pipeline tick (none before the first).
    now: Option<Instant>,
    buffer: Vec<u8>,
}

impl SpanMetrics {
    /// A connector with a validated `config`.
    pub fn new(config: &Config) -> SpanMetrics {
        let to_unit = |ms: f64| if config.histogram.unit == "s" { ms / 1000.0 } else { ms };
        let bounds = match &config.histogram.explicit {
            Some(explicit) => {
                explicit.buckets.iter().map(|d| to_unit(d.as_secs_f64() * 1000.0)).collect()
            }
            None => DEFAULT_BUCKETS_MS.iter().map(|ms| to_unit(*ms)).collect(),
        };
        SpanMetrics {
            config: config.clone(),
            bounds,
            resources: HashMap::new(),
            index: Index {
                series: [0; 3],
                limit: config.aggregation_cardinality_limit,
                now: None,
                buffer: Vec::new(),
            },
            rng: 0x9E37_79B9_7F4A_7C15,
            last_flush: None,
            last_flush_unix: 0,
        }
    }

    /// Rounds an adjusted count to an integer without bias.
    fn round(&mut self, weight: f64) -> u64 {
        let whole = weight.floor();
        let fraction = weight - whole;
        if fraction <= 0.0 {
            return whole as u64;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let uniform = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        whole as u64 + u64::from(uniform < fraction)
    }

    fn record(
        &mut self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
        unix: u64,
    ) {
        let keys = &self.config.resource_metrics_key_attributes;
        let resource_attributes: Vec<KeyValue> = if keys.is_empty() {
            resource.to_vec()
        } else {
            resource.iter().filter(|kv| keys.contains(&kv.key)).cloned().collect()
        };
        let weight = sampling::incoming(&span.trace_state, &span.trace_id)
            .threshold
            .map_or(1.0, |t| t.adjusted_count());
        let weight = self.round(weight);
        let index = &mut self.index;
        let state = self.resources.entry(index.hash(&resource_attributes)).or_insert_with(|| {
            ResourceState {
                attributes: resource_attributes,
                calls: Table::new(),
                durations: Table::new(),
                events: Table::new(),
            }
        });
        let config = &self.config;
        let base = config.dimensions(resource, scope, span, &[&span.attributes, resource]);

        let mut calls = base.clone();
        extend(&mut calls, &config.calls_dimensions, &[&span.attributes, resource]);
        index.series(&mut state.calls, Kind::Calls, calls, unix, || 0).data += weight;

        if !config.histogram.disable {
            let duration_ms =
                span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e6;
            let value =
                if config.histogram.unit == "s" { duration_ms / 1000.0 } else { duration_ms };
            let mut dimensions = base;
            extend(&mut dimensions, &config.histogram.dimensions, &[&span.attributes, resource]);
            let max_size = config.histogram.exponential.as_ref().map(|e| e.max_size);
            let buckets = self.bounds.len() + 1;
            let bucket = self.bounds.partition_point(|b| *b < value);
            let empty = || Distribution::new(buckets, max_size.is_some());
            let series =
                index.series(&mut state.durations, Kind::Duration, dimensions, unix, empty);
            series.data.record(value, weight, bucket, max_size);
            let max = match config.exemplars.max_per_data_point {
                0 => 5,
                n => n,
            };
            if config.exemplars.enabled && series.data.exemplars.len() < max {
                series.data.exemplars.push(Exemplar {
                    time_unix_nano: span.end_time_unix_nano,
                    value: Some(exemplar::Value::AsDouble(value)),
                    span_id: span.span_id.clone(),
                    trace_id: span.trace_id.clone(),
                    ..Exemplar::default()
                });
            }
        }

        if config.events.enabled {
            for event in &span.events {
                let lookup: [&[KeyValue]; 2] = [&event.attributes, resource];
                let mut dimensions = config.dimensions(resource, scope, span, &lookup);
                extend(&mut dimensions, &config.events.dimensions, &lookup);
                index.series(&mut state.events, Kind::Events, dimensions, unix, || 0).data +=
                    weight;
            }
        }
    }
}

impl Index {
    fn hash(&mut self, attributes: &[KeyValue]) -> u64 {
        self.buffer.clear();
        for kv in attributes {
            self.buffer.extend_from_slice(kv.key.as_bytes());
            self.buffer.push(0xff);
            if let Some(Value::StringValue(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                self.buffer.extend_from_slice(s.as_bytes());
            } else if let Some(text) = weir_otlp::attributes::text(kv.value.as_ref()) {
                // other types are told apart from strings by a tag byte
                self.buffer.push(0xfd);
                self.buffer.extend_from_slice(text.as_bytes());
            }
            self.buffer.push(0xfe);
        }
        xxh3_64(&self.buffer)
    }

    /// The series of `attributes` in `table`, created (or the overflow series, past the
    /// metric's cardinality limit) when new.
    fn series<'t, T>(
        &mut self,
        table: &'t mut Table<T>,
        kind: Kind,
        mut attributes: Vec<KeyValue>,
        unix: u64,
        empty: impl FnOnce() -> T,
    ) -> &'t mut Series<T> {
        let mut key = self.hash(&attributes);
        let limit = self.limit;
        if !table.contains_key(&key) && limit > 0 && self.series[kind as usize] >= limit {
            attributes = vec![KeyValue {
                key: OVERFLOW.into(),
                value: Some(AnyValue { value: Some(Value::BoolValue(true)) }),
                ..KeyValue::default()
            }];
            key = self.hash(&attributes);
        }
        let count = &mut self.series[kind as usize];
        let now = self.now;
        let series = table.entry(key).or_insert_with(|| {
            *count += 1;
            Series { attributes, start: unix, updated: now, touched: false, data: empty() }
        });
        series.updated = now;
        series.touched = true;
        series
    }
}

impl Config {
    /// The default dimensions of `span`, then `dimensions` looked up in `lookup` (attribute
    /// lists searched in order), then the instrumentation scope when listed.
    fn dimensions(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
        lookup: &[&[KeyValue]],
    ) -> Vec<KeyValue> {
        let excluded = |name: &str| self.exclude_dimensions.iter().any(|e| e == name);
        let mut attributes = Vec::with_capacity(4 + self.dimensions.len());
        if !excluded("service.name") {
            let service = resource.iter().find(|kv| kv.key == "service.name");
            push(&mut attributes, "service.name", service.and_then(|kv| kv.value.clone()));
        }
        if !excluded("span.name") {
            push(&mut attributes, "span.name", string(&span.name));
        }
        if !excluded("span.kind") {
            let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
            push(&mut attributes, "span.kind", string(kind.as_str_name()));
        }
        if !excluded("status.code") {
            let code = span.status.as_ref().map_or(0, |s| s.code);
            let code = StatusCode::try_from(code).unwrap_or(StatusCode::Unset);
            push(&mut attributes, "status.code", string(code.as_str_name()));
        }
        extend(&mut attributes, &self.dimensions, lookup);
        if let Some(scope) = scope {
            push(&mut attributes, "span.instrumentation.scope.name", string(&scope.name));
            if !scope.version.is_empty() {
                push(&mut attributes, "span.instrumentation.scope.version", string(&scope.version));
            }
        }
        attributes
    }
}

fn string(s: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(s.to_owned())) })
}

fn push(attributes: &mut Vec<KeyValue>, key: &str, value: Option<AnyValue>) {
    if let Some(value) = value {
        attributes.push(KeyValue { key: key.into(), value: Some(value), ..KeyValue::default() });
    }
}

/// Adds each of `dimensions` found in the first of `lookup` that has it, or its default; a
/// dimension found nowhere and without a default is left out.
fn extend(attributes: &mut Vec<KeyValue>, dimensions: &[Dimension], lookup: &[&[KeyValue]]) {
    for dimension in dimensions {
        let found = lookup
            .iter()
            .flat_map(|list| list.iter())
            .find(|kv| kv.key == dimension.name)
            .and_then(|kv| kv.value.clone());
        push(
            attributes,
            &dimension.name,
            found.or_else(|| dimension.default.as_deref().and_then(string)),
        );
    }
}

impl Processor for SpanMetrics {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let view = batch.view();
        let Decoded::Traces(resources) = &*view else { return };
        let unix = out.unix_nanos();
        for resource_spans in resources {
            let resource = resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            for scope_spans in &resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref().filter(|scope| {
                    self.config.include_instrumentation_scope.contains(&scope.name)
                });
                for span in &scope_spans.spans {
                    self.record(resource, scope, span, unix);
                }
            }
        }
    }

    fn flush(&mut self, now: Instant, out: &mut Output) {
        self.index.now = Some(now);
        let last = *self.last_flush.get_or_insert(now);
        if now.duration_since(last) < self.config.metrics_flush_interval {
            return;
        }
        self.last_flush = Some(now);
        self.emit(out.unix_nanos(), out);
        let expiration = self.config.metrics_expiration;
        if !expiration.is_zero() {
            for state in self.resources.values_mut() {
                self.index.series[Kind::Calls as usize] -=
                    series::expire(&mut state.calls, now, expiration);
                self.index.series[Kind::Duration as usize] -=
                    series::expire(&mut state.durations, now, expiration);
                self.index.series[Kind::Events as usize] -=
                    series::expire(&mut state.events, now, expiration);
            }
            self.resources.retain(|_, r| {
                !(r.calls.is_empty() && r.durations.is_empty() && r.events.is_empty())
            });
        }
    }

    fn shutdown(&mut self, _now: Instant, out: &mut Output) {
        self.emit(out.unix_nanos(), out);
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "span_metrics",
        aliases: &["spanmetrics"],
        signals: weir_core::Signals::Connector(&[(
            weir_core::Signal::Traces,
            weir_core::Signal::Metrics,
        )]),
        stability: weir_core::Stability::Alpha,
        summary: "RED metrics (calls, durations) from spans",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(SpanMetrics::new(self))
    }
}
