//! The Collector's exporter helper options, shared by every exporter that queues:
//! `sending_queue`, `retry_on_failure` and `timeout`.

use std::time::Duration;

use serde::Deserialize;

use crate::Sizer;

/// `sending_queue`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// `enabled`: with `false`, the queue holds one batch and one export runs at a time, so
    /// the pipeline waits for each export (the Collector exports synchronously).
    pub enabled: bool,
    /// `num_consumers`: exports in flight at once (default 10).
    pub num_consumers: usize,
    /// `queue_size`: what the queue holds, in `sizer` units (see [`QueueConfig::bound`]).
    pub queue_size: Option<usize>,
    /// `sizer`: what `queue_size` counts: `requests` (batches), `items` or `bytes`.
    pub sizer: Option<Sizer>,
    /// `block_on_overflow`: when the queue is full, make the pipeline wait (default, weir's
    /// choice: backpressure reaches the clients as retryable refusals) or drop the newest
    /// batch (counted as `otelcol_exporter_enqueue_failed_*` and logged).
    pub block_on_overflow: bool,
    /// `batch`: merge queued batches before exporting (off unless present).
    #[serde(deserialize_with = "crate::options::present_means_enabled")]
    pub batch: Option<QueueBatch>,
    /// `storage`: the id of a `file_storage` extension: the queue is then a write-ahead log
    /// on disk (see [`crate::export::persistent_queue`]).
    pub storage: Option<String>,
}

/// What a memory queue holds when the user sets neither `queue_size` nor `sizer`: bytes of
/// encoded telemetry, so that memory stays bounded whatever the size of the batches (the
/// Collector's default, 1,000 requests, can be gigabytes of large batches).
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;

/// The Collector's default `queue_size` once a `sizer` is chosen, and for persistent queues.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;

impl QueueConfig {
    /// What bounds the queue, `(sizer, size)`: as set; with neither set, [`DEFAULT_QUEUE_BYTES`]
    /// bytes in memory and the Collector's 1,000 requests on disk (`persistent`); with one
    /// set, the Collector's default for the other (`requests`, 1,000).
    pub fn bound(&self, persistent: bool) -> (Sizer, usize) {
        match (self.sizer, self.queue_size) {
            (None, None) if !persistent => (Sizer::Bytes, DEFAULT_QUEUE_BYTES),
            (sizer, size) => (sizer.unwrap_or(Sizer::Requests), size.unwrap_or(DEFAULT_QUEUE_SIZE)),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: None,
            sizer: None,
            block_on_overflow: true,
            batch: None,
            storage: None,
        }
    }
}

/// `sending_queue.batch`: the Collector's batching inside the exporter queue, by items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueBatch {
    /// `flush_timeout`: the longest a batch waits to reach `min_size` (default 200ms).
    #[serde(with = "crate::duration")]
    pub flush_timeout: Duration,
    /// `min_size`: items that make a batch leave at once (default 8192).
    pub min_size: usize,
    /// `max_size`: the most items in one export; 0 for no limit (default).
    pub max_size: usize,
}

impl Default for QueueBatch {
    fn default() -> QueueBatch {
        QueueBatch { flush_timeout: Duration::from_millis(200), min_size: 8192, max_size: 0 }
    }
}

/// `retry_on_failure`: exponential backoff for retryable failures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `initial_interval`: the first wait (default 5s).
    #[serde(with = "crate::duration")]
    pub initial_interval: Duration,
    /// `max_interval`: the longest wait (default 30s).
    #[serde(with = "crate::duration")]
    pub max_interval: Duration,
    /// `max_elapsed_time`: give up (drop, counted) after this long; 0 retries forever
    /// (default 300s).
    #[serde(with = "crate::duration")]
    pub max_elapsed_time: Duration,
    /// `multiplier`: growth of the wait (default 1.5).
    pub multiplier: f64,
    /// `randomization_factor`: each wait is drawn from ±this fraction (default 0.5).
    pub randomization_factor: f64,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

/// How one exporter's queue delivers: the three option groups together.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `sending_queue`.
    pub queue: QueueConfig,
    /// `retry_on_failure`.
    pub retry: RetryConfig,
    /// `timeout`: the longest one export attempt may take.
    pub timeout: Duration,
    /// `max_request_bytes` (weir's, on the exporters that send over the network): the most
    /// encoded bytes in one export request; larger batches leave as several requests. 0: no
    /// cap.
    pub max_request_bytes: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            queue: QueueConfig::default(),
            retry: RetryConfig::default(),
            timeout: Duration::from_secs(5),
            max_request_bytes: 0,
        }
    }
}

/// The default `max_request_bytes` of the OTLP exporters: under gRPC's common 4 MiB message
/// limit (4,194,304 bytes) with room for the request's framing.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4_000_000;

impl Settings {
    /// One export at a time, so batches leave in the order they arrived: for exporters that
    /// write locally (`file`, `debug`), where order is what a reader expects and one writer
    /// is as fast as ten.
    pub fn in_order() -> Settings {
        let mut settings = Settings::default();
        settings.queue.num_consumers = 1;
        settings
    }
}

impl Settings {
    /// Every problem, as `(path below the exporter, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut error = |path: &str, message: String| errors.push((path.to_owned(), message));
        if self.queue.enabled && self.queue.num_consumers == 0 {
            error("sending_queue.num_consumers", "must be > 0".into());
        }
        if self.queue.enabled && self.queue.queue_size == Some(0) {
            error("sending_queue.queue_size", "must be > 0".into());
        }
        if let Some(batch) = &self.queue.batch
            && batch.max_size > 0
            && batch.max_size < batch.min_size
        {
            error("sending_queue.batch.max_size", "must be 0 or at least min_size".into());
        }
        let retry = &self.retry;
        if retry.enabled {
            if retry.initial_interval.is_zero() {
                error("retry_on_failure.initial_interval", "must be > 0".into());
            }
            if retry.max_interval < retry.initial_interval {
                error("retry_on_failure.max_interval", "must be at least initial_interval".into());
            }
            if !(retry.multiplier >= 1.0 && retry.multiplier.is_finite()) {
                error(
                    "retry_on_failure.multiplier",
                    format!("must be >= 1, got {}", retry.multiplier),
                );
            }
            if !(0.0..1.0).contains(&retry.randomization_factor) {
                error(
                    "retry_on_failure.randomization_factor",
                    format!("must be in [0, 1), got {}", retry.randomization_factor),
                );
            }
        }
        if self.timeout.is_zero() {
            error("timeout", "must be > 0".into());
        }
        errors
    }
}
