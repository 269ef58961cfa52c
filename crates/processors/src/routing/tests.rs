use weir_core::{Batch, Component, Decoded, Metadata, Output, Processor, testing};

use super::*;

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// What the connector emits: (pipelines, span names) per routed batch.
fn route(settings: &Settings, batch: Batch, metadata: Metadata) -> Vec<(Vec<String>, Vec<String>)> {
    let mut router = Router::new(settings, "routing");
    let mut out = Output::with_metadata(metadata);
    router.process(batch, &mut out);
    out.drain()
        .map(|m| {
            let Decoded::Traces(r) = m.batch.into_decoded() else { panic!() };
            let names = r
                .iter()
                .flat_map(|rs| {
                    rs.scope_spans.iter().flat_map(|ss| ss.spans.iter().map(|s| s.name.clone()))
                })
                .collect();
            (m.route.expect("routed").to_vec(), names)
        })
        .collect()
}

fn two_tenants() -> Batch {
    let mut batch = testing::spans("acme-api", 2, 1);
    batch.append(testing::spans("ecorp-api", 1, 2)).expect("one signal");
    batch
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn resources_go_to_their_tenant() {
    let settings = settings(
        r#"
default_pipelines: [traces/other]
table:
  - condition: resource.attributes["service.name"] == "acme-api"
    pipelines: [traces/acme]
  - statement: route() where resource.attributes["service.name"] == "nobody"
    pipelines: [traces/nobody]
"#,
    );
    let routed = route(&settings, two_tenants(), Metadata::default());
    assert_eq!(
        routed,
        [
            (strings(&["traces/acme"]), strings(&["span-0", "span-1"])),
            (strings(&["traces/other"]), strings(&["span-0"])),
        ]
    );
}

#[test]
fn spans_are_routed_one_by_one_and_copies_go_on() {
    let settings = settings(
        r#"
default_pipelines: [traces/other]
table:
  - condition: resource.attributes["service.name"] == "acme-api"
    action: copy
    pipelines: [traces/archive]
  - condition: span.name == "span-1"
    pipelines: [traces/slow]
"#,
    );
    let routed = route(&settings, two_tenants(), Metadata::default());
    assert_eq!(
        routed,
        [
            (strings(&["traces/archive", "traces/other"]), strings(&["span-0"])),
            (strings(&["traces/archive", "traces/slow"]), strings(&["span-1"])),
            (strings(&["traces/other"]), strings(&["span-0"])),
        ]
    );
}

#[test]
fn request_metadata_routes_whole_batches_and_unrouted_data_is_dropped() {
    let settings = settings(
        r#"
table:
  - context: request
    condition: request["X-Tenant"] == "acme"
    pipelines: [traces/acme]
"#,
    );
    let acme = Metadata::new([("x-tenant".to_owned(), "acme".to_owned())]);
    let routed = route(&settings, two_tenants(), acme);
    assert_eq!(routed, [(strings(&["traces/acme"]), strings(&["span-0", "span-1", "span-0"]))]);
    let ecorp = Metadata::new([("x-tenant".to_owned(), "ecorp".to_owned())]);
    assert!(route(&settings, two_tenants(), ecorp).is_empty(), "no route, no default: dropped");
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        r#"
match_once: false
table:
  - condition: span.nme == "x"
    pipelines: [traces/a]
  - statement: route(x)
    pipelines: [traces/a]
  - context: request
    condition: request.x == "y"
    pipelines: []
  - condition: "true"
    context: resource
    action: teleport
    pipelines: [traces/a]
"#,
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "match_once: was removed: routes match once, in table order",
            r#"table[0].condition: column 1: unknown path span.nme in the span context in "span.nme == \"x\"""#,
            "table[1].statement: must read route() where <condition>",
            "table[2].pipelines: must name at least one pipeline",
            r#"table[2].condition: a request condition reads request["key"] == "value" (or !=)"#,
            r#"table[3].action: unknown action "teleport": expected move or copy"#,
        ]
    );
}
