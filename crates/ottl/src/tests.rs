//! The language definition's grammar examples, the function reference's documented examples
//! (input → output), comparison and nil rules, and the errors the checker reports.

use serde_json::json;
use weir_otlp::{
    Decoded, Signal,
    proto::{
        common::v1::{AnyValue, KeyValue, any_value::Value as V},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        metrics::v1::{Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric},
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span},
    },
};

use crate::{Context, Value, condition, statement, value::from_json, value::to_json, walk};

fn kv(key: &str, value: serde_json::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(any(value)), ..KeyValue::default() }
}

/// JSON to a value, keeping whole numbers ints (tests write ints as ints).
fn any(value: serde_json::Value) -> AnyValue {
    match value {
        serde_json::Value::Number(n) if n.is_i64() => {
            AnyValue { value: Some(V::IntValue(n.as_i64().unwrap())) }
        }
        serde_json::Value::Object(map) => AnyValue {
            value: Some(V::KvlistValue(weir_otlp::proto::common::v1::KeyValueList {
                values: map.into_iter().map(|(k, v)| kv(&k, v)).collect(),
            })),
        },
        serde_json::Value::Array(items) => AnyValue {
            value: Some(V::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
                values: items.into_iter().map(any).collect(),
            })),
        },
        other => from_json(other),
    }
}

fn map(attributes: serde_json::Value) -> Vec<KeyValue> {
    let serde_json::Value::Object(entries) = attributes else { panic!("an object") };
    entries.into_iter().map(|(k, v)| kv(&k, v)).collect()
}

fn json_of(attributes: &[KeyValue]) -> serde_json::Value {
    to_json(&Value::Map(attributes.into()))
}

fn traces(span_attributes: serde_json::Value) -> Decoded {
    Decoded::Traces(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: map(json!({"service.name": "api", "host.name": "h1"})),
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![Span {
                name: "GET /users/{id}".into(),
                kind: 2,
                trace_id: vec![1; 16],
                span_id: vec![2; 8],
                start_time_unix_nano: 1_000_000_000,
                end_time_unix_nano: 1_250_000_000,
                attributes: map(span_attributes),
                status: Some(Status { code: 2, message: "boom".into() }),
                events: vec![span::Event { name: "exception".into(), ..Default::default() }],
                ..Span::default()
            }],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }])
}

fn logs(body: serde_json::Value, attributes: serde_json::Value) -> Decoded {
    Decoded::Logs(vec![ResourceLogs {
        resource: Some(Resource::default()),
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord {
                body: Some(any(body)),
                attributes: map(attributes),
                severity_number: 9,
                ..LogRecord::default()
            }],
            ..ScopeLogs::default()
        }],
        ..ResourceLogs::default()
    }])
}

/// Runs statements (all of one context) in order on each item, as one group.
fn run(data: &mut Decoded, statements: &[&str]) {
    let signal = data_signal(data);
    let compiled: Vec<_> = statements
        .iter()
        .map(|text| statement(text, None, signal).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect();
    let context = compiled[0].context();
    assert!(compiled.iter().all(|s| s.context() == context));
    walk(context, data, &mut |r| {
        for statement in &compiled {
            statement.execute(r)?;
        }
        Ok(true)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

fn data_signal(data: &Decoded) -> Signal {
    match data {
        Decoded::Traces(_) => Signal::Traces,
        Decoded::Metrics(_) => Signal::Metrics,
        Decoded::Logs(_) => Signal::Logs,
    }
}

fn span_attributes(data: &Decoded) -> serde_json::Value {
    let Decoded::Traces(r) = data else { panic!() };
    json_of(&r[0].scope_spans[0].spans[0].attributes)
}

fn log_attributes(data: &Decoded) -> serde_json::Value {
    let Decoded::Logs(r) = data else { panic!() };
    json_of(&r[0].scope_logs[0].log_records[0].attributes)
}

/// Evaluates a condition on the one span of `traces(attributes)`.
fn holds(text: &str, attributes: serde_json::Value) -> bool {
    let condition = condition(text, None, Signal::Traces).unwrap_or_else(|e| panic!("{text}: {e}"));
    let mut data = traces(attributes);
    let mut result = None;
    walk(condition.context(), &mut data, &mut |r| {
        result = Some(condition.test(r)?);
        Ok(true)
    })
    .unwrap_or_else(|e| panic!("{text}: {e}"));
    result.expect("one item")
}

#[test]
fn grammar_examples_compile() {
    let statements = [
        r#"set(span.attributes["test"], "pass") where span.attributes["test"] == nil"#,
        r#"set(span.attributes["n"], 1 + 2 * 3)"#,
        r#"set(span.attributes["list"], ["a", span.name, Concat(["a", "b"], "-")])"#,
        r#"set(span.attributes["map"], {"foo": {"a": 2}, "b": [1, 2]})"#,
        r#"set(span.attributes["b"], 0x0102)"#,
        r#"delete_key(span.attributes, "x") where not (IsMatch(span.name, "http_.*") and span.kind > 0)"#,
        r#"set(span.status.code, STATUS_CODE_OK) where span.kind == SPAN_KIND_SERVER or span.kind == SPAN_KIND_CLIENT"#,
        r#"set(span.attributes["x"], Split(span.name, " ")[1])"#,
        r#"replace_pattern(span.name, "a", "b", function = SHA256, replacementFormat = "x%s")"#,
        r#"set(span.attributes["d"], span.end_time - span.start_time) where (span.end_time - span.start_time) < Duration("1s")"#,
    ];
    for text in statements {
        let compiled =
            statement(text, None, Signal::Traces).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(compiled.context(), Context::Span, "{text}");
    }
    let grouped = statement(r#"set(attributes["a"], name)"#, Some(Context::Span), Signal::Traces);
    assert!(grouped.is_ok(), "own-context paths need no prefix in a grouped statement");
}

#[test]
fn context_is_inferred_from_the_deepest_path() {
    let cases = [
        (r#"set(resource.attributes["a"], "b")"#, Signal::Traces, Context::Resource),
        (r#"set(scope.name, "x")"#, Signal::Traces, Context::Scope),
        (r#"set(instrumentation_scope.name, "x")"#, Signal::Logs, Context::Scope),
        (r#"set(span.attributes["a"], resource.attributes["b"])"#, Signal::Traces, Context::Span),
        (r#"set(spanevent.name, span.name)"#, Signal::Traces, Context::SpanEvent),
        (
            r#"set(metric.description, "d") where datapoint.attributes["t"] == "p""#,
            Signal::Metrics,
            Context::DataPoint,
        ),
        (r#"convert_sum_to_gauge() where metric.name == "m""#, Signal::Metrics, Context::Metric),
        (r#"set(log.body, log.attributes["x"])"#, Signal::Logs, Context::Log),
    ];
    for (text, signal, context) in cases {
        let compiled = statement(text, None, signal).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(compiled.context(), context, "{text}");
    }
}

#[test]
fn mistakes_name_their_column() {
    let cases: &[(&str, Option<Context>, Signal, usize, &str)] = &[
        ("sett(span.name, \"x\")", None, Signal::Traces, 1, "unknown editor sett"),
        ("set(span.nme, \"x\")", None, Signal::Traces, 5, "unknown path span.nme"),
        ("set(span.name, Lower(span.name))", None, Signal::Traces, 16, "unknown converter Lower"),
        (
            "set(span.name, \"x\") where IsMatch(span.name, \"(\")",
            None,
            Signal::Traces,
            46,
            "invalid regular expression",
        ),
        ("set(span.name)", None, Signal::Traces, 1, "needs the argument 'value'"),
        ("set(span.name, \"x)", None, Signal::Traces, 16, "unterminated string"),
        ("set(span.name, \"x\") where", None, Signal::Traces, 26, "expected a value"),
        ("set(attributes[\"a\"], \"b\")", None, Signal::Traces, 5, "must start with its context"),
        (
            "set(log.body, \"x\")",
            None,
            Signal::Traces,
            1,
            "the log context does not exist in a traces pipeline",
        ),
        ("set(span.name, log.body)", None, Signal::Traces, 16, "cannot be used with"),
        ("set(span.name, SPAN_KIND_SERVR)", None, Signal::Traces, 16, "unknown enum"),
        (
            "truncate_all(span.attributes, -1)",
            None,
            Signal::Traces,
            31,
            "'limit' must be zero or more",
        ),
        ("set(metric.name, \"x\")", Some(Context::DataPoint), Signal::Metrics, 0, ""),
        (
            "set(datapoint.attributes[\"a\"], \"x\")",
            Some(Context::Metric),
            Signal::Metrics,
            5,
            "cannot reach",
        ),
        (
            "keep_keys(span.attributes, \"a\")",
            None,
            Signal::Traces,
            28,
            "'keys' must be a list of strings",
        ),
        ("set(span.name, \"a\", \"b\")", None, Signal::Traces, 21, "at most 2 arguments"),
        (
            "ExtractPatterns(span.name, \"(x)\")",
            None,
            Signal::Traces,
            1,
            "a statement starts with an editor",
        ),
    ];
    for &(text, context, signal, column, message) in cases {
        match statement(text, context, signal) {
            Ok(_) if message.is_empty() => {}
            Ok(_) => panic!("{text}: accepted"),
            Err(e) => {
                assert!(e.message.contains(message), "{text}: {e}");
                assert_eq!(e.column, column, "{text}: {e}");
            }
        }
    }
}

#[test]
fn comparisons_follow_the_language_rules() {
    let attributes = json!({"s": "abc", "i": 5, "d": 5.0, "t": true, "m": {"k": "v"}});
    let cases = [
        (r#"span.attributes["missing"] == nil"#, true),
        (r#"span.attributes["s"] != nil"#, true),
        (r#"span.attributes["s"] == nil"#, false),
        (r#"span.attributes["i"] == span.attributes["d"]"#, true),
        (r#"span.attributes["i"] < 5.5"#, true),
        (r#"span.attributes["s"] > "abb""#, true),
        (r#"span.attributes["s"] == 5"#, false),
        (r#"span.attributes["s"] != 5"#, true),
        (r#"span.attributes["s"] < 5"#, false),
        (r#"false < span.attributes["t"]"#, true),
        (r#"span.attributes["m"]["k"] == "v""#, true),
        (r#"span.attributes["m"]["nope"]["deeper"] == nil"#, true),
        (r#"span.kind == SPAN_KIND_SERVER and span.status.code == STATUS_CODE_ERROR"#, true),
        (r#"not span.kind == SPAN_KIND_SERVER or span.name == "GET /users/{id}""#, true),
        (r#"(span.end_time - span.start_time) < Duration("1s")"#, true),
        (r#"span.end_time_unix_nano - span.start_time_unix_nano == 250000000"#, true),
        (r#"span.trace_id.string == "01010101010101010101010101010101""#, true),
        (r#"span.trace_id == 0x01010101010101010101010101010101"#, true),
        (r#"IsRootSpan()"#, true),
        (r#"resource.attributes["service.name"] == "api" and span.kind.string == "Server""#, true),
    ];
    for (text, expected) in cases {
        let text = if text == "IsRootSpan()" { "IsRootSpan() and span.name != \"\"" } else { text };
        assert_eq!(holds(text, attributes.clone()), expected, "{text}");
    }
}

#[test]
fn mixed_int_and_float_arithmetic_is_an_error() {
    let condition = condition(r#"span.attributes["i"] + 1.5 > 2"#, None, Signal::Traces).unwrap();
    let mut data = traces(json!({"i": 1}));
    let result = walk(Context::Span, &mut data, &mut |r| condition.test(r));
    assert!(result.unwrap_err().0.contains("cannot apply Add to int and float"));
}

#[test]
fn set_and_the_map_editors() {
    let mut data = traces(json!({
        "http.request.header.authorization": "secret",
        "http.method": "GET",
        "password_hint": "x",
        "db.password": "y",
        "long": "abcdefgh",
    }));
    run(
        &mut data,
        &[
            r#"delete_key(span.attributes, "http.request.header.authorization")"#,
            r#"delete_matching_keys(span.attributes, "(?i).*password.*")"#,
            r#"set(span.attributes["env"], "prod")"#,
            r#"set(span.attributes["nested"]["a"], 1)"#,
            r#"set(span.attributes["copy"], span.attributes["missing"])"#,
            r#"truncate_all(span.attributes, 3)"#,
        ],
    );
    assert_eq!(
        span_attributes(&data),
        json!({"http.method": "GET", "long": "abc", "env": "pro", "nested": {"a": 1}}),
        "set of nil does nothing; truncate_all cuts every string"
    );
    run(&mut data, &[r#"keep_keys(span.attributes, ["http.method", "nested"])"#]);
    assert_eq!(span_attributes(&data), json!({"http.method": "GET", "nested": {"a": 1}}));
    run(&mut data, &[r#"keep_matching_keys(span.attributes, "^http")"#]);
    assert_eq!(span_attributes(&data), json!({"http.method": "GET"}));
    run(&mut data, &[r#"keep_keys(span.attributes, [])"#]);
    assert_eq!(span_attributes(&data), json!({}));
}

#[test]
fn limit_keeps_priority_keys() {
    let mut data = traces(json!({"a": 1, "b": 2, "http.host": "h", "c": 3}));
    run(&mut data, &[r#"limit(span.attributes, 2, ["http.host"])"#]);
    assert_eq!(span_attributes(&data), json!({"a": 1, "http.host": "h"}));
    assert!(statement(r#"limit(span.attributes, 1, ["a", "b"])"#, None, Signal::Traces).is_err());
}

#[test]
fn replace_editors_follow_the_reference_examples() {
    let mut data = traces(json!({
        "process.command_line": "--user=x password=secret --x",
        "http.target": "/user/12/list/34",
        "kube_pod_name": "p",
        "path": "/account/1234",
    }));
    run(
        &mut data,
        &[
            r#"replace_pattern(span.attributes["process.command_line"], "password\\=[^\\s]*(\\s?)", "password=***")"#,
            r#"replace_match(span.attributes["http.target"], "/user/*/list/*", "/user/{userId}/list/{listId}")"#,
            r#"replace_all_patterns(span.attributes, "key", "^kube_([0-9A-Za-z]+_)", "k8s.$1.")"#,
            r#"replace_all_patterns(span.attributes, "value", "/account/\\d{4}", "/account/{accountId}")"#,
        ],
    );
    assert_eq!(
        span_attributes(&data),
        json!({
            "process.command_line": "--user=x password=***--x",
            "http.target": "/user/{userId}/list/{listId}",
            "k8s.pod_.name": "p",
            "path": "/account/{accountId}",
        })
    );
    let mut data = traces(json!({"a": "/user/1/list/2", "b": 3}));
    run(
        &mut data,
        &[
            r#"replace_all_matches(span.attributes, "/user/*/list/*", "/user/{userId}/list/{listId}", SHA256, "/user/%s")"#,
        ],
    );
    let hashed =
        crate::value::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"/user/{userId}/list/{listId}"));
    assert_eq!(span_attributes(&data), json!({"a": format!("/user/{hashed}"), "b": 3}));
}

#[test]
fn merge_maps_flatten_and_append() {
    let mut data = logs(
        json!(r#"{"attr1": "v1", "nested": {"attr3": "v3"}, "n": 2}"#),
        json!({"attr1": "old", "tags": "a"}),
    );
    run(
        &mut data,
        &[
            r#"merge_maps(log.cache, ParseJSON(log.body), "upsert") where IsMatch(log.body, "^\\{")"#,
            r#"set(log.attributes["attr1"], log.cache["attr1"])"#,
            r#"set(log.attributes["nested.attr3"], log.cache["nested"]["attr3"])"#,
            r#"set(log.attributes["n"], log.cache["n"])"#,
            r#"append(log.attributes["tags"], values = ["b", "c"])"#,
        ],
    );
    assert_eq!(
        log_attributes(&data),
        json!({"attr1": "v1", "tags": ["a", "b", "c"], "nested.attr3": "v3", "n": 2.0}),
        "the cache lives for one item; JSON numbers are doubles"
    );
    let mut data = logs(
        json!({"name": "test", "address": {"street": "first", "house": 1234}, "occupants": ["user 1", "user 2"]}),
        json!({}),
    );
    run(&mut data, &[r#"flatten(log.body)"#]);
    let Decoded::Logs(r) = &data else { panic!() };
    let body = to_json(&Value::of(r[0].scope_logs[0].log_records[0].body.as_ref()));
    assert_eq!(
        body,
        json!({"name": "test", "address.street": "first", "address.house": 1234, "occupants.0": "user 1", "occupants.1": "user 2"})
    );
    let mut data = logs(json!({}), json!({"0": {"1": {"2": {"3": {"4": "value"}}}}}));
    run(&mut data, &[r#"flatten(log.attributes, depth=2)"#]);
    assert_eq!(log_attributes(&data), json!({"0.1.2": {"3": {"4": "value"}}}));
    let mut data = logs(json!({}), json!({"a": {"b": 1}}));
    run(&mut data, &[r#"flatten(log.attributes, "app")"#]);
    assert_eq!(log_attributes(&data), json!({"app.a.b": 1}));
    let mut data = logs(json!({}), json!({"a": 1, "b": 2}));
    run(
        &mut data,
        &[
            r#"merge_maps(log.attributes, {"a": 10, "c": 30}, "insert")"#,
            r#"merge_maps(log.attributes, {"b": 20, "d": 40}, "update")"#,
        ],
    );
    assert_eq!(log_attributes(&data), json!({"a": 1, "b": 20, "c": 30}));
}

#[test]
fn converters_follow_the_reference_examples() {
    let mut data = logs(json!("k1=v1 k2=\"v 2\""), json!({"code": "404", "ratio": "2.5"}));
    run(
        &mut data,
        &[
            r#"set(log.attributes["concat"], Concat(["a", 1, log.attributes["none"]], "-"))"#,
            r#"set(log.attributes["snake"], ConvertCase("myMetric", "snake"))"#,
            r#"set(log.attributes["camel"], ConvertCase("my_metric", "camel"))"#,
            r#"set(log.attributes["upper"], ConvertCase("my_metric", "upper"))"#,
            r#"set(log.attributes["sub"], Substring("123456789", 0, 3))"#,
            r#"set(log.attributes["split"], Split("a,b,c", ",")[1])"#,
            r#"set(log.attributes["int"], Int(log.attributes["code"]))"#,
            r#"set(log.attributes["int_of_float"], Int(3.9))"#,
            r#"set(log.attributes["int_of_text"], Int("2.0"))"#,
            r#"set(log.attributes["double"], Double(log.attributes["ratio"]))"#,
            r#"set(log.attributes["string"], String(false))"#,
            r#"set(log.attributes["len"], Len("abc"))"#,
            r#"set(log.attributes["prefix"], HasPrefix("ingest_service", "ingest_"))"#,
            r#"set(log.attributes["suffix"], HasSuffix("ingest_service", "_x"))"#,
            r#"set(log.attributes["kv"], ParseKeyValue(log.body))"#,
            r#"set(log.attributes["kv2"], ParseKeyValue("k1!v1_k2!v2", "!", "_"))"#,
            r#"set(log.attributes["trim"], Trim("!!this is a test!!", "!!"))"#,
            r#"set(log.attributes["sha"], SHA256("name"))"#,
            r#"set(log.attributes["lower"], ToLowerCase("MyMetricName"))"#,
            r#"set(log.attributes["is"], [IsString("a"), IsMap({}), IsInt(1), IsDouble(1.0), IsBool(false), IsList([])])"#,
            r#"set(log.attributes["match"], IsMatch("string", ".*ring"))"#,
            r#"set(log.attributes["extract"], ExtractPatterns("GIT_SHA=abc123", "GIT_SHA=(?P<git_sha>\\w+)"))"#,
            r#"set(log.attributes["ms"], Duration("333ms") + Duration("1s"))"#,
        ],
    );
    let attributes = log_attributes(&data);
    let expected = json!({
        "code": "404", "ratio": "2.5",
        "concat": "a-1-<nil>", "snake": "my_metric", "camel": "MyMetric", "upper": "MY_METRIC",
        "sub": "123", "split": "b", "int": 404, "int_of_float": 3, "double": 2.5,
        "string": "false", "len": 3, "prefix": true, "suffix": false,
        "kv": {"k1": "v1", "k2": "v 2"}, "kv2": {"k1": "v1", "k2": "v2"},
        "trim": "this is a test",
        "sha": "82a3537ff0dbce7eec35d69edc3a189ee6f17d82f353a553f9aa96cb0be3ce89",
        "lower": "mymetricname",
        "is": [true, true, true, true, true, true],
        "match": true,
        "extract": {"git_sha": "abc123"},
        "ms": 1_333_000_000,
    });
    assert_eq!(attributes, expected, "Int(\"2.0\") is nil, so nothing is set");
}

#[test]
fn runtime_errors_are_reported_not_panics() {
    let cases = [
        r#"set(span.attributes["x"], Substring("abc", 2, 5))"#,
        r#"set(span.attributes["x"], ParseJSON("{nope"))"#,
        r#"set(span.attributes["x"], ParseJSON(span.kind))"#,
        r#"set(span.attributes["x"], Split(span.name, " ")[7])"#,
        r#"set(span.name, span.kind)"#,
        r#"set(span.attributes["x"], 1 / 0)"#,
        r#"set(span.trace_id, 0x01)"#,
    ];
    for text in cases {
        let statement =
            statement(text, None, Signal::Traces).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut data = traces(json!({}));
        let result = walk(Context::Span, &mut data, &mut |r| statement.execute(r).map(|()| true));
        assert!(result.is_err(), "{text}: no error");
    }
}

#[test]
fn walk_drops_items_and_the_containers_they_empty() {
    let mut data = traces(json!({}));
    let Decoded::Traces(resources) = &mut data else { panic!() };
    let mut second = resources[0].clone();
    second.scope_spans[0].spans[0].name = "keep".into();
    resources.push(second);
    let drop = condition(r#"span.name != "keep""#, None, Signal::Traces).unwrap();
    walk(Context::Span, &mut data, &mut |r| Ok(!drop.test(r)?)).unwrap();
    let Decoded::Traces(resources) = &data else { panic!() };
    assert_eq!(resources.len(), 1, "the emptied resource goes");
    assert_eq!(resources[0].scope_spans[0].spans[0].name, "keep");
    // dropping every span event leaves the span
    let mut data = traces(json!({}));
    walk(Context::SpanEvent, &mut data, &mut |_| Ok(false)).unwrap();
    let Decoded::Traces(resources) = &data else { panic!() };
    assert!(resources[0].scope_spans[0].spans[0].events.is_empty());
    // dropping every point of a metric drops the metric
    let mut metrics = Decoded::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "m".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint::default(); 2],
                })),
                ..Metric::default()
            }],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }]);
    let by_type = condition(
        "metric.type == METRIC_DATA_TYPE_GAUGE and datapoint.value_int == 0",
        None,
        Signal::Metrics,
    )
    .unwrap();
    assert_eq!(by_type.context(), Context::DataPoint);
    walk(Context::DataPoint, &mut metrics, &mut |r| Ok(!by_type.test(r)?)).unwrap();
    let Decoded::Metrics(resources) = &metrics else { panic!() };
    assert!(resources.is_empty(), "{resources:?}");
}

#[test]
fn metric_conversions() {
    let mut metrics = Decoded::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "prometheus_metric".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint::default()],
                })),
                ..Metric::default()
            }],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }]);
    run(
        &mut metrics,
        &[
            r#"convert_gauge_to_sum("cumulative", true) where metric.name == "prometheus_metric""#,
            r#"set(metric.description, "Sum") where metric.type == METRIC_DATA_TYPE_SUM"#,
            r#"set(metric.name, "renamed") where metric.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE and metric.is_monotonic"#,
        ],
    );
    let Decoded::Metrics(r) = &metrics else { panic!() };
    let metric = &r[0].scope_metrics[0].metrics[0];
    assert_eq!((metric.name.as_str(), metric.description.as_str()), ("renamed", "Sum"));
    let Some(metric::Data::Sum(sum)) = &metric.data else { panic!("{metric:?}") };
    assert_eq!(
        (sum.aggregation_temporality, sum.is_monotonic, sum.data_points.len()),
        (2, true, 1)
    );
    run(&mut metrics, &[r#"convert_sum_to_gauge() where metric.name == "renamed""#]);
    let Decoded::Metrics(r) = &metrics else { panic!() };
    assert!(matches!(r[0].scope_metrics[0].metrics[0].data, Some(metric::Data::Gauge(_))));
}

#[test]
fn log_body_and_severity_paths() {
    let mut data = logs(json!("request failed: INFO here"), json!({"http.route": "/r"}));
    run(
        &mut data,
        &[
            r#"set(log.severity_text, "FAIL") where IsMatch(log.body, "request failed")"#,
            r#"set(log.severity_number, SEVERITY_NUMBER_WARN) where log.severity_number < SEVERITY_NUMBER_WARN"#,
            r#"set(log.attributes["body"], log.body.string)"#,
            r#"set(log.body, log.attributes["http.route"])"#,
        ],
    );
    let Decoded::Logs(r) = &data else { panic!() };
    let record = &r[0].scope_logs[0].log_records[0];
    assert_eq!((record.severity_text.as_str(), record.severity_number), ("FAIL", 13));
    assert_eq!(record.body, Some(any(json!("/r"))));
    assert_eq!(log_attributes(&data)["body"], json!("request failed: INFO here"));
}

#[test]
fn merge_histogram_buckets_follows_the_reference_examples() {
    use crate::funcs::{MergeBuckets, merge_buckets};
    let (mut bounds, mut counts) = (vec![0.1, 0.5, 1.0], vec![5, 8, 3, 1]);
    merge_buckets(&mut bounds, &mut counts, MergeBuckets::RemoveBound(0.5));
    assert_eq!((bounds, counts), (vec![0.1, 1.0], vec![5, 11, 1]));
    let mut bounds = vec![0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    let mut counts = vec![80, 4, 6, 120, 3, 2, 40, 10, 1];
    merge_buckets(&mut bounds, &mut counts, MergeBuckets::Limit(5));
    assert_eq!((bounds, counts), (vec![0.2, 1.0, 5.0, 30.0], vec![84, 126, 5, 50, 1]));
    let (mut bounds, mut counts) = (vec![0.1], vec![1, 2]);
    merge_buckets(&mut bounds, &mut counts, MergeBuckets::RemoveBound(0.7));
    assert_eq!((bounds, counts), (vec![0.1], vec![1, 2]), "a bound not found changes nothing");
    let limit =
        statement("merge_histogram_buckets(5, method = \"limit_buckets\")", None, Signal::Metrics);
    assert_eq!(limit.unwrap().context(), Context::Metric, "a metric function names its context");
    assert!(
        statement(
            "merge_histogram_buckets(2.5, method = \"limit_buckets\")",
            None,
            Signal::Metrics
        )
        .is_err()
    );
    let bound =
        statement("merge_histogram_buckets(0.5) where metric.name == \"h\"", None, Signal::Metrics)
            .unwrap();
    assert_eq!(bound.context(), Context::Metric);
}
