//! Hostile clients do not hold a receiver: connections that trickle their headers (slowloris)
//! are cut off after `read_header_timeout` and meanwhile do not delay other clients, and
//! oversized headers are refused on both transports.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use bytes::Bytes;
use weir_otlp::Signal;
use weir_tests::{Weir, grpc_raw};

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
        read_header_timeout: 500ms
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
";

fn spans() -> Vec<u8> {
    let mut generator = weir::loadgen::shape::Generator::new(Default::default(), 1);
    generator.next(Signal::Traces, 5).encode_protobuf().to_vec()
}

#[test]
fn slow_and_oversized_headers_do_not_hold_the_receiver() {
    let weir = Weir::start_with(CONFIG);
    let (http, grpc) = (weir.http(), weir.grpc());

    // 200 clients start a request and never finish its headers; 50 more open gRPC
    // connections and say nothing.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = TcpStream::connect(http).unwrap();
            stream.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: weir\r\nX-Slow: ").unwrap();
            stream
        })
        .collect();
    let _silent: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(grpc).unwrap()).collect();

    // Others are served at once, over both transports.
    let client =
        reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let started = Instant::now();
    let response = client
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(spans())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = weir.runtime.block_on(grpc_raw(
        grpc,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Bytes::from(spans()),
        &[],
    ));
    assert_eq!(answer.code, 0, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "served in {:?}", started.elapsed());

    // Headers larger than the limit: refused, and the receiver goes on.
    let huge = "x".repeat(256 * 1024);
    let refused = client
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("x-huge", &huge)
        .body(spans())
        .send();
    match refused {
        Ok(response) => assert_eq!(response.status(), 431, "an oversized header"),
        Err(error) => assert!(!error.is_timeout(), "refused, not left hanging: {error}"),
    }
    let huge_header = huge.clone();
    let oversized = weir.runtime.block_on(async move {
        let request = async move {
            let headers = [("x-huge", huge_header.as_str())];
            let path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
            grpc_raw(grpc, path, Bytes::from(spans()), &headers).await
        };
        // refused with a status, or the connection told to go away (ENHANCE_YOUR_CALM)
        tokio::spawn(request).await.map(|answer| answer.code)
    });
    assert!(!matches!(oversized, Ok(0)), "an oversized gRPC header list is refused: {oversized:?}");
    let answer = weir.runtime.block_on(grpc_raw(
        grpc,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Bytes::from(spans()),
        &[],
    ));
    assert_eq!(answer.code, 0, "gRPC goes on: {answer:?}");

    // The trickling clients are cut off once read_header_timeout has passed.
    std::thread::sleep(Duration::from_millis(1500));
    let mut cut = 0;
    for stream in &mut slow {
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = stream.write_all(b"still-slow");
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            // closed, or answered with an error status and closed
            Ok(0) | Err(_) => cut += 1,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                if text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 4") {
                    cut += 1;
                }
            }
        }
    }
    assert_eq!(cut, 200, "every slow client was cut off");
    let spans: usize = weir.stop().iter().map(weir_otlp::Batch::item_count).sum();
    assert_eq!(spans, 15, "the three good requests, and nothing else");
}
