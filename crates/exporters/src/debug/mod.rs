//! The `debug` exporter: writes what passes to weir's log, as the Collector's does.
//!
//! - `basic`: one line per batch with its counts.
//! - `normal`: also one line per span, data point or log record (names, ids, values).
//! - `detailed`: also the whole batch as OTLP/JSON.

use serde::Deserialize;
use weir_core::{Batch, BoxFuture, Decoded, ExportError, Exporter};
use weir_otlp::proto::{common::v1::any_value, metrics::v1::metric::Data};

/// `verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    /// Counts only.
    #[default]
    Basic,
    /// A line per item.
    Normal,
    /// Everything.
    Detailed,
}

/// `exporters.debug`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `verbosity`: `basic` (default), `normal` or `detailed`.
    pub verbosity: Verbosity,
}

/// Logs each batch at the configured verbosity.
#[derive(Debug)]
pub struct DebugExporter {
    id: String,
    verbosity: Verbosity,
}

impl DebugExporter {
    /// A debug exporter with component id `id`.
    pub fn new(id: &str, config: &Config) -> DebugExporter {
        DebugExporter { id: id.to_owned(), verbosity: config.verbosity }
    }
}

/// The lines `basic` and `normal` write for a batch (`detailed` adds the JSON).
pub fn describe(batch: &Batch, verbosity: Verbosity) -> Vec<String> {
    let view = batch.view();
    let resources = view.resource_count();
    let mut lines = vec![format!(
        "{}: {resources} resources, {} {}",
        batch.signal(),
        batch.item_count(),
        batch.signal().item_name().replace('_', " ")
    )];
    if verbosity == Verbosity::Basic {
        return lines;
    }
    match &*view {
        Decoded::Traces(resources) => {
            let spans = resources.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans);
            for span in spans {
                lines.push(format!(
                    "span {:?} trace_id={} span_id={} kind={} duration_ns={}",
                    span.name,
                    hex(&span.trace_id),
                    hex(&span.span_id),
                    span.kind,
                    span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano)
                ));
            }
        }
        Decoded::Metrics(resources) => {
            let metrics = resources.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics);
            for metric in metrics {
                let (kind, points) = match &metric.data {
                    Some(Data::Gauge(g)) => ("gauge", g.data_points.len()),
                    Some(Data::Sum(s)) => ("sum", s.data_points.len()),
                    Some(Data::Histogram(h)) => ("histogram", h.data_points.len()),
                    Some(Data::ExponentialHistogram(h)) => {
                        ("exponential_histogram", h.data_points.len())
                    }
                    Some(Data::Summary(s)) => ("summary", s.data_points.len()),
                    None => ("empty", 0),
                };
                lines.push(format!("metric {:?} {kind} points={points}", metric.name));
            }
        }
        Decoded::Logs(resources) => {
            let records = resources.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records);
            for record in records {
                let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
                    Some(other) => format!("{other:?}"),
                    None => "(no body)".into(),
                };
                lines.push(format!("log severity={} body={body}", record.severity_number));
            }
        }
    }
    lines
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Exporter for DebugExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        _: &'a weir_core::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        for line in describe(batch, self.verbosity) {
            tracing::info!(exporter = %self.id, "{line}");
        }
        if self.verbosity == Verbosity::Detailed {
            let json = weir_otlp::json::encode(batch);
            tracing::info!(exporter = %self.id, "{}", String::from_utf8_lossy(&json));
        }
        Box::pin(async { Ok(()) })
    }
}

impl weir_core::Component for Config {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "debug",
        aliases: &["logging"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Alpha,
        summary: "logs a summary or the content of each batch",
    };

    fn validate(config: Config) -> Result<Config, Vec<weir_core::ConfigError>> {
        Ok(config)
    }
}

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move { Ok(Arc::new(DebugExporter::new(id, self)) as Arc<dyn Exporter>) })
    }

    fn queue(&self) -> weir_core::export::Settings {
        weir_core::export::Settings::in_order()
    }

    fn authenticator(&self) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_counts_and_normal_lists_items() {
        let batch = weir_core::testing::spans("svc", 2, 7);
        assert_eq!(describe(&batch, Verbosity::Basic), vec!["traces: 1 resources, 2 spans"]);
        let normal = describe(&batch, Verbosity::Normal);
        assert_eq!(normal.len(), 3);
        assert!(
            normal[1].starts_with("span \"span-0\" trace_id=0000000000000000"),
            "{}",
            normal[1]
        );
        let logs = describe(&weir_core::testing::logs("svc", 1), Verbosity::Normal);
        assert_eq!(logs, vec!["logs: 1 resources, 1 log records", "log severity=9 body=\"log-0\""]);
    }
}
