//! Delivery under pressure: with the backend down, clients get retryable refusals while
//! weir's memory stays bounded, and everything weir accepted reaches the backend once it
//! returns; at shutdown, everything queued is delivered to a live backend before weir exits.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use weir_otlp::Signal;
use weir_tests::{
    Weir,
    backend::{Backend, Mode, rss_bytes},
    grpc_raw,
};

fn forwarder(backend: &Backend, queue: &str) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: http://{}
    timeout: 2s
    sending_queue:
{queue}
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0s
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
",
        backend.grpc
    )
}

/// The bound this test states: weir may grow by at most this much while a backend is down,
/// whatever clients send. Queues hold at most 16 (pipeline) + 10 (queue) + 2 (in flight)
/// batches of 1000 spans, a few MiB; the rest is allocator slack.
const RSS_GROWTH_BOUND: u64 = 64 << 20;

#[test]
fn a_dead_backend_bounds_memory_and_loses_nothing_accepted() {
    let backend_runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = backend_runtime.block_on(Backend::start(Mode::Unavailable));
    let weir =
        Weir::start_with(&forwarder(&backend, "      queue_size: 10\n      num_consumers: 2"));
    let addr = weir.grpc();
    let payload = weir_core::testing::spans("svc", 1000, 1).encode_protobuf();
    let baseline = rss_bytes();
    let (accepted, refused, peak) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let requests_per_client = 320;
    weir.runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (payload, accepted, refused, peak) =
                (payload.clone(), accepted.clone(), refused.clone(), peak.clone());
            clients.push(tokio::spawn(async move {
                for _ in 0..requests_per_client {
                    let headers = [("grpc-timeout", "50m")];
                    let answer = grpc_raw(
                        addr,
                        Signal::Traces.grpc_export_path(),
                        payload.clone(),
                        &headers,
                    )
                    .await;
                    match answer.code {
                        0 => accepted.fetch_add(1, Ordering::SeqCst),
                        14 | 1 | 4 => refused.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected status {other}: {}", answer.message),
                    };
                    peak.fetch_max(rss_bytes(), Ordering::SeqCst);
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
    });
    let attempted_bytes = payload.len() as u64 * 8 * requests_per_client;
    let growth = peak.load(Ordering::SeqCst).saturating_sub(baseline);
    let accepted = accepted.load(Ordering::SeqCst);
    eprintln!(
        "sent {} MiB in {} requests: {accepted} accepted, {} refused; RSS grew {} MiB (bound {} MiB)",
        attempted_bytes >> 20,
        8 * requests_per_client,
        refused.load(Ordering::SeqCst),
        growth >> 20,
        RSS_GROWTH_BOUND >> 20
    );
    assert!(refused.load(Ordering::SeqCst) > 0, "clients were told to retry");
    assert!(growth < RSS_GROWTH_BOUND, "RSS grew {growth} bytes");
    assert!(attempted_bytes > 3 * RSS_GROWTH_BOUND, "the load exceeds the bound several times");

    backend.set_mode(Mode::Accept);
    let expected = accepted as usize * 1000;
    weir_tests::wait_until(Duration::from_secs(30), || backend.spans() >= expected);
    weir.stop();
    assert_eq!(backend.spans(), expected, "everything accepted was delivered once");
}

#[test]
fn shutdown_delivers_everything_queued_to_a_live_backend() {
    let backend_runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = backend_runtime.block_on(Backend::start(Mode::Slow(250)));
    let weir = Weir::start_with(&forwarder(&backend, "      num_consumers: 1"));
    let addr = weir.grpc();
    weir.runtime.block_on(async {
        for seed in 0..20 {
            let payload = weir_core::testing::spans("svc", 10, seed).encode_protobuf();
            assert_eq!(
                grpc_raw(addr, Signal::Traces.grpc_export_path(), payload, &[]).await.code,
                0
            );
        }
    });
    assert!(backend.spans() < 200, "most of the data is still queued when shutdown starts");
    weir.stop();
    assert_eq!(backend.spans(), 200, "shutdown returned only after delivering everything");
}
