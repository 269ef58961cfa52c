//! Policies compiled from their configuration, and how each votes on a whole trace.
//!
//! A vote is `Keep(T)` (keep if the trace's randomness is at least threshold `T`: filters
//! vote `T = 0`, probabilistic and dynamic policies their own `T`), `KeepUnreliable` (keep
//! for a reason that is not a probability: rate and byte limits), `NoMatch` or `Drop`.
//! Keep-votes combine as an OR, which for consistent samplers is the smallest threshold.

use std::collections::HashSet;

use regex::Regex;
use weir_otlp::proto::{
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::{ResourceSpans, Span, status::StatusCode as Code},
};

use super::{config, dynamic::Rates};
use crate::sampling::{Randomness, Threshold};

/// What a policy says about a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vote {
    /// Keep iff the trace's randomness is at least the threshold.
    Keep(Threshold),
    /// Keep, for a reason that is not a probability.
    KeepUnreliable,
    /// No opinion.
    NoMatch,
    /// Drop, whatever other policies say.
    Drop,
}

/// A trace as the policies see it.
pub(crate) struct TraceView<'a> {
    pub(crate) fragments: &'a [ResourceSpans],
    pub(crate) randomness: Option<Randomness>,
    pub(crate) spans: u64,
    pub(crate) bytes: u64,
    /// Seconds on the processor's clock.
    pub(crate) now: f64,
}

impl TraceView<'_> {
    fn spans(&self) -> impl Iterator<Item = (&ResourceSpans, &Span)> {
        self.fragments.iter().flat_map(|r| {
            r.scope_spans.iter().flat_map(move |s| s.spans.iter().map(move |span| (r, span)))
        })
    }

    /// Whether any span (or its resource) has attribute `key` satisfying `test`.
    fn any_attribute(&self, key: &str, test: impl Fn(&AnyValue) -> bool) -> bool {
        let find = |attributes: &[KeyValue]| {
            attributes.iter().any(|kv| kv.key == key && kv.value.as_ref().is_some_and(&test))
        };
        self.fragments.iter().any(|r| r.resource.as_ref().is_some_and(|res| find(&res.attributes)))
            || self.spans().any(|(_, span)| find(&span.attributes))
    }

    fn keeps(&self, threshold: Threshold) -> bool {
        match self.randomness {
            Some(r) => threshold.keeps(r),
            None => threshold == Threshold::ALWAYS,
        }
    }
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) name: String,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Always,
    Latency { min_ns: u64, max_ns: Option<u64> },
    Numeric { key: String, min: i64, max: i64, invert: bool },
    Strings { key: String, exact: HashSet<String>, patterns: Vec<Regex>, invert: bool },
    Boolean { key: String, value: bool, invert: bool },
    Probabilistic { threshold: Option<Threshold>, salt: Option<u64> },
    Status(Vec<i32>),
    RateLimit { per_second: u64, second: u64, spent: u64 },
    BytesLimit { per_second: f64, capacity: f64, tokens: f64, at: f64 },
    SpanCount { min: u64, max: u64 },
    TraceState { key: String, values: HashSet<String> },
    TraceFlags,
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
    Composite { order: Vec<(Policy, u64)>, second: u64, spent: Vec<u64> },
    Dynamic { fields: Vec<String>, rates: Rates, interval: f64, next: f64, precision: u8 },
}

impl Policy {
    /// Compiles a policy configuration; the error names what is missing or malformed.
    pub(crate) fn new(config: &config::PolicyConfig, precision: u8) -> Result<Policy, String> {
        let missing =
            || format!("policy {:?} of type {:?} needs its options", config.name, config.kind);
        use config::PolicyType as T;
        let rule = match config.kind {
            T::AlwaysSample => Rule::Always,
            T::Latency => {
                let l = config.latency.as_ref().ok_or_else(missing)?;
                let ms = 1_000_000;
                Rule::Latency {
                    min_ns: l.threshold_ms * ms,
                    max_ns: (l.upper_threshold_ms > 0).then_some(l.upper_threshold_ms * ms),
                }
            }
            T::NumericAttribute => {
                let n = config.numeric_attribute.as_ref().ok_or_else(missing)?;
                Rule::Numeric {
                    key: n.key.clone(),
                    min: n.min_value.unwrap_or(i64::MIN),
                    max: n.max_value.unwrap_or(i64::MAX),
                    invert: n.invert_match,
                }
            }
            T::StringAttribute => {
                let s = config.string_attribute.as_ref().ok_or_else(missing)?;
                let (exact, patterns) = if s.enabled_regex_matching {
                    let patterns = s.values.iter().map(|v| {
                        Regex::new(v).map_err(|e| format!("invalid regular expression {v:?}: {e}"))
                    });
                    (HashSet::new(), patterns.collect::<Result<_, _>>()?)
                } else {
                    (s.values.iter().cloned().collect(), Vec::new())
                };
                Rule::Strings { key: s.key.clone(), exact, patterns, invert: s.invert_match }
            }
            T::BooleanAttribute => {
                let b = config.boolean_attribute.as_ref().ok_or_else(missing)?;
                Rule::Boolean { key: b.key.clone(), value: b.value, invert: b.invert_match }
            }
            T::Probabilistic => {
                let p = config.probabilistic.as_ref().ok_or_else(missing)?;
                Rule::Probabilistic {
                    threshold: Threshold::from_probability(
                        p.sampling_percentage / 100.0,
                        precision,
                    ),
                    salt: (!p.hash_salt.is_empty())
                        .then(|| xxhash_rust::xxh3::xxh3_64(p.hash_salt.as_bytes())),
                }
            }
            T::StatusCode => {
                let s = config.status_code.as_ref().ok_or_else(missing)?;
                Rule::Status(
                    s.status_codes
                        .iter()
                        .map(|c| match c.as_str() {
                            "OK" => Ok(Code::Ok as i32),
                            "ERROR" => Ok(Code::Error as i32),
                            "UNSET" => Ok(Code::Unset as i32),
                            other => Err(format!(
                                "unknown status code {other:?}: expected OK, ERROR or UNSET"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            T::RateLimiting => Rule::RateLimit {
                per_second: config.rate_limiting.as_ref().ok_or_else(missing)?.spans_per_second,
                second: u64::MAX,
                spent: 0,
            },
            T::BytesLimiting => {
                let b = config.bytes_limiting.as_ref().ok_or_else(missing)?;
                let capacity =
                    if b.burst_capacity > 0 { b.burst_capacity } else { 2 * b.bytes_per_second };
                Rule::BytesLimit {
                    per_second: b.bytes_per_second as f64,
                    capacity: capacity as f64,
                    tokens: capacity as f64,
                    at: 0.0,
                }
            }
            T::SpanCount => {
                let s = config.span_count.as_ref().ok_or_else(missing)?;
                Rule::SpanCount {
                    min: s.min_spans,
                    max: if s.max_spans == 0 { u64::MAX } else { s.max_spans },
                }
            }
            T::TraceState => {
                let t = config.trace_state.as_ref().ok_or_else(missing)?;
                Rule::TraceState { key: t.key.clone(), values: t.values.iter().cloned().collect() }
            }
            T::TraceFlags => Rule::TraceFlags,
            T::And => Rule::And(
                config
                    .and
                    .as_ref()
                    .ok_or_else(missing)?
                    .and_sub_policy
                    .iter()
                    .map(|p| Policy::new(p, precision))
                    .collect::<Result<_, _>>()?,
            ),
            T::Not => Rule::Not(Box::new(Policy::new(
                &config.not.as_ref().ok_or_else(missing)?.not_sub_policy,
                precision,
            )?)),
            T::Drop => Rule::Drop(
                config
                    .drop
                    .as_ref()
                    .ok_or_else(missing)?
                    .drop_sub_policy
                    .iter()
                    .map(|p| Policy::new(p, precision))
                    .collect::<Result<_, _>>()?,
            ),
            T::Composite => {
                let c = config.composite.as_ref().ok_or_else(missing)?;
                let allocated: u64 = c.rate_allocation.iter().map(|a| a.percent).sum();
                let unallocated = c
                    .policy_order
                    .iter()
                    .filter(|name| !c.rate_allocation.iter().any(|a| &a.policy == *name))
                    .count() as u64;
                let order = c
                    .policy_order
                    .iter()
                    .filter_map(|name| c.composite_sub_policy.iter().find(|p| &p.name == name))
                    .map(|sub| -> Result<_, String> {
                        let percent = match c.rate_allocation.iter().find(|a| a.policy == sub.name)
                        {
                            Some(a) => a.percent,
                            None => (100 - allocated.min(100)) / unallocated.max(1),
                        };
                        let rate = c.max_total_spans_per_second * percent / 100;
                        Ok((Policy::new(sub, precision)?, rate))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let spent = vec![0; order.len()];
                Rule::Composite { order, second: u64::MAX, spent }
            }
            T::Dynamic => {
                let d = config.dynamic.as_ref().ok_or_else(missing)?;
                let interval = d.adjustment_interval.as_secs_f64();
                Rule::Dynamic {
                    fields: d.key_fields.clone(),
                    rates: Rates::new(d.goal_sample_rate, d.max_keys),
                    interval,
                    next: interval,
                    precision,
                }
            }
            T::OttlCondition => {
                return Err("the ottl_condition policy is not supported yet".to_owned());
            }
        };
        Ok(Policy { name: config.name.clone(), rule })
    }

    /// This policy's vote on `trace`.
    pub(crate) fn vote(&mut self, trace: &TraceView<'_>) -> Vote {
        let filter =
            |matched: bool| if matched { Vote::Keep(Threshold::ALWAYS) } else { Vote::NoMatch };
        match &mut self.rule {
            Rule::Always => Vote::Keep(Threshold::ALWAYS),
            Rule::Latency { min_ns, max_ns } => {
                let start = trace.spans().map(|(_, s)| s.start_time_unix_nano).min().unwrap_or(0);
                let end = trace.spans().map(|(_, s)| s.end_time_unix_nano).max().unwrap_or(0);
                let duration = end.saturating_sub(start);
                filter(duration >= *min_ns && max_ns.is_none_or(|max| duration <= max))
            }
            Rule::Numeric { key, min, max, invert } => {
                let matched = trace.any_attribute(
                    key,
                    |v| matches!(v.value, Some(Value::IntValue(i)) if (*min..=*max).contains(&i)),
                );
                filter(matched != *invert)
            }
            Rule::Strings { key, exact, patterns, invert } => {
                let matched = trace.any_attribute(key, |v| match &v.value {
                    Some(Value::StringValue(s)) => {
                        exact.contains(s) || patterns.iter().any(|p| p.is_match(s))
                    }
                    _ => false,
                });
                filter(matched != *invert)
            }
            Rule::Boolean { key, value, invert } => {
                let matched =
                    trace.any_attribute(key, |v| v.value == Some(Value::BoolValue(*value)));
                filter(matched != *invert)
            }
            Rule::Probabilistic { threshold, salt } => match (threshold, salt) {
                (None, _) => Vote::NoMatch,
                (Some(t), None) => Vote::Keep(*t),
                (Some(t), Some(salt)) => {
                    let id =
                        trace.spans().next().map(|(_, s)| s.trace_id.as_slice()).unwrap_or(&[]);
                    let r = Randomness::new(xxhash_rust::xxh3::xxh3_64_with_seed(id, *salt) >> 8);
                    if t.keeps(r) { Vote::KeepUnreliable } else { Vote::NoMatch }
                }
            },
            Rule::Status(codes) => filter(trace.spans().any(|(_, s)| {
                codes.contains(&s.status.as_ref().map_or(Code::Unset as i32, |st| st.code))
            })),
            Rule::RateLimit { per_second, second, spent } => {
                let now = trace.now as u64;
                if *second != now {
                    *second = now;
                    *spent = 0;
                }
                if *spent + trace.spans <= *per_second {
                    *spent += trace.spans;
                    Vote::KeepUnreliable
                } else {
                    Vote::NoMatch
                }
            }
            Rule::BytesLimit { per_second, capacity, tokens, at } => {
                *tokens = (*tokens + (trace.now - *at).max(0.0) * *per_second).min(*capacity);
                *at = trace.now;
                if trace.bytes as f64 <= *tokens {
                    *tokens -= trace.bytes as f64;
                    Vote::KeepUnreliable
                } else {
                    Vote::NoMatch
                }
            }
            Rule::SpanCount { min, max } => filter((*min..=*max).contains(&trace.spans)),
            Rule::TraceState { key, values } => filter(trace.spans().any(|(_, s)| {
                s.trace_state
                    .split(',')
                    .filter_map(|e| e.trim().split_once('='))
                    .any(|(k, v)| k == key && values.contains(v))
            })),
            Rule::TraceFlags => filter(trace.spans().any(|(_, s)| s.flags & 0x01 != 0)),
            Rule::And(subs) => {
                let mut threshold = Threshold::ALWAYS;
                let mut unreliable = false;
                for sub in subs {
                    match sub.vote(trace) {
                        Vote::Keep(t) => threshold = threshold.max(t),
                        Vote::KeepUnreliable => unreliable = true,
                        Vote::NoMatch | Vote::Drop => return Vote::NoMatch,
                    }
                }
                match (unreliable, trace.keeps(threshold)) {
                    (false, _) => Vote::Keep(threshold),
                    (true, true) => Vote::KeepUnreliable,
                    (true, false) => Vote::NoMatch,
                }
            }
            Rule::Not(sub) => match sub.vote(trace) {
                Vote::NoMatch => Vote::Keep(Threshold::ALWAYS),
                Vote::Keep(t) if trace.keeps(t) => Vote::NoMatch,
                // the complement of a probability is not a consistent sampler
                Vote::Keep(_) => Vote::KeepUnreliable,
                Vote::KeepUnreliable | Vote::Drop => Vote::NoMatch,
            },
            Rule::Drop(subs) => {
                let all = subs.iter_mut().all(|sub| match sub.vote(trace) {
                    Vote::Keep(t) => trace.keeps(t),
                    Vote::KeepUnreliable | Vote::Drop => true,
                    Vote::NoMatch => false,
                });
                if all && !subs.is_empty() { Vote::Drop } else { Vote::NoMatch }
            }
            Rule::Composite { order, second, spent } => {
                let now = trace.now as u64;
                if *second != now {
                    *second = now;
                    spent.iter_mut().for_each(|s| *s = 0);
                }
                for (i, (sub, budget)) in order.iter_mut().enumerate() {
                    let keeps = match sub.vote(trace) {
                        Vote::Keep(t) => trace.keeps(t),
                        Vote::KeepUnreliable => true,
                        Vote::NoMatch | Vote::Drop => false,
                    };
                    if keeps && spent[i] + trace.spans <= *budget {
                        spent[i] += trace.spans;
                        return Vote::KeepUnreliable;
                    }
                }
                Vote::NoMatch
            }
            Rule::Dynamic { fields, rates, interval, next, precision } => {
                while trace.now >= *next {
                    rates.adjust();
                    *next += *interval;
                }
                let rate = rates.observe(key_of(trace, fields));
                match Threshold::from_probability(1.0 / rate as f64, *precision) {
                    Some(t) => Vote::Keep(t),
                    None => Vote::NoMatch,
                }
            }
        }
    }
}

/// The sorted distinct values of `fields` over the trace (`root.` prefix: the root span's).
fn key_of(trace: &TraceView<'_>, fields: &[String]) -> String {
    let mut values: Vec<String> = Vec::new();
    for field in fields {
        let (root_only, key) = match field.strip_prefix("root.") {
            Some(key) => (true, key),
            None => (false, field.as_str()),
        };
        for (resource, span) in trace.spans() {
            if root_only && !span.parent_span_id.is_empty() {
                continue;
            }
            let attributes = span
                .attributes
                .iter()
                .chain(resource.resource.iter().flat_map(|r| r.attributes.iter()));
            for kv in attributes.filter(|kv| kv.key == key) {
                let text = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    Some(Value::IntValue(i)) => i.to_string(),
                    Some(Value::BoolValue(b)) => b.to_string(),
                    Some(Value::DoubleValue(d)) => d.to_string(),
                    _ => continue,
                };
                values.push(text);
            }
        }
    }
    values.sort();
    values.dedup();
    values.truncate(100);
    values.join("•")
}
