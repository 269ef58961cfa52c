//! Closed-loop OTLP sender for throughput figures until `weir loadgen` exists: sends one
//! pre-encoded request of `--batch` realistic spans over and over with `--concurrency`
//! requests in flight for `--seconds`, and prints requests/s and spans/s accepted.
//!
//! `blast <grpc|http> <host:port> <batch> <seconds> <concurrency>`

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, protocol, endpoint, batch, seconds, concurrency] = &args[..] else {
        eprintln!("usage: blast <grpc|http> <host:port> <batch> <seconds> <concurrency>");
        std::process::exit(2);
    };
    let batch: usize = batch.parse().expect("batch");
    let seconds: u64 = seconds.parse().expect("seconds");
    let concurrency: usize = concurrency.parse().expect("concurrency");
    let grpc = protocol == "grpc";
    let body = weir_benches::realistic_spans(batch, 7).encode_protobuf();
    let payload = if grpc {
        let mut frame = vec![0u8];
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(&body);
        Bytes::from(frame)
    } else {
        Bytes::from(body)
    };
    let (path, content_type) = if grpc {
        ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/grpc")
    } else {
        ("/v1/traces", "application/x-protobuf")
    };
    let url = format!("http://{endpoint}{path}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(grpc)
                .build_http::<Full<Bytes>>();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url, payload) = (client.clone(), url.clone(), payload.clone());
            let (ok, failed) = (ok.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = http::Request::post(&url)
                        .header("content-type", content_type)
                        .header("te", "trailers")
                        .body(Full::new(payload.clone()))
                        .unwrap();
                    let Ok(response) = client.request(request).await else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let status = response.status();
                    let headers = response.headers().clone();
                    let Ok(body) = response.into_body().collect().await else {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    let grpc_ok = body
                        .trailers()
                        .and_then(|t| t.get("grpc-status"))
                        .or_else(|| headers.get("grpc-status"))
                        .is_some_and(|s| s == "0");
                    if status == 200 && (!grpc || grpc_ok) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let ok = ok.load(Ordering::Relaxed);
    let requests_per_second = ok as f64 / seconds as f64;
    println!(
        "{protocol} batch={batch}: {requests_per_second:.0} requests/s, {:.0} spans/s, {} failed",
        requests_per_second * batch as f64,
        failed.load(Ordering::Relaxed)
    );
}
