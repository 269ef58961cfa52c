//! The agent's UDP ports: datagrams read into a bounded queue (`queue_size`), decoded by
//! `workers` tasks, each an `emitBatch` handed to the pipelines. Nothing answers a datagram;
//! every one dropped is counted and logged.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use weir_core::Metadata;

use super::Udp;
use crate::{intake::Intake, thrift::Protocol};

/// Binds `config.endpoint`, with the receive buffer `socket_buffer_size` asks for.
pub(super) async fn bind(id: &str, config: &Udp) -> std::io::Result<UdpSocket> {
    let socket = UdpSocket::bind(&config.endpoint).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("receiver {id}: cannot listen for UDP on {}: {error}", config.endpoint),
        )
    })?;
    if config.socket_buffer_size > 0 {
        socket2::SockRef::from(&socket).set_recv_buffer_size(config.socket_buffer_size)?;
    }
    Ok(socket)
}

/// Drops of one reason: counted, and logged at most once a second.
struct Drops {
    counter: metrics::Counter,
    reason: &'static str,
    logged: Mutex<Option<Instant>>,
}

impl Drops {
    fn new(receiver: &str, transport: &'static str, reason: &'static str) -> Drops {
        let counter = metrics::counter!("weir_receiver_udp_dropped_packets_total",
            "receiver" => receiver.to_owned(), "transport" => transport, "reason" => reason);
        Drops { counter, reason, logged: Mutex::new(None) }
    }

    fn drop_one(&self, receiver: &str, detail: &str) {
        self.counter.increment(1);
        let mut logged = self.logged.lock().expect("not poisoned");
        if logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            *logged = Some(Instant::now());
            tracing::warn!(receiver, reason = self.reason, detail, "UDP datagram dropped");
        }
    }
}

/// Reads datagrams until `shutdown`, then lets the workers finish the queue.
pub(super) async fn serve(
    id: &str,
    transport: &'static str,
    socket: UdpSocket,
    config: Udp,
    protocol: Protocol,
    intake: Intake,
    shutdown: CancellationToken,
) {
    let intake = Arc::new(intake);
    let full = Drops::new(id, transport, "queue_full");
    let oversized = Drops::new(id, transport, "oversized");
    let invalid = Arc::new(Drops::new(id, transport, "invalid"));
    let refused = Arc::new(Drops::new(id, transport, "refused"));
    let (queue, receiver) =
        tokio::sync::mpsc::channel::<(Bytes, std::net::SocketAddr)>(config.queue_size);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut workers = Vec::new();
    for _ in 0..config.workers {
        let (receiver, intake) = (receiver.clone(), intake.clone());
        let (invalid, refused, id) = (invalid.clone(), refused.clone(), id.to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let next = receiver.lock().await.recv().await;
                let Some((datagram, peer)) = next else { break };
                let encoding = match protocol {
                    Protocol::Compact => super::Encoding::AgentCompact,
                    Protocol::Binary => super::Encoding::AgentBinary,
                };
                let batch = match super::decode(&datagram, encoding) {
                    Ok(batch) => batch,
                    Err(error) => {
                        invalid.drop_one(&id, &error);
                        continue;
                    }
                };
                let metadata = Metadata::default().with_peer(Some(peer.ip()));
                if let Err(refusal) = intake.accept(batch, metadata, None).await {
                    refused.drop_one(&id, &format!("{refusal:?}"));
                }
            }
        }));
    }
    // One byte more than the limit tells a datagram that was cut.
    let mut buffer = vec![0u8; config.max_packet_size + 1];
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => break,
            received = socket.recv_from(&mut buffer) => received,
        };
        let (n, peer) = match received {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(receiver = id, %error, "UDP receive failed");
                continue;
            }
        };
        if n > config.max_packet_size {
            oversized
                .drop_one(id, &format!("more than max_packet_size ({})", config.max_packet_size));
            continue;
        }
        if queue.try_send((Bytes::copy_from_slice(&buffer[..n]), peer)).is_err() {
            full.drop_one(id, &format!("queue_size ({}) datagrams wait", config.queue_size));
        }
    }
    drop(queue);
    for worker in workers {
        let _ = worker.await;
    }
    intake.close();
}
