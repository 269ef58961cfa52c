//! OTLP/HTTP: `POST` of protobuf or JSON export requests, optionally compressed.
//!
//! Status codes follow the OTLP specification: 200 with the export response, 400 for a body
//! that does not decode (naming what is wrong), 404 for an unknown path, 405 for a method
//! other than POST, 413 for a body over the limit (before or after decompression), 415 for a
//! content type other than protobuf or JSON, 503 with `Retry-After` when the pipelines stay
//! full. Error bodies are a `google.rpc.Status` in the request's encoding.

use std::sync::Arc;

use axum::{
    Extension, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, post},
    serve::ListenerExt,
};
use http_body_util::BodyExt;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_otlp::{Batch, Signal};

use super::{
    config::Http,
    intake::{Intake, Refusal},
};
use crate::decompress::{self, DecompressError, Encoding};

/// Seconds a client is told to wait before retrying when the pipelines are full.
const RETRY_AFTER_SECONDS: u64 = 1;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

struct Shared {
    intake: Arc<Intake>,
    limit: usize,
}

/// An error answer: the HTTP status, the gRPC code for the Status body, and the message.
struct Failure {
    status: StatusCode,
    code: i32,
    message: String,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: tonic::Code, message: impl Into<String>) -> Failure {
        let retry_after =
            (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECONDS);
        Failure { status, code: code as i32, message: message.into(), retry_after }
    }

    /// The answer in `format`, or as plain text when the request's format is unknown.
    fn into_response(self, format: Option<Format>) -> Response {
        let mut response = match format {
            Some(Format::Protobuf) => {
                let body = tonic_types::Status {
                    code: self.code,
                    message: self.message,
                    details: Vec::new(),
                }
                .encode_to_vec();
                ([(header::CONTENT_TYPE, PROTOBUF)], body).into_response()
            }
            Some(Format::Json) => {
                let body = serde_json::json!({"code": self.code, "message": self.message});
                ([(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
            }
            None => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.message)
                .into_response(),
        };
        *response.status_mut() = self.status;
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Serves OTLP/HTTP on `listener` until `shutdown`, then finishes requests in flight.
pub(crate) async fn serve(
    listener: Result<(super::tls::Incoming, std::net::SocketAddr), TcpListener>,
    intake: Intake,
    config: &Http,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let intake = Arc::new(intake);
    let shared = Arc::new(Shared { intake: intake.clone(), limit: config.max_request_body_size });
    let routes = [
        (Signal::Traces, &config.traces_url_path),
        (Signal::Metrics, &config.metrics_url_path),
        (Signal::Logs, &config.logs_url_path),
    ];
    let mut router = Router::new();
    for (signal, path) in routes {
        let method: MethodRouter<Arc<Shared>> = post(
            move |State(shared): State<Arc<Shared>>,
                  Extension(Peer(peer)): Extension<Peer>,
                  headers: HeaderMap,
                  body: Body| { export(shared, signal, peer, headers, body) },
        )
        .fallback(method_not_allowed);
        router = router.route(path, method);
    }
    let mut router = router.fallback(not_found).with_state(shared);
    if config.cors.enabled() {
        let cors = Arc::new(config.cors.clone());
        router = router.layer(axum::middleware::from_fn_with_state(cors, super::cors::handle));
    }
    match listener {
        Ok((incoming, local)) => {
            let listener = super::tls::Listener { incoming, local };
            serve_connections(listener, router, config, shutdown).await?
        }
        Err(listener) => {
            let listener = listener.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
            });
            serve_connections(listener, router, config, shutdown).await?
        }
    }
    intake.close();
    Ok(())
}

/// The most bytes of request headers a client may send (HTTP/1.1 buffer, HTTP/2 header
/// list); more is refused (431, or the connection closed).
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The most connections one HTTP receiver serves at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;

/// Serves HTTP/1.1 and HTTP/2 connections from `listener`, each in its own task: headers
/// bounded to [`MAX_HEADER_BYTES`] and to `read_header_timeout`, at most [`MAX_CONNECTIONS`]
/// at once. On `shutdown` it stops accepting and lets requests in flight finish.
async fn serve_connections<L>(
    mut listener: L,
    router: Router,
    config: &Http,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::{conn::auto::Builder, graceful::GracefulShutdown},
        service::TowerToHyperService,
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.read_header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
        };
        let (io, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let service = TowerToHyperService::new(router.clone().layer(Extension(Peer(peer))));
        let connection =
            builder.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    // as for gRPC: requests in flight finish within their wait; silent connections are cut
    if tokio::time::timeout(super::intake::DEFAULT_WAIT, graceful.shutdown()).await.is_err() {
        tracing::debug!("HTTP connections still open at the end of shutdown's grace: closed");
    }
    Ok(())
}

async fn method_not_allowed(method: Method) -> Response {
    let message = format!("method {method} is not allowed: OTLP/HTTP accepts POST");
    let mut response =
        Failure::new(StatusCode::METHOD_NOT_ALLOWED, tonic::Code::Unimplemented, message)
            .into_response(None);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let message = format!("no OTLP endpoint at {}", uri.path());
    Failure::new(StatusCode::NOT_FOUND, tonic::Code::NotFound, message).into_response(None)
}

/// The address of the client of a connection.
#[derive(Clone, Copy)]
struct Peer(std::net::SocketAddr);

async fn export(
    shared: Arc<Shared>,
    signal: Signal,
    peer: std::net::SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = match content_type(&headers) {
        Ok(format) => format,
        Err(failure) => return failure.into_response(None),
    };
    // Credentials before the body is read: a refused client sends us nothing more.
    let Ok(authenticated) = shared.intake.authenticate(&headers) else {
        let failure =
            Failure::new(StatusCode::UNAUTHORIZED, tonic::Code::Unauthenticated, "unauthenticated");
        return failure.into_response(Some(format));
    };
    match decode(&shared, signal, format, &headers, body).await {
        Ok(batch) => {
            let metadata = shared.intake.metadata(&headers, authenticated, Some(peer));
            match shared.intake.accept(batch, metadata, None).await {
                Ok(()) => success(format),
                Err(refusal) => refusal_failure(refusal).into_response(Some(format)),
            }
        }
        Err(failure) => failure.into_response(Some(format)),
    }
}

fn content_type(headers: &HeaderMap) -> Result<Format, Failure> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        PROTOBUF | "application/protobuf" => Ok(Format::Protobuf),
        JSON => Ok(Format::Json),
        _ => Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tonic::Code::InvalidArgument,
            format!("unsupported Content-Type {value:?}: expected {PROTOBUF} or {JSON}"),
        )),
    }
}

async fn decode(
    shared: &Shared,
    signal: Signal,
    format: Format,
    headers: &HeaderMap,
    body: Body,
) -> Result<Batch, Failure> {
    let invalid = |message: String| {
        Failure::new(StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument, message)
    };
    let too_large = |message: String| {
        Failure::new(StatusCode::PAYLOAD_TOO_LARGE, tonic::Code::ResourceExhausted, message)
    };
    let encoding_header = headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?"));
    let encoding = Encoding::parse(encoding_header).map_err(|e| invalid(e.to_string()))?;
    let raw = read_body(body, shared.limit).await.map_err(|e| match e {
        BodyError::TooLarge => too_large(format!("request body exceeds {} bytes", shared.limit)),
        BodyError::Read(message) => invalid(format!("could not read request body: {message}")),
    })?;
    let bytes = decompress::decompress(encoding, raw, shared.limit).map_err(|e| match e {
        DecompressError::TooLarge { .. } => too_large(e.to_string()),
        other => invalid(other.to_string()),
    })?;
    match format {
        Format::Protobuf => shared.intake.protobuf(signal, bytes).map_err(invalid),
        Format::Json => weir_otlp::json::decode(signal, &bytes).map_err(|e| invalid(e.to_string())),
    }
}

enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads the body into memory, at most `limit` bytes. A body over the limit is read to its
/// end and discarded (up to [`DISCARD_LIMIT`] more bytes), so that the client, still sending,
/// reads the 413 answer instead of a broken connection.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = body;
    // a body that arrives in one frame is kept as it is; more frames are joined
    let mut first: Option<Bytes> = None;
    let mut buffer = bytes::BytesMut::new();
    let mut discarded = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        let held = first.as_ref().map_or(0, Bytes::len) + buffer.len();
        if discarded == 0 && held + data.len() <= limit {
            if first.is_none() && buffer.is_empty() {
                first = Some(data);
            } else {
                if let Some(first) = first.take() {
                    buffer.extend_from_slice(&first);
                }
                buffer.extend_from_slice(&data);
            }
            continue;
        }
        discarded = discarded.saturating_add(data.len()).max(1);
        if discarded > DISCARD_LIMIT {
            break;
        }
    }
    if discarded > 0 {
        return Err(BodyError::TooLarge);
    }
    Ok(first.unwrap_or_else(|| buffer.freeze()))
}

/// How much of an oversized body is read and thrown away before answering.
const DISCARD_LIMIT: usize = 64 << 20;

fn refusal_failure(refusal: Refusal) -> Failure {
    match refusal {
        Refusal::Invalid(message) => {
            Failure::new(StatusCode::BAD_REQUEST, tonic::Code::InvalidArgument, message)
        }
        Refusal::Unavailable(message) => {
            Failure::new(StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, message)
        }
        Refusal::Exhausted(message, retry_after) => Failure {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: tonic::Code::ResourceExhausted as i32,
            message,
            retry_after: Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
        },
        Refusal::Unsupported(signal) => Failure::new(
            StatusCode::NOT_FOUND,
            tonic::Code::Unimplemented,
            format!("this receiver feeds no {signal} pipeline"),
        ),
    }
}

/// The full-success export response: an empty message in the request's format.
fn success(format: Format) -> Response {
    match format {
        Format::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], Vec::<u8>::new()).into_response(),
        Format::Json => ([(header::CONTENT_TYPE, JSON)], "{}").into_response(),
    }
}
