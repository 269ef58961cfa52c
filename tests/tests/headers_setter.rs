//! A multi-tenant gateway: the OTLP/HTTP receiver keeps each request's headers
//! (`include_metadata`), the `batch` processor batches tenants apart (`metadata_keys`), and the
//! `headers_setter` extension passes each tenant's header on to the backend, over OTLP/gRPC and
//! OTLP/HTTP, with a default for requests that carry none.

use std::collections::BTreeMap;

use weir_otlp::{Batch, Signal};
use weir_tests::{
    Weir,
    backend::{Backend, Mode},
};

fn spans(n: usize) -> Batch {
    let mut generator = weir::loadgen::shape::Generator::new(Default::default(), 7);
    generator.next(Signal::Traces, n)
}

fn gateway(backend: &Backend) -> String {
    format!(
        "
extensions:
  headers_setter:
    headers:
      - key: X-Scope-OrgID
        from_context: x-tenant
        default_value: anonymous
      - key: X-Gateway
        value: weir
        action: insert
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        include_metadata: true
processors:
  batch:
    send_batch_size: 1000
    timeout: 100ms
    metadata_keys: [X-Tenant]
exporters:
  otlp_grpc:
    endpoint: http://{grpc}
    compression: none
    auth: {{authenticator: headers_setter}}
  otlp_http:
    endpoint: http://{http}
    auth: {{authenticator: headers_setter}}
service:
  extensions: [headers_setter]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc, otlp_http]
",
        grpc = backend.grpc,
        http = backend.http,
    )
}

#[test]
fn each_tenants_header_reaches_the_backend_with_its_own_spans() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let backend = runtime.block_on(Backend::start(Mode::Accept));
    let weir = Weir::start_with(&gateway(&backend));
    let client = reqwest::blocking::Client::new();
    let sent = [(Some("acme"), 3), (Some("globex"), 5), (None, 2), (Some("acme"), 4)];
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for (tenant, n) in sent {
        let batch = spans(n);
        // once per exporter
        *expected.entry(tenant.unwrap_or("anonymous").into()).or_default() +=
            2 * batch.item_count();
        let mut request = client
            .post(format!("http://{}/v1/traces", weir.http()))
            .header("content-type", "application/x-protobuf")
            .body(batch.encode_protobuf());
        if let Some(tenant) = tenant {
            request = request.header("x-tenant", tenant);
        }
        assert_eq!(request.send().unwrap().status(), 200);
    }
    weir.stop();

    // Both exporters deliver every span; per tenant, the spans and the header agree.
    let mut by_tenant: BTreeMap<String, usize> = BTreeMap::new();
    for (batch, headers) in backend.accepted_with_headers() {
        let tenant = headers.get("x-scope-orgid").expect("every request carries the header");
        assert_eq!(headers.get("x-gateway").unwrap(), "weir");
        *by_tenant.entry(tenant.to_str().unwrap().to_owned()).or_default() += batch.item_count();
    }
    assert_eq!(by_tenant.len(), 3);
    assert_eq!(by_tenant, expected, "each tenant's spans under its own header");
}

#[test]
fn a_headers_setter_chained_to_a_missing_authenticator_is_refused_at_validation() {
    let text = "
extensions:
  headers_setter:
    additional_auth: oauth2client
    headers: [{key: X-Scope-OrgID, value: acme}]
  headers_setter/loop:
    additional_auth: headers_setter/loop
    headers: [{key: a, value: b}]
receivers:
  otlp:
    protocols: {http: {endpoint: 127.0.0.1:0}}
exporters:
  otlp_http:
    endpoint: http://127.0.0.1:1
    auth: {authenticator: headers_setter}
service:
  extensions: [headers_setter, headers_setter/loop]
  pipelines:
    traces: {receivers: [otlp], exporters: [otlp_http]}
";
    let Err(error) = weir::config::load_texts(vec![("t.yaml".into(), text.into())], &[], |_| None)
    else {
        panic!("refused")
    };
    let error = error.to_string();
    assert!(
        error.contains("extensions.headers_setter: additional_auth \"oauth2client\"")
            && error.contains("is not defined under extensions"),
        "{error}"
    );
    assert!(error.contains("extensions.headers_setter/loop.additional_auth"), "{error}");
}
