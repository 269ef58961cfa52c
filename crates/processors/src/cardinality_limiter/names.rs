//! The limiter's self-metric names.

pub(super) const SERIES_ACTIVE: &str = "weir_cardinality_series_active";
pub(super) const SERIES_LIMIT: &str = "weir_cardinality_series_limit";
pub(super) const DEMAND_ESTIMATE: &str = "weir_cardinality_demand_estimate";
pub(super) const POINTS_OVERFLOWED: &str = "weir_cardinality_points_overflowed_total";
pub(super) const LABEL_DISTINCT_ESTIMATE: &str = "weir_cardinality_label_distinct_estimate";
pub(super) const LABEL_VALUES_REWRITTEN: &str = "weir_cardinality_label_values_rewritten_total";
pub(super) const SERIES_ADMITTED: &str = "weir_cardinality_series_admitted_total";
pub(super) const SERIES_EXPIRED: &str = "weir_cardinality_series_expired_total";
pub(super) const GAUGE_POINTS_DROPPED: &str = "weir_cardinality_gauge_points_dropped_total";
pub(super) const SUMMARY_POINTS_DROPPED: &str = "weir_cardinality_summary_points_dropped_total";
pub(super) const UNTRACKED_POINTS: &str = "weir_cardinality_untracked_points_total";
pub(super) const TENANT_POINTS_FOLDED: &str = "weir_cardinality_tenant_points_folded_total";
pub(super) const MEMORY_BYTES: &str = "weir_cardinality_memory_bytes";
