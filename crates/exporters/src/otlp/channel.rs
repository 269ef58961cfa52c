//! The gRPC connections of the `otlp_grpc` exporter: the Collector's client options
//! `balancer_name`, `authority`, `keepalive`, `write_buffer_size` and `read_buffer_size`.
//!
//! `round_robin` (the default, as in the Collector) resolves the endpoint's host once when the
//! exporter starts and keeps one connection per address, taking them in turn (a name that does
//! not resolve then gets one connection by name); `pick_first`
//! keeps one connection to the host (resolved again at each reconnect). The buffer sizes are
//! applied to each socket's kernel buffers (`SO_SNDBUF`, `SO_RCVBUF`; 0 leaves the system's
//! default), the closest a Rust transport has to gRPC-Go's write and read buffers.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tonic::transport::{Channel, Endpoint};

use super::config::{Balancer, Config};

/// The connections of one exporter, taken in turn.
#[derive(Debug, Clone)]
pub(super) struct Channels {
    channels: Vec<Channel>,
    next: Arc<AtomicUsize>,
}

impl Channels {
    /// The connections `config` asks for, each connecting lazily.
    pub(super) fn new(config: &Config) -> std::io::Result<Channels> {
        let invalid = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        let uri = config.uri();
        let host_port = uri.trim_start_matches("http://").to_owned();
        let targets: Vec<Target> = match config.balancer_name {
            Balancer::PickFirst => vec![Target::Host(host_port.clone())],
            Balancer::RoundRobin => {
                match std::net::ToSocketAddrs::to_socket_addrs(host_port.as_str()) {
                    Ok(resolved) => {
                        let mut addrs: Vec<SocketAddr> = Vec::new();
                        for addr in resolved {
                            if !addrs.contains(&addr) {
                                addrs.push(addr);
                            }
                        }
                        addrs.into_iter().map(Target::Addr).collect()
                    }
                    // A name that does not resolve yet (a Service not yet created) must not
                    // stop weir: connect by name, resolving at each attempt.
                    Err(error) => {
                        tracing::warn!(endpoint = %host_port, %error, "cannot resolve the endpoint now: connecting by name, one connection");
                        vec![Target::Host(host_port.clone())]
                    }
                }
            }
        };
        let tls = if config.uses_tls() {
            Some(tokio_rustls::TlsConnector::from(Arc::new(config.tls.client_config(&[b"h2"])?)))
        } else {
            None
        };
        let host = host_port.rsplit_once(':').map_or(host_port.as_str(), |(h, _)| h);
        let server_name = config
            .tls
            .server_name_override
            .clone()
            .unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned());
        let mut channels = Vec::new();
        for target in targets {
            let mut endpoint = Endpoint::from_shared(uri.clone()).map_err(|e| invalid(&e))?;
            endpoint = endpoint.tcp_nodelay(true);
            if let Some(authority) = &config.authority {
                let origin: http::Uri =
                    format!("http://{authority}").parse().map_err(|e| invalid(&e))?;
                endpoint = endpoint.origin(origin);
            }
            if let Some(keepalive) = &config.keepalive {
                endpoint = endpoint
                    .http2_keep_alive_interval(keepalive.time)
                    .keep_alive_timeout(keepalive.timeout)
                    .keep_alive_while_idle(keepalive.permit_without_stream);
            }
            let dial = Dial {
                target,
                tls: tls.clone(),
                server_name: server_name.clone(),
                send_buffer: config.write_buffer_size,
                recv_buffer: config.read_buffer_size,
            };
            let connector = tower::service_fn(move |_: http::Uri| dial.clone().connect());
            channels.push(endpoint.connect_with_connector_lazy(connector));
        }
        if channels.is_empty() {
            return Err(invalid(&format!("{host_port} resolved to no address")));
        }
        Ok(Channels { channels, next: Arc::new(AtomicUsize::new(0)) })
    }

    /// The next connection in turn.
    pub(super) fn next(&self) -> Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].clone()
    }

    /// How many connections there are.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.channels.len()
    }
}

#[derive(Debug, Clone)]
enum Target {
    /// Resolved at each connection.
    Host(String),
    /// One address of a resolved host.
    Addr(SocketAddr),
}

/// What one connection attempt needs.
#[derive(Clone)]
struct Dial {
    target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    server_name: String,
    send_buffer: usize,
    recv_buffer: usize,
}

/// A connected stream, plain or TLS.
type Io = hyper_util::rt::TokioIo<Box<dyn Stream>>;

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

impl Dial {
    async fn connect(self) -> std::io::Result<Io> {
        let addr = match &self.target {
            Target::Addr(addr) => *addr,
            Target::Host(host) => tokio::net::lookup_host(host.as_str())
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{host} resolved to no address")))?,
        };
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if self.send_buffer > 0 {
            socket.set_send_buffer_size(self.send_buffer.min(u32::MAX as usize) as u32)?;
        }
        if self.recv_buffer > 0 {
            socket.set_recv_buffer_size(self.recv_buffer.min(u32::MAX as usize) as u32)?;
        }
        let tcp = socket.connect(addr).await?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.server_name.clone())
                    .map_err(std::io::Error::other)?;
                Box::new(tls.connect(name, tcp).await?)
            }
        };
        Ok(hyper_util::rt::TokioIo::new(stream))
    }
}
