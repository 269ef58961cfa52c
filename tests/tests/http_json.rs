//! OTLP/HTTP with JSON bodies: every example of the specification, posted as a client would,
//! comes out of the file exporter unchanged.

use weir_otlp::{Batch, Signal};
use weir_tests::Weir;

const EXAMPLES: [(&str, Signal); 4] = [
    ("trace.json", Signal::Traces),
    ("metrics.json", Signal::Metrics),
    ("logs.json", Signal::Logs),
    ("events.json", Signal::Logs),
];

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/../../shared/testdata/otlp-json/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_specification_example_arrives_intact() {
    let weir = Weir::start();
    let client = reqwest::blocking::Client::new();
    let mut expected = Vec::new();
    for (name, signal) in EXAMPLES {
        let path = match signal {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        };
        let response = client
            .post(format!("http://{}/v1/{path}", weir.http()))
            .header("content-type", "application/json")
            .body(example(name))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-type"], "application/json", "{name}");
        assert_eq!(response.text().unwrap(), "{}", "{name}");
        expected.push(weir_otlp::json::decode(signal, &example(name)).unwrap());
    }
    let mut written = weir.stop();
    // one pipeline per signal: order is kept within a signal, not across them
    let key = |b: &Batch| b.signal();
    written.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(written, expected);
}

#[test]
fn compressed_json_and_protobuf_are_accepted() {
    let weir = Weir::start();
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/v1/traces", weir.http());
    let batch = weir_otlp::json::decode(Signal::Traces, &example("trace.json")).unwrap();
    let protobuf = batch.encode_protobuf();
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        ("application/json", "gzip", weir_tests::gzip(&example("trace.json"))),
        ("application/x-protobuf", "zstd", zstd::encode_all(&protobuf[..], 3).unwrap()),
        ("application/x-protobuf", "identity", protobuf.to_vec()),
    ];
    for (content_type, encoding, body) in bodies {
        let response = client
            .post(&url)
            .header("content-type", content_type)
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{content_type} {encoding}");
        assert_eq!(
            response.headers()["content-type"],
            content_type,
            "answered in the request's encoding"
        );
    }
    let written = weir.stop();
    assert_eq!(written, vec![batch.clone(), batch.clone(), batch]);
}

#[test]
fn the_file_exporter_writes_batches_in_the_order_they_arrived() {
    let weir = Weir::start();
    let client = reqwest::blocking::Client::new();
    let template = weir_otlp::json::decode(Signal::Logs, &example("logs.json")).unwrap();
    let mut expected = Vec::new();
    for i in 0..200 {
        let mut batch = template.clone();
        let weir_otlp::Decoded::Logs(resources) = batch.decoded_mut() else { unreachable!() };
        resources[0].scope_logs[0].log_records[0].time_unix_nano = i;
        let response = client
            .post(format!("http://{}/v1/logs", weir.http()))
            .header("content-type", "application/x-protobuf")
            .body(batch.encode_protobuf())
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        expected.push(batch);
    }
    assert_eq!(weir.stop(), expected);
}
