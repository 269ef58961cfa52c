//! The `prometheus` receiver against real targets and a real Prometheus: a
//! `prometheus-node-exporter` (Debian package) scraped by weir and by Prometheus with the same
//! `relabel_configs` and `metric_relabel_configs` — the same series, label sets, types and
//! values of what does not move — weir's own self-metrics scraped as the Collector chart's
//! default configuration does, a slow target that times out alone, and a target that sends
//! 100 MB cut at `body_size_limit`.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::Duration,
};

use weir_otlp::proto::metrics::v1::{Metric, ResourceMetrics, metric, number_data_point};
use weir_tests::{Weir, prometheus::start_prometheus_with, wait_until};

struct NodeExporter(Child, u16);

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_exporter() -> NodeExporter {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-node-exporter (Debian package) is installed: scripts/test installs it");
    let up =
        wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(up, "node exporter listens");
    NodeExporter(child, port)
}

/// The scrape config both weir and Prometheus run: a label added to the target, only some
/// families kept, one label dropped. `dollar` is `$` for Prometheus and `$$` for weir, whose
/// configuration expands `${...}` as the Collector's does.
fn scrape_config(target: &str, dollar: &str) -> String {
    let lines = [
        "- job_name: node".to_owned(),
        "  scrape_interval: 1s".to_owned(),
        "  scrape_timeout: 900ms".to_owned(),
        format!("  static_configs: [{{targets: ['{target}'], labels: {{tier: infra}}}}]"),
        "  relabel_configs:".to_owned(),
        format!("    - {{source_labels: [__address__], regex: '(.*):(.*)', target_label: port, replacement: '{dollar}2'}}"),
        "  metric_relabel_configs:".to_owned(),
        "    - {source_labels: [__name__], regex: 'node_(cpu_seconds_total|memory_MemTotal_bytes|uname_info|load1|filesystem_size_bytes|network_receive_bytes_total|scrape_collector_success)', action: keep}".to_owned(),
        "    - {regex: 'collector', action: labeldrop}".to_owned(),
    ];
    lines.iter().map(|line| format!("\n        {line}")).collect()
}

/// Series by name and labels: data type and last value.
type Series = BTreeMap<(String, BTreeMap<String, String>), (&'static str, f64)>;

/// Every series weir wrote: `(name, attributes) → (data type, last value)`.
fn weir_series(resources: &[ResourceMetrics]) -> Series {
    let mut series = BTreeMap::new();
    for metric in resources.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        let points: Vec<(&'static str, &[weir_otlp::proto::common::v1::KeyValue], f64, u32)> =
            match &metric.data {
                Some(metric::Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .map(|p| ("counter", &p.attributes[..], value(p.value), p.flags))
                    .collect(),
                Some(metric::Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .map(|p| ("gauge", &p.attributes[..], value(p.value), p.flags))
                    .collect(),
                _ => Vec::new(),
            };
        for (kind, attributes, value, flags) in points {
            if flags & 1 == 1 {
                continue;
            }
            let attributes = attributes
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        weir_otlp::attributes::text(kv.value.as_ref()).unwrap_or_default(),
                    )
                })
                .collect();
            series.insert((metric.name.clone(), attributes), (kind, value));
        }
    }
    series
}

fn value(value: Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => f64::NAN,
    }
}

fn metrics(batches: Vec<weir_otlp::Batch>) -> Vec<ResourceMetrics> {
    batches
        .into_iter()
        .filter_map(|b| match b.into_decoded() {
            weir_otlp::Decoded::Metrics(r) => Some(r),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn node_exporter_as_prometheus_sees_it() {
    let exporter = node_exporter();
    let target = format!("127.0.0.1:{}", exporter.1);
    let prometheus =
        start_prometheus_with(&format!("scrape_configs:{}", scrape_config(&target, "$")));
    let weir = Weir::start_with(&format!(
        "
receivers:
  prometheus:
    config:
      scrape_configs:{}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [file]
",
        scrape_config(&target, "$$")
    ));
    // Prometheus has scraped when its series answer
    let query = |q: &str| {
        prometheus.api(&format!("/api/v1/query?query={}", weir_tests::prometheus::encode(q)))
    };
    let scraped = wait_until(Duration::from_secs(30), || {
        query("count({job=\"node\"})")
            .is_some_and(|v| v["data"]["result"].as_array().is_some_and(|r| !r.is_empty()))
    });
    assert!(scraped, "prometheus scraped the node exporter");
    std::thread::sleep(Duration::from_secs(3));
    let resources = metrics(weir.stop());
    let ours = weir_series(&resources);
    let theirs = query("{job=\"node\"}").unwrap();
    let mut expected = BTreeMap::new();
    for series in theirs["data"]["result"].as_array().unwrap() {
        let mut labels: BTreeMap<String, String> =
            serde_json::from_value(series["metric"].clone()).unwrap();
        let name = labels.remove("__name__").unwrap();
        labels.remove("job");
        labels.remove("instance");
        let value: f64 = series["value"][1].as_str().unwrap().parse().unwrap();
        expected.insert((name, labels), value);
    }
    let synthetic = [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
    let ours_names: BTreeSet<_> =
        ours.keys().filter(|(n, _)| !synthetic.contains(&n.as_str())).cloned().collect();
    let theirs_names: BTreeSet<_> =
        expected.keys().filter(|(n, _)| !synthetic.contains(&n.as_str())).cloned().collect();
    assert!(theirs_names.len() > 10, "a real page: {theirs_names:?}");
    assert_eq!(ours_names, theirs_names, "the same series with the same labels");
    // the types Prometheus read from the page's metadata
    let metadata = prometheus.api("/api/v1/metadata").unwrap();
    let type_of = |name: &str| {
        let kind = metadata["data"][name][0]["type"].as_str().unwrap_or("unknown");
        if kind == "counter" { "counter" } else { "gauge" }
    };
    for ((name, labels), value) in &expected {
        let (kind, ours_value) = ours[&(name.clone(), labels.clone())];
        if !synthetic.contains(&name.as_str()) {
            assert_eq!(kind, type_of(name), "{name}: the type Prometheus read");
        }
        if matches!(
            name.as_str(),
            "node_memory_MemTotal_bytes" | "node_uname_info" | "node_filesystem_size_bytes" | "up"
        ) {
            assert_eq!(ours_value, *value, "{name} {labels:?}");
        }
        assert_eq!(labels.get("tier").map(String::as_str), Some("infra"), "{name}");
        assert_eq!(labels.get("port").map(String::as_str), Some(exporter.1.to_string().as_str()));
    }
    let resource = &resources[0].resource.as_ref().unwrap().attributes;
    let attribute =
        |key: &str| weir_otlp::attributes::text(weir_otlp::attributes::find(resource, key));
    assert_eq!(attribute("service.name").as_deref(), Some("node"));
    assert_eq!(attribute("service.instance.id").as_deref(), Some(target.as_str()));
    assert_eq!(attribute("url.scheme").as_deref(), Some("http"));
}

fn gauge(resources: &[ResourceMetrics], name: &str, instance: &str) -> Vec<f64> {
    resources
        .iter()
        .filter(|r| {
            let attributes = &r.resource.as_ref().unwrap().attributes;
            weir_otlp::attributes::text(weir_otlp::attributes::find(
                attributes,
                "service.instance.id",
            ))
            .as_deref()
                == Some(instance)
        })
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m: &&Metric| m.name == name)
        .filter_map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => {
                Some(g.data_points.iter().map(|p| value(p.value)).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn weirs_own_metrics_and_targets_that_fail_alone() {
    // the target: another weir's self-metrics, as the Collector chart scrapes its own
    let scraped = Weir::start();
    let own = scraped.addr(weir::topology::TELEMETRY, "http").to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late 1\n"
            }),
        )
        .route(
            "/huge",
            axum::routing::get(|| async {
                // 100 MB of samples, made as they are sent
                let chunk =
                    bytes::Bytes::from("huge_metric{i=\"0000000000\"} 1\n".repeat(32 * 1024));
                let chunks = (0..100).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let other = listener.local_addr().unwrap().to_string();
    runtime.spawn(async move { axum::serve(listener, app).await });
    let weir = Weir::start_with(&format!(
        "
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: weir
          scrape_interval: 1s
          static_configs: [{{targets: ['{own}']}}]
        - job_name: slow
          scrape_interval: 1s
          scrape_timeout: 300ms
          metrics_path: /slow
          static_configs: [{{targets: ['{other}']}}]
        - job_name: huge
          scrape_interval: 1s
          metrics_path: /huge
          body_size_limit: 1MB
          static_configs: [{{targets: ['{other}']}}]
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [file]
"
    ));
    std::thread::sleep(Duration::from_millis(3500));
    let resources = metrics(weir.stop());
    scraped.stop();
    assert!(gauge(&resources, "up", &own).iter().all(|v| *v == 1.0), "weir's own page scrapes");
    assert!(!gauge(&resources, "up", &own).is_empty());
    let names: BTreeSet<&str> = resources
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("otelcol_")),
        "the Collector's self-metric names: {names:?}"
    );
    let slow = gauge(&resources, "up", &other);
    assert!(
        !slow.is_empty() && slow.iter().all(|v| *v == 0.0),
        "slow and huge time out or are cut: {slow:?}"
    );
    let durations = gauge(&resources, "scrape_duration_seconds", &own);
    assert!(
        durations.iter().all(|d| *d < 0.3),
        "weir's scrapes did not wait for the slow one: {durations:?}"
    );
    assert!(!names.contains("huge_metric"), "a page over body_size_limit is not ingested");
}
