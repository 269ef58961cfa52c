//! Options of the `tail_sampling` processor: the Collector's names and defaults, plus weir's
//! memory bounds and the `dynamic` policy.

use std::time::Duration;

use serde::Deserialize;

const MIB: usize = 1 << 20;

/// `processors.tail_sampling`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `decision_wait`: how long after its first span a trace is decided (default 30s).
    #[serde(with = "weir_core::duration")]
    pub decision_wait: Duration,
    /// `decision_wait_after_root_received`: decide this long after the root span arrives,
    /// if sooner (default 0: off).
    #[serde(with = "weir_core::duration")]
    pub decision_wait_after_root_received: Duration,
    /// `num_traces`: traces held at once (default 50,000); past it the oldest is decided
    /// early.
    pub num_traces: usize,
    /// `expected_new_traces_per_sec`: sizes the trace table up front (default 0).
    pub expected_new_traces_per_sec: usize,
    /// `decision_cache`: decisions remembered for late spans.
    pub decision_cache: DecisionCache,
    /// `sample_on_first_match`: accepted; the decision is the same either way (an OR of the
    /// policies), and weir always writes the smallest threshold of the policies that keep.
    pub sample_on_first_match: bool,
    /// `drop_pending_traces_on_shutdown`: drop (counted) rather than decide what is held at
    /// shutdown (default false).
    pub drop_pending_traces_on_shutdown: bool,
    /// `policies`.
    pub policies: Vec<PolicyConfig>,
    /// `max_buffered_bytes` (weir): the most span bytes (protobuf-encoded) held (default
    /// 512 MiB). Decoded spans take several times their encoded size in memory: measured,
    /// 101 MB encoded (49,760 traces of five realistic spans) held in 630 MB of RSS.
    pub max_buffered_bytes: usize,
    /// `on_memory_pressure` (weir): what happens to the oldest traces when a bound is
    /// reached: `decide_oldest` (default) or `drop_oldest`.
    pub on_memory_pressure: Pressure,
    /// `max_spans_per_trace` (weir): a trace reaching it is decided at once (default 10,000).
    pub max_spans_per_trace: usize,
    /// `sampling_precision` (weir): hex digits of the thresholds written (default 4).
    pub sampling_precision: u8,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            decision_wait: Duration::from_secs(30),
            decision_wait_after_root_received: Duration::ZERO,
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            decision_cache: DecisionCache::default(),
            sample_on_first_match: false,
            drop_pending_traces_on_shutdown: false,
            policies: Vec::new(),
            max_buffered_bytes: 512 * MIB,
            on_memory_pressure: Pressure::DecideOldest,
            max_spans_per_trace: 10_000,
            sampling_precision: 4,
        }
    }
}

/// `decision_cache`. Weir's defaults are not the Collector's 0 (off): without a cache a late
/// span starts a new trace and splits the old one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionCache {
    /// `sampled_cache_size`: kept trace ids and their thresholds (default 100,000).
    pub sampled_cache_size: usize,
    /// `non_sampled_cache_size`: dropped trace ids (default 100,000).
    pub non_sampled_cache_size: usize,
}

impl Default for DecisionCache {
    fn default() -> DecisionCache {
        DecisionCache { sampled_cache_size: 100_000, non_sampled_cache_size: 100_000 }
    }
}

/// `on_memory_pressure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pressure {
    /// Decide the oldest traces early.
    DecideOldest,
    /// Drop the oldest traces (counted).
    DropOldest,
}

/// One policy: `name`, `type` and the options block named after the type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `name`.
    pub name: String,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: PolicyType,
    /// `latency`.
    pub latency: Option<Latency>,
    /// `numeric_attribute`.
    pub numeric_attribute: Option<NumericAttribute>,
    /// `string_attribute`.
    pub string_attribute: Option<StringAttribute>,
    /// `boolean_attribute`.
    pub boolean_attribute: Option<BooleanAttribute>,
    /// `probabilistic`.
    pub probabilistic: Option<Probabilistic>,
    /// `status_code`.
    pub status_code: Option<StatusCode>,
    /// `rate_limiting`.
    pub rate_limiting: Option<RateLimiting>,
    /// `bytes_limiting`.
    pub bytes_limiting: Option<BytesLimiting>,
    /// `span_count`.
    pub span_count: Option<SpanCount>,
    /// `trace_state`.
    pub trace_state: Option<TraceState>,
    /// `and`.
    pub and: Option<And>,
    /// `not`.
    pub not: Option<Not>,
    /// `drop`.
    pub drop: Option<Drop>,
    /// `composite`.
    pub composite: Option<Composite>,
    /// `dynamic` (weir).
    pub dynamic: Option<Dynamic>,
    /// `ottl_condition`: not supported (a validation error).
    pub ottl_condition: Option<serde::de::IgnoredAny>,
}

/// `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    /// Keeps every trace.
    AlwaysSample,
    /// Trace duration in a range.
    Latency,
    /// An integer attribute in a range.
    NumericAttribute,
    /// A string attribute among values or matching regular expressions.
    StringAttribute,
    /// A boolean attribute with a value.
    BooleanAttribute,
    /// A share of traces, consistently by their randomness.
    Probabilistic,
    /// A span status among codes.
    StatusCode,
    /// Spans per second (not probabilistic).
    RateLimiting,
    /// Bytes per second (not probabilistic).
    BytesLimiting,
    /// The number of spans in a range.
    SpanCount,
    /// A tracestate key with one of some values.
    TraceState,
    /// A span with the sampled trace flag.
    TraceFlags,
    /// All sub-policies.
    And,
    /// The opposite of a sub-policy.
    Not,
    /// Drop when all sub-policies match.
    Drop,
    /// Sub-policies with shares of a span rate.
    Composite,
    /// Per-key rates for a goal sample rate (weir).
    Dynamic,
    /// OTTL conditions (not supported).
    OttlCondition,
}

/// `latency`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// `threshold_ms`: the shortest duration kept.
    pub threshold_ms: u64,
    /// `upper_threshold_ms`: the longest (0: no limit).
    #[serde(default)]
    pub upper_threshold_ms: u64,
}

/// `numeric_attribute`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericAttribute {
    /// `key`.
    pub key: String,
    /// `min_value`.
    #[serde(default)]
    pub min_value: Option<i64>,
    /// `max_value`.
    #[serde(default)]
    pub max_value: Option<i64>,
    /// `invert_match`.
    #[serde(default)]
    pub invert_match: bool,
}

/// `string_attribute`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringAttribute {
    /// `key`.
    pub key: String,
    /// `values`.
    pub values: Vec<String>,
    /// `enabled_regex_matching`: `values` are regular expressions.
    #[serde(default)]
    pub enabled_regex_matching: bool,
    /// `cache_max_size`: accepted (regex results are not cached).
    #[serde(default)]
    pub cache_max_size: usize,
    /// `invert_match`.
    #[serde(default)]
    pub invert_match: bool,
}

/// `boolean_attribute`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BooleanAttribute {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: bool,
    /// `invert_match`.
    #[serde(default)]
    pub invert_match: bool,
}

/// `probabilistic`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probabilistic {
    /// `sampling_percentage`.
    pub sampling_percentage: f64,
    /// `hash_salt`: with a salt the randomness is a salted hash of the trace id, which is
    /// not consistent with other stages, so a trace kept by it alone gets no threshold.
    #[serde(default)]
    pub hash_salt: String,
}

/// `status_code`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCode {
    /// `status_codes`: `OK`, `ERROR`, `UNSET`.
    pub status_codes: Vec<String>,
}

/// `rate_limiting`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimiting {
    /// `spans_per_second`.
    pub spans_per_second: u64,
}

/// `bytes_limiting`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BytesLimiting {
    /// `bytes_per_second`.
    pub bytes_per_second: u64,
    /// `burst_capacity` (default twice `bytes_per_second`).
    #[serde(default)]
    pub burst_capacity: u64,
}

/// `span_count`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanCount {
    /// `min_spans`.
    #[serde(default)]
    pub min_spans: u64,
    /// `max_spans` (0: no limit).
    #[serde(default)]
    pub max_spans: u64,
}

/// `trace_state`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceState {
    /// `key`.
    pub key: String,
    /// `values`.
    pub values: Vec<String>,
}

/// `and`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct And {
    /// `and_sub_policy`.
    pub and_sub_policy: Vec<PolicyConfig>,
}

/// `not`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Not {
    /// `not_sub_policy`.
    pub not_sub_policy: Box<PolicyConfig>,
}

/// `drop`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drop {
    /// `drop_sub_policy`: the trace is dropped when all of them match.
    pub drop_sub_policy: Vec<PolicyConfig>,
}

/// `composite`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    /// `max_total_spans_per_second`.
    pub max_total_spans_per_second: u64,
    /// `policy_order`: sub-policy names, in evaluation order.
    pub policy_order: Vec<String>,
    /// `composite_sub_policy`.
    pub composite_sub_policy: Vec<PolicyConfig>,
    /// `rate_allocation`: each sub-policy's share of the span rate.
    #[serde(default)]
    pub rate_allocation: Vec<RateAllocation>,
}

/// An entry of `rate_allocation`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateAllocation {
    /// `policy`.
    pub policy: String,
    /// `percent`.
    pub percent: u64,
}

/// `dynamic` (weir): Refinery-style per-key sample rates for a goal average rate, each key's
/// share of the kept budget proportional to the log10 of its volume, recomputed every
/// `adjustment_interval` from the previous interval's counts, applied as thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dynamic {
    /// `key_fields`: span or resource attributes whose values make the key (`root.` prefix:
    /// the root span's only).
    pub key_fields: Vec<String>,
    /// `goal_sample_rate`: keep one in this many traces on average.
    pub goal_sample_rate: u64,
    /// `adjustment_interval` (default 30s).
    #[serde(default = "default_interval", with = "weir_core::duration")]
    pub adjustment_interval: Duration,
    /// `max_keys`: distinct keys counted per interval; the rest share one key (default 500).
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_max_keys() -> usize {
    500
}

impl Config {
    /// Every problem, as `(path below the processor, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.decision_wait.is_zero() {
            errors.push(("decision_wait".into(), "must be > 0".into()));
        }
        if self.num_traces == 0 {
            errors.push(("num_traces".into(), "must be > 0".into()));
        }
        if self.max_buffered_bytes == 0 {
            errors.push(("max_buffered_bytes".into(), "must be > 0".into()));
        }
        if self.max_spans_per_trace == 0 {
            errors.push(("max_spans_per_trace".into(), "must be > 0".into()));
        }
        if !(1..=14).contains(&self.sampling_precision) {
            errors.push(("sampling_precision".into(), "must be 1 to 14".into()));
        }
        if self.policies.is_empty() {
            errors.push(("policies".into(), "must name at least one policy".into()));
        }
        let mut names = std::collections::HashSet::new();
        for (i, policy) in self.policies.iter().enumerate() {
            if !names.insert(policy.name.as_str()) {
                errors.push((
                    format!("policies[{i}].name"),
                    format!("{:?} is used twice", policy.name),
                ));
            }
            policy.validate(&format!("policies[{i}]"), &mut errors);
        }
        errors
    }
}

impl PolicyConfig {
    fn validate(&self, path: &str, errors: &mut Vec<(String, String)>) {
        let mut error = |field: &str, message: String| {
            errors.push((format!("{path}.{field}"), message));
        };
        if self.name.is_empty() {
            error("name", "must be set".into());
        }
        let block = |present: bool, name: &str, error: &mut dyn FnMut(&str, String)| {
            if !present {
                error(name, format!("type {name} needs a `{name}` block"));
            }
        };
        match self.kind {
            PolicyType::AlwaysSample | PolicyType::TraceFlags => {}
            PolicyType::Latency => block(self.latency.is_some(), "latency", &mut error),
            PolicyType::NumericAttribute => {
                block(self.numeric_attribute.is_some(), "numeric_attribute", &mut error)
            }
            PolicyType::StringAttribute => match &self.string_attribute {
                None => block(false, "string_attribute", &mut error),
                Some(s) if s.enabled_regex_matching => {
                    for (i, value) in s.values.iter().enumerate() {
                        if let Err(e) = regex::Regex::new(value) {
                            error(&format!("string_attribute.values[{i}]"), format!("invalid regular expression: {e}"));
                        }
                    }
                }
                Some(_) => {}
            },
            PolicyType::BooleanAttribute => {
                block(self.boolean_attribute.is_some(), "boolean_attribute", &mut error)
            }
            PolicyType::Probabilistic => match &self.probabilistic {
                None => block(false, "probabilistic", &mut error),
                Some(p) if !(0.0..=100.0).contains(&p.sampling_percentage) => error(
                    "probabilistic.sampling_percentage",
                    format!("must be 0 to 100, got {}", p.sampling_percentage),
                ),
                Some(_) => {}
            },
            PolicyType::StatusCode => match &self.status_code {
                None => block(false, "status_code", &mut error),
                Some(s) => {
                    for (i, code) in s.status_codes.iter().enumerate() {
                        if !["OK", "ERROR", "UNSET"].contains(&code.as_str()) {
                            error(&format!("status_code.status_codes[{i}]"), format!("{code:?} is not OK, ERROR or UNSET"));
                        }
                    }
                }
            },
            PolicyType::RateLimiting => match &self.rate_limiting {
                None => block(false, "rate_limiting", &mut error),
                Some(r) if r.spans_per_second == 0 => {
                    error("rate_limiting.spans_per_second", "must be > 0".into())
                }
                Some(_) => {}
            },
            PolicyType::BytesLimiting => match &self.bytes_limiting {
                None => block(false, "bytes_limiting", &mut error),
                Some(b) if b.bytes_per_second == 0 => {
                    error("bytes_limiting.bytes_per_second", "must be > 0".into())
                }
                Some(_) => {}
            },
            PolicyType::SpanCount => block(self.span_count.is_some(), "span_count", &mut error),
            PolicyType::TraceState => block(self.trace_state.is_some(), "trace_state", &mut error),
            PolicyType::And => match &self.and {
                None => block(false, "and", &mut error),
                Some(and) => {
                    for (i, sub) in and.and_sub_policy.iter().enumerate() {
                        sub.validate(&format!("{path}.and.and_sub_policy[{i}]"), errors);
                    }
                }
            },
            PolicyType::Not => match &self.not {
                None => block(false, "not", &mut error),
                Some(not) => not.not_sub_policy.validate(&format!("{path}.not.not_sub_policy"), errors),
            },
            PolicyType::Drop => match &self.drop {
                None => block(false, "drop", &mut error),
                Some(drop) => {
                    for (i, sub) in drop.drop_sub_policy.iter().enumerate() {
                        sub.validate(&format!("{path}.drop.drop_sub_policy[{i}]"), errors);
                    }
                }
            },
            PolicyType::Composite => match &self.composite {
                None => block(false, "composite", &mut error),
                Some(c) => {
                    let names: Vec<&str> = c.composite_sub_policy.iter().map(|p| p.name.as_str()).collect();
                    for (i, name) in c.policy_order.iter().enumerate() {
                        if !names.contains(&name.as_str()) {
                            error(&format!("composite.policy_order[{i}]"), format!("{name:?} is not a composite_sub_policy"));
                        }
                    }
                    for (i, allocation) in c.rate_allocation.iter().enumerate() {
                        if !names.contains(&allocation.policy.as_str()) {
                            error(&format!("composite.rate_allocation[{i}].policy"), format!("{:?} is not a composite_sub_policy", allocation.policy));
                        }
                    }
                    if c.rate_allocation.iter().map(|a| a.percent).sum::<u64>() > 100 {
                        error("composite.rate_allocation", "percents add up to more than 100".into());
                    }
                    for (i, sub) in c.composite_sub_policy.iter().enumerate() {
                        sub.validate(&format!("{path}.composite.composite_sub_policy[{i}]"), errors);
                    }
                }
            },
            PolicyType::Dynamic => match &self.dynamic {
                None => block(false, "dynamic", &mut error),
                Some(d) => {
                    if d.key_fields.is_empty() {
                        error("dynamic.key_fields", "must name at least one field".into());
                    }
                    if d.goal_sample_rate == 0 {
                        error("dynamic.goal_sample_rate", "must be > 0".into());
                    }
                    if d.adjustment_interval.is_zero() {
                        error("dynamic.adjustment_interval", "must be > 0".into());
                    }
                }
            },
            PolicyType::OttlCondition => error(
                "type",
                "ottl_condition is not supported by weir; use the attribute, status_code or latency policies".into(),
            ),
        }
    }
}
