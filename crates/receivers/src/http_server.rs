//! Serving a receiver's HTTP routes: HTTP/1.1 and HTTP/2, plaintext or TLS, connections and
//! request headers bounded, each request told its client's address ([`Peer`]), bodies read
//! up to a limit; on shutdown, requests in flight finish.

use std::{sync::Arc, time::Duration};

use axum::{Extension, Router, body::Body, serve::ListenerExt};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::{auth::AuthConfig, tls::ServerTls};

/// An HTTP server's options, as the Collector's `confighttp` server names them: the
/// `zipkin` receiver's and the `jaeger` receiver's `thrift_http`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `endpoint`: `host:port` to listen on.
    pub endpoint: String,
    /// `max_request_body_size`: the largest body accepted, in bytes, after decompression
    /// (default 20 MiB).
    pub max_request_body_size: usize,
    /// `read_header_timeout`: how long a client may take to send a request's headers.
    #[serde(with = "weir_core::duration")]
    pub read_header_timeout: Duration,
    /// `include_metadata`: keep the request's headers with its data.
    pub include_metadata: bool,
    /// `auth.authenticator`: the extension that must accept each request.
    pub auth: Option<AuthConfig>,
    /// `tls`: serve over TLS (mTLS with `client_ca_file`).
    pub tls: Option<ServerTls>,
    /// `cors`: which browser origins may send.
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub cors: crate::otlp::cors::Cors,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            endpoint: String::new(),
            max_request_body_size: 20 << 20,
            read_header_timeout: Duration::from_secs(60),
            include_metadata: false,
            auth: None,
            tls: None,
            cors: crate::otlp::cors::Cors::default(),
        }
    }
}

impl ServerConfig {
    /// The defaults, listening on `endpoint`.
    pub fn on(endpoint: &str) -> ServerConfig {
        ServerConfig { endpoint: endpoint.to_owned(), ..ServerConfig::default() }
    }

    /// Every problem, as `(path below `at`, message)`.
    pub fn problems(&self, at: &str) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        crate::otlp::check_endpoint(&format!("{at}endpoint"), &self.endpoint, &mut errors);
        for (path, message) in self.tls.iter().flat_map(ServerTls::validate) {
            errors.push((format!("{at}tls.{path}"), message));
        }
        for (path, message) in self.cors.problems() {
            errors.push((format!("{at}cors.{path}"), message));
        }
        if self.max_request_body_size == 0 {
            errors.push((format!("{at}max_request_body_size"), "must be > 0".into()));
        }
        errors
    }

    /// `router` with the CORS answers, when `cors` allows origins.
    pub(crate) fn with_cors(&self, router: Router) -> Router {
        if !self.cors.enabled() {
            return router;
        }
        let cors = Arc::new(self.cors.clone());
        router.layer(axum::middleware::from_fn_with_state(cors, crate::otlp::cors::handle))
    }
}

/// Serves `router` on `listener` (TLS connections, or a plain TCP listener) until `shutdown`.
pub(crate) async fn serve(
    listener: Result<(crate::tls::Incoming, std::net::SocketAddr), TcpListener>,
    router: Router,
    read_header_timeout: Duration,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    match listener {
        Ok((incoming, local)) => {
            let listener = crate::tls::Listener { incoming, local };
            serve_connections(listener, router, read_header_timeout, shutdown).await?
        }
        Err(listener) => {
            let listener = listener.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
            });
            serve_connections(listener, router, read_header_timeout, shutdown).await?
        }
    }
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
    read_header_timeout: Duration,
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
        .header_read_timeout(read_header_timeout)
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
    if tokio::time::timeout(crate::intake::DEFAULT_WAIT, graceful.shutdown()).await.is_err() {
        tracing::debug!("HTTP connections still open at the end of shutdown's grace: closed");
    }
    Ok(())
}

/// The address of the client of a connection.
#[derive(Clone, Copy)]
pub(crate) struct Peer(pub(crate) std::net::SocketAddr);

/// A request's body, decompressed as its `Content-Encoding` says, at most `limit` bytes
/// before and after; else the status to answer (400, or 413 over the limit) and why.
pub(crate) async fn read_request(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, (axum::http::StatusCode, String)> {
    use axum::http::{StatusCode, header};

    use crate::decompress::{self, DecompressError, Encoding};
    let bad = |message: String| (StatusCode::BAD_REQUEST, message);
    let too_large = |message: String| (StatusCode::PAYLOAD_TOO_LARGE, message);
    let encoding = headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?"));
    let encoding = Encoding::parse(encoding).map_err(|e| bad(e.to_string()))?;
    let raw = read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge => too_large(format!("request body exceeds {limit} bytes")),
        BodyError::Read(message) => bad(format!("could not read request body: {message}")),
    })?;
    decompress::decompress(encoding, raw, limit).map_err(|e| match e {
        DecompressError::TooLarge { .. } => too_large(e.to_string()),
        other => bad(other.to_string()),
    })
}

/// Why a body was not read.
enum BodyError {
    /// Over the limit.
    TooLarge,
    /// The connection failed.
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

/// The media type of the request's `Content-Type`, lowercase, without parameters.
pub(crate) fn media_type(headers: &axum::http::HeaderMap) -> String {
    let value =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// The plain-text answer of the HTTP receivers that are not OTLP (zipkin, jaeger) to a
/// request the pipelines refused: 400, 503 or 429 with `Retry-After`, 404 for a signal no
/// pipeline takes.
pub(crate) fn refusal(refusal: crate::intake::Refusal) -> axum::response::Response {
    use axum::{
        http::{HeaderValue, StatusCode, header},
        response::IntoResponse,
    };

    use crate::intake::Refusal;
    match refusal {
        Refusal::Invalid(message) => (StatusCode::BAD_REQUEST, message).into_response(),
        Refusal::Unavailable(message) => {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            response
        }
        Refusal::Exhausted(message, retry_after) => {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, message).into_response();
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Refusal::Unsupported(signal) => {
            (StatusCode::NOT_FOUND, format!("this receiver feeds no {signal} pipeline"))
                .into_response()
        }
    }
}
