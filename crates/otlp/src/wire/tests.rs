use prost::Message as _;

use super::*;
use crate::{
    Batch, ExportLogsServiceRequest, ExportTraceServiceRequest,
    proto::{
        common::v1::{AnyValue, ArrayValue, any_value::Value},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        trace::v1::{ResourceSpans, ScopeSpans, Span, span},
    },
    testgen::Rng,
    validate,
};

/// What a full decode and the identifier checks say about `bytes`: the item count, or that it
/// is refused.
fn decoded(signal: Signal, bytes: &[u8]) -> Option<usize> {
    let batch = Batch::decode_protobuf(signal, bytes).ok()?;
    validate(&batch).ok()?;
    Some(batch.item_count())
}

#[test]
fn the_walk_counts_what_a_decode_counts_on_random_valid_requests() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..3000 {
        let signal = Signal::ALL[round % 3];
        let bytes = rng.request(signal);
        let expected = decoded(signal, &bytes).expect("a generated request is valid");
        assert_eq!(walk(signal, &bytes), Ok(expected), "round {round}, {signal}");
    }
}

#[test]
fn the_walk_refuses_exactly_what_a_decode_refuses_on_damaged_requests() {
    let mut rng = Rng(0x0bad_5eed_0000_0002);
    let mut refused = 0;
    for round in 0..20_000 {
        let signal = Signal::ALL[round % 3];
        let bytes = rng.request(signal);
        let bytes = rng.damage(bytes);
        let walked = walk(signal, &bytes);
        let expected = decoded(signal, &bytes);
        assert_eq!(
            walked.as_ref().ok().copied(),
            expected,
            "round {round}, {signal}: walk {walked:?} against decode {:?}, bytes {bytes:02x?}",
            Batch::decode_protobuf(signal, &bytes).map(|b| validate(&b))
        );
        refused += usize::from(expected.is_none());
    }
    assert!(refused > 5_000, "the damage breaks many requests: {refused}");
}

#[test]
fn identifier_errors_name_the_field_as_the_validator_does() {
    let mut request = Rng(7).traces();
    request.resource_spans = vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![
                Span { trace_id: vec![1; 16], span_id: vec![2; 8], ..Span::default() },
                Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    links: vec![span::Link { trace_id: vec![1; 15], ..span::Link::default() }],
                    ..Span::default()
                },
            ],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }];
    let bytes = request.encode_to_vec();
    let walked = walk(Signal::Traces, &bytes).unwrap_err();
    let batch = Batch::decode_protobuf(Signal::Traces, &bytes).unwrap();
    assert_eq!(walked, validate(&batch).unwrap_err());
    assert_eq!(
        walked.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[1].links[0].traceId: invalid trace id of 15 bytes: expected 16"
    );

    let missing = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span { trace_id: vec![1; 16], ..Span::default() }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let walked = walk(Signal::Traces, &missing.encode_to_vec()).unwrap_err();
    assert_eq!(
        walked.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[0].spanId: invalid span id of 0 bytes: expected 8"
    );
}

#[test]
fn malformed_bytes_name_where_the_walk_stopped() {
    let mut request = Rng(9).logs();
    request.resource_logs[0].scope_logs = vec![ScopeLogs {
        log_records: vec![LogRecord::default(), LogRecord::default()],
        ..ScopeLogs::default()
    }];
    request.resource_logs[0].scope_logs[0].log_records[1].severity_text = "x".into();
    let mut bytes = request.encode_to_vec();
    // the severity text's one byte becomes invalid UTF-8
    let at = bytes.iter().rposition(|b| *b == b'x').unwrap();
    bytes[at] = 0xff;
    let walked = walk(Signal::Logs, &bytes).unwrap_err();
    assert!(Batch::decode_protobuf(Signal::Logs, &bytes).is_err());
    assert_eq!(walked.path, "resourceLogs[0].scopeLogs[0].logRecords[1].severityText");
    assert_eq!(walked.message, "invalid protobuf: string is not UTF-8");
    assert_eq!(walk(Signal::Logs, &[0x0a, 0x05, 0x01]).unwrap_err().path, "resourceLogs");
}

#[test]
fn nesting_past_the_recursion_limit_is_refused() {
    let mut value = AnyValue { value: Some(Value::IntValue(1)) };
    for _ in 0..120 {
        value = AnyValue { value: Some(Value::ArrayValue(ArrayValue { values: vec![value] })) };
    }
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord { body: Some(value), ..LogRecord::default() }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    let bytes = request.encode_to_vec();
    assert!(Batch::decode_protobuf(Signal::Logs, &bytes).is_err(), "prost refuses it too");
    let walked = walk(Signal::Logs, &bytes).unwrap_err();
    assert!(walked.message.contains("recursion limit"), "{walked}");
}
