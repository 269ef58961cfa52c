//! Options of the `prometheusremotewrite` exporter, with the Collector's names and defaults.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;
use weir_core::auth::AuthConfig;
use weir_core::export::{QueueConfig, RetryConfig, Settings};

use crate::client::{ClientTls, Headers, scheme, validate_headers};

/// `exporters.prometheusremotewrite`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: the remote-write URL (`http://host:9090/api/v1/write`).
    pub endpoint: String,
    /// `tls`: used for `https://` endpoints.
    pub tls: ClientTls,
    /// `headers`.
    pub headers: Headers,
    /// `auth.authenticator`: an extension that adds credentials to every request.
    pub auth: Option<AuthConfig>,
    /// `timeout` (default 5s).
    #[serde(with = "weir_core::duration")]
    pub timeout: Duration,
    /// `compression`: `snappy`, the specification's requirement (the only value).
    pub compression: String,
    /// `namespace`: a prefix of every metric name.
    pub namespace: String,
    /// `external_labels`: labels on every series.
    pub external_labels: BTreeMap<String, String>,
    /// `resource_to_telemetry_conversion.enabled`: resource attributes become labels.
    pub resource_to_telemetry_conversion: Enabled,
    /// `target_info.enabled` (default true): a `target_info` series per resource.
    pub target_info: TargetInfo,
    /// `send_metadata`: send `MetricMetadata` (type, help, unit) with each request.
    pub send_metadata: bool,
    /// `max_batch_size_bytes`: the largest request before compression (default 3,000,000).
    pub max_batch_size_bytes: usize,
    /// `remote_write_queue`.
    pub remote_write_queue: RemoteWriteQueue,
    /// `retry_on_failure`.
    pub retry_on_failure: RetryConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: String::new(),
            tls: ClientTls::default(),
            headers: Headers::new(),
            auth: None,
            timeout: Duration::from_secs(5),
            compression: "snappy".into(),
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            resource_to_telemetry_conversion: Enabled::default(),
            target_info: TargetInfo::default(),
            send_metadata: false,
            max_batch_size_bytes: 3_000_000,
            remote_write_queue: RemoteWriteQueue::default(),
            retry_on_failure: RetryConfig::default(),
        }
    }
}

/// `{enabled: bool}` (default false).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Enabled {
    /// `enabled`.
    pub enabled: bool,
}

/// `target_info`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetInfo {
    /// `enabled` (default true).
    pub enabled: bool,
}

impl Default for TargetInfo {
    fn default() -> TargetInfo {
        TargetInfo { enabled: true }
    }
}

/// `remote_write_queue`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `queue_size` (default 10,000).
    pub queue_size: usize,
    /// `num_consumers` (default 1, where the Collector has 5: concurrent requests can deliver
    /// a series' samples out of order, which Prometheus rejects).
    pub num_consumers: usize,
}

impl Default for RemoteWriteQueue {
    fn default() -> RemoteWriteQueue {
        RemoteWriteQueue { enabled: true, queue_size: 10_000, num_consumers: 1 }
    }
}

impl Config {
    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let (scheme, rest) = scheme(&self.endpoint);
        if self.endpoint.is_empty() {
            errors.push((
                "endpoint".into(),
                "must be set (e.g. http://127.0.0.1:9090/api/v1/write)".into(),
            ));
        } else if scheme.is_none() || rest.is_empty() {
            errors
                .push(("endpoint".into(), format!("{:?} is not an http(s):// URL", self.endpoint)));
        }
        errors.extend(self.tls.validate());
        errors.extend(validate_headers(&self.headers));
        if self.compression != "snappy" {
            errors.push((
                "compression".into(),
                format!("{:?}: remote write requires snappy", self.compression),
            ));
        }
        if self.max_batch_size_bytes == 0 {
            errors.push(("max_batch_size_bytes".into(), "must be > 0".into()));
        }
        if self.remote_write_queue.num_consumers == 0 {
            errors.push(("remote_write_queue.num_consumers".into(), "must be > 0".into()));
        }
        errors
    }

    /// The export queue's settings.
    pub fn settings(&self) -> Settings {
        let queue = &self.remote_write_queue;
        Settings {
            queue: QueueConfig {
                enabled: queue.enabled,
                num_consumers: queue.num_consumers,
                queue_size: Some(queue.queue_size),
                ..QueueConfig::default()
            },
            retry: self.retry_on_failure.clone(),
            timeout: self.timeout,
            // requests are cut by `max_batch_size_bytes` when converted
            max_request_bytes: 0,
        }
    }
}
