//! Authentication: `bearertokenauth` on an OTLP/gRPC receiver (token from a file, rotated
//! while weir runs) and as an exporter's client authenticator; `basicauth` on OTLP/HTTP with
//! the user name as the cardinality limiter's tenant. Refusals say "unauthenticated" and
//! nothing more.

use std::time::Duration;

use weir_otlp::{Batch, Signal};
use weir_tests::{GrpcAnswer, Weir, grpc_raw, sample, wait_until};

const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

fn spans(n: usize) -> Batch {
    let mut generator = weir::loadgen::shape::Generator::new(Default::default(), 3);
    generator.next(Signal::Traces, n)
}

fn server(token_file: &std::path::Path) -> String {
    let bcrypt = bcrypt::hash("hunter2", 4).unwrap();
    format!(
        "
extensions:
  bearertokenauth:
    filename: {}
  basicauth/server:
    htpasswd:
      inline: |
        team-a:s3cret
        team-b:{bcrypt}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        auth:
          authenticator: bearertokenauth
      http:
        endpoint: 127.0.0.1:0
        auth:
          authenticator: basicauth/server
processors:
  cardinality_limiter:
    tenant_from:
      metadata_key: auth.username
exporters:
  file:
    path: {{output}}
service:
  extensions: [bearertokenauth, basicauth/server]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [cardinality_limiter]
      exporters: [file]
",
        token_file.display()
    )
}

async fn grpc(weir: &Weir, token: Option<&str>) -> GrpcAnswer {
    let header = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = header.iter().map(|h| ("authorization", h.as_str())).collect();
    let body = spans(5).encode_protobuf();
    grpc_raw(weir.grpc(), TRACES, body, &headers).await
}

#[test]
fn a_bearer_token_is_checked_and_a_rotated_token_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "first-token\n").unwrap();
    let weir = Weir::start_with(&server(&token_file));
    let answers = weir.runtime.block_on(async {
        let right = grpc(&weir, Some("first-token")).await;
        let wrong = grpc(&weir, Some("first-tokeX")).await;
        let prefix = grpc(&weir, Some("first-token-and-more")).await;
        let none = grpc(&weir, None).await;
        (right, wrong, prefix, none)
    });
    assert_eq!(answers.0.code, 0, "the right token: {:?}", answers.0);
    for refused in [&answers.1, &answers.2, &answers.3] {
        assert_eq!(refused, &GrpcAnswer { code: 16, message: "unauthenticated".into() });
    }

    // Rotation: the file changes, the new token is accepted and the old one refused, with
    // no restart (the file is checked at most once a second).
    std::fs::write(&token_file, "second-token\n").unwrap();
    let mut refused_before_reload = 0;
    let rotated = wait_until(Duration::from_secs(5), || {
        let answer = weir.runtime.block_on(grpc(&weir, Some("second-token")));
        refused_before_reload += u32::from(answer.code != 0);
        answer.code == 0
    });
    assert!(rotated, "the rotated token is accepted within 5 s");
    assert_eq!(weir.runtime.block_on(grpc(&weir, Some("first-token"))).code, 16, "the old one");
    let page = weir.metrics();
    let refused = sample(
        &page,
        "weir_receiver_unauthenticated_requests_total",
        &[("receiver", "otlp"), ("transport", "grpc")],
    );
    assert_eq!(refused, Some(f64::from(4 + refused_before_reload)), "refusals are counted");
    let spans: usize = weir.stop().iter().map(Batch::item_count).sum();
    assert_eq!(spans, 10, "only the authenticated requests' spans");
}

#[test]
fn basic_auth_checks_users_and_makes_the_user_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "unused").unwrap();
    let weir = Weir::start_with(&server(&token_file));
    let client = reqwest::blocking::Client::new();
    let metrics = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"requests","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asInt":"1","timeUnixNano":"1"}]}}]}]}]}"#;
    let post = |credentials: Option<(&str, &str)>| {
        let mut request = client
            .post(format!("http://{}/v1/metrics", weir.http()))
            .header("content-type", "application/json")
            .body(metrics);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    assert_eq!(post(Some(("team-a", "s3cret"))).0, 200, "a plain htpasswd entry");
    assert_eq!(post(Some(("team-b", "hunter2"))).0, 200, "a bcrypt htpasswd entry");
    for refused in [
        post(Some(("team-a", "s3creT"))),
        post(Some(("team-b", "hunter3"))),
        post(Some(("nobody", "s3cret"))),
        post(None),
    ] {
        assert_eq!(refused.0, 401);
        assert!(refused.1.contains("unauthenticated"), "{}", refused.1);
        assert!(
            !refused.1.contains("team") && !refused.1.contains("password"),
            "no detail: {}",
            refused.1
        );
    }
    // the limiter publishes its gauges on the pipeline's tick
    for tenant in ["team-a", "team-b"] {
        let active =
            || sample(&weir.metrics(), "weir_cardinality_series_active", &[("tenant", tenant)]);
        assert!(
            wait_until(Duration::from_secs(5), || active() == Some(1.0)),
            "the user name is the tenant: {tenant}: {:?}",
            active()
        );
    }
    weir.stop();
}

#[test]
fn an_exporter_sends_the_token_a_receiver_requires() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "shared-token").unwrap();
    let gateway = Weir::start_with(&server(&token_file));
    let agent = |token: &str| {
        format!(
            "
extensions:
  bearertokenauth/client:
    token: {token}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: http://{}
    compression: none
    retry_on_failure: {{enabled: false}}
    auth:
      authenticator: bearertokenauth/client
service:
  extensions: [bearertokenauth/client]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
",
            gateway.grpc()
        )
    };
    for (token, delivered) in [("shared-token", 10), ("stolen-token", 0)] {
        let agent = Weir::start_with(&agent(token));
        // self-metrics are per process: count from what earlier agents left
        let labels = [("exporter", "otlp")];
        let counts = |page: &str| {
            let sent = sample(page, "otelcol_exporter_sent_spans_total", &labels).unwrap_or(0.0);
            let failed =
                sample(page, "otelcol_exporter_send_failed_spans_total", &labels).unwrap_or(0.0);
            (sent, failed)
        };
        let before = counts(&agent.metrics());
        assert_eq!(agent.post(&spans(10)), 200);
        let delta = || {
            let now = counts(&agent.metrics());
            (now.0 - before.0, now.1 - before.1)
        };
        wait_until(Duration::from_secs(5), || delta().0 + delta().1 >= 10.0);
        let (sent, failed) = delta();
        agent.stop();
        assert_eq!(
            (sent, failed),
            (f64::from(delivered), f64::from(10 - delivered)),
            "token {token}"
        );
    }
    let spans: usize = gateway.stop().iter().map(Batch::item_count).sum();
    assert_eq!(spans, 10, "only the agent with the right token got through");
}
