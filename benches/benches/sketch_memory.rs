//! Heap bytes per HyperLogLog sketch and relative error, `hyperloglogplus` against
//! `cardinality-estimator` at precision 12, for 10 to 1,000,000 distinct 64-bit hashes.
//! Heap is counted by dhat's allocator (so this bench has no timings). Run with
//! `cargo bench -p weir-benches --bench sketch_memory`.

use cardinality_estimator::CardinalityEstimator;
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use weir_benches::hash;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn live() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

fn main() {
    // Test runners list a binary's tests first (`--list`): this one has none to list.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _profiler = dhat::Profiler::builder().testing().build();
    // `cargo test` runs benches once without `--bench`: keep that run small.
    let sizes: &[u64] = if std::env::args().any(|a| a == "--bench") {
        &[10, 100, 1_000, 10_000, 100_000, 1_000_000]
    } else {
        &[10, 1_000]
    };
    println!(
        "distinct | hyperloglogplus heap bytes, error | cardinality-estimator heap bytes, error"
    );
    for &n in sizes {
        let before = live();
        let mut a = HyperLogLogPlus::<u64, _>::new(12, foldhash::fast::FixedState::with_seed(7))
            .expect("p 12");
        for i in 0..n {
            a.insert(&hash(i));
        }
        let estimate_a = a.count();
        let bytes_a = live() - before;
        let before = live();
        let mut b = CardinalityEstimator::<u64>::new();
        for i in 0..n {
            b.insert_hash(hash(i));
        }
        let estimate_b = b.estimate() as f64;
        let bytes_b = live() - before;
        let error = |e: f64| (e - n as f64) / n as f64 * 100.0;
        println!(
            "{n:>8} | {bytes_a:>10} {:>+7.2}% | {bytes_b:>10} {:>+7.2}%",
            error(estimate_a),
            error(estimate_b)
        );
        assert!(
            error(estimate_b).abs() < 10.0 && error(estimate_a).abs() < 10.0,
            "estimates are sane"
        );
    }
}
