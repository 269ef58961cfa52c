//! An agent weir routes traces by trace id over a ring of three gateway weirs (the
//! `loadbalancing` exporter with the static resolver): every span arrives once, and every
//! trace's spans land on exactly one gateway.

use std::collections::{HashMap, HashSet};

use weir::loadgen::shape::{Generator, Shape};
use weir_otlp::{Batch, Signal};
use weir_tests::Weir;

const GATEWAY: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
";

fn agent(gateways: &[String]) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: {{insecure: true}}
        compression: none
    resolver:
      static:
        hostnames: [{}]
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
",
        gateways.join(", ")
    )
}

#[test]
fn every_trace_lands_whole_on_one_gateway() {
    let gateways: Vec<Weir> = (0..3).map(|_| Weir::start_with(GATEWAY)).collect();
    let addresses: Vec<String> = gateways.iter().map(|g| g.grpc().to_string()).collect();
    let agent = Weir::start_with(&agent(&addresses));
    let mut generator = Generator::new(Shape { spans_per_trace: 5, ..Shape::default() }, 7);
    let mut sent: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..20 {
        let batch = generator.next(Signal::Traces, 500);
        let weir_otlp::Decoded::Traces(resources) = &*batch.view() else { unreachable!() };
        for span in resources.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
            *sent.entry(span.trace_id.clone()).or_default() += 1;
        }
        assert_eq!(agent.post(&batch), 200);
    }
    agent.stop();
    let mut owner: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut received: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut used = HashSet::new();
    for (index, gateway) in gateways.into_iter().enumerate() {
        for batch in gateway.stop() {
            let weir_otlp::Decoded::Traces(resources) = batch.into_decoded() else {
                panic!("traces")
            };
            for span in resources.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                let first = *owner.entry(span.trace_id.clone()).or_insert(index);
                assert_eq!(first, index, "a trace's spans all on one gateway");
                *received.entry(span.trace_id.clone()).or_default() += 1;
                used.insert(index);
            }
        }
    }
    assert_eq!(received, sent, "every span once");
    assert_eq!(used.len(), 3, "all three gateways got traces");
}

#[test]
fn a_backend_that_is_down_gets_its_traces_when_it_returns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("127.0.0.1:{port}");
    let agent_config = agent(std::slice::from_ref(&endpoint)).replace(
        "        compression: none",
        "        compression: none\n        retry_on_failure: {initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0s}",
    );
    let agent = Weir::start_with(&agent_config);
    let mut generator = Generator::new(Shape { spans_per_trace: 3, ..Shape::default() }, 9);
    let batch = generator.next(Signal::Traces, 300);
    assert_eq!(agent.post(&batch), 200, "accepted while the backend is down");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let gateway = Weir::start_with(&GATEWAY.replace("127.0.0.1:0", &endpoint));
    let accepted = || {
        let labels = [("receiver", "otlp"), ("transport", "grpc")];
        weir_tests::sample(&gateway.metrics(), "otelcol_receiver_accepted_spans_total", &labels)
    };
    weir_tests::wait_until(std::time::Duration::from_secs(10), || accepted() == Some(300.0));
    agent.stop();
    let spans: usize = gateway.stop().iter().map(Batch::item_count).sum();
    assert_eq!(spans, 300, "retried and delivered once the backend came back");
}

/// Tail sampling on a gateway tier: whole traces, and the same decisions as one gateway.
const TAIL_SAMPLING_GATEWAY: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  tail_sampling:
    decision_wait: 2s
    num_traces: 50000
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: slow, type: latency, latency: {threshold_ms: 60}}
      - {name: baseline, type: probabilistic, probabilistic: {sampling_percentage: 5}}
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

/// Spans per kept trace id.
fn kept_traces(batches: Vec<Batch>) -> HashMap<Vec<u8>, usize> {
    let mut kept: HashMap<Vec<u8>, usize> = HashMap::new();
    for batch in batches {
        let weir_otlp::Decoded::Traces(resources) = batch.into_decoded() else { panic!("traces") };
        for span in resources.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
            *kept.entry(span.trace_id.clone()).or_default() += 1;
        }
    }
    kept
}

#[test]
fn tail_sampling_across_gateways_keeps_what_one_gateway_would() {
    const SPANS_PER_TRACE: usize = 5;
    let gateways: Vec<Weir> = (0..3).map(|_| Weir::start_with(TAIL_SAMPLING_GATEWAY)).collect();
    let reference = Weir::start_with(TAIL_SAMPLING_GATEWAY);
    let addresses: Vec<String> = gateways.iter().map(|g| g.grpc().to_string()).collect();
    // The agent sends everything twice: over the ring, and whole to the reference gateway.
    let config = agent(&addresses)
        .replace(
            "  file:\n    path: {output}",
            &format!(
                "  otlp/reference:\n    endpoint: {}\n    tls: {{insecure: true}}\n    compression: none",
                reference.grpc()
            ),
        )
        .replace("exporters: [loadbalancing]", "exporters: [loadbalancing, otlp/reference]");
    let agent = Weir::start_with(&config);
    let shape = Shape { spans_per_trace: SPANS_PER_TRACE, error_ratio: 0.01, ..Shape::default() };
    let mut generator = Generator::new(shape, 11);
    for _ in 0..100 {
        let batch = generator.next(Signal::Traces, 100 * SPANS_PER_TRACE);
        assert_eq!(agent.post(&batch), 200);
    }
    agent.stop();

    let expected = kept_traces(reference.stop());
    let mut union: HashMap<Vec<u8>, usize> = HashMap::new();
    for gateway in gateways {
        for (trace, spans) in kept_traces(gateway.stop()) {
            assert!(union.insert(trace, spans).is_none(), "a trace kept by two gateways");
        }
    }
    for (trace, spans) in &union {
        assert_eq!(*spans, SPANS_PER_TRACE, "trace {} kept incomplete", hex(trace));
    }
    let kept_share = union.len() as f64 / 10_000.0;
    eprintln!("kept {} of 10000 traces", union.len());
    assert!(
        (0.05..0.9).contains(&kept_share),
        "the policies keep some and drop some: {kept_share}"
    );
    assert_eq!(union.len(), expected.len(), "as many traces kept as by one gateway");
    assert_eq!(union, expected, "the same traces kept as by one gateway");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A gateway pod that is gone for good: once DNS stops naming it, what its queue holds and
/// the batch it is retrying go to the pods that remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_leaves_the_ring_hands_its_traces_to_the_others() {
    use std::sync::{Arc, Mutex};

    use weir_core::Exporter;
    use weir_exporters::loadbalancing::{Config, LoadBalancingExporter, Lookup};
    use weir_tests::backend::{Backend, Mode};

    let down = Backend::start(Mode::Unavailable).await;
    let up = Backend::start(Mode::Accept).await;
    let answer = Arc::new(Mutex::new(vec![down.grpc.to_string(), up.grpc.to_string()]));
    let served = answer.clone();
    let lookup: Lookup = Arc::new(move |_, _| {
        let endpoints = served.lock().unwrap().clone();
        Box::pin(async move { Ok(endpoints) })
    });
    let config: Config = serde_saphyr::from_str(
        "resolver: {dns: {hostname: gateway.test, interval: 100ms}}
protocol:
  otlp:
    tls: {insecure: true}
    compression: none
    retry_on_failure: {initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 0s}",
    )
    .unwrap();
    let exporter =
        LoadBalancingExporter::start_with("loadbalancing", &config, lookup, None).await.unwrap();
    let mut generator = Generator::new(Shape { spans_per_trace: 4, ..Shape::default() }, 5);
    let mut sent = 0;
    for _ in 0..10 {
        let batch = generator.next(Signal::Traces, 400);
        sent += batch.item_count();
        exporter.export(&batch, &Default::default()).await.unwrap();
    }
    let tried =
        weir_tests::wait_until_async(std::time::Duration::from_secs(5), || down.attempts() > 0)
            .await;
    assert!(tried, "the dead pod's share was tried there first");
    assert!(up.spans() < sent, "and is still held for it");

    *answer.lock().unwrap() = vec![up.grpc.to_string()];
    weir_tests::wait_until_async(std::time::Duration::from_secs(10), || up.spans() >= sent).await;
    exporter.shutdown().await.unwrap();
    assert_eq!(up.spans(), sent, "every span reached the pod that remains, once");
    assert_eq!(down.spans(), 0);
}
