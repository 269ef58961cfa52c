//! OTTL's cost per span, on realistic spans (ten 36-byte attributes and an event, batches of
//! 1,000, already decoded): `transform` running `set(span.attributes["k"], "v")`; a
//! `where IsMatch(...)` condition with its precompiled regular expression, tested on every
//! span; and `filter` dropping 90 % of the spans by an attribute. Batch clones are outside the
//! timing. Run with `cargo bench -p weir-benches --bench ottl`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weir_benches::{Size, batch};
use weir_core::{Batch, Component, Decoded, Output, Processor, Signal};
use weir_otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use weir_processors::{filter, transform};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 512;

/// Realistic spans, decoded, 90 % of them carrying `tier: debug` and the rest `tier: keep`.
fn input() -> Batch {
    let mut input = batch(Signal::Traces, Size::Realistic, SPANS);
    let Decoded::Traces(resources) = input.decoded_mut() else { unreachable!() };
    let spans = resources.iter_mut().flat_map(|r| &mut r.scope_spans).flat_map(|s| &mut s.spans);
    for (i, span) in spans.enumerate() {
        let tier = if i % 10 == 0 { "keep" } else { "debug" };
        span.attributes.push(KeyValue {
            key: "tier".into(),
            value: Some(AnyValue { value: Some(Value::StringValue(tier.into())) }),
            ..KeyValue::default()
        });
    }
    input
}

/// Times `processor` on `input` decoded anew for each run (so that its lists have the room
/// decoding leaves, as in a pipeline); decoding and freeing the spans fall outside.
fn run(c: &mut Criterion, name: &str, processor: &mut dyn Processor, input: &Batch) {
    let bytes = input.encode_protobuf();
    let mut out = Output::new();
    let mut group = c.benchmark_group("ottl");
    group.throughput(Throughput::Elements(SPANS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut batch = Batch::from_protobuf(Signal::Traces, bytes.clone()).expect("valid");
                batch.decoded_mut();
                let start = Instant::now();
                processor.process(batch, &mut out);
                total += start.elapsed();
                out.drain().for_each(drop);
            }
            total
        })
    });
}

fn ottl(c: &mut Criterion) {
    let input = input();

    // what dropping 90 % of the spans costs without any condition: the floor of the filter
    let bytes = input.encode_protobuf();
    c.benchmark_group("ottl").throughput(Throughput::Elements(SPANS as u64)).bench_function(
        "drop_90_percent_by_position",
        |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let mut data = Batch::from_protobuf(Signal::Traces, bytes.clone())
                        .expect("valid")
                        .into_decoded();
                    let start = Instant::now();
                    let mut i = 0;
                    weir_ottl::walk(weir_ottl::Context::Span, &mut data, &mut |_| {
                        i += 1;
                        Ok(i % 10 == 1)
                    })
                    .unwrap();
                    total += start.elapsed();
                    drop(data);
                }
                total
            })
        },
    );

    let condition = weir_ottl::condition(
        r#"IsMatch(span.attributes["attr.3"], "^never[0-9]+$")"#,
        None,
        Signal::Traces,
    )
    .expect("valid");
    let mut hot = input.clone().into_decoded();
    c.benchmark_group("ottl").throughput(Throughput::Elements(SPANS as u64)).bench_function(
        "is_match_hot",
        |b| {
            b.iter(|| {
                let mut held = 0;
                weir_ottl::walk(weir_ottl::Context::Span, &mut hot, &mut |r| {
                    held += condition.test(r)? as usize;
                    Ok(true)
                })
                .unwrap();
                held
            })
        },
    );

    // the same statement on spans already in cache (run again and again on one batch)
    let existing =
        weir_ottl::statement(r#"set(span.attributes["attr.3"], "v")"#, None, Signal::Traces)
            .expect("valid");
    c.benchmark_group("ottl").throughput(Throughput::Elements(SPANS as u64)).bench_function(
        "set_existing_hot",
        |b| {
            b.iter(|| {
                weir_ottl::walk(weir_ottl::Context::Span, &mut hot, &mut |r| {
                    existing.execute(r).map(|()| true)
                })
                .unwrap();
            })
        },
    );

    // what every statement pays: visiting each span, with a condition that reads nothing
    let visit = transform::Settings::parse(
        r#"trace_statements: ['set(span.attributes["k"], "v") where false']"#,
    )
    .expect("valid");
    run(c, "visit_only", &mut transform::Transform::new(&visit, "transform"), &input);

    let set = transform::Settings::parse(r#"trace_statements: ['set(span.attributes["k"], "v")']"#)
        .expect("valid");
    run(c, "set_attribute", &mut transform::Transform::new(&set, "transform"), &input);
    let update =
        transform::Settings::parse(r#"trace_statements: ['set(span.attributes["attr.3"], "v")']"#)
            .expect("valid");
    run(c, "set_existing_attribute", &mut transform::Transform::new(&update, "transform"), &input);

    // the condition holds for no span: the cost is the test, not the edit
    let matched = transform::Settings::parse(
        r#"trace_statements: ['set(span.attributes["m"], "y") where IsMatch(span.attributes["attr.3"], "^never[0-9]+$")']"#,
    )
    .expect("valid");
    run(c, "where_is_match", &mut transform::Transform::new(&matched, "transform"), &input);

    let drop =
        filter::Settings::parse(r#"trace_conditions: ['span.attributes["tier"] == "debug"']"#)
            .expect("valid");
    run(c, "filter_drop_90_percent", &mut filter::Filter::new(&drop, "filter"), &input);
}

criterion_group!(benches, ottl);
criterion_main!(benches);
