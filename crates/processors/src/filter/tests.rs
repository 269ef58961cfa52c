use weir_core::{Batch, Component, Decoded, Output, Processor, testing};
use weir_otlp::proto::{
    common::v1::{AnyValue, any_value::Value},
    metrics::v1::{Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric},
};

use super::*;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(settings: &Settings, batch: Batch) -> Option<Batch> {
    let mut processor = Filter::new(settings, "filter");
    let mut out = Output::new();
    processor.process(batch, &mut out);
    out.drain().next().map(|m| m.batch)
}

/// Four spans of `api` named `span-0`..`span-3`; `span-1` and `span-3` are health checks.
fn spans_with_health_checks() -> Batch {
    let mut batch = testing::spans("api", 4, 1);
    let Decoded::Traces(resources) = batch.decoded_mut() else { panic!() };
    for (i, span) in resources[0].scope_spans[0].spans.iter_mut().enumerate() {
        if i % 2 == 1 {
            span.attributes[0].value =
                Some(AnyValue { value: Some(Value::StringValue("/healthz".into())) });
        }
    }
    batch
}

fn span_names(batch: &Batch) -> Vec<String> {
    let Decoded::Traces(r) = batch.view().into_owned() else { panic!() };
    r.iter()
        .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter().map(|s| s.name.clone())))
        .collect()
}

#[test]
fn health_checks_dropped_by_each_style() {
    let styles = [
        r#"trace_conditions: ['span.attributes["http.route"] == "/healthz"']"#,
        r#"trace_conditions: [{context: span, conditions: ['attributes["http.route"] == "/healthz"']}]"#,
        r#"traces: {span: ['IsMatch(attributes["http.route"], "^/health")']}"#,
        "spans: {exclude: {match_type: strict, attributes: [{key: http.route, value: /healthz}]}}",
        "spans: {include: {match_type: regexp, span_names: ['span-[02]']}}",
    ];
    for yaml in styles {
        let out = run(&settings(yaml), spans_with_health_checks()).expect("some kept");
        assert_eq!(span_names(&out), ["span-0", "span-2"], "{yaml}");
    }
}

#[test]
fn dropping_everything_emits_nothing() {
    let settings =
        settings(r#"trace_conditions: ['resource.attributes["service.name"] == "api"']"#);
    assert!(run(&settings, testing::spans("api", 3, 1)).is_none());
    assert_eq!(span_names(&run(&settings, testing::spans("web", 3, 1)).unwrap()).len(), 3);
}

fn gauge(name: &str, values: &[i64]) -> Metric {
    let data_points = values
        .iter()
        .map(|v| NumberDataPoint {
            value: Some(weir_otlp::proto::metrics::v1::number_data_point::Value::AsInt(*v)),
            ..NumberDataPoint::default()
        })
        .collect();
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge { data_points })),
        ..Metric::default()
    }
}

#[test]
fn a_metric_whose_points_are_all_dropped_goes() {
    let batch = Batch::from(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![
                gauge("k8s.pod.phase", &[4, 4]),
                gauge("k8s.pod.phase.other", &[4, 2]),
                gauge("kept", &[1]),
            ],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }]);
    let by_point =
        settings(r#"metric_conditions: ['datapoint.value_int == 4 and metric.name != "kept"']"#);
    let out = run(&by_point, batch).expect("kept");
    let Decoded::Metrics(r) = out.view().into_owned() else { panic!() };
    let metrics: Vec<(String, usize)> = r[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| {
            let Some(metric::Data::Gauge(g)) = &m.data else { panic!() };
            (m.name.clone(), g.data_points.len())
        })
        .collect();
    assert_eq!(metrics, [("k8s.pod.phase.other".to_owned(), 1), ("kept".to_owned(), 1)]);
    let by_name =
        settings("metrics: {exclude: {match_type: regexp, metric_names: ['^k8s\\.pod']}}");
    let batch = Batch::from(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![gauge("k8s.pod.x", &[1]), gauge("node", &[1])],
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    }]);
    let Decoded::Metrics(r) = run(&by_name, batch).unwrap().into_decoded() else { panic!() };
    assert_eq!(r[0].scope_metrics[0].metrics.len(), 1);
    assert_eq!(r[0].scope_metrics[0].metrics[0].name, "node");
}

#[test]
fn logs_by_severity_both_styles() {
    let mut batch = testing::logs("api", 4);
    let Decoded::Logs(r) = batch.decoded_mut() else { panic!() };
    for (i, record) in r[0].scope_logs[0].log_records.iter_mut().enumerate() {
        record.severity_number = [5, 9, 13, 17][i];
    }
    for yaml in [
        "log_conditions: ['log.severity_number < SEVERITY_NUMBER_WARN']",
        "logs: {include: {match_type: strict, severity_number: {min: WARN}}}",
    ] {
        let Decoded::Logs(r) = run(&settings(yaml), batch.clone()).unwrap().into_decoded() else {
            panic!()
        };
        let kept: Vec<i32> =
            r[0].scope_logs[0].log_records.iter().map(|l| l.severity_number).collect();
        assert_eq!(kept, [13, 17], "{yaml}");
    }
}

#[test]
fn error_modes() {
    // `Substring` fails on 6-character names: under propagate the batch goes, under ignore a
    // failing condition does not hold, so the span stays unless another condition drops it
    let yaml = |mode: &str| {
        format!(
            "error_mode: {mode}\ntrace_conditions:\n  - 'Substring(span.name, 0, 10) == \"x\"'\n  - 'span.name == \"span-1\"'"
        )
    };
    assert!(run(&settings(&yaml("propagate")), testing::spans("api", 3, 1)).is_none());
    for mode in ["ignore", "silent"] {
        let out = run(&settings(&yaml(mode)), testing::spans("api", 3, 1)).unwrap();
        assert_eq!(span_names(&out), ["span-0", "span-2"], "{mode}");
    }
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        r#"
trace_conditions: ['span.nam == "x"']
traces: {span: ['name == "x"']}
metric_conditions: [{context: log, conditions: ['true']}]
logs: {include: {match_type: expr}}
spans: {exclude: {match_type: strict, metric_names: [x]}}
"#,
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    for expected in [
        "trace_conditions: cannot be used together with traces",
        "spans: cannot be used together with OTTL conditions",
        r#"trace_conditions[0]: column 1: unknown path span.nam in the span context in "span.nam == \"x\"""#,
        "metric_conditions[0].context: the log context does not exist for metrics",
        "spans.exclude.metric_names: does not apply to spans, only to metrics",
    ] {
        assert!(found.iter().any(|f| f == expected), "missing {expected:?} in {found:#?}");
    }
    assert!(found.iter().any(|f| f.starts_with("logs.include")), "{found:#?}");
}
