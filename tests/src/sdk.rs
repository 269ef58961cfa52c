//! The official OpenTelemetry Rust SDK (`opentelemetry-otlp`) as a client of weir: send a
//! known set of spans, metric points or log records, then check what came out.

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
    Batch, Decoded,
    proto::{
        common::v1::{KeyValue as ProtoKeyValue, any_value::Value},
        metrics::v1::{metric::Data, number_data_point},
    },
};

use crate::Weir;

/// How the SDK talks to weir.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// OTLP/gRPC to the `otlp` receiver's gRPC address.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
}

/// Both transports.
pub const TRANSPORTS: [Transport; 2] = [Transport::Grpc, Transport::HttpProtobuf];

/// Spans [`send_traces`] sends.
pub const SPANS: i64 = 300;
/// Log records [`send_logs`] sends.
pub const RECORDS: i64 = 200;

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

/// Sends [`SPANS`] spans named `operation-<i>` with attributes `index` and `route` to weir's
/// receiver `otlp`, and waits until the SDK has exported them.
pub fn send_traces(weir: &Weir, transport: Transport) {
    let exporter = match transport {
        Transport::Grpc => {
            // tonic's channel needs a tokio runtime when it is created
            let _runtime = weir.runtime.enter();
            let endpoint = format!("http://{}", weir.grpc());
            SpanExporter::builder().with_tonic().with_endpoint(endpoint).build().unwrap()
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
}

/// Checks that `batches` hold exactly the spans of [`send_traces`], each once, intact.
pub fn check_traces(batches: &[Batch], transport: Transport) {
    let mut seen = BTreeMap::new();
    for batch in batches {
        let view = batch.view();
        let Decoded::Traces(resources) = &*view else { continue };
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

/// Records 30 values on a counter `requests` and a histogram `latency` (ms) over three routes
/// and waits until the SDK has exported them.
pub fn send_metrics(weir: &Weir, transport: Transport) {
    let exporter = match transport {
        Transport::Grpc => {
            let _runtime = weir.runtime.enter();
            let endpoint = format!("http://{}", weir.grpc());
            MetricExporter::builder().with_tonic().with_endpoint(endpoint).build().unwrap()
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
}

/// Checks the points of [`send_metrics`]: per route, the counter's value and the histogram's
/// sum and count (the last export of each cumulative series wins).
pub fn check_metrics(batches: &[Batch], transport: Transport) {
    let mut points: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
    for batch in batches {
        let view = batch.view();
        let Decoded::Metrics(resources) = &*view else { continue };
        for rm in resources {
            let attributes = &rm.resource.as_ref().unwrap().attributes;
            assert_eq!(string(attributes, "service.name"), "weir-e2e");
            for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                match &metric.data {
                    Some(Data::Sum(sum)) => {
                        assert!(sum.is_monotonic);
                        for p in &sum.data_points {
                            let Some(number_data_point::Value::AsInt(v)) = p.value else {
                                panic!("u64 counter points are ints")
                            };
                            let key = (metric.name.clone(), string(&p.attributes, "route"));
                            points.insert(key, (v as f64, 1));
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
        let sum: u64 = (0..30).filter(|i| i % 3 == r).sum();
        let route = format!("/r{r}");
        assert_eq!(points[&("requests".into(), route.clone())], (sum as f64, 1), "{transport:?}");
        assert_eq!(points[&("latency".into(), route)], (sum as f64, 10), "{transport:?}");
    }
    assert_eq!(points.len(), 6, "{transport:?}: {points:?}");
}

/// Emits [`RECORDS`] warnings with bodies `record <i>` and an `index` attribute, and waits
/// until the SDK has exported them.
pub fn send_logs(weir: &Weir, transport: Transport) {
    let exporter = match transport {
        Transport::Grpc => {
            let _runtime = weir.runtime.enter();
            let endpoint = format!("http://{}", weir.grpc());
            LogExporter::builder().with_tonic().with_endpoint(endpoint).build().unwrap()
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
}

/// Checks that `batches` hold exactly the records of [`send_logs`], each once, intact.
pub fn check_logs(batches: &[Batch], transport: Transport) {
    let mut seen = BTreeMap::new();
    for batch in batches {
        let view = batch.view();
        let Decoded::Logs(resources) = &*view else { continue };
        for rl in resources {
            let attributes = &rl.resource.as_ref().unwrap().attributes;
            assert_eq!(string(attributes, "service.name"), "weir-e2e");
            for record in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                let index = int(&record.attributes, "index");
                let body = record.body.clone().and_then(|b| b.value);
                assert_eq!(body, Some(Value::StringValue(format!("record {index}"))));
                assert_eq!(record.severity_number, Severity::Warn as i32);
                assert!(seen.insert(index, ()).is_none(), "{transport:?}: record {index} twice");
            }
        }
    }
    assert_eq!(seen.len() as i64, RECORDS, "{transport:?}: every record arrived");
}
