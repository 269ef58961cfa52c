//! A gRPC sink for forwarding benchmarks: answers every unary call (any OTLP Export) with
//! OK and an empty message without decoding it, so the sink costs almost nothing beside
//! the weir under test. Prints the requests and bytes received every 5 seconds.
//!
//! `sink <host:port>`

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

fn main() {
    let endpoint = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4319".into());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&endpoint).await.unwrap();
        eprintln!("sink listening on {}", listener.local_addr().unwrap());
        let (r, b) = (requests.clone(), bytes.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                eprintln!(
                    "sink: {} requests, {} MiB",
                    r.load(Ordering::Relaxed),
                    b.load(Ordering::Relaxed) >> 20
                );
            }
        });
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).ok();
            let (requests, bytes) = (requests.clone(), bytes.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (requests, bytes) = (requests.clone(), bytes.clone());
                    async move {
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        requests.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                        let mut trailers = HeaderMap::new();
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        let empty_message = Bytes::from_static(&[0, 0, 0, 0, 0]);
                        let body = Full::new(empty_message)
                            .with_trailers(async move { Some(Ok(trailers)) });
                        let response = Response::builder()
                            .header("content-type", "application/grpc")
                            .body(body)
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
            });
        }
    });
}
