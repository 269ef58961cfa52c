//! The processors that reshape telemetry, end to end with the official SDKs: `transform`
//! redacts a header attribute, parses JSON log bodies into attributes and renames a gauge
//! converted to a sum; `filter` drops health checks in both its OTTL and its legacy style
//! (Python SDK over OTLP/gRPC); the `routing` connector sends each tenant to its own exporter
//! and the `count` connector counts the spans of each (Rust SDK).

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use opentelemetry::{
    KeyValue,
    trace::{Tracer as _, TracerProvider as _},
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use weir_otlp::{
    Batch, Decoded,
    proto::{
        common::v1::{KeyValue as ProtoKeyValue, any_value::Value},
        metrics::v1::{metric::Data, number_data_point},
    },
};
use weir_tests::Weir;

fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/python-venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/test", python.display());
    python
}

fn attribute(attributes: &[ProtoKeyValue], key: &str) -> Option<Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone()?.value)
}

fn text(value: Option<Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

const RESHAPE: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  transform:
    trace_statements:
      - set(span.attributes["http.request.header.authorization"], "REDACTED") where span.attributes["http.request.header.authorization"] != nil
    log_statements:
      - context: log
        conditions: ['IsMatch(body, "^\\{")']
        statements:
          - merge_maps(attributes, ParseJSON(body), "upsert")
    metric_statements:
      - set(metric.name, "queue.depth") where metric.name == "queue_depth"
      - convert_gauge_to_sum("cumulative", false) where metric.name == "queue.depth"
  filter/ottl:
    trace_conditions:
      - span.attributes["http.route"] == "/healthz"
  filter/legacy:
    spans:
      exclude:
        match_type: regexp
        span_names: ["^GET /livez$"]
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [filter/ottl, filter/legacy, transform]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [transform]
      exporters: [file]
    logs:
      receivers: [otlp]
      processors: [transform]
      exporters: [file]
"#;

#[test]
fn python_sdk_telemetry_is_redacted_filtered_parsed_and_converted() {
    let weir = Weir::start_with(RESHAPE);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/reshape.py");
    let output = Command::new(python()).arg(script).arg(weir.grpc().to_string()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metrics_page = weir.metrics();

    let (mut spans, mut logs, mut gauges) = (Vec::new(), Vec::new(), Vec::new());
    for batch in weir.stop() {
        match batch.into_decoded() {
            Decoded::Traces(r) => {
                spans.extend(r.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans))
            }
            Decoded::Logs(r) => {
                logs.extend(r.into_iter().flat_map(|r| r.scope_logs).flat_map(|s| s.log_records))
            }
            Decoded::Metrics(r) => {
                gauges.extend(r.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics))
            }
        }
    }
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["GET /cart"; 5], "health checks dropped by both filter styles");
    for span in &spans {
        let header = attribute(&span.attributes, "http.request.header.authorization");
        assert_eq!(text(header), "REDACTED");
    }
    let filtered = weir_tests::sample(
        &metrics_page,
        "otelcol_processor_filter_spans_filtered_total",
        &[("processor", "filter/ottl")],
    );
    assert_eq!(filtered, Some(3.0), "{metrics_page}");

    let mut users: Vec<(String, f64)> = logs
        .iter()
        .map(|record| {
            let status = match attribute(&record.attributes, "status") {
                Some(Value::DoubleValue(d)) => d,
                other => panic!("status: {other:?}"),
            };
            (text(attribute(&record.attributes, "user")), status)
        })
        .collect();
    users.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, f64)> =
        (0..4).map(|i| (format!("u{i}"), 200.0 + i as f64)).collect();
    assert_eq!(users, expected, "JSON bodies parsed into attributes (numbers as doubles)");

    let depth = gauges.iter().find(|m| m.name == "queue.depth").expect("renamed");
    assert!(!gauges.iter().any(|m| m.name == "queue_depth"));
    let Some(Data::Sum(sum)) = &depth.data else { panic!("not a sum: {depth:?}") };
    assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, false));
    let value = sum.data_points.last().and_then(|p| match p.value {
        Some(number_data_point::Value::AsInt(i)) => Some(i as f64),
        Some(number_data_point::Value::AsDouble(d)) => Some(d),
        None => None,
    });
    assert_eq!(value, Some(7.0));
}

const TENANTS: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
connectors:
  routing:
    default_pipelines: [traces/other]
    table:
      - condition: resource.attributes["tenant"] == "acme"
        pipelines: [traces/acme]
  count:
    spans:
      tenant.spans:
        description: Spans per tenant.
        attributes: [{key: tenant.tier, default_value: standard}]
exporters:
  file:
    path: {output}
  file/acme:
    path: {output}.acme
  file/other:
    path: {output}.other
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [routing, count]
    traces/acme:
      receivers: [routing]
      exporters: [file/acme]
    traces/other:
      receivers: [routing]
      exporters: [file/other]
    metrics:
      receivers: [count]
      exporters: [file]
"#;

fn send(weir: &Weir, tenant: &str, spans: usize) {
    let exporter = {
        let _runtime = weir.runtime.enter();
        let endpoint = format!("http://{}", weir.grpc());
        SpanExporter::builder().with_tonic().with_endpoint(endpoint).build().unwrap()
    };
    let resource = Resource::builder()
        .with_service_name("shop")
        .with_attribute(KeyValue::new("tenant", tenant.to_owned()))
        .build();
    let provider =
        SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
    let tracer = provider.tracer("weir.tenants");
    for i in 0..spans {
        tracer.in_span(format!("{tenant}-{i}"), |_| {});
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

fn span_names(batches: &[Batch]) -> Vec<String> {
    let mut names: Vec<String> = batches
        .iter()
        .flat_map(|b| match b.clone().into_decoded() {
            Decoded::Traces(r) => r
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
                .map(|s| s.name)
                .collect::<Vec<_>>(),
            _ => panic!("spans only"),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn rust_sdk_tenants_are_routed_and_counted() {
    let weir = Weir::start_with(TENANTS);
    send(&weir, "acme", 3);
    send(&weir, "ecorp", 2);
    let files = weir.stop_files();
    assert_eq!(span_names(&files["out.jsonl.acme"]), ["acme-0", "acme-1", "acme-2"]);
    assert_eq!(span_names(&files["out.jsonl.other"]), ["ecorp-0", "ecorp-1"]);

    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for batch in &files["out.jsonl"] {
        let Decoded::Metrics(resources) = batch.clone().into_decoded() else { panic!() };
        for rm in resources {
            let tenant = text(attribute(&rm.resource.unwrap().attributes, "tenant"));
            for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                assert_eq!(metric.name, "tenant.spans");
                let Some(Data::Sum(sum)) = &metric.data else { panic!() };
                for point in &sum.data_points {
                    assert_eq!(text(attribute(&point.attributes, "tenant.tier")), "standard");
                    let Some(number_data_point::Value::AsInt(n)) = point.value else { panic!() };
                    *counts.entry(tenant.clone()).or_default() += n;
                }
            }
        }
    }
    assert_eq!(counts, BTreeMap::from([("acme".to_owned(), 3), ("ecorp".to_owned(), 2)]));
}
