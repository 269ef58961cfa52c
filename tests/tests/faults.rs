//! A backend that fails, as backends do: weir retries what may succeed later (nothing lost),
//! drops what never will (counted), never retries a partial success, times out a hung
//! backend, and gives up after `max_elapsed_time` (counted and logged). Both OTLP exporters,
//! gRPC and HTTP, face the same backend.

use std::time::Duration;

use weir_tests::{
    Weir,
    backend::{Backend, Mode},
    sample, wait_until,
};

/// Keep every field bound: dropping the runtime stops the backend.
struct Setup {
    backend: Backend,
    weir: Weir,
    _backend_runtime: tokio::runtime::Runtime,
}

/// A backend in `mode` and a weir forwarding traces to it with `otlp/<name>` and
/// `otlphttp/<name>`, retrying per `retry` (YAML lines under `retry_on_failure:`).
fn setup(mode: Mode, name: &str, retry: &str) -> Setup {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = runtime.block_on(Backend::start(mode));
    let config = format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp/{name}:
    endpoint: http://{grpc}
    timeout: 500ms
    retry_on_failure:
{retry}
  otlphttp/{name}:
    endpoint: http://{http}
    timeout: 500ms
    retry_on_failure:
{retry}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/{name}, otlphttp/{name}]
",
        grpc = backend.grpc,
        http = backend.http,
    );
    let weir = Weir::start_with(&config);
    Setup { backend, weir, _backend_runtime: runtime }
}

const FAST_RETRY: &str =
    "      initial_interval: 100ms\n      max_interval: 1s\n      max_elapsed_time: 120s";

fn send(weir: &Weir, requests: u64, spans: usize) {
    let client = reqwest::blocking::Client::new();
    for seed in 0..requests {
        let body = weir_core::testing::spans("svc", spans, seed).encode_protobuf();
        let response = client
            .post(format!("http://{}/v1/traces", weir.http()))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

fn metric(weir: &Weir, name: &str, exporter: &str) -> f64 {
    sample(&weir.metrics(), name, &[("exporter", exporter)]).unwrap_or(0.0)
}

#[test]
fn a_backend_down_for_thirty_seconds_loses_nothing() {
    let Setup { backend, weir, _backend_runtime: _runtime } =
        setup(Mode::Unavailable, "outage", FAST_RETRY);
    send(&weir, 10, 20);
    std::thread::sleep(Duration::from_secs(30));
    assert_eq!(backend.spans(), 0);
    for exporter in ["otlp/outage", "otlphttp/outage"] {
        assert!(
            metric(&weir, "weir_exporter_retries_total", exporter) >= 5.0,
            "{exporter} retried"
        );
    }
    backend.set_mode(Mode::Accept);
    assert!(
        wait_until(Duration::from_secs(20), || backend.spans() == 400),
        "{} spans",
        backend.spans()
    );
    for exporter in ["otlp/outage", "otlphttp/outage"] {
        assert_eq!(
            metric(&weir, "otelcol_exporter_sent_spans_total", exporter),
            200.0,
            "{exporter}"
        );
        assert_eq!(
            metric(&weir, "otelcol_exporter_send_failed_spans_total", exporter),
            0.0,
            "{exporter}"
        );
    }
    weir.stop();
    assert_eq!(backend.spans(), 400, "each exporter delivered each span once");
}

#[test]
fn a_permanent_error_is_dropped_counted_and_not_retried() {
    let Setup { backend, weir, _backend_runtime: _runtime } =
        setup(Mode::BadRequest, "refused", FAST_RETRY);
    send(&weir, 3, 10);
    let dropped = |e: &str| metric(&weir, "otelcol_exporter_send_failed_spans_total", e);
    assert!(wait_until(Duration::from_secs(10), || dropped("otlp/refused") == 30.0
        && dropped("otlphttp/refused") == 30.0));
    // what must not happen (a retry) gets the time it would take
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(backend.attempts(), 6, "one attempt per request and exporter: no retry");
    assert_eq!(metric(&weir, "weir_exporter_retries_total", "otlp/refused"), 0.0);
    weir.stop();
}

#[test]
fn a_partial_success_is_counted_and_not_retried() {
    let Setup { backend, weir, _backend_runtime: _runtime } =
        setup(Mode::PartialSuccess(2), "partial", FAST_RETRY);
    send(&weir, 3, 10);
    let rejected = |e: &str| metric(&weir, "weir_exporter_partial_success_rejected_items_total", e);
    assert!(wait_until(Duration::from_secs(10), || rejected("otlp/partial") == 6.0
        && rejected("otlphttp/partial") == 6.0));
    // what must not happen (a retry) gets the time it would take
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(backend.attempts(), 6, "no retry after a partial success");
    assert_eq!(metric(&weir, "otelcol_exporter_sent_spans_total", "otlp/partial"), 30.0);
    weir.stop();
}

#[test]
fn a_hung_backend_times_out_and_is_retried() {
    let Setup { backend, weir, _backend_runtime: _runtime } = setup(Mode::Hang, "hung", FAST_RETRY);
    send(&weir, 1, 10);
    assert!(wait_until(Duration::from_secs(5), || backend.attempts() >= 2), "both exporters tried");
    backend.set_mode(Mode::Accept);
    assert!(
        wait_until(Duration::from_secs(10), || backend.spans() == 20),
        "{} spans",
        backend.spans()
    );
    for exporter in ["otlp/hung", "otlphttp/hung"] {
        assert!(
            metric(&weir, "weir_exporter_retries_total", exporter) >= 1.0,
            "{exporter} retried after its timeout"
        );
    }
    weir.stop();
}

#[test]
fn a_backend_down_past_max_elapsed_time_is_dropped_and_counted() {
    let retry =
        "      initial_interval: 100ms\n      max_interval: 500ms\n      max_elapsed_time: 2s";
    let Setup { backend, weir, _backend_runtime: _runtime } =
        setup(Mode::Unavailable, "gone", retry);
    send(&weir, 1, 10);
    let dropped = |e: &str| metric(&weir, "otelcol_exporter_send_failed_spans_total", e);
    assert!(wait_until(Duration::from_secs(10), || dropped("otlp/gone") == 10.0
        && dropped("otlphttp/gone") == 10.0));
    assert!(backend.attempts() >= 4, "retried before giving up: {}", backend.attempts());
    assert_eq!(backend.spans(), 0);
    weir.stop();
}

/// An agent forwarding one request of spans encoding to about `1.2 × limit` bytes to a gRPC
/// backend whose message limit is `limit` bytes, with `max_request_bytes` as given (None: the
/// default).
fn forward_large(limit: usize, max_request_bytes: Option<usize>) -> (Backend, f64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = runtime.block_on(Backend::start_limited(Mode::Accept, limit));
    let cap = max_request_bytes.map_or(String::new(), |b| format!("    max_request_bytes: {b}\n"));
    let weir = Weir::start_with(&format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp_grpc:
    endpoint: http://{}
    compression: none
{cap}service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
",
        backend.grpc
    ));
    let mut generator = weir::loadgen::shape::Generator::new(Default::default(), 5);
    let per_span = generator.next(weir_otlp::Signal::Traces, 1000).encoded_len() / 1000;
    let batch = generator.next(weir_otlp::Signal::Traces, limit * 6 / 5 / per_span);
    assert!(batch.encoded_len() > limit, "the request is over the backend's limit");
    assert_eq!(weir.post(&batch), 200);
    let sent = batch.item_count();
    assert!(
        wait_until(Duration::from_secs(20), || backend.spans() == sent),
        "{} of {sent}",
        backend.spans()
    );
    let split = metric(&weir, "weir_exporter_requests_split_total", "otlp_grpc");
    weir.stop();
    drop(runtime);
    (backend, split)
}

#[test]
fn a_request_over_the_backends_limit_is_split_and_delivered() {
    let (backend, split) = forward_large(64 << 10, Some(0));
    assert!(split >= 1.0, "refused as too large, then halved: {split}");
    assert!(backend.accepted().len() >= 2);
}

#[test]
fn the_default_cap_keeps_requests_under_grpcs_4_mib() {
    let (backend, split) = forward_large(4 << 20, None);
    assert_eq!(split, 1.0, "cut once by max_request_bytes, never refused");
    assert_eq!(backend.attempts(), backend.accepted().len(), "no request was refused");
}
