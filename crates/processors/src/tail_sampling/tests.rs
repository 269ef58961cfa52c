//! Tail sampling: whole traces, policies, thresholds, late spans, memory bounds, statistics.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use weir_core::Output;
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value::Value},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status::StatusCode as Code},
};

use super::*;
use crate::sampling::{Randomness, ot_state};

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A trace: `n` spans (span 0 the root), each 10 ms long from `start` ms, with `attributes`
/// on the root and `error` on the last span.
#[derive(Clone)]
struct TestTrace {
    id: Vec<u8>,
    spans: Vec<Span>,
}

fn trace(
    next: &mut impl FnMut() -> u64,
    n: usize,
    duration_ms: u64,
    error: bool,
    attributes: &[(&str, &str)],
) -> TestTrace {
    let mut id = next().to_be_bytes().to_vec();
    id.extend(next().to_be_bytes());
    let spans = (0..n)
        .map(|i| Span {
            trace_id: id.clone(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { 1u64.to_be_bytes().to_vec() },
            name: format!("span-{i}"),
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_000_000_000
                + if i == 0 { duration_ms * 1_000_000 } else { 1_000_000 },
            attributes: if i == 0 {
                attributes
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: (*k).into(),
                        value: Some(AnyValue { value: Some(Value::StringValue((*v).into())) }),
                        ..KeyValue::default()
                    })
                    .collect()
            } else {
                Vec::new()
            },
            status: (error && i == n - 1)
                .then(|| Status { code: Code::Error as i32, ..Status::default() }),
            ..Span::default()
        })
        .collect();
    TestTrace { id, spans }
}

fn batch(spans: Vec<Span>) -> Batch {
    Batch::from(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue { value: Some(Value::StringValue("svc".into())) }),
                ..KeyValue::default()
            }],
            ..Resource::default()
        }),
        scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
        schema_url: String::new(),
    }])
}

fn spans_of(out: &mut Output) -> Vec<Span> {
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Traces(r) => r,
            _ => panic!("traces"),
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn policy(name: &str, yaml: &str) -> PolicyConfig {
    let text = format!("name: {name}\n{yaml}");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn sampler(policies: Vec<PolicyConfig>) -> TailSampler {
    let config = Config { policies, decision_wait: Duration::from_secs(10), ..Config::default() };
    assert_eq!(config.problems(), Vec::<(String, String)>::new());
    TailSampler::new(&valid(&config), "tail_sampling")
}

/// Feeds `traces` in `parts` interleaved batches (span i of every trace in part i % parts)
/// within the decision wait, then lets the wait pass; returns what came out.
fn run(sampler: &mut TailSampler, traces: &[TestTrace], parts: usize) -> Vec<Span> {
    run_at(sampler, traces, parts, Instant::now())
}

fn run_at(
    sampler: &mut TailSampler,
    traces: &[TestTrace],
    parts: usize,
    start: Instant,
) -> Vec<Span> {
    let mut out = Output::new();
    sampler.flush(start, &mut out);
    for part in 0..parts {
        let spans: Vec<Span> = traces
            .iter()
            .flat_map(|t| {
                t.spans
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % parts == part)
                    .map(|(_, s)| s.clone())
            })
            .collect();
        sampler.process(batch(spans), &mut out);
        sampler.flush(start + Duration::from_secs(part as u64 + 1), &mut out);
    }
    sampler.flush(start + Duration::from_secs(60), &mut out);
    spans_of(&mut out)
}

/// Trace id → spans that came out.
fn by_trace(spans: &[Span]) -> HashMap<Vec<u8>, Vec<&Span>> {
    let mut map: HashMap<Vec<u8>, Vec<&Span>> = HashMap::new();
    for span in spans {
        map.entry(span.trace_id.clone()).or_default().push(span);
    }
    map
}

fn th(span: &Span) -> Option<Threshold> {
    ot_state(&span.trace_state).th.and_then(Threshold::parse)
}

#[test]
fn kept_traces_are_whole_and_errors_are_always_kept() {
    let mut next = rng(1);
    let traces: Vec<TestTrace> =
        (0..2000).map(|i| trace(&mut next, 10, 5, i % 10 == 0, &[])).collect();
    let mut s = sampler(vec![
        policy("errors", "type: status_code\nstatus_code: {status_codes: [ERROR]}"),
        policy("baseline", "type: probabilistic\nprobabilistic: {sampling_percentage: 10}"),
    ]);
    let out = run(&mut s, &traces, 3);
    let kept = by_trace(&out);
    let ten = Threshold::from_probability(0.1, 4).unwrap();
    for t in &traces {
        let error = t.spans.iter().any(|s| s.status.is_some());
        match kept.get(&t.id) {
            Some(spans) => {
                assert_eq!(spans.len(), 10, "whole trace, each span once");
                let expected = if error { Threshold::ALWAYS } else { ten };
                assert!(spans.iter().all(|s| th(s) == Some(expected)), "th on every span");
            }
            None => {
                assert!(!error, "an error trace is always kept");
                assert!(
                    !ten.keeps(Randomness::from_trace_id(&t.id).unwrap()),
                    "consistent with its randomness"
                );
            }
        }
    }
    let stats = s.stats();
    assert_eq!(stats.traces_kept as usize, kept.len());
    assert_eq!(stats.spans_kept + stats.spans_dropped, 20_000, "every span accounted for");
}

#[test]
fn latency_keeps_exactly_the_traces_over_the_threshold_and_drop_wins() {
    let mut next = rng(2);
    let traces: Vec<TestTrace> = (0..300)
        .map(|i| {
            trace(
                &mut next,
                3,
                i as u64,
                false,
                &[("http.route", if i % 3 == 0 { "/health" } else { "/api" })],
            )
        })
        .collect();
    let mut s = sampler(vec![
        policy("slow", "type: latency\nlatency: {threshold_ms: 100}"),
        policy(
            "no-health",
            "type: drop\ndrop:\n  drop_sub_policy:\n    - name: health\n      type: string_attribute\n      string_attribute: {key: http.route, values: [\"/hea.*\"], enabled_regex_matching: true}",
        ),
    ]);
    let kept: HashSet<Vec<u8>> = run(&mut s, &traces, 1).into_iter().map(|s| s.trace_id).collect();
    for (i, t) in traces.iter().enumerate() {
        let expected = i >= 100 && i % 3 != 0;
        assert_eq!(kept.contains(&t.id), expected, "trace {i}");
    }
}

#[test]
fn late_spans_follow_the_decision_with_the_same_threshold() {
    let mut next = rng(3);
    let traces: Vec<TestTrace> = (0..500).map(|_| trace(&mut next, 4, 5, false, &[])).collect();
    let mut s = sampler(vec![policy(
        "half",
        "type: probabilistic\nprobabilistic: {sampling_percentage: 50}",
    )]);
    let start = Instant::now();
    let mut out = Output::new();
    s.flush(start, &mut out);
    let first: Vec<Span> = traces.iter().flat_map(|t| t.spans[..3].to_vec()).collect();
    s.process(batch(first), &mut out);
    s.flush(start + Duration::from_secs(11), &mut out); // decided
    let decided = by_trace(&spans_of(&mut out)).into_keys().collect::<HashSet<_>>();
    let late: Vec<Span> = traces.iter().map(|t| t.spans[3].clone()).collect();
    s.process(batch(late), &mut out);
    let late_out = spans_of(&mut out);
    let half = Threshold::parse("8").unwrap();
    assert_eq!(late_out.len(), decided.len(), "late spans of kept traces only");
    assert!(late_out.iter().all(|s| decided.contains(&s.trace_id) && th(s) == Some(half)));
    assert_eq!(s.stats().late_spans_kept + s.stats().late_spans_dropped, 500);
}

#[test]
fn memory_stays_under_its_bound_under_rootless_and_giant_traces() {
    let mut next = rng(4);
    let config = Config {
        policies: vec![policy(
            "some",
            "type: probabilistic\nprobabilistic: {sampling_percentage: 20}",
        )],
        max_buffered_bytes: 1 << 20,
        max_spans_per_trace: 5_000,
        num_traces: 100_000,
        decision_wait: Duration::from_secs(30),
        ..Config::default()
    };
    let mut s = TailSampler::new(&valid(&config), "tail_sampling");
    let start = Instant::now();
    let mut out = Output::new();
    s.flush(start, &mut out);
    let mut offered: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut total = 0u64;
    let mut giants: Vec<TestTrace> = Vec::new();
    for round in 0..50 {
        // 2,000 traces whose root never comes (spans 1..4 only), and a giant trace in pieces
        let mut spans = Vec::new();
        for _ in 0..2000 {
            let t = trace(&mut next, 4, 5, false, &[]);
            spans.extend(t.spans[1..].iter().cloned());
            *offered.entry(t.id.clone()).or_default() += 3;
        }
        if round % 10 == 0 {
            giants.push(trace(&mut next, 20_000, 5, false, &[]));
        }
        for g in &giants {
            let piece: Vec<Span> =
                g.spans.iter().skip(round % 10 * 2000).take(2000).cloned().collect();
            *offered.entry(g.id.clone()).or_default() += piece.len();
            spans.extend(piece);
        }
        total += spans.len() as u64;
        s.process(batch(spans), &mut out);
        assert!(
            s.buffered_bytes() <= config.max_buffered_bytes,
            "round {round}: {}",
            s.buffered_bytes()
        );
        s.flush(start + Duration::from_millis(round as u64 * 100), &mut out);
    }
    s.shutdown(start + Duration::from_secs(5), &mut out);
    let stats = s.stats().clone();
    assert!(stats.peak_buffered_bytes <= config.max_buffered_bytes);
    assert!(stats.early.get("max_buffered_bytes").copied().unwrap_or(0) > 0, "{stats:?}");
    assert_eq!(
        stats.spans_kept + stats.spans_dropped,
        total,
        "every span accounted for: {stats:?}"
    );
    // no trace split: a trace's spans come out all or not at all
    let out_spans = spans_of(&mut out);
    let kept = by_trace(&out_spans);
    for (id, spans) in &kept {
        assert_eq!(spans.len(), offered[id], "a kept trace is whole");
    }
}

#[test]
fn adjusted_counts_estimate_the_traffic_under_mixed_policies() {
    let mut next = rng(5);
    let routes = ["/a", "/b", "/c", "/d"];
    let weights = [8000, 1500, 400, 100];
    let mut traffic = || {
        let mut traces = Vec::new();
        for (route, weight) in routes.iter().zip(weights) {
            for i in 0..weight {
                traces.push(trace(&mut next, 2, 5, i % 50 == 0, &[("http.route", route)]));
            }
        }
        traces
    };
    let (learning, traces) = (traffic(), traffic());
    let mut s = sampler(vec![
        policy("errors", "type: status_code\nstatus_code: {status_codes: [ERROR]}"),
        policy("baseline", "type: probabilistic\nprobabilistic: {sampling_percentage: 1}"),
        policy(
            "dynamic",
            "type: dynamic\ndynamic: {key_fields: [http.route], goal_sample_rate: 20, adjustment_interval: 1s}",
        ),
    ]);
    // a first interval learns the rates; the second, a minute later, is measured
    let start = Instant::now();
    run_at(&mut s, &learning, 1, start);
    let out = run_at(&mut s, &traces, 1, start + Duration::from_secs(61));
    let mut estimate = 0.0;
    let mut variance = 0.0;
    for spans in by_trace(&out).values() {
        let t = th(spans[0]).expect("every kept trace has a threshold");
        let w = t.adjusted_count();
        estimate += w;
        variance += w * (w - 1.0);
    }
    let truth = traces.len() as f64;
    let se = variance.sqrt();
    assert!(
        (estimate - truth).abs() <= 3.0 * se.max(1.0),
        "estimate {estimate} vs {truth} ± 3·{se}"
    );
    let kept = by_trace(&out).len();
    assert!(kept < traces.len() / 5, "the dynamic rates sampled: {kept} of {} kept", traces.len());
}

#[test]
fn replicas_decide_alike_and_rate_limits_erase_thresholds() {
    let mut next = rng(6);
    let traces: Vec<TestTrace> = (0..1000).map(|_| trace(&mut next, 2, 5, false, &[])).collect();
    let decisions = |traces: &[TestTrace]| -> HashSet<Vec<u8>> {
        let mut s = sampler(vec![policy(
            "p",
            "type: probabilistic\nprobabilistic: {sampling_percentage: 30}",
        )]);
        run(&mut s, traces, 2).into_iter().map(|s| s.trace_id).collect()
    };
    let all = decisions(&traces);
    // four replicas, each with a quarter of the traces (as the load balancer routes them)
    let mut union = HashSet::new();
    for quarter in traces.chunks(250) {
        union.extend(decisions(quarter));
    }
    assert_eq!(union, all);

    let mut s = sampler(vec![policy(
        "limit",
        "type: rate_limiting\nrate_limiting: {spans_per_second: 100}",
    )]);
    let out = run(&mut s, &traces, 1);
    assert_eq!(out.len(), 100, "50 traces of 2 spans in the one second");
    assert!(out.iter().all(|s| th(s).is_none()));
    assert_eq!(s.stats().erased.get("unreliable"), Some(&100));
}

#[test]
fn composite_respects_its_rate_allocation() {
    let mut next = rng(7);
    let traces: Vec<TestTrace> = (0..2000)
        .map(|i| {
            trace(&mut next, 1, 5, false, &[("tier", if i % 2 == 0 { "gold" } else { "free" })])
        })
        .collect();
    let yaml = "type: composite
composite:
  max_total_spans_per_second: 1000
  policy_order: [gold, everything]
  composite_sub_policy:
    - name: gold
      type: string_attribute
      string_attribute: {key: tier, values: [gold]}
    - name: everything
      type: always_sample
  rate_allocation:
    - {policy: gold, percent: 30}
    - {policy: everything, percent: 20}";
    let mut s = sampler(vec![policy("composite", yaml)]);
    let out = run(&mut s, &traces, 1);
    let gold = out
        .iter()
        .filter(|s| {
            s.attributes.iter().any(|a| {
                a.value == Some(AnyValue { value: Some(Value::StringValue("gold".into())) })
            })
        })
        .count();
    assert_eq!(out.len(), 500, "300 for gold and 200 for the rest in one second");
    assert!(gold >= 300, "gold got its share first: {gold}");
}

#[test]
fn root_arrival_decides_sooner_and_span_limits_decide_at_once() {
    let mut next = rng(8);
    let config = Config {
        policies: vec![policy("all", "type: always_sample")],
        decision_wait_after_root_received: Duration::from_secs(1),
        max_spans_per_trace: 5,
        ..Config::default()
    };
    let mut s = TailSampler::new(&valid(&config), "t");
    let start = Instant::now();
    let mut out = Output::new();
    s.flush(start, &mut out);
    let with_root = trace(&mut next, 3, 5, false, &[]);
    let big = trace(&mut next, 6, 5, false, &[]);
    s.process(batch(with_root.spans.clone()), &mut out);
    s.process(batch(big.spans[..5].to_vec()), &mut out);
    assert_eq!(spans_of(&mut out).len(), 5, "the trace at its span limit leaves at once");
    s.flush(start + Duration::from_millis(1100), &mut out);
    assert_eq!(spans_of(&mut out).len(), 3, "a second after its root");
    s.process(batch(big.spans[5..].to_vec()), &mut out);
    assert_eq!(spans_of(&mut out).len(), 1, "a late span follows its trace");
    assert_eq!(s.stats().early.get("max_spans_per_trace"), Some(&1));
}

#[test]
fn collector_configurations_validate() {
    // the Collector's documented example shape (option names from its README)
    let text = r#"
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache:
  sampled_cache_size: 100000
policies:
  - {name: test-policy-1, type: always_sample}
  - {name: test-policy-2, type: latency, latency: {threshold_ms: 5000}}
  - {name: test-policy-3, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}
  - {name: test-policy-4, type: probabilistic, probabilistic: {sampling_percentage: 10}}
  - {name: test-policy-5, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}
  - {name: test-policy-6, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}
  - {name: test-policy-7, type: string_attribute, string_attribute: {key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10}}
  - {name: test-policy-8, type: rate_limiting, rate_limiting: {spans_per_second: 35}}
  - {name: test-policy-9, type: string_attribute, string_attribute: {key: http.url, values: [\/health, \/metrics], enabled_regex_matching: true, invert_match: true}}
  - {name: test-policy-10, type: span_count, span_count: {min_spans: 2, max_spans: 20}}
  - {name: test-policy-11, type: trace_state, trace_state: {key: key3, values: [value1, value2]}}
  - {name: test-policy-12, type: bytes_limiting, bytes_limiting: {bytes_per_second: 10240, burst_capacity: 20480}}
  - {name: test-policy-13, type: boolean_attribute, boolean_attribute: {key: key4, value: true}}
  - name: and-policy-1
    type: and
    and:
      and_sub_policy:
        - {name: test-and-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}
        - {name: test-and-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}
  - name: composite-policy-1
    type: composite
    composite:
      max_total_spans_per_second: 1000
      policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3]
      composite_sub_policy:
        - {name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: {key: key1, min_value: 50, max_value: 100}}
        - {name: test-composite-policy-2, type: string_attribute, string_attribute: {key: key2, values: [value1, value2]}}
        - {name: test-composite-policy-3, type: always_sample}
      rate_allocation:
        - {policy: test-composite-policy-1, percent: 50}
        - {policy: test-composite-policy-2, percent: 25}
  - name: drop-policy-1
    type: drop
    drop:
      drop_sub_policy:
        - {name: test-drop-policy-1, type: string_attribute, string_attribute: {key: url.path, values: [\/health, \/metrics], enabled_regex_matching: true}}
"#;
    let config: Config = serde_saphyr::from_str(text).unwrap();
    assert_eq!(config.problems(), Vec::<(String, String)>::new());
    assert_eq!(config.policies.len(), 16);
    let bad: Config = serde_saphyr::from_str(
        "policies: [{name: a, type: latency}, {name: a, type: ottl_condition, ottl_condition: {}}]",
    )
    .unwrap();
    let errors: Vec<String> =
        bad.problems().into_iter().map(|(p, m)| format!("{p}: {m}")).collect();
    assert_eq!(
        errors,
        vec![
            "policies[0].latency: type latency needs a `latency` block",
            "policies[1].name: \"a\" is used twice",
            "policies[1].type: ottl_condition is not supported by weir; use the attribute, status_code or latency policies",
        ]
    );
}

fn valid(config: &Config) -> Settings {
    Settings::validate(config.clone()).expect("valid")
}
