//! The `probabilistic_sampler` processor, with the Collector's options: stateless, per span
//! or log record, consistent with OpenTelemetry probability sampling.
//!
//! - `proportional`: the outgoing threshold multiplies the incoming probability by
//!   `sampling_percentage`; `equalizing`: it is the larger of the incoming threshold and that
//!   of `sampling_percentage`. Both decide on 56 bits of randomness (`rv`, else the trace id)
//!   and write `th` (spans: `ot=th:` in the tracestate; logs: `sampling.threshold`).
//! - `hash_seed` (the default): decides on 14 bits of an FNV-1a hash of `hash_seed` and the
//!   trace id (or a log attribute), so that tiers with different seeds sample independently;
//!   the `th` written is the proportional product of the incoming probability and the
//!   percentage actually applied (a multiple of 1/16384).
//! - An incoming threshold is never lowered; a malformed one, or one the item's randomness
//!   contradicts, is erased and counted.
//! - `sampling.priority` on a span (or the log attribute named by `sampling_priority`): 0
//!   drops, any other value keeps (logs: the value is the percentage to apply).
//! - Items without randomness (an all-zero trace id, no attribute) are dropped with
//!   `fail_closed: true` (the default), else passed on unchanged.

mod config;
#[cfg(test)]
mod tests;

pub use config::{AttributeSource, Config, Mode};
use weir_core::{Batch, Decoded, Output, Processor, Signal};
use weir_otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};

use crate::sampling::{self, Randomness, Threshold};

/// The span attribute that forces a decision.
const PRIORITY: &str = "sampling.priority";
/// Log attributes carrying what spans carry in their tracestate.
const LOG_THRESHOLD: &str = "sampling.threshold";
const LOG_RANDOMNESS: &str = "sampling.randomness";

/// Counters of one sampler.
struct Counters {
    kept: [metrics::Counter; 2],
    dropped: [metrics::Counter; 2],
    erased_malformed: metrics::Counter,
    erased_inconsistent: metrics::Counter,
    no_randomness: metrics::Counter,
}

/// The `probabilistic_sampler` processor.
pub struct Sampler {
    config: Config,
    counters: Counters,
}

/// What the sampler decided for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep it, writing this threshold (`None`: leave the item's threshold as it is).
    Keep(Option<Threshold>),
    /// Drop it.
    Drop,
}

/// What the sampler knows of an item.
struct Item {
    randomness: Option<Randomness>,
    /// 14 bits of the seeded hash, for `hash_seed`.
    hash14: Option<u32>,
    incoming: Option<Threshold>,
    erased: Option<&'static str>,
    /// A forced decision (priority 0 or not), or the percentage a log record asks for.
    priority: Option<Priority>,
}

#[derive(Debug, Clone, Copy)]
enum Priority {
    Drop,
    Keep,
    Percentage(f64),
}

impl Sampler {
    /// A sampler `id` with `config`.
    pub fn new(config: &Config, id: &str) -> Sampler {
        let counter = |name: &'static str, signal: &'static str, decision: &'static str| metrics::counter!(name, "processor" => id.to_owned(), "otel_signal" => signal, "decision" => decision);
        let erased = |reason: &'static str| metrics::counter!(crate::telemetry::SAMPLING_THRESHOLD_ERASED, "processor" => id.to_owned(), "reason" => reason);
        Sampler {
            config: config.clone(),
            counters: Counters {
                kept: [
                    counter(crate::telemetry::SAMPLING_ITEMS, "traces", "sampled"),
                    counter(crate::telemetry::SAMPLING_ITEMS, "logs", "sampled"),
                ],
                dropped: [
                    counter(crate::telemetry::SAMPLING_ITEMS, "traces", "not_sampled"),
                    counter(crate::telemetry::SAMPLING_ITEMS, "logs", "not_sampled"),
                ],
                erased_malformed: erased("malformed"),
                erased_inconsistent: erased("inconsistent"),
                no_randomness: metrics::counter!(crate::telemetry::SAMPLING_NO_RANDOMNESS, "processor" => id.to_owned()),
            },
        }
    }

    /// Decides for one item.
    fn decide(&self, item: &Item) -> Decision {
        let mut percentage = self.config.sampling_percentage;
        match item.priority {
            Some(Priority::Drop) => return Decision::Drop,
            Some(Priority::Keep) => return Decision::Keep(item.incoming),
            Some(Priority::Percentage(p)) => percentage = p,
            None => {}
        }
        let p = (percentage / 100.0).clamp(0.0, 1.0);
        let incoming = item.incoming.unwrap_or(Threshold::ALWAYS);
        let precision = self.config.sampling_precision;
        match self.config.mode {
            Mode::HashSeed => {
                let Some(hash) = item.hash14 else { return self.no_randomness(item) };
                let scaled = (p * 16384.0).round() as u32;
                if hash >= scaled {
                    return Decision::Drop;
                }
                let applied = f64::from(scaled) / 16384.0;
                match incoming.proportional(applied, precision) {
                    Some(t) => Decision::Keep(Some(t)),
                    None => Decision::Drop,
                }
            }
            Mode::Proportional | Mode::Equalizing => {
                let Some(randomness) = item.randomness else { return self.no_randomness(item) };
                let threshold = if self.config.mode == Mode::Proportional {
                    incoming.proportional(p, precision)
                } else {
                    Threshold::from_probability(p, precision).map(|t| t.max(incoming))
                };
                match threshold {
                    Some(t) if t.keeps(randomness) => Decision::Keep(Some(t)),
                    _ => Decision::Drop,
                }
            }
        }
    }

    fn no_randomness(&self, item: &Item) -> Decision {
        self.counters.no_randomness.increment(1);
        if self.config.fail_closed { Decision::Drop } else { Decision::Keep(item.incoming) }
    }

    fn count(&self, signal: usize, item: &Item, decision: Decision) {
        match item.erased {
            Some("malformed") => self.counters.erased_malformed.increment(1),
            Some(_) => self.counters.erased_inconsistent.increment(1),
            None => {}
        }
        match decision {
            Decision::Keep(_) => self.counters.kept[signal].increment(1),
            Decision::Drop => self.counters.dropped[signal].increment(1),
        }
    }

    fn hash14(&self, bytes: &[u8]) -> u32 {
        // FNV-1a (32-bit) over the seed's bytes and then the item's.
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.config.hash_seed.to_le_bytes().iter().chain(bytes) {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        hash & 0x3fff
    }

    /// Randomness of a log record keyed by an attribute value: 56 bits of a seeded XXH3.
    fn attribute_randomness(&self, bytes: &[u8]) -> Randomness {
        let seed = u64::from(self.config.hash_seed);
        Randomness::new(xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed) >> 8)
    }
}

impl Processor for Sampler {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        if batch.signal() == Signal::Metrics {
            out.push(batch);
            return;
        }
        match batch.decoded_mut() {
            Decoded::Traces(resources) => {
                for resource in resources.iter_mut() {
                    for scope in &mut resource.scope_spans {
                        scope.spans.retain_mut(|span| {
                            let read = sampling::incoming(&span.trace_state, &span.trace_id);
                            let item = Item {
                                randomness: read.randomness,
                                hash14: (span.trace_id.len() == 16
                                    && span.trace_id.iter().any(|b| *b != 0))
                                .then(|| self.hash14(&span.trace_id)),
                                incoming: read.threshold,
                                erased: read.erased,
                                priority: span_priority(&span.attributes),
                            };
                            let decision = self.decide(&item);
                            self.count(0, &item, decision);
                            match decision {
                                Decision::Drop => false,
                                Decision::Keep(threshold) => {
                                    if threshold != item.incoming || item.erased.is_some() {
                                        span.trace_state =
                                            sampling::with_threshold(&span.trace_state, threshold);
                                    }
                                    true
                                }
                            }
                        });
                    }
                    resource.scope_spans.retain(|s| !s.spans.is_empty());
                }
                resources.retain(|r| !r.scope_spans.is_empty());
            }
            Decoded::Logs(resources) => {
                for resource in resources.iter_mut() {
                    for scope in &mut resource.scope_logs {
                        scope.log_records.retain_mut(|record| {
                            let (item, from_attribute) = self.log_item(record);
                            let decision = self.decide(&item);
                            self.count(1, &item, decision);
                            match decision {
                                Decision::Drop => false,
                                Decision::Keep(threshold) => {
                                    if threshold != item.incoming || item.erased.is_some() {
                                        set_string(
                                            &mut record.attributes,
                                            LOG_THRESHOLD,
                                            threshold.map(Threshold::encode),
                                        );
                                    }
                                    if let (true, Some(r)) = (from_attribute, item.randomness) {
                                        let rv = format!("{:014x}", r.value());
                                        set_string(
                                            &mut record.attributes,
                                            LOG_RANDOMNESS,
                                            Some(rv),
                                        );
                                    }
                                    true
                                }
                            }
                        });
                    }
                    resource.scope_logs.retain(|s| !s.log_records.is_empty());
                }
                resources.retain(|r| !r.scope_logs.is_empty());
            }
            Decoded::Metrics(_) => {}
        }
        if !batch.is_empty() {
            out.push(batch);
        }
    }
}

impl Sampler {
    /// What a log record carries: randomness from its trace id, its `sampling.randomness`
    /// attribute, or (with `attribute_source: record`) a hash of `from_attribute`; whether
    /// the randomness came from that attribute.
    fn log_item(&self, record: &weir_otlp::proto::logs::v1::LogRecord) -> (Item, bool) {
        let attribute = |key: &str| record.attributes.iter().find(|kv| kv.key == key);
        let mut erased = None;
        let incoming = match attribute(LOG_THRESHOLD).and_then(|kv| string(kv.value.as_ref())) {
            Some(th) => Threshold::parse(th).or_else(|| {
                erased = Some("malformed");
                None
            }),
            None => None,
        };
        let explicit = attribute(LOG_RANDOMNESS)
            .and_then(|kv| string(kv.value.as_ref()))
            .and_then(Randomness::parse);
        let (randomness, hash14, from_attribute) = match self.config.attribute_source {
            AttributeSource::TraceId => {
                let valid = record.trace_id.len() == 16 && record.trace_id.iter().any(|b| *b != 0);
                (
                    explicit.or_else(|| Randomness::from_trace_id(&record.trace_id)),
                    valid.then(|| self.hash14(&record.trace_id)),
                    false,
                )
            }
            AttributeSource::Record => match attribute(&self.config.from_attribute) {
                Some(kv) => {
                    let bytes = value_bytes(kv.value.as_ref());
                    (
                        explicit.or_else(|| Some(self.attribute_randomness(&bytes))),
                        Some(self.hash14(&bytes)),
                        explicit.is_none(),
                    )
                }
                None => (explicit, None, false),
            },
        };
        let mut incoming = incoming;
        if let (Some(t), Some(r)) = (incoming, randomness)
            && !t.keeps(r)
        {
            incoming = None;
            erased = Some("inconsistent");
        }
        let priority = (!self.config.sampling_priority.is_empty())
            .then(|| attribute(&self.config.sampling_priority))
            .flatten()
            .and_then(|kv| number(kv.value.as_ref()))
            .map(|p| if p <= 0.0 { Priority::Drop } else { Priority::Percentage(p) });
        (Item { randomness, hash14, incoming, erased, priority }, from_attribute)
    }
}

fn span_priority(attributes: &[KeyValue]) -> Option<Priority> {
    let value = attributes.iter().find(|kv| kv.key == PRIORITY)?;
    let number = number(value.value.as_ref())?;
    Some(if number == 0.0 { Priority::Drop } else { Priority::Keep })
}

fn number(value: Option<&AnyValue>) -> Option<f64> {
    match value?.value.as_ref()? {
        Value::IntValue(i) => Some(*i as f64),
        Value::DoubleValue(d) => Some(*d),
        Value::StringValue(s) => s.parse().ok(),
        Value::BoolValue(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn string(value: Option<&AnyValue>) -> Option<&str> {
    match value?.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn value_bytes(value: Option<&AnyValue>) -> Vec<u8> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.as_bytes().to_vec(),
        Some(Value::BytesValue(b)) => b.clone(),
        Some(Value::IntValue(i)) => i.to_string().into_bytes(),
        Some(other) => format!("{other:?}").into_bytes(),
        None => Vec::new(),
    }
}

/// Sets (or with `None` removes) a string attribute.
fn set_string(attributes: &mut Vec<KeyValue>, key: &str, value: Option<String>) {
    attributes.retain(|kv| kv.key != key);
    if let Some(value) = value {
        attributes.push(KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(Value::StringValue(value)) }),
            ..KeyValue::default()
        });
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "probabilistic_sampler",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[
            weir_core::Signal::Traces,
            weir_core::Signal::Logs,
        ]),
        stability: weir_core::Stability::Beta,
        summary: "consistent probability sampling of spans and log records",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(Sampler::new(self, id))
    }
}
