//! The `jaeger` receiver: Jaeger's collector and agent protocols as the Collector serves them —
//! gRPC `jaeger.api_v2.CollectorService/PostSpans`, `POST /api/traces` with a thrift batch
//! (binary protocol; `202 Accepted`), and the agent's UDP ports, where each datagram is one
//! `Agent.emitBatch` in the compact (6831) or binary (6832) protocol. Spans become OTLP per
//! the Collector's Jaeger translator (`translate.rs`).
//!
//! UDP has no answer: a datagram that is too large, does not decode, or finds the queue or the
//! pipelines full is dropped, counted in `weir_receiver_udp_dropped_packets_total{receiver,
//! transport, reason}` and logged (at most once a second per reason).

mod config;
mod model;
mod proto;
#[cfg(test)]
mod tests;
mod thrift;
mod translate;
mod udp;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use bytes::Bytes;
pub use config::{Config, Protocols, Udp};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput, auth::Authenticators};
use weir_otlp::Batch;

use crate::{
    http_server::{Peer, ServerConfig},
    intake::Intake,
    listen::{Buffers, Security, bind},
    thrift::Protocol,
};

/// How a Jaeger request is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A bare thrift `Batch`, binary protocol (`thrift_http`).
    ThriftBatch,
    /// `Agent.emitBatch`, compact protocol (`thrift_compact`).
    AgentCompact,
    /// `Agent.emitBatch`, binary protocol (`thrift_binary`).
    AgentBinary,
    /// A protobuf `PostSpansRequest` (`grpc`).
    Protobuf,
}

/// A request or datagram as OTLP spans: what the receiver does with each.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Batch, String> {
    let batch = match encoding {
        Encoding::ThriftBatch => thrift::batch(bytes, Protocol::Binary),
        Encoding::AgentCompact => thrift::emit_batch(bytes, Protocol::Compact),
        Encoding::AgentBinary => thrift::emit_batch(bytes, Protocol::Binary),
        Encoding::Protobuf => proto::post_spans(bytes),
    }?;
    Ok(Batch::from(translate::to_otlp(batch)))
}

/// Jaeger's `PostSpans` on the shared gRPC server.
#[derive(Clone)]
pub(crate) struct PostSpans;

impl crate::otlp::grpc::Export for PostSpans {
    const NAME: &'static str = "jaeger.api_v2.CollectorService";
    const PATH: &'static str = "/jaeger.api_v2.CollectorService/PostSpans";
    const SIGNAL: weir_otlp::Signal = weir_otlp::Signal::Traces;

    fn batch(_intake: &Intake, bytes: Bytes) -> Result<Batch, String> {
        decode(&bytes, Encoding::Protobuf)
    }
}

/// A `jaeger` receiver whose sockets are bound.
pub struct JaegerReceiver {
    id: String,
    grpc: Option<crate::otlp::grpc::BoundGrpc>,
    http: Option<(TcpListener, ServerConfig, Security)>,
    udp: Vec<(UdpSocket, Udp, Protocol)>,
}

impl JaegerReceiver {
    /// Binds the configured protocols.
    pub async fn bind(
        id: &str,
        config: &Config,
        auth: &Authenticators,
    ) -> std::io::Result<JaegerReceiver> {
        let protocols = config.resolved();
        let grpc = match &protocols.grpc {
            Some(grpc) => Some(crate::otlp::grpc::bind(id, grpc, auth).await?),
            None => None,
        };
        let http = match protocols.thrift_http {
            Some(http) => {
                let security = Security::new(http.auth.as_ref(), http.tls.as_ref(), auth)?;
                let listener = bind(&http.endpoint, id, "thrift_http", Buffers::default()).await?;
                Some((listener, http, security))
            }
            None => None,
        };
        let mut udp = Vec::new();
        for (config, protocol) in [
            (protocols.thrift_compact, Protocol::Compact),
            (protocols.thrift_binary, Protocol::Binary),
        ] {
            if let Some(config) = config {
                udp.push((udp::bind(id, &config).await?, config, protocol));
            }
        }
        Ok(JaegerReceiver { id: id.to_owned(), grpc, http, udp })
    }
}

fn udp_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Compact => "thrift_compact",
        Protocol::Binary => "thrift_binary",
    }
}

impl Receiver for JaegerReceiver {
    fn local_addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut addrs = Vec::new();
        if let Some(addr) = self.grpc.as_ref().and_then(|(l, _, _)| l.local_addr().ok()) {
            addrs.push(("grpc", addr));
        }
        if let Some(addr) = self.http.as_ref().and_then(|(l, _, _)| l.local_addr().ok()) {
            addrs.push(("thrift_http", addr));
        }
        for (socket, _, protocol) in &self.udp {
            if let Ok(addr) = socket.local_addr() {
                addrs.push((udp_name(*protocol), addr));
            }
        }
        addrs
    }

    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let JaegerReceiver { id, grpc, http, udp } = *self;
            let mut tasks = Vec::new();
            if let Some(bound) = grpc {
                let services = crate::otlp::grpc::Services::Jaeger;
                let served = crate::otlp::grpc::spawn(
                    &id,
                    bound,
                    output.clone(),
                    services,
                    shutdown.clone(),
                );
                tasks.push(("grpc", served));
            }
            if let Some((listener, config, security)) = http {
                let intake = Intake::new(
                    &id,
                    "collector_http",
                    output.clone(),
                    config.include_metadata,
                    security.auth.clone(),
                );
                let shutdown = shutdown.clone();
                tasks.push((
                    "thrift_http",
                    tokio::spawn(async move {
                        let shared =
                            Arc::new(Shared { intake, limit: config.max_request_body_size });
                        let router = Router::new()
                            .route("/api/traces", post(traces))
                            .fallback(not_found)
                            .with_state(shared.clone());
                        let router = config.with_cors(router);
                        let listener = security.accept(listener, &shutdown);
                        let timeout = config.read_header_timeout;
                        let served =
                            crate::http_server::serve(listener, router, timeout, shutdown).await;
                        shared.intake.close();
                        served.map_err(|e| e.to_string())
                    }),
                ));
            }
            for (socket, config, protocol) in udp {
                let transport = match protocol {
                    Protocol::Compact => "udp_thrift_compact",
                    Protocol::Binary => "udp_thrift_binary",
                };
                let intake = Intake::new(&id, transport, output.clone(), false, None);
                let shutdown = shutdown.clone();
                let id = id.clone();
                tasks.push((
                    udp_name(protocol),
                    tokio::spawn(async move {
                        udp::serve(&id, transport, socket, config, protocol, intake, shutdown)
                            .await;
                        Ok(())
                    }),
                ));
            }
            drop(output);
            crate::listen::join(&id, tasks).await
        })
    }
}

struct Shared {
    intake: Intake,
    limit: usize,
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let message = format!("no Jaeger endpoint at {}: POST to /api/traces", uri.path());
    (StatusCode::NOT_FOUND, message).into_response()
}

/// `POST /api/traces`: a thrift `Batch` in the binary protocol.
async fn traces(
    State(shared): State<Arc<Shared>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bad = |message: String| (StatusCode::BAD_REQUEST, message).into_response();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = crate::http_server::media_type(&headers);
    if !matches!(essence.as_str(), "application/x-thrift" | "application/vnd.apache.thrift.binary")
    {
        return bad(format!(
            "Unsupported content type: {:?}: expected application/x-thrift",
            content_type.unwrap_or("")
        ));
    }
    let Ok(authenticated) = shared.intake.authenticate(&headers) else {
        return (StatusCode::UNAUTHORIZED, "unauthenticated").into_response();
    };
    let bytes = match crate::http_server::read_request(&headers, body, shared.limit).await {
        Ok(bytes) => bytes,
        Err(failure) => return failure.into_response(),
    };
    let batch = match decode(&bytes, Encoding::ThriftBatch) {
        Ok(batch) => batch,
        Err(e) => {
            tracing::debug!(error = %e, "jaeger thrift_http request refused");
            return bad(format!("Unable to process request body: {e}"));
        }
    };
    let metadata = shared.intake.metadata(&headers, authenticated, Some(peer));
    match shared.intake.accept(batch, metadata, None).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => crate::http_server::refusal(refusal),
    }
}
