//! The enums paths compare with (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`,
//! `SEVERITY_NUMBER_WARN`, `METRIC_DATA_TYPE_SUM`, `AGGREGATION_TEMPORALITY_DELTA`, ...), with
//! the values OTLP gives them.

/// The value of an enum name, if it is one.
pub(crate) fn value(name: &str) -> Option<i64> {
    const FIXED: &[(&str, i64)] = &[
        ("SPAN_KIND_UNSPECIFIED", 0),
        ("SPAN_KIND_INTERNAL", 1),
        ("SPAN_KIND_SERVER", 2),
        ("SPAN_KIND_CLIENT", 3),
        ("SPAN_KIND_PRODUCER", 4),
        ("SPAN_KIND_CONSUMER", 5),
        ("STATUS_CODE_UNSET", 0),
        ("STATUS_CODE_OK", 1),
        ("STATUS_CODE_ERROR", 2),
        ("SEVERITY_NUMBER_UNSPECIFIED", 0),
        ("METRIC_DATA_TYPE_NONE", 0),
        ("METRIC_DATA_TYPE_GAUGE", 1),
        ("METRIC_DATA_TYPE_SUM", 2),
        ("METRIC_DATA_TYPE_HISTOGRAM", 3),
        ("METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4),
        ("METRIC_DATA_TYPE_SUMMARY", 5),
        ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
        ("AGGREGATION_TEMPORALITY_DELTA", 1),
        ("AGGREGATION_TEMPORALITY_CUMULATIVE", 2),
        ("FLAG_NONE", 0),
        ("FLAG_NO_RECORDED_VALUE", 1),
    ];
    if let Some(&(_, v)) = FIXED.iter().find(|(n, _)| *n == name) {
        return Some(v);
    }
    // SEVERITY_NUMBER_TRACE (1) ... SEVERITY_NUMBER_FATAL4 (24)
    let severity = name.strip_prefix("SEVERITY_NUMBER_")?;
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    levels.iter().enumerate().find_map(|(i, level)| {
        let step: i64 = match severity.strip_prefix(level)? {
            "" => 1,
            n @ ("2" | "3" | "4") => n.parse().ok()?,
            _ => return None,
        };
        Some(i as i64 * 4 + step)
    })
}

/// `span.kind.string`: the kind's name as the Collector writes it.
pub(crate) fn kind_string(kind: i64) -> &'static str {
    match kind {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    }
}
