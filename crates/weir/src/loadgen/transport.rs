//! Sending prebuilt OTLP requests over gRPC (HTTP/2) or HTTP/1.1.

use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client as HyperClient, connect::HttpConnector};
use weir_otlp::{Batch, Signal};

use super::{Args, Compression, Encoding, Protocol};

/// The request body for `batch`: encoded, compressed and, for gRPC, framed.
pub(crate) fn body(args: &Args, batch: &Batch) -> Bytes {
    let encoded = match (args.protocol, args.encoding) {
        (Protocol::Http, Encoding::Json) => weir_otlp::json::encode(batch),
        _ => batch.encode_protobuf().to_vec(),
    };
    let compressed = match args.compression {
        Compression::None => encoded,
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&encoded).expect("in memory");
            encoder.finish().expect("in memory")
        }
        Compression::Zstd => zstd::encode_all(&encoded[..], 1).expect("in memory"),
    };
    if args.protocol == Protocol::Http {
        return compressed.into();
    }
    let mut frame = Vec::with_capacity(compressed.len() + 5);
    frame.push(u8::from(args.compression != Compression::None));
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);
    frame.into()
}

/// A connection pool to one OTLP endpoint for one signal.
#[derive(Clone)]
pub(crate) struct Client {
    client: HyperClient<HttpConnector, Full<Bytes>>,
    url: String,
    grpc: bool,
    content_type: &'static str,
    encoding: Option<&'static str>,
}

impl Client {
    pub(crate) fn new(args: &Args) -> anyhow::Result<Client> {
        let signal = Signal::from(args.signal);
        let grpc = args.protocol == Protocol::Grpc;
        let path =
            if grpc { signal.grpc_export_path().to_owned() } else { format!("/v1/{signal}") };
        let endpoint = args.endpoint.trim_start_matches("http://").trim_end_matches('/');
        let url = format!("http://{endpoint}{path}");
        url.parse::<http::Uri>()
            .map_err(|e| anyhow::anyhow!("invalid endpoint {:?}: {e}", args.endpoint))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = HyperClient::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(grpc)
            .build(connector);
        let content_type = match (grpc, args.encoding) {
            (true, _) => "application/grpc",
            (false, Encoding::Proto) => "application/x-protobuf",
            (false, Encoding::Json) => "application/json",
        };
        let encoding = match args.compression {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        };
        Ok(Client { client, url, grpc, content_type, encoding })
    }

    /// Sends one request; on failure returns its status (`grpc:<code>`, `http:<status>`,
    /// `transport`).
    pub(crate) async fn send(&self, body: Bytes) -> Result<(), String> {
        let mut request = http::Request::post(&self.url).header("content-type", self.content_type);
        if self.grpc {
            request = request.header("te", "trailers");
        }
        if let Some(encoding) = self.encoding {
            request = request
                .header(if self.grpc { "grpc-encoding" } else { "content-encoding" }, encoding);
        }
        let request = request.body(Full::new(body)).map_err(|_| "transport".to_owned())?;
        let response = self.client.request(request).await.map_err(|_| "transport".to_owned())?;
        let status = response.status();
        let headers = response.headers().clone();
        let collected = response.into_body().collect().await.map_err(|_| "transport".to_owned())?;
        if !self.grpc {
            return if status.is_success() {
                Ok(())
            } else {
                Err(format!("http:{}", status.as_u16()))
            };
        }
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let code = trailers
            .get("grpc-status")
            .or_else(|| headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_owned();
        if code == "0" { Ok(()) } else { Err(format!("grpc:{code}")) }
    }
}
