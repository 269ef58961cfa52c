use weir_otlp::{
    attributes::{kv, kv_value},
    proto::{
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value},
        logs::v1::LogRecord,
        resource::v1::Resource,
        trace::v1::{Span, span::SpanKind},
    },
};

use super::matcher::scalar_text;
use super::*;
use regex::Regex;

type V = any_value::Value;

fn matcher(yaml: &str) -> Matcher {
    let properties: MatchProperties = serde_saphyr::from_str(yaml).expect("parses");
    properties.compile().unwrap_or_else(|e| panic!("{yaml}: {e:?}"))
}

fn problems(yaml: &str) -> Vec<String> {
    let properties: MatchProperties = serde_saphyr::from_str(yaml).expect("parses");
    match properties.compile() {
        Ok(_) => panic!("{yaml}: accepted"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn resource(attributes: Vec<KeyValue>) -> Resource {
    Resource { attributes, ..Resource::default() }
}

fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: name.into(),
        version: version.into(),
        ..InstrumentationScope::default()
    }
}

fn span(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span { name: name.into(), kind: kind as i32, attributes, ..Span::default() }
}

/// Whether a span named `name` of service `service` matches.
fn span_matches(m: &Matcher, service: &str, name: &str) -> bool {
    let resource = resource(vec![kv("service.name", service)]);
    m.matches_span(Some(&resource), None, &span(name, SpanKind::Server, vec![]))
}

#[test]
fn strict_is_equality_and_regexp_an_unanchored_search() {
    let strict = matcher("{match_type: strict, span_names: [login, logout]}");
    assert!(span_matches(&strict, "shop", "login"));
    assert!(span_matches(&strict, "shop", "logout"));
    assert!(!span_matches(&strict, "shop", "login2"));
    let regexp = matcher("{match_type: regexp, span_names: ['log(in|out)', '^GET$']}");
    assert!(span_matches(&regexp, "shop", "user login page"), "unanchored, as Go's");
    assert!(span_matches(&regexp, "shop", "GET"));
    assert!(!span_matches(&regexp, "shop", "GET /"));
    assert!(!span_matches(&regexp, "shop", "signup"));
}

#[test]
fn every_property_listed_must_match() {
    let m = matcher("{match_type: strict, services: [shop], span_names: [pay]}");
    assert!(span_matches(&m, "shop", "pay"));
    assert!(!span_matches(&m, "cart", "pay"));
    assert!(!span_matches(&m, "shop", "browse"));
}

#[test]
fn services_read_service_name_or_the_collectors_placeholder() {
    let m = matcher("{match_type: strict, services: ['<nil-service-name>']}");
    assert!(m.matches_span(None, None, &span("x", SpanKind::Server, vec![])));
    assert!(m.matches_span(Some(&resource(vec![])), None, &Span::default()));
    assert!(!span_matches(&m, "shop", "x"));
}

#[test]
fn span_kinds_compare_the_collectors_names() {
    let m = matcher("{match_type: strict, span_kinds: [SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER]}");
    let matches = |kind| m.matches_span(None, None, &span("x", kind, vec![]));
    assert!(matches(SpanKind::Client) && matches(SpanKind::Producer));
    assert!(!matches(SpanKind::Server) && !matches(SpanKind::Unspecified));
    let regexp = matcher("{match_type: regexp, span_kinds: [CLIENT$]}");
    assert!(regexp.matches_span(None, None, &span("x", SpanKind::Client, vec![])));
}

#[test]
fn attributes_all_match_with_typed_values_or_presence() {
    let m = matcher(
        "{match_type: strict, attributes: [{key: code, value: 500}, {key: retry}, \
         {key: route, value: /pay}]}",
    );
    let matches = |attributes| m.matches_span(None, None, &span("x", SpanKind::Server, attributes));
    let all = vec![kv_value("code", V::IntValue(500)), kv("retry", "no"), kv("route", "/pay")];
    assert!(matches(all.clone()));
    assert!(!matches(all[..2].to_vec()), "every entry must match");
    let mut string_code = all.clone();
    string_code[0] = kv("code", "500");
    assert!(!matches(string_code), "strict compares types: \"500\" is not 500");
    let mut double_code = all.clone();
    double_code[0] = kv_value("code", V::DoubleValue(500.0));
    assert!(!matches(double_code), "nor is 500.0");
    assert!(!matches(vec![]));
    let regexp = matcher("{match_type: regexp, attributes: [{Key: code, Value: '^5'}]}");
    let matches = |v| {
        regexp.matches_span(None, None, &span("x", SpanKind::Server, vec![kv_value("code", v)]))
    };
    assert!(matches(V::IntValue(503)), "regexp reads numbers as text");
    assert!(matches(V::StringValue("5xx".into())));
    assert!(matches(V::DoubleValue(5.5)));
    assert!(!matches(V::IntValue(404)));
    assert!(!matches(V::BytesValue(b"5".to_vec())), "bytes have no text to match");
}

#[test]
fn strict_values_may_be_bools_doubles_lists_and_maps() {
    let m = matcher(
        "{match_type: strict, attributes: [{key: b, value: true}, {key: d, value: 0.5}, \
         {key: l, value: [1, x]}, {key: m, value: {a: 1, b: 2}}]}",
    );
    let list = V::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
        values: vec![
            AnyValue { value: Some(V::IntValue(1)) },
            AnyValue { value: Some(V::StringValue("x".into())) },
        ],
    });
    let map = |keys: [(&str, i64); 2]| {
        V::KvlistValue(weir_otlp::proto::common::v1::KeyValueList {
            values: keys.iter().map(|(k, v)| kv_value(k, V::IntValue(*v))).collect(),
        })
    };
    let attributes = |m| {
        vec![
            kv_value("b", V::BoolValue(true)),
            kv_value("d", V::DoubleValue(0.5)),
            kv_value("l", list.clone()),
            kv_value("m", m),
        ]
    };
    let matches = |a| m.matches_span(None, None, &span("x", SpanKind::Server, a));
    assert!(matches(attributes(map([("a", 1), ("b", 2)]))));
    assert!(matches(attributes(map([("b", 2), ("a", 1)]))), "maps regardless of order");
    assert!(!matches(attributes(map([("a", 1), ("b", 3)]))));
}

#[test]
fn resources_all_match_and_apply_to_every_signal() {
    let m = matcher(
        "{match_type: regexp, resources: [{key: k8s.namespace.name, value: ^prod-}, \
         {key: cloud.region}]}",
    );
    let prod = resource(vec![kv("k8s.namespace.name", "prod-eu"), kv("cloud.region", "eu")]);
    let dev = resource(vec![kv("k8s.namespace.name", "dev"), kv("cloud.region", "eu")]);
    let partial = resource(vec![kv("k8s.namespace.name", "prod-eu")]);
    assert!(m.matches_span(Some(&prod), None, &Span::default()));
    assert!(m.matches_log(Some(&prod), None, &LogRecord::default()));
    assert!(m.matches_metric(Some(&prod), None, "any"), "unlike the Collector, which ignores them");
    assert!(!m.matches_span(Some(&dev), None, &Span::default()));
    assert!(!m.matches_metric(Some(&partial), None, "any"));
    assert!(!m.matches_log(None, None, &LogRecord::default()));
}

#[test]
fn libraries_match_any_entry_by_name_and_optional_version() {
    let m = matcher(
        "{match_type: strict, libraries: [{name: otel.http}, {name: otel.db, version: '2'}, \
         {name: legacy, version: ''}]}",
    );
    let matches =
        |name, version| m.matches_span(None, Some(&scope(name, version)), &Span::default());
    assert!(matches("otel.http", "") && matches("otel.http", "9"), "no version: any");
    assert!(matches("otel.db", "2") && !matches("otel.db", "3"));
    assert!(matches("legacy", "") && !matches("legacy", "1"), "empty version: only empty");
    assert!(!matches("other", ""));
    assert!(!m.matches_span(None, None, &Span::default()), "no scope is an empty name");
    let metric = matcher("{match_type: regexp, libraries: [{name: ^otel\\.}], metric_names: [.]}");
    assert!(metric.matches_metric(None, Some(&scope("otel.runtime", "")), "cpu"));
    assert!(!metric.matches_metric(None, Some(&scope("custom", "")), "cpu"));
}

fn log(body: Option<V>, severity: i32, text: &str) -> LogRecord {
    LogRecord {
        body: body.map(|v| AnyValue { value: Some(v) }),
        severity_number: severity,
        severity_text: text.into(),
        ..LogRecord::default()
    }
}

#[test]
fn log_bodies_severity_texts_and_numbers() {
    let bodies = matcher("{match_type: regexp, log_bodies: ['^GET /', '\"status\":5']}");
    let body = |v| bodies.matches_log(None, None, &log(Some(v), 0, ""));
    assert!(body(V::StringValue("GET /cart".into())));
    assert!(!body(V::StringValue("POST /cart".into())));
    let map = V::KvlistValue(weir_otlp::proto::common::v1::KeyValueList {
        values: vec![kv_value("status", V::IntValue(503))],
    });
    assert!(body(map), "a map body is matched as its JSON");
    assert!(!bodies.matches_log(None, None, &log(None, 0, "")));

    let texts = matcher("{match_type: strict, log_severity_texts: [ERROR, FATAL]}");
    assert!(texts.matches_log(None, None, &log(None, 0, "FATAL")));
    assert!(!texts.matches_log(None, None, &log(None, 17, "error")));

    let at_least_warn = matcher("{match_type: strict, log_severity_number: {min: 13}}");
    let severity = |m: &Matcher, n| m.matches_log(None, None, &log(None, n, ""));
    assert!(severity(&at_least_warn, 13) && severity(&at_least_warn, 24));
    assert!(!severity(&at_least_warn, 12));
    assert!(!severity(&at_least_warn, 0), "undefined does not match by default");
    let named =
        matcher("{match_type: strict, log_severity_number: {min: info2, match_undefined: true}}");
    assert!(severity(&named, 10) && !severity(&named, 9));
    assert!(severity(&named, 0), "match_undefined");
}

#[test]
fn metric_names_and_properties_of_other_signals() {
    let m = matcher("{match_type: strict, metric_names: [http.requests]}");
    assert!(m.matches_metric(None, None, "http.requests"));
    assert!(!m.matches_metric(None, None, "http.duration"));
    assert!(!m.matches_span(None, None, &Span::default()), "spans have no metric name");
    assert!(!m.matches_log(None, None, &LogRecord::default()));
    let spans_only = matcher("{match_type: strict, attributes: [{key: a}]}");
    assert!(!spans_only.matches_metric(None, None, "x"), "metrics have no record attributes");
}

#[test]
fn selector_is_include_and_not_exclude() {
    let include: MatchProperties =
        serde_saphyr::from_str("{match_type: strict, services: [shop]}").unwrap();
    let exclude: MatchProperties =
        serde_saphyr::from_str("{match_type: regexp, span_names: [^health]}").unwrap();
    let selects = |s: &Selector, service: &str, name: &str| {
        let r = resource(vec![kv("service.name", service)]);
        s.span(Some(&r), None, &span(name, SpanKind::Server, vec![]))
    };
    let both = Selector::new(Some(&include), Some(&exclude)).unwrap();
    assert!(selects(&both, "shop", "pay"));
    assert!(!selects(&both, "shop", "healthz"));
    assert!(!selects(&both, "cart", "pay"));
    let only_exclude = Selector::new(None, Some(&exclude)).unwrap();
    assert!(selects(&only_exclude, "cart", "pay") && !selects(&only_exclude, "cart", "health"));
    let all = Selector::new(None, None).unwrap();
    assert!(all.selects_all() && selects(&all, "any", "health"));
    assert!(all.metric(None, None, "x") && all.log(None, None, &LogRecord::default()));
}

#[test]
fn problems_name_their_paths() {
    assert_eq!(problems("{services: [a]}"), ["match_type: must be set: strict or regexp"]);
    assert_eq!(
        problems("{match_type: glob, services: [a]}"),
        ["match_type: unknown match type \"glob\": expected strict or regexp"]
    );
    assert_eq!(
        problems("{match_type: strict}"),
        ["must list at least one of services, span_names, span_kinds, attributes, \
             resources, libraries, log_bodies, log_severity_texts, log_severity_number or \
             metric_names"]
    );
    assert_eq!(
        problems("{match_type: strict, span_names: [a], log_bodies: [b], resources: [{key: ''}]}"),
        [
            "span_names applies to spans and log_bodies to log records: together they match \
             nothing",
            "resources[0].key: must be set",
        ]
    );
    assert_eq!(
        problems("{match_type: strict, span_kinds: [SERVER]}"),
        ["span_kinds[0]: unknown span kind \"SERVER\": expected one of SPAN_KIND_CLIENT, \
             SPAN_KIND_CONSUMER, SPAN_KIND_INTERNAL, SPAN_KIND_PRODUCER, SPAN_KIND_SERVER \
             with match_type strict"]
    );
    #[allow(clippy::invalid_regex)] // the error is what the messages quote
    let regex_error = Regex::new("[").unwrap_err();
    assert_eq!(
        problems(
            "{match_type: regexp, libraries: [{name: ok, version: '['}], \
             log_severity_number: {min: 25}, metric_names: ['[']}"
        ),
        [
            "log_severity_number applies to log records and metric_names to metrics: \
             together they match nothing"
                .to_owned(),
            format!("metric_names[0]: invalid regular expression \"[\": {regex_error}"),
            format!("libraries[0].version: invalid regular expression \"[\": {regex_error}"),
            "log_severity_number.min: 25 is not a severity number: expected 0 to 24".to_owned(),
        ]
    );
    assert_eq!(
        problems("{match_type: strict, log_severity_number: {min: LOUD}}"),
        ["log_severity_number.min: unknown severity \"LOUD\": expected a number (0 to 24) \
             or a name such as TRACE, DEBUG2, INFO, WARN, ERROR or FATAL4"]
    );
    let include: MatchProperties = serde_saphyr::from_str("{match_type: expr}").unwrap();
    let errors = Selector::new(None, Some(&include)).unwrap_err();
    assert_eq!(errors[0].path, "exclude.match_type");
    assert_eq!(errors[1].path, "exclude");
}

#[test]
fn check_for_reports_what_the_collector_refuses_per_signal() {
    let properties: MatchProperties = serde_saphyr::from_str(
        "{match_type: strict, services: [a], attributes: [{key: k}], log_bodies: [b]}",
    )
    .unwrap();
    let messages = |signal| -> Vec<String> {
        properties.check_for(signal).iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        messages(Signal::Traces),
        ["log_bodies: does not apply to spans, only to log records"]
    );
    assert_eq!(
        messages(Signal::Metrics),
        [
            "services: does not apply to metrics, only to spans",
            "attributes: does not apply to metrics, only to spans and log records",
            "log_bodies: does not apply to metrics, only to log records",
        ]
    );
}

#[test]
fn config_values_keep_their_yaml_types() {
    let values: Vec<ConfigValue> =
        serde_saphyr::from_str("[1, '1', 1.5, true, 'true', -3, x, [a], {k: 2}]").unwrap();
    assert_eq!(
        values,
        [
            ConfigValue::Int(1),
            ConfigValue::String("1".into()),
            ConfigValue::Double(1.5),
            ConfigValue::Bool(true),
            ConfigValue::String("true".into()),
            ConfigValue::Int(-3),
            ConfigValue::String("x".into()),
            ConfigValue::Array(vec![ConfigValue::String("a".into())]),
            ConfigValue::Map(vec![("k".into(), ConfigValue::Int(2))]),
        ]
    );
}

#[test]
fn text_forms_follow_go() {
    let text = |v| go_string(Some(&AnyValue { value: Some(v) }));
    assert_eq!(text(V::DoubleValue(1e21)), "1e+21");
    assert_eq!(text(V::DoubleValue(-2.5e-7)), "-2.5e-7");
    assert_eq!(text(V::DoubleValue(0.000001)), "0.000001");
    assert_eq!(text(V::DoubleValue(-0.0)), "-0");
    assert_eq!(text(V::DoubleValue(f64::INFINITY)), "json: unsupported value: +Inf");
    assert_eq!(text(V::BytesValue(vec![0xff, 0])), "/wA=");
    let array = V::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
        values: vec![
            AnyValue { value: Some(V::StringValue("a\"\n\u{1}".into())) },
            AnyValue { value: None },
            AnyValue { value: Some(V::BytesValue(vec![1])) },
        ],
    });
    assert_eq!(text(array), r#"["a\"\n\u0001",null,"AQ=="]"#);
    let with_nan = V::ArrayValue(weir_otlp::proto::common::v1::ArrayValue {
        values: vec![AnyValue { value: Some(V::DoubleValue(f64::NAN)) }],
    });
    assert_eq!(text(with_nan), "", "Go's JSON fails on NaN: the Collector writes nothing");
    assert_eq!(go_string(None), "");
    assert_eq!(
        scalar_text(Some(&AnyValue { value: Some(V::DoubleValue(1e21)) })).unwrap(),
        "1000000000000000000000"
    );
}
