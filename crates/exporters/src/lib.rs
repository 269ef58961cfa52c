//! Exporters of weir and their configuration enum.
//!
//! Exporters only encode and send: batching, retries, timeouts and queueing belong to
//! `weir_core::export`. [`ExporterSettings`] is the closed set of exporters.

mod client;
pub mod debug;
pub mod file;
pub mod loadbalancing;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod prometheusremotewrite;
mod telemetry;

pub use client::{ClientTls, Compression, Headers};

weir_core::kind! {
    /// A validated exporter, by type.
    pub enum ExporterSettings as dyn weir_core::declare::BuildExporter {
        /// `nop`: discards everything (and counts it).
        Nop(nop::Config),
        /// `debug` (alias `logging`): logs a summary or the content of each batch.
        Debug(debug::Config),
        /// `file`: appends each batch to a file as one OTLP/JSON request per line.
        File(file::Config),
        /// `otlp_grpc` (alias `otlp`): OTLP over gRPC.
        Otlp(otlp::Config),
        /// `otlp_http` (alias `otlphttp`): OTLP over HTTP.
        OtlpHttp(otlphttp::Config),
        /// `prometheus`: metrics served for scraping.
        Prometheus(prometheus::Config),
        /// `prometheus_remote_write`: Prometheus remote write 1.0.
        PrometheusRemoteWrite(prometheusremotewrite::Config),
        /// `load_balancing`: OTLP to one backend per trace (or service, metric...) over a ring.
        LoadBalancing(loadbalancing::Config),
    }
}
