//! Fakes and builders for tests of components and pipelines (feature `test-util`).

use std::sync::{Arc, Mutex};

use weir_otlp::{
    Batch,
    attributes::kv,
    proto::{
        common::v1::{AnyValue, InstrumentationScope, any_value},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        resource::v1::Resource,
        trace::v1::{ResourceSpans, ScopeSpans, Span},
    },
};

use crate::{BoxFuture, ExportError, Exporter, Output, Processor};

/// An exporter that keeps every batch it is given.
#[derive(Debug, Clone, Default)]
pub struct CollectingExporter {
    batches: Arc<Mutex<Vec<(Batch, crate::Metadata)>>>,
}

impl CollectingExporter {
    /// A new, empty collector.
    pub fn new() -> CollectingExporter {
        CollectingExporter::default()
    }

    /// Every batch exported so far.
    pub fn batches(&self) -> Vec<Batch> {
        self.batches.lock().expect("not poisoned").iter().map(|(b, _)| b.clone()).collect()
    }

    /// Every batch exported so far, with the request metadata it was exported with.
    pub fn requests(&self) -> Vec<(Batch, crate::Metadata)> {
        self.batches.lock().expect("not poisoned").clone()
    }

    /// The number of items exported so far.
    pub fn item_count(&self) -> usize {
        self.batches.lock().expect("not poisoned").iter().map(|(b, _)| b.item_count()).sum()
    }
}

impl Exporter for CollectingExporter {
    fn export<'a>(
        &'a self,
        batch: &'a Batch,
        metadata: &'a crate::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        self.batches.lock().expect("not poisoned").push((batch.clone(), metadata.clone()));
        Box::pin(async { Ok(()) })
    }
}

/// A processor that passes batches through and records what it saw and when it was flushed.
#[derive(Debug, Default)]
pub struct RecordingProcessor {
    /// Items seen by `process`.
    pub items: usize,
    /// Calls to `flush`.
    pub flushes: usize,
}

impl Processor for RecordingProcessor {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        self.items += batch.item_count();
        out.push(batch);
    }

    fn flush(&mut self, _now: std::time::Instant, _out: &mut Output) {
        self.flushes += 1;
    }
}

/// A batch of `n` spans of service `service`, named `span-0`, `span-1`, ..., each with its own
/// trace id derived from `seed` and its index.
pub fn spans(service: &str, n: usize, seed: u64) -> Batch {
    let spans = (0..n)
        .map(|i| {
            let id = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let mut trace_id = vec![0; 8];
            trace_id.extend_from_slice(&id.to_be_bytes());
            Span {
                trace_id,
                span_id: (id | 1 << 63).to_be_bytes().to_vec(),
                name: format!("span-{i}"),
                kind: 2,
                start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                end_time_unix_nano: 1_700_000_000_001_000_000 + i as u64,
                attributes: vec![kv("http.route", "/items")],
                ..Default::default()
            }
        })
        .collect();
    Batch::from(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: "weir.test".into(), ..Default::default() }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }])
}

/// A batch of `n` log records of service `service` with bodies `log-0`, `log-1`, ...
pub fn logs(service: &str, n: usize) -> Batch {
    let log_records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            severity_number: 9,
            body: Some(AnyValue { value: Some(any_value::Value::StringValue(format!("log-{i}"))) }),
            ..Default::default()
        })
        .collect();
    Batch::from(vec![ResourceLogs {
        resource: Some(Resource {
            attributes: vec![kv("service.name", service)],
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs { log_records, ..Default::default() }],
        schema_url: String::new(),
    }])
}

/// How often the waiting helpers look again.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Polls `probe` every 50 ms until it gives a value or `limit` passes (then once more):
/// tests wait for what they expect, not for a fixed time.
pub fn wait_for<T>(limit: std::time::Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(found) = probe() {
            return Some(found);
        }
        std::thread::sleep(POLL);
    }
    probe()
}

/// Whether `done` became true within `limit` (see [`wait_for`]).
pub fn wait_until(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    wait_for(limit, || done().then_some(())).is_some()
}

/// [`wait_until`] for async tests: sleeps on the runtime's clock between looks.
pub async fn wait_until_async(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(POLL).await;
    }
    done()
}
