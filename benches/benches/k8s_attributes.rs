//! The `k8s_attributes` processor's pod cache: heap bytes per cached pod (jemalloc's count of
//! allocated bytes, which sees every heap byte and costs no time), the time to apply one changed pod and publish a new snapshot (the watch cost:
//! the snapshot is rebuilt once per burst of changes, so it grows with the pods cached), and
//! the time to enrich one resource found by its connection. Pods carry what real ones do:
//! six labels, three annotations, two containers, a ReplicaSet owner. Run with
//! `cargo bench -p weir-benches --bench k8s_attributes`.

use std::{collections::BTreeMap, time::Instant};

use k8s_openapi::{
    api::core::v1::{Container, ContainerStatus, Pod, PodSpec, PodStatus},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
};
use weir_core::{Component, Metadata, Output, declare::BuildProcessor};
use weir_processors::k8sattributes::{PodCache, Settings};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn live() -> u64 {
    tikv_jemalloc_ctl::epoch::advance().expect("jemalloc statistics");
    tikv_jemalloc_ctl::stats::allocated::read().expect("jemalloc statistics") as u64
}

/// The Collector chart's kubernetesAttributes preset, as config/agent.yaml has it.
const PRESET: &str = "
pod_association:
  - sources: [{from: resource_attribute, name: k8s.pod.ip}]
  - sources: [{from: resource_attribute, name: k8s.pod.uid}]
  - sources: [{from: connection}]
extract:
  otel_annotations: true
  metadata: [k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.node.name, k8s.pod.start_time,
    k8s.deployment.name, k8s.replicaset.name, k8s.replicaset.uid, k8s.daemonset.name,
    k8s.daemonset.uid, k8s.job.name, k8s.job.uid, k8s.container.name, k8s.cronjob.name,
    k8s.statefulset.name, k8s.statefulset.uid, container.image.tag, container.image.name,
    k8s.cluster.uid, service.namespace, service.name, service.version, service.instance.id]
";

fn map(pairs: &[(&str, String)]) -> Option<BTreeMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn ip(i: u32) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

fn pod(i: u32, generation: u32) -> Pod {
    let app = format!("service-{}", i % 50);
    let replicaset = format!("{app}-7d4b9c5f6");
    let time = || Some(Time("2026-12-01T10:00:00Z".parse().unwrap()));
    let container = |name: &str| Container {
        name: name.into(),
        image: Some(format!("registry.example.com/team/{app}-{name}:1.{generation}.0")),
        ..Default::default()
    };
    let status = |name: &str| ContainerStatus {
        name: name.into(),
        container_id: Some(format!("containerd://{:064x}", u64::from(i) << 8 | 1)),
        image_id: format!("registry.example.com/team/{app}-{name}@sha256:{:064x}", i),
        ..Default::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{replicaset}-{i:05}")),
            namespace: Some(format!("team-{}", i % 20)),
            uid: Some(format!("{:08x}-0000-4000-8000-{:012x}", i, i)),
            creation_timestamp: time(),
            labels: map(&[
                ("app.kubernetes.io/name", app.clone()),
                ("app.kubernetes.io/instance", format!("{app}-prod")),
                ("app.kubernetes.io/version", format!("1.{generation}.0")),
                ("pod-template-hash", "7d4b9c5f6".into()),
                ("team", format!("team-{}", i % 20)),
                ("tier", "backend".into()),
            ]),
            annotations: map(&[
                ("resource.opentelemetry.io/service.namespace", "shop".into()),
                ("prometheus.io/scrape", "true".into()),
                ("kubectl.kubernetes.io/restartedAt", "2026-11-30T08:00:00Z".into()),
            ]),
            owner_references: Some(vec![OwnerReference {
                kind: "ReplicaSet".into(),
                name: replicaset.clone(),
                uid: format!("rs-{}", i % 50),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(format!("node-{}", i % 100)),
            containers: vec![container("app"), container("sidecar")],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip(i)),
            start_time: time(),
            container_statuses: Some(vec![status("app"), status("sidecar")]),
            ..Default::default()
        }),
    }
}

fn main() {
    // Test runners list a binary's tests first (`--list`): this one has none to list.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo test` runs benches once without `--bench`: keep that run small.
    let sizes: &[u32] =
        if std::env::args().any(|a| a == "--bench") { &[100, 1_000, 10_000] } else { &[100] };
    println!("pods | heap bytes per pod | apply one change + publish | enrich one resource");
    for &n in sizes {
        let settings = Settings::parse(PRESET).expect("the preset validates");
        let before = live();
        let pods: Vec<Pod> = (0..n).map(|i| pod(i, 0)).collect();
        let mut cache = PodCache::new(&settings);
        cache.list(pods);
        cache.settle(Instant::now());
        let per_pod = (live() - before) / u64::from(n);

        let changes = 50;
        let started = Instant::now();
        for c in 0..changes {
            cache.apply(pod(c % n, c + 1));
            cache.settle(Instant::now());
        }
        let per_change = started.elapsed() / changes;

        let mut processor = settings.build("k8s_attributes");
        let peer = ip(n / 2).parse().ok();
        let batches: Vec<_> = (0..1_000).map(|_| weir_core::testing::spans("svc", 1, 1)).collect();
        let started = Instant::now();
        let mut enriched = Vec::new();
        for batch in batches {
            let mut out = Output::with_metadata(Metadata::default().with_peer(peer));
            processor.process(batch, &mut out);
            enriched.extend(out.drain());
        }
        let per_resource = started.elapsed() / 1_000;
        let view = enriched[0].batch.view();
        let weir_otlp::Decoded::Traces(resources) = &*view else { panic!("traces") };
        let attributes = &resources[0].resource.as_ref().expect("a resource").attributes;
        let name = weir_otlp::attributes::find(attributes, "k8s.pod.name");
        assert!(name.is_some(), "the pod was found: {attributes:?}");
        println!("{n:>6} | {per_pod:>18} | {per_change:>26.1?} | {per_resource:>19.1?}");
    }
}
