//! The names of the processors' and connectors' self-metrics, in one place. Names the
//! Collector defines (`otelcol_*`) are its own; the rest are weir's (`weir_*`).

// cardinality_limiter
pub(crate) const SERIES_ACTIVE: &str = "weir_cardinality_series_active";
pub(crate) const SERIES_LIMIT: &str = "weir_cardinality_series_limit";
pub(crate) const DEMAND_ESTIMATE: &str = "weir_cardinality_demand_estimate";
pub(crate) const POINTS_OVERFLOWED: &str = "weir_cardinality_points_overflowed_total";
pub(crate) const LABEL_DISTINCT_ESTIMATE: &str = "weir_cardinality_label_distinct_estimate";
pub(crate) const LABEL_VALUES_REWRITTEN: &str = "weir_cardinality_label_values_rewritten_total";
pub(crate) const SERIES_ADMITTED: &str = "weir_cardinality_series_admitted_total";
pub(crate) const SERIES_EXPIRED: &str = "weir_cardinality_series_expired_total";
pub(crate) const GAUGE_POINTS_DROPPED: &str = "weir_cardinality_gauge_points_dropped_total";
pub(crate) const SUMMARY_POINTS_DROPPED: &str = "weir_cardinality_summary_points_dropped_total";
pub(crate) const UNTRACKED_POINTS: &str = "weir_cardinality_untracked_points_total";
pub(crate) const TENANT_POINTS_FOLDED: &str = "weir_cardinality_tenant_points_folded_total";
pub(crate) const MEMORY_BYTES: &str = "weir_cardinality_memory_bytes";

// tail_sampling
pub(crate) const SAMPLING_TRACES: &str = "weir_sampling_traces_total";
pub(crate) const SAMPLING_SPANS: &str = "weir_sampling_spans_total";
pub(crate) const SAMPLING_TRACES_IN_MEMORY: &str = "weir_sampling_traces_in_memory";
pub(crate) const SAMPLING_BUFFERED_BYTES: &str = "weir_sampling_buffered_bytes";
pub(crate) const SAMPLING_EARLY_DECISIONS: &str = "weir_sampling_early_decisions_total";
pub(crate) const SAMPLING_LATE_SPANS: &str = "weir_sampling_late_spans_total";
pub(crate) const SAMPLING_DECISION_LATENCY: &str = "weir_sampling_decision_latency_seconds";

// tail_sampling and probabilistic_sampler
pub(crate) const SAMPLING_THRESHOLD_ERASED: &str = "weir_sampling_threshold_erased_total";

// probabilistic_sampler
pub(crate) const SAMPLING_ITEMS: &str = "weir_sampling_items_total";
pub(crate) const SAMPLING_NO_RANDOMNESS: &str = "weir_sampling_no_randomness_total";

// delta_to_cumulative
pub(crate) const DELTATOCUMULATIVE_DROPPED_POINTS: &str =
    "weir_deltatocumulative_dropped_points_total";

// cumulativetodelta, by reason (max_streams, out_of_order, buckets_changed)
pub(crate) const CUMULATIVETODELTA_DROPPED_POINTS: &str =
    "weir_cumulativetodelta_dropped_points_total";

// slo
pub(crate) const SLO_LATE_EVENTS: &str = "weir_slo_late_events_total";
pub(crate) const SLO_REJECTED_POINTS: &str = "weir_slo_rejected_points_total";

// batch
pub(crate) const BATCH_METADATA_CARDINALITY_EXCEEDED: &str =
    "weir_processor_batch_metadata_cardinality_exceeded_total";

// groupbyattrs (the Collector's), per signal: records grouped, records without the keys,
// and the distribution of groups per batch
pub(crate) const GROUPBYATTRS_SPANS: [&str; 3] = [
    "otelcol_processor_groupbyattrs_num_grouped_spans",
    "otelcol_processor_groupbyattrs_num_non_grouped_spans",
    "otelcol_processor_groupbyattrs_span_groups",
];
pub(crate) const GROUPBYATTRS_LOGS: [&str; 3] = [
    "otelcol_processor_groupbyattrs_num_grouped_logs",
    "otelcol_processor_groupbyattrs_num_non_grouped_logs",
    "otelcol_processor_groupbyattrs_log_groups",
];
pub(crate) const GROUPBYATTRS_METRICS: [&str; 3] = [
    "otelcol_processor_groupbyattrs_num_grouped_metrics",
    "otelcol_processor_groupbyattrs_num_non_grouped_metrics",
    "otelcol_processor_groupbyattrs_metric_groups",
];

// transform, filter, routing, count: OTTL failures on items (per processor and signal), and
// items dropped because a failure under `error_mode: propagate` dropped their payload
pub(crate) const OTTL_ERRORS: &str = "weir_processor_ottl_errors_total";
pub(crate) const OTTL_DROPPED_ITEMS: &str = "weir_processor_ottl_dropped_items_total";

// filter (the Collector's `otelcol_processor_filter_*.filtered`), per processor
pub(crate) const FILTER_SPANS_FILTERED: &str = "otelcol_processor_filter_spans_filtered_total";
pub(crate) const FILTER_DATAPOINTS_FILTERED: &str =
    "otelcol_processor_filter_datapoints_filtered_total";
pub(crate) const FILTER_LOGS_FILTERED: &str = "otelcol_processor_filter_logs_filtered_total";

// routing: items no route took and no default pipeline received
pub(crate) const ROUTING_UNROUTED_ITEMS: &str = "weir_connector_routing_unrouted_items_total";
