//! The cost of the OTLP codec per span: protobuf decode, encode and both (the ceiling a
//! forwarding pipeline is measured against), and OTLP/JSON decode. Run with
//! `cargo bench -p weir-benches --bench codec`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::realistic_spans;
use weir_otlp::{Batch, Signal};

const SPANS: usize = 512;

/// The allocator weir runs with, so the ceiling compares like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn codec(c: &mut Criterion) {
    let batch = realistic_spans(SPANS, 1);
    let protobuf = batch.encode_protobuf();
    let json = weir_otlp::json::encode(&batch);
    let mut group = c.benchmark_group("otlp_codec");
    group.throughput(Throughput::Elements(SPANS as u64));
    eprintln!(
        "{SPANS} spans: {} bytes protobuf ({} per span), {} bytes JSON",
        protobuf.len(),
        protobuf.len() / SPANS,
        json.len()
    );
    group.bench_function("protobuf_decode", |b| {
        b.iter(|| Batch::decode_protobuf(Signal::Traces, &protobuf).unwrap())
    });
    group.bench_function("protobuf_encode", |b| b.iter(|| batch.encode_protobuf()));
    group.bench_function("protobuf_decode_encode", |b| {
        b.iter(|| Batch::decode_protobuf(Signal::Traces, &protobuf).unwrap().encode_protobuf())
    });
    group.bench_function("validate", |b| b.iter(|| weir_otlp::validate(&batch).unwrap()));
    group.bench_function("split_100", |b| {
        b.iter_batched(|| batch.clone(), |batch| batch.split(100), BatchSize::LargeInput)
    });
    group.bench_function("json_decode", |b| {
        b.iter(|| weir_otlp::json::decode(Signal::Traces, &json).unwrap())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
