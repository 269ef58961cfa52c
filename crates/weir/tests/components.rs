//! Every component declaration against every list derived from it: `weir components`, the
//! README table, the unknown-type message; and every declaration's defaults through validation
//! and (where that needs no IO) building.

use std::collections::HashSet;

use weir::cli::{components_markdown, components_table, declarations};
use weir::config::{Kind, known_names};
use weir_core::Signals;
use weir_exporters::ExporterSettings;
use weir_extensions::ExtensionSettings;
use weir_processors::{ConnectorSettings, ProcessorSettings};
use weir_receivers::ReceiverSettings;

#[test]
fn the_readme_table_is_the_declarations() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme.find("<!-- components-table").expect("start marker");
    let start = start + readme[start..].find('\n').expect("marker line") + 1;
    let end = readme.find("<!-- /components-table -->").expect("end marker");
    let expected = components_markdown();
    assert!(
        readme[start..end] == expected,
        "README.md's component table differs from the declarations; it should read \
         (`weir components --markdown`):\n{expected}"
    );
}

#[test]
fn names_are_unique_within_a_kind_and_every_declaration_is_listed() {
    let table = components_table();
    for (kind, declarations) in declarations() {
        let mut names = HashSet::new();
        for d in declarations {
            for name in std::iter::once(d.name).chain(d.aliases.iter().copied()) {
                assert!(names.insert(name), "{kind} {name} is declared twice");
                assert!(
                    name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{kind} {name}: a type name is lowercase letters, digits and '_'"
                );
            }
            assert!(!d.summary.is_empty(), "{kind} {} says what it does", d.name);
            let listed = table.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(kind) && words.next() == Some(d.name)
            });
            assert!(listed, "{kind} {} is in `weir components`:\n{table}", d.name);
            let signals_fit = match d.signals {
                Signals::Connector(pairs) => kind == "connector" && !pairs.is_empty(),
                Signals::Pipeline(signals) => kind != "connector" && !signals.is_empty(),
                Signals::None => kind == "extension",
            };
            assert!(signals_fit, "{kind} {}: signals {:?}", d.name, d.signals);
        }
    }
}

/// Every name and alias of a kind parses through its own declaration, and nothing else does.
fn names_dispatch<K: Kind>() {
    let known = known_names::<K>();
    for name in &known {
        let parsed = K::parse(name, "").expect("a known name parses");
        let declaration = match &parsed {
            Ok(settings) => settings.declaration(),
            // defaults that need the user's options (tail_sampling's policies, slo's slos)
            Err(errors) => {
                assert!(errors.iter().all(|e| !e.message.is_empty()), "{name}: {errors:?}");
                K::declarations().iter().find(|d| d.answers_to(name)).expect("declared")
            }
        };
        assert!(declaration.answers_to(name), "{name} parsed as {}", declaration.name);
    }
    assert!(K::parse("no_such_type", "").is_none());
    let declared: usize = K::declarations().iter().map(|d| 1 + d.aliases.len()).sum();
    assert_eq!(known.len(), declared, "{}: {known:?}", K::NAME);
}

#[test]
fn every_name_dispatches_to_its_declaration() {
    names_dispatch::<ReceiverSettings>();
    names_dispatch::<ProcessorSettings>();
    names_dispatch::<ExporterSettings>();
    names_dispatch::<ConnectorSettings>();
    names_dispatch::<ExtensionSettings>();
}

#[test]
fn defaults_validate_and_build_where_that_needs_no_io() {
    let mut built = Vec::new();
    for d in ProcessorSettings::DECLARATIONS {
        if let Some(Ok(settings)) = ProcessorSettings::parse(d.name, "") {
            let _processor = settings.as_dyn().build(d.name);
            built.push(d.name);
        }
    }
    for d in ConnectorSettings::DECLARATIONS {
        if let Some(Ok(settings)) = ConnectorSettings::parse(d.name, "") {
            let _connector = settings.as_dyn().build(d.name);
            built.push(d.name);
        }
    }
    for d in ExporterSettings::DECLARATIONS {
        let Some(Ok(settings)) = ExporterSettings::parse(d.name, "") else { continue };
        let exporter = settings.as_dyn();
        assert!(exporter.queue().queue.storage.is_none(), "{}: no storage by default", d.name);
        assert!(exporter.authenticator().is_none(), "{}: no authenticator by default", d.name);
        if ["nop", "debug"].contains(&d.name) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let auth = Default::default();
            runtime.block_on(exporter.build(d.name, &auth)).expect("builds");
            built.push(d.name);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let Some(Ok(nop)) = ReceiverSettings::parse("nop", "") else { panic!("nop receiver") };
    runtime.block_on(nop.as_dyn().build("nop", &Default::default())).expect("builds");
    built.push("nop receiver");
    // memory_limiter, resource, tail_sampling and slo need options, as in the Collector
    for required in ["batch", "delta_to_cumulative", "forward", "span_metrics", "debug", "nop"] {
        assert!(built.contains(&required), "{required} builds from its defaults: {built:?}");
    }
}
