//! The official OpenTelemetry Rust SDK (`opentelemetry-otlp`) exporting traces, metrics and
//! logs to weir over gRPC and over HTTP/protobuf; weir writes them with the `file` exporter
//! and the test reads the file back: every span, data point and log record arrived once, with
//! its attributes.

use std::collections::BTreeMap;

use opentelemetry::{
    KeyValue,
    logs::{AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity},
    metrics::MeterProvider as _,
    trace::{Span as _, Tracer as _, TracerProvider as _},
};
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    Resource, logs::SdkLoggerProvider, metrics::SdkMeterProvider, trace::SdkTracerProvider,
};
use weir_otlp::{
    Batch,
    proto::common::v1::{KeyValue as ProtoKeyValue, any_value::Value},
};
use weir_tests::Weir;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Grpc,
    HttpProtobuf,
}

const TRANSPORTS: [Transport; 2] = [Transport::Grpc, Transport::HttpProtobuf];

fn resource(transport: Transport) -> Resource {
    Resource::builder()
        .with_service_name("weir-e2e")
        .with_attribute(KeyValue::new("transport", format!("{transport:?}")))
        .build()
}

fn attribute(attributes: &[ProtoKeyValue], key: &str) -> Option<Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone()?.value)
}

fn int(attributes: &[ProtoKeyValue], key: &str) -> i64 {
    match attribute(attributes, key) {
        Some(Value::IntValue(i)) => i,
        other => panic!("{key}: expected an int, got {other:?}"),
    }
}

fn string(attributes: &[ProtoKeyValue], key: &str) -> String {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => s,
        other => panic!("{key}: expected a string, got {other:?}"),
    }
}

#[test]
fn traces_arrive_once_with_their_attributes() {
    const SPANS: i64 = 300;
    for transport in TRANSPORTS {
        let weir = Weir::start();
        let exporter = match transport {
            Transport::Grpc => {
                // tonic's channel needs a tokio runtime when it is created
                let _runtime = weir.runtime.enter();
                SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(format!("http://{}", weir.grpc()))
                    .build()
                    .unwrap()
            }
            Transport::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("http://{}/v1/traces", weir.http()))
                .build()
                .unwrap(),
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(transport))
            .build();
        let tracer = provider.tracer("weir.e2e");
        for i in 0..SPANS {
            let mut span = tracer.start(format!("operation-{i}"));
            span.set_attribute(KeyValue::new("index", i));
            span.set_attribute(KeyValue::new("route", format!("/items/{}", i % 7)));
            span.end();
        }
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();

        let mut seen = BTreeMap::new();
        for batch in weir.stop() {
            let Batch::Traces(resources) = batch else { panic!("only traces were sent") };
            for rs in resources {
                let attributes = &rs.resource.as_ref().unwrap().attributes;
                assert_eq!(string(attributes, "service.name"), "weir-e2e");
                assert_eq!(string(attributes, "transport"), format!("{transport:?}"));
                for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                    let index = int(&span.attributes, "index");
                    assert_eq!(span.name, format!("operation-{index}"));
                    assert_eq!(string(&span.attributes, "route"), format!("/items/{}", index % 7));
                    assert_eq!(span.trace_id.len(), 16);
                    assert!(seen.insert(index, ()).is_none(), "{transport:?}: span {index} twice");
                }
            }
        }
        assert_eq!(seen.len() as i64, SPANS, "{transport:?}: every span arrived");
    }
}

#[test]
fn metrics_arrive_with_their_values() {
    for transport in TRANSPORTS {
        let weir = Weir::start();
        let exporter = match transport {
            Transport::Grpc => {
                let _runtime = weir.runtime.enter();
                MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(format!("http://{}", weir.grpc()))
                    .build()
                    .unwrap()
            }
            Transport::HttpProtobuf => MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("http://{}/v1/metrics", weir.http()))
                .build()
                .unwrap(),
        };
        let provider = SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .with_resource(resource(transport))
            .build();
        let meter = provider.meter("weir.e2e");
        let counter = meter.u64_counter("requests").build();
        let histogram = meter.f64_histogram("latency").with_unit("ms").build();
        for i in 0..30u64 {
            let route = format!("/r{}", i % 3);
            counter.add(i, &[KeyValue::new("route", route.clone())]);
            histogram.record(i as f64, &[KeyValue::new("route", route)]);
        }
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();

        // (metric, route) -> (sum or counter value, count); the last export wins (cumulative)
        let mut points: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
        for batch in weir.stop() {
            let Batch::Metrics(resources) = batch else { panic!("only metrics were sent") };
            for rm in resources {
                assert_eq!(
                    string(&rm.resource.as_ref().unwrap().attributes, "service.name"),
                    "weir-e2e"
                );
                for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                    use weir_otlp::proto::metrics::v1::{metric::Data, number_data_point};
                    match &metric.data {
                        Some(Data::Sum(sum)) => {
                            assert!(sum.is_monotonic);
                            for p in &sum.data_points {
                                let Some(number_data_point::Value::AsInt(v)) = p.value else {
                                    panic!("u64 counter points are ints")
                                };
                                points.insert(
                                    (metric.name.clone(), string(&p.attributes, "route")),
                                    (v as f64, 1),
                                );
                            }
                        }
                        Some(Data::Histogram(h)) => {
                            assert_eq!(metric.unit, "ms");
                            for p in &h.data_points {
                                let key = (metric.name.clone(), string(&p.attributes, "route"));
                                points.insert(key, (p.sum.unwrap(), p.count));
                            }
                        }
                        other => panic!("unexpected metric {}: {other:?}", metric.name),
                    }
                }
            }
        }
        for r in 0..3u64 {
            let values: Vec<u64> = (0..30).filter(|i| i % 3 == r).collect();
            let sum: u64 = values.iter().sum();
            let route = format!("/r{r}");
            assert_eq!(
                points[&("requests".into(), route.clone())],
                (sum as f64, 1),
                "{transport:?}"
            );
            assert_eq!(points[&("latency".into(), route)], (sum as f64, 10), "{transport:?}");
        }
        assert_eq!(points.len(), 6, "{transport:?}: {points:?}");
    }
}

#[test]
fn logs_arrive_once_with_their_attributes() {
    const RECORDS: i64 = 200;
    for transport in TRANSPORTS {
        let weir = Weir::start();
        let exporter = match transport {
            Transport::Grpc => {
                let _runtime = weir.runtime.enter();
                LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(format!("http://{}", weir.grpc()))
                    .build()
                    .unwrap()
            }
            Transport::HttpProtobuf => LogExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("http://{}/v1/logs", weir.http()))
                .build()
                .unwrap(),
        };
        let provider = SdkLoggerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource(transport))
            .build();
        let logger = provider.logger("weir.e2e");
        for i in 0..RECORDS {
            let mut record = logger.create_log_record();
            record.set_severity_number(Severity::Warn);
            record.set_body(LogValue::from(format!("record {i}")));
            record.add_attribute("index", i);
            logger.emit(record);
        }
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();

        let mut seen = BTreeMap::new();
        for batch in weir.stop() {
            let Batch::Logs(resources) = batch else { panic!("only logs were sent") };
            for rl in resources {
                assert_eq!(
                    string(&rl.resource.as_ref().unwrap().attributes, "service.name"),
                    "weir-e2e"
                );
                for record in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                    let index = int(&record.attributes, "index");
                    let body = record.body.clone().and_then(|b| b.value);
                    assert_eq!(body, Some(Value::StringValue(format!("record {index}"))));
                    assert_eq!(record.severity_number, Severity::Warn as i32);
                    assert!(
                        seen.insert(index, ()).is_none(),
                        "{transport:?}: record {index} twice"
                    );
                }
            }
        }
        assert_eq!(seen.len() as i64, RECORDS, "{transport:?}: every record arrived");
    }
}
