//! The export queue: the bounded input of one exporter and the task that drains it.
//!
//! Every pipeline that lists an exporter sends into the exporter's one queue. A full queue
//! blocks the pipelines sending to it (backpressure). Each batch is exported once; what fails
//! is counted and logged with the exporter id and the number of items.

use std::sync::Arc;

use tokio::sync::mpsc;
use weir_otlp::{Batch, Signal};

use crate::{Consumer, ExportError, Exporter, telemetry};

/// Batches an export queue holds when the configuration does not say.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;

/// The receiving end of an exporter's queue, ready to run.
pub struct ExportQueue {
    id: String,
    input: mpsc::Receiver<Batch>,
    exporter: Arc<dyn Exporter>,
}

/// Creates the queue of exporter `id` holding at most `capacity` batches; returns the sender
/// side for pipelines and the queue to run.
pub fn queue(id: &str, exporter: Arc<dyn Exporter>, capacity: usize) -> (Consumer, ExportQueue) {
    let (sender, input) = mpsc::channel(capacity.max(1));
    let consumer = Consumer { name: id.to_owned(), sender };
    (consumer, ExportQueue { id: id.to_owned(), input, exporter })
}

impl ExportQueue {
    /// Exports every batch until all senders are gone, then shuts the exporter down.
    pub async fn run(mut self) {
        while let Some(batch) = self.input.recv().await {
            let signal = batch.signal();
            let items = batch.item_count() as u64;
            match self.exporter.export(batch).await {
                Ok(()) => self.counter(telemetry::exporter_sent(signal), signal).increment(items),
                Err(error) => {
                    self.counter(telemetry::exporter_send_failed(signal), signal).increment(items);
                    tracing::warn!(exporter = %self.id, %signal, items, %error,
                        "export failed: items dropped");
                }
            }
        }
        if let Err(error) = self.exporter.shutdown().await {
            tracing::warn!(exporter = %self.id, %error, "exporter shutdown failed");
        }
        tracing::debug!(exporter = %self.id, "export queue stopped");
    }

    fn counter(&self, name: &'static str, signal: Signal) -> metrics::Counter {
        metrics::counter!(name, telemetry::EXPORTER => self.id.clone(),
            telemetry::SIGNAL => signal.as_str())
    }
}

impl From<std::io::Error> for ExportError {
    fn from(error: std::io::Error) -> ExportError {
        ExportError::Retryable { after: None, message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CollectingExporter, spans};

    struct Failing;

    impl Exporter for Failing {
        fn export(&self, _batch: Batch) -> crate::BoxFuture<'_, Result<(), ExportError>> {
            Box::pin(async { Err(ExportError::Permanent { message: "refused".into() }) })
        }
    }

    #[tokio::test]
    async fn exports_everything_then_stops_when_senders_are_gone() {
        let collector = CollectingExporter::new();
        let (consumer, queue) = queue("nop", Arc::new(collector.clone()), 2);
        let task = tokio::spawn(queue.run());
        for seed in 0..5 {
            consumer.sender.send(spans("svc", 10, seed)).await.unwrap();
        }
        drop(consumer);
        task.await.unwrap();
        assert_eq!(collector.item_count(), 50);
    }

    #[tokio::test]
    async fn failures_do_not_stop_the_queue() {
        let (consumer, queue) = queue("failing", Arc::new(Failing), 2);
        let task = tokio::spawn(queue.run());
        consumer.sender.send(spans("svc", 1, 0)).await.unwrap();
        consumer.sender.send(spans("svc", 1, 1)).await.unwrap();
        drop(consumer);
        task.await.expect("the queue ends normally after failed exports");
    }
}
