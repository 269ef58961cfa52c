use std::time::Duration;

use serde::Deserialize;
use weir_core::auth::AuthConfig;
use weir_core::{
    Signal,
    export::{QueueConfig, RetryConfig, Settings},
};

use crate::client::{self, ClientTls, Compression, Headers};

/// `encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `application/x-protobuf` (default).
    #[default]
    Proto,
    /// `application/json` (OTLP/JSON).
    Json,
}

/// `exporters.otlphttp` (alias `otlp_http`): OTLP over HTTP, with the Collector's options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: the base URL; each signal goes to `<endpoint>/v1/<signal>`.
    pub endpoint: String,
    /// `traces_endpoint`: the full URL for traces, overriding `endpoint`.
    pub traces_endpoint: String,
    /// `metrics_endpoint`.
    pub metrics_endpoint: String,
    /// `logs_endpoint`.
    pub logs_endpoint: String,
    /// `encoding`: proto (default) or json.
    pub encoding: Encoding,
    /// `tls`.
    pub tls: ClientTls,
    /// `compression`: gzip (default), zstd, deflate or none.
    pub compression: Compression,
    /// `headers`.
    pub headers: Headers,
    /// `auth.authenticator`: an extension that adds credentials to every request.
    pub auth: Option<AuthConfig>,
    /// `timeout`: one attempt's limit (default 30s).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `sending_queue`.
    pub sending_queue: QueueConfig,
    /// `retry_on_failure`.
    pub retry_on_failure: RetryConfig,
    /// `max_request_bytes` (weir's): the most encoded bytes in one export request, larger
    /// batches leaving as several (default 4,000,000: under gRPC's common 4 MiB limit; 0: no
    /// cap).
    pub max_request_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            logs_endpoint: String::new(),
            encoding: Encoding::Proto,
            tls: ClientTls::default(),
            compression: Compression::Gzip,
            headers: Headers::new(),
            auth: None,
            timeout: Duration::from_secs(30),
            sending_queue: QueueConfig::default(),
            retry_on_failure: RetryConfig::default(),
            max_request_bytes: weir_core::export::DEFAULT_MAX_REQUEST_BYTES,
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
            max_request_bytes: self.max_request_bytes,
        }
    }

    /// The URL a signal is posted to, if configured.
    pub fn url(&self, signal: Signal) -> Option<String> {
        let specific = match signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Logs => &self.logs_endpoint,
        };
        if !specific.is_empty() {
            return Some(specific.clone());
        }
        if self.endpoint.is_empty() {
            return None;
        }
        Some(format!("{}/v1/{signal}", self.endpoint.trim_end_matches('/')))
    }

    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let fields = [
            ("endpoint", &self.endpoint),
            ("traces_endpoint", &self.traces_endpoint),
            ("metrics_endpoint", &self.metrics_endpoint),
            ("logs_endpoint", &self.logs_endpoint),
        ];
        if fields.iter().all(|(_, value)| value.is_empty()) {
            errors.push((
                "endpoint".into(),
                "is required (or traces_endpoint, metrics_endpoint, logs_endpoint)".into(),
            ));
        }
        for (name, value) in fields {
            if value.is_empty() {
                continue;
            }
            match client::scheme(value) {
                (Some("http" | "https"), rest)
                    if value.parse::<http::Uri>().is_ok() && !rest.is_empty() => {}
                _ => errors.push((
                    name.into(),
                    format!("invalid URL {value:?}: expected http(s)://host:port[/path]"),
                )),
            }
        }
        errors.extend(self.tls.validate());
        errors.extend(client::validate_headers(&self.headers));
        errors.extend(self.settings().validate());
        errors
    }
}
