use serde_json::{Value, json};

use super::*;

const EXAMPLES: [(&str, Signal); 4] = [
    ("trace.json", Signal::Traces),
    ("metrics.json", Signal::Metrics),
    ("logs.json", Signal::Logs),
    ("events.json", Signal::Logs),
];

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/../../../shared/testdata/otlp-json/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// A form in which two JSON encodings of one request compare equal: digit strings become
/// numbers, ids lowercase, and members holding a default value are removed (except inside an
/// AnyValue, where `"intValue": "0"` is data).
fn canonical(value: &Value) -> Value {
    const ANY_VALUE: [&str; 5] =
        ["stringValue", "intValue", "boolValue", "doubleValue", "bytesValue"];
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = if k.ends_with("Id") {
                    Value::String(v.as_str().unwrap_or_default().to_ascii_lowercase())
                } else {
                    canonical(v)
                };
                let is_default = matches!(&v, Value::Null)
                    || v == json!(0)
                    || v == json!(0.0)
                    || v == json!("")
                    || v == json!(false)
                    || v == json!([])
                    || v == json!({});
                if !is_default || ANY_VALUE.contains(&k.as_str()) {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Value::from(s.parse::<u64>().expect("digits"))
        }
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= 0.0) => {
            Value::from(n.as_f64().unwrap() as u64)
        }
        other => other.clone(),
    }
}

#[test]
fn decodes_every_specification_example() {
    for (name, signal) in EXAMPLES {
        let batch = decode(signal, &example(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(batch.signal(), signal, "{name}");
        assert!(batch.item_count() > 0, "{name} decoded to no items");
    }
}

#[test]
fn example_items_are_counted() {
    let traces = decode(Signal::Traces, &example("trace.json")).unwrap();
    assert_eq!(traces.item_count(), 1);
    let metrics = decode(Signal::Metrics, &example("metrics.json")).unwrap();
    // one point each for the counter, gauge, histogram and exponential histogram
    assert_eq!(metrics.item_count(), 4);
    let logs = decode(Signal::Logs, &example("logs.json")).unwrap();
    assert_eq!(logs.item_count(), 1);
}

#[test]
fn round_trip_through_protobuf_loses_no_field() {
    for (name, signal) in EXAMPLES {
        let original: Value = serde_json::from_slice(&example(name)).unwrap();
        let batch = decode(signal, &example(name)).unwrap();
        let protobuf = batch.encode_protobuf();
        let again = Batch::decode_protobuf(signal, &protobuf).unwrap();
        assert_eq!(again, batch, "{name}: protobuf round trip changed the batch");
        let reencoded: Value = serde_json::from_slice(&encode(&again)).unwrap();
        assert_eq!(canonical(&reencoded), canonical(&original), "{name}: JSON differs");
    }
}

#[test]
fn encoding_follows_the_specification() {
    let batch = decode(Signal::Traces, &example("trace.json")).unwrap();
    let out: Value = serde_json::from_slice(&encode(&batch)).unwrap();
    let span = &out["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], json!("5b8efff798038103d269b633813fc60c"));
    assert!(span["kind"].is_number(), "enums are integers: {}", span["kind"]);
    assert!(span["startTimeUnixNano"].is_string(), "64-bit integers are strings");
}

fn one_span(fields: Value) -> Vec<u8> {
    let mut span = json!({
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "op",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
    });
    span.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    serde_json::to_vec(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})).unwrap()
}

fn first_span(batch: &Batch) -> &opentelemetry_proto::tonic::trace::v1::Span {
    let Some(Decoded::Traces(rs)) = batch.as_decoded() else { panic!("not traces") };
    &rs[0].scope_spans[0].spans[0]
}

#[test]
fn ids_are_case_insensitive() {
    let upper =
        decode(Signal::Traces, &one_span(json!({"traceId": "5B8EFFF798038103D269B633813FC60C"})));
    let lower = decode(Signal::Traces, &one_span(json!({})));
    assert_eq!(upper.unwrap(), lower.unwrap());
}

#[test]
fn proto_field_names_are_accepted() {
    let body = json!({"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "parent_span_id": "eee19b7ec3c1b175",
        "name": "op",
        "start_time_unix_nano": 7,
        "attributes": [{"key": "k", "value": {"int_value": "3"}}]
    }]}]}]});
    let batch = decode(Signal::Traces, body.to_string().as_bytes()).unwrap();
    let span = first_span(&batch);
    assert_eq!(span.parent_span_id.len(), 8);
    assert_eq!(span.start_time_unix_nano, 7);
    assert_eq!(span.attributes[0].key, "k");
    assert_eq!(batch.item_count(), 1);
}

#[test]
fn sixty_four_bit_integers_as_strings_or_numbers() {
    let s = decode(Signal::Traces, &one_span(json!({"startTimeUnixNano": "18446744073709551615"})))
        .unwrap();
    let n =
        decode(Signal::Traces, &one_span(json!({"startTimeUnixNano": 18446744073709551615u64})))
            .unwrap();
    assert_eq!(first_span(&s).start_time_unix_nano, u64::MAX);
    assert_eq!(s, n);
}

#[test]
fn enums_as_integers_or_names() {
    let by_number =
        decode(Signal::Traces, &one_span(json!({"kind": 2, "status": {"code": 2}}))).unwrap();
    let by_name = decode(
        Signal::Traces,
        &one_span(json!({"kind": "SPAN_KIND_SERVER", "status": {"code": "STATUS_CODE_ERROR"}})),
    )
    .unwrap();
    assert_eq!(first_span(&by_number).kind, 2);
    assert_eq!(by_number, by_name);
}

#[test]
fn unknown_fields_and_nulls_are_ignored() {
    let batch = decode(
        Signal::Traces,
        &one_span(json!({"someFutureField": {"x": [1, 2]}, "traceState": null})),
    )
    .unwrap();
    assert_eq!(batch.item_count(), 1);
}

#[test]
fn short_trace_id_is_refused_with_its_path() {
    let err =
        decode(Signal::Traces, &one_span(json!({"traceId": "5b8efff798038103d269b633813fc6"})))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid OTLP/JSON traces request: resourceSpans[0].scopeSpans[0].spans[0].traceId: \
         invalid trace id of 15 bytes: expected 16"
    );
}

#[test]
fn bad_hex_is_refused() {
    let err = decode(Signal::Traces, &one_span(json!({"spanId": "zzzzzzzzzzzzzzzz"}))).unwrap_err();
    assert!(matches!(err, JsonError::Schema { .. }), "{err}");
}

#[test]
fn invalid_json_is_a_syntax_error() {
    let err = decode(Signal::Logs, b"{\"resourceLogs\": [").unwrap_err();
    assert!(matches!(err, JsonError::Syntax(_)), "{err}");
    assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
}

#[test]
fn wrong_shape_is_a_schema_error() {
    let err = decode(Signal::Metrics, br#"{"resourceMetrics": 3}"#).unwrap_err();
    assert!(matches!(err, JsonError::Schema { signal: Signal::Metrics, .. }), "{err}");
}

#[test]
fn decode_any_tells_the_signal_by_its_key() {
    for (name, signal) in EXAMPLES {
        assert_eq!(decode_any(&example(name)).unwrap().signal(), signal, "{name}");
    }
    let snake = br#"{"resource_logs": []}"#;
    assert_eq!(decode_any(snake).unwrap(), Batch::empty(Signal::Logs));
}
