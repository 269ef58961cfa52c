//! Exponential-histogram bucket arithmetic shared by every component that changes a scale.

use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;

/// Lowers the scale of a bucket range by `by`: bucket `i` becomes `i >> by` (floor division,
/// so negative indexes fold correctly), counts of merged buckets add.
pub fn downscale(buckets: &mut Buckets, by: u32) {
    if buckets.bucket_counts.is_empty() || by == 0 {
        return;
    }
    let by = by.min(63);
    let first = i64::from(buckets.offset);
    let offset = first >> by;
    let last = (first + buckets.bucket_counts.len() as i64 - 1) >> by;
    let mut counts = vec![0u64; (last - offset + 1) as usize];
    for (i, count) in buckets.bucket_counts.iter().enumerate() {
        counts[(((first + i as i64) >> by) - offset) as usize] += count;
    }
    buckets.offset = offset as i32;
    buckets.bucket_counts = counts;
}
