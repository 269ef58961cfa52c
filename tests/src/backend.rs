//! A fake OTLP backend on loopback that tests can tell to fail: it speaks OTLP/gRPC and
//! OTLP/HTTP (protobuf) for traces, records what it accepted, and counts attempts.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router, body::Bytes, extract::State, http::StatusCode, response::IntoResponse, routing::post,
};
use prost::Message;
use tonic::{Request, Response, Status};
use weir_otlp::{
    Batch, ExportTraceServiceRequest, ExportTraceServiceResponse, Signal,
    proto::collector::trace::v1::{
        ExportTracePartialSuccess,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};

/// How the backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accept and record.
    Accept,
    /// gRPC UNAVAILABLE / HTTP 503: retryable.
    Unavailable,
    /// gRPC INVALID_ARGUMENT / HTTP 400: permanent.
    BadRequest,
    /// Accept, reporting this many rejected spans.
    PartialSuccess(i64),
    /// Never answer.
    Hang,
    /// Accept and record, answering after this many milliseconds.
    Slow(u64),
}

#[derive(Default)]
struct State_ {
    mode: Option<Mode>,
    attempts: usize,
    accepted: Vec<Batch>,
    /// The headers (gRPC metadata) of each accepted request.
    headers: Vec<axum::http::HeaderMap>,
}

/// The resident set size of this process in bytes.
pub fn rss_bytes() -> u64 {
    weir_core::memory::rss_bytes().expect("/proc/self/status")
}

/// A running fake backend.
#[derive(Clone)]
pub struct Backend {
    state: Arc<Mutex<State_>>,
    /// Its OTLP/gRPC address.
    pub grpc: SocketAddr,
    /// Its OTLP/HTTP address.
    pub http: SocketAddr,
}

impl Backend {
    /// Starts both transports on ephemeral loopback ports of the current runtime.
    pub async fn start(mode: Mode) -> Backend {
        Backend::start_limited(mode, 4 << 20).await
    }

    /// [`Backend::start`] with a gRPC message limit of `max_message_bytes` (tonic's default
    /// is 4 MiB, as grpc-go's): larger requests get OUT_OF_RANGE.
    pub async fn start_limited(mode: Mode, max_message_bytes: usize) -> Backend {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Backend::start_on(mode, max_message_bytes, any).await
    }

    /// [`Backend::start_limited`] with its gRPC transport on `grpc` (a backend that comes
    /// up where weir has been sending all along).
    pub async fn start_on(mode: Mode, max_message_bytes: usize, grpc: SocketAddr) -> Backend {
        let state = Arc::new(Mutex::new(State_ { mode: Some(mode), ..State_::default() }));
        let grpc_listener = tokio::net::TcpListener::bind(grpc).await.unwrap();
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = Backend {
            state,
            grpc: grpc_listener.local_addr().unwrap(),
            http: http_listener.local_addr().unwrap(),
        };
        let service = TraceServiceServer::new(backend.clone())
            .max_decoding_message_size(max_message_bytes)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Zstd);
        let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener);
        tokio::spawn(
            tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming),
        );
        let router =
            Router::new().route("/v1/traces", post(http_export)).with_state(backend.clone());
        tokio::spawn(async move { axum::serve(http_listener, router).await });
        backend
    }

    /// Changes how the backend answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    /// Export requests received, answered or not.
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    /// Spans accepted.
    pub fn spans(&self) -> usize {
        self.state.lock().unwrap().accepted.iter().map(Batch::item_count).sum()
    }

    /// Every accepted batch.
    pub fn accepted(&self) -> Vec<Batch> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Every accepted batch with the headers of its request.
    pub fn accepted_with_headers(&self) -> Vec<(Batch, axum::http::HeaderMap)> {
        let state = self.state.lock().unwrap();
        state.accepted.iter().cloned().zip(state.headers.iter().cloned()).collect()
    }

    /// Counts an attempt and decides; records the batch when accepting.
    async fn handle(&self, batch: Batch, headers: axum::http::HeaderMap) -> Mode {
        let mode = {
            let mut state = self.state.lock().unwrap();
            state.attempts += 1;
            let mode = state.mode.unwrap_or(Mode::Accept);
            if matches!(mode, Mode::Accept | Mode::PartialSuccess(_) | Mode::Slow(_)) {
                state.accepted.push(batch);
                state.headers.push(headers);
            }
            mode
        };
        match mode {
            Mode::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
            Mode::Slow(millis) => tokio::time::sleep(Duration::from_millis(millis)).await,
            _ => {}
        }
        mode
    }
}

#[tonic::async_trait]
impl TraceService for Backend {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let batch = Batch::from(request.into_inner().resource_spans);
        match self.handle(batch, headers).await {
            Mode::Accept | Mode::Hang | Mode::Slow(_) => {
                Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
            }
            Mode::PartialSuccess(rejected) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: "some spans were invalid".into(),
                }),
            })),
            Mode::Unavailable => Err(Status::unavailable("backend is down")),
            Mode::BadRequest => Err(Status::invalid_argument("backend refuses this data")),
        }
    }
}

async fn http_export(
    State(backend): State<Backend>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let encoding = headers.get("content-encoding").and_then(|v| v.to_str().ok());
    let Ok(encoding) = weir_receivers::decompress::Encoding::parse(encoding) else {
        return (StatusCode::BAD_REQUEST, "unknown encoding").into_response();
    };
    let Ok(body) = weir_receivers::decompress::decompress(encoding, body, 64 << 20) else {
        return (StatusCode::BAD_REQUEST, "undecompressable").into_response();
    };
    let Ok(batch) = Batch::decode_protobuf(Signal::Traces, &body) else {
        return (StatusCode::BAD_REQUEST, "undecodable").into_response();
    };
    let protobuf = [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")];
    match backend.handle(batch, headers.clone()).await {
        Mode::Accept | Mode::Hang | Mode::Slow(_) => (protobuf, Vec::new()).into_response(),
        Mode::PartialSuccess(rejected) => {
            let response = ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: "some spans were invalid".into(),
                }),
            };
            (protobuf, response.encode_to_vec()).into_response()
        }
        Mode::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            "backend is down",
        )
            .into_response(),
        Mode::BadRequest => (StatusCode::BAD_REQUEST, "backend refuses this data").into_response(),
    }
}
