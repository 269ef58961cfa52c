//! The OTLP gRPC receiver's `keepalive.server_parameters`: a connection older than
//! `max_connection_age` is sent away (GOAWAY) and closed after the grace, so clients behind a
//! load balancer reconnect and spread; without it the connection stays.

use std::time::Duration;

use weir_tests::Weir;

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        keepalive:
          server_parameters:
            max_connection_age: {age}
            max_connection_age_grace: 500ms
            time: 30s
            timeout: 5s
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
";

/// Whether an idle HTTP/2 connection to weir is closed by weir within `within`.
fn closed_within(age: &str, within: Duration) -> bool {
    let weir = Weir::start_with(&CONFIG.replace("{age}", age));
    let addr = weir.grpc();
    weir.runtime.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_sender, connection) =
            hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<bytes::Bytes>>(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(tcp),
            )
            .await
            .unwrap();
        tokio::time::timeout(within, connection).await.is_ok()
    })
}

#[test]
fn connections_older_than_max_connection_age_are_closed() {
    assert!(closed_within("1s", Duration::from_secs(6)), "closed after age and grace");
    assert!(!closed_within("0s", Duration::from_secs(3)), "no age: the connection stays");
}
