//! What `weir loadgen` sends: deterministic telemetry of a configurable shape, from a seed.

use weir_otlp::{
    Batch, Signal,
    attributes::kv_value as kv,
    proto::{
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        metrics::v1::{
            AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
            ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
        },
        resource::v1::Resource,
        trace::v1::{
            ResourceSpans, ScopeSpans, Span, Status, span::Event, span::SpanKind,
            status::StatusCode,
        },
    },
};

/// The kind of metric generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum MetricKind {
    /// A monotonic sum.
    Counter,
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
}

/// Aggregation temporality of sums and histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Temporality {
    /// Each point carries the total since start.
    Cumulative,
    /// Each point carries the change since the previous one.
    Delta,
}

/// The shape knobs.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Shape {
    /// Distinct services (one resource each); requests rotate through them.
    #[arg(long, default_value_t = 1)]
    pub services: usize,
    /// Spans per trace.
    #[arg(long, default_value_t = 5)]
    pub spans_per_trace: usize,
    /// Depth of each trace's tree: the root is level 1, its children level 2, and so on.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Attributes per span, data point or log record.
    #[arg(long, default_value_t = 10)]
    pub attributes: usize,
    /// Bytes of each attribute's string value.
    #[arg(long, default_value_t = 16)]
    pub attribute_size: usize,
    /// Events per span.
    #[arg(long, default_value_t = 1)]
    pub events: usize,
    /// Fraction of spans with status ERROR (and of log records with severity ERROR).
    #[arg(long, default_value_t = 0.0)]
    pub error_ratio: f64,
    /// Median span duration, milliseconds (lognormal).
    #[arg(long, default_value_t = 20.0)]
    pub latency_median_ms: f64,
    /// Sigma of the lognormal span duration (the tail's weight).
    #[arg(long, default_value_t = 0.8)]
    pub latency_sigma: f64,
    /// Metric kind.
    #[arg(long, value_enum, default_value_t = MetricKind::Counter)]
    pub metric_kind: MetricKind,
    /// Temporality of counters and histograms.
    #[arg(long, value_enum, default_value_t = Temporality::Cumulative)]
    pub temporality: Temporality,
    /// Distinct values of the `series.id` attribute of metric points: the number of series.
    #[arg(long, default_value_t = 100)]
    pub cardinality: usize,
    /// Cardinality explosion: every point also carries a unique `request.id`.
    #[arg(long, default_value_t = false)]
    pub explode: bool,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            services: 1,
            spans_per_trace: 5,
            depth: 3,
            attributes: 10,
            attribute_size: 16,
            events: 1,
            error_ratio: 0.0,
            latency_median_ms: 20.0,
            latency_sigma: 0.8,
            metric_kind: MetricKind::Counter,
            temporality: Temporality::Cumulative,
            cardinality: 100,
            explode: false,
        }
    }
}

/// A small, fast, seeded random number generator (xorshift64*): the same seed gives the same
/// telemetry.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn text(rng: &mut Rng, size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..size).map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize] as char).collect()
}

fn attributes(rng: &mut Rng, count: usize, size: usize) -> Vec<KeyValue> {
    (0..count).map(|i| kv(&format!("attr.{i}"), Value::StringValue(text(rng, size)))).collect()
}

/// Generates batches of one signal, continuing where the last left off.
#[derive(Debug, Clone)]
pub struct Generator {
    shape: Shape,
    rng: Rng,
    /// Items generated so far: numbers points' unique ids and the time line.
    sequence: u64,
    requests: u64,
}

impl Generator {
    /// A generator of `shape` from `seed`.
    pub fn new(shape: Shape, seed: u64) -> Generator {
        Generator { shape, rng: Rng::new(seed), sequence: 0, requests: 0 }
    }

    /// The next request of `items` items of `signal` (for traces, rounded up to whole traces).
    pub fn next(&mut self, signal: Signal, items: usize) -> Batch {
        let service = format!("loadgen-{}", self.requests % self.shape.services.max(1) as u64);
        self.requests += 1;
        let resource = Some(Resource {
            attributes: vec![kv("service.name", Value::StringValue(service))],
            ..Default::default()
        });
        let scope =
            Some(InstrumentationScope { name: "weir.loadgen".into(), ..Default::default() });
        match signal {
            Signal::Traces => Batch::from(vec![ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans {
                    scope,
                    spans: self.spans(items),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }]),
            Signal::Metrics => Batch::from(vec![ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics {
                    scope,
                    metrics: vec![self.metric(items)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }]),
            Signal::Logs => Batch::from(vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs {
                    scope,
                    log_records: self.logs(items),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }]),
        }
    }

    fn now(&self) -> u64 {
        1_700_000_000_000_000_000 + self.sequence * 1_000_000
    }

    fn spans(&mut self, items: usize) -> Vec<Span> {
        let per_trace = self.shape.spans_per_trace.max(1);
        // A trace of several spans has at least a root and its children.
        let depth = self.shape.depth.clamp(1, per_trace).max(if per_trace > 1 { 2 } else { 1 });
        let mut spans: Vec<Span> = Vec::with_capacity(items.div_ceil(per_trace) * per_trace);
        while spans.len() < items {
            let trace_id =
                [self.rng.next_u64().to_be_bytes(), self.rng.next_u64().to_be_bytes()].concat();
            let first = spans.len();
            // levels[d] holds the indices of spans at depth d; each span's parent is a span of
            // the level above, chosen in turn, so the trace is a tree of the requested depth.
            let mut levels: Vec<Vec<usize>> = vec![Vec::new(); depth];
            for i in 0..per_trace {
                let level = if i == 0 { 0 } else { 1 + (i - 1) % (depth - 1).max(1) };
                let level = level.min(depth - 1);
                let parent = if level == 0 {
                    Vec::new()
                } else {
                    let above = &levels[level - 1];
                    spans[above[i % above.len()]].span_id.clone()
                };
                let start = self.now();
                let duration_ms = (self.shape.latency_median_ms.ln()
                    + self.shape.latency_sigma * self.rng.normal())
                .exp();
                let error = self.rng.unit() < self.shape.error_ratio;
                let mut span = Span {
                    trace_id: trace_id.clone(),
                    span_id: (self.rng.next_u64() | 1).to_be_bytes().to_vec(),
                    parent_span_id: parent,
                    name: format!("operation-{}", i % 8),
                    kind: if level == 0 { SpanKind::Server } else { SpanKind::Internal } as i32,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + (duration_ms * 1e6) as u64,
                    attributes: attributes(
                        &mut self.rng,
                        self.shape.attributes,
                        self.shape.attribute_size,
                    ),
                    status: Some(Status {
                        code: if error { StatusCode::Error } else { StatusCode::Ok } as i32,
                        message: String::new(),
                    }),
                    ..Default::default()
                };
                for e in 0..self.shape.events {
                    let name = format!("event-{e}");
                    span.events.push(Event {
                        time_unix_nano: start + 1_000,
                        name,
                        attributes: Vec::new(),
                        dropped_attributes_count: 0,
                    });
                }
                levels[level].push(first + i);
                spans.push(span);
                self.sequence += 1;
            }
        }
        spans
    }

    fn metric(&mut self, items: usize) -> Metric {
        let mut points = Vec::with_capacity(items);
        for _ in 0..items {
            let series = self.sequence % self.shape.cardinality.max(1) as u64;
            let mut attributes =
                vec![kv("series.id", Value::StringValue(format!("series-{series}")))];
            if self.shape.explode {
                attributes
                    .push(kv("request.id", Value::StringValue(format!("req-{}", self.sequence))));
            }
            // series.id counts as one of the point's attributes
            let others = self.shape.attributes.saturating_sub(1);
            attributes.extend(self::attributes(&mut self.rng, others, self.shape.attribute_size));
            points.push((attributes, self.now(), self.rng.unit() * 100.0));
            self.sequence += 1;
        }
        let temporality = match self.shape.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        let number = |(attributes, time, value): (Vec<KeyValue>, u64, f64)| NumberDataPoint {
            attributes,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        };
        let (name, data) = match self.shape.metric_kind {
            MetricKind::Counter => (
                "loadgen.requests",
                Data::Sum(Sum {
                    data_points: points.into_iter().map(number).collect(),
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                }),
            ),
            MetricKind::Gauge => (
                "loadgen.temperature",
                Data::Gauge(Gauge { data_points: points.into_iter().map(number).collect() }),
            ),
            MetricKind::Histogram => {
                let bounds = vec![5.0, 10.0, 25.0, 50.0, 100.0];
                let data_points = points
                    .into_iter()
                    .map(|(attributes, time, value)| {
                        let mut bucket_counts = vec![0u64; bounds.len() + 1];
                        bucket_counts
                            [bounds.iter().position(|b| value <= *b).unwrap_or(bounds.len())] = 1;
                        HistogramDataPoint {
                            attributes,
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            time_unix_nano: time,
                            count: 1,
                            sum: Some(value),
                            bucket_counts,
                            explicit_bounds: bounds.clone(),
                            ..Default::default()
                        }
                    })
                    .collect();
                (
                    "loadgen.duration",
                    Data::Histogram(Histogram {
                        data_points,
                        aggregation_temporality: temporality,
                    }),
                )
            }
        };
        Metric { name: name.into(), unit: "1".into(), data: Some(data), ..Default::default() }
    }

    fn logs(&mut self, items: usize) -> Vec<LogRecord> {
        (0..items)
            .map(|_| {
                let error = self.rng.unit() < self.shape.error_ratio;
                let record = LogRecord {
                    time_unix_nano: self.now(),
                    severity_number: if error { 17 } else { 9 },
                    severity_text: if error { "ERROR" } else { "INFO" }.into(),
                    body: Some(AnyValue {
                        value: Some(Value::StringValue(format!(
                            "request {} handled",
                            self.sequence
                        ))),
                    }),
                    attributes: attributes(
                        &mut self.rng,
                        self.shape.attributes,
                        self.shape.attribute_size,
                    ),
                    ..Default::default()
                };
                self.sequence += 1;
                record
            })
            .collect()
    }
}
