//! The `batch` processor, with the Collector's options and behaviour:
//!
//! - once `send_batch_size` items are pending, they leave at once, in batches of at most
//!   `send_batch_max_size` items (0: no maximum) — `send_batch_size` is a trigger, not a size;
//! - items pending for `timeout` leave regardless of their number;
//! - `timeout: 0` sends every batch at once, split only by `send_batch_max_size`.
//!
//! A batch merges many requests, so what leaves carries no request metadata, unless
//! `metadata_keys` names the keys to batch by: then each distinct combination of their
//! values is batched apart and its batches carry those keys (as in the Collector), so a
//! `headers_setter` after `batch` still sees each tenant's header. Past
//! `metadata_cardinality_limit` combinations, batches of a new combination pass through
//! unbatched with their metadata (counted in
//! `weir_processor_batch_metadata_cardinality_exceeded_total` and logged): the Collector
//! refuses them instead, weir keeps what it was given. A batch also carries the
//! acknowledgements of every request it merged, so a receiver waiting for a persistent queue
//! is answered only once its items are on disk.
//!
//! Processors have no clock: the timeout runs from the first pipeline tick that sees items
//! pending, so a batch waits between `timeout` and `timeout` + one tick (100 ms by default).

mod config;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, time::Instant};

pub use config::Config;
use weir_core::{Ack, Batch, Message, Metadata, Output, Processor, log_limit::LogLimiter};

/// Groups items by size and time, apart per combination of `metadata_keys` values.
#[derive(Debug)]
pub struct Batcher {
    id: String,
    config: Config,
    shards: HashMap<Metadata, Shard>,
    /// The log of batches passed through past the cardinality limit, on the pipeline's time.
    overflow_log: LogLimiter,
}

/// The pending items of one combination of metadata values.
#[derive(Debug, Default)]
struct Shard {
    pending: Option<Batch>,
    pending_items: usize,
    /// The acknowledgements of the pending items' requests.
    acks: Ack,
    /// The tick at which pending items were first seen.
    since: Option<Instant>,
}

impl Batcher {
    /// A batcher with `config`, for processor `id`.
    pub fn new(id: &str, config: &Config) -> Batcher {
        Batcher {
            id: id.to_owned(),
            config: config.clone(),
            shards: HashMap::new(),
            overflow_log: LogLimiter::default(),
        }
    }

    fn overflow(&self, batch: Batch, metadata: Metadata, out: &mut Output) {
        metrics::counter!(crate::telemetry::BATCH_METADATA_CARDINALITY_EXCEEDED,
            "processor" => self.id.clone())
        .increment(1);
        if let Some(suppressed) = self.overflow_log.check_at(out.unix_nanos() / 1_000_000) {
            tracing::warn!(processor = %self.id, limit = self.config.metadata_cardinality_limit,
                suppressed,
                "batch: too many metadata_keys combinations; batches of new ones pass unbatched");
        }
        out.push_message(Message { batch, metadata, ack: out.ack().clone(), route: None });
    }
}

impl Shard {
    /// Emits pending items in batches of at most `max` while at least `min` items are
    /// pending.
    fn emit_while(&mut self, min: usize, max: usize, metadata: &Metadata, out: &mut Output) {
        while self.pending_items >= min.max(1) {
            let Some(pending) = self.pending.as_mut() else { break };
            let metadata = metadata.clone();
            if max == 0 || self.pending_items <= max {
                let batch = self.pending.take().expect("checked above");
                out.push_message(Message { batch, metadata, ack: self.acks.take(), route: None });
                self.pending_items = 0;
            } else {
                // which requests the front holds is not tracked: it carries them all
                let batch = pending.split_front(max);
                out.push_message(Message { batch, metadata, ack: self.acks.clone(), route: None });
                self.pending_items -= max;
            }
        }
        if self.pending_items == 0 {
            self.pending = None;
            self.since = None;
        }
    }
}

impl Processor for Batcher {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        let items = batch.item_count();
        if items == 0 {
            return;
        }
        let key = if self.config.metadata_keys.is_empty() {
            Metadata::default()
        } else {
            out.metadata().select(&self.config.metadata_keys)
        };
        let limit = self.config.metadata_cardinality_limit;
        if !self.shards.contains_key(&key) && limit > 0 && self.shards.len() >= limit {
            return self.overflow(batch, key, out);
        }
        let shard = self.shards.entry(key.clone()).or_default();
        match shard.pending.as_mut() {
            None => shard.pending = Some(batch),
            Some(pending) => {
                if let Err(other) = pending.append(batch) {
                    // One batcher serves one pipeline of one signal; a batch of another signal
                    // can only come from a wiring error, and is passed on rather than lost.
                    out.push(other);
                    return;
                }
            }
        }
        shard.pending_items += items;
        shard.acks.merge(out.ack());
        let trigger = if self.config.timeout.is_zero() { 1 } else { self.config.send_batch_size };
        shard.emit_while(trigger, self.config.send_batch_max_size, &key, out);
    }

    fn flush(&mut self, now: Instant, out: &mut Output) {
        for (metadata, shard) in &mut self.shards {
            if shard.pending_items == 0 {
                continue;
            }
            let since = *shard.since.get_or_insert(now);
            if now.duration_since(since) >= self.config.timeout {
                shard.emit_while(1, self.config.send_batch_max_size, metadata, out);
            }
        }
    }

    fn shutdown(&mut self, _now: Instant, out: &mut Output) {
        for (metadata, shard) in &mut self.shards {
            shard.emit_while(1, self.config.send_batch_max_size, metadata, out);
        }
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "batch",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "groups items into batches by size and time",
    }
);

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        Box::new(Batcher::new(id, self))
    }
}
