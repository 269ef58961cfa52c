//! Serving a transport over TLS: the connections whose handshakes completed, as tonic's
//! incoming stream and as axum's listener.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::mpsc,
};
use tokio_rustls::server::TlsStream;

/// Completed TLS connections, from [`weir_core::tls::ReloadingServer::incoming`].
pub(crate) type Incoming = mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>;

/// A TLS connection tonic can serve, with its client's address.
pub(crate) struct TlsIo(TlsStream<TcpStream>, SocketAddr);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        let local_addr = self.0.get_ref().0.local_addr().ok();
        tonic::transport::server::TcpConnectInfo { local_addr, remote_addr: Some(self.1) }
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// The connections as tonic's incoming stream.
pub(crate) fn stream(
    incoming: Incoming,
) -> impl tonic::codegen::tokio_stream::Stream<Item = io::Result<TlsIo>> {
    use tonic::codegen::tokio_stream::StreamExt;
    tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(incoming)
        .map(|(io, peer)| Ok(TlsIo(io, peer)))
}

/// The connections as axum's listener.
pub(crate) struct Listener {
    pub(crate) incoming: Incoming,
    pub(crate) local: SocketAddr,
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // the accept loop stopped: shutdown is under way
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
