//! The fields a path can name, by context, and the names they answer to.

use crate::Context;

/// Every field a path can name, by the context it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Cache,
    ResourceAttributes,
    ResourceDropped,
    ScopeName,
    ScopeVersion,
    ScopeAttributes,
    ScopeDropped,
    SpanTraceId(IdForm),
    SpanSpanId(IdForm),
    SpanParentSpanId(IdForm),
    SpanTraceState,
    SpanName,
    SpanKind,
    SpanKindString,
    SpanStart(TimeForm),
    SpanEnd(TimeForm),
    SpanAttributes,
    SpanDroppedAttributes,
    SpanDroppedEvents,
    SpanDroppedLinks,
    SpanStatusCode,
    SpanStatusMessage,
    SpanFlags,
    EventName,
    EventTime(TimeForm),
    EventAttributes,
    EventDropped,
    MetricName,
    MetricDescription,
    MetricUnit,
    MetricType,
    MetricTemporality,
    MetricMonotonic,
    PointAttributes,
    PointStart(TimeForm),
    PointTime(TimeForm),
    PointValueInt,
    PointValueDouble,
    PointFlags,
    PointCount,
    PointSum,
    PointBucketCounts,
    PointExplicitBounds,
    PointScale,
    PointZeroCount,
    LogTime(TimeForm),
    LogObservedTime(TimeForm),
    LogSeverityNumber,
    LogSeverityText,
    LogBody,
    LogBodyString,
    LogAttributes,
    LogDropped,
    LogFlags,
    LogTraceId(IdForm),
    LogSpanId(IdForm),
    LogEventName,
}

/// An id as bytes or as its hex string (`.string`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdForm {
    Bytes,
    Hex,
}

/// A timestamp as `*_unix_nano` (an int) or as a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeForm {
    Nanos,
    Time,
}

/// The fields of each context by their names after the context.
pub(super) fn field(context: Context, names: &[&str]) -> Option<Field> {
    use Field::*;
    use IdForm::*;
    use TimeForm::*;
    if names == ["cache"] && context != Context::Resource && context != Context::Scope {
        return Some(Cache);
    }
    Some(match (context, names) {
        (Context::Resource, ["attributes"]) => ResourceAttributes,
        (Context::Resource, ["dropped_attributes_count"]) => ResourceDropped,
        (Context::Resource, ["cache"]) | (Context::Scope, ["cache"]) => Cache,
        (Context::Scope, ["name"]) => ScopeName,
        (Context::Scope, ["version"]) => ScopeVersion,
        (Context::Scope, ["attributes"]) => ScopeAttributes,
        (Context::Scope, ["dropped_attributes_count"]) => ScopeDropped,
        (Context::Span, ["trace_id"]) => SpanTraceId(Bytes),
        (Context::Span, ["trace_id", "string"]) => SpanTraceId(Hex),
        (Context::Span, ["span_id"]) => SpanSpanId(Bytes),
        (Context::Span, ["span_id", "string"]) => SpanSpanId(Hex),
        (Context::Span, ["parent_span_id"]) => SpanParentSpanId(Bytes),
        (Context::Span, ["parent_span_id", "string"]) => SpanParentSpanId(Hex),
        (Context::Span, ["trace_state"]) => SpanTraceState,
        (Context::Span, ["name"]) => SpanName,
        (Context::Span, ["kind"]) => SpanKind,
        (Context::Span, ["kind", "string"]) => SpanKindString,
        (Context::Span, ["start_time_unix_nano"]) => SpanStart(Nanos),
        (Context::Span, ["start_time"]) => SpanStart(Time),
        (Context::Span, ["end_time_unix_nano"]) => SpanEnd(Nanos),
        (Context::Span, ["end_time"]) => SpanEnd(Time),
        (Context::Span, ["attributes"]) => SpanAttributes,
        (Context::Span, ["dropped_attributes_count"]) => SpanDroppedAttributes,
        (Context::Span, ["dropped_events_count"]) => SpanDroppedEvents,
        (Context::Span, ["dropped_links_count"]) => SpanDroppedLinks,
        (Context::Span, ["status", "code"]) => SpanStatusCode,
        (Context::Span, ["status", "message"]) => SpanStatusMessage,
        (Context::Span, ["flags"]) => SpanFlags,
        (Context::SpanEvent, ["name"]) => EventName,
        (Context::SpanEvent, ["time_unix_nano"]) => EventTime(Nanos),
        (Context::SpanEvent, ["time"]) => EventTime(Time),
        (Context::SpanEvent, ["attributes"]) => EventAttributes,
        (Context::SpanEvent, ["dropped_attributes_count"]) => EventDropped,
        (Context::Metric, ["name"]) => MetricName,
        (Context::Metric, ["description"]) => MetricDescription,
        (Context::Metric, ["unit"]) => MetricUnit,
        (Context::Metric, ["type"]) => MetricType,
        (Context::Metric, ["aggregation_temporality"]) => MetricTemporality,
        (Context::Metric, ["is_monotonic"]) => MetricMonotonic,
        (Context::DataPoint, ["attributes"]) => PointAttributes,
        (Context::DataPoint, ["start_time_unix_nano"]) => PointStart(Nanos),
        (Context::DataPoint, ["start_time"]) => PointStart(Time),
        (Context::DataPoint, ["time_unix_nano"]) => PointTime(Nanos),
        (Context::DataPoint, ["time"]) => PointTime(Time),
        (Context::DataPoint, ["value_int"]) => PointValueInt,
        (Context::DataPoint, ["value_double"]) => PointValueDouble,
        (Context::DataPoint, ["flags"]) => PointFlags,
        (Context::DataPoint, ["count"]) => PointCount,
        (Context::DataPoint, ["sum"]) => PointSum,
        (Context::DataPoint, ["bucket_counts"]) => PointBucketCounts,
        (Context::DataPoint, ["explicit_bounds"]) => PointExplicitBounds,
        (Context::DataPoint, ["scale"]) => PointScale,
        (Context::DataPoint, ["zero_count"]) => PointZeroCount,
        (Context::Log, ["time_unix_nano"]) => LogTime(Nanos),
        (Context::Log, ["time"]) => LogTime(Time),
        (Context::Log, ["observed_time_unix_nano"]) => LogObservedTime(Nanos),
        (Context::Log, ["observed_time"]) => LogObservedTime(Time),
        (Context::Log, ["severity_number"]) => LogSeverityNumber,
        (Context::Log, ["severity_text"]) => LogSeverityText,
        (Context::Log, ["body"]) => LogBody,
        (Context::Log, ["body", "string"]) => LogBodyString,
        (Context::Log, ["attributes"]) => LogAttributes,
        (Context::Log, ["dropped_attributes_count"]) => LogDropped,
        (Context::Log, ["flags"]) => LogFlags,
        (Context::Log, ["trace_id"]) => LogTraceId(Bytes),
        (Context::Log, ["trace_id", "string"]) => LogTraceId(Hex),
        (Context::Log, ["span_id"]) => LogSpanId(Bytes),
        (Context::Log, ["span_id", "string"]) => LogSpanId(Hex),
        (Context::Log, ["event_name"]) => LogEventName,
        _ => return None,
    })
}

impl Field {
    /// Whether it holds a map that keys index into.
    pub(super) fn is_map(self) -> bool {
        use Field::*;
        matches!(
            self,
            Cache
                | ResourceAttributes
                | ScopeAttributes
                | SpanAttributes
                | EventAttributes
                | PointAttributes
                | LogAttributes
                | LogBody
        )
    }
}
