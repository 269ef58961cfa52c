use weir_core::{Component, Decoded, Output, Processor, testing};

use super::*;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// `(service, metric, attributes, count)`.
type Row = (String, String, Vec<(String, String)>, i64);

/// What the connector emits for `batch`.
fn counts(settings: &Settings, batch: Batch) -> Vec<Row> {
    let mut count = Count::new(settings, "count");
    let mut out = Output::at(42);
    count.process(batch, &mut out);
    let mut found = Vec::new();
    for message in out.drain() {
        let Decoded::Metrics(resources) = message.batch.into_decoded() else { panic!() };
        for rm in resources {
            let service = rm.resource.unwrap().attributes[0].value.clone();
            let Some(any_value::Value::StringValue(service)) = service.and_then(|v| v.value) else {
                panic!()
            };
            assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, SCOPE);
            for metric in &rm.scope_metrics[0].metrics {
                let Some(metric::Data::Sum(sum)) = &metric.data else { panic!() };
                assert!(sum.is_monotonic && sum.aggregation_temporality == 1);
                for point in &sum.data_points {
                    assert_eq!(point.time_unix_nano, 42);
                    let attributes = point
                        .attributes
                        .iter()
                        .map(|kv| {
                            let Some(any_value::Value::StringValue(v)) =
                                kv.value.clone().and_then(|v| v.value)
                            else {
                                panic!()
                            };
                            (kv.key.clone(), v)
                        })
                        .collect();
                    let Some(number_data_point::Value::AsInt(n)) = point.value else { panic!() };
                    found.push((service.clone(), metric.name.clone(), attributes, n));
                }
            }
        }
    }
    found
}

#[test]
fn defaults_count_every_span_per_resource() {
    let mut batch = testing::spans("api", 3, 1);
    batch.append(testing::spans("web", 2, 2)).expect("one signal");
    let found = counts(&settings(""), batch);
    assert_eq!(
        found,
        [
            ("api".to_owned(), "trace.span.count".to_owned(), vec![], 3),
            ("web".to_owned(), "trace.span.count".to_owned(), vec![], 2),
        ],
        "no span events, so no event count"
    );
}

#[test]
fn conditions_and_attributes_split_the_counts() {
    let mut batch = testing::logs("api", 4);
    let Decoded::Logs(r) = batch.decoded_mut() else { panic!() };
    for (i, record) in r[0].scope_logs[0].log_records.iter_mut().enumerate() {
        record.severity_number = [9, 17, 17, 21][i];
        if i != 2 {
            let env = if i == 3 { "dev" } else { "prod" };
            record.attributes.push(KeyValue {
                key: "env".into(),
                value: Some(AnyValue { value: Some(any_value::Value::StringValue(env.into())) }),
                ..KeyValue::default()
            });
        }
    }
    let settings = settings(
        r#"
logs:
  error.logs:
    description: Error+ logs.
    conditions: ['severity_number >= SEVERITY_NUMBER_ERROR']
    attributes: [{key: env, default_value: unspecified}]
  prod.logs:
    attributes: [{key: env}]
"#,
    );
    let found = counts(&settings, batch);
    let row = |m: &str, env: &str, n| {
        ("api".to_owned(), m.to_owned(), vec![("env".to_owned(), env.to_owned())], n)
    };
    assert_eq!(
        found,
        [
            row("error.logs", "dev", 1),
            row("error.logs", "prod", 1),
            row("error.logs", "unspecified", 1),
            row("prod.logs", "dev", 1),
            row("prod.logs", "prod", 2),
        ],
        "a record without env and no default is not counted in prod.logs"
    );
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        r#"
spans:
  x: {conditions: ['nme == "a"']}
metrics:
  m: {attributes: [{key: a}]}
"#,
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            r#"spans.x.conditions[0]: column 1: unknown path nme in the span context in "nme == \"a\"""#,
            "metrics.m.attributes: metrics are not counted by attributes",
        ]
    );
}
