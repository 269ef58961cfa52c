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
    /// `max_request_bytes` (weir's): the most encoded bytes in one export request, larger
    /// batches leaving as several (default 4,000,000: under gRPC's common 4 MiB limit; 0: no
    /// cap).
    pub max_request_bytes: usize,
    /// `balancer_name`: `round_robin` (default) or `pick_first`.
    pub balancer_name: Balancer,
    /// `authority`: the `:authority` sent instead of the endpoint's host.
    pub authority: Option<String>,
    /// `keepalive`: HTTP/2 pings (off unless set, as in the Collector's OTLP exporter).
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub keepalive: Option<Keepalive>,
    /// `write_buffer_size`: the socket's send buffer, in bytes (default 512 KiB).
    pub write_buffer_size: usize,
    /// `read_buffer_size`: the socket's receive buffer, in bytes (0: the system's default).
    pub read_buffer_size: usize,
}

/// `balancer_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// One connection per resolved address, taken in turn.
    #[default]
    RoundRobin,
    /// One connection to the host.
    PickFirst,
}

/// `keepalive`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keepalive {
    /// `time`: the interval between pings on an idle connection (default 10s).
    #[serde(with = "weir_core::duration")]
    pub time: Duration,
    /// `timeout`: how long to wait for a ping's answer (default 10s).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `permit_without_stream`: ping even with no request in flight (default false).
    pub permit_without_stream: bool,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            time: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            permit_without_stream: false,
        }
    }
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
            max_request_bytes: weir_core::export::DEFAULT_MAX_REQUEST_BYTES,
            balancer_name: Balancer::RoundRobin,
            authority: None,
            keepalive: None,
            write_buffer_size: 512 * 1024,
            read_buffer_size: 0,
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
        if let Some(authority) = &self.authority
            && authority.parse::<http::uri::Authority>().is_err()
        {
            errors.push(("authority".into(), format!("{authority:?} is not a valid authority")));
        }
        if self.keepalive.as_ref().is_some_and(|k| k.time.is_zero() || k.timeout.is_zero()) {
            errors.push(("keepalive".into(), "time and timeout must be > 0".into()));
        }
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
