use weir_core::{Batch, Component, Decoded, Metadata, Output, Processor};
use weir_otlp::{
    attributes::{kv, kv_value},
    proto::{
        common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        metrics::v1::{
            Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
            ScopeMetrics, Sum, metric::Data,
        },
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    },
};

use super::*;
use crate::ProcessorSettings;

type V = weir_otlp::proto::common::v1::any_value::Value;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e:?}"))
}

/// Every problem of `yaml`, as `path: message`.
fn problems(yaml: &str) -> Vec<String> {
    match Settings::parse(yaml) {
        Ok(_) => panic!("{yaml}: accepted"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn run(yaml: &str, batch: Batch, metadata: Metadata) -> Decoded {
    let mut processor = AttributesProcessor::new(&settings(yaml), "attributes");
    let mut out = Output::with_metadata(metadata);
    processor.process(batch, &mut out);
    let mut messages: Vec<_> = out.drain().collect();
    assert_eq!(messages.len(), 1, "one batch out for one in");
    messages.pop().unwrap().batch.into_decoded()
}

fn value(v: V) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

fn string(s: &str) -> Option<AnyValue> {
    value(V::StringValue(s.into()))
}

fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource { attributes, ..Resource::default() })
}

fn scope(name: &str, version: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..InstrumentationScope::default()
    })
}

fn span(name: &str, attributes: Vec<KeyValue>) -> Span {
    Span { name: name.into(), attributes, ..Span::default() }
}

/// One resource and scope holding `spans`.
fn traces(service: &str, spans: Vec<Span>) -> Batch {
    Batch::from(vec![ResourceSpans {
        resource: resource(vec![kv("service.name", service)]),
        scope_spans: vec![ScopeSpans {
            scope: scope("lib", "1.0"),
            spans,
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }])
}

/// The attributes of each span, in order.
fn span_attributes(decoded: Decoded) -> Vec<Vec<KeyValue>> {
    let Decoded::Traces(resources) = decoded else { panic!("traces") };
    resources
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .map(|s| s.attributes)
        .collect()
}

/// The attributes of the single span of `attributes` after `actions`.
fn one_span(actions: &str, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    one_span_with(actions, attributes, Metadata::default())
}

fn one_span_with(actions: &str, attributes: Vec<KeyValue>, metadata: Metadata) -> Vec<KeyValue> {
    let decoded = run(actions, traces("shop", vec![span("GET", attributes)]), metadata);
    span_attributes(decoded).pop().unwrap()
}

#[test]
fn insert_update_and_upsert_follow_the_key_being_there() {
    let out = one_span(
        "actions:
  - {key: a, value: new, action: insert}
  - {key: c, value: inserted, action: insert}
  - {key: b, value: updated, action: update}
  - {key: d, value: never, action: update}
  - {key: a, value: upserted, action: UPSERT}
  - {key: e, value: appended, action: upsert}",
        vec![kv("a", "1"), kv("b", "2")],
    );
    assert_eq!(
        out,
        vec![kv("a", "upserted"), kv("b", "updated"), kv("c", "inserted"), kv("e", "appended")],
        "insert keeps what is there, update only changes what is there, action names in any case"
    );
}

#[test]
fn values_keep_their_yaml_type() {
    let out = one_span(
        r#"actions:
  - {key: int, value: 2245, action: insert}
  - {key: quoted, value: "2245", action: insert}
  - {key: double, value: 1.5, action: insert}
  - {key: bool, value: true, action: insert}
  - {key: quoted_bool, value: "true", action: insert}
  - {key: negative, value: -7, action: insert}
  - {key: list, value: [1, a], action: insert}
  - {key: map, value: {k: v, n: 2}, action: insert}"#,
        vec![],
    );
    let map = KeyValueList { values: vec![kv("k", "v"), kv_value("n", V::IntValue(2))] };
    let list = ArrayValue { values: vec![value(V::IntValue(1)).unwrap(), string("a").unwrap()] };
    assert_eq!(
        out,
        vec![
            kv_value("int", V::IntValue(2245)),
            kv("quoted", "2245"),
            kv_value("double", V::DoubleValue(1.5)),
            kv_value("bool", V::BoolValue(true)),
            kv("quoted_bool", "true"),
            kv_value("negative", V::IntValue(-7)),
            kv_value("list", V::ArrayValue(list)),
            kv_value("map", V::KvlistValue(map)),
        ]
    );
}

#[test]
fn from_attribute_copies_the_value_with_its_type_or_does_nothing() {
    let out = one_span(
        "actions:
  - {key: copy, from_attribute: code, action: insert}
  - {key: missing, from_attribute: nowhere, action: upsert}
  - {key: region, from_attribute: cloud.region, default_value: us-east-1, action: insert}",
        vec![kv_value("code", V::IntValue(503))],
    );
    assert_eq!(
        out,
        vec![
            kv_value("code", V::IntValue(503)),
            kv_value("copy", V::IntValue(503)),
            kv("region", "us-east-1"),
        ]
    );
}

#[test]
fn from_context_reads_headers_auth_and_bare_keys_with_defaults() {
    let metadata = Metadata::new([
        ("X-Tenant".to_owned(), "acme".to_owned()),
        ("x-tenant".to_owned(), "beta".to_owned()),
        ("auth.username".to_owned(), "ada".to_owned()),
    ]);
    let actions = "actions:
  - {key: tenant, from_context: metadata.X-Tenant, action: upsert}
  - {key: bare, from_context: x-tenant, action: insert}
  - {key: user, from_context: auth.username, action: insert}
  - {key: absent, from_context: metadata.x-missing, action: insert}
  - {key: defaulted, from_context: metadata.x-missing, default_value: 0, action: insert}";
    assert_eq!(
        one_span_with(actions, vec![kv("tenant", "old")], metadata),
        vec![
            kv("tenant", "acme;beta"),
            kv("bare", "acme;beta"),
            kv("user", "ada"),
            kv_value("defaulted", V::IntValue(0)),
        ],
        "several values are joined with ';'; the default keeps its type"
    );
    assert_eq!(
        one_span_with(actions, vec![], Metadata::default()),
        vec![kv_value("defaulted", V::IntValue(0))],
        "without metadata only the default is set"
    );
}

#[test]
fn delete_removes_the_key_and_what_the_pattern_finds() {
    let out = one_span(
        "actions:
  - {key: password, action: delete}
  - {pattern: ^db\\., action: delete}
  - {key: nowhere, action: delete}",
        vec![
            kv("password", "x"),
            kv("db.statement", "select"),
            kv("db.user", "root"),
            kv("http.db.hint", "kept: the pattern is anchored"),
            kv("keep", "y"),
        ],
    );
    assert_eq!(out, vec![kv("http.db.hint", "kept: the pattern is anchored"), kv("keep", "y")]);
}

#[test]
fn hash_is_sha256_hex_of_the_collectors_bytes() {
    let out = one_span(
        "actions:
  - {key: email, action: hash}
  - {pattern: ^n_, action: hash}
  - {key: empty, action: hash}
  - {key: bytes, action: hash}
  - {key: twice, pattern: twice, action: hash}",
        vec![
            kv("email", "abc"),
            kv_value("n_true", V::BoolValue(true)),
            kv_value("n_false", V::BoolValue(false)),
            kv_value("n_int", V::IntValue(2245)),
            kv_value("n_double", V::DoubleValue(1.5)),
            kv("empty", ""),
            kv_value("bytes", V::BytesValue(vec![1, 2])),
            kv("twice", "abc"),
            kv("other", "abc"),
        ],
    );
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(
        out,
        vec![
            kv("email", abc),
            kv("n_true", "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"),
            kv("n_false", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            kv("n_int", "91df0e58e24451873e480a434ac913ec45d00603e21470511a89c1e850e58c87"),
            kv("n_double", "e163f8cb0f7067a7fc78ca859a77f849aea3214f38fb75b884e4a16be725c905"),
            kv("empty", ""),
            kv("bytes", ""),
            kv("twice", abc),
            kv("other", "abc"),
        ],
        "an attribute named by both key and pattern is hashed once"
    );
}

#[test]
fn extract_sets_named_groups_and_keeps_the_source() {
    let extract = |groups: &str| {
        format!(
            "actions:\n  - {{key: http.url, action: extract, pattern: '^(?P<http_protocol>\\w+)://\
             (?P<http_domain>[^/?]+)(?P<http_path>/[^?]*)?{groups}$'}}"
        )
    };
    let named = extract(r"(?:\?(?P<http_query>.*))?");
    let out =
        one_span(&named, vec![kv("http.url", "https://example.com?x=1"), kv("http_domain", "old")]);
    assert_eq!(
        out,
        vec![
            kv("http.url", "https://example.com?x=1"),
            kv("http_domain", "example.com"),
            kv("http_protocol", "https"),
            kv("http_path", ""),
            kv("http_query", "x=1"),
        ],
        "existing keys are replaced, a group that took no part is empty"
    );
    let not_a_string = vec![kv_value("http.url", V::IntValue(1)), kv("other", "x")];
    assert_eq!(one_span(&named, not_a_string.clone()), not_a_string, "only string values");
    let no_match = vec![kv("http.url", "not a url")];
    assert_eq!(one_span(&named, no_match.clone()), no_match);
    assert_eq!(
        problems(&extract(r"(\?(?P<http_query>.*))?")),
        ["actions[0].pattern: group 4 has no name: every group becomes an attribute named after \
          it (write (?P<name>...), or (?:...) to only group)"]
    );
}

/// `value` converted to `to`.
fn converted(value: V, to: &str) -> Option<AnyValue> {
    let yaml = format!("actions: [{{key: k, action: convert, converted_type: {to}}}]");
    one_span(&yaml, vec![kv_value("k", value)]).pop().unwrap().value
}

#[test]
fn convert_follows_the_collectors_rules() {
    let int = |i| value(V::IntValue(i));
    let double = |d| value(V::DoubleValue(d));
    assert_eq!(converted(V::StringValue("42".into()), "int"), int(42));
    assert_eq!(converted(V::StringValue("+42".into()), "int"), int(42));
    assert_eq!(converted(V::StringValue("4.2".into()), "int"), string("4.2"), "left as is");
    assert_eq!(converted(V::DoubleValue(-2.9), "int"), int(-2), "truncated toward zero");
    assert_eq!(converted(V::BoolValue(true), "int"), int(1));
    assert_eq!(converted(V::BytesValue(vec![1]), "int"), value(V::BytesValue(vec![1])));
    assert_eq!(converted(V::IntValue(3), "double"), double(3.0));
    assert_eq!(converted(V::StringValue("2.5e3".into()), "double"), double(2500.0));
    assert_eq!(converted(V::BoolValue(false), "double"), double(0.0));
    assert_eq!(converted(V::StringValue("n/a".into()), "double"), string("n/a"));
    assert_eq!(converted(V::IntValue(-5), "string"), string("-5"));
    assert_eq!(converted(V::BoolValue(true), "string"), string("true"));
    assert_eq!(converted(V::DoubleValue(123.0), "string"), string("123"));
    assert_eq!(converted(V::DoubleValue(0.5), "string"), string("0.5"));
    assert_eq!(converted(V::DoubleValue(1e21), "string"), string("1e+21"));
    assert_eq!(converted(V::DoubleValue(1.5e-7), "string"), string("1.5e-7"));
    assert_eq!(converted(V::DoubleValue(1e20), "string"), string("100000000000000000000"));
    assert_eq!(
        converted(V::DoubleValue(f64::NAN), "string"),
        string("json: unsupported value: NaN")
    );
    assert_eq!(converted(V::BytesValue(b"hi!".to_vec()), "string"), string("aGkh"));
    let map = KeyValueList {
        values: vec![
            kv("z", "<b>&"),
            kv_value("a", V::DoubleValue(2.0)),
            kv_value("m", V::ArrayValue(ArrayValue { values: vec![string("x").unwrap()] })),
        ],
    };
    assert_eq!(
        converted(V::KvlistValue(map), "string"),
        string(r#"{"a":2,"m":["x"],"z":"\u003cb\u003e\u0026"}"#),
        "maps as Go's JSON: sorted keys, HTML characters escaped"
    );
    let out = one_span(
        "actions: [{key: k, action: convert, converted_type: string}]",
        vec![KeyValue { key: "k".into(), value: None, ..KeyValue::default() }],
    );
    assert_eq!(out, vec![kv("k", "")], "an empty value is the empty string");
    assert_eq!(
        one_span("actions: [{key: absent, action: convert, converted_type: int}]", vec![]),
        vec![]
    );
}

#[test]
fn metrics_change_every_data_point_of_selected_metrics() {
    let point = |attributes| NumberDataPoint { attributes, ..NumberDataPoint::default() };
    let metric =
        |name: &str, data| Metric { name: name.into(), data: Some(data), ..Metric::default() };
    let batch = Batch::from(vec![ResourceMetrics {
        resource: resource(vec![kv("service.name", "shop")]),
        scope_metrics: vec![ScopeMetrics {
            scope: scope("lib", "1.0"),
            metrics: vec![
                metric(
                    "http.requests",
                    Data::Sum(Sum {
                        data_points: vec![point(vec![kv("code", "200")]), point(vec![])],
                        ..Sum::default()
                    }),
                ),
                metric(
                    "http.duration",
                    Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            attributes: vec![kv("code", "500")],
                            ..HistogramDataPoint::default()
                        }],
                        ..Histogram::default()
                    }),
                ),
                metric("queue.size", Data::Gauge(Gauge { data_points: vec![point(vec![])] })),
            ],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }]);
    let Decoded::Metrics(out) = run(
        "include: {match_type: regexp, metric_names: [^http\\.]}
actions:
  - {key: code, action: convert, converted_type: int}
  - {key: env, value: prod, action: insert}",
        batch,
        Metadata::default(),
    ) else {
        panic!("metrics")
    };
    let metrics = &out[0].scope_metrics[0].metrics;
    let Some(Data::Sum(sum)) = &metrics[0].data else { panic!("sum") };
    assert_eq!(
        sum.data_points[0].attributes,
        vec![kv_value("code", V::IntValue(200)), kv("env", "prod")]
    );
    assert_eq!(sum.data_points[1].attributes, vec![kv("env", "prod")]);
    let Some(Data::Histogram(histogram)) = &metrics[1].data else { panic!("histogram") };
    assert_eq!(
        histogram.data_points[0].attributes,
        vec![kv_value("code", V::IntValue(500)), kv("env", "prod")]
    );
    let Some(Data::Gauge(gauge)) = &metrics[2].data else { panic!("gauge") };
    assert_eq!(gauge.data_points[0].attributes, vec![], "queue.size is not included");
}

fn log(body: &str, severity: i32, text: &str) -> LogRecord {
    LogRecord {
        body: string(body),
        severity_number: severity,
        severity_text: text.into(),
        ..LogRecord::default()
    }
}

#[test]
fn logs_are_selected_by_body_and_severity() {
    let batch = Batch::from(vec![ResourceLogs {
        resource: resource(vec![kv("service.name", "shop")]),
        scope_logs: vec![ScopeLogs {
            scope: scope("lib", "1.0"),
            log_records: vec![
                log("payment failed", 17, "ERROR"),
                log("payment ok", 9, "INFO"),
                log("payment unknown", 0, ""),
                log("login failed", 21, "FATAL"),
            ],
            ..ScopeLogs::default()
        }],
        ..ResourceLogs::default()
    }]);
    let Decoded::Logs(out) = run(
        "include:
  match_type: regexp
  log_bodies: [^payment]
  log_severity_number: {min: WARN, match_undefined: true}
actions: [{key: alert, value: true, action: insert}]",
        batch,
        Metadata::default(),
    ) else {
        panic!("logs")
    };
    let alerted: Vec<bool> = out[0].scope_logs[0]
        .log_records
        .iter()
        .map(|r| r.attributes == vec![kv_value("alert", V::BoolValue(true))])
        .collect();
    assert_eq!(alerted, [true, false, true, false]);
}

#[test]
fn include_and_exclude_select_spans() {
    let yaml = "include:
  match_type: strict
  services: [shop, cart]
exclude:
  match_type: regexp
  span_names: [^health]
actions: [{key: selected, value: true, action: insert}]";
    let selected = |service: &str, names: &[&str]| -> Vec<bool> {
        let spans = names.iter().map(|n| span(n, vec![])).collect();
        span_attributes(run(yaml, traces(service, spans), Metadata::default()))
            .iter()
            .map(|a| !a.is_empty())
            .collect()
    };
    assert_eq!(selected("shop", &["GET /", "healthz", "POST /pay"]), [true, false, true]);
    assert_eq!(selected("cart", &["GET /"]), [true]);
    assert_eq!(selected("shopping", &["GET /"]), [false], "strict is equality");
}

#[test]
fn an_encoded_batch_is_decoded_and_changed() {
    let batch = weir_core::testing::spans("shop", 2, 7);
    let encoded = Batch::from_protobuf(weir_otlp::Signal::Traces, batch.encode_protobuf()).unwrap();
    assert!(encoded.is_encoded());
    let out = run("actions: [{key: http.route, action: delete}]", encoded, Metadata::default());
    assert_eq!(span_attributes(out), vec![vec![], vec![]]);
}

#[test]
fn validation_reports_every_problem_with_its_path() {
    let errors = problems(
        r#"actions:
  - {key: a, action: insert}
  - {action: update, value: 1}
  - {key: a, value: 1, from_attribute: b, action: upsert}
  - {key: a, value: 1, default_value: 2, action: insert}
  - {key: a, pattern: "(", action: delete}
  - {action: hash}
  - {key: a, value: 1, action: hash}
  - {key: a, action: extract}
  - {key: a, pattern: "(?P<x>.)(.)", action: extract}
  - {key: a, pattern: "abc", action: extract}
  - {key: a, action: convert}
  - {key: a, action: convert, converted_type: float}
  - {key: a, pattern: x, action: insert, value: 1}
  - {key: a, action: rename}
  - {key: a}
  - {key: a, from_context: client.address, action: insert}
  - {key: a, from_context: metadata., action: insert}
include:
  match_type: expr
  services: [a]
exclude:
  match_type: regexp
  span_names: ["("]
  attributes: [{key: a, value: 1}]"#,
    );
    #[allow(clippy::invalid_regex)] // the error is what the messages quote
    let regex_error = regex::Regex::new("(").unwrap_err();
    assert_eq!(
        errors,
        [
            "actions[0]: insert needs one of value, from_attribute, from_context or default_value"
                .to_owned(),
            "actions[1].key: must be set for update".to_owned(),
            "actions[2]: upsert takes one of value, from_attribute or from_context: value and \
             from_attribute are both set"
                .to_owned(),
            "actions[3].default_value: is never used with value, which is always there".to_owned(),
            format!("actions[4].pattern: invalid regular expression \"(\": {regex_error}"),
            "actions[5]: hash needs a key, a pattern or both".to_owned(),
            "actions[6].value: hash does not use value".to_owned(),
            "actions[7].pattern: must be set for extract".to_owned(),
            "actions[8].pattern: group 2 has no name: every group becomes an attribute named \
             after it (write (?P<name>...), or (?:...) to only group)"
                .to_owned(),
            "actions[9].pattern: has no named group: write (?P<name>...) for each attribute to \
             extract"
                .to_owned(),
            "actions[10].converted_type: must be set for convert: int, double or string".to_owned(),
            "actions[11].converted_type: unknown type \"float\": expected int, double or string"
                .to_owned(),
            "actions[12].pattern: insert does not use pattern".to_owned(),
            "actions[13].action: unknown action \"rename\": expected insert, update, upsert, \
             delete, hash, extract or convert"
                .to_owned(),
            "actions[14].action: must be set: insert, update, upsert, delete, hash, extract or \
             convert"
                .to_owned(),
            "actions[15].from_context: client.address is not available: weir keeps no client \
             address in request metadata"
                .to_owned(),
            "actions[16].from_context: \"metadata.\" names no key: write metadata.<header> or \
             auth.<name>"
                .to_owned(),
            "include.match_type: expr is not supported: use strict or regexp (or OTTL \
             conditions where the component offers them)"
                .to_owned(),
            format!("exclude.span_names[0]: invalid regular expression \"(\": {regex_error}"),
            "exclude.attributes[0].value: match_type regexp needs a string pattern, not an int"
                .to_owned(),
        ]
    );
    assert_eq!(problems("actions: []"), ["actions: must hold at least one action"]);
}

#[test]
fn unknown_options_are_refused_at_parse_time() {
    let error =
        Settings::parse("actions: [{key: a, value: 1, action: insert, colour: red}]").unwrap_err();
    assert_eq!(error.len(), 1);
    assert!(error[0].message.contains("colour"), "{}", error[0]);
}

#[test]
fn attributes_is_a_processor_type_for_every_signal() {
    let Some(Ok(ProcessorSettings::Attributes(settings))) =
        ProcessorSettings::parse("attributes", "actions: [{key: a, value: 1, action: upsert}]")
    else {
        panic!("attributes is registered")
    };
    assert!(settings.reads_items());
    let declaration = <Settings as Component>::DECLARATION;
    assert_eq!(declaration.name, "attributes");
    assert_eq!(declaration.stability, weir_core::Stability::Beta);
    for signal in weir_core::declare::ALL_SIGNALS {
        assert!(declaration.signals.accepts(*signal));
    }
}
