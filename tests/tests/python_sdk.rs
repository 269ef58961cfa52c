//! The OpenTelemetry Python SDK with its OTLP/gRPC and OTLP/HTTP exporters as a client of
//! weir: every span, counter increment and log record it sends arrives. The SDK is installed
//! into `target/python-venv` by `scripts/test` from `tests/python/requirements.txt`.

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use weir_otlp::proto::{
    common::v1::any_value::Value,
    metrics::v1::{metric::Data, number_data_point},
};
use weir_tests::Weir;

const COUNT: i64 = 120;

fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/python-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test, which installs the Python SDK",
        python.display()
    );
    python
}

fn int_attribute(attributes: &[weir_otlp::proto::common::v1::KeyValue], key: &str) -> Option<i64> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::IntValue(i) => Some(*i),
            _ => None,
        }
    })
}

#[test]
fn python_sdk_over_grpc_and_http() {
    for protocol in ["grpc", "http"] {
        let weir = Weir::start();
        let endpoint = match protocol {
            "grpc" => weir.grpc().to_string(),
            _ => format!("http://{}", weir.http()),
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/send.py");
        let output = Command::new(python())
            .arg(script)
            .args([protocol, &endpoint, &COUNT.to_string()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{protocol}: {}", String::from_utf8_lossy(&output.stderr));

        let (mut spans, mut records) = (BTreeSet::new(), BTreeSet::new());
        // cumulative series: the SDK exports at flush and again at shutdown; the last wins
        let mut counter = std::collections::BTreeMap::new();
        for batch in weir.stop() {
            match batch.into_decoded() {
                weir_otlp::Decoded::Traces(resources) => {
                    for span in resources.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans)
                    {
                        let index = int_attribute(&span.attributes, "index").expect("index");
                        assert_eq!(span.name, format!("operation-{index}"));
                        assert!(spans.insert(index), "{protocol}: span {index} twice");
                    }
                }
                weir_otlp::Decoded::Metrics(resources) => {
                    for metric in
                        resources.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics)
                    {
                        let Some(Data::Sum(sum)) = &metric.data else { continue };
                        for point in &sum.data_points {
                            if let Some(number_data_point::Value::AsInt(v)) = point.value {
                                counter.insert(format!("{:?}", point.attributes), v);
                            }
                        }
                    }
                }
                weir_otlp::Decoded::Logs(resources) => {
                    for record in
                        resources.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records)
                    {
                        let index = int_attribute(&record.attributes, "index").expect("index");
                        assert!(records.insert(index), "{protocol}: record {index} twice");
                    }
                }
            }
        }
        assert_eq!(spans.len() as i64, COUNT, "{protocol}: spans");
        assert_eq!(records.len() as i64, COUNT, "{protocol}: log records");
        assert_eq!(counter.len(), 2, "{protocol}: even and odd");
        assert_eq!(
            counter.values().sum::<i64>(),
            COUNT,
            "{protocol}: the two series sum to every increment"
        );
    }
}
