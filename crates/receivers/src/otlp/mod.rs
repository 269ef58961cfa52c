//! The `otlp` receiver: OTLP over gRPC (tonic) and HTTP (axum), as the OTLP specification
//! describes it, with the Collector's option names.
//!
//! Both transports decode, check identifiers, and hand each request to every pipeline that
//! lists the receiver ([`weir_core::ReceiverOutput::send`]) before answering: success means
//! the data is in the pipelines. A request never allocates past its size limit, and no input
//! makes the process panic.

mod config;
pub mod cors;
mod grpc;
mod http;
mod intake;
mod tls;

use std::{net::SocketAddr, sync::Arc};

pub use config::{Config, Grpc, Http, Protocols};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::{
    BoxFuture, Receiver, ReceiverError, ReceiverOutput,
    auth::{AuthConfig, Authenticators, ServerAuth},
    tls::{ReloadingServer, ServerTls},
};

use self::intake::Intake;

/// An `otlp` receiver whose sockets are bound.
pub struct OtlpReceiver {
    id: String,
    grpc: Option<Bound<Grpc>>,
    http: Option<Bound<Http>>,
}

/// A transport's socket, options and security.
type Bound<T> = (TcpListener, T, Security);

/// A transport's authenticator and TLS.
#[derive(Clone, Default)]
pub(crate) struct Security {
    pub(crate) auth: Option<Arc<dyn ServerAuth>>,
    pub(crate) tls: Option<(ServerTls, ReloadingServer)>,
}

impl Security {
    fn new(
        auth: Option<&AuthConfig>,
        tls: Option<&ServerTls>,
        authenticators: &Authenticators,
    ) -> std::io::Result<Security> {
        let tls = match tls {
            Some(tls) => Some((tls.clone(), ReloadingServer::new(tls)?)),
            None => None,
        };
        Ok(Security { auth: authenticators.server(auth)?, tls })
    }

    /// The TLS connections accepted on `listener`, or `None` for plaintext (`listener` back).
    pub(crate) fn accept(
        &self,
        listener: TcpListener,
        shutdown: &CancellationToken,
    ) -> Result<(tls::Incoming, std::net::SocketAddr), TcpListener> {
        let Some((config, server)) = &self.tls else { return Err(listener) };
        let Ok(local) = listener.local_addr() else { return Err(listener) };
        server.watch(config, shutdown.clone());
        Ok((server.incoming(listener, shutdown.clone()), local))
    }
}

/// The kernel buffers of a transport's connections, in bytes (0: the system's default).
#[derive(Debug, Clone, Copy, Default)]
struct Buffers {
    /// `read_buffer_size`: `SO_RCVBUF`.
    read: usize,
    /// `write_buffer_size`: `SO_SNDBUF`.
    write: usize,
}

/// Listens on `endpoint`; the buffer sizes set on the listening socket are inherited by every
/// connection it accepts.
async fn bind(
    endpoint: &str,
    id: &str,
    transport: &str,
    buffers: Buffers,
) -> std::io::Result<TcpListener> {
    let listen = async {
        let listener = TcpListener::bind(endpoint).await?;
        let socket = socket2::SockRef::from(&listener);
        if buffers.read > 0 {
            socket.set_recv_buffer_size(buffers.read)?;
        }
        if buffers.write > 0 {
            socket.set_send_buffer_size(buffers.write)?;
        }
        Ok(listener)
    };
    listen.await.map_err(|error: std::io::Error| {
        std::io::Error::new(
            error.kind(),
            format!("receiver {id}: cannot listen for {transport} on {endpoint}: {error}"),
        )
    })
}

impl OtlpReceiver {
    /// Binds the configured endpoints.
    pub async fn bind(
        id: &str,
        config: &Config,
        auth: &Authenticators,
    ) -> std::io::Result<OtlpReceiver> {
        let grpc = match &config.protocols.grpc {
            Some(grpc) => {
                let security = Security::new(grpc.auth.as_ref(), grpc.tls.as_ref(), auth)?;
                let buffers =
                    Buffers { read: grpc.read_buffer_size, write: grpc.write_buffer_size };
                Some((bind(&grpc.endpoint, id, "grpc", buffers).await?, grpc.clone(), security))
            }
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
            let grpc = grpc.map(|(listener, config, security)| {
                let intake = Intake::new(
                    &id,
                    "grpc",
                    output.clone(),
                    config.include_metadata,
                    security.auth.clone(),
                );
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let listener = security.accept(listener, &shutdown);
                    grpc::serve(listener, intake, &config, shutdown)
                        .await
                        .map_err(|e| e.to_string())
                })
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
            let mut errors = Vec::new();
            for (transport, task) in [("grpc", grpc), ("http", http)] {
                let Some(task) = task else { continue };
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => errors.push(format!("{transport}: {error}")),
                    Err(join) => errors.push(format!("{transport}: {join}")),
                }
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(ReceiverError(format!("receiver {id}: {}", errors.join("; "))))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_inherit_the_configured_buffer_sizes() {
        let size = |buffers: Buffers| async move {
            let listener = bind("127.0.0.1:0", "otlp", "grpc", buffers).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            let socket = socket2::SockRef::from(&accepted);
            (socket.recv_buffer_size().unwrap(), socket.send_buffer_size().unwrap())
        };
        let system = size(Buffers::default()).await;
        let (read, write) = size(Buffers { read: 96 * 1024, write: 48 * 1024 }).await;
        // Linux doubles what it is given, for its bookkeeping
        assert_eq!((read, write), (2 * 96 * 1024, 2 * 48 * 1024), "system default: {system:?}");
        let error = bind("127.0.0.1:notaport", "otlp/2", "grpc", Buffers::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("receiver otlp/2: cannot listen for grpc on 127.0.0.1:notaport"));
    }
}
