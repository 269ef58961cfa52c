use opentelemetry_proto::tonic::{
    common::v1::InstrumentationScope,
    metrics::v1::{Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum},
    resource::v1::Resource,
    trace::v1::{ResourceSpans, ScopeSpans, Span},
};

use super::*;

fn span(name: &str) -> Span {
    Span { name: name.into(), trace_id: vec![1; 16], span_id: vec![2; 8], ..Default::default() }
}

fn resource(service: &str, scopes: &[(&str, &[&str])]) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![opentelemetry_proto::tonic::common::v1::KeyValue {
                key: "service.name".into(),
                value: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            service.into(),
                        ),
                    ),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_spans: scopes
            .iter()
            .map(|(scope, spans)| ScopeSpans {
                scope: Some(InstrumentationScope { name: (*scope).into(), ..Default::default() }),
                spans: spans.iter().map(|n| span(n)).collect(),
                schema_url: String::new(),
            })
            .collect(),
        schema_url: "https://opentelemetry.io/schemas/1.0.0".into(),
    }
}

/// (service, scope, span name) of every span, in order.
fn flatten(batch: &Batch) -> Vec<(String, String, String)> {
    let view = batch.view();
    let Decoded::Traces(rs) = &*view else { panic!("not traces") };
    let mut out = Vec::new();
    for r in rs {
        let service = format!("{:?}", r.resource.as_ref().unwrap().attributes[0].value);
        for s in &r.scope_spans {
            for sp in &s.spans {
                out.push((
                    service.clone(),
                    s.scope.as_ref().unwrap().name.clone(),
                    sp.name.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn split_keeps_order_resource_and_scope() {
    let batch = Batch::from(vec![
        resource("a", &[("s1", &["1", "2", "3"]), ("s2", &["4"])]),
        resource("b", &[("s3", &["5", "6"])]),
        resource("c", &[]),
    ]);
    let expected = flatten(&batch);
    let parts = batch.clone().split(2);
    assert_eq!(parts.iter().map(Batch::item_count).collect::<Vec<_>>(), vec![2, 2, 2]);
    let rejoined: Vec<_> = parts.iter().flat_map(flatten).collect();
    assert_eq!(rejoined, expected);
    // the straddling scope s1 appears in the first two parts with its resource's schema url
    let view = parts[1].view();
    let Decoded::Traces(second) = &*view else { unreachable!() };
    assert_eq!(second[0].scope_spans[0].scope.as_ref().unwrap().name, "s1");
    assert_eq!(second[0].schema_url, "https://opentelemetry.io/schemas/1.0.0");
}

#[test]
fn split_without_limit_or_under_limit_is_one_batch() {
    let batch = Batch::from(vec![resource("a", &[("s", &["1", "2"])])]);
    assert_eq!(batch.clone().split(0), vec![batch.clone()]);
    assert_eq!(batch.clone().split(5), vec![batch]);
}

#[test]
fn metrics_split_at_data_points() {
    let point = |v: f64| NumberDataPoint {
        value: Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let sum = Metric {
        name: "requests".into(),
        data: Some(Data::Sum(Sum {
            data_points: (0..5).map(|i| point(i as f64)).collect(),
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let gauge = Metric {
        name: "temperature".into(),
        data: Some(Data::Gauge(Gauge { data_points: vec![point(9.0)] })),
        ..Default::default()
    };
    let batch = Batch::from(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics { metrics: vec![sum, gauge], ..Default::default() }],
        ..Default::default()
    }]);
    assert_eq!(batch.item_count(), 6);
    let parts = batch.split(4);
    assert_eq!(parts.iter().map(Batch::item_count).collect::<Vec<_>>(), vec![4, 2]);
    let view = parts[1].view();
    let Decoded::Metrics(second) = &*view else { unreachable!() };
    let metrics = &second[0].scope_metrics[0].metrics;
    assert_eq!(metrics[0].name, "requests");
    let Some(Data::Sum(rest)) = &metrics[0].data else { panic!("sum expected") };
    assert!(rest.is_monotonic && rest.aggregation_temporality == 2);
    assert_eq!(rest.data_points.len(), 1);
    assert_eq!(metrics[1].name, "temperature");
}

#[test]
fn protobuf_encoding_is_the_export_request() {
    let batch = Batch::from(vec![resource("a", &[("s", &["1"])])]);
    let request = ExportTraceServiceRequest {
        resource_spans: match batch.clone().into_decoded() {
            Decoded::Traces(v) => v,
            _ => unreachable!(),
        },
    };
    assert_eq!(batch.encode_protobuf(), request.encode_to_vec());
    assert_eq!(batch.encoded_len(), request.encoded_len());
    assert_eq!(Batch::decode_protobuf(Signal::Traces, &batch.encode_protobuf()).unwrap(), batch);
}

#[test]
fn append_refuses_another_signal() {
    let mut traces = Batch::empty(Signal::Traces);
    assert!(traces.append(Batch::empty(Signal::Logs)).is_err());
    assert!(traces.append(Batch::from(vec![resource("a", &[("s", &["1"])])])).is_ok());
    assert_eq!(traces.item_count(), 1);
}

/// What the pipeline does with a batch, on the same random requests kept encoded and
/// decoded: joined (the batch processor), cut at a number of items and at a byte cap (the
/// batch processor's maximum and the export request cap), partitioned by a key read from the
/// items (load balancing). Both forms must give the same items, each once, in order, and an
/// encoded batch must stay encoded through all of it.
#[test]
fn encoded_and_decoded_batches_carry_the_same_items_through_join_cut_and_partition() {
    use crate::testgen::{Rng, flatten};
    let mut rng = Rng(0xfeed_0005);
    for round in 0..1500 {
        let signal = Signal::ALL[round % 3];
        let (mut encoded, mut decoded) = (Batch::empty(signal), Batch::empty(signal));
        for _ in 0..1 + rng.below(4) {
            let request = rng.request(signal);
            let kept = Batch::from_protobuf(signal, bytes::Bytes::from(request.clone()));
            encoded.append(kept.unwrap()).unwrap();
            decoded.append(Batch::decode_protobuf(signal, &request).unwrap()).unwrap();
        }
        assert!(encoded.is_encoded() && !decoded.is_encoded());
        assert_eq!(encoded.item_count(), decoded.item_count(), "round {round}");
        assert_eq!(encoded, decoded, "round {round}");
        let expected = flatten(&decoded);

        let max = 1 + rng.below(8);
        let cap = 64 + rng.below(4096);
        let cut = |batch: Batch| -> Vec<Batch> {
            batch.split(max).into_iter().flat_map(|part| part.split_bytes(cap)).collect()
        };
        for (form, parts) in [("encoded", cut(encoded.clone())), ("decoded", cut(decoded.clone()))]
        {
            for part in &parts {
                assert!(part.item_count() <= max, "round {round} {form}: at most {max} items");
                let fits = part.encoded_len() <= cap || part.item_count() <= 1;
                assert!(fits, "round {round} {form}: {} bytes over {cap}", part.encoded_len());
                assert_eq!(part.is_encoded(), form == "encoded", "round {round}: form kept");
            }
            let items: Vec<String> = parts.iter().flat_map(flatten).collect();
            assert_eq!(items, expected, "round {round} {form}: every item once, in order");
        }

        let key = |_: &(), item: Item<'_>| {
            let id = item.trace_id().first().map_or(0, |b| b % 3);
            (id, item.metric_name().len() % 2)
        };
        let by_wire = encoded.clone().partition(|_| (), key);
        let by_items = decoded.clone().partition(|_| (), key);
        assert_eq!(by_wire.keys().collect::<Vec<_>>(), by_items.keys().collect::<Vec<_>>());
        for ((k, wire), items) in by_wire.iter().zip(by_items.values()) {
            assert!(wire.is_encoded(), "round {round}");
            assert_eq!(wire.item_count(), items.item_count(), "round {round} part {k:?}");
            assert_eq!(wire, items, "round {round} part {k:?}");
        }
    }
}

#[test]
fn clones_of_an_encoded_batch_share_one_decode_and_a_change_forgets_it() {
    let request = Batch::from(vec![resource("a", &[("s", &["1", "2"])])]).encode_protobuf();
    let batch = Batch::from_protobuf(Signal::Traces, request).unwrap();
    let other = batch.clone();
    assert!(std::ptr::eq(&*batch.view(), &*other.view()), "one decode for both");
    let mut changed = other.clone();
    changed
        .for_each_resource(|r| r.get_or_insert_with(Default::default).dropped_attributes_count = 7);
    assert!(changed.is_encoded());
    let view = changed.view();
    let Decoded::Traces(resources) = &*view else { panic!("traces") };
    assert_eq!(resources[0].resource.as_ref().unwrap().dropped_attributes_count, 7);
    assert!(!std::ptr::eq(&*view, &*batch.view()), "the change is decoded afresh");
    let Decoded::Traces(before) = batch.into_decoded() else { panic!("traces") };
    assert_eq!(before[0].resource.as_ref().unwrap().dropped_attributes_count, 0);
}
