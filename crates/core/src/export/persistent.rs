//! The persistent sending queue (`sending_queue.storage: file_storage/<name>`): the
//! exporter's queue is a [`Wal`] on disk.
//!
//! A writer task appends what the pipelines send, a group at a time, `fsync`s the group when
//! the storage says so, and only then lets go of the batches' acknowledgements: a receiver
//! waiting on them answers its client once the data is in the log. An append the log refuses
//! (`queue_size` records or `max_size_mib` bytes reached, or a write error such as a full
//! disk) fails those acknowledgements, so the client gets a retryable refusal and nothing it
//! was told is kept is missing; batches without a waiting client (a connector's) are then
//! dropped, counted as `otelcol_exporter_enqueue_failed_*` and logged.
//!
//! Deliveries read records back in order, up to `num_consumers` at once, and mark a record
//! done only when the exporter succeeded or failed permanently: retryable failures are
//! retried for as long as it takes (`max_elapsed_time` does not apply). On close, what can be
//! delivered at once is; a delivery that fails while closing stops the draining, and every
//! record not done stays in the log for the next start. A record that no longer decodes is
//! dropped (counted and logged) rather than replayed forever.

use std::{
    io,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, Semaphore, mpsc},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use weir_otlp::{Batch, Signal};

use super::{
    Delivered, Delivery, ExportQueue, Kind, Settings,
    wal::{Location, Wal, WalOptions},
};
use crate::{Consumer, Exporter, Message, Metadata, Sizer, WhenFull, telemetry};

/// Where and how a persistent queue keeps its log: a `file_storage` extension.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// The extension's `directory`; each exporter's log is a directory below it.
    pub directory: PathBuf,
    /// `fsync` every group of appends before acknowledging it.
    pub fsync: bool,
    /// The most bytes one exporter's log may take (0: no limit).
    pub max_bytes: u64,
}

/// Batches the writer takes from its input before writing them as one group.
const WRITE_GROUP: usize = 256;
/// Batches waiting for the writer.
const WRITE_CHANNEL: usize = 64;
/// Start a new segment file after this many bytes.
const SEGMENT_BYTES: u64 = 8 << 20;

pub(super) struct PersistentQueue {
    input: mpsc::Receiver<Message>,
    wal: Arc<Mutex<Wal>>,
    delivery: Arc<Delivery>,
}

/// Opens (recovering) the log of exporter `id` in `storage` and returns the sender side for
/// pipelines and the queue to run.
pub fn persistent_queue(
    id: &str,
    exporter: Arc<dyn Exporter>,
    mut settings: Settings,
    storage: &Storage,
) -> io::Result<(Consumer, ExportQueue)> {
    let name: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let directory = storage.directory.join(format!("exporter_{name}"));
    let (sizer, size) = settings.queue.bound(true);
    let (max_records, max_bytes) = match sizer {
        Sizer::Requests => (size, storage.max_bytes),
        Sizer::Bytes => (0, min_nonzero(storage.max_bytes, size as u64)),
        Sizer::Items => (0, storage.max_bytes),
    };
    let options =
        WalOptions { fsync: storage.fsync, segment_bytes: SEGMENT_BYTES, max_bytes, max_records };
    let (wal, recovery) = Wal::open(&directory, options)?;
    if recovery.pending > 0 || recovery.truncated_bytes > 0 || recovery.corrupt_segments > 0 {
        tracing::info!(exporter = id, directory = %directory.display(), pending = recovery.pending,
            truncated_bytes = recovery.truncated_bytes, corrupt_segments = recovery.corrupt_segments,
            "persistent queue recovered");
    }
    if settings.retry.max_elapsed_time != Duration::ZERO {
        tracing::warn!(exporter = id, max_elapsed_time = ?settings.retry.max_elapsed_time,
            "with a persistent queue, retryable failures are retried until they succeed: \
             max_elapsed_time does not drop data");
        settings.retry.max_elapsed_time = Duration::ZERO;
    }
    let (sender, input) = mpsc::channel(WRITE_CHANNEL);
    let consumer =
        Consumer { name: id.to_owned(), sender, when_full: WhenFull::Block, capacity: None };
    metrics::gauge!(telemetry::EXPORTER_QUEUE_CAPACITY, telemetry::EXPORTER => id.to_owned())
        .set(size as f64);
    let delivery = Arc::new(Delivery::new(id, exporter, settings));
    let queue = PersistentQueue { input, wal: Arc::new(Mutex::new(wal)), delivery };
    Ok((consumer, ExportQueue(Kind::Persistent(queue))))
}

fn min_nonzero(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    }
}

/// The record of a batch: one byte, the signal's index with [`WITH_METADATA`] set when request
/// metadata follows (as a `u32` little-endian count of pairs, then each key and value as a
/// `u32` little-endian length and its bytes); then the batch as protobuf. Records written
/// before metadata was kept have the flag clear and decode as they did.
fn encode(batch: &Batch, metadata: &Metadata) -> Vec<u8> {
    let signal = Signal::ALL.iter().position(|s| *s == batch.signal()).expect("a signal") as u8;
    let pairs = metadata.pairs();
    let mut payload = Vec::with_capacity(batch.encoded_len() + 1);
    if pairs.is_empty() {
        payload.push(signal);
    } else {
        payload.push(signal | WITH_METADATA);
        payload.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for text in pairs.iter().flat_map(|(k, v)| [k, v]) {
            payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
            payload.extend_from_slice(text.as_bytes());
        }
    }
    payload.extend_from_slice(&batch.encode_protobuf());
    payload
}

fn take<'a>(body: &mut &'a [u8], len: usize) -> io::Result<&'a [u8]> {
    if body.len() < len {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "record metadata cut short"));
    }
    let (taken, rest) = body.split_at(len);
    *body = rest;
    Ok(taken)
}

fn length(body: &mut &[u8]) -> io::Result<usize> {
    Ok(u32::from_le_bytes(take(body, 4)?.try_into().expect("four bytes")) as usize)
}

fn text(body: &mut &[u8]) -> io::Result<String> {
    let len = length(body)?;
    String::from_utf8(take(body, len)?.to_vec())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record metadata is not UTF-8"))
}

/// The flag in a record's first byte saying request metadata follows.
const WITH_METADATA: u8 = 0x80;

fn decode(payload: &[u8]) -> io::Result<(Batch, Metadata)> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let (&head, mut body) = payload.split_first().ok_or_else(|| invalid("empty record".into()))?;
    let signal = head & !WITH_METADATA;
    let signal =
        *Signal::ALL.get(signal as usize).ok_or_else(|| invalid(format!("signal {signal}")))?;
    let mut metadata = Metadata::default();
    if head & WITH_METADATA != 0 {
        let count = length(&mut body)?;
        let mut pairs = Vec::new();
        for _ in 0..count {
            let key = text(&mut body)?;
            pairs.push((key, text(&mut body)?));
        }
        metadata = Metadata::new(pairs);
    }
    // kept as the bytes written: walked, not decoded, and sent on as they are
    let bytes = bytes::Bytes::copy_from_slice(body);
    let batch = Batch::from_protobuf(signal, bytes).map_err(|e| invalid(e.to_string()))?;
    Ok((batch, metadata))
}

impl PersistentQueue {
    pub(super) async fn run(self) {
        let PersistentQueue { input, wal, delivery } = self;
        let id = delivery.id.clone();
        let notify = Arc::new(Notify::new());
        let closing = CancellationToken::new();
        let size =
            metrics::gauge!(telemetry::EXPORTER_QUEUE_SIZE, telemetry::EXPORTER => id.clone());
        let writer =
            tokio::spawn(write(input, wal.clone(), notify.clone(), closing.clone(), id.clone()));
        let consumers = delivery.settings.queue.num_consumers.max(1);
        let slots = Arc::new(Semaphore::new(consumers));
        let interrupted = Arc::new(AtomicBool::new(false));
        let mut deliveries = JoinSet::new();
        loop {
            let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
            if interrupted.load(Ordering::Acquire) {
                break;
            }
            let location = loop {
                let next = wal.lock().expect("not poisoned").dispatch();
                if next.is_some() || closing.is_cancelled() {
                    break next;
                }
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = closing.cancelled() => {}
                }
            };
            let Some(location) = location else { break };
            size.set(wal.lock().expect("not poisoned").len() as f64);
            let (batch, metadata) = match read(&wal, location).await {
                Ok(record) => record,
                Err(error) => {
                    tracing::error!(exporter = %id, record = location.id, %error,
                        "persistent queue: a record cannot be read; dropped");
                    metrics::counter!(telemetry::PERSISTENT_QUEUE_UNREADABLE,
                        telemetry::EXPORTER => id.clone())
                    .increment(1);
                    finish(&wal, location.id, Delivered::Done, &id).await;
                    continue;
                }
            };
            let (delivery, wal, closing, interrupted) =
                (delivery.clone(), wal.clone(), closing.clone(), interrupted.clone());
            let id = id.clone();
            deliveries.spawn(async move {
                let outcome = delivery.deliver(&batch, &metadata, None, Some(&closing)).await;
                if outcome == Delivered::Interrupted {
                    interrupted.store(true, Ordering::Release);
                }
                finish(&wal, location.id, outcome, &id).await;
                drop(slot);
            });
            while deliveries.try_join_next().is_some() {}
        }
        while deliveries.join_next().await.is_some() {}
        let _ = writer.await;
        let left = wal.lock().expect("not poisoned").len();
        size.set(left as f64);
        if left > 0 {
            tracing::info!(exporter = %id, records = left, "persistent queue: kept for the next start");
        }
        if let Err(error) = delivery.exporter.shutdown().await {
            tracing::warn!(exporter = %id, %error, "exporter shutdown failed");
        }
    }
}

async fn read(wal: &Arc<Mutex<Wal>>, location: Location) -> io::Result<(Batch, Metadata)> {
    let wal = wal.clone();
    let payload =
        tokio::task::spawn_blocking(move || wal.lock().expect("not poisoned").read(&location))
            .await
            .map_err(io::Error::other)??;
    decode(&payload)
}

/// Marks a record done, or puts it back when its delivery was interrupted.
async fn finish(wal: &Arc<Mutex<Wal>>, record: u64, outcome: Delivered, id: &str) {
    let wal = wal.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut wal = wal.lock().expect("not poisoned");
        match outcome {
            Delivered::Done => wal.done(record),
            Delivered::Interrupted => {
                wal.requeue(record);
                Ok(())
            }
        }
    })
    .await
    .map_err(io::Error::other)
    .and_then(|r| r);
    if let Err(error) = result {
        // the record stays pending on disk: it is delivered again after a restart
        tracing::warn!(exporter = %id, record, %error, "persistent queue: marking a record done failed");
    }
}

/// Appends what the pipelines send, a group at a time, and answers the acknowledgements.
async fn write(
    mut input: mpsc::Receiver<Message>,
    wal: Arc<Mutex<Wal>>,
    notify: Arc<Notify>,
    closing: CancellationToken,
    id: String,
) {
    let mut group = Vec::with_capacity(WRITE_GROUP);
    let unwritten_log = crate::log_limit::LogLimiter::default();
    while input.recv_many(&mut group, WRITE_GROUP).await > 0 {
        let payloads: Vec<Vec<u8>> =
            group.iter().map(|m: &Message| encode(&m.batch, &m.metadata)).collect();
        let log = wal.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut wal = log.lock().expect("not poisoned");
            let results: Vec<Result<u64, String>> =
                payloads.iter().map(|p| wal.append(p).map_err(|e| e.to_string())).collect();
            let synced = wal.sync().map_err(|e| e.to_string());
            (results, synced)
        })
        .await;
        let (results, synced) = match written {
            Ok(written) => written,
            Err(error) => (vec![Err(error.to_string()); group.len()], Ok(())),
        };
        for (message, result) in group.drain(..).zip(results) {
            let error = match (&result, &synced) {
                (Ok(_), Ok(())) => continue,
                (Err(error), _) | (Ok(_), Err(error)) => error,
            };
            let batch = &message.batch;
            let signal = batch.signal();
            message.ack.fail();
            metrics::counter!(telemetry::exporter_enqueue_failed(signal),
                telemetry::EXPORTER => id.clone(), telemetry::SIGNAL => signal.as_str())
            .increment(batch.item_count() as u64);
            let outcome = if message.ack.is_empty() { "dropped" } else { "refused to the client" };
            if let Some(suppressed) = unwritten_log.check() {
                tracing::warn!(exporter = %id, %signal, items = batch.item_count(), %error, outcome,
                    suppressed, "persistent queue: batch not written");
            }
        }
        notify.notify_one();
    }
    closing.cancel();
    notify.notify_one();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::{Ack, BoxFuture, ExportError};

    /// Fails retryably while `down`, otherwise counts items.
    #[derive(Default)]
    struct Backend {
        down: AtomicBool,
        items: AtomicUsize,
        /// The `x-tenant` of every batch delivered.
        tenants: Mutex<Vec<Option<String>>>,
    }

    impl Exporter for Backend {
        fn export<'a>(
            &'a self,
            batch: &'a Batch,
            metadata: &'a Metadata,
        ) -> BoxFuture<'a, Result<(), ExportError>> {
            Box::pin(async move {
                if self.down.load(Ordering::Acquire) {
                    return Err(ExportError::Retryable { after: None, message: "down".into() });
                }
                self.items.fetch_add(batch.item_count(), Ordering::AcqRel);
                self.tenants.lock().unwrap().push(metadata.get("x-tenant").map(str::to_owned));
                Ok(())
            })
        }
    }

    fn logs(n: usize) -> Batch {
        weir_otlp::json::decode_any(
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
                vec![r#"{"body":{"stringValue":"x"}}"#; n].join(",")
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn settings() -> Settings {
        let mut settings = Settings::default();
        settings.retry.initial_interval = Duration::from_millis(10);
        settings.retry.max_interval = Duration::from_millis(20);
        settings
    }

    async fn send(consumer: &Consumer, batch: Batch) -> bool {
        send_with(consumer, batch, Metadata::default()).await
    }

    async fn send_with(consumer: &Consumer, batch: Batch, metadata: Metadata) -> bool {
        let (ack, wait) = Ack::new();
        consumer.send(Message { ack, metadata, ..batch.into() }).await.unwrap();
        wait.await.unwrap()
    }

    #[test]
    fn records_keep_request_metadata_and_old_records_still_decode() {
        let metadata = Metadata::new([("X-Tenant".into(), "acme".into()), ("b".into(), "".into())]);
        let (batch, read) = decode(&encode(&logs(2), &metadata)).unwrap();
        assert_eq!((batch.item_count(), read), (2, metadata.clone()));
        let plain = encode(&logs(3), &Metadata::default());
        assert_eq!(plain[0], 2, "no metadata: the record as before, the signal's index first");
        assert_eq!(decode(&plain).unwrap().1, Metadata::default());
        let record = encode(&logs(1), &metadata);
        assert!(decode(&record[..8]).is_err(), "a record cut inside its metadata is refused");
    }

    #[tokio::test]
    async fn what_was_acknowledged_survives_a_restart_and_is_delivered_once_the_backend_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage { directory: dir.path().into(), fsync: true, max_bytes: 0 };
        let backend = Arc::new(Backend::default());
        backend.down.store(true, Ordering::Release);
        let (consumer, queue) =
            persistent_queue("otlp/a", backend.clone(), settings(), &storage).unwrap();
        let running = tokio::spawn(queue.run());
        for n in 1..=10 {
            let tenant = Metadata::new((n % 2 == 1).then(|| ("x-tenant".into(), format!("t{n}"))));
            assert!(send_with(&consumer, logs(n), tenant).await, "written, so acknowledged");
        }
        drop(consumer);
        running.await.unwrap();
        assert_eq!(backend.items.load(Ordering::Acquire), 0);

        backend.down.store(false, Ordering::Release);
        let (consumer, queue) =
            persistent_queue("otlp/a", backend.clone(), settings(), &storage).unwrap();
        let running = tokio::spawn(queue.run());
        drop(consumer);
        running.await.unwrap();
        assert_eq!(backend.items.load(Ordering::Acquire), 55, "every item, once");
        let mut tenants = backend.tenants.lock().unwrap().clone();
        tenants.sort();
        let odd = [None, None, None, None, None]
            .into_iter()
            .chain(["t1", "t3", "t5", "t7", "t9"].map(|t| Some(t.to_owned())));
        assert_eq!(tenants, odd.collect::<Vec<_>>(), "each batch with its request's metadata");
        let (_, queue) = persistent_queue("otlp/a", backend.clone(), settings(), &storage).unwrap();
        let ExportQueue(Kind::Persistent(queue)) = queue else { unreachable!() };
        assert!(queue.wal.lock().unwrap().is_empty(), "nothing left after delivery");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_to_the_client() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage { directory: dir.path().into(), fsync: false, max_bytes: 0 };
        let backend = Arc::new(Backend::default());
        backend.down.store(true, Ordering::Release);
        let mut settings = settings();
        settings.queue.queue_size = Some(3);
        let (consumer, queue) =
            persistent_queue("otlp", backend.clone(), settings, &storage).unwrap();
        let running = tokio::spawn(queue.run());
        let answers: Vec<bool> = [
            send(&consumer, logs(1)).await,
            send(&consumer, logs(1)).await,
            send(&consumer, logs(1)).await,
            send(&consumer, logs(1)).await,
        ]
        .into();
        assert_eq!(answers, [true, true, true, false]);
        backend.down.store(false, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(send(&consumer, logs(1)).await, "room again once delivered");
        drop(consumer);
        running.await.unwrap();
        assert_eq!(backend.items.load(Ordering::Acquire), 4);
    }
}
