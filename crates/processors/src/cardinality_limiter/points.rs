//! Arithmetic on data points for the overflow series: merging (delta sums and histograms add
//! exactly; exponential histograms meet at the coarser scale) and increments of cumulative
//! points (this point minus the series' previous one, or all of it after a reset).

use weir_otlp::proto::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint,
    exponential_histogram_data_point::Buckets, number_data_point::Value,
};

/// Exemplars kept on an overflow point, for debugging.
const MAX_EXEMPLARS: usize = 2;
/// The most buckets per range of a merged exponential histogram (the SDKs' default).
const MAX_EXPONENTIAL_BUCKETS: usize = 160;

/// A data point the limiter can aggregate, stripped of its attributes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Point {
    /// Sums and gauges.
    Number(NumberDataPoint),
    /// Explicit-bucket histograms.
    Histogram(HistogramDataPoint),
    /// Exponential histograms.
    Exponential(ExponentialHistogramDataPoint),
}

impl Point {
    /// The point's end time.
    pub(crate) fn time(&self) -> u64 {
        match self {
            Point::Number(p) => p.time_unix_nano,
            Point::Histogram(p) => p.time_unix_nano,
            Point::Exponential(p) => p.time_unix_nano,
        }
    }

    /// Sets the point's start time.
    pub(crate) fn set_start(&mut self, start: u64) {
        match self {
            Point::Number(p) => p.start_time_unix_nano = start,
            Point::Histogram(p) => p.start_time_unix_nano = start,
            Point::Exponential(p) => p.start_time_unix_nano = start,
        }
    }

    /// Drops what the limiter does not keep between batches (attributes, exemplars).
    pub(crate) fn strip(&mut self) {
        match self {
            Point::Number(p) => {
                p.attributes = Vec::new();
                p.exemplars = Vec::new();
            }
            Point::Histogram(p) => {
                p.attributes = Vec::new();
                p.exemplars = Vec::new();
            }
            Point::Exponential(p) => {
                p.attributes = Vec::new();
                p.exemplars = Vec::new();
            }
        }
    }

    /// Adds `other` (of the same kind) into `self`: values, counts, sums and buckets add,
    /// minimums and maximums combine, the time range widens.
    pub(crate) fn merge(&mut self, other: Point) {
        match (self, other) {
            (Point::Number(a), Point::Number(b)) => {
                a.value = Some(add_values(a.value, b.value));
                widen(&mut a.start_time_unix_nano, &mut a.time_unix_nano, &b);
                keep_exemplars(&mut a.exemplars, b.exemplars);
                a.flags |= b.flags;
            }
            (Point::Histogram(a), Point::Histogram(b)) => {
                if a.bucket_counts.len() < b.bucket_counts.len() {
                    a.bucket_counts.resize(b.bucket_counts.len(), 0);
                }
                for (x, y) in a.bucket_counts.iter_mut().zip(&b.bucket_counts) {
                    *x += y;
                }
                if a.explicit_bounds.is_empty() {
                    a.explicit_bounds = b.explicit_bounds;
                }
                a.count += b.count;
                a.sum = add_options(a.sum, b.sum);
                a.min = combine_options(a.min, b.min, f64::min);
                a.max = combine_options(a.max, b.max, f64::max);
                a.start_time_unix_nano = min_start(a.start_time_unix_nano, b.start_time_unix_nano);
                a.time_unix_nano = a.time_unix_nano.max(b.time_unix_nano);
                keep_exemplars(&mut a.exemplars, b.exemplars);
                a.flags |= b.flags;
            }
            (Point::Exponential(a), Point::Exponential(mut b)) => {
                let scale = a.scale.min(b.scale);
                downscale_point(a, scale);
                downscale_point(&mut b, scale);
                a.positive = Some(add_buckets(a.positive.take(), b.positive));
                a.negative = Some(add_buckets(a.negative.take(), b.negative));
                while width(&a.positive).max(width(&a.negative)) > MAX_EXPONENTIAL_BUCKETS {
                    let scale = a.scale - 1;
                    downscale_point(a, scale);
                }
                a.count += b.count;
                a.zero_count += b.zero_count;
                a.zero_threshold = a.zero_threshold.max(b.zero_threshold);
                a.sum = add_options(a.sum, b.sum);
                a.min = combine_options(a.min, b.min, f64::min);
                a.max = combine_options(a.max, b.max, f64::max);
                a.start_time_unix_nano = min_start(a.start_time_unix_nano, b.start_time_unix_nano);
                a.time_unix_nano = a.time_unix_nano.max(b.time_unix_nano);
                keep_exemplars(&mut a.exemplars, b.exemplars);
                a.flags |= b.flags;
            }
            // Kinds never mix: the caller keys aggregates by metric type.
            _ => {}
        }
    }

    /// What a cumulative series added since `last`: `self - last`, or all of `self` when the
    /// series restarted (a new start time, or a monotonic value or a count going down).
    pub(crate) fn increment(&self, last: &Point, monotonic: bool) -> Point {
        let mut increment = self.clone();
        match (&mut increment, last) {
            (Point::Number(cur), Point::Number(last)) => {
                let reset = restarted(cur.start_time_unix_nano, last.start_time_unix_nano)
                    || (monotonic && as_f64(cur.value) < as_f64(last.value));
                if !reset {
                    cur.value = Some(sub_values(cur.value, last.value));
                }
            }
            (Point::Histogram(cur), Point::Histogram(last)) => {
                let reset = restarted(cur.start_time_unix_nano, last.start_time_unix_nano)
                    || cur.count < last.count
                    || cur.explicit_bounds != last.explicit_bounds
                    || cur.bucket_counts.len() != last.bucket_counts.len()
                    || cur.bucket_counts.iter().zip(&last.bucket_counts).any(|(c, l)| c < l);
                if !reset {
                    for (c, l) in cur.bucket_counts.iter_mut().zip(&last.bucket_counts) {
                        *c -= l;
                    }
                    cur.count -= last.count;
                    cur.sum = sub_options(cur.sum, last.sum);
                }
            }
            (Point::Exponential(cur), Point::Exponential(last)) => {
                let mut last = last.clone();
                let scale = cur.scale.min(last.scale);
                downscale_point(cur, scale);
                downscale_point(&mut last, scale);
                let positive = sub_buckets(cur.positive.as_ref(), last.positive.as_ref());
                let negative = sub_buckets(cur.negative.as_ref(), last.negative.as_ref());
                let reset = restarted(cur.start_time_unix_nano, last.start_time_unix_nano)
                    || cur.count < last.count
                    || cur.zero_count < last.zero_count
                    || positive.is_none()
                    || negative.is_none();
                if let (false, Some(positive), Some(negative)) = (reset, positive, negative) {
                    cur.positive = positive;
                    cur.negative = negative;
                    cur.count -= last.count;
                    cur.zero_count -= last.zero_count;
                    cur.sum = sub_options(cur.sum, last.sum);
                }
            }
            _ => {}
        }
        increment
    }

    /// The same kind of point with nothing in it, over `[start, time]`: the first point of a
    /// cumulative series only sets its baseline.
    pub(crate) fn zero(&self) -> Point {
        let mut zero = self.clone();
        match &mut zero {
            Point::Number(p) => {
                p.value = Some(match p.value {
                    Some(Value::AsInt(_)) => Value::AsInt(0),
                    _ => Value::AsDouble(0.0),
                });
            }
            Point::Histogram(p) => {
                p.bucket_counts.iter_mut().for_each(|c| *c = 0);
                p.count = 0;
                p.sum = p.sum.map(|_| 0.0);
                p.min = None;
                p.max = None;
            }
            Point::Exponential(p) => {
                p.positive = None;
                p.negative = None;
                p.count = 0;
                p.zero_count = 0;
                p.sum = p.sum.map(|_| 0.0);
                p.min = None;
                p.max = None;
            }
        }
        zero
    }
}

fn restarted(current: u64, last: u64) -> bool {
    current != 0 && last != 0 && current != last
}

pub(crate) fn as_f64(value: Option<Value>) -> f64 {
    match value {
        Some(Value::AsInt(i)) => i as f64,
        Some(Value::AsDouble(d)) => d,
        None => 0.0,
    }
}

/// Integers stay integers while they fit; anything else adds as doubles.
fn add_values(a: Option<Value>, b: Option<Value>) -> Value {
    match (a, b) {
        (Some(Value::AsInt(x)), Some(Value::AsInt(y))) => match x.checked_add(y) {
            Some(sum) => Value::AsInt(sum),
            None => Value::AsDouble(x as f64 + y as f64),
        },
        (Some(Value::AsInt(x)), None) | (None, Some(Value::AsInt(x))) => Value::AsInt(x),
        (a, b) => Value::AsDouble(as_f64(a) + as_f64(b)),
    }
}

fn sub_values(a: Option<Value>, b: Option<Value>) -> Value {
    match (a, b) {
        (Some(Value::AsInt(x)), Some(Value::AsInt(y))) => match x.checked_sub(y) {
            Some(difference) => Value::AsInt(difference),
            None => Value::AsDouble(x as f64 - y as f64),
        },
        (a, b) => Value::AsDouble(as_f64(a) - as_f64(b)),
    }
}

fn add_options(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    }
}

fn sub_options(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x - y),
        (x, _) => x,
    }
}

fn combine_options(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(f(x, y)),
        (x, y) => x.or(y),
    }
}

fn min_start(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (x, y) => x.min(y),
    }
}

fn widen(start: &mut u64, time: &mut u64, other: &NumberDataPoint) {
    *start = min_start(*start, other.start_time_unix_nano);
    *time = (*time).max(other.time_unix_nano);
}

fn keep_exemplars(kept: &mut Vec<Exemplar>, more: Vec<Exemplar>) {
    let room = MAX_EXEMPLARS.saturating_sub(kept.len());
    kept.extend(more.into_iter().take(room));
}

/// Buckets in use by one range of an exponential histogram.
fn width(buckets: &Option<Buckets>) -> usize {
    buckets.as_ref().map_or(0, |b| b.bucket_counts.len())
}

/// Lowers a point's scale to `scale`: bucket `i` becomes `i >> (old - new)`.
pub(crate) fn downscale_point(point: &mut ExponentialHistogramDataPoint, scale: i32) {
    if scale >= point.scale {
        return;
    }
    let by = (point.scale - scale) as u32;
    for buckets in [&mut point.positive, &mut point.negative].into_iter().flatten() {
        weir_otlp::exponential::downscale(buckets, by);
    }
    point.scale = scale;
}

/// Adds two bucket ranges of the same scale.
fn add_buckets(a: Option<Buckets>, b: Option<Buckets>) -> Buckets {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) if !a.bucket_counts.is_empty() && !b.bucket_counts.is_empty() => (a, b),
        (Some(a), Some(b)) => return if a.bucket_counts.is_empty() { b } else { a },
        (a, b) => return a.or(b).unwrap_or_default(),
    };
    let start = a.offset.min(b.offset);
    let end = (a.offset as i64 + a.bucket_counts.len() as i64)
        .max(b.offset as i64 + b.bucket_counts.len() as i64);
    let mut counts = vec![0u64; (end - start as i64) as usize];
    for buckets in [&a, &b] {
        let shift = (buckets.offset - start) as usize;
        for (i, count) in buckets.bucket_counts.iter().enumerate() {
            counts[shift + i] += count;
        }
    }
    Buckets { offset: start, bucket_counts: counts }
}

/// `a - b` bucket by bucket (same scale); `None` when some bucket of `b` exceeds `a`'s.
fn sub_buckets(a: Option<&Buckets>, b: Option<&Buckets>) -> Option<Option<Buckets>> {
    let empty = Buckets::default();
    let a = a.unwrap_or(&empty);
    let b = b.unwrap_or(&empty);
    let mut result = a.clone();
    for (i, count) in b.bucket_counts.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let index = b.offset as i64 + i as i64 - a.offset as i64;
        let slot = usize::try_from(index).ok().and_then(|i| result.bucket_counts.get_mut(i))?;
        *slot = slot.checked_sub(*count)?;
    }
    Some((!result.bucket_counts.is_empty()).then_some(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(scale: i32, offset: i32, counts: &[u64]) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            scale,
            count: counts.iter().sum(),
            positive: Some(Buckets { offset, bucket_counts: counts.to_vec() }),
            ..Default::default()
        }
    }

    #[test]
    fn downscaling_folds_pairs_of_buckets_including_negative_indexes() {
        // scale 1 buckets -3..=2 → scale 0: -3>>1=-2, -2>>1=-1, -1>>1=-1, 0,1 → 0, 2 → 1
        let mut p = exp(1, -3, &[1, 2, 3, 4, 5, 6]);
        downscale_point(&mut p, 0);
        assert_eq!(p.positive.unwrap(), Buckets { offset: -2, bucket_counts: vec![1, 5, 9, 6] });
    }

    #[test]
    fn exponential_merge_meets_at_the_coarser_scale_and_keeps_counts() {
        let mut a = Point::Exponential(exp(2, 0, &[1, 1, 1, 1]));
        a.merge(Point::Exponential(exp(1, 4, &[2, 3])));
        let Point::Exponential(a) = a else { unreachable!() };
        assert_eq!(a.scale, 1);
        // scale-2 buckets 0..=3 → scale-1 buckets 0,1 ; plus 4,5
        assert_eq!(
            a.positive.unwrap(),
            Buckets { offset: 0, bucket_counts: vec![2, 2, 0, 0, 2, 3] }
        );
        assert_eq!(a.count, 9);
    }

    #[test]
    fn exponential_merge_bounds_the_bucket_count() {
        let mut a = Point::Exponential(exp(5, 0, &[1; 100]));
        a.merge(Point::Exponential(exp(5, 1000, &[1; 100])));
        let Point::Exponential(a) = a else { unreachable!() };
        let buckets = a.positive.unwrap();
        assert!(buckets.bucket_counts.len() <= MAX_EXPONENTIAL_BUCKETS);
        assert_eq!(buckets.bucket_counts.iter().sum::<u64>(), 200);
        assert_eq!(a.scale, 2, "1100 buckets wide at scale 5 fit in 160 at scale 2");
    }

    #[test]
    fn cumulative_increments_subtract_or_restart() {
        let point = |start, v| {
            Point::Number(NumberDataPoint {
                start_time_unix_nano: start,
                value: Some(Value::AsInt(v)),
                ..Default::default()
            })
        };
        let value = |p: Point| match p {
            Point::Number(p) => p.value,
            _ => None,
        };
        assert_eq!(value(point(1, 10).increment(&point(1, 4), true)), Some(Value::AsInt(6)));
        assert_eq!(value(point(1, 3).increment(&point(1, 4), true)), Some(Value::AsInt(3)));
        assert_eq!(value(point(1, 3).increment(&point(1, 4), false)), Some(Value::AsInt(-1)));
        assert_eq!(value(point(2, 3).increment(&point(1, 1), false)), Some(Value::AsInt(3)));
        let e = Point::Exponential(exp(1, 0, &[3, 3]));
        let Point::Exponential(inc) =
            e.increment(&Point::Exponential(exp(2, 0, &[1, 0, 0, 1])), true)
        else {
            unreachable!()
        };
        assert_eq!((inc.scale, inc.count), (1, 4));
        assert_eq!(inc.positive.unwrap().bucket_counts, vec![2, 2]);
    }
}
