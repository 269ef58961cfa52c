//! A backend down for a minute under load, with the Collector-style default configuration
//! (`otlp → batch → otlp`, no queue size set), the backend's port closed: weir fills its exporter's byte budget, then
//! tells clients to retry; its memory stays within the budget the whole minute; its queue
//! gauges show what it holds; and once the backend is back, everything it accepted arrives
//! once.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use weir_core::{Signal, export::DEFAULT_QUEUE_BYTES};
use weir_tests::{
    Weir,
    backend::{Backend, Mode, rss_bytes},
    grpc_raw, sample,
};

/// The allocator the `weir` binary ships with: what is measured here is what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OUTAGE: Duration = Duration::from_secs(60);
const CLIENTS: usize = 4;

fn config(backend: SocketAddr) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch: {{}}
exporters:
  otlp:
    endpoint: http://{backend}
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 500ms
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"
    )
}

#[test]
fn a_minute_long_outage_stays_within_the_byte_budget_and_loses_nothing() {
    // down: nothing listens where the backend will be (and nothing in this process decodes
    // what weir sends meanwhile, so the process's memory is weir's)
    let backend_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let weir = Weir::start_with(&config(backend_addr));
    let addr = weir.grpc();
    // realistic spans (~600 bytes), 512 to a request, as agents send them
    let request =
        weir::loadgen::shape::Generator::new(Default::default(), 7).next(Signal::Traces, 512);
    let (payload, spans_per_request) = (request.encode_protobuf(), request.item_count() as u64);
    let baseline = rss_bytes();

    // RSS every 250 ms, from the start of the outage to its end
    let running = Arc::new(AtomicBool::new(true));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (running, samples) = (running.clone(), samples.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while running.load(Ordering::SeqCst) {
                samples.lock().unwrap().push((start.elapsed(), rss_bytes()));
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let (accepted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    weir.runtime.block_on(async {
        let end = tokio::time::Instant::now() + OUTAGE;
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let (payload, accepted, refused) = (payload.clone(), accepted.clone(), refused.clone());
            clients.push(tokio::spawn(async move {
                while tokio::time::Instant::now() < end {
                    let headers = [("grpc-timeout", "1S")];
                    let path = Signal::Traces.grpc_export_path();
                    let answer = grpc_raw(addr, path, payload.clone(), &headers).await;
                    match answer.code {
                        0 => accepted.fetch_add(1, Ordering::SeqCst),
                        14 => refused.fetch_add(1, Ordering::SeqCst),
                        // the client's own deadline passed first: it retries too
                        1 | 4 => 0,
                        other => panic!("unexpected status {other}: {}", answer.message),
                    };
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
    });
    running.store(false, Ordering::SeqCst);
    sampler.join().unwrap();

    let accepted = accepted.load(Ordering::SeqCst);
    let accepted_bytes = accepted * payload.len() as u64;
    let samples = samples.lock().unwrap().clone();
    let peak = samples.iter().map(|(_, rss)| *rss).max().unwrap();
    let growth = peak.saturating_sub(baseline);
    let late_peak = samples.iter().filter(|(t, _)| *t > OUTAGE / 2).map(|(_, r)| *r).max();
    let early_peak = samples.iter().filter(|(t, _)| *t <= OUTAGE / 2).map(|(_, r)| *r).max();
    eprintln!(
        "accepted {accepted} requests ({} MiB), refused {}; RSS {} MiB at start, peak {} MiB \
         (first half {} MiB, second half {} MiB), {} samples",
        accepted_bytes >> 20,
        refused.load(Ordering::SeqCst),
        baseline >> 20,
        peak >> 20,
        early_peak.unwrap() >> 20,
        late_peak.unwrap() >> 20,
        samples.len(),
    );
    let budget = DEFAULT_QUEUE_BYTES as u64;
    assert!(refused.load(Ordering::SeqCst) > 0, "clients were told to retry (UNAVAILABLE)");
    assert!(accepted_bytes > budget, "the budget filled: {accepted_bytes} bytes accepted");
    // the queue's budget, plus what the pipeline and the batch processor hold before it, plus
    // allocator slack: not the gigabytes a minute of this load would hold unbounded
    assert!(growth < budget + (96 << 20), "RSS grew {} MiB", growth >> 20);
    assert!(
        late_peak.unwrap() < early_peak.unwrap() + (32 << 20),
        "RSS levels off once the budget is full"
    );

    // what the gauges say the queue holds is what was accepted and not sent
    let page = weir.metrics();
    let receiver = [("receiver", "otlp"), ("transport", "grpc")];
    let exporter = [("exporter", "otlp")];
    let value = |name: &str, labels: &[(&str, &str)]| sample(&page, name, labels).unwrap_or(0.0);
    assert_eq!(
        value("otelcol_receiver_accepted_spans_total", &receiver) as u64,
        accepted * spans_per_request,
        "{page}"
    );
    assert_eq!(value("otelcol_exporter_sent_spans_total", &exporter), 0.0, "{page}");
    let queue_size = value("otelcol_exporter_queue_size", &exporter) as u64;
    let queue_bytes = value("weir_exporter_queue_bytes", &exporter) as u64;
    assert_eq!(queue_size, queue_bytes, "the default sizer counts bytes: {page}");
    assert!(queue_bytes <= budget, "the queue holds {queue_bytes} bytes, over {budget}");
    assert!(queue_bytes > budget - (16 << 20), "the queue is full: {queue_bytes} bytes");
    // the rest of what was accepted waits in the pipeline ahead of the full queue
    assert!(accepted_bytes >= queue_bytes, "{accepted_bytes} accepted, {queue_bytes} held");
    assert!(
        accepted_bytes - queue_bytes < 32 << 20,
        "{accepted_bytes} accepted, {queue_bytes} held"
    );

    let backend_runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = backend_runtime.block_on(Backend::start_on(Mode::Accept, 16 << 20, backend_addr));
    let expected = (accepted * spans_per_request) as usize;
    weir_tests::wait_until(Duration::from_secs(60), || backend.spans() >= expected);
    let drained = weir_tests::wait_for(Duration::from_secs(10), || {
        let page = weir.metrics();
        let held = sample(&page, "weir_exporter_queue_bytes", &exporter);
        (held == Some(0.0)).then_some(page)
    });
    assert!(drained.is_some(), "the queue gauges return to zero once delivered");
    weir.stop();
    assert_eq!(backend.spans(), expected, "everything accepted was delivered once");
}
