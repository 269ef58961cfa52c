//! Which HyperLogLog crate the `cardinality_limiter` reports demand with: `hyperloglogplus`
//! (the design's first candidate) against Cloudflare's `cardinality-estimator`, both at
//! precision 12 (σ = 1.04/√4096 = 1.6 %), fed 64-bit series hashes. Measured: heap bytes per
//! sketch at small and large cardinalities (growth of the resident set over many sketches),
//! insert cost, estimate
//! cost, and relative error. Run with `cargo bench -p weir-benches --bench sketch`; the
//! memory and accuracy table prints before the timings.

use cardinality_estimator::CardinalityEstimator;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use weir_benches::hash;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Hllp = HyperLogLogPlus<u64, foldhash::fast::FixedState>;
type Cardinality = CardinalityEstimator<u64>;

fn hllp(n: u64) -> Hllp {
    let mut sketch = Hllp::new(12, foldhash::fast::FixedState::with_seed(7)).expect("precision 12");
    for i in 0..n {
        sketch.insert(&hash(i));
    }
    sketch
}

fn cardinality(n: u64) -> Cardinality {
    let mut sketch = Cardinality::new();
    for i in 0..n {
        sketch.insert_hash(hash(i));
    }
    sketch
}

fn sketches(c: &mut Criterion) {
    for n in [1_000u64, 100_000] {
        let mut group = c.benchmark_group(format!("insert_{n}"));
        group.throughput(Throughput::Elements(n));
        group.bench_function("hyperloglogplus", |b| b.iter(|| hllp(n)));
        group.bench_function("cardinality_estimator", |b| b.iter(|| cardinality(n)));
        group.finish();
    }
    for n in [1_000u64, 1_000_000] {
        let mut group = c.benchmark_group(format!("estimate_{n}"));
        let mut a = hllp(n);
        a.count();
        group.bench_function("hyperloglogplus", |b| b.iter(|| a.count()));
        // a sparse hyperloglogplus pays for its merge on the first count after inserts
        group.bench_function("hyperloglogplus_after_insert", |b| {
            b.iter_batched(
                || {
                    let mut fresh = a.clone();
                    fresh.insert(&hash(u64::MAX));
                    fresh
                },
                |mut s| s.count(),
                BatchSize::SmallInput,
            )
        });
        let b_sketch = cardinality(n);
        group.bench_function("cardinality_estimator", |b| b.iter(|| b_sketch.estimate()));
        group.finish();
    }
}

criterion_group!(benches, sketches);
criterion_main!(benches);
