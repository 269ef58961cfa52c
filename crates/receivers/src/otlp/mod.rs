//! The `otlp` receiver: OTLP over gRPC (tonic) and HTTP (axum), as the OTLP specification
//! describes it, with the Collector's option names.
//!
//! Both transports decode, check identifiers, and hand each request to every pipeline that
//! lists the receiver ([`weir_core::ReceiverOutput::send`]) before answering: success means
//! the data is in the pipelines. A request never allocates past its size limit, and no input
//! makes the process panic.

mod config;
pub mod cors;
pub(crate) mod grpc;
mod http;

use std::net::SocketAddr;

pub(crate) use config::check_endpoint;
pub use config::{Config, Grpc, Http, Protocols};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::{BoxFuture, Receiver, ReceiverError, ReceiverOutput, auth::Authenticators};

use crate::{
    intake::Intake,
    listen::{Buffers, Security, bind},
};

/// An `otlp` receiver whose sockets are bound.
pub struct OtlpReceiver {
    id: String,
    grpc: Option<Bound<Grpc>>,
    http: Option<Bound<Http>>,
}

/// A transport's socket, options and security.
type Bound<T> = (TcpListener, T, Security);

impl OtlpReceiver {
    /// Binds the configured endpoints.
    pub async fn bind(
        id: &str,
        config: &Config,
        auth: &Authenticators,
    ) -> std::io::Result<OtlpReceiver> {
        let grpc = match &config.protocols.grpc {
            Some(grpc) => Some(grpc::bind(id, grpc, auth).await?),
            None => None,
        };
        let http = match &config.protocols.http {
            Some(http) => {
                let security = Security::new(http.auth.as_ref(), http.tls.as_ref(), auth)?;
                let listener = bind(&http.endpoint, id, "http", Buffers::default()).await?;
                Some((listener, http.clone(), security))
            }
            None => None,
        };
        Ok(OtlpReceiver { id: id.to_owned(), grpc, http })
    }
}

impl Receiver for OtlpReceiver {
    fn local_addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut addrs = Vec::new();
        if let Some(addr) = self.grpc.as_ref().and_then(|(l, _, _)| l.local_addr().ok()) {
            addrs.push(("grpc", addr));
        }
        if let Some(addr) = self.http.as_ref().and_then(|(l, _, _)| l.local_addr().ok()) {
            addrs.push(("http", addr));
        }
        addrs
    }

    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let OtlpReceiver { id, grpc, http } = *self;
            let grpc = grpc.map(|bound| {
                grpc::spawn(&id, bound, output.clone(), grpc::Services::Otlp, shutdown.clone())
            });
            let http = http.map(|(listener, config, security)| {
                let intake = Intake::new(
                    &id,
                    "http",
                    output.clone(),
                    config.include_metadata,
                    security.auth.clone(),
                );
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let listener = security.accept(listener, &shutdown);
                    http::serve(listener, intake, &config, shutdown)
                        .await
                        .map_err(|e| e.to_string())
                })
            });
            drop(output);
            let tasks = [("grpc", grpc), ("http", http)];
            let tasks = tasks.into_iter().filter_map(|(name, task)| Some((name, task?))).collect();
            crate::listen::join(&id, tasks).await
        })
    }
}
