use weir_core::Signal;

use super::*;

fn load_one(text: &str) -> Result<Loaded, ConfigError> {
    load_texts(vec![("test.yaml".into(), text.into())], &[], |name| match name {
        "GRPC_PORT" => Some("5317".into()),
        _ => None,
    })
}

fn errors(text: &str) -> Vec<String> {
    match load_one(text) {
        Err(ConfigError::Invalid { errors, .. }) => errors,
        other => panic!("expected validation errors, got {other:?}"),
    }
}

/// The one error a configuration with one mistake gets.
fn parse_error(text: &str) -> String {
    match load_one(text) {
        Err(ConfigError::Parse { message, .. }) => message,
        Err(ConfigError::Invalid { errors, .. }) if errors.len() == 1 => errors[0].clone(),
        other => panic!("expected one error, got {other:?}"),
    }
}

const MINIMAL: &str = "
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nop]
";

#[test]
fn the_embedded_default_is_valid() {
    let loaded = load(&[], &[]).unwrap();
    assert_eq!(loaded.plan.pipelines.len(), 4, "traces, metrics, logs and the derived metrics");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let exporters: Vec<String> =
        loaded.plan.exporters.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(exporters, vec!["debug", "prometheus"]);
    let connectors: Vec<String> =
        loaded.plan.connectors.iter().map(|(id, _)| id.to_string()).collect();
    assert_eq!(connectors, vec!["span_metrics", "slo"]);
}

#[test]
fn a_minimal_collector_config_loads_with_defaults() {
    let plan = load_one(MINIMAL).unwrap().plan;
    let weir_receivers::ReceiverSettings::Otlp(otlp) = &plan.receivers[0].1 else {
        panic!("an otlp receiver")
    };
    let grpc = otlp.protocols.grpc.as_ref().expect("grpc: with no value enables grpc");
    assert_eq!(grpc.endpoint, "127.0.0.1:4317");
    assert_eq!(grpc.max_recv_msg_size(), 4 << 20);
    assert!(otlp.protocols.http.is_none());
    assert_eq!(plan.pipelines[0].signal, Signal::Traces);
}

#[test]
fn environment_references_expand() {
    let text = MINIMAL
        .replace("      grpc:\n", "      grpc:\n        endpoint: 127.0.0.1:${env:GRPC_PORT}\n");
    let plan = load_one(&text).unwrap().plan;
    let weir_receivers::ReceiverSettings::Otlp(otlp) = &plan.receivers[0].1 else {
        panic!("an otlp receiver")
    };
    assert_eq!(otlp.protocols.grpc.as_ref().unwrap().endpoint, "127.0.0.1:5317");
}

#[test]
fn unknown_option_names_its_line_and_the_expected_fields() {
    let text = MINIMAL.replace("      grpc:\n", "      grpc:\n        max_recv_msg_size_mibb: 4\n");
    let message = parse_error(&text);
    assert!(message.contains("max_recv_msg_size_mibb"), "{message}");
    assert!(message.contains("line 6"), "{message}");
    assert!(message.contains("max_recv_msg_size_mib"), "expected fields are listed: {message}");
}

#[test]
fn unknown_component_type_is_named() {
    let text = MINIMAL.replace("  nop:\n", "  nop:\n  kafka/x:\n");
    let message = parse_error(&text);
    let known = known_names::<weir_exporters::ExporterSettings>();
    let expected = format!("unknown exporter type \"kafka\": known types are {}", known.join(", "));
    assert!(message.contains(&expected), "{message}");
    assert!(message.starts_with("exporters.kafka/x: "), "{message}");
    assert!(
        message.contains("debug, file, load_balancing, loadbalancing, logging, nop"),
        "{message}"
    );
}

#[test]
fn every_validation_error_is_reported_with_its_path() {
    let text = "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: nowhere
processors:
  batch:
    send_batch_size: 100
    send_batch_max_size: 10
  batch/unused:
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp, otlp/missing]
      processors: [batch, batch]
      exporters: []
    tracez:
      receivers: [otlp]
      exporters: [nop]
";
    assert_eq!(
        errors(text),
        vec![
            "receivers.otlp.protocols.grpc.endpoint: invalid endpoint \"nowhere\": expected host:port",
            "processors.batch.send_batch_max_size: must be 0 or at least send_batch_size (100), got 10",
            "service.pipelines.traces.exporters: must list at least one exporter",
            "service.pipelines.traces.receivers[1]: receiver \"otlp/missing\" is not defined under receivers or connectors",
            "service.pipelines.traces.processors[1]: \"batch\" is listed twice",
            "service.pipelines.tracez: unknown signal \"tracez\": a pipeline id is traces, metrics or logs, optionally followed by /name",
        ]
    );
}

#[test]
fn unused_components_are_warnings() {
    let text = MINIMAL.replace("exporters:\n  nop:\n", "exporters:\n  nop:\n  debug/spare:\n");
    let loaded = load_one(&text).unwrap();
    assert_eq!(loaded.warnings, vec!["exporters.debug/spare: defined but used in no pipeline"]);
    assert_eq!(loaded.plan.exporters.len(), 1, "unused components are not built");
}

#[test]
fn connectors_join_pipelines_and_must_be_used_on_both_sides() {
    let text = "
receivers:
  otlp:
    protocols:
      http:
exporters:
  nop:
connectors:
  forward:
service:
  pipelines:
    logs/in:
      receivers: [otlp]
      exporters: [forward]
    logs/out:
      receivers: [forward]
      exporters: [nop]
";
    let plan = load_one(text).unwrap().plan;
    assert_eq!(plan.connectors.len(), 1);
    let lonely = text.replace(
        "    logs/out:\n      receivers: [forward]\n",
        "    logs/out:\n      receivers: [otlp]\n",
    );
    assert_eq!(
        errors(&lonely),
        vec![
            "service.pipelines.logs/in.exporters[0]: connector \"forward\" is a receiver of no pipeline it can feed from logs"
        ]
    );
    let wrong_signal = text.replace("logs/out:", "traces/out:");
    assert_eq!(
        errors(&wrong_signal),
        vec![
            "service.pipelines.logs/in.exporters[0]: connector \"forward\" is a receiver of no pipeline it can feed from logs",
            "service.pipelines.traces/out.receivers[0]: connector \"forward\" is an exporter of no pipeline it can take to traces",
        ]
    );
}

#[test]
fn connector_cycles_are_refused() {
    let text = "
receivers:
  otlp:
    protocols:
      http:
exporters:
  nop:
connectors:
  forward:
service:
  pipelines:
    logs/a:
      receivers: [otlp, forward]
      exporters: [forward, nop]
";
    assert_eq!(
        errors(text),
        vec!["service.pipelines.logs/a: is part of a cycle of pipelines joined by connectors"]
    );
}

#[test]
fn wrong_signal_for_a_component_is_refused() {
    // every component handles every signal today; the check is on the pipeline side
    let text = MINIMAL.replace("traces:", "profiles:");
    assert_eq!(
        errors(&text),
        vec![
            "service.pipelines.profiles: unknown signal \"profiles\": a pipeline id is traces, metrics or logs, optionally followed by /name"
        ]
    );
}

#[test]
fn several_files_merge_and_set_overrides() {
    let base = ("base.yaml".to_owned(), MINIMAL.to_owned());
    let overlay = ("overlay.yaml".to_owned(), "processors:\n  batch:\n    timeout: 1s\nservice:\n  pipelines:\n    traces:\n      processors: [batch]\n".to_owned());
    let sets = vec!["processors::batch::send_batch_size=10".to_owned()];
    let loaded = load_texts(vec![base, overlay], &sets, |_| None).unwrap();
    let pipeline = &loaded.plan.pipelines[0];
    assert_eq!(pipeline.receivers[0].as_str(), "otlp", "kept from the first file");
    assert_eq!(pipeline.processors[0].as_str(), "batch", "added by the second");
    let weir_processors::ProcessorSettings::Batch(batch) = &loaded.plan.processors[0].1 else {
        panic!("batch expected")
    };
    assert_eq!(batch.send_batch_size, 10);
    assert_eq!(batch.timeout, std::time::Duration::from_secs(1));
}

#[test]
fn merged_documents_report_errors_too() {
    let sets = vec!["receivers::otlp::protocols::grpc::endpointt=x:1".to_owned()];
    let err = load_texts(vec![("a.yaml".into(), MINIMAL.into())], &sets, |_| None).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("the merged configuration (a.yaml + --set)"), "{text}");
    assert!(text.contains("endpointt"), "{text}");
}

#[test]
fn print_config_redacts_secrets() {
    let effective =
        serde_json::json!({"exporters": {"otlp": {"headers": {"x-api-key": "s3cret"}}}});
    let yaml = redacted_yaml(&effective);
    assert!(!yaml.contains("s3cret"), "{yaml}");
    assert!(
        yaml.contains("x-api-key: '[REDACTED]'")
            || yaml.contains("x-api-key: \"[REDACTED]\"")
            || yaml.contains("x-api-key: [REDACTED]"),
        "{yaml}"
    );
}

#[test]
fn a_persistent_queue_names_a_listed_file_storage_extension() {
    let config = |storage: &str, listed: &str| {
        format!(
            "
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  otlp:
    endpoint: http://backend:4317
    sending_queue:
      storage: {storage}
extensions:
  file_storage:
    directory: /tmp
  health_check:
service:
  extensions: [{listed}]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
"
        )
    };
    load_one(&config("file_storage", "file_storage, health_check")).unwrap();
    let path = "exporters.otlp.sending_queue.storage";
    assert_eq!(
        errors(&config("file_storage", "health_check")),
        [format!("{path}: extension \"file_storage\" is not listed in service.extensions")]
    );
    assert_eq!(
        errors(&config("health_check", "file_storage, health_check")),
        [format!("{path}: extension \"health_check\" is not a file_storage")]
    );
    assert_eq!(
        errors(&config("file_storage/other", "file_storage, health_check")),
        [format!("{path}: extension \"file_storage/other\" is not defined under extensions")]
    );
}

#[test]
fn three_independent_mistakes_are_reported_together() {
    let text = "
receivers:
  otlp:
    protocols:
      grpc:
        endpointt: 127.0.0.1:4317
processors:
  batch:
    timeout: 5 parsecs
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nop, otlp_grpc/backend]
";
    let errors = errors(text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("receivers.otlp: line 6 column 9"), "{}", errors[0]);
    assert!(errors[0].contains("unknown field `endpointt`"), "{}", errors[0]);
    assert!(errors[1].starts_with("processors.batch: line 9 column 14"), "{}", errors[1]);
    assert!(errors[1].contains("parsecs"), "{}", errors[1]);
    assert_eq!(
        errors[2],
        "service.pipelines.traces.exporters[1]: exporter \"otlp_grpc/backend\" is not defined under exporters or connectors"
    );
}

#[test]
fn a_pipeline_naming_an_invalid_component_is_not_told_it_is_undefined() {
    let text = MINIMAL.replace("  nop:\n", "  nop:\n    extra: 1\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("exporters.nop: line 8 column 5"), "{}", errors[0]);
}

#[test]
fn new_and_old_component_names_both_load_and_old_ones_are_warned_about() {
    let config = |grpc: &str, http: &str, span_metrics: &str| {
        format!(
            "
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  {grpc}:
    endpoint: http://backend:4317
  {http}:
    endpoint: http://backend:4318
connectors:
  {span_metrics}:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [{grpc}, {span_metrics}]
    metrics:
      receivers: [{span_metrics}]
      exporters: [{http}]
"
        )
    };
    let new = load_one(&config("otlp_grpc", "otlp_http", "span_metrics")).unwrap();
    assert!(new.warnings.is_empty(), "{:?}", new.warnings);
    let old = load_one(&config("otlp", "otlphttp", "spanmetrics")).unwrap();
    assert_eq!(
        old.warnings,
        [
            "exporters.otlp: \"otlp\" alias is deprecated; use \"otlp_grpc\" instead",
            "exporters.otlphttp: \"otlphttp\" alias is deprecated; use \"otlp_http\" instead",
            "connectors.spanmetrics: \"spanmetrics\" alias is deprecated; use \"span_metrics\" instead",
        ]
    );
    for loaded in [&new, &old] {
        let kinds: Vec<&str> =
            loaded.plan.exporters.iter().map(|(_, e)| e.declaration().name).collect();
        assert_eq!(kinds, ["otlp_grpc", "otlp_http"]);
    }
    // print-config keeps what the user wrote
    assert!(old.effective["exporters"].get("otlphttp").is_some());
}

#[test]
fn empty_sections_and_components_mean_their_defaults() {
    let text = "
receivers:
  nop:
exporters:
  logging:
  load_balancing:
    protocol: {otlp: }
    resolver:
      static: {hostnames: [\"backend:4317\"]}
extensions:
processors:
service:
  extensions:
  pipelines:
    logs:
      receivers: [nop]
      exporters: [logging, load_balancing]
";
    let loaded = load_one(text).unwrap();
    assert_eq!(loaded.plan.exporters.len(), 2);
    assert_eq!(
        loaded.warnings,
        ["exporters.logging: \"logging\" alias is deprecated; use \"debug\" instead"]
    );
}

#[test]
fn telemetry_log_options_parse_and_development_mode_is_refused() {
    let text = MINIMAL.replace(
        "service:\n",
        "service:\n  telemetry:\n    resource: {team: core, service.name: null}\n    logs:\n      sampling: {enabled: true, tick: 1s, initial: 2, thereafter: 50}\n      output_paths: [stdout]\n      error_output_paths: [stderr]\n      initial_fields: {region: eu}\n",
    );
    let telemetry = load_one(&text).unwrap().plan.telemetry;
    assert_eq!(telemetry.logs.sampling.tick, std::time::Duration::from_secs(1));
    assert_eq!(telemetry.logs.output_paths, ["stdout"]);
    assert_eq!(telemetry.resource.get("service.name"), Some(&None));
    let development = text.replace("      output_paths: [stdout]\n", "      development: true\n");
    assert_eq!(
        errors(&development),
        [
            "service.telemetry.logs.development: weir has no development mode: its logs are the same either way"
        ]
    );
}
