//! The `k8s_attributes` processor (alias `k8sattributes`): adds to each resource the pod it
//! came from — namespace, pod, uid, start time, node, workloads (deployment through its
//! ReplicaSet, statefulset, daemonset, job, cronjob through its Job), containers, cluster uid,
//! labels and annotations of the pod, its namespace and its node, and the `service.*`
//! attributes of the semantic conventions — with the Collector's options.
//!
//! The pod is found by the `pod_association` rules: resource attributes (`k8s.pod.ip`,
//! `k8s.pod.uid`, `k8s.pod.name` with `k8s.namespace.name`, `container.id`, ...) or the
//! `connection`, the IP address of the client that sent the data (so the processor must come
//! before any `batch`). Attributes a resource already has are kept.
//!
//! The processor itself is pure: it reads the snapshot its watches publish (see `watch.rs`,
//! started by the topology), so a batch never waits for the Kubernetes API. A deleted pod is
//! still found for `pod_delete_grace_period`, as the Collector does, so data sent just before
//! the pod went away is still enriched.

mod config;
mod pod;
mod store;
#[cfg(test)]
mod tests;
mod watch;

use std::{net::IpAddr, sync::Arc, time::Instant};

pub use config::{Config, Settings};
use weir_core::{Batch, Output, Processor};
use weir_kubernetes::{Event, k8s_openapi::api::core::v1::Pod};
use weir_otlp::{
    attributes,
    proto::{
        common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value},
        resource::v1::Resource,
    },
};

use pod::{PodView, Rules, Source};
use store::{Shared, Snapshot};

/// One instance of the processor.
pub struct K8sAttributes {
    rules: Arc<Rules>,
    passthrough: bool,
    shared: Arc<Shared>,
    misses: metrics::Counter,
}

impl K8sAttributes {
    fn new(settings: &Settings) -> K8sAttributes {
        K8sAttributes {
            rules: settings.rules.clone(),
            passthrough: settings.passthrough,
            shared: settings.shared.clone(),
            misses: metrics::counter!("otelcol_otelsvc_k8s_ip_lookup_miss_total"),
        }
    }

    fn enrich(&self, resource: &mut Resource, peer: Option<IpAddr>, snapshot: &Snapshot) {
        let attributes = &mut resource.attributes;
        let id = identify(&self.rules.association, attributes, peer);
        if self.passthrough || self.rules.wants("k8s.pod.ip") {
            let ip = id.iter().flat_map(|id| id.iter()).find(|(s, _)| *s == Source::Connection);
            if let Some((_, ip)) = ip {
                put(attributes, "k8s.pod.ip", ip);
            }
        }
        if self.passthrough {
            return;
        }
        let pod = id.as_ref().and_then(|id| snapshot.pods.get(id.as_slice())).map(|(pod, _)| pod);
        if id.is_some() && pod.is_none() {
            self.misses.increment(1);
        }
        if let Some(pod) = pod {
            for (key, value) in &pod.attributes {
                put(attributes, key, value);
            }
            self.container(attributes, pod);
        }
        let namespace =
            pod.map(|p| p.namespace.clone()).or_else(|| text(attributes, "k8s.namespace.name"));
        for (key, value) in
            namespace.and_then(|n| snapshot.namespaces.get(&n)).into_iter().flatten()
        {
            put(attributes, key, value);
        }
        let node = pod.map(|p| p.node.clone()).or_else(|| text(attributes, "k8s.node.name"));
        for (key, value) in node.and_then(|n| snapshot.nodes.get(&n)).into_iter().flatten() {
            put(attributes, key, value);
        }
    }

    /// The attributes of the resource's container: the one its `k8s.container.name` or
    /// `container.id` names, or the pod's only one; its id is the one of the resource's
    /// `k8s.container.restart_count`, else of its latest start.
    fn container(&self, attributes: &mut Vec<KeyValue>, pod: &PodView) {
        let container = if let Some(name) = text(attributes, "k8s.container.name") {
            pod.containers.iter().find(|c| c.name == name)
        } else if let Some(id) = text(attributes, "container.id") {
            pod.containers.iter().find(|c| c.ids.iter().any(|(_, i)| *i == id))
        } else if pod.containers.len() == 1 {
            pod.containers.first()
        } else {
            None
        };
        let Some(container) = container else { return };
        for (key, value) in &container.attributes {
            put(attributes, key, value);
        }
        if self.rules.wants("container.id") {
            let restarts: Option<i32> =
                text(attributes, "k8s.container.restart_count").and_then(|r| r.parse().ok());
            let id = match restarts {
                Some(restarts) => container.ids.iter().find(|(r, _)| *r == restarts),
                None => container.ids.iter().max_by_key(|(r, _)| *r),
            };
            if let Some((_, id)) = id {
                put(attributes, "container.id", id);
            }
        }
        if self.rules.wants("container.image.repo_digests")
            && let Some(digest) = &container.repo_digest
            && attributes::find(attributes, "container.image.repo_digests").is_none()
        {
            let digest = AnyValue { value: Some(Value::StringValue(digest.clone())) };
            let array = Value::ArrayValue(ArrayValue { values: vec![digest] });
            attributes.push(attributes::kv_value("container.image.repo_digests", array));
        }
    }
}

impl Processor for K8sAttributes {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        let peer = out.metadata().peer();
        let snapshot = self.shared.snapshot.load();
        batch.for_each_resource(|resource| {
            self.enrich(resource.get_or_insert_with(Resource::default), peer, &snapshot)
        });
        out.push(batch);
    }
}

/// The identifier of the pod a resource came from: the first association rule whose sources
/// all have a value; with no rules, the Collector's default (`k8s.pod.ip`, then `ip`, then the
/// connection, then a `host.name` that is an IP address) as a connection.
fn identify(
    rules: &[Vec<Source>],
    attributes: &[KeyValue],
    peer: Option<IpAddr>,
) -> Option<Vec<(Source, String)>> {
    let ip = |text: Option<String>| text.filter(|t| t.parse::<IpAddr>().is_ok());
    if rules.is_empty() {
        let found = text(attributes, "k8s.pod.ip")
            .or_else(|| text(attributes, "ip"))
            .or_else(|| peer.map(|p| p.to_string()))
            .or_else(|| ip(text(attributes, "host.name")))?;
        return Some(vec![(Source::Connection, found)]);
    }
    rules.iter().find_map(|rule| {
        let values = rule.iter().map(|source| {
            let value = match source {
                Source::Connection => peer.map(|p| p.to_string()),
                Source::Attribute(name) if name == "host.name" => ip(text(attributes, name)),
                Source::Attribute(name) => text(attributes, name),
            };
            Some((source.clone(), value?))
        });
        values.collect::<Option<Vec<_>>>()
    })
}

/// A non-empty string attribute.
fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attributes::find(attributes, key)?.value.as_ref()? {
        Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
        Value::IntValue(i) if key == "k8s.container.restart_count" => Some(i.to_string()),
        _ => None,
    }
}

/// Sets `key` unless the resource has it already (with a value other than "").
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: &str) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(existing)
            if attributes::text(existing.value.as_ref()).is_some_and(|t| !t.is_empty()) => {}
        Some(existing) => *existing = attributes::kv(key, value),
        None => attributes.push(attributes::kv(key, value)),
    }
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, _id: &str) -> Box<dyn Processor> {
        Box::new(K8sAttributes::new(self))
    }

    fn background(
        &self,
        id: &str,
        shutdown: weir_core::CancellationToken,
    ) -> weir_core::BoxFuture<'_, Result<Option<weir_core::declare::Background>, String>> {
        Box::pin(watch::start(self.clone(), id.to_owned(), shutdown))
    }
}

/// The cache a processor's watches fill and the snapshot it publishes for the processor's
/// instances: driven by the watch task (`watch.rs`), and by hand to measure what a cached pod
/// costs in memory and a change costs to apply and publish
/// (`cargo bench -p weir-benches --bench k8s_attributes`).
pub struct PodCache {
    store: store::Store,
    shared: Arc<Shared>,
}

impl PodCache {
    /// An empty cache for the processor `settings` describe.
    pub fn new(settings: &Settings) -> PodCache {
        PodCache {
            store: store::Store::new(settings.rules.clone(), settings.grace),
            shared: settings.shared.clone(),
        }
    }

    /// Applies `pods` as a new list of every pod.
    pub fn list(&mut self, pods: Vec<Pod>) {
        let now = Instant::now();
        self.change(store::Change::Pod(Event::Init), now);
        for pod in pods {
            self.change(store::Change::Pod(Event::InitApply(Box::new(pod))), now);
        }
        self.change(store::Change::Pod(Event::InitDone), now);
    }

    /// Applies one added or changed pod.
    pub fn apply(&mut self, pod: Pod) {
        self.change(store::Change::Pod(Event::Apply(Box::new(pod))), Instant::now());
    }

    /// Forgets the deleted pods whose grace period has passed by `now`, and publishes a new
    /// snapshot if anything changed.
    pub fn settle(&mut self, now: Instant) {
        self.store.expire(now);
        if let Some(snapshot) = self.store.snapshot() {
            self.shared.snapshot.store(Arc::new(snapshot));
        }
    }

    fn change(&mut self, change: store::Change, now: Instant) {
        self.store.apply(change, now);
    }

    /// Whether the pods have been listed once.
    fn pods_listed(&self) -> bool {
        self.store.pods_listed()
    }
}
