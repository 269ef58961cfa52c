//! The names of weir's self-metrics, in one place. Counters carry Prometheus' `_total`
//! suffix, as the Collector's Prometheus endpoint shows them. Where the OpenTelemetry Collector has a
//! metric for the same thing, weir uses its name and labels so existing dashboards work;
//! weir's own metrics start with `weir_`. Label values are component ids, pipeline ids,
//! transports and signals: never anything unbounded.

use weir_otlp::Signal;

/// Label: the receiver's component id.
pub const RECEIVER: &str = "receiver";
/// Label: the processor's component id.
pub const PROCESSOR: &str = "processor";
/// Label: the exporter's component id.
pub const EXPORTER: &str = "exporter";
/// Label: the pipeline id.
pub const PIPELINE: &str = "pipeline";
/// Label: `grpc` or `http`.
pub const TRANSPORT: &str = "transport";
/// Label: the signal, as `traces`, `metrics` or `logs`.
pub const SIGNAL: &str = "otel_signal";

/// Encoded bytes an exporter's memory queue holds: queued, being delivered or waiting to be
/// retried (label: exporter).
pub const EXPORTER_QUEUE_BYTES: &str = "weir_exporter_queue_bytes";

/// Requests an exporter split because they were over `max_request_bytes` or a backend
/// refused them as too large (label: exporter).
pub const EXPORTER_REQUESTS_SPLIT: &str = "weir_exporter_requests_split_total";

/// Items a receiver handed to its pipelines.
pub fn receiver_accepted(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otelcol_receiver_accepted_spans_total",
        Signal::Metrics => "otelcol_receiver_accepted_metric_points_total",
        Signal::Logs => "otelcol_receiver_accepted_log_records_total",
    }
}

/// Items a receiver refused (pipeline full, shutting down, invalid request).
pub fn receiver_refused(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otelcol_receiver_refused_spans_total",
        Signal::Metrics => "otelcol_receiver_refused_metric_points_total",
        Signal::Logs => "otelcol_receiver_refused_log_records_total",
    }
}

/// Items an exporter delivered.
pub fn exporter_sent(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otelcol_exporter_sent_spans_total",
        Signal::Metrics => "otelcol_exporter_sent_metric_points_total",
        Signal::Logs => "otelcol_exporter_sent_log_records_total",
    }
}

/// Items an exporter failed to deliver and dropped.
pub fn exporter_send_failed(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otelcol_exporter_send_failed_spans_total",
        Signal::Metrics => "otelcol_exporter_send_failed_metric_points_total",
        Signal::Logs => "otelcol_exporter_send_failed_log_records_total",
    }
}

/// Items that entered a processor (labels: processor, otel_signal).
pub const PROCESSOR_INCOMING_ITEMS: &str = "otelcol_processor_incoming_items_total";
/// Items that left a processor (labels: processor, otel_signal).
pub const PROCESSOR_OUTGOING_ITEMS: &str = "otelcol_processor_outgoing_items_total";
/// Items a pipeline could not hand to a consumer because it had shut down (labels: pipeline,
/// otel_signal).
pub const PIPELINE_DROPPED_ITEMS: &str = "weir_pipeline_dropped_items_total";

/// Items an exporter's queue refused because it was full and `block_on_overflow` is false.
pub fn exporter_enqueue_failed(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otelcol_exporter_enqueue_failed_spans_total",
        Signal::Metrics => "otelcol_exporter_enqueue_failed_metric_points_total",
        Signal::Logs => "otelcol_exporter_enqueue_failed_log_records_total",
    }
}

/// What an exporter's queue holds, in its sizer's unit (requests, items or bytes): queued,
/// being delivered or waiting to be retried (label: exporter).
pub const EXPORTER_QUEUE_SIZE: &str = "otelcol_exporter_queue_size";
/// What an exporter's queue can hold, in its sizer's unit (label: exporter).
pub const EXPORTER_QUEUE_CAPACITY: &str = "otelcol_exporter_queue_capacity";
/// Export attempts that failed retryably and were scheduled again (labels: exporter,
/// otel_signal).
pub const EXPORTER_RETRIES: &str = "weir_exporter_retries_total";
/// Records of a persistent queue that could not be read back or decoded, dropped (label:
/// exporter).
pub const PERSISTENT_QUEUE_UNREADABLE: &str = "weir_persistent_queue_unreadable_records_total";
/// Requests a receiver refused because their credentials did not authenticate (labels:
/// receiver, transport).
pub const RECEIVER_UNAUTHENTICATED: &str = "weir_receiver_unauthenticated_requests_total";
/// Items a `loadbalancing` endpoint that left the ring handed back to the ring.
pub const EXPORTER_REROUTED_ITEMS: &str = "weir_exporter_rerouted_items_total";
/// Items a backend rejected in a partial success (labels: exporter, otel_signal).
pub const EXPORTER_REJECTED_ITEMS: &str = "weir_exporter_partial_success_rejected_items_total";
/// Seconds since the process started.
pub const PROCESS_UPTIME: &str = "otelcol_process_uptime";
/// Resident set size of the process, in bytes.
pub const PROCESS_MEMORY_RSS: &str = "otelcol_process_memory_rss";
