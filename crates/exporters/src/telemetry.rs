//! The names of the exporters' own self-metrics; those every exporter shares (the Collector's
//! `otelcol_exporter_*`) are in `weir_core::telemetry`.

/// Series a `prometheus` exporter refused past its limit.
pub(crate) const PROMETHEUS_SERIES_REFUSED: &str = "weir_exporter_prometheus_series_refused_total";
/// Points `prometheus_remote_write` could not send, by reason.
pub(crate) const REMOTE_WRITE_DROPPED_POINTS: &str =
    "weir_exporter_prometheusremotewrite_dropped_points_total";
