//! The `otlp` exporter: OTLP over gRPC (tonic), as the OTLP specification describes the
//! client side.
//!
//! A batch still encoded is sent as the bytes it arrived in; a decoded one is encoded once.
//! Both go through a codec that passes bytes through. Outcomes per the specification: success, or success with a
//! partial success (logged and counted, never retried); CANCELLED, DEADLINE_EXCEEDED, ABORTED,
//! OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retryable, RESOURCE_EXHAUSTED only when the
//! server sent RetryInfo, whose delay is honoured; every other code is permanent.

mod channel;
mod config;

use std::sync::Arc;

pub use config::{Balancer, Config, Keepalive};
use prost::Message;
use tonic::{
    Code, Status,
    codec::CompressionEncoding,
    metadata::{MetadataKey, MetadataValue},
};
use tonic_types::StatusExt;
use weir_core::{Batch, BoxFuture, ExportError, Exporter, Metadata, auth::ClientAuth};

use crate::client::{Compression, ExportResponse, report_partial_success};

/// Exports batches to one OTLP/gRPC endpoint.
pub struct OtlpExporter {
    id: String,
    channels: channel::Channels,
    config: Config,
    metadata: Vec<(MetadataKey<tonic::metadata::Ascii>, MetadataValue<tonic::metadata::Ascii>)>,
    auth: Option<Arc<dyn ClientAuth>>,
}

impl OtlpExporter {
    /// An exporter that connects lazily (at the first export, and again after failures).
    pub fn new(
        id: &str,
        config: &Config,
        auth: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<OtlpExporter> {
        let invalid = |e: &dyn std::fmt::Display| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
        };
        let channels = channel::Channels::new(config)?;
        let mut metadata = Vec::new();
        for (name, value) in &config.headers {
            let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|e| invalid(&e))?;
            let value = MetadataValue::try_from(value.as_str()).map_err(|e| invalid(&e))?;
            metadata.push((key, value));
        }
        Ok(OtlpExporter { id: id.to_owned(), channels, config: config.clone(), metadata, auth })
    }
}

impl Exporter for OtlpExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let signal = batch.signal();
            let mut grpc = tonic::client::Grpc::new(self.channels.next())
                .max_decoding_message_size(crate::client::MAX_RESPONSE_BYTES)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd);
            grpc = match self.config.compression {
                Compression::Gzip => grpc.send_compressed(CompressionEncoding::Gzip),
                Compression::Zstd => grpc.send_compressed(CompressionEncoding::Zstd),
                Compression::Deflate | Compression::None => grpc,
            };
            grpc.ready().await.map_err(|e| ExportError::Retryable {
                after: None,
                message: format!("connection: {e}"),
            })?;
            let mut request = tonic::Request::new(batch.encode_protobuf_chunks());
            request.set_timeout(self.config.timeout);
            for (key, value) in &self.metadata {
                request.metadata_mut().insert(key.clone(), value.clone());
            }
            if let Some(auth) = &self.auth {
                let mut headers = std::mem::take(request.metadata_mut()).into_headers();
                auth.apply(&mut headers, metadata);
                *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
            }
            let path = http::uri::PathAndQuery::from_static(signal.grpc_export_path());
            let response =
                grpc.unary(request, path, weir_otlp::grpc::RawCodec).await.map_err(classify)?;
            let response = ExportResponse::decode(response.into_inner()).map_err(|e| {
                ExportError::Permanent { message: format!("undecodable export response: {e}") }
            })?;
            if let Some(partial) = response.partial_success {
                report_partial_success(&self.id, signal, &partial);
            }
            Ok(())
        })
    }
}

/// Sorts a gRPC status into retryable or permanent, per the OTLP specification, or too large
/// (RESOURCE_EXHAUSTED or OUT_OF_RANGE saying the message was over the receiver's limit, in
/// grpc-go's or tonic's words): sending it again unchanged would fail the same way.
fn classify(status: Status) -> ExportError {
    let message = format!("{:?}: {}", status.code(), status.message());
    let retry_delay = status.get_details_retry_info().and_then(|info| info.retry_delay);
    let text = status.message().to_ascii_lowercase();
    let too_large = text.contains("larger than max") || text.contains("too large");
    match status.code() {
        Code::ResourceExhausted | Code::OutOfRange if too_large => {
            ExportError::TooLarge { message }
        }
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => ExportError::Retryable { after: retry_delay, message },
        Code::ResourceExhausted if retry_delay.is_some() => {
            ExportError::Retryable { after: retry_delay, message }
        }
        _ => ExportError::Permanent { message },
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "otlp_grpc",
        aliases: &["otlp"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "OTLP over gRPC",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move {
            Ok(Arc::new(OtlpExporter::new(id, self, auth.client(self.auth.as_ref())?)?)
                as Arc<dyn Exporter>)
        })
    }

    fn queue(&self) -> weir_core::export::Settings {
        self.settings()
    }

    fn authenticator(&self) -> Option<&str> {
        self.auth.as_ref().map(|a| a.authenticator.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn statuses_are_sorted_as_the_specification_says() {
        let retryable = |s: Status| matches!(classify(s), ExportError::Retryable { .. });
        assert!(retryable(Status::unavailable("down")));
        assert!(retryable(Status::deadline_exceeded("slow")));
        assert!(!retryable(Status::invalid_argument("bad")));
        assert!(!retryable(Status::resource_exhausted("no RetryInfo: permanent")));
        let with_info = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_secs(7))),
        );
        assert_eq!(
            classify(with_info),
            ExportError::Retryable {
                after: Some(Duration::from_secs(7)),
                message: "ResourceExhausted: slow down".into()
            }
        );
    }

    #[test]
    fn tls_unless_insecure_or_an_http_scheme() {
        let tls = Config { endpoint: "backend:4317".into(), ..Config::default() };
        assert!(tls.problems().is_empty(), "{:?}", tls.problems());
        assert!(tls.uses_tls(), "the Collector's default: TLS");
        let http = Config { endpoint: "http://backend:4317".into(), ..Config::default() };
        assert!(!http.uses_tls());
        let https = Config { endpoint: "https://backend:4317".into(), ..http.clone() };
        assert!(https.uses_tls());
        let mut insecure = Config { endpoint: "backend:4317".into(), ..Config::default() };
        insecure.tls.insecure = true;
        assert!(!insecure.uses_tls());
        let mut half = tls.clone();
        half.tls.cert_file = Some("client.pem".into());
        let bad = Config { endpoint: "backend".into(), compression: Compression::Deflate, ..half };
        let paths: Vec<String> = bad.problems().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, vec!["endpoint", "tls.cert_file", "compression"]);
    }

    #[tokio::test]
    async fn round_robin_keeps_a_connection_per_address_and_pick_first_one() {
        let endpoint = "http://localhost:4317".to_owned();
        let addresses: std::collections::HashSet<std::net::SocketAddr> =
            std::net::ToSocketAddrs::to_socket_addrs("localhost:4317").unwrap().collect();
        let round_robin = Config { endpoint: endpoint.clone(), ..Config::default() };
        assert_eq!(channel::Channels::new(&round_robin).unwrap().len(), addresses.len());
        let pick_first = Config { balancer_name: Balancer::PickFirst, ..round_robin };
        assert_eq!(channel::Channels::new(&pick_first).unwrap().len(), 1);
    }

    #[test]
    fn client_options_parse_with_the_collectors_defaults_and_are_checked() {
        use weir_core::Component;
        let parsed = Config::parse(
            "endpoint: http://backend:4317\nbalancer_name: pick_first\nauthority: gw.example:443\n\
             keepalive:\n  time: 30s\nwrite_buffer_size: 1048576\n",
        )
        .unwrap();
        assert_eq!(parsed.balancer_name, Balancer::PickFirst);
        assert_eq!(parsed.authority.as_deref(), Some("gw.example:443"));
        let keepalive = parsed.keepalive.unwrap();
        assert_eq!(keepalive.time, Duration::from_secs(30));
        assert_eq!(keepalive.timeout, Duration::from_secs(10), "the Collector's default");
        assert_eq!(parsed.write_buffer_size, 1 << 20);
        let defaults = Config::parse("endpoint: http://backend:4317").unwrap();
        assert_eq!(defaults.balancer_name, Balancer::RoundRobin);
        assert!(defaults.keepalive.is_none(), "off unless set");
        assert_eq!(defaults.write_buffer_size, 512 * 1024);
        let errors =
            Config::parse("endpoint: http://backend:4317\nbalancer_name: random\n").unwrap_err();
        assert!(errors[0].message.contains("unknown variant `random`"), "{errors:?}");
        let errors =
            Config::parse("endpoint: http://backend:4317\nauthority: \"a b\"\n").unwrap_err();
        assert_eq!(errors[0].path, "authority");
    }
}
