use weir_otlp::proto::{
    common::v1::{AnyValue, any_value},
    metrics::v1::{
        AggregationTemporality, Exemplar, HistogramDataPoint, NumberDataPoint, Summary,
        SummaryDataPoint, exemplar,
    },
    resource::v1::Resource,
};

use super::*;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{yaml}: {e:?}"))
}

fn errors(yaml: &str) -> Vec<String> {
    Settings::parse(yaml).expect_err("invalid").iter().map(ToString::to_string).collect()
}

fn attributes(labels: &[(&str, &str)]) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| kv(k, v)).collect()
}

fn int(labels: &[(&str, &str)], time: u64, value: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: 1,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsInt(value)),
        ..NumberDataPoint::default()
    }
}

fn double(labels: &[(&str, &str)], time: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        value: Some(number_data_point::Value::AsDouble(value)),
        ..int(labels, time, 0)
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(Data::Gauge(Gauge { data_points: points })),
        ..Metric::default()
    }
}

fn sum(
    name: &str,
    unit: &str,
    temporality: AggregationTemporality,
    points: Vec<NumberDataPoint>,
) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    }
}

fn batch(metrics: Vec<Metric>) -> Batch {
    Batch::from(vec![ResourceMetrics {
        resource: Some(Resource { attributes: vec![kv("host.name", "h1")], ..Default::default() }),
        scope_metrics: vec![ScopeMetrics { metrics, ..ScopeMetrics::default() }],
        ..ResourceMetrics::default()
    }])
}

fn process(yaml: &str, input: Batch) -> Vec<ResourceMetrics> {
    let mut p = MetricsTransform::new(&settings(yaml), "mt");
    let mut out = Output::new();
    p.process(input, &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => vec![],
        })
        .collect()
}

fn run(yaml: &str, metrics: Vec<Metric>) -> Vec<Metric> {
    process(yaml, batch(metrics))
        .into_iter()
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect()
}

/// A number point as `labels (sorted) = value` with its time, e.g. `cpu=0,state=idle @1 = 5`.
fn show(p: &NumberDataPoint) -> String {
    let mut labels: Vec<String> = p
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, text(kv.value.as_ref()).unwrap_or_default()))
        .collect();
    labels.sort();
    let value = match p.value {
        Some(number_data_point::Value::AsInt(i)) => format!("{i}"),
        Some(number_data_point::Value::AsDouble(d)) => format!("{d:?}"),
        None => "none".into(),
    };
    format!("{} @{} = {value}", labels.join(","), p.time_unix_nano)
}

/// Every metric as its name and its number points.
fn view(metrics: &[Metric]) -> Vec<(String, Vec<String>)> {
    metrics
        .iter()
        .map(|m| {
            let points = match &m.data {
                Some(Data::Gauge(g)) => g.data_points.iter().map(show).collect(),
                Some(Data::Sum(s)) => s.data_points.iter().map(show).collect(),
                _ => vec![format!("{} points", point_count(m))],
            };
            (m.name.clone(), points)
        })
        .collect()
}

fn expect(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs.iter().map(|(n, p)| (n.to_string(), p.iter().map(|s| s.to_string()).collect())).collect()
}

fn cpu() -> Metric {
    gauge(
        "system.cpu.usage",
        vec![
            int(&[("cpu", "0"), ("state", "idle")], 1, 5),
            int(&[("cpu", "0"), ("state", "user")], 1, 3),
            int(&[("cpu", "1"), ("state", "idle")], 1, 8),
        ],
    )
}

#[test]
fn update_renames_by_name_and_by_regexp_groups() {
    let out = run(
        "transforms: [{include: system.cpu.usage, action: update, new_name: system.cpu.usage_time}]",
        vec![cpu(), gauge("other", vec![])],
    );
    assert_eq!(
        out.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["system.cpu.usage_time", "other"]
    );
    for new_name in
        ["system.processor.$1.stat", "system.processor.${1}.stat", "system.processor.${part}.stat"]
    {
        let yaml = format!(
            "transforms:
  - include: '^system\\.cpu\\.(?P<part>.*)$'
    match_type: regexp
    action: update
    new_name: '{new_name}'"
        );
        let out = run(&yaml, vec![cpu(), gauge("system.memory.usage", vec![])]);
        assert_eq!(
            out.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["system.processor.usage.stat", "system.memory.usage"],
            "{new_name}"
        );
    }
}

#[test]
fn insert_appends_a_changed_copy_of_the_matching_points() {
    let out = run(
        "transforms:
  - include: system.cpu.usage
    action: insert
    new_name: cpu.idle
    experimental_match_labels: {state: idle}
    operations: [{action: add_label, new_label: kind, new_value: copy}]",
        vec![cpu()],
    );
    assert_eq!(
        view(&out),
        expect(&[
            (
                "system.cpu.usage",
                &["cpu=0,state=idle @1 = 5", "cpu=0,state=user @1 = 3", "cpu=1,state=idle @1 = 8"]
            ),
            (
                "cpu.idle",
                &["cpu=0,kind=copy,state=idle @1 = 5", "cpu=1,kind=copy,state=idle @1 = 8"]
            ),
        ])
    );
    let regexp_labels = run(
        "transforms:
  - include: system.cpu.usage
    match_type: regexp
    action: insert
    new_name: cpu.not.zero
    experimental_match_labels: {cpu: '[^0]'}",
        vec![cpu()],
    );
    assert_eq!(
        view(&regexp_labels)[1],
        expect(&[("cpu.not.zero", &["cpu=1,state=idle @1 = 8"])])[0]
    );
}

#[test]
fn add_label_adds_where_absent_with_the_version() {
    let out = run(
        "transforms:
  - include: system.cpu.usage
    action: update
    operations:
      - {action: add_label, new_label: version, new_value: 'weir {{version}}'}
      - {action: add_label, new_label: cpu, new_value: never}",
        vec![cpu()],
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        view(&out)[0].1,
        [
            format!("cpu=0,state=idle,version=weir {version} @1 = 5"),
            format!("cpu=0,state=user,version=weir {version} @1 = 3"),
            format!("cpu=1,state=idle,version=weir {version} @1 = 8"),
        ]
    );
}

#[test]
fn update_label_renames_labels_and_values() {
    let out = run(
        "transforms:
  - include: system.cpu.usage
    action: update
    operations:
      - action: update_label
        label: state
        new_label: cpu_state
        value_actions: [{value: idle, new_value: '-'}, {value: user, new_value: busy}]
      - {action: update_label, label: cpu, value_actions: [{value: '1', new_value: one}]}",
        vec![cpu()],
    );
    assert_eq!(
        view(&out)[0].1,
        ["cpu=0,cpu_state=- @1 = 5", "cpu=0,cpu_state=busy @1 = 3", "cpu=one,cpu_state=- @1 = 8"]
    );
}

#[test]
fn an_update_matching_some_points_only_edits_those_points() {
    let out = run(
        "transforms:
  - include: system.cpu.usage
    action: update
    new_name: renamed
    experimental_match_labels: {state: idle}
    operations:
      - {action: update_label, label: cpu, new_label: core}
      - {action: add_label, new_label: never, new_value: x}
      - {action: experimental_scale_value, experimental_scale: 10}
      - {action: delete_label_value, label: state, label_value: user}",
        vec![cpu()],
    );
    assert_eq!(
        view(&out),
        expect(&[(
            "system.cpu.usage",
            &["core=0,state=idle @1 = 50", "cpu=0,state=user @1 = 3", "core=1,state=idle @1 = 80"]
        )]),
        "no rename, no add_label, no delete: not every point matches"
    );
}

#[test]
fn delete_label_value_drops_points_and_emptied_metrics() {
    let yaml = "transforms:
  - include: system.cpu.usage
    action: update
    operations: [{action: delete_label_value, label: state, label_value: idle}]";
    assert_eq!(
        view(&run(yaml, vec![cpu()])),
        expect(&[("system.cpu.usage", &["cpu=0,state=user @1 = 3"])])
    );
    let all_idle = gauge("system.cpu.usage", vec![int(&[("state", "idle")], 1, 1)]);
    let out = process(yaml, batch(vec![all_idle]));
    assert!(out.is_empty(), "the metric, its scope and its resource are gone: {out:?}");
}

#[test]
fn toggle_scalar_data_type_swaps_integers_and_doubles() {
    let out = run(
        "transforms: [{include: m, action: update, operations: [{action: toggle_scalar_data_type}]}]",
        vec![gauge("m", vec![int(&[], 1, 3), double(&[], 2, 2.7)])],
    );
    assert_eq!(view(&out)[0].1, [" @1 = 3.0", " @2 = 2"]);
}

#[test]
fn experimental_scale_value_scales_numbers_and_histograms() {
    let histogram = Metric {
        name: "m".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 3,
                sum: Some(1.5),
                min: Some(0.1),
                max: Some(1.0),
                bucket_counts: vec![1, 2],
                explicit_bounds: vec![0.5],
                exemplars: vec![Exemplar {
                    value: Some(exemplar::Value::AsDouble(0.2)),
                    ..Exemplar::default()
                }],
                ..HistogramDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    };
    let yaml = "transforms: [{include: m, action: update, operations: [{action: experimental_scale_value, experimental_scale: 1000}]}]";
    let out = run(yaml, vec![histogram]);
    let Some(Data::Histogram(h)) = &out[0].data else { panic!() };
    let p = &h.data_points[0];
    assert_eq!(
        (p.sum, p.min, p.max, p.explicit_bounds.clone()),
        (Some(1500.0), Some(100.0), Some(1000.0), vec![500.0])
    );
    assert_eq!((p.count, p.bucket_counts.clone()), (3, vec![1, 2]));
    assert_eq!(p.exemplars[0].value, Some(exemplar::Value::AsDouble(200.0)));
    let out = run(yaml, vec![gauge("m", vec![int(&[], 1, 3), double(&[], 2, 0.25)])]);
    assert_eq!(view(&out)[0].1, [" @1 = 3000", " @2 = 250.0"]);
}

fn requests() -> Metric {
    gauge(
        "requests",
        vec![
            int(&[("code", "200"), ("host", "a")], 1, 4),
            int(&[("code", "200"), ("host", "b")], 1, 7),
            int(&[("code", "500"), ("host", "a")], 1, 1),
            int(&[("code", "200"), ("host", "c")], 1, 2),
            int(&[("code", "200"), ("host", "a")], 2, 9),
        ],
    )
}

#[test]
fn aggregate_labels_merges_points_by_the_kept_labels_and_time() {
    let cases: [(&str, &[&str]); 6] = [
        ("sum", &["code=200 @1 = 13", "code=500 @1 = 1", "code=200 @2 = 9"]),
        ("mean", &["code=200 @1 = 4", "code=500 @1 = 1", "code=200 @2 = 9"]),
        ("min", &["code=200 @1 = 2", "code=500 @1 = 1", "code=200 @2 = 9"]),
        ("max", &["code=200 @1 = 7", "code=500 @1 = 1", "code=200 @2 = 9"]),
        ("count", &["code=200 @1 = 3", "code=500 @1 = 1", "code=200 @2 = 1"]),
        ("median", &["code=200 @1 = 4", "code=500 @1 = 1", "code=200 @2 = 9"]),
    ];
    for (aggregation, expected) in cases {
        let yaml = format!(
            "transforms:
  - include: requests
    action: update
    operations: [{{action: aggregate_labels, label_set: [code], aggregation_type: {aggregation}}}]"
        );
        assert_eq!(view(&run(&yaml, vec![requests()]))[0].1, expected, "{aggregation}");
    }
    let doubles =
        gauge("requests", vec![double(&[("h", "a")], 1, 1.0), double(&[("h", "b")], 1, 2.0)]);
    let yaml = "transforms: [{include: requests, action: update, operations: [{action: aggregate_labels, label_set: [], aggregation_type: mean}]}]";
    assert_eq!(view(&run(yaml, vec![doubles]))[0].1, [" @1 = 1.5"]);
}

#[test]
fn aggregation_keeps_delta_intervals_apart_and_adds_histograms() {
    let mut a = int(&[("h", "a")], 10, 1);
    let mut b = int(&[("h", "b")], 10, 2);
    let mut c = int(&[("h", "c")], 10, 4);
    (a.start_time_unix_nano, b.start_time_unix_nano, c.start_time_unix_nano) = (5, 5, 7);
    let yaml = "transforms: [{include: '.*', match_type: regexp, action: update, operations: [{action: aggregate_labels, label_set: [], aggregation_type: sum}]}]";
    let delta = sum("d", "", AggregationTemporality::Delta, vec![a.clone(), b.clone(), c.clone()]);
    let cumulative = sum("c", "", AggregationTemporality::Cumulative, vec![a, b, c]);
    let out = run(yaml, vec![delta, cumulative]);
    assert_eq!(view(&out), expect(&[("d", &[" @10 = 3", " @10 = 4"]), ("c", &[" @10 = 7"])]));
    let Some(Data::Sum(s)) = &out[1].data else { panic!() };
    assert_eq!(s.data_points[0].start_time_unix_nano, 5, "the earliest start");

    let point = |host: &str, counts: Vec<u64>| HistogramDataPoint {
        attributes: vec![kv("host", host)],
        count: counts.iter().sum(),
        sum: Some(counts.iter().sum::<u64>() as f64),
        bucket_counts: counts,
        explicit_bounds: vec![1.0],
        time_unix_nano: 10,
        ..HistogramDataPoint::default()
    };
    let histogram = Metric {
        name: "h".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![point("a", vec![1, 2]), point("b", vec![3, 4])],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Metric::default()
    };
    let out = run(
        "transforms: [{include: h, action: update, operations: [{action: aggregate_labels, label_set: [], aggregation_type: max}]}]",
        vec![histogram],
    );
    let Some(Data::Histogram(h)) = &out[0].data else { panic!() };
    assert_eq!(h.data_points.len(), 1);
    let p = &h.data_points[0];
    assert_eq!(
        (p.count, p.sum, p.bucket_counts.clone()),
        (10, Some(10.0), vec![4, 6]),
        "histograms add up"
    );
    assert!(p.attributes.is_empty());
}

#[test]
fn aggregate_label_values_merges_the_listed_values() {
    let memory = gauge(
        "system.memory.usage",
        vec![
            int(&[("state", "slab_reclaimable")], 1, 10),
            int(&[("state", "slab_unreclaimable")], 1, 5),
            int(&[("state", "free")], 1, 100),
        ],
    );
    let out = run(
        "transforms:
  - include: system.memory.usage
    action: update
    operations:
      - action: aggregate_label_values
        label: state
        aggregated_values: [slab_reclaimable, slab_unreclaimable]
        new_value: slab
        aggregation_type: sum",
        vec![memory],
    );
    assert_eq!(view(&out)[0].1, ["state=slab @1 = 15", "state=free @1 = 100"]);
}

fn web(method: &str, value: i64) -> Metric {
    sum(
        &format!("Web Service (*)/Total {method} Requests"),
        "1",
        AggregationTemporality::Cumulative,
        vec![int(&[("site", "x")], 1, value)],
    )
}

#[test]
fn combine_merges_matching_metrics_into_one_labelled_by_the_groups() {
    let out = run(
        r"transforms:
  - include: '^Web Service \(\*\)/Total (?P<http_method>.*) Requests$'
    match_type: regexp
    action: combine
    new_name: iis.requests
    aggregation_type: sum
    submatch_case: lower",
        vec![web("Delete", 1), gauge("untouched", vec![]), web("Get", 5), web("Post", 2)],
    );
    assert_eq!(
        view(&out),
        expect(&[
            ("untouched", &["0 points"][..0]),
            (
                "iis.requests",
                &[
                    "http_method=delete,site=x @1 = 1",
                    "http_method=get,site=x @1 = 5",
                    "http_method=post,site=x @1 = 2"
                ]
            ),
        ])
    );
    let Some(Data::Sum(s)) = &out[1].data else { panic!() };
    assert_eq!(
        (s.aggregation_temporality, s.is_monotonic),
        (AggregationTemporality::Cumulative as i32, true)
    );
    assert_eq!(out[1].unit, "1");

    let unnamed = run(
        r"transforms:
  - include: '^(Web) Service .* (G|P)[a-z]+ Requests$'
    match_type: regexp
    action: combine
    new_name: requests
    aggregation_type: max
    submatch_case: upper
    operations: [{action: aggregate_labels, label_set: [site], aggregation_type: max}]",
        vec![web("Get", 5), web("Post", 2), web("Delete", 9)],
    );
    assert_eq!(
        view(&unnamed),
        expect(&[
            ("Web Service (*)/Total Delete Requests", &["site=x @1 = 9"]),
            ("requests", &["site=x @1 = 5"])
        ]),
        "groups without names are $1, $2; operations apply to the combined metric"
    );
    let labelled = run(
        r"transforms: [{include: '^(Web) .* (G)et .*', match_type: regexp, action: combine, new_name: r, aggregation_type: sum, submatch_case: upper}]",
        vec![web("Get", 5)],
    );
    assert_eq!(view(&labelled)[0].1, ["$1=WEB,$2=G,site=x @1 = 5"]);
}

#[test]
fn metrics_that_differ_are_not_combined() {
    let yaml = "transforms: [{include: '^a', match_type: regexp, action: combine, new_name: all, aggregation_type: sum}]";
    let units = vec![
        sum("a1", "s", AggregationTemporality::Cumulative, vec![int(&[], 1, 1)]),
        sum("a2", "ms", AggregationTemporality::Cumulative, vec![int(&[], 1, 1)]),
    ];
    assert_eq!(run(yaml, units.clone()), units);
    let labels = vec![
        sum("a1", "s", AggregationTemporality::Cumulative, vec![int(&[("x", "1")], 1, 1)]),
        sum("a2", "s", AggregationTemporality::Cumulative, vec![int(&[("y", "1")], 1, 1)]),
    ];
    assert_eq!(run(yaml, labels.clone()), labels);
    let summary = vec![Metric {
        name: "a".into(),
        data: Some(Data::Summary(Summary { data_points: vec![SummaryDataPoint::default()] })),
        ..Metric::default()
    }];
    assert_eq!(run(yaml, summary.clone()), summary);
    let same = vec![
        sum("a1", "s", AggregationTemporality::Cumulative, vec![int(&[("x", "1")], 1, 1)]),
        sum("a2", "s", AggregationTemporality::Cumulative, vec![int(&[("x", "1")], 1, 2)]),
    ];
    assert_eq!(view(&run(yaml, same)), expect(&[("all", &["x=1 @1 = 3"])]));
}

#[test]
fn group_moves_metrics_to_a_new_resource() {
    let out = process(
        "transforms:
  - include: '^k8s\\.pod\\.'
    match_type: regexp
    action: group
    group_resource_labels: {resource.type: k8s.pod, host.name: h2}",
        batch(vec![
            gauge("k8s.pod.cpu", vec![int(&[], 1, 1)]),
            gauge("container.cpu", vec![int(&[], 1, 2)]),
        ]),
    );
    assert_eq!(out.len(), 2);
    let names = |r: &ResourceMetrics| -> Vec<String> {
        r.scope_metrics.iter().flat_map(|s| s.metrics.iter().map(|m| m.name.clone())).collect()
    };
    assert_eq!(names(&out[0]), ["container.cpu"]);
    assert_eq!(out[0].resource.as_ref().unwrap().attributes, vec![kv("host.name", "h1")]);
    assert_eq!(names(&out[1]), ["k8s.pod.cpu"]);
    assert_eq!(
        out[1].resource.as_ref().unwrap().attributes,
        vec![kv("host.name", "h2"), kv("resource.type", "k8s.pod")]
    );
}

#[test]
fn transforms_apply_in_order_and_labels_compare_as_text() {
    let mut point = int(&[], 1, 1);
    point.attributes.push(KeyValue {
        key: "code".into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(500)) }),
        ..KeyValue::default()
    });
    let out = run(
        "transforms:
  - {include: a, action: update, new_name: b}
  - {include: b, action: update, experimental_match_labels: {code: '500'}, operations: [{action: add_label, new_label: error, new_value: 'yes'}]}",
        vec![gauge("a", vec![point])],
    );
    assert_eq!(view(&out), expect(&[("b", &["code=500,error=yes @1 = 1"])]));
}

#[test]
fn problems_are_reported_with_their_paths() {
    let mut found = errors(
        "transforms:
  - {action: update}
  - {include: a, match_type: glob, action: insert}
  - {include: '(', match_type: regexp, action: combine, new_name: x}
  - {include: a, action: group}
  - {include: a, action: rename, aggregation_type: average, submatch_case: title}
  - include: a
    action: update
    operations:
      - {action: add_label, new_label: x}
      - {action: update_label}
      - {action: delete_label_value, label: x}
      - {action: experimental_scale_value}
      - {action: aggregate_labels, aggregation_type: sum}
      - {action: aggregate_label_values, label: x, aggregation_type: mode}
      - {action: convert_snake_case}
      - {}",
    );
    let regexp = found.remove(3);
    assert!(regexp.starts_with("transforms[2].include: invalid regexp \"(\": "), "{regexp}");
    assert_eq!(
        found,
        vec![
            "transforms[0].include: must be set",
            "transforms[1].match_type: unsupported \"glob\": expected strict or regexp",
            "transforms[1].new_name: must be set when action is insert or combine",
            "transforms[2].aggregation_type: must be set when action is combine",
            "transforms[3].group_resource_labels: must be set when action is group",
            "transforms[4].action: unsupported \"rename\": expected update, insert, combine or group",
            "transforms[4].aggregation_type: unsupported \"average\": expected one of sum, mean, min, max, count, median",
            "transforms[4].submatch_case: unsupported \"title\": expected lower or upper",
            "transforms[5].operations[0].new_value: must be set when action is add_label",
            "transforms[5].operations[1].label: must be set when action is update_label",
            "transforms[5].operations[2].label_value: must be set when action is delete_label_value",
            "transforms[5].operations[3].experimental_scale: must be set when action is experimental_scale_value",
            "transforms[5].operations[4].label_set: must be set when action is aggregate_labels",
            "transforms[5].operations[5].aggregated_values: must be set when action is aggregate_label_values",
            "transforms[5].operations[5].new_value: must be set when action is aggregate_label_values",
            "transforms[5].operations[5].aggregation_type: unsupported \"mode\": expected one of sum, mean, min, max, count, median",
            "transforms[5].operations[6].action: unsupported \"convert_snake_case\": expected one of add_label, update_label, delete_label_value, toggle_scalar_data_type, experimental_scale_value, aggregate_labels, aggregate_label_values",
            "transforms[5].operations[7].action: must be set",
        ]
    );
    for (yaml, expected) in [
        (
            "transforms: [{include: a, action: update, metric_name: b}]",
            "unknown field `metric_name`",
        ),
        (
            "transforms: [{include: a, action: update, operations: [{action: add_label, new_label: x, new_value: y, labels: z}]}]",
            "unknown field `labels`",
        ),
        ("transform: []", "unknown field `transform`"),
    ] {
        let message = errors(yaml).join("\n");
        assert!(message.contains(expected), "{yaml}: {message}");
    }
    assert!(settings("").config().transforms.is_empty());
    assert_eq!(Settings::DECLARATION.name, "metricstransform");
    assert!(Settings::DECLARATION.signals.accepts(Signal::Metrics));
    assert!(!Settings::DECLARATION.signals.accepts(Signal::Logs));
}
