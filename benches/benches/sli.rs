//! SLI derivation's cost per span, on realistic spans (batches of 1,000, five services): the
//! `spanmetrics` connector (default dimensions and buckets) and the `slo` connector (the
//! default configuration's availability and latency SLOs, grouped by service). The batch
//! clone is outside the timing. Run with `cargo bench -p weir-benches --bench sli`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::{Size, batch};
use weir_core::{Batch, Output, Processor, Signal};
use weir_processors::{slo, spanmetrics};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 1000;

fn connectors(c: &mut Criterion) {
    let input: Batch = batch(Signal::Traces, Size::Realistic, SPANS);
    let mut group = c.benchmark_group("sli");
    group.throughput(Throughput::Elements(SPANS as u64));

    let mut spanmetrics = spanmetrics::SpanMetrics::new(&spanmetrics::Config::default());
    let mut out = Output::at(1_800_000_000_000_000_000);
    group.bench_function("spanmetrics", |b| {
        b.iter_batched(
            || input.clone(),
            |batch| spanmetrics.process(batch, &mut out),
            BatchSize::SmallInput,
        )
    });

    let settings = <slo::Settings as weir_core::Component>::parse(
        "slos:
  - {name: availability, objectives: [{target: 0.999}], group_by: [service.name], indicator: {total: {span_kind: [SERVER, INTERNAL, CLIENT]}}}
  - {name: latency, objectives: [{target: 0.99}], group_by: [service.name], indicator: {total: {span_kind: [SERVER, INTERNAL, CLIENT]}, latency: {threshold: 300ms}}}",
    )
    .expect("valid");
    let mut connector = slo::SloConnector::new(&settings, "slo");
    group.bench_function("slo", |b| {
        b.iter_batched(
            || input.clone(),
            |batch| connector.process(batch, &mut out),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, connectors);
criterion_main!(benches);
