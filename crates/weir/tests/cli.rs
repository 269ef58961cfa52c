//! The `weir` binary as a user runs it: every example configuration validates, errors are
//! reported with their paths and exit code 1, and `weir run` drains held data on SIGTERM and
//! exits 0.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use weir_core::testing::wait_for;

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_example_configuration_validates() {
    let mut checked = 0;
    let dirs = [repository().join("config"), repository().join("config/bench")];
    for entry in dirs.iter().flat_map(|dir| std::fs::read_dir(dir).unwrap()) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let output = weir().arg("validate").arg("--config").arg(&path).output().unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 6, "the example configurations were found: {checked}");
}

#[test]
fn validate_reports_every_error_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "receivers:\n  otlp:\n    protocols:\n      http:\nexporters:\n  nop:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      processors: [batch]\n      exporters: [nop]\n",
    )
    .unwrap();
    let output = weir().arg("validate").arg("-c").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("service.pipelines.traces.receivers[1]: receiver \"zipkin\" is not defined"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("service.pipelines.traces.processors[0]: processor \"batch\" is not defined"),
        "{stderr}"
    );
}

/// Mistakes in OTTL statements and conditions are reported with the option path, the column
/// and the text, and `weir run` refuses to start.
#[test]
fn bad_ottl_stops_weir_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  transform:
    trace_statements:
      - set(span.attributes["a"], Lower(span.name))
      - context: span
        statements: ['set(attributes["b"], "x") where name ==']
  filter:
    log_conditions: ['IsMatch(log.body, "(")']
connectors:
  routing:
    table:
      - condition: span.kindd == 2
        pipelines: [traces/nowhere]
exporters:
  nop:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [transform]
      exporters: [nop]
    logs:
      receivers: [otlp]
      processors: [filter]
      exporters: [nop]
"#,
    )
    .unwrap();
    let mut run = weir().arg("run").arg("-c").arg(&path).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            run.kill().unwrap();
            panic!("weir started with broken statements");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    run.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    for expected in [
        r#"processors.transform.trace_statements: mixes statements and groups"#,
        r#"processors.filter.log_conditions[0]: column 19: IsMatch: invalid regular expression "(""#,
        r#"connectors.routing.table[0].condition: column 1: unknown path span.kindd"#,
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in {stderr}");
    }
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).unwrap().replace(
            "      - context: span\n        statements: ['set(attributes[\"b\"], \"x\") where name ==']\n",
            "",
        ),
    )
    .unwrap();
    let output = weir().arg("validate").arg("-c").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains(
            r#"processors.transform.trace_statements[0]: column 27: unknown converter Lower"#
        ),
        "{stderr}"
    );
}

#[test]
fn components_lists_every_type() {
    let output = weir().arg("components").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    for (kind, name) in [
        ("receiver", "otlp"),
        ("processor", "batch"),
        ("exporter", "debug"),
        ("exporter", "file"),
        ("exporter", "nop"),
        ("connector", "forward"),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(kind) && l.split_whitespace().nth(1) == Some(name)),
            "{kind} {name}:\n{text}"
        );
    }
}

#[test]
fn print_config_merges_sets_and_redacts() {
    let output = weir()
        .args(["print-config", "--set", "exporters::debug::verbosity=detailed"])
        .args(["--set", "exporters::debug::headers::authorization=Bearer secret-token"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("verbosity: detailed"), "{text}");
    // debug has no `headers` option: the configuration is printed, then refused
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown field `headers`"));
    assert!(!text.contains("secret-token"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
}

/// Posts an OTLP/JSON body over plain HTTP/1.1 and returns the status code.
fn post_json(addr: &str, path: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn sigterm_drains_held_data_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.jsonl");
    let config = dir.path().join("weir.yaml");
    // The batch processor would hold these spans for a minute: shutdown must flush them.
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nprocessors:\n  batch:\n    timeout: 60s\nexporters:\n  file:\n    path: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [batch]\n      exporters: [file]\n  telemetry:\n    metrics:\n      address: 127.0.0.1:0\n",
            output.display()
        ),
    )
    .unwrap();
    let mut child = weir()
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() && started.elapsed() < Duration::from_secs(30) {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("listening") {
            addr = line.split("addr=").nth(1).map(|a| a.trim().to_owned());
        }
    }
    let addr = addr.expect("weir logs the address it listens on");
    let body = std::fs::read(repository().join("../shared/testdata/otlp-json/trace.json")).unwrap();
    for _ in 0..3 {
        assert_eq!(post_json(&addr, "/v1/traces", &body), 200);
    }
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("signal=\"SIGTERM\""), "{rest}");
    let text = std::fs::read_to_string(&output).unwrap();
    let spans: usize =
        text.lines().map(|l| weir_otlp::json::decode_any(l.as_bytes()).unwrap().item_count()).sum();
    assert_eq!(spans, 3, "the three held spans were flushed at shutdown");
}

/// GETs `path` with `Accept: application/json` and returns the body, once weir answers.
fn get_json(addr: &str, path: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| serde_json::from_str(body).ok())?
}

#[test]
fn zpages_show_the_pipelines_and_the_warnings_weir_logged() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("weir.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  nop:\nexporters:\n  nop:\n  debug/spare:\nextensions:\n  zpages:\n    endpoint: 127.0.0.1:{port}\nservice:\n  extensions: [zpages]\n  pipelines:\n    traces:\n      receivers: [nop]\n      exporters: [nop]\n  telemetry:\n    metrics:\n      level: none\n"
        ),
    )
    .unwrap();
    let mut child = weir().arg("--config").arg(&config).stderr(Stdio::null()).spawn().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let errors = wait_for(Duration::from_secs(30), || get_json(&addr, "/debug/errorz"));
    let pipelines = get_json(&addr, "/debug/pipelinez");
    let components = get_json(&addr, "/debug/componentz");
    child.kill().unwrap();
    child.wait().unwrap();
    let errors = errors.expect("zpages answer");
    let logged = errors["errors"].as_array().unwrap();
    assert!(
        logged.iter().any(|e| e["level"] == "WARN"
            && e["message"]
                .as_str()
                .unwrap()
                .contains("exporters.debug/spare: defined but used in no pipeline")),
        "{errors}"
    );
    let pipelines = pipelines.unwrap();
    assert_eq!(pipelines["pipelines"][0]["id"], "traces", "{pipelines}");
    assert_eq!(pipelines["pipelines"][0]["exporters"], serde_json::json!(["nop"]));
    let components = components.unwrap();
    assert_eq!(components["state"], "running");
    let kinds: Vec<String> = components["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["kind"].as_str().unwrap(), c["type_name"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, ["receiver nop", "exporter nop", "extension zpages"]);
}

#[test]
fn log_options_and_the_telemetry_resource_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("weir.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("weir.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  nop:\nexporters:\n  nop:\n  debug/spare:\nservice:\n  pipelines:\n    traces:\n      receivers: [nop]\n      exporters: [nop]\n  telemetry:\n    resource:\n      service.name: null\n      deployment.environment: prod\n    metrics:\n      address: 127.0.0.1:{port}\n    logs:\n      encoding: json\n      disable_caller: true\n      output_paths: [{}]\n      initial_fields: {{region: eu}}\n",
            log.display()
        ),
    )
    .unwrap();
    let mut child = weir().arg("--config").arg(&config).stderr(Stdio::null()).spawn().unwrap();
    let page = wait_for(Duration::from_secs(30), || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        let head = "GET /metrics HTTP/1.1\r\nHost: weir\r\nConnection: close\r\n\r\n";
        s.write_all(head.as_bytes()).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.contains("target_info").then_some(text)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let page = page.expect("the metrics page shows target_info");
    let info = page.lines().find(|l| l.starts_with("target_info{")).unwrap();
    assert!(info.contains("deployment_environment=\"prod\""), "{info}");
    assert!(info.contains("service_version="), "{info}");
    assert!(!info.contains("service_name"), "null removes it: {info}");
    let text = std::fs::read_to_string(&log).unwrap();
    let warning = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON entry per line"))
        .find(|entry| entry["level"] == "WARN")
        .unwrap_or_else(|| panic!("the unused exporter is warned about:\n{text}"));
    assert_eq!(warning["region"], "eu", "{warning}");
    assert!(warning.get("filename").is_none(), "disable_caller: {warning}");
}
