//! Bad input over both transports: each gets the status the OTLP specification asks for and a
//! message naming the problem, nothing of it is exported, and a valid request right after
//! still succeeds.

use bytes::Bytes;
use prost::Message;
use weir_otlp::Signal;
use weir_tests::{GrpcAnswer, Weir, grpc_raw, gzip_of_zeros};

/// One span whose trace id is 15 bytes.
fn short_trace_id() -> Vec<u8> {
    let mut batch = weir_core::testing::spans("svc", 1, 1);
    if let weir_otlp::Decoded::Traces(rs) = batch.decoded_mut() {
        rs[0].scope_spans[0].spans[0].trace_id.pop();
    }
    batch.encode_protobuf().to_vec()
}

fn valid_spans() -> Vec<u8> {
    weir_core::testing::spans("svc", 3, 9).encode_protobuf().to_vec()
}

/// google.rpc.Status, the body of OTLP/HTTP errors.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct Case {
    name: &'static str,
    content_type: &'static str,
    encoding: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    message: &'static str,
}

/// Traces through a `forward` connector to the `file` exporter: the pipeline the receiver
/// feeds reads no items, so requests stay encoded after the wire walk (with
/// [`weir_tests::FILE_CONFIG`] the receiver decodes them at once: both paths must refuse the
/// same requests the same way).
const ENCODED_PATH: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
connectors:
  forward:
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [forward]
    traces/out:
      receivers: [forward]
      exporters: [file]
";

#[test]
fn http_bad_input_gets_the_right_status_and_message() {
    http_bad_input(weir_tests::FILE_CONFIG);
}

#[test]
fn http_bad_input_kept_encoded_gets_the_same_answers() {
    http_bad_input(ENCODED_PATH);
}

#[test]
fn grpc_bad_input_gets_the_right_status_and_message() {
    grpc_bad_input(weir_tests::FILE_CONFIG, false);
}

#[test]
fn grpc_bad_input_kept_encoded_gets_the_same_answers() {
    grpc_bad_input(ENCODED_PATH, true);
}

fn http_bad_input(template: &str) {
    let weir = Weir::start_with(
        &template
            .replace(
                "        endpoint: 127.0.0.1:0\nconnectors",
                "        endpoint: 127.0.0.1:0\n        max_request_body_size: 2097152\nconnectors",
            )
            .replace(
                "        endpoint: 127.0.0.1:0\nexporters",
                "        endpoint: 127.0.0.1:0\n        max_request_body_size: 2097152\nexporters",
            ),
    );
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/v1/traces", weir.http());
    let valid = valid_spans();
    let cases = [
        Case {
            name: "truncated protobuf",
            content_type: "application/x-protobuf",
            encoding: None,
            body: valid[..valid.len() - 7].to_vec(),
            status: 400,
            message: "invalid OTLP/protobuf traces request: ",
        },
        Case {
            name: "random bytes",
            content_type: "application/x-protobuf",
            encoding: None,
            body: (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            status: 400,
            message: "invalid OTLP/protobuf traces request: ",
        },
        Case {
            name: "invalid JSON",
            content_type: "application/json",
            encoding: None,
            body: b"{\"resourceSpans\": [".to_vec(),
            status: 400,
            message: "invalid JSON: ",
        },
        Case {
            name: "15-byte trace id",
            content_type: "application/x-protobuf",
            encoding: None,
            body: short_trace_id(),
            status: 400,
            message: "resourceSpans[0].scopeSpans[0].spans[0].traceId: invalid trace id of 15 bytes: expected 16",
        },
        Case {
            name: "gzip bomb",
            content_type: "application/x-protobuf",
            encoding: Some("gzip"),
            body: gzip_of_zeros(1 << 30),
            status: 413,
            message: "request body exceeds 2097152 bytes after decompression",
        },
        Case {
            name: "oversized request",
            content_type: "application/x-protobuf",
            encoding: None,
            body: vec![0; 3 << 20],
            status: 413,
            message: "request body exceeds 2097152 bytes",
        },
        Case {
            name: "corrupt gzip",
            content_type: "application/x-protobuf",
            encoding: Some("gzip"),
            body: b"definitely not gzip".to_vec(),
            status: 400,
            message: "invalid gzip body: ",
        },
        Case {
            name: "unknown encoding",
            content_type: "application/x-protobuf",
            encoding: Some("br"),
            body: valid.clone(),
            status: 400,
            message: "unsupported Content-Encoding \"br\"",
        },
    ];
    for case in cases {
        let mut request =
            client.post(&url).header("content-type", case.content_type).body(case.body);
        if let Some(encoding) = case.encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status().as_u16(), case.status, "{}", case.name);
        let body = response.bytes().unwrap();
        let message = if case.content_type == "application/json" {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["code"], 3, "{}: INVALID_ARGUMENT in the Status", case.name);
            json["message"].as_str().unwrap().to_owned()
        } else {
            RpcStatus::decode(body)
                .unwrap_or_else(|e| panic!("{}: Status body: {e}", case.name))
                .message
        };
        assert!(message.contains(case.message), "{}: {message}", case.name);

        let after =
            client.post(&url).header("content-type", "application/x-protobuf").body(valid.clone());
        assert_eq!(after.send().unwrap().status(), 200, "a valid request after {}", case.name);
    }

    let wrong_type =
        client.post(&url).header("content-type", "text/plain").body("x").send().unwrap();
    assert_eq!(wrong_type.status(), 415);
    assert!(wrong_type.text().unwrap().contains("unsupported Content-Type \"text/plain\""));
    let wrong_method = client.get(&url).send().unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");
    let wrong_path =
        client.post(format!("http://{}/v1/spans", weir.http())).body("x").send().unwrap();
    assert_eq!(wrong_path.status(), 404);

    let written = weir.stop();
    let spans: usize = written.iter().map(weir_otlp::Batch::item_count).sum();
    assert_eq!(spans, 8 * 3, "exactly the valid requests were exported");
}

/// `walked`: the receiver keeps requests encoded, and the walk names where a truncated
/// request stops.
fn grpc_bad_input(template: &str, walked: bool) {
    let weir = Weir::start_with(template);
    let addr = weir.grpc();
    let path = Signal::Traces.grpc_export_path();
    let valid = Bytes::from(valid_spans());
    let send = |payload: Bytes, encoding: Option<&str>| -> GrpcAnswer {
        let headers: Vec<(&str, &str)> =
            encoding.map(|e| ("grpc-encoding", e)).into_iter().collect();
        weir.runtime.block_on(grpc_raw(addr, path, payload, &headers))
    };
    let cases: Vec<(&str, Bytes, Option<&str>, i32, &str)> = vec![
        (
            "truncated protobuf",
            valid.slice(..valid.len() - 7),
            None,
            3,
            "invalid OTLP/protobuf traces request",
        ),
        (
            "random bytes",
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            None,
            3,
            "invalid OTLP/protobuf traces request",
        ),
        (
            "15-byte trace id",
            short_trace_id().into(),
            None,
            3,
            "traceId: invalid trace id of 15 bytes: expected 16",
        ),
        ("gzip bomb", gzip_of_zeros(1 << 30).into(), Some("gzip"), 8, "size limit"),
        ("oversized request", vec![0u8; 5 << 20].into(), None, 8, "too large"),
        (
            "corrupt gzip",
            Bytes::from_static(b"not gzip at all"),
            Some("gzip"),
            3,
            "Error decompressing",
        ),
    ];
    for (name, payload, encoding, code, message) in cases {
        let answer = send(payload, encoding);
        assert_eq!(answer.code, code, "{name}: {answer:?}");
        assert!(answer.message.contains(message), "{name}: {answer:?}");
        if walked && name == "truncated protobuf" {
            assert!(answer.message.contains("resourceSpans"), "{name}: {answer:?}");
        }
        assert_eq!(send(valid.clone(), None).code, 0, "a valid request after {name}");
    }
    let written = weir.stop();
    let spans: usize = written.iter().map(weir_otlp::Batch::item_count).sum();
    assert_eq!(spans, 6 * 3, "exactly the valid requests were exported");
}
