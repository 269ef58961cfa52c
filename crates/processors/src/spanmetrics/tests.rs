use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use weir_otlp::{
    attributes::kv,
    proto::{
        metrics::v1::{
            AggregationTemporality, NumberDataPoint, ResourceMetrics, metric::Data,
            number_data_point,
        },
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Status},
    },
};

use super::*;

/// What a span was: service, name, kind, status code, duration in ms.
type Truth = (String, String, i32, i32, f64);

/// Spans of three services with names, kinds, statuses and durations from a seeded generator.
fn spans(n: usize, seed: u64, tracestate: &str) -> (Batch, Vec<Truth>) {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut truth = Vec::new();
    let mut resources = Vec::new();
    for service in ["a", "b", "c"] {
        let mut list = Vec::new();
        for _ in 0..n / 3 {
            let name = format!("op{}", next() % 4);
            let kind = (next() % 5) as i32 + 1;
            let code = (next() % 3) as i32;
            let duration_ns = next() % 3_000_000_000;
            let mut id = next().to_be_bytes().to_vec();
            id.extend(next().to_be_bytes());
            if !tracestate.is_empty() {
                id[9] = 0xff; // randomness consistent with the threshold it arrived with
            }
            truth.push((service.to_owned(), name.clone(), kind, code, duration_ns as f64 / 1e6));
            list.push(Span {
                trace_id: id,
                name,
                kind,
                start_time_unix_nano: 1_000,
                end_time_unix_nano: 1_000 + duration_ns,
                status: Some(Status { code, ..Status::default() }),
                trace_state: tracestate.into(),
                ..Span::default()
            });
        }
        resources.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans { spans: list, ..ScopeSpans::default() }],
            schema_url: String::new(),
        });
    }
    (Batch::from(resources), truth)
}

fn run(config: &Config, batches: Vec<Batch>) -> Vec<ResourceMetrics> {
    let mut connector = SpanMetrics::new(config);
    let start = Instant::now();
    let mut out = Output::at(1_000_000);
    connector.flush(start, &mut out);
    for batch in batches {
        connector.process(batch, &mut out);
    }
    connector.flush(start + Duration::from_secs(16), &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => panic!("metrics"),
        })
        .collect()
}

fn key(attributes: &[KeyValue]) -> String {
    attributes
        .iter()
        .map(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => format!("{}={s}", kv.key),
            other => format!("{}={other:?}", kv.key),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn calls_and_durations_equal_a_brute_force_recomputation() {
    let (batch, truth) = spans(3000, 11, "");
    let output = run(&Config::default(), vec![batch]);
    let mut expected: BTreeMap<String, (u64, f64, Vec<u64>)> = BTreeMap::new();
    for (service, name, kind, code, ms) in &truth {
        let kind = SpanKind::try_from(*kind).unwrap().as_str_name();
        let code = StatusCode::try_from(*code).unwrap().as_str_name();
        let k =
            format!("service.name={service},span.name={name},span.kind={kind},status.code={code}");
        let entry = expected.entry(k).or_insert((0, 0.0, vec![0; 17]));
        entry.0 += 1;
        entry.1 += ms;
        entry.2[DEFAULT_BUCKETS_MS.iter().filter(|b| **b < *ms).count()] += 1;
    }
    let mut calls = BTreeMap::new();
    let mut durations = BTreeMap::new();
    for r in &output {
        for m in r.scope_metrics.iter().flat_map(|s| &s.metrics) {
            match &m.data {
                Some(Data::Sum(s)) => {
                    assert_eq!(m.name, "traces.span.metrics.calls");
                    assert!(
                        s.is_monotonic
                            && s.aggregation_temporality
                                == AggregationTemporality::Cumulative as i32
                    );
                    for p in &s.data_points {
                        let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!() };
                        calls.insert(key(&p.attributes), v as u64);
                    }
                }
                Some(Data::Histogram(h)) => {
                    assert_eq!(
                        (m.name.as_str(), m.unit.as_str()),
                        ("traces.span.metrics.duration", "ms")
                    );
                    for p in &h.data_points {
                        durations.insert(
                            key(&p.attributes),
                            (p.count, p.sum.unwrap(), p.bucket_counts.clone()),
                        );
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(calls.len(), expected.len());
    for (k, (count, sum, buckets)) in &expected {
        assert_eq!(calls[k], *count, "{k}");
        let (c, s, b) = &durations[k];
        assert_eq!((c, b), (count, buckets), "{k}");
        assert!((s - sum).abs() < 1e-6 * sum.max(1.0), "{k}: {s} vs {sum}");
    }
}

#[test]
fn adjusted_counts_weigh_calls_without_bias() {
    // th:8 is p = 1/2: exactly 2 per span
    let (batch, truth) = spans(300, 3, "ot=th:8");
    let output = run(&Config::default(), vec![batch]);
    let total: i64 = calls_of(&output).iter().sum();
    assert_eq!(total, 2 * truth.len() as i64);
    // th:e666 is p ≈ 0.1: 9.99939 per span, stochastically rounded
    let (batch, truth) = spans(30_000, 4, "ot=th:e666");
    let output = run(&Config::default(), vec![batch]);
    let total: i64 = calls_of(&output).iter().sum();
    let expected = truth.len() as f64 * 9.999_389_685_688_13;
    assert!((total as f64 - expected).abs() < 0.001 * expected, "{total} vs {expected}");
}

fn calls_of(output: &[ResourceMetrics]) -> Vec<i64> {
    output
        .iter()
        .flat_map(|r| r.scope_metrics.iter().flat_map(|s| &s.metrics))
        .filter_map(|m| match &m.data {
            Some(Data::Sum(s)) => Some(s.data_points.iter().map(|p| match p.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => 0,
            })),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn the_cardinality_limit_folds_new_series_into_an_overflow_series() {
    let config = Config { aggregation_cardinality_limit: 10, ..Config::default() };
    let (batch, truth) = spans(3000, 5, "");
    let output = run(&config, vec![batch]);
    let points: Vec<&NumberDataPoint> = output
        .iter()
        .flat_map(|r| r.scope_metrics.iter().flat_map(|s| &s.metrics))
        .filter_map(|m| match &m.data {
            Some(Data::Sum(s)) => Some(&s.data_points),
            _ => None,
        })
        .flatten()
        .collect();
    let overflow =
        points.iter().filter(|p| p.attributes.iter().any(|kv| kv.key == OVERFLOW)).count();
    assert_eq!(points.len() - overflow, 10, "ten real series");
    assert!((1..=3).contains(&overflow), "one overflow series per resource");
    let total: i64 = calls_of(&output).iter().sum();
    assert_eq!(total, truth.len() as i64, "every call counted once");
}

#[test]
fn delta_temporality_resets_and_exponential_histograms_keep_counts() {
    let config = Config {
        aggregation_temporality: "AGGREGATION_TEMPORALITY_DELTA".into(),
        histogram: HistogramConfig {
            exponential: Some(Exponential { max_size: 20 }),
            ..HistogramConfig::default()
        },
        ..Config::default()
    };
    let mut connector = SpanMetrics::new(&config);
    let start = Instant::now();
    let mut out = Output::at(5);
    connector.flush(start, &mut out);
    let (batch, truth) = spans(600, 6, "");
    connector.process(batch, &mut out);
    connector.flush(start + Duration::from_secs(16), &mut out);
    let first: Vec<ResourceMetrics> = out
        .drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Metrics(r) => r,
            _ => vec![],
        })
        .collect();
    let mut count = 0;
    for m in first.iter().flat_map(|r| r.scope_metrics.iter().flat_map(|s| &s.metrics)) {
        if let Some(Data::ExponentialHistogram(e)) = &m.data {
            assert_eq!(e.aggregation_temporality, AggregationTemporality::Delta as i32);
            for p in &e.data_points {
                let buckets =
                    p.positive.as_ref().map_or(0, |b| b.bucket_counts.iter().sum::<u64>());
                assert_eq!(buckets + p.zero_count, p.count);
                assert!(p.positive.as_ref().is_none_or(|b| b.bucket_counts.len() <= 20));
                count += p.count;
            }
        }
    }
    assert_eq!(count as usize, truth.len());
    connector.flush(start + Duration::from_secs(32), &mut out);
    assert!(out.is_empty(), "nothing new: no delta points");
}

#[test]
fn listed_instrumentation_scopes_become_dimensions() {
    let span = |name: &str| Span { name: name.into(), ..Span::default() };
    let scope = |name: &str, version: &str| ScopeSpans {
        scope: Some(weir_otlp::proto::common::v1::InstrumentationScope {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }),
        spans: vec![span(name)],
        ..ScopeSpans::default()
    };
    let batch = Batch::from(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "shop")],
            ..Default::default()
        }),
        scope_spans: vec![scope("io.http", "1.2"), scope("io.db", "")],
        ..ResourceSpans::default()
    }]);
    let config =
        Config { include_instrumentation_scope: vec!["io.http".into()], ..Config::default() };
    let output = run(&config, vec![batch]);
    let mut calls: Vec<String> = Vec::new();
    for metric in output.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        if let Some(Data::Sum(sum)) = &metric.data {
            calls.extend(sum.data_points.iter().map(|p| key(&p.attributes)));
        }
    }
    calls.sort();
    assert_eq!(
        calls,
        [
            "service.name=shop,span.name=io.db,span.kind=SPAN_KIND_UNSPECIFIED,status.code=STATUS_CODE_UNSET",
            "service.name=shop,span.name=io.http,span.kind=SPAN_KIND_UNSPECIFIED,status.code=STATUS_CODE_UNSET,span.instrumentation.scope.name=io.http,span.instrumentation.scope.version=1.2",
        ]
    );
}

/// Every point of every metric, as `metric name -> sorted "dimensions: value"` lines.
fn points_by_metric(output: &[ResourceMetrics]) -> BTreeMap<String, Vec<String>> {
    let mut by_metric: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for metric in output.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        let lines = by_metric.entry(metric.name.clone()).or_default();
        match &metric.data {
            Some(Data::Sum(sum)) => lines.extend(sum.data_points.iter().map(|p| {
                let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!() };
                format!("{}: {v}", key(&p.attributes))
            })),
            Some(Data::Histogram(h)) => lines.extend(
                h.data_points.iter().map(|p| format!("{}: {}", key(&p.attributes), p.count)),
            ),
            other => panic!("unexpected {other:?}"),
        }
        lines.sort();
    }
    by_metric
}

fn dimension(name: &str, default: Option<&str>) -> Dimension {
    Dimension { name: name.into(), default: default.map(str::to_owned) }
}

#[test]
fn calls_histogram_and_event_dimensions_apply_to_their_metric_only() {
    use weir_otlp::proto::trace::v1::span::Event;
    let span = |route: &str, peer: &str, events: Vec<Event>| Span {
        name: "GET".into(),
        kind: 2,
        attributes: vec![kv("http.route", route), kv("peer.service", peer)],
        events,
        ..Span::default()
    };
    let exception = |kind: &str| Event {
        name: "exception".into(),
        attributes: vec![kv("exception.type", kind)],
        ..Event::default()
    };
    let batch = Batch::from(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "shop"), kv("k8s.pod.name", "p1")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![
                span("/a", "db", vec![exception("Timeout"), exception("Timeout")]),
                span("/a", "cache", vec![exception("Refused")]),
                span("/b", "db", vec![]),
            ],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }]);
    let config: Config = weir_core::declare::parse_options(
        "
exclude_dimensions: [span.kind, status.code]
calls_dimensions: [{name: peer.service}]
histogram: {dimensions: [{name: http.route}]}
events:
  enabled: true
  dimensions: [{name: exception.type}, {name: k8s.pod.name}, {name: missing, default: none}]
",
    )
    .unwrap();
    assert_eq!(config.problems(), Vec::new());
    let by_metric = points_by_metric(&run(&config, vec![batch]));
    let expected: BTreeMap<String, Vec<String>> = [
        (
            "traces.span.metrics.calls",
            vec![
                "service.name=shop,span.name=GET,peer.service=cache: 1",
                "service.name=shop,span.name=GET,peer.service=db: 2",
            ],
        ),
        (
            "traces.span.metrics.duration",
            vec![
                "service.name=shop,span.name=GET,http.route=/a: 2",
                "service.name=shop,span.name=GET,http.route=/b: 1",
            ],
        ),
        (
            "traces.span.metrics.events",
            vec![
                "service.name=shop,span.name=GET,exception.type=Refused,k8s.pod.name=p1,missing=none: 1",
                "service.name=shop,span.name=GET,exception.type=Timeout,k8s.pod.name=p1,missing=none: 2",
            ],
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(by_metric, expected);
}

#[test]
fn events_are_off_by_default_and_their_dimensions_are_checked() {
    let batch = Batch::from(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span { events: vec![Default::default()], ..Span::default() }],
            ..ScopeSpans::default()
        }],
        ..ResourceSpans::default()
    }]);
    let by_metric = points_by_metric(&run(&Config::default(), vec![batch]));
    assert!(!by_metric.contains_key("traces.span.metrics.events"), "{by_metric:?}");

    let problems = |config: Config| -> Vec<String> {
        config.problems().into_iter().map(|(p, m)| format!("{p}: {m}")).collect()
    };
    let enabled =
        Config { events: Events { enabled: true, dimensions: vec![] }, ..Config::default() };
    assert_eq!(problems(enabled), ["events.dimensions: no dimensions configured for events"]);
    let duplicates = Config {
        dimensions: vec![dimension("service.name", None)],
        calls_dimensions: vec![dimension("a", None), dimension("a", Some("x"))],
        ..Config::default()
    };
    assert_eq!(
        problems(duplicates),
        [
            "dimensions[0]: duplicate dimension name service.name",
            "calls_dimensions[1]: duplicate dimension name a",
        ]
    );
}
