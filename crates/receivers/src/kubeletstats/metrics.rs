//! The Summary API's figures as the Collector's metrics: `k8s.node.*` under a resource with
//! `k8s.node.name`, `k8s.pod.*` under one with the pod's uid, name and namespace, and
//! `container.*` under one that adds `k8s.container.name`.

use weir_otlp::{
    attributes::kv,
    proto::{
        common::v1::{InstrumentationScope, KeyValue},
        metrics::v1::{ResourceMetrics, ScopeMetrics},
        resource::v1::Resource,
    },
};

use super::summary::{Cpu, Fs, Memory, Network, Summary, unix_nanos};
use crate::scrape::{Kind, Number, Scrape};

/// The metric groups asked for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Groups {
    pub(crate) node: bool,
    pub(crate) pod: bool,
    pub(crate) container: bool,
    pub(crate) volume: bool,
    /// `collect_all_network_interfaces`: every interface, not only the default one.
    pub(crate) all_interfaces_node: bool,
    pub(crate) all_interfaces_pod: bool,
}

const SCOPE: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver";

fn gauge(name: String, unit: &'static str) -> (String, &'static str, Kind) {
    (name, unit, Kind::Gauge)
}

/// Adds cpu, memory and file system metrics with `prefix` (`k8s.node`, `k8s.pod`, `container`).
fn usage(
    prefix: &str,
    cpu: Option<&Cpu>,
    memory: Option<&Memory>,
    fs: Option<&Fs>,
    scrape: &mut Scrape,
) {
    let mut point = |(name, unit, kind): (String, &str, Kind), value: Option<Number>| {
        if let Some(value) = value {
            scrape.point((&name, unit, "", kind), &[], value);
        }
    };
    let int = |v: Option<u64>| v.map(|v| Number::Int(v as i64));
    if let Some(cpu) = cpu {
        point(
            gauge(format!("{prefix}.cpu.usage"), "{cpu}"),
            cpu.usage_nano_cores.map(|n| Number::Double(n as f64 / 1e9)),
        );
        point(
            (format!("{prefix}.cpu.time"), "s", Kind::Counter),
            cpu.usage_core_nano_seconds.map(|n| Number::Double(n as f64 / 1e9)),
        );
    }
    if let Some(m) = memory {
        point(gauge(format!("{prefix}.memory.available"), "By"), int(m.available_bytes));
        point(gauge(format!("{prefix}.memory.usage"), "By"), int(m.usage_bytes));
        point(gauge(format!("{prefix}.memory.rss"), "By"), int(m.rss_bytes));
        point(gauge(format!("{prefix}.memory.working_set"), "By"), int(m.working_set_bytes));
        point(gauge(format!("{prefix}.memory.page_faults"), "1"), int(m.page_faults));
        point(gauge(format!("{prefix}.memory.major_page_faults"), "1"), int(m.major_page_faults));
    }
    if let Some(fs) = fs {
        point(gauge(format!("{prefix}.filesystem.available"), "By"), int(fs.available_bytes));
        point(gauge(format!("{prefix}.filesystem.capacity"), "By"), int(fs.capacity_bytes));
        point(gauge(format!("{prefix}.filesystem.usage"), "By"), int(fs.used_bytes));
    }
}

/// Network bytes and errors per interface and direction.
fn network(prefix: &str, network: Option<&Network>, all: bool, scrape: &mut Scrape) {
    let Some(network) = network else { return };
    let interfaces =
        if all { network.interfaces.iter().collect::<Vec<_>>() } else { vec![&network.default] };
    let (io, errors) = (format!("{prefix}.network.io"), format!("{prefix}.network.errors"));
    for i in interfaces {
        for (direction, bytes, errs) in
            [("receive", i.rx_bytes, i.rx_errors), ("transmit", i.tx_bytes, i.tx_errors)]
        {
            let attributes = [("interface", i.name.as_str()), ("direction", direction)];
            if let Some(b) = bytes {
                scrape.point((&io, "By", "", Kind::Counter), &attributes, Number::Int(b as i64));
            }
            if let Some(e) = errs {
                scrape.point((&errors, "1", "", Kind::Counter), &attributes, Number::Int(e as i64));
            }
        }
    }
}

/// One resource of metrics, when it has any.
fn resource(attributes: Vec<KeyValue>, scrape: &mut Scrape, out: &mut Vec<ResourceMetrics>) {
    if scrape.metrics.is_empty() {
        return;
    }
    out.push(ResourceMetrics {
        resource: Some(Resource { attributes, ..Resource::default() }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope { name: SCOPE.into(), ..Default::default() }),
            metrics: std::mem::take(&mut scrape.metrics),
            ..ScopeMetrics::default()
        }],
        ..ResourceMetrics::default()
    });
}

/// The metrics of a summary, a resource per node, pod, container and volume.
pub(crate) fn convert(
    summary: &Summary,
    groups: Groups,
    facts: &super::PodFacts,
    scrape: &mut Scrape,
) -> Vec<ResourceMetrics> {
    let mut out = Vec::new();
    if groups.node {
        let node = &summary.node;
        scrape.start = unix_nanos(node.start_time.as_deref());
        usage("k8s.node", node.cpu.as_ref(), node.memory.as_ref(), node.fs.as_ref(), scrape);
        network("k8s.node", node.network.as_ref(), groups.all_interfaces_node, scrape);
        resource(vec![kv("k8s.node.name", &node.node_name)], scrape, &mut out);
    }
    for pod in &summary.pods {
        let pod_attributes = || {
            vec![
                kv("k8s.pod.uid", &pod.pod_ref.uid),
                kv("k8s.pod.name", &pod.pod_ref.name),
                kv("k8s.namespace.name", &pod.pod_ref.namespace),
            ]
        };
        if groups.pod {
            scrape.start = unix_nanos(pod.start_time.as_deref());
            usage(
                "k8s.pod",
                pod.cpu.as_ref(),
                pod.memory.as_ref(),
                pod.ephemeral_storage.as_ref(),
                scrape,
            );
            network("k8s.pod", pod.network.as_ref(), groups.all_interfaces_pod, scrape);
            resource(pod_attributes(), scrape, &mut out);
        }
        if groups.container {
            for container in &pod.containers {
                scrape.start = unix_nanos(container.start_time.as_deref());
                usage(
                    "container",
                    container.cpu.as_ref(),
                    container.memory.as_ref(),
                    container.rootfs.as_ref(),
                    scrape,
                );
                let mut attributes = pod_attributes();
                attributes.push(kv("k8s.container.name", &container.name));
                let key = (pod.pod_ref.uid.clone(), container.name.clone());
                if let Some(id) = facts.containers.get(&key) {
                    attributes.push(kv("container.id", id));
                }
                resource(attributes, scrape, &mut out);
            }
        }
        if groups.volume {
            for volume in &pod.volume {
                let int = |v: Option<u64>| v.map(|v| Number::Int(v as i64));
                for (name, unit, value) in [
                    ("k8s.volume.available", "By", volume.available_bytes),
                    ("k8s.volume.capacity", "By", volume.capacity_bytes),
                    ("k8s.volume.inodes", "1", volume.inodes),
                    ("k8s.volume.inodes.free", "1", volume.inodes_free),
                    ("k8s.volume.inodes.used", "1", volume.inodes_used),
                ] {
                    if let Some(value) = int(value) {
                        scrape.point((name, unit, "", Kind::Gauge), &[], value);
                    }
                }
                let mut attributes = pod_attributes();
                attributes.push(kv("k8s.volume.name", &volume.name));
                let key = (pod.pod_ref.uid.clone(), volume.name.clone());
                attributes.extend(facts.volumes.get(&key).into_iter().flatten().cloned());
                resource(attributes, scrape, &mut out);
            }
        }
    }
    out
}
