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
    one_step_with(config, args, &[])
}

/// [`one_step`] with environment variables for the bench and the weir it runs.
fn one_step_with(config: &str, args: &[&str], env: &[(&str, String)]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(config);
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .envs(env.iter().map(|(k, v)| (k, v)))
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
/// resolver) on the sink, and every span arrives through memory limiter, k8s_attributes,
/// resourcedetection, resource and batch — with no API server answering (a kubeconfig naming a
/// closed port): the watches fail and retry, and no data waits for them.
#[test]
fn the_agent_configuration_runs_under_the_bench() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\n\
         users:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n\
         current-context: c\n",
    )
    .unwrap();
    let env = [
        ("WEIR_K8S_AUTH_TYPE", "kubeConfig".to_owned()),
        ("KUBECONFIG", kubeconfig.display().to_string()),
    ];
    let (accepted, delivered) =
        one_step_with("config/agent.yaml", &["--signal", "traces", "--start-rate", "5000"], &env);
    assert!(
        accepted > 0 && delivered == accepted,
        "every span through the ring: {delivered} of {accepted}"
    );
}
