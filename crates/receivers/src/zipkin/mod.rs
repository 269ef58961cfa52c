//! The `zipkin` receiver: Zipkin's HTTP API as the Collector serves it — `POST /api/v2/spans`
//! with a JSON list of spans or (`Content-Type: application/x-protobuf`) a protobuf
//! `ListOfSpans`, and `POST /api/v1/spans` with v1 JSON — answering `202 Accepted` once the
//! spans are in the pipelines. Bodies may be gzip, deflate/zlib or zstd compressed. A body that
//! does not decode is `400` with what is wrong and where (`span 3: id is zero`); full pipelines
//! are `503` with `Retry-After`.

mod config;
mod model;
#[cfg(test)]
mod tests;
mod translate;
mod v1;
mod v2;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
pub use config::{Config, Protocols};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput, auth::Authenticators};
use weir_otlp::Batch;

use crate::{
    http_server::{Peer, ServerConfig},
    intake::Intake,
    listen::{Buffers, Security, bind},
};

/// A `zipkin` receiver whose socket is bound.
pub struct ZipkinReceiver {
    id: String,
    listener: TcpListener,
    server: ServerConfig,
    security: Security,
    parse_string_tags: bool,
}

impl ZipkinReceiver {
    /// Binds the configured endpoint.
    pub async fn bind(
        id: &str,
        config: &Config,
        auth: &Authenticators,
    ) -> std::io::Result<ZipkinReceiver> {
        let server = config.server();
        let security = Security::new(server.auth.as_ref(), server.tls.as_ref(), auth)?;
        let listener = bind(&server.endpoint, id, "http", Buffers::default()).await?;
        Ok(ZipkinReceiver {
            id: id.to_owned(),
            listener,
            server,
            security,
            parse_string_tags: config.parse_string_tags,
        })
    }
}

/// Which API and encoding a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `/api/v2/spans`, JSON.
    V2Json,
    /// `/api/v2/spans`, protobuf `ListOfSpans`.
    V2Protobuf,
    /// `/api/v1/spans`, JSON.
    V1Json,
    /// `/api/v1/spans`, thrift (`application/x-thrift`).
    V1Thrift,
}

/// A request body of `format` as OTLP spans: what the receiver does with each request.
pub fn decode(body: &[u8], format: Format, parse_string_tags: bool) -> Result<Batch, String> {
    let spans = match format {
        Format::V2Json => v2::json(body),
        Format::V2Protobuf => v2::protobuf(body),
        Format::V1Json => v1::json(body),
        Format::V1Thrift => v1::thrift(body),
    }?;
    Ok(Batch::from(translate::to_otlp(spans, parse_string_tags)))
}

struct Shared {
    intake: Intake,
    limit: usize,
    parse_string_tags: bool,
}

impl Receiver for ZipkinReceiver {
    fn local_addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        self.listener.local_addr().map(|a| vec![("http", a)]).unwrap_or_default()
    }

    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let ZipkinReceiver { id, listener, server, security, parse_string_tags } = *self;
            let intake =
                Intake::new(&id, "http", output, server.include_metadata, security.auth.clone());
            let shared =
                Arc::new(Shared { intake, limit: server.max_request_body_size, parse_string_tags });
            let router = Router::new()
                .route("/api/v2/spans", post(v2_spans))
                .route("/api/v1/spans", post(v1_spans))
                .fallback(not_found)
                .with_state(shared.clone());
            let router = server.with_cors(router);
            let listener = security.accept(listener, &shutdown);
            let served =
                crate::http_server::serve(listener, router, server.read_header_timeout, shutdown)
                    .await;
            shared.intake.close();
            served.map_err(|e| ReceiverError(format!("receiver {id}: {e}")))
        })
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let message =
        format!("no Zipkin endpoint at {}: POST to /api/v2/spans or /api/v1/spans", uri.path());
    (StatusCode::NOT_FOUND, message).into_response()
}

async fn v2_spans(
    State(shared): State<Arc<Shared>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = if crate::http_server::media_type(&headers) == "application/x-protobuf" {
        Format::V2Protobuf
    } else {
        Format::V2Json
    };
    spans(&shared, format, peer, headers, body).await
}

async fn v1_spans(
    State(shared): State<Arc<Shared>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let format = if crate::http_server::media_type(&headers) == "application/x-thrift" {
        Format::V1Thrift
    } else {
        Format::V1Json
    };
    spans(&shared, format, peer, headers, body).await
}

async fn spans(
    shared: &Shared,
    format: Format,
    peer: SocketAddr,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(authenticated) = shared.intake.authenticate(&headers) else {
        return (StatusCode::UNAUTHORIZED, "unauthenticated").into_response();
    };
    let batch = match read(shared, format, &headers, body).await {
        Ok(batch) => batch,
        Err(failure) => {
            tracing::debug!(?format, status = %failure.status(), "zipkin request refused");
            return failure;
        }
    };
    let metadata = shared.intake.metadata(&headers, authenticated, Some(peer));
    match shared.intake.accept(batch, metadata, None).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => crate::http_server::refusal(refusal),
    }
}

async fn read(
    shared: &Shared,
    format: Format,
    headers: &HeaderMap,
    body: Body,
) -> Result<Batch, Response> {
    let bytes = crate::http_server::read_request(headers, body, shared.limit)
        .await
        .map_err(IntoResponse::into_response)?;
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    self::decode(&bytes, format, shared.parse_string_tags).map_err(bad)
}
