use std::{sync::Arc, time::Instant};

use tokio::sync::mpsc;
use weir_otlp::{Batch, Signal};

use crate::memory::MemoryLimiter;

/// What a pipeline does when a consumer's input is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for room: backpressure travels upstream to the receivers.
    Block,
    /// Drop the batch being sent, counted and logged.
    DropNewest,
}

/// A named bounded input: a pipeline's, an export queue's or a connector's.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// The component id or pipeline id behind the sender, for logs.
    pub name: String,
    /// The bounded input.
    pub sender: mpsc::Sender<Batch>,
    /// The policy when the input is full.
    pub when_full: WhenFull,
}

impl Consumer {
    /// A consumer that makes its senders wait when full.
    pub fn blocking(name: impl Into<String>, sender: mpsc::Sender<Batch>) -> Consumer {
        Consumer { name: name.into(), sender, when_full: WhenFull::Block }
    }
}

/// Why a receiver could not hand a batch to its pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A pipeline input stayed full until the deadline: the client should retry later.
    #[error("pipeline is full: try again later")]
    Full,
    /// The pipeline is shutting down.
    #[error("pipeline is shutting down")]
    Closed,
    /// The receiver feeds no pipeline of this signal.
    #[error("no pipeline accepts {0}")]
    NoPipeline(Signal),
    /// A pipeline's `memory_limiter` is over its soft limit: retry after the given time.
    #[error("memory usage is over the limit: try again later")]
    MemoryLimited {
        /// When usage is next sampled.
        retry_after: std::time::Duration,
    },
}

/// What a receiver feeds: the inputs of every pipeline that lists it, by signal.
#[derive(Debug, Clone, Default)]
pub struct ReceiverOutput {
    traces: Vec<Consumer>,
    metrics: Vec<Consumer>,
    logs: Vec<Consumer>,
    limiters: Vec<(Signal, Arc<MemoryLimiter>)>,
}

impl ReceiverOutput {
    /// An output that feeds nothing yet.
    pub fn new() -> ReceiverOutput {
        ReceiverOutput::default()
    }

    /// Adds a pipeline input for `signal`.
    pub fn add(&mut self, signal: Signal, consumer: Consumer) {
        self.consumers_mut(signal).push(consumer);
    }

    /// Makes data of `signal` wait for `limiter`'s admission (a pipeline of that signal runs
    /// the `memory_limiter` processor).
    pub fn add_limiter(&mut self, signal: Signal, limiter: Arc<MemoryLimiter>) {
        self.limiters.push((signal, limiter));
    }

    /// Whether some pipeline takes `signal` from this receiver.
    pub fn accepts(&self, signal: Signal) -> bool {
        !self.consumers(signal).is_empty()
    }

    fn consumers(&self, signal: Signal) -> &[Consumer] {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    fn consumers_mut(&mut self, signal: Signal) -> &mut Vec<Consumer> {
        match signal {
            Signal::Traces => &mut self.traces,
            Signal::Metrics => &mut self.metrics,
            Signal::Logs => &mut self.logs,
        }
    }

    /// Hands `batch` to every pipeline of its signal, or to none: a slot is reserved in every
    /// pipeline input first (waiting until `deadline`), and only then is the batch sent, so a
    /// refusal never leaves a copy behind in some pipelines. Success means the data is in the
    /// pipelines, which is when the client may be told it was accepted.
    pub async fn send(&self, batch: Batch, deadline: Instant) -> Result<(), SendError> {
        let signal = batch.signal();
        let consumers = self.consumers(signal);
        if consumers.is_empty() {
            return Err(SendError::NoPipeline(signal));
        }
        let limiters: Vec<&MemoryLimiter> =
            self.limiters.iter().filter(|(s, _)| *s == signal).map(|(_, l)| l.as_ref()).collect();
        if let Some(refusing) = limiters.iter().find(|limiter| !limiter.admits()) {
            return Err(SendError::MemoryLimited { retry_after: refusing.retry_after() });
        }
        if !limiters.is_empty() {
            let bytes = batch.encoded_len() as u64;
            limiters.iter().for_each(|limiter| limiter.admitted(bytes));
        }
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut permits = Vec::with_capacity(consumers.len());
        for consumer in consumers {
            let permit = tokio::time::timeout_at(deadline, consumer.sender.reserve())
                .await
                .map_err(|_| SendError::Full)?
                .map_err(|_| SendError::Closed)?;
            permits.push(permit);
        }
        // Clone for every pipeline but the last, which takes the batch itself.
        let last = permits.pop().expect("at least one consumer");
        for permit in permits {
            permit.send(batch.clone());
        }
        last.send(batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn consumer(name: &str, capacity: usize) -> (Consumer, mpsc::Receiver<Batch>) {
        let (sender, receiver) = mpsc::channel(capacity);
        (Consumer::blocking(name, sender), receiver)
    }

    #[tokio::test]
    async fn every_pipeline_gets_the_batch() {
        let (a, mut ra) = consumer("a", 1);
        let (b, mut rb) = consumer("b", 1);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Logs, a);
        out.add(Signal::Logs, b);
        let deadline = Instant::now() + Duration::from_secs(1);
        out.send(Batch::empty(Signal::Logs), deadline).await.unwrap();
        assert_eq!(ra.recv().await, Some(Batch::empty(Signal::Logs)));
        assert_eq!(rb.recv().await, Some(Batch::empty(Signal::Logs)));
    }

    #[tokio::test]
    async fn a_full_pipeline_refuses_for_all() {
        let (a, mut ra) = consumer("a", 1);
        let (b, _rb) = consumer("b", 1);
        b.sender.try_send(Batch::empty(Signal::Traces)).unwrap();
        let mut out = ReceiverOutput::new();
        out.add(Signal::Traces, a);
        out.add(Signal::Traces, b);
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(out.send(Batch::empty(Signal::Traces), deadline).await, Err(SendError::Full));
        assert!(ra.try_recv().is_err(), "the refused batch must not reach any pipeline");
    }

    #[tokio::test]
    async fn a_limiter_over_its_limit_refuses_with_its_retry_hint() {
        let (a, mut ra) = consumer("a", 4);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Traces, a);
        let limiter = MemoryLimiter::new("memory_limiter", 1 << 40, 0, Duration::from_secs(2));
        out.add_limiter(Signal::Traces, limiter.clone());
        let deadline = Instant::now() + Duration::from_secs(1);
        out.send(Batch::empty(Signal::Traces), deadline).await.unwrap();
        limiter.sample(1 << 41);
        assert_eq!(
            out.send(Batch::empty(Signal::Traces), deadline).await,
            Err(SendError::MemoryLimited { retry_after: Duration::from_secs(2) })
        );
        assert!(ra.try_recv().is_ok() && ra.try_recv().is_err(), "only the first was sent");
    }

    #[tokio::test]
    async fn signals_without_pipeline_and_closed_pipelines_are_refused() {
        let (a, ra) = consumer("a", 1);
        let mut out = ReceiverOutput::new();
        out.add(Signal::Metrics, a);
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            out.send(Batch::empty(Signal::Logs), deadline).await,
            Err(SendError::NoPipeline(Signal::Logs))
        );
        drop(ra);
        assert_eq!(out.send(Batch::empty(Signal::Metrics), deadline).await, Err(SendError::Closed));
    }
}
