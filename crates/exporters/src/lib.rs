//! Exporters of weir and their configuration enum.
//!
//! Exporters only encode and send: batching, retries, timeouts and queueing belong to
//! `weir_core::export`. [`ExporterConfig`] is the closed set of exporters.

mod client;
pub mod debug;
pub mod file;
pub mod loadbalancing;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod prometheusremotewrite;

pub use client::{ClientTls, Compression, Headers};

use std::sync::Arc;

use weir_core::auth::Authenticators;
use weir_core::{ComponentInfo, Exporter, Signal, export, options::or_default};

/// Every signal, for exporters that take them all.
const ALL_SIGNALS: &[Signal] = &[Signal::Traces, Signal::Metrics, Signal::Logs];

/// The configuration of one exporter, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ExporterConfig {
    /// `nop`: discards everything (and counts it).
    Nop(nop::Config),
    /// `debug`: logs a summary or the content of each batch.
    Debug(debug::Config),
    /// `file`: appends each batch to a file as one OTLP/JSON request per line.
    File(file::Config),
    /// `otlp` (alias `otlp_grpc`): OTLP over gRPC.
    Otlp(otlp::Config),
    /// `otlphttp` (alias `otlp_http`): OTLP over HTTP.
    OtlpHttp(otlphttp::Config),
    /// `prometheus`: metrics served for scraping.
    Prometheus(Box<prometheus::Config>),
    /// `prometheusremotewrite`: Prometheus remote write 1.0.
    PrometheusRemoteWrite(Box<prometheusremotewrite::Config>),
    /// `loadbalancing`: OTLP to one backend per trace (or service, metric...) over a ring.
    LoadBalancing(Box<loadbalancing::Config>),
}

/// Every exporter type.
pub const EXPORTERS: &[ComponentInfo] = &[
    ComponentInfo { name: "debug", aliases: &[], signals: ALL_SIGNALS, stability: "development" },
    ComponentInfo { name: "file", aliases: &[], signals: ALL_SIGNALS, stability: "alpha" },
    ComponentInfo {
        name: "loadbalancing",
        aliases: &[],
        signals: ALL_SIGNALS,
        stability: "development",
    },
    ComponentInfo { name: "nop", aliases: &[], signals: ALL_SIGNALS, stability: "beta" },
    ComponentInfo {
        name: "otlp",
        aliases: &["otlp_grpc"],
        signals: ALL_SIGNALS,
        stability: "beta",
    },
    ComponentInfo {
        name: "otlphttp",
        aliases: &["otlp_http"],
        signals: ALL_SIGNALS,
        stability: "beta",
    },
    ComponentInfo {
        name: "prometheus",
        aliases: &[],
        signals: &[Signal::Metrics],
        stability: "beta",
    },
    ComponentInfo {
        name: "prometheusremotewrite",
        aliases: &[],
        signals: &[Signal::Metrics],
        stability: "beta",
    },
];

impl ExporterConfig {
    /// Deserialises the configuration of an exporter of type `kind`; `None` when no exporter
    /// has that type.
    pub fn deserialize<'de, D>(
        kind: &str,
        deserializer: D,
    ) -> Option<Result<ExporterConfig, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match kind {
            "nop" => or_default(deserializer).map(ExporterConfig::Nop),
            "debug" => or_default(deserializer).map(ExporterConfig::Debug),
            "file" => or_default(deserializer).map(ExporterConfig::File),
            "otlp" | "otlp_grpc" => or_default(deserializer).map(ExporterConfig::Otlp),
            "otlphttp" | "otlp_http" => or_default(deserializer).map(ExporterConfig::OtlpHttp),
            "prometheus" => or_default(deserializer).map(ExporterConfig::Prometheus),
            "loadbalancing" => or_default(deserializer).map(ExporterConfig::LoadBalancing),
            "prometheusremotewrite" => {
                or_default(deserializer).map(ExporterConfig::PrometheusRemoteWrite)
            }
            _ => return None,
        })
    }

    /// The signals this exporter takes.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ExporterConfig::Prometheus(_) | ExporterConfig::PrometheusRemoteWrite(_) => {
                &[Signal::Metrics]
            }
            _ => ALL_SIGNALS,
        }
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ExporterConfig::Nop(_) | ExporterConfig::Debug(_) => Vec::new(),
            ExporterConfig::File(config) => config.validate(),
            ExporterConfig::Otlp(config) => config.validate(),
            ExporterConfig::OtlpHttp(config) => config.validate(),
            ExporterConfig::Prometheus(config) => config.validate(),
            ExporterConfig::PrometheusRemoteWrite(config) => config.validate(),
            ExporterConfig::LoadBalancing(config) => config.validate(),
        }
    }

    /// How the exporter's queue delivers: `sending_queue`, `retry_on_failure`, `timeout`.
    /// The extensions this exporter authenticates with.
    pub fn authenticator(&self) -> Option<&str> {
        let auth = match self {
            ExporterConfig::Otlp(config) => config.auth.as_ref(),
            ExporterConfig::OtlpHttp(config) => config.auth.as_ref(),
            ExporterConfig::PrometheusRemoteWrite(config) => config.auth.as_ref(),
            ExporterConfig::LoadBalancing(config) => config.protocol.otlp.auth.as_ref(),
            _ => None,
        };
        auth.map(|a| a.authenticator.as_str())
    }

    /// The queue's settings.
    pub fn settings(&self) -> export::Settings {
        match self {
            ExporterConfig::Nop(_) => export::Settings::default(),
            ExporterConfig::Debug(_) | ExporterConfig::File(_) | ExporterConfig::Prometheus(_) => {
                export::Settings::in_order()
            }
            ExporterConfig::Otlp(config) => config.settings(),
            ExporterConfig::OtlpHttp(config) => config.settings(),
            ExporterConfig::PrometheusRemoteWrite(config) => config.settings(),
            // each backend has its own queue with the protocol's settings; this one only
            // hands batches over, in order
            ExporterConfig::LoadBalancing(_) => export::Settings::in_order(),
        }
    }

    /// Builds the exporter (opening files and connections).
    pub async fn build(
        &self,
        id: &str,
        auth: &Authenticators,
    ) -> std::io::Result<Arc<dyn Exporter>> {
        Ok(match self {
            ExporterConfig::Nop(_) => Arc::new(nop::NopExporter),
            ExporterConfig::Debug(config) => Arc::new(debug::DebugExporter::new(id, config)),
            ExporterConfig::File(config) => Arc::new(file::FileExporter::open(config).await?),
            ExporterConfig::Otlp(config) => {
                Arc::new(otlp::OtlpExporter::new(id, config, auth.client(config.auth.as_ref())?)?)
            }
            ExporterConfig::OtlpHttp(config) => {
                let auth = auth.client(config.auth.as_ref())?;
                Arc::new(otlphttp::OtlpHttpExporter::new(id, config, auth)?)
            }
            ExporterConfig::Prometheus(config) => {
                Arc::new(prometheus::PrometheusExporter::start(id, config).await?)
            }
            ExporterConfig::PrometheusRemoteWrite(config) => {
                let auth = auth.client(config.auth.as_ref())?;
                Arc::new(prometheusremotewrite::RemoteWriteExporter::new(id, config, auth)?)
            }
            ExporterConfig::LoadBalancing(config) => {
                let auth = auth.client(config.protocol.otlp.auth.as_ref())?;
                Arc::new(loadbalancing::LoadBalancingExporter::start(id, config, auth).await?)
            }
        })
    }
}
