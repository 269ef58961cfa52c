//! The `filelog` receiver in a running weir on real files: a writer appends while its file is
//! rotated by rename and by copytruncate; every line arrives once, in order.

use std::{collections::BTreeMap, fs, io::Write, time::Duration};

use weir_otlp::proto::common::v1::any_value::Value;
use weir_tests::{Weir, read_batches, wait_until};

const LINES: usize = 3000;

fn bodies(weir: &Weir) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for batch in read_batches(&weir.output) {
        let weir_otlp::Decoded::Logs(resources) = batch.into_decoded() else { continue };
        for record in resources.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records) {
            let Some(Value::StringValue(body)) = record.body.as_ref().and_then(|b| b.value.clone())
            else {
                continue;
            };
            let file = weir_otlp::attributes::text(weir_otlp::attributes::find(
                &record.attributes,
                "log.file.name",
            ))
            .unwrap_or_default();
            out.push((file, body));
        }
    }
    out
}

#[test]
fn rotation_while_writing_loses_and_repeats_no_line() {
    for rotation in ["rename", "copytruncate"] {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app.log");
        let weir = Weir::start_with(&format!(
            "
receivers:
  filelog:
    include: ['{}/*.log']
    start_at: beginning
    poll_interval: 20ms
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [file]
",
            dir.path().display()
        ));
        let mut writer = fs::OpenOptions::new().create(true).append(true).open(&app).unwrap();
        for i in 0..LINES {
            writeln!(writer, "line {i:05} of the {rotation} test").unwrap();
            if i % 500 == 499 {
                // let weir see the last lines before copytruncate throws them away
                if rotation == "copytruncate" {
                    let seen = wait_until(Duration::from_secs(10), || bodies(&weir).len() == i + 1);
                    assert!(
                        seen,
                        "{rotation}: {} of {} lines before truncating",
                        bodies(&weir).len(),
                        i + 1
                    );
                    fs::copy(&app, dir.path().join(format!("app.{i}.old"))).unwrap();
                    writer.set_len(0).unwrap();
                } else {
                    fs::rename(&app, dir.path().join(format!("app.{i}.old"))).unwrap();
                    writer.write_all(format!("tail after rename {i}\n").as_bytes()).unwrap();
                    writer = fs::OpenOptions::new().create(true).append(true).open(&app).unwrap();
                }
            }
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let tails = if rotation == "rename" { LINES / 500 } else { 0 };
        let all = wait_until(Duration::from_secs(20), || bodies(&weir).len() >= LINES + tails);
        let read = bodies(&weir);
        weir.stop();
        assert!(all, "{rotation}: {} of {} lines", read.len(), LINES + tails);
        let lines: Vec<&str> =
            read.iter().map(|(_, b)| b.as_str()).filter(|b| b.starts_with("line ")).collect();
        let expected: Vec<String> =
            (0..LINES).map(|i| format!("line {i:05} of the {rotation} test")).collect();
        assert_eq!(lines, expected, "{rotation}: every line once, in order");
        let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
        for (file, _) in &read {
            *per_file.entry(file.as_str()).or_default() += 1;
        }
        assert!(per_file.keys().all(|f| *f == "app.log"), "{rotation}: {per_file:?}");
    }
}

/// Pod logs as the kubelet writes them, in the CRI format (containerd, CRI-O) and in Docker's
/// JSON, with partial lines: the `container` operator makes each a record with the pod's
/// identity from its path.
#[test]
fn pod_logs_of_every_runtime_arrive_whole_with_their_pod() {
    let dir = tempfile::tempdir().unwrap();
    let cri = dir.path().join("shop_api-7d9_0b1c2d3e/api");
    let docker = dir.path().join("shop_worker-1_5f6a7b8c/worker");
    fs::create_dir_all(&cri).unwrap();
    fs::create_dir_all(&docker).unwrap();
    let weir = Weir::start_with(&format!(
        "
receivers:
  filelog:
    include: ['{}/*/*/*.log']
    start_at: beginning
    poll_interval: 20ms
    include_file_path: true
    operators:
      - type: container
        id: container-parser
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [file]
",
        dir.path().display()
    ));
    fs::write(
        cri.join("0.log"),
        "2026-12-03T10:00:00.000000001Z stdout F GET /cart 200\n2026-12-03T10:00:01Z stdout P a line split \n2026-12-03T10:00:01Z stdout F by the runtime\n",
    )
    .unwrap();
    fs::write(
        docker.join("2.log"),
        "{\"log\":\"job done\\n\",\"stream\":\"stderr\",\"time\":\"2026-12-03T10:00:02Z\"}\n{\"log\":\"half \",\"stream\":\"stdout\",\"time\":\"2026-12-03T10:00:03Z\"}\n{\"log\":\"and half\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-03T10:00:03Z\"}\n",
    )
    .unwrap();
    let records = |weir: &Weir| {
        let mut out = Vec::new();
        for batch in read_batches(&weir.output) {
            let weir_otlp::Decoded::Logs(resources) = batch.into_decoded() else { continue };
            for resource in resources {
                let attributes = resource.resource.unwrap_or_default().attributes;
                let get = |key: &str| {
                    weir_otlp::attributes::text(weir_otlp::attributes::find(&attributes, key))
                        .unwrap_or_default()
                };
                let pod = format!(
                    "{}/{}/{}#{}",
                    get("k8s.namespace.name"),
                    get("k8s.pod.name"),
                    get("k8s.container.name"),
                    get("k8s.container.restart_count")
                );
                for record in resource.scope_logs.iter().flat_map(|s| &s.log_records) {
                    let Some(Value::StringValue(body)) =
                        record.body.as_ref().and_then(|b| b.value.clone())
                    else {
                        continue;
                    };
                    let stream = weir_otlp::attributes::text(weir_otlp::attributes::find(
                        &record.attributes,
                        "log.iostream",
                    ))
                    .unwrap_or_default();
                    out.push((pod.clone(), stream, body, record.time_unix_nano));
                }
            }
        }
        out.sort();
        out
    };
    let arrived = wait_until(Duration::from_secs(10), || records(&weir).len() == 4);
    let found = records(&weir);
    weir.stop();
    assert!(arrived, "{found:?}");
    let expected = [
        ("shop/api-7d9/api#0", "stdout", "GET /cart 200", 1_796_292_000_000_000_001u64),
        ("shop/api-7d9/api#0", "stdout", "a line split by the runtime", 1_796_292_001_000_000_000),
        ("shop/worker-1/worker#2", "stderr", "job done", 1_796_292_002_000_000_000),
        ("shop/worker-1/worker#2", "stdout", "half and half", 1_796_292_003_000_000_000),
    ];
    let expected: Vec<(String, String, String, u64)> = expected
        .iter()
        .map(|(p, s, b, t)| (p.to_string(), s.to_string(), b.to_string(), *t))
        .collect();
    assert_eq!(found, expected);
}
