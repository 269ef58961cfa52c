//! The `cumulativetodelta` processor, with the Collector's options: cumulative monotonic sums,
//! histograms and exponential histograms become delta, each point its series' value minus the
//! series' previous one, for backends that take deltas.
//!
//! A series is its resource, scope, metric (name, unit, type, integer or double values) and
//! point attributes. Its first point, and the first after its start time changes (the source
//! restarted), has nothing to subtract; `initial_value` decides what becomes of it: `auto`
//! (default) sends it only when its start time is set, differs from its time and is not before
//! the processor started (a counter born since, whose counts no one else can have sent),
//! `keep` sends it, `drop` keeps it as the baseline only. "Started" is the first wall-clock
//! time the pipeline hands in ([`Output::unix_nanos`] of the first flush or batch): the
//! processor reads no clock.
//!
//! Each later point is sent over `[previous point's time, its time]`. A value (a histogram's
//! count or a bucket) below the previous one means the source reset without a new start time:
//! the whole value, counted since the reset, is the delta (the Collector does this for
//! histograms and drops such a sum point; weir keeps both). A point not newer than the
//! previous one (a duplicate or out of order) and a histogram whose bucket layout changed
//! without a new start time are dropped, the latter becoming the new baseline. Points flagged
//! as having no recorded value are dropped; sum points whose value is NaN (a staleness
//! marker) pass unchanged and leave the series as it was. Delta histograms carry no min and
//! max: a cumulative minimum says nothing about one interval.
//!
//! Delta metrics, gauges, summaries, non-monotonic sums and metrics that `include`/`exclude`
//! leave out pass unchanged. A metric is converted when `include` selects it (every metric
//! when `include` is empty: its `metrics` by `match_type` — `regexp` matches anywhere in the
//! name, as the Collector's — and its `metric_types`) and `exclude` does not (a name in its
//! `metrics` or a type in its `metric_types` excludes); a converted metric left without points
//! is removed, as are scopes and resources left empty.
//!
//! State is bounded: at most `max_streams` series (weir's option, as in `deltatocumulative`);
//! points of further series are dropped and counted in
//! `weir_cumulativetodelta_dropped_points_total{reason="max_streams"}` (with `out_of_order`
//! and `buckets_changed` for the other drops) and logged. Series not seen for `max_staleness`
//! (default 1h, the Collector's; `0`: never) are forgotten, which frees room.

#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use regex::Regex;
use serde::Deserialize;
use weir_core::{
    Batch, Component, ConfigError, Declaration, Decoded, Output, Processor, Signal, Signals,
    Stability, declare::BuildProcessor, log_limit::LogLimiter,
};
use weir_otlp::proto::{
    common::v1::InstrumentationScope,
    metrics::v1::{
        AggregationTemporality, DataPointFlags, ExponentialHistogramDataPoint, HistogramDataPoint,
        Metric, NumberDataPoint, metric::Data, number_data_point,
    },
};

use crate::cardinality_limiter::{identity, points::Point};

/// `processors.cumulativetodelta`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `include`: the metrics to convert (empty: every metric).
    pub include: MatchMetrics,
    /// `exclude`: metrics not to convert; wins over `include`.
    pub exclude: MatchMetrics,
    /// `max_staleness`: forget series not seen for this long (default 1h; `0`: never).
    #[serde(with = "weir_core::duration")]
    pub max_staleness: Duration,
    /// `initial_value`: what becomes of a series' first point (default `auto`).
    pub initial_value: InitialValue,
    /// `max_streams` (weir's): series tracked at once (default 100,000).
    pub max_streams: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            include: MatchMetrics::default(),
            exclude: MatchMetrics::default(),
            max_staleness: Duration::from_secs(3600),
            initial_value: InitialValue::Auto,
            max_streams: 100_000,
        }
    }
}

/// `include` and `exclude`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchMetrics {
    /// `metrics`: names, or regular expressions with `match_type: regexp`.
    pub metrics: Vec<String>,
    /// `match_type`: how `metrics` match (required with `metrics`).
    pub match_type: Option<MatchType>,
    /// `metric_types`: `sum`, `histogram`, `exponentialhistogram` (any case).
    pub metric_types: Vec<String>,
}

/// `match_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    /// The name equals one of `metrics`.
    Strict,
    /// One of `metrics` matches somewhere in the name.
    Regexp,
}

/// `initial_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialValue {
    /// Send the first point only if its series started after the processor did.
    #[default]
    Auto,
    /// Send the first point whole.
    Keep,
    /// Keep the first point as the baseline only.
    Drop,
}

/// The metric types the processor converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sum,
    Histogram,
    Exponential,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        match name.to_ascii_lowercase().as_str() {
            "sum" => Some(Kind::Sum),
            "histogram" => Some(Kind::Histogram),
            "exponentialhistogram" => Some(Kind::Exponential),
            _ => None,
        }
    }

    /// The kind of a metric this processor converts: cumulative, and monotonic for sums.
    fn of(metric: &Metric) -> Option<Kind> {
        let cumulative = AggregationTemporality::Cumulative as i32;
        match &metric.data {
            Some(Data::Sum(s)) if s.aggregation_temporality == cumulative && s.is_monotonic => {
                Some(Kind::Sum)
            }
            Some(Data::Histogram(h)) if h.aggregation_temporality == cumulative => {
                Some(Kind::Histogram)
            }
            Some(Data::ExponentialHistogram(e)) if e.aggregation_temporality == cumulative => {
                Some(Kind::Exponential)
            }
            _ => None,
        }
    }
}

/// Names selected by `metrics`.
#[derive(Debug, Clone)]
enum Names {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Names {
    fn matches(&self, name: &str) -> bool {
        match self {
            Names::Strict(names) => names.iter().any(|n| n == name),
            Names::Regexp(patterns) => patterns.iter().any(|p| p.is_match(name)),
        }
    }
}

/// One of `include` and `exclude`, compiled.
#[derive(Debug, Clone, Default)]
struct Filter {
    names: Option<Names>,
    kinds: Vec<Kind>,
}

impl Filter {
    fn compile(config: &MatchMetrics, path: &str, errors: &mut Vec<ConfigError>) -> Filter {
        let mut filter = Filter::default();
        match (config.metrics.is_empty(), config.match_type) {
            (true, None) => {}
            (true, Some(_)) => errors
                .push(ConfigError::new(format!("{path}.metrics"), "must be set with match_type")),
            (false, None) => errors.push(ConfigError::new(
                format!("{path}.match_type"),
                "must be set with metrics (strict or regexp)",
            )),
            (false, Some(MatchType::Strict)) => {
                filter.names = Some(Names::Strict(config.metrics.clone()));
            }
            (false, Some(MatchType::Regexp)) => {
                let mut patterns = Vec::new();
                for (i, pattern) in config.metrics.iter().enumerate() {
                    match Regex::new(pattern) {
                        Ok(regex) => patterns.push(regex),
                        Err(e) => errors.push(ConfigError::new(
                            format!("{path}.metrics[{i}]"),
                            format!("invalid regexp {pattern:?}: {e}"),
                        )),
                    }
                }
                filter.names = Some(Names::Regexp(patterns));
            }
        }
        for (i, name) in config.metric_types.iter().enumerate() {
            match Kind::parse(name) {
                Some(kind) => filter.kinds.push(kind),
                None => errors.push(ConfigError::new(
                    format!("{path}.metric_types[{i}]"),
                    format!(
                        "unsupported metric type {name:?}: expected sum, histogram or \
                         exponentialhistogram"
                    ),
                )),
            }
        }
        filter
    }

    /// As `include`: every criterion set must select the metric.
    fn selects(&self, name: &str, kind: Kind) -> bool {
        self.names.as_ref().is_none_or(|n| n.matches(name))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }

    /// As `exclude`: any criterion set that selects the metric excludes it.
    fn excludes(&self, name: &str, kind: Kind) -> bool {
        self.names.as_ref().is_some_and(|n| n.matches(name)) || self.kinds.contains(&kind)
    }
}

/// A validated `cumulativetodelta` configuration, its filters compiled.
#[derive(Debug, Clone)]
pub struct Settings {
    config: Config,
    include: Filter,
    exclude: Filter,
}

impl Settings {
    /// The configuration as written.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "cumulativetodelta",
        aliases: &[],
        signals: Signals::Pipeline(&[Signal::Metrics]),
        stability: Stability::Beta,
        summary: "cumulative sums and histograms to delta, bounded by max_streams",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let include = Filter::compile(&config.include, "include", &mut errors);
        let exclude = Filter::compile(&config.exclude, "exclude", &mut errors);
        if config.max_streams == 0 {
            errors.push(ConfigError::new("max_streams", "must be > 0"));
        }
        if errors.is_empty() { Ok(Settings { config, include, exclude }) } else { Err(errors) }
    }
}

impl BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn Processor> {
        Box::new(CumulativeToDelta::new(self, id))
    }
}

/// Why a point was dropped, as the `reason` of the dropped-points counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    MaxStreams,
    OutOfOrder,
    BucketsChanged,
}

const REASONS: [(Dropped, &str); 3] = [
    (Dropped::MaxStreams, "max_streams"),
    (Dropped::OutOfOrder, "out_of_order"),
    (Dropped::BucketsChanged, "buckets_changed"),
];

/// One series: its last cumulative point (no attributes, no exemplars) and the pipeline time
/// (the last flush before it) it was seen at.
struct Series {
    last: Point,
    seen: Option<Instant>,
}

/// The `cumulativetodelta` processor.
pub struct CumulativeToDelta {
    id: String,
    settings: Settings,
    series: HashMap<u64, Series>,
    hasher: identity::Hasher,
    /// The time of the last flush.
    now: Option<Instant>,
    /// Unix nanoseconds at which the processor started (the first the pipeline handed in).
    started: u64,
    dropped: [metrics::Counter; 3],
    log: LogLimiter,
}

impl CumulativeToDelta {
    /// A processor `id` with validated `settings`.
    pub fn new(settings: &Settings, id: &str) -> CumulativeToDelta {
        let counter = |reason: &'static str| {
            metrics::counter!(crate::telemetry::CUMULATIVETODELTA_DROPPED_POINTS,
                "processor" => id.to_owned(), "reason" => reason)
        };
        CumulativeToDelta {
            id: id.to_owned(),
            settings: settings.clone(),
            series: HashMap::new(),
            hasher: identity::Hasher::default(),
            now: None,
            started: 0,
            dropped: REASONS.map(|(_, reason)| counter(reason)),
            log: LogLimiter::default(),
        }
    }

    /// Series tracked now.
    pub fn streams(&self) -> usize {
        self.series.len()
    }

    fn note_time(&mut self, unix_nanos: u64) {
        if self.started == 0 {
            self.started = unix_nanos;
        }
    }

    fn converts(&self, metric: &Metric) -> bool {
        let Some(kind) = Kind::of(metric) else {
            return false;
        };
        let Settings { include, exclude, .. } = &self.settings;
        include.selects(&metric.name, kind) && !exclude.excludes(&metric.name, kind)
    }

    /// The delta to send for `point` of series `key` (`Ok(None)`: nothing to send).
    fn convert(&mut self, key: u64, point: Point) -> Result<Option<Point>, Dropped> {
        let now = self.now;
        let initial = (self.settings.config.initial_value, self.started);
        let Some(series) = self.series.get_mut(&key) else {
            if self.series.len() >= self.settings.config.max_streams {
                return Err(Dropped::MaxStreams);
            }
            self.series.insert(key, Series { last: baseline(point.clone()), seen: now });
            return Ok(first(initial, point));
        };
        let last_time = series.last.time();
        if point.time() != 0 && point.time() <= last_time {
            return Err(Dropped::OutOfOrder);
        }
        series.seen = now;
        let (start, last_start) = (start_of(&point), start_of(&series.last));
        if start != 0 && last_start != 0 && start != last_start {
            series.last = baseline(point.clone());
            return Ok(first(initial, point));
        }
        if buckets_changed(&point, &series.last) {
            series.last = baseline(point);
            return Err(Dropped::BucketsChanged);
        }
        let mut delta = point.increment(&series.last, true);
        delta.set_start(last_time);
        without_min_max(&mut delta);
        let mut next = baseline(point);
        keep_sum_if_nan(&mut next, &series.last);
        series.last = next;
        Ok(Some(delta))
    }

    /// Converts the points of a metric, its series keyed under `metric_key`; returns whether
    /// the metric keeps any point.
    fn convert_metric(
        &mut self,
        metric: &mut Metric,
        metric_key: u64,
        dropped: &mut [u64; 3],
    ) -> bool {
        let delta = AggregationTemporality::Delta as i32;
        let no_value = DataPointFlags::NoRecordedValueMask as u32;
        macro_rules! convert {
            ($data:expr, $variant:ident, $tag:expr, $passes:expr) => {{
                let points = std::mem::take(&mut $data.data_points);
                for mut p in points {
                    if p.flags & no_value != 0 {
                        continue;
                    }
                    if ($passes)(&p) {
                        $data.data_points.push(p);
                        continue;
                    }
                    let tag: u64 = ($tag)(&p);
                    let key = identity::combine(&[
                        metric_key,
                        tag,
                        self.hasher.set(&p.attributes, |_| true),
                    ]);
                    let attributes = std::mem::take(&mut p.attributes);
                    let exemplars = std::mem::take(&mut p.exemplars);
                    match self.convert(key, Point::$variant(p)) {
                        Ok(Some(Point::$variant(mut out))) => {
                            out.attributes = attributes;
                            out.exemplars = exemplars;
                            $data.data_points.push(out);
                        }
                        Ok(_) => {}
                        Err(reason) => {
                            let i = REASONS.iter().position(|(r, _)| *r == reason);
                            dropped[i.unwrap_or(0)] += 1;
                        }
                    }
                }
                $data.aggregation_temporality = delta;
                !$data.data_points.is_empty()
            }};
        }
        match &mut metric.data {
            Some(Data::Sum(s)) => convert!(s, Number, sum_tag, passes_unchanged),
            Some(Data::Histogram(h)) => {
                convert!(h, Histogram, |_: &HistogramDataPoint| 3, |_: &HistogramDataPoint| false)
            }
            Some(Data::ExponentialHistogram(e)) => convert!(
                e,
                Exponential,
                |_: &ExponentialHistogramDataPoint| 4,
                |_: &ExponentialHistogramDataPoint| false
            ),
            _ => true,
        }
    }
}

/// Integer and double sums are different series.
fn sum_tag(point: &NumberDataPoint) -> u64 {
    match point.value {
        Some(number_data_point::Value::AsInt(_)) => 1,
        _ => 2,
    }
}

/// A sum point without a number to subtract (NaN, a staleness marker, or no value) passes as
/// it is and leaves its series alone.
fn passes_unchanged(point: &NumberDataPoint) -> bool {
    match point.value {
        Some(number_data_point::Value::AsDouble(v)) => v.is_nan(),
        Some(number_data_point::Value::AsInt(_)) => false,
        None => true,
    }
}

/// What a series' first point becomes under `initial_value`, with the processor's start.
fn first((initial, started): (InitialValue, u64), mut point: Point) -> Option<Point> {
    let (start, time) = (start_of(&point), point.time());
    let send = match initial {
        InitialValue::Keep => true,
        InitialValue::Drop => false,
        InitialValue::Auto => start != 0 && started != 0 && start >= started && start != time,
    };
    without_min_max(&mut point);
    send.then_some(point)
}

fn baseline(mut point: Point) -> Point {
    point.strip();
    point
}

fn start_of(point: &Point) -> u64 {
    match point {
        Point::Number(p) => p.start_time_unix_nano,
        Point::Histogram(p) => p.start_time_unix_nano,
        Point::Exponential(p) => p.start_time_unix_nano,
    }
}

/// Whether an explicit-bucket histogram's buckets differ from its previous point's.
fn buckets_changed(point: &Point, last: &Point) -> bool {
    match (point, last) {
        (Point::Histogram(p), Point::Histogram(l)) => {
            p.explicit_bounds != l.explicit_bounds || p.bucket_counts.len() != l.bucket_counts.len()
        }
        _ => false,
    }
}

fn without_min_max(point: &mut Point) {
    match point {
        Point::Histogram(p) => (p.min, p.max) = (None, None),
        Point::Exponential(p) => (p.min, p.max) = (None, None),
        Point::Number(_) => {}
    }
}

/// A histogram whose sum is NaN keeps the previous sum as its baseline, so that the next
/// point's sum subtracts from a number.
fn keep_sum_if_nan(next: &mut Point, last: &Point) {
    match (next, last) {
        (Point::Histogram(n), Point::Histogram(l)) if n.sum.is_some_and(f64::is_nan) => {
            n.sum = l.sum;
        }
        (Point::Exponential(n), Point::Exponential(l)) if n.sum.is_some_and(f64::is_nan) => {
            n.sum = l.sum;
        }
        _ => {}
    }
}

fn hash_scope(hasher: &mut identity::Hasher, scope: Option<&InstrumentationScope>) -> u64 {
    scope.map_or(0, |s| {
        identity::combine(&[
            identity::bytes(s.name.as_bytes()),
            identity::bytes(s.version.as_bytes()),
            hasher.set(&s.attributes, |_| true),
        ])
    })
}

impl Processor for CumulativeToDelta {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        self.note_time(out.unix_nanos());
        let Decoded::Metrics(resources) = batch.decoded_mut() else {
            out.push(batch);
            return;
        };
        let mut dropped = [0u64; 3];
        for resource in resources.iter_mut() {
            let attributes = resource.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let resource_hash = self.hasher.set(attributes, |_| true);
            for scope in &mut resource.scope_metrics {
                let scope_hash = hash_scope(&mut self.hasher, scope.scope.as_ref());
                scope.metrics.retain_mut(|metric| {
                    if !self.converts(metric) {
                        return true;
                    }
                    let metric_key = identity::combine(&[
                        resource_hash,
                        scope_hash,
                        identity::bytes(metric.name.as_bytes()),
                        identity::bytes(metric.unit.as_bytes()),
                    ]);
                    self.convert_metric(metric, metric_key, &mut dropped)
                });
            }
            resource.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        resources.retain(|r| !r.scope_metrics.is_empty());
        for (i, count) in dropped.iter().enumerate() {
            self.dropped[i].increment(*count);
        }
        if dropped.iter().any(|&n| n > 0)
            && let Some(suppressed) = self.log.check_at(out.unix_nanos() / 1_000_000)
        {
            tracing::warn!(
                processor = %self.id,
                max_streams = dropped[0],
                out_of_order = dropped[1],
                buckets_changed = dropped[2],
                suppressed,
                "cumulativetodelta dropped points"
            );
        }
        out.push(batch);
    }

    fn flush(&mut self, now: Instant, out: &mut Output) {
        self.note_time(out.unix_nanos());
        self.now = Some(now);
        let stale = self.settings.config.max_staleness;
        if stale.is_zero() {
            return;
        }
        self.series.retain(|_, series| match series.seen {
            Some(seen) => now.saturating_duration_since(seen) < stale,
            None => {
                series.seen = Some(now);
                true
            }
        });
    }
}
