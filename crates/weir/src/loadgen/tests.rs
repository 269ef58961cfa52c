use std::collections::{BTreeSet, HashMap};

use weir_otlp::{
    Batch, Decoded, Signal,
    proto::{
        common::v1::any_value::Value, metrics::v1::metric::Data, trace::v1::status::StatusCode,
    },
};

use super::shape::{Generator, Shape};

fn spans(batch: &Batch) -> Vec<weir_otlp::proto::trace::v1::Span> {
    let Decoded::Traces(rs) = &*batch.view() else { panic!("traces") };
    rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| s.spans.clone()).collect()
}

#[test]
fn spans_of_a_trace_share_its_id_and_form_a_tree_of_the_requested_depth() {
    let shape = Shape { spans_per_trace: 7, depth: 3, ..Shape::default() };
    let mut generator = Generator::new(shape, 42);
    let batch = generator.next(Signal::Traces, 20);
    let spans = spans(&batch);
    assert_eq!(spans.len(), 21, "rounded up to whole traces of 7");
    for trace in spans.chunks(7) {
        let ids: BTreeSet<_> = trace.iter().map(|s| s.trace_id.clone()).collect();
        assert_eq!(ids.len(), 1, "one trace id per trace");
        let by_id: HashMap<_, _> = trace.iter().map(|s| (s.span_id.clone(), s)).collect();
        let roots: Vec<_> = trace.iter().filter(|s| s.parent_span_id.is_empty()).collect();
        assert_eq!(roots.len(), 1, "one root");
        let mut deepest = 0;
        for span in trace {
            let mut depth = 1;
            let mut at = span;
            while !at.parent_span_id.is_empty() {
                at = *by_id.get(&at.parent_span_id).expect("the parent is in the trace");
                depth += 1;
                assert!(depth <= 7, "no cycle");
            }
            deepest = deepest.max(depth);
        }
        assert_eq!(deepest, 3);
    }
}

#[test]
fn the_error_ratio_holds_within_a_binomial_bound() {
    let shape = Shape { error_ratio: 0.1, spans_per_trace: 1, ..Shape::default() };
    let mut generator = Generator::new(shape, 7);
    let n = 20_000;
    let errors = spans(&generator.next(Signal::Traces, n))
        .iter()
        .filter(|s| s.status.as_ref().unwrap().code == StatusCode::Error as i32)
        .count() as f64;
    // mean 2000, standard deviation sqrt(n p (1 - p)) = 42.4: allow five of them
    let sigma = (n as f64 * 0.1 * 0.9).sqrt();
    assert!((errors - 2000.0).abs() < 5.0 * sigma, "{errors} errors");
}

fn series(batch: &Batch) -> Vec<String> {
    let view = batch.view();
    let Decoded::Metrics(rm) = &*view else { panic!("metrics") };
    let mut out = Vec::new();
    for metric in rm.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        let Some(Data::Sum(sum)) = &metric.data else { panic!("counter") };
        for point in &sum.data_points {
            let keys: Vec<String> = point
                .attributes
                .iter()
                .filter(|kv| kv.key == "series.id" || kv.key == "request.id")
                .map(|kv| match kv.value.as_ref().unwrap().value.as_ref().unwrap() {
                    Value::StringValue(s) => format!("{}={s}", kv.key),
                    other => panic!("{other:?}"),
                })
                .collect();
            out.push(keys.join(","));
        }
    }
    out
}

#[test]
fn cardinality_gives_exactly_the_requested_number_of_series() {
    let mut generator = Generator::new(Shape { cardinality: 37, ..Shape::default() }, 1);
    let mut all = BTreeSet::new();
    for _ in 0..10 {
        all.extend(series(&generator.next(Signal::Metrics, 100)));
    }
    assert_eq!(all.len(), 37);

    let mut exploding =
        Generator::new(Shape { cardinality: 37, explode: true, ..Shape::default() }, 1);
    let points: Vec<String> =
        (0..5).flat_map(|_| series(&exploding.next(Signal::Metrics, 100))).collect();
    let distinct: BTreeSet<_> = points.iter().collect();
    assert_eq!(distinct.len(), 500, "every point is its own series");
}

#[test]
fn the_same_seed_gives_the_same_telemetry() {
    let a = Generator::new(Shape::default(), 9).next(Signal::Logs, 10);
    let b = Generator::new(Shape::default(), 9).next(Signal::Logs, 10);
    let c = Generator::new(Shape::default(), 10).next(Signal::Logs, 10);
    assert_eq!(a, b);
    assert_ne!(a, c);
}
