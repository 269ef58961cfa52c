//! The Collector Helm chart's default configuration (`config/collector-chart.yaml`) runs on
//! weir as a process: with the pod's address (here 127.0.0.23, a loopback address of its own
//! so that the chart's fixed ports clash with no other test) every endpoint the chart's
//! Service exposes answers, and the collector's own metrics are scraped by its prometheus
//! receiver.

use std::{
    net::TcpStream,
    process::{Command, Stdio},
    time::Duration,
};

use weir_core::testing::wait_until;

const POD_IP: &str = "127.0.0.23";

#[test]
fn the_charts_default_configuration_runs() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/collector-chart.yaml");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("weir.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["--config", config])
        .env("MY_POD_IP", POD_IP)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let up = wait_until(Duration::from_secs(20), || TcpStream::connect((POD_IP, 13133)).is_ok());
    assert!(up, "health_check listens:\n{}", logged());
    let client = reqwest::blocking::Client::new();
    let get = |port: u16, path: &str| {
        client.get(format!("http://{POD_IP}:{port}{path}")).send().map(|r| r.status().as_u16())
    };
    let post = |port: u16, path: &str, content_type: &str, body: &str| {
        client
            .post(format!("http://{POD_IP}:{port}{path}"))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .map(|r| r.status().as_u16())
    };
    assert_eq!(get(13133, "/").unwrap(), 200, "health_check");
    let span = r#"[{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "id": "00f067aa0ba902b7", "name": "chart", "timestamp": 1700000000000000, "duration": 5, "localEndpoint": {"serviceName": "zipkin-client"}}]"#;
    assert_eq!(post(9411, "/api/v2/spans", "application/json", span).unwrap(), 202, "zipkin");
    assert_eq!(post(4318, "/v1/traces", "application/json", "{}").unwrap(), 200, "otlp http");
    assert_eq!(
        post(14268, "/api/traces", "application/x-thrift", "").unwrap(),
        400,
        "jaeger thrift_http answers"
    );
    for port in [4317, 14250] {
        assert!(TcpStream::connect((POD_IP, port)).is_ok(), "port {port} listens");
    }
    let udp = std::net::UdpSocket::bind((POD_IP, 0)).unwrap();
    assert!(udp.connect((POD_IP, 6831)).is_ok());
    // the prometheus receiver scrapes the collector's own metrics every 10 s, at an offset
    let page = || {
        client
            .get(format!("http://{POD_IP}:8888/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    let scraped = wait_until(Duration::from_secs(25), || {
        page().lines().any(|line| {
            line.starts_with(
                "otelcol_receiver_accepted_metric_points_total{receiver=\"prometheus\"",
            ) && !line.ends_with(" 0")
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(scraped, "the collector's own metrics were scraped:\n{}\n{}", page(), logged());
    let log = logged();
    assert!(!log.contains("ERROR"), "{log}");
}
