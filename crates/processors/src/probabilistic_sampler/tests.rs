use std::collections::HashSet;

use weir_core::Output;
use weir_otlp::proto::{
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};

use super::*;
use crate::sampling::ot_state;

/// Deterministic pseudo-random trace ids.
fn trace_ids(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let mut id = next().to_be_bytes().to_vec();
            id.extend(next().to_be_bytes());
            id
        })
        .collect()
}

fn spans(ids: &[Vec<u8>], tracestate: &str) -> Batch {
    let spans = ids
        .iter()
        .map(|id| Span {
            trace_id: id.clone(),
            span_id: id[..8].to_vec(),
            trace_state: tracestate.into(),
            ..Span::default()
        })
        .collect();
    Batch::from(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
        ..ResourceSpans::default()
    }])
}

fn kept(sampler: &mut Sampler, batch: Batch) -> Vec<Span> {
    let mut out = Output::new();
    sampler.process(batch, &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Traces(r) => r,
            _ => panic!("traces"),
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn sampler(mode: Mode, percentage: f64) -> Sampler {
    let config = Config { mode, sampling_percentage: percentage, ..Config::default() };
    Sampler::new(&config, "probabilistic_sampler")
}

#[test]
fn a_million_traces_at_ten_percent_keep_a_binomial_share_with_unbiased_counts() {
    let n = 1_000_000;
    let ids = trace_ids(n, 42);
    for mode in [Mode::Proportional, Mode::Equalizing, Mode::HashSeed] {
        let mut s = sampler(mode, 10.0);
        let kept = kept(&mut s, spans(&ids, ""));
        let threshold = Threshold::parse(ot_state(&kept[0].trace_state).th.unwrap()).unwrap();
        let p = threshold.probability();
        let expected = n as f64 * p;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        let deviation = (kept.len() as f64 - expected).abs();
        assert!(
            deviation <= 4.0 * sigma,
            "{mode:?}: kept {} vs {expected} ± 4·{sigma}",
            kept.len()
        );
        // Horvitz–Thompson: the sum of adjusted counts estimates the number of traces
        let estimate: f64 = kept
            .iter()
            .map(|s| {
                Threshold::parse(ot_state(&s.trace_state).th.unwrap()).unwrap().adjusted_count()
            })
            .sum();
        let standard_error = (n as f64 * (1.0 - p) / p).sqrt();
        assert!(
            (estimate - n as f64).abs() <= 3.0 * standard_error,
            "{mode:?}: estimate {estimate} vs {n} ± 3·{standard_error}"
        );
    }
}

#[test]
fn lower_rates_keep_subsets_and_replicas_agree() {
    let ids = trace_ids(200_000, 7);
    let set = |percentage: f64| -> HashSet<Vec<u8>> {
        let mut s = sampler(Mode::Proportional, percentage);
        kept(&mut s, spans(&ids, "")).into_iter().map(|s| s.trace_id).collect()
    };
    let (one, ten, fifty) = (set(1.0), set(10.0), set(50.0));
    assert!(!one.is_empty() && one.is_subset(&ten) && ten.is_subset(&fifty));
    // four instances (as on four replicas) given the same traces decide alike
    let mut replicas: Vec<Sampler> = (0..4).map(|_| sampler(Mode::Proportional, 10.0)).collect();
    let mut per_replica: Vec<HashSet<Vec<u8>>> = Vec::new();
    for replica in &mut replicas {
        per_replica.push(kept(replica, spans(&ids, "")).into_iter().map(|s| s.trace_id).collect());
    }
    assert!(per_replica.iter().all(|k| *k == ten), "identical decisions on every replica");
}

#[test]
fn incoming_thresholds_are_never_lowered() {
    let ids = trace_ids(50_000, 3);
    // proportional 50 % after 25 % upstream: 12.5 %
    let mut s = sampler(Mode::Proportional, 50.0);
    let upstream: Vec<Vec<u8>> = ids
        .iter()
        .filter(|id| Threshold::parse("c").unwrap().keeps(Randomness::from_trace_id(id).unwrap()))
        .cloned()
        .collect();
    let out = kept(&mut s, spans(&upstream, "ot=th:c;xx:1,vendor=v"));
    assert!(
        out.iter().all(|s| s.trace_state == "ot=th:e;xx:1,vendor=v"),
        "{:?}",
        out[0].trace_state
    );
    // equalizing at 50 % passes a stricter incoming 12.5 % through unchanged
    let mut s = sampler(Mode::Equalizing, 50.0);
    let strict: Vec<Vec<u8>> = ids
        .iter()
        .filter(|id| Threshold::parse("e").unwrap().keeps(Randomness::from_trace_id(id).unwrap()))
        .cloned()
        .collect();
    let out = kept(&mut s, spans(&strict, "ot=th:e"));
    assert_eq!(out.len(), strict.len(), "all of them already passed a stricter stage");
    assert!(out.iter().all(|s| s.trace_state == "ot=th:e"));
}

#[test]
fn inconsistent_thresholds_are_erased_and_priority_forces_decisions() {
    // randomness 0x01... is below th:8: inconsistent, erased, then sampled afresh at 100 %
    let mut id = vec![0u8; 16];
    id[9] = 0x01;
    id[15] = 1;
    let mut s = sampler(Mode::Proportional, 100.0);
    let out = kept(&mut s, spans(std::slice::from_ref(&id), "ot=th:8"));
    assert_eq!(out[0].trace_state, "ot=th:0");
    let mut s = sampler(Mode::Proportional, 0.0);
    let mut batch = spans(&trace_ids(10, 1), "");
    if let Decoded::Traces(r) = batch.decoded_mut() {
        for (i, span) in r[0].scope_spans[0].spans.iter_mut().enumerate() {
            span.attributes.push(KeyValue {
                key: PRIORITY.into(),
                value: Some(AnyValue { value: Some(Value::IntValue(i as i64 % 2)) }),
                ..KeyValue::default()
            });
        }
    }
    assert_eq!(kept(&mut s, batch).len(), 5, "priority 1 keeps at 0 %, priority 0 drops");
    // no randomness: fail_closed drops, fail open keeps
    let zero = vec![vec![0u8; 16]];
    assert!(kept(&mut sampler(Mode::Proportional, 100.0), spans(&zero, "")).is_empty());
    let open = Config {
        fail_closed: false,
        mode: Mode::Proportional,
        sampling_percentage: 1.0,
        ..Config::default()
    };
    assert_eq!(kept(&mut Sampler::new(&open, "p"), spans(&zero, "")).len(), 1);
}

fn logs(records: Vec<LogRecord>) -> Batch {
    Batch::from(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs { log_records: records, ..ScopeLogs::default() }],
        ..ResourceLogs::default()
    }])
}

fn kept_logs(sampler: &mut Sampler, batch: Batch) -> Vec<LogRecord> {
    let mut out = Output::new();
    sampler.process(batch, &mut out);
    out.drain()
        .flat_map(|m| match m.batch.into_decoded() {
            Decoded::Logs(r) => r,
            _ => panic!("logs"),
        })
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect()
}

fn attribute<'a>(record: &'a LogRecord, key: &str) -> Option<&'a str> {
    record.attributes.iter().find(|kv| kv.key == key).and_then(|kv| string(kv.value.as_ref()))
}

#[test]
fn logs_sample_by_trace_id_or_by_an_attribute_and_carry_their_threshold() {
    let ids = trace_ids(20_000, 9);
    let records: Vec<LogRecord> =
        ids.iter().map(|id| LogRecord { trace_id: id.clone(), ..LogRecord::default() }).collect();
    let mut s = sampler(Mode::Proportional, 25.0);
    let out = kept_logs(&mut s, logs(records));
    assert!((4_500..5_500).contains(&out.len()), "{}", out.len());
    assert!(out.iter().all(|r| attribute(r, LOG_THRESHOLD) == Some("c")));

    let config = Config {
        mode: Mode::Proportional,
        sampling_percentage: 25.0,
        attribute_source: AttributeSource::Record,
        from_attribute: "user.id".into(),
        sampling_priority: "priority".into(),
        ..Config::default()
    };
    let mut s = Sampler::new(&config, "p");
    let record = |user: usize, priority: Option<i64>| {
        let mut attributes = vec![KeyValue {
            key: "user.id".into(),
            value: Some(AnyValue { value: Some(Value::StringValue(format!("u{user}"))) }),
            ..KeyValue::default()
        }];
        if let Some(p) = priority {
            attributes.push(KeyValue {
                key: "priority".into(),
                value: Some(AnyValue { value: Some(Value::IntValue(p)) }),
                ..KeyValue::default()
            });
        }
        LogRecord { attributes, ..LogRecord::default() }
    };
    let first = kept_logs(&mut s, logs((0..20_000).map(|u| record(u % 1000, None)).collect()));
    let users: HashSet<&str> = first.iter().filter_map(|r| attribute(r, "user.id")).collect();
    assert!((180..320).contains(&users.len()), "{} of 1000 users", users.len());
    assert_eq!(first.len(), users.len() * 20, "all records of a kept user are kept");
    assert!(first.iter().all(|r| attribute(r, LOG_RANDOMNESS).is_some_and(|rv| rv.len() == 14)));
    let forced = kept_logs(&mut s, logs((0..1000).map(|u| record(u, Some(100))).collect()));
    assert_eq!(forced.len(), 1000, "a priority of 100 % keeps every record");
}
