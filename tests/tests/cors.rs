//! CORS on the OTLP/HTTP receiver, as a browser SDK meets it: a preflight, then the POST.

use weir_tests::Weir;

const CONFIG: &str = "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        cors:
          allowed_origins: [\"https://*.example.com\"]
          allowed_headers: [X-Api-Key]
          max_age: 7200
exporters:
  file:
    path: {output}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
";

fn example() -> Vec<u8> {
    let path = format!("{}/../../shared/testdata/otlp-json/trace.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

#[test]
fn browsers_from_allowed_origins_may_send_and_others_may_not() {
    let weir = Weir::start_with(CONFIG);
    let url = format!("http://{}/v1/traces", weir.http());
    let client = reqwest::blocking::Client::new();
    let preflight = |origin: &str, headers: &str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", headers)
            .send()
            .unwrap()
    };
    let allowed = preflight("https://app.example.com", "content-type, x-api-key");
    assert_eq!(allowed.status(), 204);
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-allow-methods"], "POST");
    assert_eq!(h["access-control-allow-headers"], "content-type, x-api-key");
    assert_eq!(h["access-control-max-age"], "7200");

    let foreign = preflight("https://evil.test", "content-type");
    assert_eq!(foreign.status(), 204);
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    let unlisted_header = preflight("https://app.example.com", "x-secret");
    assert!(unlisted_header.headers().get("access-control-allow-origin").is_none());

    let post = client
        .post(&url)
        .header("Origin", "https://app.example.com")
        .header("Content-Type", "application/json")
        .body(example())
        .send()
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.headers()["access-control-allow-origin"], "https://app.example.com");
    let plain = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(example())
        .send()
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("access-control-allow-origin").is_none());
    let spans: usize = weir.stop().iter().map(|b| b.item_count()).sum();
    assert_eq!(spans, 2 * weir_otlp::json::decode_any(&example()).unwrap().item_count());
}
