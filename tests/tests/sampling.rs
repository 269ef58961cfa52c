//! Sampling in a running weir, fed by the OpenTelemetry Rust SDK: `tail_sampling` keeps whole
//! traces (every error trace, a consistent share of the rest) and writes on every kept span
//! the threshold it was kept at; `probabilistic_sampler` keeps a consistent share of spans.

use std::collections::HashMap;

use opentelemetry::{
    KeyValue,
    trace::{Span as _, Status, TraceContextExt, Tracer as _, TracerProvider as _},
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use weir_processors::sampling::{Randomness, Threshold, ot_state};
use weir_tests::{Weir, sample};

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  tail_sampling:
    decision_wait: 1s
    policies:
      - name: errors
        type: status_code
        status_code: {status_codes: [ERROR]}
      - name: some
        type: probabilistic
        probabilistic: {sampling_percentage: 25}
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [file]
";

const TRACES: usize = 400;

/// Sends 400 traces of a root and two children; every tenth has an error on a child.
fn send(weir: &Weir) {
    let exporter = {
        let _runtime = weir.runtime.enter();
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", weir.grpc()))
            .build()
            .unwrap()
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("sampled").build())
        .build();
    let tracer = provider.tracer("weir.e2e");
    for i in 0..TRACES {
        let root = tracer.start(format!("root-{i}"));
        let context = opentelemetry::Context::current_with_span(root);
        for child in 0..2 {
            let mut span = tracer.start_with_context(format!("child-{child}"), &context);
            span.set_attribute(KeyValue::new("index", i as i64));
            if child == 1 && i % 10 == 0 {
                span.set_status(Status::error("failed"));
            }
            span.end();
        }
        context.span().end();
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

#[test]
fn tail_sampling_keeps_whole_traces_with_their_thresholds() {
    let weir = Weir::start_with(CONFIG);
    send(&weir);
    // decisions come decision_wait after each trace's first span
    let labels = [("policy", "errors"), ("decision", "sampled")];
    let page = weir_tests::wait_for(std::time::Duration::from_secs(10), || {
        let page = weir.metrics();
        let decided = sample(&page, "weir_sampling_traces_total", &labels);
        (decided == Some((TRACES / 10) as f64)).then_some(page)
    })
    .unwrap_or_else(|| weir.metrics());
    let mut traces: HashMap<Vec<u8>, Vec<(String, i32, String)>> = HashMap::new();
    for batch in weir.stop() {
        let weir_otlp::Decoded::Traces(resources) = batch.into_decoded() else {
            panic!("traces only")
        };
        for span in resources.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans) {
            let code = span.status.map_or(0, |s| s.code);
            traces.entry(span.trace_id.clone()).or_default().push((
                span.name,
                code,
                span.trace_state,
            ));
        }
    }
    let quarter = Threshold::from_probability(0.25, 4).unwrap();
    let mut errors = 0;
    for (id, spans) in &traces {
        assert_eq!(spans.len(), 3, "a kept trace is whole");
        let error = spans.iter().any(|(_, code, _)| *code == 2);
        errors += usize::from(error);
        let expected = if error { Threshold::ALWAYS } else { quarter };
        for (name, _, state) in spans {
            assert_eq!(ot_state(state).th.and_then(Threshold::parse), Some(expected), "{name}");
        }
        if !error {
            assert!(quarter.keeps(Randomness::from_trace_id(id).unwrap()), "consistent");
        }
    }
    assert_eq!(errors, TRACES / 10, "every error trace is kept");
    let others = traces.len() - errors;
    assert!((40..=140).contains(&others), "about a quarter of 360: {others}");
    let kept = sample(
        &page,
        "weir_sampling_traces_total",
        &[("policy", "errors"), ("decision", "sampled")],
    );
    assert_eq!(kept, Some((TRACES / 10) as f64), "{page}");
}
