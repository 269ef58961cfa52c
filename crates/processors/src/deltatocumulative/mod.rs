//! The `deltatocumulative` processor, with the Collector's options: delta sums and
//! histograms (explicit and exponential) become cumulative, by adding each stream's points to
//! a running total, so that backends that need cumulative data (Prometheus remote write) can
//! take them.
//!
//! A stream is its resource, scope, metric (name, type, unit, monotonicity) and point
//! attributes. At most `max_streams` streams are tracked: points of further streams are
//! dropped, counted in `weir_deltatocumulative_dropped_points_total` and logged (a total that
//! could not start at zero would be wrong). Streams not updated for `max_stale` are forgotten,
//! which frees room; one that comes back starts again from zero with a new start time.

#[cfg(test)]
mod tests;

use std::{collections::HashMap, time::Duration, time::Instant};

use serde::Deserialize;
use weir_core::{Batch, Decoded, Output, Processor, Signal};
use weir_otlp::proto::metrics::v1::{AggregationTemporality, metric::Data};

use crate::cardinality_limiter::{identity, points::Point};

/// `processors.deltatocumulative`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `max_stale`: forget streams not updated for this long (default 5m).
    #[serde(with = "weir_core::duration")]
    pub max_stale: Duration,
    /// `max_streams`: streams tracked at once (default 100,000).
    pub max_streams: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config { max_stale: Duration::from_secs(300), max_streams: 100_000 }
    }
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.max_streams == 0 {
            errors.push(("max_streams".into(), "must be > 0".into()));
        }
        if self.max_stale.is_zero() {
            errors.push(("max_stale".into(), "must be > 0".into()));
        }
        errors
    }
}

struct Stream {
    total: Point,
    seen: Instant,
}

/// The `deltatocumulative` processor.
pub struct DeltaToCumulative {
    config: Config,
    streams: HashMap<u64, Stream>,
    hasher: identity::Hasher,
    now: Option<Instant>,
    dropped: metrics::Counter,
    warned: bool,
}

impl DeltaToCumulative {
    /// A processor `id` with `config`.
    pub fn new(config: &Config, id: &str) -> DeltaToCumulative {
        DeltaToCumulative {
            config: config.clone(),
            streams: HashMap::new(),
            hasher: identity::Hasher::default(),
            now: None,
            dropped: metrics::counter!(crate::telemetry::DELTATOCUMULATIVE_DROPPED_POINTS, "processor" => id.to_owned()),
            warned: false,
        }
    }

    /// Streams tracked now.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Adds `point` to its stream's total and returns the total, or `None` when the stream
    /// cannot be tracked.
    fn accumulate(&mut self, key: u64, mut point: Point) -> Option<Point> {
        let now = self.now.unwrap_or_else(Instant::now);
        if let Some(stream) = self.streams.get_mut(&key) {
            let start = start_of(&stream.total);
            let attributes = attributes_of(&point);
            stream.total.merge(point);
            stream.total.set_start(start);
            set_attributes(&mut stream.total, attributes);
            stream.seen = now;
            return Some(stream.total.clone());
        }
        if self.streams.len() >= self.config.max_streams {
            return None;
        }
        if start_of(&point) == 0 {
            point.set_start(point.time());
        }
        self.streams.insert(key, Stream { total: point.clone(), seen: now });
        Some(point)
    }
}

fn start_of(point: &Point) -> u64 {
    match point {
        Point::Number(p) => p.start_time_unix_nano,
        Point::Histogram(p) => p.start_time_unix_nano,
        Point::Exponential(p) => p.start_time_unix_nano,
    }
}

fn attributes_of(point: &Point) -> Vec<weir_otlp::proto::common::v1::KeyValue> {
    match point {
        Point::Number(p) => p.attributes.clone(),
        Point::Histogram(p) => p.attributes.clone(),
        Point::Exponential(p) => p.attributes.clone(),
    }
}

fn set_attributes(point: &mut Point, attributes: Vec<weir_otlp::proto::common::v1::KeyValue>) {
    match point {
        Point::Number(p) => p.attributes = attributes,
        Point::Histogram(p) => p.attributes = attributes,
        Point::Exponential(p) => p.attributes = attributes,
    }
}

impl Processor for DeltaToCumulative {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        if batch.signal() != Signal::Metrics {
            out.push(batch);
            return;
        }
        let Decoded::Metrics(resources) = batch.decoded_mut() else {
            out.push(batch);
            return;
        };
        let delta = AggregationTemporality::Delta as i32;
        let cumulative = AggregationTemporality::Cumulative as i32;
        let mut dropped = 0u64;
        for resource in resources.iter_mut() {
            let attributes = resource.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let resource_hash = self.hasher.set(attributes, |_| true);
            for scope in &mut resource.scope_metrics {
                let scope_hash = scope.scope.as_ref().map_or(0, |s| {
                    identity::bytes(format!("{}\u{0}{}", s.name, s.version).as_bytes())
                });
                for metric in &mut scope.metrics {
                    let metric_hash =
                        identity::bytes(format!("{}\u{0}{}", metric.name, metric.unit).as_bytes());
                    macro_rules! convert {
                        ($data:expr, $variant:ident, $tag:expr) => {{
                            let points = std::mem::take(&mut $data.data_points);
                            for p in points {
                                let key = identity::combine(&[
                                    resource_hash,
                                    scope_hash,
                                    metric_hash,
                                    $tag,
                                    self.hasher.set(&p.attributes, |_| true),
                                ]);
                                match self.accumulate(key, Point::$variant(p)) {
                                    Some(Point::$variant(total)) => $data.data_points.push(total),
                                    _ => dropped += 1,
                                }
                            }
                            $data.aggregation_temporality = cumulative;
                        }};
                    }
                    match &mut metric.data {
                        Some(Data::Sum(s)) if s.aggregation_temporality == delta => {
                            let tag = 1 + u64::from(s.is_monotonic);
                            convert!(s, Number, tag)
                        }
                        Some(Data::Histogram(h)) if h.aggregation_temporality == delta => {
                            convert!(h, Histogram, 3)
                        }
                        Some(Data::ExponentialHistogram(e))
                            if e.aggregation_temporality == delta =>
                        {
                            convert!(e, Exponential, 4)
                        }
                        _ => {}
                    }
                }
                scope.metrics.retain(|m| match &m.data {
                    Some(Data::Sum(s)) => !s.data_points.is_empty(),
                    Some(Data::Histogram(h)) => !h.data_points.is_empty(),
                    Some(Data::ExponentialHistogram(e)) => !e.data_points.is_empty(),
                    _ => true,
                });
            }
        }
        if dropped > 0 {
            self.dropped.increment(dropped);
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    points = dropped,
                    max_streams = self.config.max_streams,
                    "deltatocumulative: streams over max_streams dropped"
                );
            }
        }
        out.push(batch);
    }

    fn flush(&mut self, now: Instant, _out: &mut Output) {
        self.now = Some(now);
        let stale = self.config.max_stale;
        self.streams.retain(|_, s| now.saturating_duration_since(s.seen) < stale);
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "delta_to_cumulative",
        aliases: &["deltatocumulative"],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Metrics]),
        stability: weir_core::Stability::Alpha,
        summary: "delta sums and histograms to cumulative, bounded by max_streams",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(DeltaToCumulative::new(self, id))
    }
}
