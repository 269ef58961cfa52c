//! One pipeline: a bounded input, processors in order, and a fan-out to consumers.
//!
//! The pipeline runs as one task. Every `tick` it calls [`Processor::flush`] on each processor
//! in order, feeding what a processor emits to the processors after it. When its input closes
//! (every sender dropped: receivers and upstream connectors stopped) it drains what is left,
//! calls [`Processor::shutdown`] once on each processor, and ends, which drops its consumers'
//! senders and so lets them finish in turn.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use weir_otlp::Signal;

use crate::{Ack, Consumer, Message, Output, Persist, Processor, Refused, telemetry};

/// How often processors are flushed when a pipeline does not say.
pub const DEFAULT_TICK: Duration = Duration::from_millis(100);

/// The wall clock, for processors that timestamp what they emit.
fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A processor with its counters.
struct Stage {
    processor: Box<dyn Processor>,
    incoming: metrics::Counter,
    outgoing: metrics::Counter,
}

impl Stage {
    fn count_outgoing(&self, messages: &[Message]) {
        let items: usize = messages.iter().map(|m| m.batch.item_count()).sum();
        self.outgoing.increment(items as u64);
    }
}

/// A pipeline ready to run.
pub struct Pipeline {
    input: mpsc::Receiver<Message>,
    stages: Vec<Stage>,
    fanout: Fanout,
    tick: Duration,
}

/// The consumers of a pipeline, apart from its processors so that it can be shared across
/// awaits while the processors are borrowed mutably.
struct Fanout {
    pipeline: String,
    consumers: Vec<Consumer>,
    dropped: metrics::Counter,
    /// The log of dropped batches, rate-limited (the counter counts all).
    dropped_log: crate::log_limit::LogLimiter,
}

impl Pipeline {
    /// A pipeline `id` of `signal` reading `input`, running `processors` (with their component
    /// ids) in order and handing what leaves the last one to every consumer; processors are
    /// flushed every `tick`.
    pub fn new(
        id: impl Into<String>,
        signal: Signal,
        input: mpsc::Receiver<Message>,
        processors: Vec<(String, Box<dyn Processor>)>,
        consumers: Vec<Consumer>,
        tick: Duration,
    ) -> Pipeline {
        let id = id.into();
        let stages = processors
            .into_iter()
            .map(|(stage, processor)| {
                let labels = [
                    (telemetry::PROCESSOR, stage),
                    (telemetry::SIGNAL, signal.as_str().to_owned()),
                ];
                Stage {
                    incoming: metrics::counter!(telemetry::PROCESSOR_INCOMING_ITEMS, &labels),
                    outgoing: metrics::counter!(telemetry::PROCESSOR_OUTGOING_ITEMS, &labels),
                    processor,
                }
            })
            .collect();
        let labels =
            [(telemetry::PIPELINE, id.clone()), (telemetry::SIGNAL, signal.as_str().to_owned())];
        let dropped = metrics::counter!(telemetry::PIPELINE_DROPPED_ITEMS, &labels);
        Pipeline {
            input,
            stages,
            fanout: Fanout { pipeline: id, consumers, dropped, dropped_log: Default::default() },
            tick,
        }
    }

    /// Runs until the input closes and everything held has been handed to the consumers.
    pub async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Ticks first: a tick is ready at most once per interval, so it cannot starve
                // the input, while a busy input could otherwise delay flushes indefinitely.
                biased;
                _ = ticker.tick() => self.flush(Instant::now(), false).await,
                message = self.input.recv() => match message {
                    Some(message) => self.process(0, vec![message]).await,
                    None => break,
                },
            }
        }
        self.flush(Instant::now(), true).await;
        tracing::debug!(pipeline = %self.fanout.pipeline, "pipeline stopped");
    }

    /// Runs `batches` through the stages from `first` on, then fans out what comes out.
    async fn process(&mut self, first: usize, mut messages: Vec<Message>) {
        let mut out = Output::at(unix_nanos());
        let mut next = Vec::new();
        for stage in &mut self.stages[first..] {
            for message in messages.drain(..) {
                stage.incoming.increment(message.batch.item_count() as u64);
                out.set_metadata(message.metadata);
                out.set_ack(message.ack);
                stage.processor.process(message.batch, &mut out);
                // what the processor kept, it released: only its pushes hold the request
                out.set_ack(Ack::default());
                next.extend(out.drain());
            }
            std::mem::swap(&mut messages, &mut next);
            stage.count_outgoing(&messages);
        }
        for message in messages {
            self.fanout.emit(message).await;
        }
    }

    /// Flushes (or, at shutdown, shuts down) each processor in order; what one emits runs
    /// through the processors after it before they are flushed in turn.
    async fn flush(&mut self, now: Instant, shutdown: bool) {
        let mut out = Output::at(unix_nanos());
        for i in 0..self.stages.len() {
            let stage = &mut self.stages[i];
            if shutdown {
                stage.processor.shutdown(now, &mut out);
            } else {
                stage.processor.flush(now, &mut out);
            }
            for persist in out.take_persists() {
                write(persist).await;
            }
            if out.is_empty() {
                continue;
            }
            let messages: Vec<Message> = out.drain().collect();
            stage.count_outgoing(&messages);
            Box::pin(self.process(i + 1, messages)).await;
        }
    }
}

/// Writes a processor's state off the pipeline task; a failure is logged, and the processor
/// asks again at its next interval.
async fn write(persist: Persist) {
    let path = persist.path.clone();
    let written = tokio::task::spawn_blocking(move || persist.write()).await;
    match written.map_err(std::io::Error::other).and_then(|r| r) {
        Ok(()) => tracing::debug!(path = %path.display(), "processor state written"),
        Err(error) => tracing::warn!(path = %path.display(), %error, "processor state not written"),
    }
}

impl Fanout {
    /// Hands one batch to every consumer, waiting while a consumer's input is full: a full
    /// export queue blocks the pipeline, which in turn fills the pipeline input and makes
    /// receivers refuse with a retryable status.
    async fn emit(&self, mut message: Message) {
        if message.batch.is_empty() {
            return;
        }
        // a routed batch goes to the pipelines of its route only, and no further as routed
        let route = message.route.take();
        let routed = |c: &&Consumer| route.as_ref().is_none_or(|r| r.contains(&c.name));
        let consumers: Vec<&Consumer> = self.consumers.iter().filter(routed).collect();
        let Some((last, rest)) = consumers.split_last() else {
            return;
        };
        for consumer in rest {
            self.send(consumer, message.clone()).await;
        }
        self.send(last, message).await;
    }

    async fn send(&self, consumer: &Consumer, message: Message) {
        let (Message { batch, .. }, reason) = match consumer.send(message).await {
            Ok(()) => return,
            Err(Refused::Full(message)) => {
                let batch = &message.batch;
                let signal = batch.signal();
                metrics::counter!(telemetry::exporter_enqueue_failed(signal),
                    telemetry::EXPORTER => consumer.name.clone(), telemetry::SIGNAL => signal.as_str())
                .increment(batch.item_count() as u64);
                (message, "queue full (block_on_overflow is false)")
            }
            Err(Refused::Closed(message)) => (message, "consumer stopped before the pipeline"),
        };
        let items = batch.item_count();
        self.dropped.increment(items as u64);
        if let Some(suppressed) = self.dropped_log.check() {
            tracing::error!(pipeline = %self.pipeline, consumer = %consumer.name, items, reason,
                suppressed, "items dropped");
        }
    }
}

#[cfg(test)]
mod tests;
