//! The `tail_sampling` processor: whole traces are held until decided, then kept or dropped
//! together, every kept span carrying the threshold it was kept at.
//!
//! **Holding.** Spans are grouped by trace id as they arrive (a fragment per trace and
//! incoming resource). A trace is decided `decision_wait` after its first span, or
//! `decision_wait_after_root_received` after its root span if that comes sooner, or at once
//! when it reaches `max_spans_per_trace`. Two bounds are never passed: `num_traces` traces
//! and `max_buffered_bytes` bytes of spans (protobuf-encoded size). Reaching one decides the
//! oldest traces early (`on_memory_pressure: decide_oldest`, the default) or drops them
//! (`drop_oldest`), counted by reason; a fragment larger than the whole byte bound is decided
//! on its own without being held.
//!
//! **Deciding.** Each policy votes (see `policy`): any `drop` drops; otherwise the trace is
//! kept iff its randomness (`rv`, else the trace id) is at least the smallest threshold of
//! the keep-votes (an OR of consistent samplers), and every span gets `th` = the larger of
//! that threshold and its own incoming one. A trace kept only by a policy that is not a
//! probability (`rate_limiting`, `bytes_limiting`, `composite`, a salted `probabilistic`)
//! has `th` erased, counted as `threshold_erased{reason=unreliable}`.
//!
//! **Late spans.** Decisions are remembered (`decision_cache`, first in first out): a span of
//! a kept trace that arrives later is passed on at once with the same threshold, one of a
//! dropped trace is dropped; traces are never split by the bounds or by lateness, as long as
//! their decision is remembered.

mod config;
mod dynamic;
mod policy;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::Instant,
};

pub use config::{
    And, BooleanAttribute, BytesLimiting, Composite, Config, DecisionCache, Drop, Dynamic, Latency,
    Not, NumericAttribute, PolicyConfig, PolicyType, Pressure, Probabilistic, RateAllocation,
    RateLimiting, SpanCount, StatusCode, StringAttribute, TraceState,
};
use policy::{Policy, TraceView, Vote};
use prost::Message as _;
use weir_core::{
    Batch, Component, ConfigError, Declaration, Decoded, Output, Processor, Signal, Signals,
    Stability, declare::BuildProcessor,
};
use weir_otlp::{
    proto::trace::v1::{ResourceSpans, Span},
    regroup::partition,
};

use crate::{
    sampling::{self, Threshold},
    telemetry,
};

type TraceId = [u8; 16];

/// A trace being held.
struct Trace {
    fragments: Vec<ResourceSpans>,
    spans: u64,
    bytes: usize,
    first_seen: u64,
    sequence: u64,
}

/// A bounded first-in-first-out map of decisions.
struct Remembered<V> {
    map: HashMap<TraceId, V>,
    order: VecDeque<TraceId>,
    capacity: usize,
}

impl<V> Remembered<V> {
    fn new(capacity: usize) -> Remembered<V> {
        Remembered { map: HashMap::new(), order: VecDeque::new(), capacity }
    }

    fn insert(&mut self, id: TraceId, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.map.remove(&oldest);
        }
        if self.map.insert(id, value).is_none() {
            self.order.push_back(id);
        }
    }
}

/// What the sampler did (also published as self-metrics).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    /// Traces kept.
    pub traces_kept: u64,
    /// Traces dropped (by policies or by `drop_oldest`).
    pub traces_dropped: u64,
    /// Spans passed on (late ones included).
    pub spans_kept: u64,
    /// Spans dropped (late ones included).
    pub spans_dropped: u64,
    /// Late spans of kept traces passed on.
    pub late_spans_kept: u64,
    /// Late spans of dropped traces dropped.
    pub late_spans_dropped: u64,
    /// Traces decided (or dropped) before their time, by reason.
    pub early: BTreeMap<&'static str, u64>,
    /// Thresholds erased, by reason.
    pub erased: BTreeMap<&'static str, u64>,
    /// The most bytes held at once.
    pub peak_buffered_bytes: usize,
}

/// Self-metric handles.
struct Counters {
    id: String,
    policies: Vec<[metrics::Counter; 3]>,
    spans_kept: metrics::Counter,
    spans_dropped: metrics::Counter,
    traces_in_memory: metrics::Gauge,
    buffered_bytes: metrics::Gauge,
    decision_latency: metrics::Histogram,
}

/// The `tail_sampling` processor.
pub struct TailSampler {
    config: Config,
    policies: Vec<Policy>,
    traces: HashMap<TraceId, Trace>,
    order: VecDeque<(TraceId, u64)>,
    roots: VecDeque<(TraceId, u64, u64)>,
    sampled: Remembered<Option<Threshold>>,
    dropped: Remembered<()>,
    buffered_bytes: usize,
    started: Option<Instant>,
    /// Milliseconds on the processor's clock (advanced by `flush`).
    now: u64,
    sequence: u64,
    pending: Vec<ResourceSpans>,
    stats: Stats,
    counters: Counters,
}

/// A validated `tail_sampling` configuration, its policies compiled.
#[derive(Debug, Clone)]
pub struct Settings {
    config: Config,
    policies: Vec<Policy>,
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "tail_sampling",
        aliases: &[],
        signals: Signals::Pipeline(&[Signal::Traces]),
        stability: Stability::Beta,
        summary: "whole-trace sampling decisions by policies, memory-bounded",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let config = weir_core::declare::checked(config.clone(), config.problems())?;
        let mut policies = Vec::new();
        let mut errors = Vec::new();
        for (i, policy) in config.policies.iter().enumerate() {
            match Policy::new(policy, config.sampling_precision) {
                Ok(policy) => policies.push(policy),
                Err(message) => errors.push(ConfigError::new(format!("policies[{i}]"), message)),
            }
        }
        if errors.is_empty() { Ok(Settings { config, policies }) } else { Err(errors) }
    }
}

impl BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn Processor> {
        Box::new(TailSampler::new(self, id))
    }
}

impl TailSampler {
    /// A sampler `id` with validated `settings`.
    pub fn new(settings: &Settings, id: &str) -> TailSampler {
        let (config, policies) = (&settings.config, settings.policies.clone());
        let labels = [("processor", id.to_owned())];
        let counters = Counters {
            id: id.to_owned(),
            policies: policies
                .iter()
                .map(|p| {
                    ["sampled", "not_sampled", "dropped"].map(|decision| {
                        metrics::counter!(telemetry::SAMPLING_TRACES, "processor" => id.to_owned(), "policy" => p.name.clone(), "decision" => decision)
                    })
                })
                .collect(),
            spans_kept: metrics::counter!(telemetry::SAMPLING_SPANS, "processor" => id.to_owned(), "decision" => "sampled"),
            spans_dropped: metrics::counter!(telemetry::SAMPLING_SPANS, "processor" => id.to_owned(), "decision" => "not_sampled"),
            traces_in_memory: metrics::gauge!(telemetry::SAMPLING_TRACES_IN_MEMORY, &labels),
            buffered_bytes: metrics::gauge!(telemetry::SAMPLING_BUFFERED_BYTES, &labels),
            decision_latency: metrics::histogram!(telemetry::SAMPLING_DECISION_LATENCY, &labels),
        };
        TailSampler {
            policies,
            traces: HashMap::with_capacity(config.expected_new_traces_per_sec.min(1 << 20)),
            order: VecDeque::new(),
            roots: VecDeque::new(),
            sampled: Remembered::new(config.decision_cache.sampled_cache_size),
            dropped: Remembered::new(config.decision_cache.non_sampled_cache_size),
            buffered_bytes: 0,
            started: None,
            now: 0,
            sequence: 0,
            pending: Vec::new(),
            stats: Stats::default(),
            counters,
            config: config.clone(),
        }
    }

    /// What the sampler did so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Bytes of spans held now.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Traces held now.
    pub fn traces_in_memory(&self) -> usize {
        self.traces.len()
    }

    fn early(&mut self, reason: &'static str) {
        *self.stats.early.entry(reason).or_default() += 1;
        metrics::counter!(telemetry::SAMPLING_EARLY_DECISIONS, "processor" => self.counters.id.clone(), "reason" => reason).increment(1);
    }

    fn erased(&mut self, reason: &'static str, n: u64) {
        *self.stats.erased.entry(reason).or_default() += n;
        metrics::counter!(telemetry::SAMPLING_THRESHOLD_ERASED, "processor" => self.counters.id.clone(), "reason" => reason).increment(n);
    }

    /// Takes one trace's fragment of an incoming batch.
    fn ingest(&mut self, id: TraceId, mut fragment: ResourceSpans, late: &mut Vec<ResourceSpans>) {
        let spans = span_count(&fragment);
        if self.late(id, &mut fragment, spans, late) {
            return;
        }
        let bytes = fragment.encoded_len();
        if !self.traces.contains_key(&id) && self.traces.len() >= self.config.num_traces {
            self.relieve("num_traces");
        }
        while self.buffered_bytes + bytes > self.config.max_buffered_bytes
            && !self.traces.is_empty()
        {
            self.relieve("max_buffered_bytes");
        }
        // relieving may have decided this very trace: its fragment is late now
        if self.late(id, &mut fragment, spans, late) {
            return;
        }
        if bytes > self.config.max_buffered_bytes {
            self.early("too_large");
            let trace = Trace {
                fragments: vec![fragment],
                spans,
                bytes: 0,
                first_seen: self.now,
                sequence: 0,
            };
            self.decide(id, trace);
            return;
        }
        let has_root = fragment
            .scope_spans
            .iter()
            .any(|s| s.spans.iter().any(|span| span.parent_span_id.is_empty()));
        let now = self.now;
        let trace = match self.traces.entry(id) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                self.sequence += 1;
                self.order.push_back((id, self.sequence));
                entry.insert(Trace {
                    fragments: Vec::new(),
                    spans: 0,
                    bytes: 0,
                    first_seen: now,
                    sequence: self.sequence,
                })
            }
        };
        trace.fragments.push(fragment);
        trace.spans += spans;
        trace.bytes += bytes;
        let (sequence, total) = (trace.sequence, trace.spans);
        self.buffered_bytes += bytes;
        self.stats.peak_buffered_bytes = self.stats.peak_buffered_bytes.max(self.buffered_bytes);
        let after_root = self.config.decision_wait_after_root_received;
        if has_root && !after_root.is_zero() {
            self.roots.push_back((id, sequence, now + after_root.as_millis() as u64));
        }
        if total >= self.config.max_spans_per_trace as u64 {
            self.early("max_spans_per_trace");
            if let Some(trace) = self.take(&id) {
                self.decide(id, trace);
            }
        }
    }

    /// Handles a fragment of an already decided trace; false when the trace is undecided.
    fn late(
        &mut self,
        id: TraceId,
        fragment: &mut ResourceSpans,
        spans: u64,
        late: &mut Vec<ResourceSpans>,
    ) -> bool {
        if let Some(threshold) = self.sampled.map.get(&id).copied() {
            let erased = rewrite(fragment, threshold);
            if erased > 0 {
                self.erased("inconsistent", erased);
            }
            self.stats.late_spans_kept += spans;
            self.stats.spans_kept += spans;
            self.counters.spans_kept.increment(spans);
            metrics::counter!(telemetry::SAMPLING_LATE_SPANS, "processor" => self.counters.id.clone(), "decision" => "sampled").increment(spans);
            late.push(std::mem::take(fragment));
            return true;
        }
        if self.dropped.map.contains_key(&id) {
            self.stats.late_spans_dropped += spans;
            self.stats.spans_dropped += spans;
            self.counters.spans_dropped.increment(spans);
            metrics::counter!(telemetry::SAMPLING_LATE_SPANS, "processor" => self.counters.id.clone(), "decision" => "not_sampled").increment(spans);
            return true;
        }
        false
    }

    fn take(&mut self, id: &TraceId) -> Option<Trace> {
        let trace = self.traces.remove(id)?;
        self.buffered_bytes -= trace.bytes;
        Some(trace)
    }

    /// Decides (or drops) the oldest trace held.
    fn relieve(&mut self, reason: &'static str) {
        while let Some((id, sequence)) = self.order.pop_front() {
            if self.traces.get(&id).is_none_or(|t| t.sequence != sequence) {
                continue;
            }
            let trace = self.take(&id).expect("checked above");
            self.early(reason);
            match self.config.on_memory_pressure {
                Pressure::DecideOldest => self.decide(id, trace),
                Pressure::DropOldest => self.drop_trace(id, &trace),
            }
            return;
        }
    }

    fn drop_trace(&mut self, id: TraceId, trace: &Trace) {
        self.stats.traces_dropped += 1;
        self.stats.spans_dropped += trace.spans;
        self.counters.spans_dropped.increment(trace.spans);
        self.dropped.insert(id, ());
    }

    /// Runs the policies on a trace taken out of the buffer and keeps or drops it.
    fn decide(&mut self, id: TraceId, mut trace: Trace) {
        let first =
            trace.fragments.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).next();
        let randomness =
            first.and_then(|s| sampling::incoming(&s.trace_state, &s.trace_id).randomness);
        let view = TraceView {
            fragments: &trace.fragments,
            randomness,
            spans: trace.spans,
            bytes: trace.bytes as u64,
            now: self.now as f64 / 1000.0,
        };
        let mut drop = false;
        let mut reliable: Option<Threshold> = None;
        let mut unreliable = false;
        for (policy, counters) in self.policies.iter_mut().zip(&self.counters.policies) {
            let vote = policy.vote(&view);
            let decision = match vote {
                Vote::Drop => {
                    drop = true;
                    2
                }
                Vote::Keep(t) => {
                    reliable = Some(reliable.map_or(t, |r| r.min(t)));
                    if randomness.map_or(t == Threshold::ALWAYS, |r| t.keeps(r)) { 0 } else { 1 }
                }
                Vote::KeepUnreliable => {
                    unreliable = true;
                    0
                }
                Vote::NoMatch => 1,
            };
            counters[decision].increment(1);
        }
        let keeps_reliably =
            reliable.is_some_and(|t| randomness.map_or(t == Threshold::ALWAYS, |r| t.keeps(r)));
        let latency = self.now.saturating_sub(trace.first_seen) as f64 / 1000.0;
        self.counters.decision_latency.record(latency);
        if drop || !(keeps_reliably || unreliable) {
            self.drop_trace(id, &trace);
            return;
        }
        let threshold = if keeps_reliably { reliable } else { None };
        if threshold.is_none() {
            self.erased("unreliable", trace.spans);
        }
        let mut inconsistent = 0;
        for fragment in &mut trace.fragments {
            inconsistent += rewrite(fragment, threshold);
        }
        if inconsistent > 0 {
            self.erased("inconsistent", inconsistent);
        }
        self.stats.traces_kept += 1;
        self.stats.spans_kept += trace.spans;
        self.counters.spans_kept.increment(trace.spans);
        self.sampled.insert(id, threshold);
        self.pending.append(&mut trace.fragments);
    }

    fn emit(&mut self, out: &mut Output) {
        if !self.pending.is_empty() {
            out.push_message(Batch::from(std::mem::take(&mut self.pending)).into());
        }
        self.counters.traces_in_memory.set(self.traces.len() as f64);
        self.counters.buffered_bytes.set(self.buffered_bytes as f64);
    }
}

/// Writes `th` = max(`threshold`, the span's own) on every span, or erases it for `None`;
/// returns the number of incoming thresholds that were malformed or inconsistent.
fn rewrite(fragment: &mut ResourceSpans, threshold: Option<Threshold>) -> u64 {
    let mut erased = 0;
    for span in fragment.scope_spans.iter_mut().flat_map(|s| s.spans.iter_mut()) {
        let incoming = sampling::incoming(&span.trace_state, &span.trace_id);
        erased += u64::from(incoming.erased.is_some());
        let th = threshold.map(|t| incoming.threshold.map_or(t, |own| own.max(t)));
        if th != incoming.threshold || incoming.erased.is_some() {
            span.trace_state = sampling::with_threshold(&span.trace_state, th);
        }
    }
    erased
}

fn span_count(fragment: &ResourceSpans) -> u64 {
    fragment.scope_spans.iter().map(|s| s.spans.len() as u64).sum()
}

impl Processor for TailSampler {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        if batch.signal() != Signal::Traces {
            out.push(batch);
            return;
        }
        let Decoded::Traces(resources) = batch.into_decoded() else { unreachable!("traces") };
        let mut late = Vec::new();
        let mut unsampleable = Vec::new();
        let by_trace = partition(
            resources,
            |_| (),
            |_, span: &Span| TraceId::try_from(span.trace_id.as_slice()).ok(),
        );
        for (id, fragments) in by_trace {
            match id {
                Some(id) => {
                    for fragment in fragments {
                        self.ingest(id, fragment, &mut late);
                    }
                }
                // no trace to hold them with: passed on as they are
                None => unsampleable = fragments,
            }
        }
        late.append(&mut unsampleable);
        if !late.is_empty() {
            out.push(Batch::from(late));
        }
        self.emit(out);
    }

    fn flush(&mut self, now: Instant, out: &mut Output) {
        let started = *self.started.get_or_insert(now);
        self.now = now.saturating_duration_since(started).as_millis() as u64;
        let wait = self.config.decision_wait.as_millis() as u64;
        while let Some(&(id, sequence)) = self.order.front() {
            match self.traces.get(&id) {
                Some(trace) if trace.sequence == sequence => {
                    if trace.first_seen + wait > self.now {
                        break;
                    }
                    self.order.pop_front();
                    let trace = self.take(&id).expect("present");
                    self.decide(id, trace);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        while let Some(&(id, sequence, due)) = self.roots.front() {
            if due > self.now {
                break;
            }
            self.roots.pop_front();
            if self.traces.get(&id).is_some_and(|t| t.sequence == sequence) {
                let trace = self.take(&id).expect("present");
                self.decide(id, trace);
            }
        }
        self.emit(out);
    }

    fn shutdown(&mut self, now: Instant, out: &mut Output) {
        self.flush(now, out);
        let ids: Vec<(TraceId, u64)> = self.order.drain(..).collect();
        for (id, sequence) in ids {
            if self.traces.get(&id).is_none_or(|t| t.sequence != sequence) {
                continue;
            }
            let trace = self.take(&id).expect("present");
            self.early("shutdown");
            if self.config.drop_pending_traces_on_shutdown {
                self.drop_trace(id, &trace);
            } else {
                self.decide(id, trace);
            }
        }
        self.emit(out);
    }
}
