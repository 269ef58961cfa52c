//! The `cardinality_limiter` in a running weir, fed by the OpenTelemetry Rust SDK: tenants
//! named by a request header (kept with `include_metadata`) get their own budgets, series
//! over budget arrive as one overflow series per metric with the totals intact, and the
//! limiter's self-metrics say what happened per tenant.

use std::collections::{HashMap, HashSet};

use opentelemetry::{KeyValue, metrics::MeterProvider as _};
use opentelemetry_otlp::{
    MetricExporter, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::{
    Resource,
    metrics::{SdkMeterProvider, Temporality},
};
use weir_otlp::proto::{
    common::v1::any_value::Value as AnyValue,
    metrics::v1::{AggregationTemporality, metric::Data, number_data_point::Value},
};
use weir_tests::{Weir, sample};

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        include_metadata: true
      http:
        endpoint: 127.0.0.1:0
        include_metadata: true
processors:
  cardinality_limiter:
    tenant_from:
      metadata_key: X-Scope-OrgID
    limits:
      per_tenant:
        default:
          max_series_per_metric: 10
exporters:
  file:
    path: {output}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [cardinality_limiter]
      exporters: [file]
";

/// Adds `user` + 1 for 40 users to the counter `requests`, exported by the SDK as `tenant`.
fn send(weir: &Weir, tenant: &str, grpc: bool) {
    let exporter = if grpc {
        let _runtime = weir.runtime.enter();
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("x-scope-orgid", tenant.parse().unwrap());
        MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", weir.grpc()))
            .with_metadata(metadata)
            .build()
            .unwrap()
    } else {
        MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("http://{}/v1/metrics", weir.http()))
            .with_headers(HashMap::from([("X-Scope-OrgID".to_owned(), tenant.to_owned())]))
            .with_temporality(Temporality::Delta)
            .build()
            .unwrap()
    };
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(tenant.to_owned()).build())
        .build();
    let counter = provider.meter("weir.e2e").u64_counter("requests").build();
    for user in 0..40u64 {
        counter.add(user + 1, &[KeyValue::new("user.id", format!("user-{user}"))]);
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

#[test]
fn tenants_from_a_header_get_their_budgets_and_totals_survive_overflow() {
    let weir = Weir::start_with(CONFIG);
    send(&weir, "acme", true);
    send(&weir, "beta", false);
    // the limiter publishes its gauges on the pipeline's tick
    let page = weir_tests::wait_for(std::time::Duration::from_secs(5), || {
        let page = weir.metrics();
        let active = |tenant| {
            let labels = [("processor", "cardinality_limiter"), ("tenant", tenant)];
            sample(&page, "weir_cardinality_series_active", &labels)
        };
        (active("acme") == Some(10.0) && active("beta") == Some(10.0)).then_some(page)
    })
    .unwrap_or_else(|| weir.metrics());
    for tenant in ["acme", "beta"] {
        let labels = [("processor", "cardinality_limiter"), ("tenant", tenant)];
        assert_eq!(
            sample(&page, "weir_cardinality_series_active", &labels),
            Some(10.0),
            "{tenant}"
        );
        let overflowed = sample(&page, "weir_cardinality_points_overflowed_total", &labels);
        assert!(overflowed >= Some(30.0), "{tenant}: {overflowed:?}\n{page}");
    }
    let demand = [("tenant", "acme"), ("metric", "requests")];
    assert!(sample(&page, "weir_cardinality_demand_estimate", &demand).is_some(), "{page}");

    // Per tenant (service.name): the last value of each cumulative series, the sum of the
    // delta points, and the overflow series apart.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    let mut delta_total: HashMap<String, i64> = HashMap::new();
    let mut overflow_series = HashSet::new();
    for batch in weir.stop() {
        let weir_otlp::Decoded::Metrics(resources) = batch.into_decoded() else {
            panic!("metrics only")
        };
        for rm in resources {
            let service =
                rm.resource.unwrap().attributes.into_iter().find(|kv| kv.key == "service.name");
            let Some(AnyValue::StringValue(service)) = service.and_then(|kv| kv.value?.value)
            else {
                panic!("overflow series keep service.name")
            };
            for metric in rm.scope_metrics.into_iter().flat_map(|s| s.metrics) {
                let Some(Data::Sum(sum)) = metric.data else { panic!("a sum") };
                for p in sum.data_points {
                    let Some(Value::AsInt(v)) = p.value else { panic!("ints") };
                    let key = format!("{:?}", p.attributes);
                    if p.attributes.iter().any(|kv| kv.key == "otel.metric.overflow") {
                        assert_eq!(p.attributes.len(), 1, "only the overflow attribute");
                        overflow_series.insert(service.clone());
                    }
                    if sum.aggregation_temporality == AggregationTemporality::Delta as i32 {
                        *delta_total.entry(service.clone()).or_default() += v;
                    } else {
                        last.insert((service.clone(), key), v);
                    }
                }
            }
        }
    }
    let expected: i64 = (1..=40).sum();
    let cumulative: i64 = last.iter().filter(|((s, _), _)| s == "acme").map(|(_, v)| v).sum();
    assert_eq!(cumulative, expected, "acme (gRPC, cumulative): {last:?}");
    assert_eq!(last.keys().filter(|(s, _)| s == "acme").count(), 11, "10 series and overflow");
    assert_eq!(delta_total.get("beta"), Some(&expected), "beta (HTTP, delta)");
    assert_eq!(overflow_series.len(), 2, "each tenant has its overflow series");
}
