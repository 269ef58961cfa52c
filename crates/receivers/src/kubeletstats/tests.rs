use weir_core::Component;
use weir_otlp::{
    Decoded,
    proto::{
        common::v1::KeyValue,
        metrics::v1::{ResourceMetrics, metric, number_data_point},
    },
};

use super::{Labels, Settings, convert, summary::Summary};

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
k8s_api_config: {auth_type: serviceAccount}
collection_interval: often",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "auth_type: kubeConfig is not built in weir yet",
            "extra_metadata_labels[2]: unknown label \"colour\": expected container.id or k8s.volume.type",
            "k8s_api_config: is not built in weir yet (a claim's volume is typed persistentVolumeClaim, with its name)",
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

const PODS: &[u8] = br#"{"kind": "PodList", "apiVersion": "v1", "items": [
  {"metadata": {"name": "api-7d9", "namespace": "shop", "uid": "0b1c2d3e"},
   "spec": {"volumes": [
     {"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}},
     {"name": "config", "configMap": {"name": "api-config"}},
     {"name": "ebs", "awsElasticBlockStore": {"volumeID": "vol-0abc", "fsType": "ext4"}},
     {"name": "pd", "gcePersistentDisk": {"pdName": "disk-1", "fsType": "xfs", "partition": 2}},
     {"name": "nfs", "nfs": {"server": "10.0.0.9", "path": "/exports"}}]},
   "status": {"containerStatuses": [{"name": "api", "containerID": "containerd://c0ffee", "restartCount": 0}],
              "initContainerStatuses": [{"name": "init", "containerID": "cri-o://beef"}]}},
  {"metadata": {"uid": "other"}, "status": {}}]}"#;

fn resource_with<'a>(r: &'a [ResourceMetrics], key: &str) -> &'a [KeyValue] {
    let found = r.iter().find(|rm| {
        weir_otlp::attributes::find(&rm.resource.as_ref().unwrap().attributes, key).is_some()
    });
    &found.unwrap_or_else(|| panic!("a resource with {key}")).resource.as_ref().unwrap().attributes
}

fn text_of(attributes: &[KeyValue], key: &str) -> Option<String> {
    weir_otlp::attributes::text(weir_otlp::attributes::find(attributes, key))
}

#[test]
fn container_ids_come_from_the_kubelets_pod_list() {
    let ids = Labels { container_id: true, volume_type: false };
    let facts = super::pod_facts(PODS, ids).unwrap();
    let id = |pod: &str, name: &str| facts.containers.get(&(pod.into(), name.into())).cloned();
    assert_eq!(id("0b1c2d3e", "api").as_deref(), Some("c0ffee"));
    assert_eq!(id("0b1c2d3e", "init").as_deref(), Some("beef"));
    assert_eq!(facts.containers.len(), 2);
    assert!(facts.volumes.is_empty(), "not asked for");
    let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
    let with = settings("auth_type: none\nextra_metadata_labels: [container.id]");
    assert!(with.pods_url.as_deref().is_some_and(|u| u.ends_with("/pods")));
    let Decoded::Metrics(r) = convert(&with, &summary, &facts, 1).into_decoded() else { panic!() };
    let container = resource_with(&r, "k8s.container.name");
    assert_eq!(text_of(container, "container.id").as_deref(), Some("c0ffee"));
    assert!(super::pod_facts(b"{not json", ids).is_err());
}

#[test]
fn volume_types_come_from_the_pods_spec() {
    let labels = Labels { container_id: false, volume_type: true };
    let facts = super::pod_facts(PODS, labels).unwrap();
    assert!(facts.containers.is_empty(), "not asked for");
    let volume = |name: &str| {
        let attributes = facts.volumes.get(&("0b1c2d3e".into(), name.into())).unwrap();
        attributes
            .iter()
            .map(|kv| (kv.key.clone(), text_of(attributes, &kv.key).unwrap()))
            .collect::<Vec<_>>()
    };
    let pairs = |p: &[(&str, &str)]| {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(
        volume("data"),
        pairs(&[
            ("k8s.volume.type", "persistentVolumeClaim"),
            ("k8s.persistentvolumeclaim.name", "api-data")
        ])
    );
    assert_eq!(volume("config"), pairs(&[("k8s.volume.type", "configMap")]));
    assert_eq!(
        volume("ebs"),
        pairs(&[
            ("k8s.volume.type", "awsElasticBlockStore"),
            ("aws.volume.id", "vol-0abc"),
            ("fs.type", "ext4"),
            ("partition", "0")
        ])
    );
    assert_eq!(
        volume("pd"),
        pairs(&[
            ("k8s.volume.type", "gcePersistentDisk"),
            ("gce.pd.name", "disk-1"),
            ("fs.type", "xfs"),
            ("partition", "2")
        ])
    );
    assert_eq!(volume("nfs"), pairs(&[]), "a type the Collector does not name");

    let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
    let with = settings(
        "auth_type: none\nmetric_groups: [volume]\nextra_metadata_labels: [k8s.volume.type]",
    );
    let Decoded::Metrics(r) = convert(&with, &summary, &facts, 1).into_decoded() else { panic!() };
    let data = resource_with(&r, "k8s.volume.name");
    assert_eq!(text_of(data, "k8s.volume.name").as_deref(), Some("data"));
    assert_eq!(text_of(data, "k8s.volume.type").as_deref(), Some("persistentVolumeClaim"));
    assert_eq!(text_of(data, "k8s.persistentvolumeclaim.name").as_deref(), Some("api-data"));
}
