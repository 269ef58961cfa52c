//! Listening for a receiver's transport: the socket (with its kernel buffers) and the
//! transport's security — the authenticator each request must pass and the TLS it is served
//! over.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::{
    auth::{AuthConfig, Authenticators, ServerAuth},
    tls::{ReloadingServer, ServerTls},
};

use crate::tls;

/// Waits for a receiver's transports (`(name, task)`), and reports every one that failed.
pub(crate) async fn join(
    id: &str,
    tasks: Vec<(&str, tokio::task::JoinHandle<Result<(), String>>)>,
) -> Result<(), weir_core::ReceiverError> {
    let mut errors = Vec::new();
    for (name, task) in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => errors.push(format!("{name}: {error}")),
            Err(join) => errors.push(format!("{name}: {join}")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(weir_core::ReceiverError(format!("receiver {id}: {}", errors.join("; "))))
    }
}

/// A transport's authenticator and TLS.
#[derive(Clone, Default)]
pub(crate) struct Security {
    pub(crate) auth: Option<Arc<dyn ServerAuth>>,
    pub(crate) tls: Option<(ServerTls, ReloadingServer)>,
}

impl Security {
    pub(crate) fn new(
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
pub(crate) struct Buffers {
    /// `read_buffer_size`: `SO_RCVBUF`.
    pub(crate) read: usize,
    /// `write_buffer_size`: `SO_SNDBUF`.
    pub(crate) write: usize,
}

/// Listens on `endpoint`; the buffer sizes set on the listening socket are inherited by every
/// connection it accepts.
pub(crate) async fn bind(
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
