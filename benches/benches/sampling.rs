//! The samplers' cost per span, on realistic spans (traces of five spans, batches of 1,000):
//! the head sampler (`probabilistic_sampler`, proportional, 10 %); tail sampling's ingest
//! (grouping spans by trace into the buffer) and its decision (three policies: errors,
//! latency, probabilistic 10 %, then th written on every kept span). Batch clones and sampler
//! construction are outside the timing. Run with `cargo bench -p weir-benches --bench sampling`.

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::{Size, batch};
use weir_core::{Batch, Output, Processor, Signal};
use weir_processors::{
    probabilistic_sampler::{self, Mode},
    tail_sampling::{self, TailSampler},
};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 1000;
const BATCHES: usize = 10;

fn tail_config() -> tail_sampling::Config {
    let text = "
decision_wait: 30s
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 500}}
  - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 10}}
";
    serde_saphyr::from_str(text).expect("valid")
}

fn samplers(c: &mut Criterion) {
    let inputs: Vec<Batch> =
        (0..BATCHES).map(|_| batch(Signal::Traces, Size::Realistic, SPANS)).collect();
    let mut group = c.benchmark_group("sampling");

    group.throughput(Throughput::Elements(SPANS as u64));
    let config = probabilistic_sampler::Config {
        mode: Mode::Proportional,
        sampling_percentage: 10.0,
        ..probabilistic_sampler::Config::default()
    };
    let mut head = probabilistic_sampler::Sampler::new(&config, "probabilistic_sampler");
    let mut out = Output::new();
    group.bench_function("head_proportional", |b| {
        b.iter_batched(
            || inputs[0].clone(),
            |input| {
                head.process(input, &mut out);
                out.drain().count()
            },
            BatchSize::SmallInput,
        )
    });

    group.throughput(Throughput::Elements((SPANS * BATCHES) as u64));
    let settings =
        <tail_sampling::Settings as weir_core::Component>::validate(tail_config()).expect("valid");
    group.bench_function("tail_ingest", |b| {
        b.iter_batched(
            || (TailSampler::new(&settings, "tail_sampling"), inputs.clone()),
            |(mut tail, inputs)| {
                let mut out = Output::new();
                for input in inputs {
                    tail.process(input, &mut out);
                }
                tail
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("tail_decide", |b| {
        b.iter_batched(
            || {
                let mut tail = TailSampler::new(&settings, "tail_sampling");
                let mut out = Output::new();
                let start = Instant::now();
                tail.flush(start, &mut out);
                for input in inputs.clone() {
                    tail.process(input, &mut out);
                }
                (tail, start)
            },
            |(mut tail, start)| {
                let mut out = Output::new();
                tail.flush(start + Duration::from_secs(31), &mut out);
                out.drain().count()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, samplers);
criterion_main!(benches);
