//! The cost of the OTLP codec per item, for each signal in a small and a realistic shape:
//! protobuf decode, encode and both (the ceiling a forwarding pipeline is measured against),
//! OTLP/JSON decode and encode, id validation, the validating wire walk that replaces
//! decode + validation for data no processor reads, and the encoded split and append. Run with
//! `cargo bench -p weir-benches --bench codec`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::{Size, batch};
use weir_otlp::{Batch, Signal};

/// The allocator weir runs with, so the ceiling compares like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ITEMS: usize = 500;

fn codec(c: &mut Criterion) {
    for signal in Signal::ALL {
        for size in Size::ALL {
            let batch = batch(signal, size, ITEMS);
            let items = batch.item_count();
            let protobuf = batch.encode_protobuf();
            let json = weir_otlp::json::encode(&batch);
            eprintln!(
                "{signal}/{}: {items} items, {} bytes protobuf ({} per item), {} bytes JSON",
                size.name(),
                protobuf.len(),
                protobuf.len() / items,
                json.len()
            );
            let mut group = c.benchmark_group(format!("{signal}/{}", size.name()));
            group.throughput(Throughput::Elements(items as u64));
            group.bench_function("protobuf_decode", |b| {
                b.iter(|| Batch::decode_protobuf(signal, &protobuf).unwrap())
            });
            group.bench_function("protobuf_encode", |b| b.iter(|| batch.encode_protobuf()));
            group.bench_function("encoded_len", |b| b.iter(|| batch.encoded_len()));
            group.bench_function("protobuf_decode_encode", |b| {
                b.iter(|| Batch::decode_protobuf(signal, &protobuf).unwrap().encode_protobuf())
            });
            group.bench_function("json_decode", |b| {
                b.iter(|| weir_otlp::json::decode(signal, &json).unwrap())
            });
            group.bench_function("json_encode", |b| b.iter(|| weir_otlp::json::encode(&batch)));
            group.bench_function("validate", |b| b.iter(|| weir_otlp::validate(&batch).unwrap()));
            group.bench_function("wire_walk", |b| {
                b.iter(|| weir_otlp::wire::walk(signal, &protobuf).unwrap())
            });
            let encoded = weir_otlp::wire::Encoded::new(signal, protobuf.clone()).unwrap();
            group.bench_function("encoded_split_in_two", |b| {
                b.iter(|| encoded.clone().split_front(encoded.item_count() / 2))
            });
            group.bench_function("encoded_append", |b| {
                b.iter(|| {
                    let mut joined = encoded.clone();
                    joined.append(encoded.clone());
                    joined
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
