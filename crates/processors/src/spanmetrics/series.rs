//! What the connector aggregates per series: a count (`calls`, `events`) or a distribution of
//! durations (`duration`, explicit and/or exponential buckets, exemplars).

use std::{collections::HashMap, time::Instant};

use weir_otlp::proto::{
    common::v1::KeyValue,
    metrics::v1::{
        Exemplar, ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets,
    },
};

use crate::cardinality_limiter::points;

/// Scale of a fresh exponential histogram (lowered as values spread).
pub(super) const START_SCALE: i32 = 20;

/// One series of a metric: its dimensions and aggregate.
pub(super) struct Series<T> {
    pub(super) attributes: Vec<KeyValue>,
    /// When the series started, in Unix nanoseconds.
    pub(super) start: u64,
    /// The pipeline tick of the last update (none before the first tick).
    pub(super) updated: Option<Instant>,
    /// Whether it changed since the last emission.
    pub(super) touched: bool,
    pub(super) data: T,
}

/// The series of one metric of one resource, by the hash of their dimensions.
pub(super) type Table<T> = HashMap<u64, Series<T>>;

/// Durations of a series.
#[derive(Clone)]
pub(super) struct Distribution {
    pub(super) count: u64,
    pub(super) sum: f64,
    /// Counts per explicit bucket.
    pub(super) buckets: Vec<u64>,
    pub(super) exponential: Option<ExponentialHistogramDataPoint>,
    pub(super) exemplars: Vec<Exemplar>,
}

impl Distribution {
    /// An empty distribution over `buckets` explicit buckets, exponential too when asked.
    pub(super) fn new(buckets: usize, exponential: bool) -> Distribution {
        Distribution {
            count: 0,
            sum: 0.0,
            buckets: vec![0; buckets],
            exponential: exponential.then(|| ExponentialHistogramDataPoint {
                scale: START_SCALE,
                ..Default::default()
            }),
            exemplars: Vec::new(),
        }
    }

    /// Adds `weight` observations of `value`, which falls in explicit bucket `bucket`.
    pub(super) fn record(
        &mut self,
        value: f64,
        weight: u64,
        bucket: usize,
        max_size: Option<usize>,
    ) {
        self.count += weight;
        self.sum += value * weight as f64;
        self.buckets[bucket] += weight;
        if let (Some(point), Some(max_size)) = (self.exponential.as_mut(), max_size) {
            record_exponential(point, value, weight, max_size);
        }
    }

    /// Back to empty (delta temporality, after an emission).
    pub(super) fn reset(&mut self) {
        *self = Distribution::new(self.buckets.len(), self.exponential.is_some());
    }
}

/// Forgets the series not updated within `expiration` of `now`; returns how many.
pub(super) fn expire<T>(
    table: &mut Table<T>,
    now: Instant,
    expiration: std::time::Duration,
) -> usize {
    let before = table.len();
    table.retain(|_, s| now.duration_since(*s.updated.get_or_insert(now)) < expiration);
    before - table.len()
}

/// Adds `weight` observations of `value` to an exponential histogram, lowering its scale
/// until the positive range fits in `max_size` buckets.
fn record_exponential(
    point: &mut ExponentialHistogramDataPoint,
    value: f64,
    weight: u64,
    max_size: usize,
) {
    if weight == 0 {
        return;
    }
    if value <= 0.0 {
        point.zero_count += weight;
        return;
    }
    let index = |scale: i32| -> i64 { (value.log2() * 2f64.powi(scale)).ceil() as i64 - 1 };
    loop {
        let i = index(point.scale);
        let buckets = point.positive.get_or_insert_with(Buckets::default);
        if buckets.bucket_counts.is_empty() {
            buckets.offset = i as i32;
            buckets.bucket_counts.push(weight);
            return;
        }
        let first = i64::from(buckets.offset).min(i);
        let last = (i64::from(buckets.offset) + buckets.bucket_counts.len() as i64 - 1).max(i);
        if (last - first + 1) as usize > max_size {
            let scale = point.scale - 1;
            points::downscale_point(point, scale);
            continue;
        }
        if i < i64::from(buckets.offset) {
            let grow = (i64::from(buckets.offset) - i) as usize;
            buckets.bucket_counts.splice(0..0, std::iter::repeat_n(0, grow));
            buckets.offset = i as i32;
        }
        let slot = (i - i64::from(buckets.offset)) as usize;
        if slot >= buckets.bucket_counts.len() {
            buckets.bucket_counts.resize(slot + 1, 0);
        }
        buckets.bucket_counts[slot] += weight;
        return;
    }
}
