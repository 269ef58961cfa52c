//! The `otlphttp` exporter: OTLP over HTTP/1.1 with protobuf or JSON bodies, as the OTLP
//! specification describes the client side.
//!
//! Outcomes: 2xx is success, with a partial success in the body logged and counted (never
//! retried); 429, 502, 503 and 504 are retryable, honouring `Retry-After` (seconds); a
//! connection failure is retryable; every other status is permanent, with the server's
//! `google.rpc.Status` message when it sent one.

mod config;

use std::sync::Arc;

use std::io::Write;

use bytes::Bytes;
pub use config::{Config, Encoding};
use http::{Request, StatusCode, header};
use http_body_util::Full;
use prost::Message;
use weir_core::{Batch, BoxFuture, ExportError, Exporter, Metadata, Signal, auth::ClientAuth};

use crate::client::{
    Compression, ExportResponse, PartialSuccess, report_partial_success, request_headers,
    retry_after,
};

/// Exports batches to an OTLP/HTTP endpoint.
pub struct OtlpHttpExporter {
    id: String,
    client: crate::client::HttpClient,
    config: Config,
    headers: http::HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
}

impl OtlpHttpExporter {
    /// An exporter with its own connection pool.
    pub fn new(
        id: &str,
        config: &Config,
        auth: Option<Arc<dyn ClientAuth>>,
    ) -> std::io::Result<OtlpHttpExporter> {
        let (client, headers) =
            crate::client::http_client(config.timeout, &config.headers, &config.tls)?;
        Ok(OtlpHttpExporter { id: id.to_owned(), client, config: config.clone(), headers, auth })
    }

    fn body(&self, batch: &Batch) -> Result<(Bytes, Option<&'static str>), ExportError> {
        let encoded = match self.config.encoding {
            Encoding::Proto => batch.encode_protobuf(),
            Encoding::Json => Bytes::from(weir_otlp::json::encode(batch)),
        };
        let compress = |result: std::io::Result<Vec<u8>>| {
            result.map(Bytes::from).map_err(|e| ExportError::Permanent {
                message: format!("compressing the request: {e}"),
            })
        };
        Ok(match self.config.compression {
            Compression::None => (encoded, None),
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                (
                    compress(encoder.write_all(&encoded).and_then(|()| encoder.finish()))?,
                    Some("gzip"),
                )
            }
            Compression::Deflate => {
                let mut encoder =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                (
                    compress(encoder.write_all(&encoded).and_then(|()| encoder.finish()))?,
                    Some("deflate"),
                )
            }
            Compression::Zstd => (compress(zstd::encode_all(&encoded[..], 1))?, Some("zstd")),
        })
    }
}

impl Exporter for OtlpHttpExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async move {
            let signal = batch.signal();
            let Some(url) = self.config.url(signal) else {
                return Err(ExportError::Permanent {
                    message: format!("no endpoint configured for {signal}"),
                });
            };
            let (body, content_encoding) = self.body(batch)?;
            let content_type = match self.config.encoding {
                Encoding::Proto => "application/x-protobuf",
                Encoding::Json => "application/json",
            };
            let mut request = Request::post(&url).header(header::CONTENT_TYPE, content_type);
            if let Some(encoding) = content_encoding {
                request = request.header(header::CONTENT_ENCODING, encoding);
            }
            if let Some(headers) = request.headers_mut() {
                headers.extend(request_headers(&self.headers, self.auth.as_ref(), metadata));
            }
            let request = request.body(Full::new(body)).map_err(|e| ExportError::Permanent {
                message: format!("building the request: {e}"),
            })?;
            let response = self.client.request(request).await.map_err(|e| {
                ExportError::Retryable { after: None, message: format!("{url}: {e}") }
            })?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let body = crate::client::read_response(response.into_body()).await.map_err(|e| {
                ExportError::Retryable {
                    after: None,
                    message: format!("{url}: reading the response: {e}"),
                }
            })?;
            if status.is_success() {
                if let Some(partial) = partial_success(&body, is_json, signal) {
                    report_partial_success(&self.id, signal, &partial);
                }
                return Ok(());
            }
            let message = format!("{url}: HTTP {status}: {}", error_message(&body, is_json));
            match status {
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => {
                    Err(ExportError::Retryable { after: retry_after, message })
                }
                StatusCode::PAYLOAD_TOO_LARGE => Err(ExportError::TooLarge { message }),
                _ => Err(ExportError::Permanent { message }),
            }
        })
    }
}

fn partial_success(body: &[u8], is_json: bool, signal: Signal) -> Option<PartialSuccess> {
    if body.is_empty() {
        return None;
    }
    if !is_json {
        return ExportResponse::decode(body).ok()?.partial_success;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = value.get("partialSuccess").or_else(|| value.get("partial_success"))?;
    let key = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected =
        partial.get(key).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0);
    let error_message =
        partial.get("errorMessage").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    Some(PartialSuccess { rejected, error_message })
}

/// The server's explanation: a `google.rpc.Status` message, or the start of the body.
fn error_message(body: &[u8], is_json: bool) -> String {
    if is_json {
        if let Some(message) = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| Some(v.get("message")?.as_str()?.to_owned()))
        {
            return message;
        }
    } else if let Ok(status) = tonic_types::Status::decode(body)
        && !status.message.is_empty()
    {
        return status.message;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    if text.is_empty() { "(no body)".into() } else { text.into_owned() }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "otlp_http",
        aliases: &["otlphttp"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "OTLP over HTTP",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        self.encoding == Encoding::Json
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move {
            Ok(Arc::new(OtlpHttpExporter::new(id, self, auth.client(self.auth.as_ref())?)?)
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
    use super::*;

    /// A backend that answers every export with `status` and a body of `size` bytes.
    async fn backend(status: u16, size: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move || async move {
            (http::StatusCode::from_u16(status).unwrap(), vec![b'x'; size])
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_backend_answering_with_megabytes_is_read_only_so_far() {
        let logs = weir_otlp::json::decode_any(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{}]}]}]}"#,
        )
        .unwrap();
        for status in [200, 503] {
            let endpoint = backend(status, 64 << 20).await;
            let exporter =
                OtlpHttpExporter::new("otlphttp", &Config { endpoint, ..Config::default() }, None)
                    .unwrap();
            match exporter.export(&logs, &Default::default()).await {
                Err(ExportError::Retryable { message, .. }) => {
                    assert!(message.contains("length limit exceeded"), "{status}: {message}")
                }
                other => panic!("{status}: a 64 MiB answer is cut off at 1 MiB: {other:?}"),
            }
        }
        let endpoint = backend(200, 0).await;
        let exporter =
            OtlpHttpExporter::new("otlphttp", &Config { endpoint, ..Config::default() }, None)
                .unwrap();
        exporter.export(&logs, &Default::default()).await.expect("an empty 200 is a success");
    }

    #[test]
    fn urls_follow_the_collector() {
        let config = Config {
            endpoint: "http://gateway:4318/".into(),
            logs_endpoint: "http://logs:9000/in".into(),
            ..Config::default()
        };
        assert_eq!(config.url(Signal::Traces).as_deref(), Some("http://gateway:4318/v1/traces"));
        assert_eq!(config.url(Signal::Logs).as_deref(), Some("http://logs:9000/in"));
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        let https = Config { endpoint: "https://gateway:4318".into(), ..Config::default() };
        assert!(https.problems().is_empty(), "https speaks TLS: {:?}", https.problems());
        let ftp = Config { endpoint: "ftp://gateway:4318".into(), ..Config::default() };
        assert_eq!(ftp.problems()[0].0, "endpoint");
    }

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        let json = br#"{"partialSuccess": {"rejectedSpans": "3", "errorMessage": "bad span"}}"#;
        let partial = partial_success(json, true, Signal::Traces).unwrap();
        assert_eq!((partial.rejected, partial.error_message.as_str()), (3, "bad span"));
        let proto = ExportResponse {
            partial_success: Some(PartialSuccess { rejected: 2, error_message: "x".into() }),
        };
        assert_eq!(
            partial_success(&proto.encode_to_vec(), false, Signal::Logs).unwrap().rejected,
            2
        );
        assert!(partial_success(b"", false, Signal::Logs).is_none());
    }

    #[test]
    fn error_messages_come_from_the_status_body() {
        let status = tonic_types::Status {
            code: 3,
            message: "invalid trace id".into(),
            details: Vec::new(),
        }
        .encode_to_vec();
        assert_eq!(error_message(&status, false), "invalid trace id");
        assert_eq!(error_message(br#"{"code": 3, "message": "nope"}"#, true), "nope");
    }
}
