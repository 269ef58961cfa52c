use std::time::Duration;

use serde::Deserialize;
use weir_core::auth::AuthConfig;
use weir_core::export::{QueueConfig, RetryConfig, Settings};

use crate::client::{self, ClientTls, Compression, Headers};

/// `exporters.otlp` (alias `otlp_grpc`): OTLP over gRPC, with the Collector's options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: `host:port` (or `http://host:port`), required.
    pub endpoint: String,
    /// `tls`.
    pub tls: ClientTls,
    /// `compression`: gzip (default), zstd or none.
    pub compression: Compression,
    /// `headers`: metadata sent with every request.
    pub headers: Headers,
    /// `auth.authenticator`: an extension that adds credentials to every request.
    pub auth: Option<AuthConfig>,
    /// `timeout`: one attempt's limit (default 5s).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `sending_queue`.
    pub sending_queue: QueueConfig,
    /// `retry_on_failure`.
    pub retry_on_failure: RetryConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: String::new(),
            tls: ClientTls::default(),
            compression: Compression::Gzip,
            headers: Headers::new(),
            auth: None,
            timeout: Duration::from_secs(5),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

impl Config {
    /// The queue's settings.
    pub fn settings(&self) -> Settings {
        Settings {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            timeout: self.timeout,
        }
    }

    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let (_, address) = client::scheme(&self.endpoint);
        if self.endpoint.is_empty() {
            errors.push(("endpoint".into(), "is required".into()));
        } else if !address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.trim_end_matches('/').parse::<u16>().is_ok()
        }) {
            errors.push((
                "endpoint".into(),
                format!("invalid endpoint {:?}: expected host:port", self.endpoint),
            ));
        }
        errors.extend(self.tls.validate());
        if self.compression == Compression::Deflate {
            errors.push((
                "compression".into(),
                "deflate is not a gRPC compression: use gzip, zstd or none".into(),
            ));
        }
        errors.extend(client::validate_headers(&self.headers));
        errors.extend(self.settings().validate());
        errors
    }

    /// Whether the connection speaks TLS.
    pub(crate) fn uses_tls(&self) -> bool {
        self.tls.enabled(client::scheme(&self.endpoint).0)
    }

    /// The URI tonic dials.
    pub(crate) fn uri(&self) -> String {
        let (_, address) = client::scheme(&self.endpoint);
        format!("http://{}", address.trim_end_matches('/'))
    }
}
