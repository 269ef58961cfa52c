use prost::Message as _;

use super::*;
use crate::{
    Batch, ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
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
    validate,
};

/// A seeded xorshift generator: the same requests on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn text(&mut self) -> String {
        const WORDS: [&str; 6] = ["checkout", "GET /cart", "é", "日本", "", "a.b.c"];
        (0..self.below(3)).map(|_| WORDS[self.below(6)]).collect::<Vec<_>>().join("-")
    }
    fn value(&mut self, depth: usize) -> AnyValue {
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
    fn attributes(&mut self, depth: usize) -> Vec<KeyValue> {
        (0..self.below(4))
            .map(|_| KeyValue {
                key: self.text(),
                value: Some(self.value(depth)),
                ..KeyValue::default()
            })
            .collect()
    }
    fn resource(&mut self) -> Option<Resource> {
        (self.below(4) > 0)
            .then(|| Resource { attributes: self.attributes(0), ..Resource::default() })
    }
    fn scope(&mut self) -> Option<InstrumentationScope> {
        (self.below(2) == 0).then(|| InstrumentationScope {
            name: self.text(),
            version: self.text(),
            attributes: self.attributes(0),
            ..InstrumentationScope::default()
        })
    }
    /// An optional id: empty or of the right length.
    fn optional_id(&mut self, len: usize) -> Vec<u8> {
        if self.below(2) == 0 { Vec::new() } else { self.bytes(len) }
    }

    fn traces(&mut self) -> ExportTraceServiceRequest {
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

    fn logs(&mut self) -> ExportLogsServiceRequest {
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

    fn exemplars(&mut self) -> Vec<Exemplar> {
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

    fn metric(&mut self) -> Metric {
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

    fn metrics(&mut self) -> ExportMetricsServiceRequest {
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

    fn request(&mut self, signal: Signal) -> Vec<u8> {
        match signal {
            Signal::Traces => self.traces().encode_to_vec(),
            Signal::Metrics => self.metrics().encode_to_vec(),
            Signal::Logs => self.logs().encode_to_vec(),
        }
    }

    /// `bytes` with some random damage: flipped bytes, a cut, an insertion.
    fn damage(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
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

/// What a full decode and the identifier checks say about `bytes`: the item count, or that it
/// is refused.
fn decoded(signal: Signal, bytes: &[u8]) -> Option<usize> {
    let batch = Batch::decode_protobuf(signal, bytes).ok()?;
    validate(&batch).ok()?;
    Some(batch.item_count())
}

#[test]
fn the_walk_counts_what_a_decode_counts_on_random_valid_requests() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..3000 {
        let signal = Signal::ALL[round % 3];
        let bytes = rng.request(signal);
        let expected = decoded(signal, &bytes).expect("a generated request is valid");
        assert_eq!(walk(signal, &bytes), Ok(expected), "round {round}, {signal}");
    }
}

#[test]
fn the_walk_refuses_exactly_what_a_decode_refuses_on_damaged_requests() {
    let mut rng = Rng(0x0bad_5eed_0000_0002);
    let mut refused = 0;
    for round in 0..20_000 {
        let signal = Signal::ALL[round % 3];
        let bytes = rng.request(signal);
        let bytes = rng.damage(bytes);
        let walked = walk(signal, &bytes);
        let expected = decoded(signal, &bytes);
        assert_eq!(
            walked.as_ref().ok().copied(),
            expected,
            "round {round}, {signal}: walk {walked:?} against decode {:?}, bytes {bytes:02x?}",
            Batch::decode_protobuf(signal, &bytes).map(|b| validate(&b))
        );
        refused += usize::from(expected.is_none());
    }
    assert!(refused > 5_000, "the damage breaks many requests: {refused}");
}

#[test]
fn identifier_errors_name_the_field_as_the_validator_does() {
    let mut request = Rng(7).traces();
    request.resource_spans = vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![
                Span { trace_id: vec![1; 16], span_id: vec![2; 8], ..Span::default() },
                Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    links: vec![span::Link { trace_id: vec![1; 15], ..span::Link::default() }],
                    ..Span::default()
                },
            ],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }];
    let bytes = request.encode_to_vec();
    let walked = walk(Signal::Traces, &bytes).unwrap_err();
    let batch = Batch::decode_protobuf(Signal::Traces, &bytes).unwrap();
    assert_eq!(walked, validate(&batch).unwrap_err());
    assert_eq!(
        walked.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[1].links[0].traceId: invalid trace id of 15 bytes: expected 16"
    );

    let missing = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span { trace_id: vec![1; 16], ..Span::default() }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let walked = walk(Signal::Traces, &missing.encode_to_vec()).unwrap_err();
    assert_eq!(
        walked.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[0].spanId: invalid span id of 0 bytes: expected 8"
    );
}

#[test]
fn malformed_bytes_name_where_the_walk_stopped() {
    let mut request = Rng(9).logs();
    request.resource_logs[0].scope_logs = vec![ScopeLogs {
        log_records: vec![LogRecord::default(), LogRecord::default()],
        ..ScopeLogs::default()
    }];
    request.resource_logs[0].scope_logs[0].log_records[1].severity_text = "x".into();
    let mut bytes = request.encode_to_vec();
    // the severity text's one byte becomes invalid UTF-8
    let at = bytes.iter().rposition(|b| *b == b'x').unwrap();
    bytes[at] = 0xff;
    let walked = walk(Signal::Logs, &bytes).unwrap_err();
    assert!(Batch::decode_protobuf(Signal::Logs, &bytes).is_err());
    assert_eq!(walked.path, "resourceLogs[0].scopeLogs[0].logRecords[1].severityText");
    assert_eq!(walked.message, "invalid protobuf: string is not UTF-8");
    assert_eq!(walk(Signal::Logs, &[0x0a, 0x05, 0x01]).unwrap_err().path, "resourceLogs");
}

#[test]
fn nesting_past_the_recursion_limit_is_refused() {
    let mut value = AnyValue { value: Some(Value::IntValue(1)) };
    for _ in 0..120 {
        value = AnyValue { value: Some(Value::ArrayValue(ArrayValue { values: vec![value] })) };
    }
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord { body: Some(value), ..LogRecord::default() }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let bytes = request.encode_to_vec();
    assert!(Batch::decode_protobuf(Signal::Logs, &bytes).is_err(), "prost refuses it too");
    let walked = walk(Signal::Logs, &bytes).unwrap_err();
    assert!(walked.message.contains("recursion limit"), "{walked}");
}
