//! The cost per span of the `zipkin` and `jaeger` receivers' decoding and translation to OTLP,
//! and per sample of the `prometheus` receiver's parsing and translation of a scraped page,
//! on requests captured from the OpenTelemetry Python SDK's exporters (`benches/data/`, made by
//! `benches/data/capture.py`: 100 spans each, a server span with five attributes and its client
//! child with four, resource and scope copied as the SDKs copy them). Run with
//! `cargo bench -p weir-benches --bench trace_receivers`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_receivers::{jaeger, zipkin};

/// The allocator weir runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A receiver's decoding of one request.
type Decode = Box<dyn Fn(&[u8]) -> weir_otlp::Batch>;

fn receivers(c: &mut Criterion) {
    let cases: [(&str, &str, Decode); 4] = [
        (
            "zipkin_v2_json",
            "zipkin-v2.json",
            Box::new(|b| zipkin::decode(b, zipkin::Format::V2Json, false).unwrap()),
        ),
        (
            "zipkin_v2_protobuf",
            "zipkin-v2.pb",
            Box::new(|b| zipkin::decode(b, zipkin::Format::V2Protobuf, false).unwrap()),
        ),
        (
            "jaeger_thrift_http",
            "jaeger-batch.thrift",
            Box::new(|b| jaeger::decode(b, jaeger::Encoding::ThriftBatch).unwrap()),
        ),
        (
            "jaeger_udp_compact",
            "jaeger-emitbatch.compact",
            Box::new(|b| jaeger::decode(b, jaeger::Encoding::AgentCompact).unwrap()),
        ),
    ];
    let mut group = c.benchmark_group("trace_receivers");
    for (name, file, decode) in cases {
        let body = data(file);
        let spans = decode(&body).item_count();
        assert_eq!(spans, 100, "{file}");
        eprintln!(
            "{name}: {spans} spans in {} bytes ({} per span)",
            body.len(),
            body.len() / spans
        );
        group.throughput(Throughput::Elements(spans as u64));
        group.bench_function(name, |b| b.iter(|| decode(&body)));
    }
    group.finish();
}

/// A real `prometheus-node-exporter` page (1.5.0, 507 samples), parsed and translated to
/// OTLP as one scrape.
fn prometheus(c: &mut Criterion) {
    use weir_core::Component as _;
    let page = String::from_utf8(data("node-exporter.txt")).unwrap();
    let settings = weir_receivers::prometheus::Settings::parse(
        "config:\n  scrape_configs:\n    - job_name: node\n      static_configs: [{targets: ['127.0.0.1:9100']}]",
    )
    .unwrap();
    let samples = page.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).count();
    let mut group = c.benchmark_group("prometheus_receiver");
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("node_exporter_page", |b| {
        b.iter(|| weir_receivers::prometheus::convert_page(&settings, &page, false).unwrap())
    });
    group.finish();
}

criterion_group!(benches, receivers, prometheus);
criterion_main!(benches);
