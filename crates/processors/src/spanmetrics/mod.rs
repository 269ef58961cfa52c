//! The `spanmetrics` connector: RED metrics from spans, with the Collector's names and
//! options — `{namespace}.calls` (a monotonic sum) and `{namespace}.duration` (a histogram in
//! `ms` or `s`, explicit or exponential) per resource and dimensions (`service.name`,
//! `span.name`, `span.kind`, `status.code`, plus `dimensions`).
//!
//! Each span counts with its adjusted count from `ot=th` (1 without one), stochastically
//! rounded to an integer (`floor(w)` plus one with probability `frac(w)`, from a seeded
//! generator), so counts stay unbiased after upstream sampling. Past
//! `aggregation_cardinality_limit` series, new ones fold into one series per resource with
//! `otel.metric.overflow=true`. Points are emitted every `metrics_flush_interval`, stamped
//! with the wall-clock time the pipeline passes in.

mod config;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, time::Instant};

pub use config::{
    Config, DEFAULT_BUCKETS_MS, Dimension, Exemplars, Explicit, Exponential, HistogramConfig,
};
use weir_core::{Batch, Output, Processor};
use weir_otlp::proto::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
    metrics::v1::{
        AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint,
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
        exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    },
    resource::v1::Resource,
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use xxhash_rust::xxh3::xxh3_64;

use crate::{cardinality_limiter::points, sampling};

/// The overflow attribute.
const OVERFLOW: &str = "otel.metric.overflow";
/// Scale of a fresh exponential histogram (lowered as values spread).
const START_SCALE: i32 = 20;

/// One series' aggregate.
struct Series {
    attributes: Vec<KeyValue>,
    calls: u64,
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
    exponential: Option<ExponentialHistogramDataPoint>,
    exemplars: Vec<Exemplar>,
    start: u64,
    updated: Instant,
    touched: bool,
}

/// One resource's series.
struct ResourceState {
    attributes: Vec<KeyValue>,
    series: HashMap<u64, Series>,
}

/// The `spanmetrics` connector.
pub struct SpanMetrics {
    config: Config,
    bounds: Vec<f64>,
    resources: HashMap<u64, ResourceState>,
    series: usize,
    rng: u64,
    buffer: Vec<u8>,
    last_flush: Option<Instant>,
    last_flush_unix: u64,
    now: Option<Instant>,
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
            series: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            buffer: Vec::new(),
            last_flush: None,
            last_flush_unix: 0,
            now: None,
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

    fn dimensions(
        &self,
        resource: &[KeyValue],
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> Vec<KeyValue> {
        let excluded = |name: &str| self.config.exclude_dimensions.iter().any(|e| e == name);
        let mut attributes = Vec::with_capacity(4 + self.config.dimensions.len());
        let mut push = |key: &str, value: Option<AnyValue>| {
            if let Some(value) = value {
                attributes.push(KeyValue {
                    key: key.into(),
                    value: Some(value),
                    ..KeyValue::default()
                });
            }
        };
        let string = |s: &str| Some(AnyValue { value: Some(Value::StringValue(s.to_owned())) });
        if !excluded("service.name") {
            push(
                "service.name",
                resource.iter().find(|kv| kv.key == "service.name").and_then(|kv| kv.value.clone()),
            );
        }
        if !excluded("span.name") {
            push("span.name", string(&span.name));
        }
        if !excluded("span.kind") {
            let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
            push("span.kind", string(kind.as_str_name()));
        }
        if !excluded("status.code") {
            let code = span.status.as_ref().map_or(0, |s| s.code);
            let code = StatusCode::try_from(code).unwrap_or(StatusCode::Unset);
            push("status.code", string(code.as_str_name()));
        }
        for dimension in &self.config.dimensions {
            let found = span
                .attributes
                .iter()
                .chain(resource)
                .find(|kv| kv.key == dimension.name)
                .and_then(|kv| kv.value.clone());
            push(&dimension.name, found.or_else(|| dimension.default.as_deref().and_then(string)));
        }
        if let Some(scope) = scope {
            push("span.instrumentation.scope.name", string(&scope.name));
            if !scope.version.is_empty() {
                push("span.instrumentation.scope.version", string(&scope.version));
            }
        }
        attributes
    }

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
        let resource_key = self.hash(&resource_attributes);
        let mut attributes = self.dimensions(resource, scope, span);
        let mut key = self.hash(&attributes);
        let limit = self.config.aggregation_cardinality_limit;
        let known = self.resources.get(&resource_key).is_some_and(|r| r.series.contains_key(&key));
        if !known && limit > 0 && self.series >= limit {
            attributes = vec![KeyValue {
                key: OVERFLOW.into(),
                value: Some(AnyValue { value: Some(Value::BoolValue(true)) }),
                ..KeyValue::default()
            }];
            key = self.hash(&attributes);
        }
        let weight = sampling::incoming(&span.trace_state, &span.trace_id)
            .threshold
            .map_or(1.0, |t| t.adjusted_count());
        let weight = self.round(weight);
        let duration_ms =
            span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e6;
        let value =
            if self.config.histogram.unit == "s" { duration_ms / 1000.0 } else { duration_ms };
        let now = self.now.unwrap_or_else(Instant::now);
        let state = self.resources.entry(resource_key).or_insert_with(|| ResourceState {
            attributes: resource_attributes,
            series: HashMap::new(),
        });
        let buckets = self.bounds.len() + 1;
        let exponential = self.config.histogram.exponential.as_ref().map(|e| e.max_size);
        let series = state.series.entry(key).or_insert_with(|| {
            self.series += 1;
            Series {
                attributes,
                calls: 0,
                count: 0,
                sum: 0.0,
                buckets: vec![0; buckets],
                exponential: exponential.map(|_| ExponentialHistogramDataPoint {
                    scale: START_SCALE,
                    ..Default::default()
                }),
                exemplars: Vec::new(),
                start: unix,
                updated: now,
                touched: false,
            }
        });
        series.calls += weight;
        series.count += weight;
        series.sum += value * weight as f64;
        series.updated = now;
        series.touched = true;
        let index = self.bounds.partition_point(|b| *b < value);
        series.buckets[index] += weight;
        if let (Some(point), Some(max_size)) = (series.exponential.as_mut(), exponential) {
            record_exponential(point, value, weight, max_size);
        }
        let max = match self.config.exemplars.max_per_data_point {
            0 => 5,
            n => n,
        };
        if self.config.exemplars.enabled && series.exemplars.len() < max {
            series.exemplars.push(Exemplar {
                time_unix_nano: span.end_time_unix_nano,
                value: Some(exemplar::Value::AsDouble(value)),
                span_id: span.span_id.clone(),
                trace_id: span.trace_id.clone(),
                ..Exemplar::default()
            });
        }
    }

    /// The metrics of every series (delta: those updated since the last flush, then reset).
    fn emit(&mut self, unix: u64, out: &mut Output) {
        let delta = self.config.delta();
        let temporality =
            if delta { AggregationTemporality::Delta } else { AggregationTemporality::Cumulative }
                as i32;
        let namespace = &self.config.namespace;
        let name = |metric: &str| {
            if namespace.is_empty() { metric.to_owned() } else { format!("{namespace}.{metric}") }
        };
        let mut resources = Vec::new();
        for state in self.resources.values_mut() {
            let mut calls = Vec::new();
            let mut durations = Vec::new();
            let mut exponentials = Vec::new();
            for series in state.series.values_mut() {
                if delta && !series.touched {
                    continue;
                }
                let start =
                    if delta { self.last_flush_unix.max(series.start) } else { series.start };
                calls.push(NumberDataPoint {
                    attributes: series.attributes.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: unix,
                    value: Some(number_data_point::Value::AsInt(series.calls as i64)),
                    ..NumberDataPoint::default()
                });
                if !self.config.histogram.disable {
                    let exemplars = std::mem::take(&mut series.exemplars);
                    match &series.exponential {
                        Some(point) => exponentials.push(ExponentialHistogramDataPoint {
                            attributes: series.attributes.clone(),
                            start_time_unix_nano: start,
                            time_unix_nano: unix,
                            count: series.count,
                            sum: Some(series.sum),
                            exemplars,
                            ..point.clone()
                        }),
                        None => durations.push(HistogramDataPoint {
                            attributes: series.attributes.clone(),
                            start_time_unix_nano: start,
                            time_unix_nano: unix,
                            count: series.count,
                            sum: Some(series.sum),
                            bucket_counts: series.buckets.clone(),
                            explicit_bounds: self.bounds.clone(),
                            exemplars,
                            ..HistogramDataPoint::default()
                        }),
                    }
                }
                series.touched = false;
                if delta {
                    series.calls = 0;
                    series.count = 0;
                    series.sum = 0.0;
                    series.buckets.iter_mut().for_each(|b| *b = 0);
                    if let Some(point) = &mut series.exponential {
                        *point = ExponentialHistogramDataPoint {
                            scale: START_SCALE,
                            ..Default::default()
                        };
                    }
                }
            }
            if calls.is_empty() {
                continue;
            }
            let unit = self.config.histogram.unit.clone();
            let mut metrics = vec![Metric {
                name: name("calls"),
                data: Some(Data::Sum(Sum {
                    data_points: calls,
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                })),
                ..Metric::default()
            }];
            if !durations.is_empty() {
                metrics.push(Metric {
                    name: name("duration"),
                    unit: unit.clone(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: durations,
                        aggregation_temporality: temporality,
                    })),
                    ..Metric::default()
                });
            }
            if !exponentials.is_empty() {
                metrics.push(Metric {
                    name: name("duration"),
                    unit,
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: exponentials,
                        aggregation_temporality: temporality,
                    })),
                    ..Metric::default()
                });
            }
            resources.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: state.attributes.clone(),
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "spanmetricsconnector".into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                schema_url: String::new(),
            });
        }
        self.last_flush_unix = unix;
        if !resources.is_empty() {
            out.push_message(Batch::Metrics(resources).into());
        }
    }
}

/// Adds `weight` observations of `value` to an exponential histogram, lowering its scale
/// until the positive range fits in `max_size` buckets.
fn record_exponential(
    point: &mut ExponentialHistogramDataPoint,
    value: f64,
    weight: u64,
    max_size: usize,
) {
    if weight == 0 {
        return;
    }
    if value <= 0.0 {
        point.zero_count += weight;
        return;
    }
    let index = |scale: i32| -> i64 { (value.log2() * 2f64.powi(scale)).ceil() as i64 - 1 };
    loop {
        let i = index(point.scale);
        let buckets = point.positive.get_or_insert_with(Buckets::default);
        if buckets.bucket_counts.is_empty() {
            buckets.offset = i as i32;
            buckets.bucket_counts.push(weight);
            return;
        }
        let first = i64::from(buckets.offset).min(i);
        let last = (i64::from(buckets.offset) + buckets.bucket_counts.len() as i64 - 1).max(i);
        if (last - first + 1) as usize > max_size {
            let scale = point.scale - 1;
            points::downscale_point(point, scale);
            continue;
        }
        if i < i64::from(buckets.offset) {
            let grow = (i64::from(buckets.offset) - i) as usize;
            buckets.bucket_counts.splice(0..0, std::iter::repeat_n(0, grow));
            buckets.offset = i as i32;
        }
        let slot = (i - i64::from(buckets.offset)) as usize;
        if slot >= buckets.bucket_counts.len() {
            buckets.bucket_counts.resize(slot + 1, 0);
        }
        buckets.bucket_counts[slot] += weight;
        return;
    }
}

impl Processor for SpanMetrics {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let Batch::Traces(resources) = batch else { return };
        let unix = out.unix_nanos();
        for resource_spans in &resources {
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
        self.now = Some(now);
        let last = *self.last_flush.get_or_insert(now);
        if now.duration_since(last) < self.config.metrics_flush_interval {
            return;
        }
        self.last_flush = Some(now);
        self.emit(out.unix_nanos(), out);
        let expiration = self.config.metrics_expiration;
        if !expiration.is_zero() {
            let mut removed = 0;
            for state in self.resources.values_mut() {
                let before = state.series.len();
                state.series.retain(|_, s| now.duration_since(s.updated) < expiration);
                removed += before - state.series.len();
            }
            self.resources.retain(|_, r| !r.series.is_empty());
            self.series -= removed;
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
    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(SpanMetrics::new(self))
    }
}
