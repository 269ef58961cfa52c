//! Random OTLP requests for the tests of this crate: a seeded generator, so every run sees
//! the same requests, covering every signal, metric type and value type.

use prost::Message as _;

use crate::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, Signal,
    proto::{
        common::v1::{
            AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
        },
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        metrics::v1::{
            Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
            HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
            Summary, SummaryDataPoint, exponential_histogram_data_point::Buckets, metric::Data,
            number_data_point, summary_data_point::ValueAtQuantile,
        },
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span},
    },
};

/// A seeded xorshift generator: the same requests on every run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(crate) fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub(crate) fn text(&mut self) -> String {
        const WORDS: [&str; 6] = ["checkout", "GET /cart", "é", "日本", "", "a.b.c"];
        (0..self.below(3)).map(|_| WORDS[self.below(6)]).collect::<Vec<_>>().join("-")
    }
    pub(crate) fn value(&mut self, depth: usize) -> AnyValue {
        let value = match self.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::StringValue(self.text()),
            1 => Value::BoolValue(self.below(2) == 1),
            2 => Value::IntValue(self.next() as i64),
            3 => Value::DoubleValue(self.next() as f64 / 7.0),
            4 => {
                let n = self.below(5);
                Value::BytesValue(self.bytes(n))
            }
            5 => Value::ArrayValue(ArrayValue {
                values: (0..self.below(3)).map(|_| self.value(depth + 1)).collect(),
            }),
            _ => Value::KvlistValue(KeyValueList { values: self.attributes(depth + 1) }),
        };
        AnyValue { value: Some(value) }
    }
    pub(crate) fn attributes(&mut self, depth: usize) -> Vec<KeyValue> {
        (0..self.below(4))
            .map(|_| KeyValue {
                key: self.text(),
                value: Some(self.value(depth)),
                ..KeyValue::default()
            })
            .collect()
    }
    pub(crate) fn resource(&mut self) -> Option<Resource> {
        (self.below(4) > 0)
            .then(|| Resource { attributes: self.attributes(0), ..Resource::default() })
    }
    pub(crate) fn scope(&mut self) -> Option<InstrumentationScope> {
        (self.below(2) == 0).then(|| InstrumentationScope {
            name: self.text(),
            version: self.text(),
            attributes: self.attributes(0),
            ..InstrumentationScope::default()
        })
    }
    /// An optional id: empty or of the right length.
    pub(crate) fn optional_id(&mut self, len: usize) -> Vec<u8> {
        if self.below(2) == 0 { Vec::new() } else { self.bytes(len) }
    }

    pub(crate) fn traces(&mut self) -> ExportTraceServiceRequest {
        let spans = |rng: &mut Rng| -> Vec<Span> {
            (0..rng.below(5))
                .map(|_| Span {
                    trace_id: rng.bytes(16),
                    span_id: rng.bytes(8),
                    parent_span_id: rng.optional_id(8),
                    trace_state: rng.text(),
                    name: rng.text(),
                    kind: rng.below(6) as i32,
                    start_time_unix_nano: rng.next(),
                    end_time_unix_nano: rng.next(),
                    attributes: rng.attributes(0),
                    events: (0..rng.below(3))
                        .map(|_| span::Event {
                            name: rng.text(),
                            attributes: rng.attributes(0),
                            ..span::Event::default()
                        })
                        .collect(),
                    links: (0..rng.below(3))
                        .map(|_| span::Link {
                            trace_id: rng.bytes(16),
                            span_id: rng.bytes(8),
                            flags: rng.next() as u32,
                            ..span::Link::default()
                        })
                        .collect(),
                    status: (rng.below(2) == 0)
                        .then(|| Status { message: rng.text(), code: rng.below(3) as i32 }),
                    flags: rng.next() as u32,
                    ..Span::default()
                })
                .collect()
        };
        ExportTraceServiceRequest {
            resource_spans: (0..self.below(3) + 1)
                .map(|_| ResourceSpans {
                    resource: self.resource(),
                    scope_spans: (0..self.below(3))
                        .map(|_| ScopeSpans {
                            scope: self.scope(),
                            spans: spans(self),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: self.text(),
                })
                .collect(),
        }
    }

    pub(crate) fn logs(&mut self) -> ExportLogsServiceRequest {
        let records = |rng: &mut Rng| -> Vec<LogRecord> {
            (0..rng.below(5))
                .map(|_| LogRecord {
                    time_unix_nano: rng.next(),
                    severity_number: rng.below(25) as i32,
                    severity_text: rng.text(),
                    body: (rng.below(3) > 0).then(|| rng.value(0)),
                    attributes: rng.attributes(0),
                    trace_id: rng.optional_id(16),
                    span_id: rng.optional_id(8),
                    event_name: rng.text(),
                    ..LogRecord::default()
                })
                .collect()
        };
        ExportLogsServiceRequest {
            resource_logs: (0..self.below(3) + 1)
                .map(|_| ResourceLogs {
                    resource: self.resource(),
                    scope_logs: (0..self.below(3))
                        .map(|_| ScopeLogs {
                            scope: self.scope(),
                            log_records: records(self),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    pub(crate) fn exemplars(&mut self) -> Vec<Exemplar> {
        (0..self.below(3))
            .map(|_| Exemplar {
                filtered_attributes: self.attributes(0),
                trace_id: self.optional_id(16),
                span_id: self.optional_id(8),
                value: Some(crate::proto::metrics::v1::exemplar::Value::AsInt(3)),
                ..Exemplar::default()
            })
            .collect()
    }

    pub(crate) fn metric(&mut self) -> Metric {
        let n = self.below(4);
        let number = |rng: &mut Rng| NumberDataPoint {
            attributes: rng.attributes(0),
            value: Some(number_data_point::Value::AsDouble(1.5)),
            exemplars: rng.exemplars(),
            flags: rng.below(2) as u32,
            ..NumberDataPoint::default()
        };
        let data = match self.below(5) {
            0 => Data::Gauge(Gauge { data_points: (0..n).map(|_| number(self)).collect() }),
            1 => Data::Sum(Sum {
                data_points: (0..n).map(|_| number(self)).collect(),
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
            2 => Data::Histogram(Histogram {
                data_points: (0..n)
                    .map(|_| HistogramDataPoint {
                        attributes: self.attributes(0),
                        count: 3,
                        sum: Some(2.0),
                        bucket_counts: vec![1, 2, 0],
                        explicit_bounds: vec![1.0, 5.0],
                        exemplars: self.exemplars(),
                        min: Some(0.5),
                        ..HistogramDataPoint::default()
                    })
                    .collect(),
                aggregation_temporality: 1,
            }),
            3 => Data::ExponentialHistogram(ExponentialHistogram {
                data_points: (0..n)
                    .map(|_| ExponentialHistogramDataPoint {
                        attributes: self.attributes(0),
                        count: 4,
                        scale: -(self.below(5) as i32),
                        positive: Some(Buckets { offset: -3, bucket_counts: vec![1, 300, 0] }),
                        exemplars: self.exemplars(),
                        ..ExponentialHistogramDataPoint::default()
                    })
                    .collect(),
                aggregation_temporality: 2,
            }),
            _ => Data::Summary(Summary {
                data_points: (0..n)
                    .map(|_| SummaryDataPoint {
                        attributes: self.attributes(0),
                        count: 2,
                        quantile_values: vec![ValueAtQuantile { quantile: 0.5, value: 1.0 }],
                        ..SummaryDataPoint::default()
                    })
                    .collect(),
            }),
        };
        Metric {
            name: self.text(),
            unit: self.text(),
            data: (self.below(8) > 0).then_some(data),
            ..Metric::default()
        }
    }

    pub(crate) fn metrics(&mut self) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: (0..self.below(3) + 1)
                .map(|_| ResourceMetrics {
                    resource: self.resource(),
                    scope_metrics: (0..self.below(3))
                        .map(|_| ScopeMetrics {
                            scope: self.scope(),
                            metrics: (0..self.below(4)).map(|_| self.metric()).collect(),
                            schema_url: String::new(),
                        })
                        .collect(),
                    schema_url: String::new(),
                })
                .collect(),
        }
    }

    pub(crate) fn request(&mut self, signal: Signal) -> Vec<u8> {
        match signal {
            Signal::Traces => self.traces().encode_to_vec(),
            Signal::Metrics => self.metrics().encode_to_vec(),
            Signal::Logs => self.logs().encode_to_vec(),
        }
    }

    /// `bytes` with some random damage: flipped bytes, a cut, an insertion.
    pub(crate) fn damage(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        if bytes.is_empty() {
            let n = self.below(8);
            return self.bytes(n);
        }
        for _ in 0..self.below(3) + 1 {
            let at = self.below(bytes.len() as u64);
            match self.below(4) {
                0 => bytes[at] ^= 1 << self.below(8),
                1 => bytes[at] = self.next() as u8,
                2 => bytes.truncate(at),
                _ => {
                    let n = self.below(4) + 1;
                    let noise = self.bytes(n);
                    bytes.splice(at..at, noise);
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        bytes
    }
}

/// Every item of `batch` with its resource, scope and (for points) metric, as JSON lines.
pub(crate) fn flatten(batch: &crate::Batch) -> Vec<String> {
    let json = crate::json::encode(batch);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let mut out = Vec::new();
    let (resources, scopes, items) = match batch.signal() {
        Signal::Traces => ("resourceSpans", "scopeSpans", "spans"),
        Signal::Logs => ("resourceLogs", "scopeLogs", "logRecords"),
        Signal::Metrics => ("resourceMetrics", "scopeMetrics", "metrics"),
    };
    let list = |v: &serde_json::Value, k: &str| v[k].as_array().cloned().unwrap_or_default();
    for r in list(&value, resources) {
        for s in list(&r, scopes) {
            for item in list(&s, items) {
                let context = format!("{} {} {}", r["resource"], s["scope"], s["schemaUrl"]);
                if batch.signal() != Signal::Metrics {
                    out.push(format!("{context} {item}"));
                    continue;
                }
                let mut metric = item.clone();
                let data = ["gauge", "sum", "histogram", "exponentialHistogram", "summary"]
                    .into_iter()
                    .find(|d| item.get(*d).is_some());
                let Some(data) = data else { continue };
                let points = list(&item[data], "dataPoints");
                metric[data]["dataPoints"] = serde_json::Value::Null;
                for point in points {
                    out.push(format!("{context} {metric} {point}"));
                }
            }
        }
    }
    out
}
