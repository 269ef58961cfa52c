//! weir's own metrics, served in the Prometheus text format on
//! `service.telemetry.metrics` (default 127.0.0.1:8888, path `/metrics`).
//!
//! Components count through the `metrics` crate facade with the names in
//! `weir_core::telemetry`; this module installs the one process-wide recorder and adds the
//! process metrics (uptime, RSS) at each scrape.

use std::{sync::OnceLock, time::Instant};

use axum::{Router, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use weir_core::telemetry;

/// Log records `service.telemetry.logs.sampling` left out.
pub(crate) const LOGS_SAMPLED_OUT: &str = "weir_logs_sampled_out_total";

static RECORDER: OnceLock<(PrometheusHandle, Instant)> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle).
pub fn recorder() -> &'static PrometheusHandle {
    &RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: self-metrics go to it");
            }
            (handle, Instant::now())
        })
        .0
}

/// The metrics page as a scrape sees it, with process metrics refreshed.
pub fn render() -> String {
    let handle = recorder();
    if let Some((_, started)) = RECORDER.get() {
        metrics::gauge!(telemetry::PROCESS_UPTIME).set(started.elapsed().as_secs_f64());
    }
    if let Some(rss) = weir_core::memory::rss_bytes() {
        metrics::gauge!(telemetry::PROCESS_MEMORY_RSS).set(rss as f64);
    }
    handle.render()
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], render())
        }),
    );
    axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// The ring of recent warnings and errors the zpages serve, fed by [`RecentErrorsLayer`].
pub fn recent_errors() -> std::sync::Arc<weir_extensions::zpages::RecentErrors> {
    static RECENT: OnceLock<std::sync::Arc<weir_extensions::zpages::RecentErrors>> =
        OnceLock::new();
    RECENT.get_or_init(Default::default).clone()
}

/// A `tracing` layer that keeps every warning and error in [`recent_errors`].
pub struct RecentErrorsLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RecentErrorsLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let level = *event.metadata().level();
        if level > tracing::Level::WARN {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        recent_errors().push(level.as_str(), event.metadata().target(), text.0);
    }
}

/// An event's message and fields as one line: `message key=value ...`.
#[derive(Default)]
struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}

/// Publishes `target_info` with weir's resource attributes (`service.name` weir and
/// `service.version` unless `resource` removes them with `null`, plus what it adds), dots in
/// names written as underscores, as Prometheus shows resource attributes.
pub fn target_info(resource: &std::collections::BTreeMap<String, Option<String>>) {
    let mut attributes: std::collections::BTreeMap<String, String> = [
        ("service.name".to_owned(), "weir".to_owned()),
        ("service.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ]
    .into_iter()
    .collect();
    for (key, value) in resource {
        match value {
            Some(value) => attributes.insert(key.clone(), value.clone()),
            None => attributes.remove(key),
        };
    }
    let labels: Vec<(String, String)> = attributes
        .into_iter()
        .map(|(k, v)| {
            (k.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect(), v)
        })
        .collect();
    metrics::gauge!("target_info", &labels).set(1.0);
}
