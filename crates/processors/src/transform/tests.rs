use weir_core::{Batch, Component, Decoded, Output, Processor, testing::spans};
use weir_otlp::proto::common::v1::{AnyValue, any_value::Value};

use super::*;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn run(settings: &Settings, batch: Batch) -> Option<Batch> {
    let mut processor = Transform::new(settings, "transform");
    let mut out = Output::new();
    processor.process(batch, &mut out);
    out.drain().next().map(|m| m.batch)
}

fn string(s: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Value::StringValue(s.into())) })
}

fn span_attribute(batch: &Batch, span: usize, key: &str) -> Option<AnyValue> {
    let Decoded::Traces(r) = batch.view().into_owned() else { panic!() };
    let span = &r[0].scope_spans[0].spans[span];
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone())
}

#[test]
fn flat_statements_run_in_order_in_the_inferred_context() {
    let settings = settings(
        r#"
trace_statements:
  - set(span.attributes["tier"], resource.attributes["service.name"])
  - set(span.attributes["tier"], "first") where span.name == "span-0"
  - delete_key(span.attributes, "http.route") where span.name == "span-1"
"#,
    );
    assert_eq!(settings.groups(Signal::Traces)[0].context, Context::Span);
    let out = run(&settings, spans("api", 2, 1)).expect("kept");
    assert_eq!(span_attribute(&out, 0, "tier"), string("first"));
    assert_eq!(span_attribute(&out, 1, "tier"), string("api"));
    assert_eq!(span_attribute(&out, 0, "http.route"), string("/items"));
    assert_eq!(span_attribute(&out, 1, "http.route"), None);
}

#[test]
fn grouped_statements_run_where_any_condition_holds() {
    let settings = settings(
        r#"
trace_statements:
  - context: span
    conditions:
      - name == "span-1"
      - name == "span-2"
    statements:
      - set(attributes["picked"], true)
"#,
    );
    let out = run(&settings, spans("api", 3, 1)).expect("kept");
    let picked = |i| span_attribute(&out, i, "picked").is_some();
    assert_eq!((picked(0), picked(1), picked(2)), (false, true, true));
}

#[test]
fn error_modes() {
    // `Substring` fails on the 6-character span names: propagate drops the batch, ignore and
    // silent go on with the next statement
    let yaml = |mode: &str| {
        format!(
            r#"
error_mode: {mode}
trace_statements:
  - set(span.attributes["cut"], Substring(span.name, 0, 10))
  - set(span.attributes["after"], "ran")
"#
        )
    };
    assert!(run(&settings(&yaml("propagate")), spans("api", 2, 1)).is_none());
    for mode in ["ignore", "silent"] {
        let out = run(&settings(&yaml(mode)), spans("api", 2, 1)).expect("kept");
        assert_eq!(span_attribute(&out, 1, "after"), string("ran"), "{mode}");
        assert_eq!(span_attribute(&out, 1, "cut"), None, "{mode}");
    }
    let group_override = settings(
        r#"
error_mode: propagate
trace_statements:
  - error_mode: ignore
    statements: ['set(span.attributes["cut"], Substring(span.name, 0, 10))']
"#,
    );
    assert!(run(&group_override, spans("api", 2, 1)).is_some(), "the group's mode wins");
}

#[test]
fn resource_statements_keep_batches_encoded() {
    let settings = settings(
        r#"
trace_statements:
  - set(resource.attributes["deployment.environment"], "prod")
  - delete_key(resource.attributes, "service.name") where resource.attributes["service.name"] == "drop-me"
"#,
    );
    assert!(!weir_core::declare::BuildProcessor::reads_items(&settings));
    let encoded =
        Batch::from_protobuf(Signal::Traces, spans("api", 3, 1).encode_protobuf()).unwrap();
    let out = run(&settings, encoded).expect("kept");
    assert!(out.is_encoded(), "no span was decoded");
    let Decoded::Traces(r) = out.view().into_owned() else { panic!() };
    let attributes = &r[0].resource.as_ref().unwrap().attributes;
    let environment = attributes.iter().find(|kv| kv.key == "deployment.environment");
    assert_eq!(environment.and_then(|kv| kv.value.clone()), string("prod"));
    assert_eq!(r[0].scope_spans[0].spans.len(), 3);
}

#[test]
fn mistakes_name_the_option_path_column_and_statement() {
    let errors = Settings::parse(
        r#"
trace_statements:
  - context: span
    statements:
      - set(attributes["a"], "b")
      - set(attributes["a"], Lower(name))
log_statements:
  - set(log.body, "x")
  - context: log
    statements: ['set(body, "x")']
metric_statements:
  - context: datapoint
    statements: ['convert_sum_to_gauge()']
  - context: spans
    statements: ['set(metric.name, "x")']
"#,
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let expected = [
        r#"trace_statements[0].statements[1]: column 22: unknown converter Lower (or one weir does not implement yet) in "set(attributes[\"a\"], Lower(name))""#,
        r#"metric_statements[0].statements[0]: column 1: this function runs in the metric context only in "convert_sum_to_gauge()""#,
        r#"metric_statements[1].context: unknown context "spans": expected resource, scope, span, spanevent, metric, datapoint or log"#,
        "log_statements: mixes statements and groups: use one style per list",
    ];
    assert_eq!(found, expected);
}
