use weir_core::Component;
use weir_otlp::{
    Decoded,
    proto::metrics::v1::{ResourceMetrics, metric, number_data_point},
};

use super::{Settings, convert, summary::Summary};

const SUMMARY: &str = include_str!("summary.json");

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// `(resource attributes, metric, point attributes, value)` rows.
fn rows(resources: Vec<ResourceMetrics>) -> Vec<(String, String, String, f64)> {
    let text = |kvs: &[weir_otlp::proto::common::v1::KeyValue]| {
        kvs.iter()
            .map(|kv| {
                format!(
                    "{}={}",
                    kv.key,
                    weir_otlp::attributes::text(kv.value.as_ref()).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = Vec::new();
    for rm in resources {
        let resource = text(&rm.resource.unwrap().attributes);
        for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            let points = match &metric.data {
                Some(metric::Data::Gauge(g)) => &g.data_points,
                Some(metric::Data::Sum(s)) => &s.data_points,
                _ => panic!(),
            };
            for p in points {
                let value = match p.value {
                    Some(number_data_point::Value::AsInt(i)) => i as f64,
                    Some(number_data_point::Value::AsDouble(d)) => d,
                    None => f64::NAN,
                };
                out.push((resource.clone(), metric.name.clone(), text(&p.attributes), value));
            }
        }
    }
    out
}

fn converted(yaml: &str) -> Vec<(String, String, String, f64)> {
    let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
    let ids = Default::default();
    let Decoded::Metrics(r) = convert(&settings(yaml), &summary, &ids, 1).into_decoded() else {
        panic!()
    };
    rows(r)
}

fn find<'a>(
    rows: &'a [(String, String, String, f64)],
    metric: &str,
    attributes: &str,
) -> Option<&'a (String, String, String, f64)> {
    rows.iter().find(|r| r.1 == metric && r.2 == attributes)
}

#[test]
fn the_summary_as_the_collectors_metrics() {
    let rows = converted("auth_type: none");
    let node = find(&rows, "k8s.node.cpu.usage", "").unwrap();
    assert_eq!((node.0.as_str(), node.3), ("k8s.node.name=node-1", 0.5));
    assert_eq!(find(&rows, "k8s.node.cpu.time", "").unwrap().3, 7200.0);
    assert_eq!(find(&rows, "k8s.node.memory.working_set", "").unwrap().3, 2500.0);
    assert_eq!(find(&rows, "k8s.node.filesystem.usage", "").unwrap().3, 60.0);
    assert_eq!(
        find(&rows, "k8s.node.network.io", "interface=eth0,direction=transmit").unwrap().3,
        200.0
    );
    assert!(
        find(&rows, "k8s.node.network.io", "interface=cni0,direction=receive").is_none(),
        "the default interface only"
    );
    let pod = find(&rows, "k8s.pod.filesystem.capacity", "").unwrap();
    assert_eq!(
        (pod.0.as_str(), pod.3),
        ("k8s.pod.uid=0b1c2d3e,k8s.pod.name=api-7d9,k8s.namespace.name=shop", 90.0)
    );
    assert!(
        find(&rows, "k8s.pod.memory.available", "").is_none(),
        "absent in the summary, absent here"
    );
    let container = find(&rows, "container.cpu.usage", "").unwrap();
    assert_eq!(
        container.0,
        "k8s.pod.uid=0b1c2d3e,k8s.pod.name=api-7d9,k8s.namespace.name=shop,k8s.container.name=api"
    );
    assert_eq!(container.3, 0.25);
    assert!(!rows.iter().any(|r| r.1.starts_with("k8s.volume.")), "volume is not a default group");
}

#[test]
fn groups_interfaces_and_toggles() {
    let rows = converted(
        "auth_type: none
metric_groups: [node, volume]
collect_all_network_interfaces: {node: true}
metrics:
  k8s.node.memory.rss: {enabled: false}",
    );
    assert_eq!(
        find(&rows, "k8s.node.network.io", "interface=cni0,direction=receive").unwrap().3,
        5.0
    );
    assert!(find(&rows, "k8s.node.memory.rss", "").is_none());
    assert!(!rows.iter().any(|r| r.1.starts_with("k8s.pod.") || r.1.starts_with("container.")));
    let volume = find(&rows, "k8s.volume.inodes.free", "").unwrap();
    assert!(volume.0.ends_with("k8s.volume.name=data"), "{}", volume.0);
    assert_eq!(volume.3, 90.0);
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        "auth_type: kubeConfig
metric_groups: [node, gpus]
extra_metadata_labels: [container.id, k8s.volume.type, colour]
collection_interval: often",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "auth_type: kubeConfig is not built in weir yet",
            "extra_metadata_labels[1]: is not built in weir yet",
            "extra_metadata_labels[2]: unknown label \"colour\": expected container.id or k8s.volume.type",
            "collection_interval: invalid duration \"often\": expected a number with a unit, like \"5s\" or \"200ms\"",
            "metric_groups[1]: unknown group \"gpus\": expected node, pod, container or volume",
        ]
    );
    let tls = Settings::parse("endpoint: node-1:10250").unwrap_err();
    assert_eq!(tls[0].to_string(), "auth_type: tls needs cert_file and key_file");
    let account = settings("auth_type: serviceAccount\nendpoint: node-1:10250");
    assert_eq!(account.url, "https://node-1:10250/stats/summary");
    assert_eq!(
        settings("auth_type: none\nendpoint: node-1:10255").url,
        "http://node-1:10255/stats/summary"
    );
}

/// Every auth type builds its client (an https one included: the TLS library picks the
/// protocol itself, so the configuration must not name one).
#[tokio::test]
async fn every_auth_type_builds() {
    use weir_core::declare::BuildReceiver;
    for yaml in [
        "auth_type: none\nendpoint: 127.0.0.1:10255",
        "auth_type: serviceAccount\nendpoint: 127.0.0.1:10250\ninsecure_skip_verify: true",
    ] {
        let settings = settings(yaml);
        assert!(settings.build("kubeletstats", &Default::default()).await.is_ok(), "{yaml}");
    }
}

#[test]
fn cumulative_sums_start_when_the_node_pod_or_container_started() {
    use super::summary::unix_nanos;
    assert_eq!(unix_nanos(Some("1970-01-01T00:00:01Z")), 1_000_000_000);
    assert_eq!(unix_nanos(Some("2026-12-01T00:00:00Z")), 1_796_083_200_000_000_000);
    assert_eq!(unix_nanos(Some("2026-12-01T01:00:00.5+01:00")), 1_796_083_200_500_000_000);
    assert_eq!(unix_nanos(Some("yesterday")), 0);
    let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
    let Decoded::Metrics(r) =
        convert(&settings("auth_type: none"), &summary, &Default::default(), 1).into_decoded()
    else {
        panic!()
    };
    let start_of = |metric: &str| {
        r.iter()
            .flat_map(|rm| rm.scope_metrics.iter().flat_map(|s| &s.metrics))
            .find(|m| m.name == metric)
            .and_then(|m| match &m.data {
                Some(metric::Data::Sum(s)) => Some(s.data_points[0].start_time_unix_nano),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(start_of("k8s.node.cpu.time"), unix_nanos(Some("2026-12-01T00:00:00Z")));
    assert_eq!(start_of("k8s.pod.cpu.time"), unix_nanos(Some("2026-12-02T00:00:00Z")));
    assert_eq!(start_of("container.cpu.time"), unix_nanos(Some("2026-12-02T00:00:01Z")));
}

#[test]
fn container_ids_come_from_the_kubelets_pod_list() {
    let pods = br#"{"kind": "PodList", "apiVersion": "v1", "items": [
      {"metadata": {"name": "api-7d9", "namespace": "shop", "uid": "0b1c2d3e"},
       "status": {"containerStatuses": [{"name": "api", "containerID": "containerd://c0ffee", "restartCount": 0}],
                  "initContainerStatuses": [{"name": "init", "containerID": "cri-o://beef"}]}},
      {"metadata": {"uid": "other"}, "status": {}}]}"#;
    let ids = super::container_ids(pods).unwrap();
    assert_eq!(ids.get(&("0b1c2d3e".into(), "api".into())).map(String::as_str), Some("c0ffee"));
    assert_eq!(ids.get(&("0b1c2d3e".into(), "init".into())).map(String::as_str), Some("beef"));
    assert_eq!(ids.len(), 2);
    let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
    let with = settings("auth_type: none\nextra_metadata_labels: [container.id]");
    assert!(with.pods_url.as_deref().is_some_and(|u| u.ends_with("/pods")));
    let Decoded::Metrics(r) = convert(&with, &summary, &ids, 1).into_decoded() else { panic!() };
    let container = r
        .iter()
        .find(|rm| {
            let attributes = &rm.resource.as_ref().unwrap().attributes;
            weir_otlp::attributes::find(attributes, "k8s.container.name").is_some()
        })
        .expect("a container's resource");
    let attributes = &container.resource.as_ref().unwrap().attributes;
    let id = weir_otlp::attributes::text(weir_otlp::attributes::find(attributes, "container.id"));
    assert_eq!(id.as_deref(), Some("c0ffee"));
    assert!(super::container_ids(b"{not json").is_err());
}
