//! What the OTLP exporters share: client options the Collector spells the same way for both
//! (`tls`, `compression`, `headers`) and the reading of export responses (partial success).

use std::collections::BTreeMap;
use weir_core::tls::ClientTlsOptions;

use serde::Deserialize;
use weir_core::{Signal, telemetry};

/// `tls` of an exporter. Only plaintext is supported until TLS lands: any other option is a
/// validation error naming it, never ignored.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientTls {
    /// `insecure`: plaintext (required for now).
    pub insecure: bool,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: Option<bool>,
    /// `ca_file`.
    pub ca_file: Option<String>,
    /// `cert_file`.
    pub cert_file: Option<String>,
    /// `key_file`.
    pub key_file: Option<String>,
    /// `server_name_override`.
    pub server_name_override: Option<String>,
    /// `min_version`.
    pub min_version: Option<String>,
}

impl ClientTls {
    /// Problems with these options.
    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.cert_file.is_some() != self.key_file.is_some() {
            errors.push(("tls.cert_file".into(), "cert_file and key_file go together".into()));
        }
        if let Some(version) = &self.min_version
            && !["1.2", "1.3"].contains(&version.as_str())
        {
            errors.push((
                "tls.min_version".into(),
                format!("{version:?}: weir supports \"1.2\" and \"1.3\""),
            ));
        }
        errors
    }

    /// Whether to speak TLS to an endpoint whose scheme (if any) is `scheme`: always for
    /// `https://`, never for `http://`, otherwise unless `insecure` (the Collector's rule).
    pub(crate) fn enabled(&self, scheme: Option<&str>) -> bool {
        match scheme {
            Some("https") => true,
            Some("http") => false,
            _ => !self.insecure,
        }
    }

    /// A rustls client configuration from these options, offering `alpn`.
    pub(crate) fn client_config(&self, alpn: &[&[u8]]) -> std::io::Result<rustls::ClientConfig> {
        ClientTlsOptions {
            ca_file: self.ca_file.as_ref().map(Into::into),
            cert_file: self.cert_file.as_ref().map(Into::into),
            key_file: self.key_file.as_ref().map(Into::into),
            insecure_skip_verify: self.insecure_skip_verify.unwrap_or(false),
            min_version: self.min_version.clone(),
        }
        .client_config(alpn)
    }
}

/// `compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip (the default).
    #[default]
    Gzip,
    /// Zstandard.
    Zstd,
    /// zlib deflate (HTTP only).
    Deflate,
    /// No compression (`none`, or an empty string as Collector files sometimes write).
    #[serde(alias = "")]
    None,
}

/// `headers`: sent with every request.
pub type Headers = BTreeMap<String, String>;

/// Checks header names and values can be sent.
pub(crate) fn validate_headers(headers: &Headers) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push((format!("headers.{name}"), "is not a valid header name".into()));
        } else if http::HeaderValue::from_str(value).is_err() {
            errors.push((
                format!("headers.{name}"),
                "has a value that cannot be sent in a header".into(),
            ));
        }
    }
    errors
}

/// Splits an endpoint into its scheme (if any) and the rest.
pub(crate) fn scheme(endpoint: &str) -> (Option<&str>, &str) {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, endpoint),
    }
}

/// The export response of any signal: field 1 is the partial success, whose field 1 is the
/// number of rejected items and field 2 the message, in all three services.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) partial_success: Option<PartialSuccess>,
}

/// `Export*PartialSuccess`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PartialSuccess {
    #[prost(int64, tag = "1")]
    pub(crate) rejected: i64,
    #[prost(string, tag = "2")]
    pub(crate) error_message: String,
}

/// Logs and counts a partial success. The OTLP specification forbids retrying it: the
/// rejected items would be rejected again.
pub(crate) fn report_partial_success(exporter: &str, signal: Signal, partial: &PartialSuccess) {
    if partial.rejected <= 0 && partial.error_message.is_empty() {
        return;
    }
    if partial.rejected > 0 {
        metrics::counter!(telemetry::EXPORTER_REJECTED_ITEMS, telemetry::EXPORTER => exporter.to_owned(),
            telemetry::SIGNAL => signal.as_str())
        .increment(partial.rejected as u64);
    }
    tracing::warn!(exporter, %signal, rejected = partial.rejected, message = %partial.error_message,
        "backend accepted the request partially: rejected items are not retried");
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured: the backoff applies).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<std::time::Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(std::time::Duration::from_secs)
}

/// An HTTP/1.1 client (TLS for `https://` URLs) with `TCP_NODELAY` and a connect timeout,
/// and the configured headers parsed; shared by the exporters that POST over HTTP.
pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Builds an [`HttpClient`] and parses `headers`.
pub(crate) fn http_client(
    timeout: std::time::Duration,
    headers: &Headers,
    tls: &ClientTls,
) -> std::io::Result<(HttpClient, http::HeaderMap)> {
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
    };
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(timeout));
    connector.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.client_config(&[])?)
        .https_or_http();
    let builder = match &tls.server_name_override {
        Some(name) => {
            let name =
                rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| invalid(&e))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    let connector = builder.enable_http1().wrap_connector(connector);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let mut parsed = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(&e))?;
        parsed.append(name, http::HeaderValue::from_str(value).map_err(|e| invalid(&e))?);
    }
    Ok((client, parsed))
}

/// The headers of one request: the exporter's configured `headers`, then what its
/// authenticator sets for a batch with request `metadata` (which may override them).
pub(crate) fn request_headers(
    configured: &http::HeaderMap,
    auth: Option<&std::sync::Arc<dyn weir_core::auth::ClientAuth>>,
    metadata: &weir_core::Metadata,
) -> http::HeaderMap {
    let mut headers = configured.clone();
    if let Some(auth) = auth {
        auth.apply(&mut headers, metadata);
    }
    headers
}

/// The most bytes of a backend's response an exporter reads: an export response is a few
/// bytes, an error a status and a message; a backend that sends more is cut off there.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Reads a response body, at most [`MAX_RESPONSE_BYTES`] of it.
pub(crate) async fn read_response(body: hyper::body::Incoming) -> Result<bytes::Bytes, String> {
    use http_body_util::BodyExt;
    http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| e.to_string())
}
