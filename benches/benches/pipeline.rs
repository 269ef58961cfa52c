//! The runtime's own cost per span: a pipeline task with no processors handing batches to a
//! consumer, and an export queue merging small batches (`sending_queue.batch`) into a nop
//! exporter. Run with `cargo bench -p weir-benches --bench pipeline`.

use std::{sync::Arc, time::Duration};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::mpsc;
use weir_benches::{Size, batch};
use weir_core::{
    Batch, BoxFuture, Consumer, ExportError, Exporter, Signal,
    export::{self, QueueBatch, Settings},
    pipeline::{DEFAULT_TICK, Pipeline},
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCHES: usize = 200;
const SPANS: usize = 100;

struct Nop;

impl Exporter for Nop {
    fn export<'a>(
        &'a self,
        _: &'a Batch,
        _: &'a weir_core::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
}

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let input_batches: Vec<Batch> =
        (0..BATCHES).map(|_| batch(Signal::Traces, Size::Realistic, SPANS)).collect();
    let mut group = c.benchmark_group("runtime");
    group.throughput(Throughput::Elements((BATCHES * SPANS) as u64));

    group.bench_function("pipeline_no_processors", |b| {
        b.iter_batched(
            || input_batches.clone(),
            |batches| {
                runtime.block_on(async {
                    let (input_tx, input) = mpsc::channel(16);
                    let (out_tx, mut out) = mpsc::channel(16);
                    let consumers = vec![Consumer::blocking("sink", out_tx)];
                    let task = tokio::spawn(
                        Pipeline::new(
                            "traces",
                            Signal::Traces,
                            input,
                            Vec::new(),
                            consumers,
                            DEFAULT_TICK,
                        )
                        .run(),
                    );
                    let drain = tokio::spawn(async move { while out.recv().await.is_some() {} });
                    for batch in batches {
                        input_tx.send(batch.into()).await.unwrap();
                    }
                    drop(input_tx);
                    task.await.unwrap();
                    drain.await.unwrap();
                })
            },
            criterion::BatchSize::LargeInput,
        )
    });

    group.bench_function("export_queue_batching", |b| {
        b.iter_batched(
            || input_batches.clone(),
            |batches| {
                runtime.block_on(async {
                    let mut settings = Settings::default();
                    settings.queue.batch = Some(QueueBatch {
                        flush_timeout: Duration::from_millis(50),
                        min_size: 2000,
                        max_size: 4000,
                    });
                    let (consumer, queue) = export::queue("nop", Arc::new(Nop), settings);
                    let task = tokio::spawn(queue.run());
                    for batch in batches {
                        consumer.sender.send(batch.into()).await.unwrap();
                    }
                    drop(consumer);
                    task.await.unwrap();
                })
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
