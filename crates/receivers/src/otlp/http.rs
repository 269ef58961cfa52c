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
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, post},
};
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_otlp::{Batch, Signal};

use super::config::Http;
use crate::{
    http_server::Peer,
    intake::{Intake, Refusal},
};

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
    listener: Result<(crate::tls::Incoming, std::net::SocketAddr), TcpListener>,
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
    crate::http_server::serve(listener, router, config.read_header_timeout, shutdown).await?;
    intake.close();
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
    let bytes = crate::http_server::read_request(headers, body, shared.limit).await.map_err(
        |(status, message)| match status {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(message),
            _ => invalid(message),
        },
    )?;
    match format {
        Format::Protobuf => shared.intake.protobuf(signal, bytes).map_err(invalid),
        Format::Json => weir_otlp::json::decode(signal, &bytes).map_err(|e| invalid(e.to_string())),
    }
}

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
