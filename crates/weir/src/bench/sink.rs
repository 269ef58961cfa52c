//! The sink `weir bench` points the pipeline's exporters at: it accepts OTLP over gRPC and
//! HTTP (protobuf, gzip/zstd), answers success, and counts the items that arrive.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use weir_otlp::Signal;
use weir_receivers::decompress::{self, Encoding};

/// Items received, by signal (remote-write samples count as metrics).
type Counts = Arc<[AtomicU64; 3]>;

fn index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

/// A running sink.
#[derive(Clone)]
pub(super) struct Sink {
    items: Counts,
    /// OTLP/gRPC address.
    pub grpc: SocketAddr,
    /// OTLP/HTTP address.
    pub http: SocketAddr,
}

impl Sink {
    /// Starts both listeners on ephemeral loopback ports.
    pub(super) async fn start() -> std::io::Result<Sink> {
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sink = Sink {
            items: Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]),
            grpc: grpc.local_addr()?,
            http: http.local_addr()?,
        };
        tokio::spawn(serve(grpc, sink.items.clone(), true));
        tokio::spawn(serve(http, sink.items.clone(), false));
        Ok(sink)
    }

    /// Items received so far, of every signal.
    pub(super) fn items(&self) -> u64 {
        self.items.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// Items of `signal` received so far.
    pub(super) fn items_of(&self, signal: Signal) -> u64 {
        self.items[index(signal)].load(Ordering::Relaxed)
    }
}

fn signal_of(path: &str) -> Option<Signal> {
    if path.contains("trace") {
        Some(Signal::Traces)
    } else if path.contains("metrics") {
        Some(Signal::Metrics)
    } else if path.contains("logs") {
        Some(Signal::Logs)
    } else {
        None
    }
}

/// Items in one request body (gRPC frames or an HTTP body), counted on the wire (the sink
/// must cost little next to weir: a decode would cost it more than weir's whole forwarding);
/// 0 when it does not decompress.
fn count(signal: Signal, body: &[u8], grpc: bool, encoding: Option<&str>) -> u64 {
    let decode = |bytes: &[u8], compressed: bool| -> u64 {
        if !compressed {
            return weir_otlp::wire::count_items(signal, bytes) as u64;
        }
        let Ok(encoding) = Encoding::parse(encoding) else { return 0 };
        match decompress::decompress(encoding, Bytes::copy_from_slice(bytes), 64 << 20) {
            Ok(bytes) => weir_otlp::wire::count_items(signal, &bytes) as u64,
            Err(_) => 0,
        }
    };
    if !grpc {
        return decode(body, encoding.is_some());
    }
    let mut total = 0;
    let mut rest = body;
    while rest.len() >= 5 {
        let compressed = rest[0] == 1;
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let Some(message) = rest.get(5..5 + len) else { break };
        total += decode(message, compressed);
        rest = &rest[5 + len..];
    }
    total
}

/// Samples and histograms in a snappy-compressed remote-write request.
// the bench's own weir sent it, under the exporter's size cap
#[allow(clippy::disallowed_types)]
fn remote_write_samples(body: &[u8]) -> u64 {
    use prost::Message;
    use weir_exporters::prometheusremotewrite::proto::WriteRequest;
    let Ok(raw) = snap::raw::Decoder::new().decompress_vec(body) else { return 0 };
    let Ok(request) = WriteRequest::decode(raw.as_slice()) else { return 0 };
    request.timeseries.iter().map(|s| (s.samples.len() + s.histograms.len()) as u64).sum()
}

async fn serve(listener: tokio::net::TcpListener, items: Counts, grpc: bool) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let items = items.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let items = items.clone();
                async move {
                    let signal = signal_of(request.uri().path());
                    let remote_write = request.uri().path() == "/api/v1/write";
                    let header = if grpc { "grpc-encoding" } else { "content-encoding" };
                    let encoding = request
                        .headers()
                        .get(header)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    if let Some(signal) = signal {
                        items[index(signal)].fetch_add(
                            count(signal, &body, grpc, encoding.as_deref()),
                            Ordering::Relaxed,
                        );
                    } else if remote_write {
                        let samples = remote_write_samples(&body);
                        items[index(Signal::Metrics)].fetch_add(samples, Ordering::Relaxed);
                    }
                    let mut trailers = HeaderMap::new();
                    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                    let (content_type, message) = if grpc {
                        ("application/grpc", Bytes::from_static(&[0, 0, 0, 0, 0]))
                    } else {
                        ("application/x-protobuf", Bytes::new())
                    };
                    let body = Full::new(message)
                        .with_trailers(async move { grpc.then_some(Ok(trailers)) });
                    let response = Response::builder()
                        .header("content-type", content_type)
                        .body(body)
                        .expect("valid");
                    Ok::<_, Infallible>(response)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let executor = hyper_util::rt::TokioExecutor::new();
            if grpc {
                let _ = hyper::server::conn::http2::Builder::new(executor)
                    .serve_connection(io, service)
                    .await;
            } else {
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            }
        });
    }
}
