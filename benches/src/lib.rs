//! Shared inputs of weir's benchmarks: realistic spans (about 600 bytes each encoded, as in
//! DESIGN.md section 8) built deterministically from a seed.

use weir_otlp::{
    Batch,
    proto::{
        common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value},
        resource::v1::Resource,
        trace::v1::{
            ResourceSpans, ScopeSpans, Span, Status,
            span::{Event, SpanKind},
        },
    },
};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

/// `n` server spans of one service with ten HTTP attributes and one event each, about 600
/// bytes each once encoded.
pub fn realistic_spans(n: usize, seed: u64) -> Batch {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let spans = (0..n)
        .map(|i| {
            let trace = next();
            let start = 1_700_000_000_000_000_000 + i as u64 * 1_000_000;
            let route = ["/api/items", "/api/items/{id}", "/api/cart", "/api/checkout"][i % 4];
            Span {
                trace_id: [trace.to_be_bytes(), next().to_be_bytes()].concat(),
                span_id: next().to_be_bytes().to_vec(),
                parent_span_id: next().to_be_bytes().to_vec(),
                name: format!("GET {route}"),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1_000_000 + next() % 50_000_000,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", route),
                    kv("http.response.status_code", Value::IntValue(200 + (next() % 100 == 0) as i64 * 300)),
                    text("url.path", format!("{route}/{}", next() % 100_000)),
                    text("url.scheme", "https"),
                    text("server.address", "shop.example.com"),
                    kv("server.port", Value::IntValue(443)),
                    text("client.address", format!("10.{}.{}.{}", next() % 256, next() % 256, next() % 256)),
                    text("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
                    text("network.protocol.version", "1.1"),
                ],
                events: vec![Event {
                    time_unix_nano: start + 500_000,
                    name: "cache.lookup".into(),
                    attributes: vec![text("cache.key", format!("item:{}", next() % 10_000)), kv("cache.hit", Value::BoolValue(next() % 3 != 0))],
                    dropped_attributes_count: 0,
                }],
                status: Some(Status { code: 1, message: String::new() }),
                ..Default::default()
            }
        })
        .collect();
    Batch::Traces(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                text("service.name", "checkout"),
                text("service.version", "1.4.2"),
                text("deployment.environment.name", "production"),
                text("k8s.pod.name", "checkout-7d9f8b6c5-x2x9k"),
                text("k8s.namespace.name", "shop"),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "io.opentelemetry.http".into(),
                version: "1.0.0".into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }])
}
