use weir_core::{Batch, Component, Output, Processor};
use weir_otlp::{
    attributes::{find, kv, text},
    proto::{
        common::v1::{InstrumentationScope, KeyValue},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        metrics::v1::{
            Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
        },
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    },
};

use super::*;

fn processor(keys: &[&str]) -> GroupByAttrs {
    let config = Config { keys: keys.iter().map(|k| k.to_string()).collect() };
    GroupByAttrs::new(&Config::validate(config).expect("valid"), "groupbyattrs")
}

fn run(processor: &mut GroupByAttrs, batch: Batch) -> Batch {
    let mut out = Output::new();
    processor.process(batch, &mut out);
    let mut batches: Vec<Batch> = out.drain().map(|m| m.batch).collect();
    assert_eq!(batches.len(), 1);
    batches.pop().unwrap()
}

fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
    Some(Resource { attributes, ..Resource::default() })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope { name: name.into(), ..InstrumentationScope::default() })
}

fn span(name: &str, attributes: Vec<KeyValue>) -> Span {
    Span { name: name.into(), attributes, ..Span::default() }
}

fn value(attributes: &[KeyValue], key: &str) -> Option<String> {
    text(find(attributes, key))
}

#[test]
fn spans_move_to_resources_by_their_keys_and_keep_the_rest() {
    let input = vec![ResourceSpans {
        resource: resource(vec![kv("service.name", "shop"), kv("host.name", "a")]),
        scope_spans: vec![ScopeSpans {
            scope: scope("lib"),
            spans: vec![
                span("one", vec![kv("host.name", "b"), kv("http.method", "GET")]),
                span("two", vec![kv("http.method", "PUT")]),
                span("three", vec![kv("host.name", "b")]),
            ],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }];
    let Decoded::Traces(out) = run(&mut processor(&["host.name"]), input.into()).into_decoded()
    else {
        panic!("traces")
    };
    assert_eq!(out.len(), 2, "{out:#?}");
    let hosts: Vec<Option<String>> =
        out.iter().map(|r| value(&r.resource.as_ref().unwrap().attributes, "host.name")).collect();
    assert_eq!(hosts, [Some("b".into()), Some("a".into())], "the moved value wins a clash");
    let names = |r: &ResourceSpans| -> Vec<String> {
        r.scope_spans.iter().flat_map(|s| s.spans.iter().map(|s| s.name.clone())).collect()
    };
    assert_eq!(names(&out[0]), ["one", "three"]);
    assert_eq!(names(&out[1]), ["two"]);
    for r in &out {
        assert_eq!(
            value(&r.resource.as_ref().unwrap().attributes, "service.name").unwrap(),
            "shop"
        );
        assert_eq!(r.scope_spans.len(), 1);
        assert_eq!(r.scope_spans[0].scope.as_ref().unwrap().name, "lib");
        for span in &r.scope_spans[0].spans {
            assert!(find(&span.attributes, "host.name").is_none(), "moved off the span");
        }
    }
    assert_eq!(value(&out[0].scope_spans[0].spans[0].attributes, "http.method").unwrap(), "GET");
}

#[test]
fn without_keys_identical_resources_and_scopes_are_merged() {
    let entry = |log: &str, scope_name: &str| ResourceLogs {
        resource: resource(vec![kv("service.name", "shop")]),
        scope_logs: vec![ScopeLogs {
            scope: scope(scope_name),
            log_records: vec![LogRecord { event_name: log.into(), ..LogRecord::default() }],
            ..ScopeLogs::default()
        }],
        ..ResourceLogs::default()
    };
    let input = vec![entry("a", "x"), entry("b", "y"), entry("c", "x")];
    let Decoded::Logs(out) = run(&mut processor(&[]), input.into()).into_decoded() else {
        panic!("logs")
    };
    assert_eq!(out.len(), 1, "one resource");
    let scopes: Vec<(String, Vec<String>)> = out[0]
        .scope_logs
        .iter()
        .map(|s| {
            let logs = s.log_records.iter().map(|l| l.event_name.clone()).collect();
            (s.scope.as_ref().unwrap().name.clone(), logs)
        })
        .collect();
    assert_eq!(
        scopes,
        [("x".into(), vec!["a".into(), "c".into()]), ("y".into(), vec!["b".into()])]
    );
}

fn point(attributes: Vec<KeyValue>, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        value: Some(weir_otlp::proto::metrics::v1::number_data_point::Value::AsDouble(v)),
        ..NumberDataPoint::default()
    }
}

#[test]
fn metric_points_join_a_metric_of_the_same_name_and_type() {
    let gauge = |points| Metric {
        name: "temperature".into(),
        unit: "Cel".into(),
        data: Some(Data::Gauge(Gauge { data_points: points })),
        ..Metric::default()
    };
    let sum = Metric {
        name: "temperature".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![point(vec![kv("room", "a")], 9.0)],
            ..Sum::default()
        })),
        ..Metric::default()
    };
    let input = vec![ResourceMetrics {
        resource: resource(vec![]),
        scope_metrics: vec![ScopeMetrics {
            scope: scope("m"),
            metrics: vec![
                gauge(vec![point(vec![kv("room", "a")], 1.0), point(vec![kv("room", "b")], 2.0)]),
                gauge(vec![point(vec![kv("room", "a")], 3.0), point(vec![kv("floor", "1")], 4.0)]),
                sum,
            ],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }];
    let Decoded::Metrics(out) = run(&mut processor(&["room"]), input.into()).into_decoded() else {
        panic!("metrics")
    };
    // (the resource's room, each metric's type and point count)
    type Shape = (Option<String>, Vec<(String, usize)>);
    let summary: Vec<Shape> = out
        .iter()
        .map(|r| {
            let metrics = r.scope_metrics[0]
                .metrics
                .iter()
                .map(|m| {
                    let (kind, n) = match &m.data {
                        Some(Data::Gauge(g)) => ("gauge", g.data_points.len()),
                        Some(Data::Sum(s)) => ("sum", s.data_points.len()),
                        other => panic!("{other:?}"),
                    };
                    assert_eq!(m.name, "temperature");
                    (kind.to_owned(), n)
                })
                .collect();
            (value(&r.resource.as_ref().unwrap().attributes, "room"), metrics)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("a".into()), vec![("gauge".into(), 2), ("sum".into(), 1)]),
            (Some("b".into()), vec![("gauge".into(), 1)]),
            (None, vec![("gauge".into(), 1)]),
        ]
    );
    let Some(Data::Gauge(g)) = &out[0].scope_metrics[0].metrics[0].data else { panic!() };
    assert_eq!(out[0].scope_metrics[0].metrics[0].unit, "Cel", "metadata is kept");
    assert!(g.data_points.iter().all(|p| p.attributes.is_empty()), "room moved off the points");
}

#[test]
fn every_record_comes_out_once() {
    let mut p = processor(&["service.name"]);
    let input = weir_core::testing::spans("svc", 500, 7);
    let before = input.item_count();
    let out = run(&mut p, input);
    assert_eq!(out.item_count(), before);
}

#[test]
fn empty_or_repeated_keys_are_refused_with_their_path() {
    let config = Config { keys: vec!["a".into(), "".into(), "a".into()] };
    let errors = Config::validate(config).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(text, ["keys[1]: must not be empty", "keys[2]: \"a\" is listed twice"]);
}
