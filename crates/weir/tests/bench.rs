//! `weir bench` on a tiny run: it writes the JSON and the HTML report, and the report's
//! numbers agree with what its sink counted.

use std::{path::Path, process::Command};

#[test]
fn a_tiny_bench_writes_reports_that_agree_with_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/bench/passthrough.yaml");
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["bench", "--config"])
        .arg(&config)
        .args([
            "--start-rate",
            "2000",
            "--steps",
            "2",
            "--step-duration",
            "1s",
            "--target-rate",
            "50000",
            "--report",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("knee: "), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let steps = report["steps"].as_array().unwrap();
    // two steps unless the first was not sustainable on a loaded machine (the bench stops then)
    assert!(!steps.is_empty() && steps.len() <= 2, "{report}");
    let mut delivered = 0;
    for step in steps {
        assert_eq!(
            step["delivered"], step["accepted"],
            "every accepted item reached the sink: {step}"
        );
        assert!(step["accepted"].as_u64().unwrap() > 0);
        delivered += step["delivered"].as_u64().unwrap();
    }
    assert_eq!(
        report["sink_items"].as_u64(),
        Some(delivered),
        "the report adds up to the sink's count"
    );
    assert_eq!(steps[0]["offered"].as_f64(), Some(2000.0));
    if let Some(second) = steps.get(1) {
        assert_eq!(second["offered"].as_f64(), Some(3000.0), "the step factor is 1.5");
        assert!(report["sizing"]["replicas"].as_u64().unwrap() >= 1);
    }

    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3, "three plots");
    for plot in ["throughput.svg", "latency.svg", "resources.svg"] {
        let svg = std::fs::read_to_string(dir.path().join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"), "{plot}");
    }
}

/// Runs one 2-second step of `weir bench` on `config` (relative to the repository) with
/// `args`; returns the step's `(accepted, delivered)`, once the bench judged it sustainable.
fn one_step(config: &str, args: &[&str]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(config);
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["bench", "--config"])
        .arg(&config)
        .args(args)
        .args(["--steps", "1", "--step-duration", "2s", "--report"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["sustainable"], true, "{step}");
    (step["accepted"].as_u64().unwrap(), step["delivered"].as_u64().unwrap())
}

/// The cardinality scenario with loadgen's explosion mode: the limiter sends on fewer points
/// than it takes (overflow series), and the bench still judges delivery, by what weir's
/// exporter sent and its empty queue.
#[test]
fn the_cardinality_scenario_runs_with_exploding_metrics() {
    let args = ["--signal", "metrics", "--explode", "--cardinality", "5000"];
    let (accepted, delivered) = one_step(
        "config/bench/cardinality.yaml",
        &[&args[..], &["--temporality", "delta", "--start-rate", "5000"]].concat(),
    );
    assert!(
        delivered > 0 && delivered < accepted,
        "overflow series fold points: {delivered} of {accepted}"
    );
}

/// The Kubernetes agent's own configuration: the bench puts its `loadbalancing` ring (DNS
/// resolver) on the sink, and every span arrives through memory limiter, resource and batch.
#[test]
fn the_agent_configuration_runs_under_the_bench() {
    let (accepted, delivered) =
        one_step("config/agent.yaml", &["--signal", "traces", "--start-rate", "5000"]);
    assert!(
        accepted > 0 && delivered == accepted,
        "every span through the ring: {delivered} of {accepted}"
    );
}
