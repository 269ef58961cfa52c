use std::{collections::BTreeMap, time::Duration};

use weir_core::{Batch, Component, Decoded, Metadata, Output, Processor, testing};
use weir_kubernetes::k8s_openapi::{
    api::core::v1::{Container, ContainerStatus, Pod, PodSpec, PodStatus},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
};
use weir_otlp::attributes;

use super::{pod::Image, *};

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

fn map(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn time(text: &str) -> Option<Time> {
    Some(Time(text.parse().unwrap()))
}

/// A pod `name` at `ip`, started at `started`, with one container `app`.
fn pod(name: &str, ip: &str, started: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: time(started),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("shop/app:2.0".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            start_time: time(started),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                container_id: Some(format!("containerd://{name}-2")),
                restart_count: 2,
                last_state: Some(weir_kubernetes::k8s_openapi::api::core::v1::ContainerState {
                    terminated: Some(
                        weir_kubernetes::k8s_openapi::api::core::v1::ContainerStateTerminated {
                            container_id: Some(format!("containerd://{name}-1")),
                            ..Default::default()
                        },
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn owned(mut pod: Pod, kind: &str, name: &str) -> Pod {
    pod.metadata.owner_references = Some(vec![OwnerReference {
        kind: kind.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        controller: Some(true),
        ..Default::default()
    }]);
    pod
}

/// A cache holding `pods`, listed once and published, and the processor reading it.
fn processor(settings: &Settings, pods: Vec<Pod>) -> (K8sAttributes, PodCache) {
    let mut cache = PodCache::new(settings);
    cache.list(pods);
    cache.settle(std::time::Instant::now());
    (K8sAttributes::new(settings), cache)
}

/// The resource attributes after the processor, for a resource with `attributes` sent from
/// `peer`.
fn enrich(
    p: &mut K8sAttributes,
    attributes: &[(&str, &str)],
    peer: Option<&str>,
) -> BTreeMap<String, String> {
    let mut batch = testing::spans("svc", 1, 1);
    batch.for_each_resource(|r| {
        let resource = r.get_or_insert_default();
        resource.attributes = attributes.iter().map(|(k, v)| attributes::kv(k, v)).collect();
    });
    let metadata = Metadata::default().with_peer(peer.map(|p| p.parse().unwrap()));
    let mut out = Output::with_metadata(metadata);
    p.process(batch, &mut out);
    let batch: Batch = out.drain().next().expect("passed on").batch;
    let Decoded::Traces(resources) = batch.into_decoded() else { panic!("traces") };
    let attributes = &resources[0].resource.as_ref().unwrap().attributes;
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), attributes::text(kv.value.as_ref()).unwrap_or_default()))
        .collect()
}

#[test]
fn image_references_split_into_name_tag_and_digest() {
    let image = Image::parse("registry.example:5000/shop/app:1.2@sha256:abc");
    assert_eq!(image.name, "registry.example:5000/shop/app");
    assert_eq!(image.tag.as_deref(), Some("1.2"));
    assert_eq!(image.digest.as_deref(), Some("sha256:abc"));
    let bare = Image::parse("registry.example:5000/nginx");
    assert_eq!(
        (bare.name.as_str(), bare.tag.as_deref()),
        ("registry.example:5000/nginx", Some("latest"))
    );
    let pinned = Image::parse("nginx@sha256:def");
    assert_eq!(
        (pinned.name.as_str(), pinned.tag, pinned.digest.as_deref()),
        ("nginx", None, Some("sha256:def"))
    );
}

#[test]
fn service_name_is_the_annotation_then_the_labels_then_the_workload_then_the_pod() {
    let settings = settings(
        "extract:\n  metadata: [service.name, service.namespace, service.version, service.instance.id, k8s.cronjob.name]\n  otel_annotations: true\n",
    );
    let annotated = {
        let mut p = owned(pod("a", "10.0.0.1", "2026-12-01T10:00:00Z"), "DaemonSet", "agent");
        p.metadata.annotations =
            map(&[("resource.opentelemetry.io/service.name", "from-annotation")]);
        p.metadata.labels = map(&[("app.kubernetes.io/name", "from-label")]);
        p
    };
    let labelled = {
        let mut p = owned(pod("b", "10.0.0.2", "2026-12-01T10:00:00Z"), "DaemonSet", "agent");
        p.metadata.labels = map(&[
            ("app.kubernetes.io/name", "by-name"),
            ("app.kubernetes.io/instance", "by-instance"),
        ]);
        p
    };
    // a job named as a cronjob names them, within a day of the pod's creation
    let scheduled = owned(pod("c", "10.0.0.3", "2026-12-01T10:00:00Z"), "Job", "report-29935300");
    let bare = pod("d", "10.0.0.4", "2026-12-01T10:00:00Z");
    let (mut p, _cache) = processor(&settings, vec![annotated, labelled, scheduled, bare]);
    let name = |ip: &str, p: &mut K8sAttributes| {
        enrich(p, &[("k8s.pod.ip", ip)], None)["service.name"].clone()
    };
    assert_eq!(name("10.0.0.1", &mut p), "from-annotation");
    assert_eq!(name("10.0.0.2", &mut p), "by-instance");
    assert_eq!(name("10.0.0.3", &mut p), "report");
    assert_eq!(name("10.0.0.4", &mut p), "d");
    let bare = enrich(&mut p, &[("k8s.pod.ip", "10.0.0.4")], None);
    assert_eq!(bare["service.namespace"], "shop");
    assert_eq!(bare["service.version"], "2.0", "from the only container's image");
    assert_eq!(bare["service.instance.id"], "shop.d.app");
    assert!(!bare.contains_key("k8s.cronjob.name"), "{bare:?}");
}

#[test]
fn a_container_id_is_the_one_of_the_restart_asked_for() {
    let settings = settings("extract:\n  metadata: [container.id, k8s.container.name]\n");
    let (mut p, _cache) = processor(&settings, vec![pod("a", "10.0.0.1", "2026-12-01T10:00:00Z")]);
    let latest = enrich(&mut p, &[("k8s.pod.ip", "10.0.0.1")], None);
    assert_eq!(latest["container.id"], "a-2");
    let earlier =
        enrich(&mut p, &[("k8s.pod.ip", "10.0.0.1"), ("k8s.container.restart_count", "1")], None);
    assert_eq!(earlier["container.id"], "a-1");
}

#[test]
fn attributes_the_resource_has_are_kept_and_passthrough_adds_only_the_ip() {
    let enriching = settings("extract:\n  metadata: [k8s.pod.name, k8s.namespace.name]\n");
    let (mut p, _cache) = processor(&enriching, vec![pod("a", "10.0.0.1", "2026-12-01T10:00:00Z")]);
    let kept =
        enrich(&mut p, &[("k8s.namespace.name", "mine"), ("k8s.pod.name", "")], Some("10.0.0.1"));
    assert_eq!(kept["k8s.namespace.name"], "mine");
    assert_eq!(kept["k8s.pod.name"], "a", "an empty value is replaced");
    assert!(!kept.contains_key("k8s.pod.ip"), "not asked for");

    let passthrough = settings("passthrough: true\n");
    let mut p = K8sAttributes::new(&passthrough);
    let ip = enrich(&mut p, &[], Some("::ffff:10.0.0.9"));
    assert_eq!(ip.get("k8s.pod.ip").map(String::as_str), Some("10.0.0.9"));
    assert_eq!(ip.len(), 1, "{ip:?}");
}

#[test]
fn an_ip_reused_by_a_newer_pod_finds_the_newer_one_and_a_relist_drops_the_missing_after_grace() {
    let settings = settings(
        "pod_delete_grace_period: 30s\npod_association:\n  - sources: [{from: resource_attribute, name: k8s.pod.uid}]\n  - sources: [{from: connection}]\n",
    );
    let old = pod("old", "10.0.0.1", "2026-12-01T10:00:00Z");
    let new = pod("new", "10.0.0.1", "2026-12-01T11:00:00Z");
    let (mut p, mut cache) = processor(&settings, vec![old.clone(), new]);
    assert_eq!(enrich(&mut p, &[], Some("10.0.0.1"))["k8s.pod.name"], "new");

    // the watch expires; the new list no longer has `new`: kept for its grace period
    let now = std::time::Instant::now();
    cache.list(vec![old]);
    cache.settle(now);
    assert_eq!(enrich(&mut p, &[], Some("10.0.0.1"))["k8s.pod.name"], "old", "a live pod wins");
    assert_eq!(
        enrich(&mut p, &[("k8s.pod.uid", "uid-new")], None)["k8s.pod.name"],
        "new",
        "still found within its grace"
    );
    cache.settle(now + Duration::from_secs(31));
    assert!(!enrich(&mut p, &[("k8s.pod.uid", "uid-new")], None).contains_key("k8s.pod.name"));
}

#[test]
fn host_network_pods_are_not_found_by_their_connection() {
    let settings = settings(
        "pod_association:\n  - sources: [{from: resource_attribute, name: k8s.pod.uid}]\n  - sources: [{from: connection}]\n",
    );
    let mut shared = pod("agent", "10.0.0.5", "2026-12-01T10:00:00Z");
    shared.spec.as_mut().unwrap().host_network = Some(true);
    let (mut p, _cache) = processor(&settings, vec![shared]);
    assert!(!enrich(&mut p, &[], Some("10.0.0.5")).contains_key("k8s.pod.name"));
    assert_eq!(enrich(&mut p, &[("k8s.pod.uid", "uid-agent")], None)["k8s.pod.name"], "agent");
}

#[test]
fn labels_by_regex_name_their_attributes_from_the_capture() {
    let settings = settings(
        "extract:\n  metadata: [k8s.pod.name]\n  labels:\n    - tag_name: app.$1\n      key_regex: team/(.*)\n    - key_regex: tier\n",
    );
    let mut labelled = pod("a", "10.0.0.1", "2026-12-01T10:00:00Z");
    labelled.metadata.labels = map(&[("team/owner", "payments"), ("tier", "web"), ("other", "x")]);
    let (mut p, _cache) = processor(&settings, vec![labelled]);
    let attributes = enrich(&mut p, &[], Some("10.0.0.1"));
    assert_eq!(attributes["app.owner"], "payments");
    assert_eq!(attributes["k8s.pod.labels.tier"], "web");
    assert!(!attributes.keys().any(|k| k.contains("other")), "{attributes:?}");
}

#[test]
fn mistakes_are_reported_with_their_option_path() {
    let errors = |yaml: &str| -> Vec<String> {
        match Settings::parse(yaml) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(|e| format!("{e:?}")).collect(),
        }
    };
    let found = errors(
        "extract:\n  metadata: [k8s.pod.nam]\n  labels:\n    - key: a\n      key_regex: b\n    - key: x\n      from: deployment\npod_association:\n  - sources: [{from: peer}]\nfilter:\n  labels: [{key: a, op: in}]\ncontext: prod\n",
    );
    let text = found.join("\n");
    for expected in [
        "extract.metadata[0]",
        "not a supported metadata field",
        "extract.labels[0]",
        "exclusive",
        "extract.labels[1]",
        "not built in weir yet",
        "pod_association[0].sources[0].from",
        "filter.labels[0].op",
        "context",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}
