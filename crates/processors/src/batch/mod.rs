//! The `batch` processor, with the Collector's options and behaviour:
//!
//! - once `send_batch_size` items are pending, they leave at once, in batches of at most
//!   `send_batch_max_size` items (0: no maximum) — `send_batch_size` is a trigger, not a size;
//! - items pending for `timeout` leave regardless of their number;
//! - `timeout: 0` sends every batch at once, split only by `send_batch_max_size`.
//!
//! A batch merges many requests, so what leaves carries no request metadata (as in the
//! Collector without `metadata_keys`): put processors that read metadata before `batch`. It
//! does carry the acknowledgements of every request it merged, so a receiver waiting for a
//! persistent queue is answered only once its items are on disk.
//!
//! Processors have no clock: the timeout runs from the first pipeline tick that sees items
//! pending, so a batch waits between `timeout` and `timeout` + one tick (100 ms by default).

mod config;
#[cfg(test)]
mod tests;

use std::time::Instant;

pub use config::Config;
use weir_core::{Ack, Batch, Message, Output, Processor};

/// Groups items by size and time.
#[derive(Debug)]
pub struct Batcher {
    config: Config,
    pending: Option<Batch>,
    pending_items: usize,
    /// The acknowledgements of the pending items' requests.
    acks: Ack,
    /// The tick at which pending items were first seen.
    since: Option<Instant>,
}

impl Batcher {
    /// A batcher with `config`.
    pub fn new(config: &Config) -> Batcher {
        Batcher {
            config: config.clone(),
            pending: None,
            pending_items: 0,
            acks: Ack::default(),
            since: None,
        }
    }

    /// Emits pending items in batches of at most `send_batch_max_size` while at least
    /// `min` items are pending.
    fn emit_while(&mut self, min: usize, out: &mut Output) {
        let max = self.config.send_batch_max_size;
        while self.pending_items >= min.max(1) {
            let Some(pending) = self.pending.as_mut() else { break };
            if max == 0 || self.pending_items <= max {
                let batch = self.pending.take().expect("checked above");
                out.push_message(Message { ack: self.acks.take(), ..batch.into() });
                self.pending_items = 0;
            } else {
                // which requests the front holds is not tracked: it carries them all
                let batch = pending.split_front(max);
                out.push_message(Message { ack: self.acks.clone(), ..batch.into() });
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
        match self.pending.as_mut() {
            None => self.pending = Some(batch),
            Some(pending) => {
                if let Err(other) = pending.append(batch) {
                    // One batcher serves one pipeline of one signal; a batch of another signal
                    // can only come from a wiring error, and is passed on rather than lost.
                    out.push(other);
                    return;
                }
            }
        }
        self.pending_items += items;
        self.acks.merge(out.ack());
        let trigger = if self.config.timeout.is_zero() { 1 } else { self.config.send_batch_size };
        self.emit_while(trigger, out);
    }

    fn flush(&mut self, now: Instant, out: &mut Output) {
        if self.pending_items == 0 {
            return;
        }
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= self.config.timeout {
            self.emit_while(1, out);
        }
    }

    fn shutdown(&mut self, _now: Instant, out: &mut Output) {
        self.emit_while(1, out);
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
    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(Batcher::new(self))
    }
}
