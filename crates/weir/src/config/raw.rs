//! The configuration file as written: the Collector's top-level shape.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;
use weir_exporters::ExporterSettings;
use weir_extensions::ExtensionSettings;
use weir_processors::{ConnectorSettings, ProcessorSettings};
use weir_receivers::ReceiverSettings;

use super::components::{Components, Entries};

/// The document as written: each component's options are kept aside to be parsed on their
/// own, so that one mistake does not hide the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocument {
    /// `receivers`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub(super) receivers: Entries,
    /// `processors`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub(super) processors: Entries,
    /// `exporters`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub(super) exporters: Entries,
    /// `connectors`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub(super) connectors: Entries,
    /// `extensions`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub(super) extensions: Entries,
    /// `service`.
    #[serde(default)]
    pub(super) service: Option<Spanned<serde_json::Value>>,
}

/// A whole configuration with every component parsed and validated on its own, the pipelines
/// not yet checked.
#[derive(Debug, Clone)]
pub struct RawConfig {
    /// `receivers`.
    pub receivers: Components<ReceiverSettings>,
    /// `processors`.
    pub processors: Components<ProcessorSettings>,
    /// `exporters`.
    pub exporters: Components<ExporterSettings>,
    /// `connectors`.
    pub connectors: Components<ConnectorSettings>,
    /// `extensions`.
    pub extensions: Components<ExtensionSettings>,
    /// Ids of components that are defined but invalid (already reported).
    pub invalid: Vec<String>,
    /// `service`.
    pub service: Service,
}

/// `service`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `service.extensions`: the extensions to start.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub extensions: Vec<String>,
    /// `service.pipelines`, by pipeline id (`traces`, `metrics/backend`).
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub pipelines: BTreeMap<String, RawPipeline>,
    /// `service.telemetry`.
    #[serde(default, deserialize_with = "weir_core::options::or_default")]
    pub telemetry: Telemetry,
}

/// One pipeline as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPipeline {
    /// Receiver (and connector) ids feeding the pipeline.
    pub receivers: Vec<String>,
    /// Processor ids, in order.
    pub processors: Vec<String>,
    /// Exporter (and connector) ids the pipeline feeds.
    pub exporters: Vec<String>,
}

/// `service.telemetry`: weir's own logs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// `service.telemetry.logs`.
    pub logs: Logs,
    /// `service.telemetry.metrics`.
    pub metrics: Metrics,
    /// `service.telemetry.resource`: attributes of weir's own telemetry, served as the labels
    /// of `target_info` on the metrics page; `null` removes one weir sets (`service.name`,
    /// `service.version`).
    pub resource: BTreeMap<String, Option<String>>,
}

/// `service.telemetry.metrics`: weir's own metrics, served in the Prometheus text format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `level`: `none` turns the endpoint off; `basic`, `normal` (default) and `detailed`
    /// all serve every weir metric.
    pub level: MetricsLevel,
    /// `address`: where to serve `/metrics` (the Collector's older form).
    pub address: Option<String>,
    /// `readers`: the Collector's newer form; one `pull` reader with a `prometheus` exporter.
    pub readers: Vec<Reader>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics { level: MetricsLevel::Normal, address: None, readers: Vec::new() }
    }
}

impl Metrics {
    /// The address to serve on, or `None` when turned off. The default is 127.0.0.1:8888.
    pub fn endpoint(&self) -> Option<String> {
        if self.level == MetricsLevel::None {
            return None;
        }
        if let Some(reader) = self.readers.first() {
            let prometheus = &reader.pull.exporter.prometheus;
            return Some(format!("{}:{}", prometheus.host, prometheus.port));
        }
        Some(self.address.clone().unwrap_or_else(|| "127.0.0.1:8888".into()))
    }
}

/// `service.telemetry.metrics.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsLevel {
    /// No self-metrics endpoint.
    None,
    /// Served.
    Basic,
    /// Served (default).
    Normal,
    /// Served.
    Detailed,
}

/// One `readers` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reader {
    /// `pull`.
    pub pull: PullReader,
}

/// `pull`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReader {
    /// `exporter`.
    pub exporter: PullExporter,
}

/// `exporter`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullExporter {
    /// `prometheus`.
    pub prometheus: PrometheusReader,
}

/// `prometheus`: where the Prometheus endpoint listens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusReader {
    /// `host`.
    pub host: String,
    /// `port`.
    pub port: u16,
}

/// `service.telemetry.logs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// `level`: `debug`, `info` (default), `warn` or `error`.
    pub level: LogLevel,
    /// `encoding`: `console` (default; `text` is accepted too) or `json`.
    pub encoding: LogEncoding,
    /// `development`: the Collector's development mode; weir's logs are the same in both,
    /// so only `false` is accepted.
    pub development: bool,
    /// `disable_caller`: leave out the source file and line of each entry (default false).
    pub disable_caller: bool,
    /// `disable_stacktrace`: weir writes no stack traces in its logs, so either value holds.
    pub disable_stacktrace: bool,
    /// `sampling`: after `initial` entries of one call site within `tick`, keep every
    /// `thereafter`-th (on by default: 10s, 10, 100, as the Collector).
    pub sampling: LogSampling,
    /// `output_paths`: `stderr` (default), `stdout` or files, appended to.
    pub output_paths: Vec<String>,
    /// `error_output_paths`: where weir reports problems of its own logging (default
    /// `stderr`).
    pub error_output_paths: Vec<String>,
    /// `initial_fields`: fields added to every entry.
    pub initial_fields: BTreeMap<String, serde_json::Value>,
}

impl Default for Logs {
    fn default() -> Logs {
        Logs {
            level: LogLevel::Info,
            encoding: LogEncoding::Console,
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            sampling: LogSampling::default(),
            output_paths: vec!["stderr".into()],
            error_output_paths: vec!["stderr".into()],
            initial_fields: BTreeMap::new(),
        }
    }
}

/// `service.telemetry.logs.sampling`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSampling {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `tick` (default 10s).
    #[serde(with = "weir_core::duration")]
    pub tick: std::time::Duration,
    /// `initial`: entries kept per call site and tick before sampling starts (default 10).
    pub initial: u64,
    /// `thereafter`: then one in this many is kept (default 100; 0 drops the rest).
    pub thereafter: u64,
}

impl Default for LogSampling {
    fn default() -> LogSampling {
        LogSampling {
            enabled: true,
            tick: std::time::Duration::from_secs(10),
            initial: 10,
            thereafter: 100,
        }
    }
}

/// A log level, in the Collector's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// The default.
    Info,
    /// Problems only.
    Warn,
    /// Failures only.
    Error,
}

/// How weir writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    /// Human-readable lines.
    #[serde(alias = "text")]
    Console,
    /// One JSON object per line.
    Json,
}
