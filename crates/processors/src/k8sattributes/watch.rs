//! The processor's watches: the pods (of the filtered node and namespace), and only what the
//! options need besides — namespaces (all for `from: namespace`, `kube-system` alone for
//! `k8s.cluster.uid`), ReplicaSets (a deployment through its ReplicaSet), Jobs (a cronjob's
//! uid), nodes (`k8s.node.uid`, `from: node`), the last four as metadata only. One task
//! applies their changes to the store and publishes a snapshot after each burst.

use std::time::Duration;

use futures_util::{StreamExt, stream::BoxStream};
use weir_core::{
    CancellationToken,
    declare::{Background, Ready},
};
use weir_kubernetes::{
    Api, Client, Event, PartialObjectMeta, WatchConfig, changes,
    k8s_openapi::api::{
        apps::v1::ReplicaSet,
        batch::v1::Job,
        core::v1::{Namespace, Node, Pod},
    },
};

use super::{
    config::{Namespaces, Settings},
    store::Change,
};

/// How often deleted pods are checked for the end of their grace period (at most).
const EXPIRY_CHECK: Duration = Duration::from_secs(30);

/// Connects to the API server and starts the watches; with `wait_for_metadata`, the
/// receivers wait until the pods have been listed.
pub(super) async fn start(
    settings: Settings,
    id: String,
    shutdown: CancellationToken,
) -> Result<Option<Background>, String> {
    if settings.passthrough {
        return Ok(None);
    }
    let client = weir_kubernetes::client(&settings.api).await?;
    let plan = &settings.watch;
    tracing::info!(
        processor = %id,
        field_selector = %plan.field_selector,
        label_selector = %plan.label_selector,
        namespace = plan.namespace.as_deref().unwrap_or("(all)"),
        "watching pods"
    );
    let streams = futures_util::stream::select_all(streams(&settings, &client, &id));
    let mut cache = super::PodCache::new(&settings);
    let (mut listed, waiting) = weir_kubernetes::ready();
    let every = EXPIRY_CHECK.min(settings.grace.max(Duration::from_millis(100)));
    let handle = move |change: Option<Change>, now| match change {
        Some(change) => cache.change(change, now),
        None => {
            cache.settle(now);
            if cache.pods_listed() {
                listed.set();
            }
        }
    };
    let run = weir_kubernetes::follow(streams, every, handle, shutdown);
    let ready = settings.wait_for_metadata.map(|within| Ready {
        when: waiting,
        within,
        failure: format!(
            "wait_for_metadata: the pods were not listed from the Kubernetes API within \
             wait_for_metadata_timeout ({within:?})"
        ),
        fatal: true,
    });
    Ok(Some(Background { run: Box::pin(run), ready }))
}

/// The watches the options need.
fn streams(settings: &Settings, client: &Client, id: &str) -> Vec<BoxStream<'static, Change>> {
    let plan = &settings.watch;
    let mut config = WatchConfig::default();
    if !plan.field_selector.is_empty() {
        config = config.fields(&plan.field_selector);
    }
    if !plan.label_selector.is_empty() {
        config = config.labels(&plan.label_selector);
    }
    let pods: Api<Pod> = scoped(client.clone(), &plan.namespace);
    let mut streams = vec![changes(pods, config, id).map(|e| Change::Pod(boxed(e))).boxed()];
    let namespaces = match plan.namespaces {
        Namespaces::None => None,
        Namespaces::KubeSystem => Some(WatchConfig::default().fields("metadata.name=kube-system")),
        Namespaces::All => Some(WatchConfig::default()),
    };
    if let Some(config) = namespaces {
        let api: Api<PartialObjectMeta<Namespace>> = Api::all(client.clone());
        streams.push(changes(api, config, id).map(Change::Namespace).boxed());
    }
    if plan.replicasets {
        let api: Api<PartialObjectMeta<ReplicaSet>> = scoped(client.clone(), &plan.namespace);
        streams.push(changes(api, WatchConfig::default(), id).map(Change::ReplicaSet).boxed());
    }
    if plan.jobs {
        let api: Api<PartialObjectMeta<Job>> = scoped(client.clone(), &plan.namespace);
        streams.push(changes(api, WatchConfig::default(), id).map(Change::Job).boxed());
    }
    if let Some(node) = &plan.nodes {
        let api: Api<PartialObjectMeta<Node>> = Api::all(client.clone());
        let config = match node {
            Some(node) => WatchConfig::default().fields(&format!("metadata.name={node}")),
            None => WatchConfig::default(),
        };
        streams.push(changes(api, config, id).map(Change::Node).boxed());
    }
    streams
}

/// The API of `K` in `namespace`, or in all.
fn scoped<K>(client: Client, namespace: &Option<String>) -> Api<K>
where
    K: weir_kubernetes::Resource<Scope = weir_kubernetes::k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    }
}

/// A pod event with its pod boxed (pods are far larger than the metadata of other objects).
fn boxed(event: Event<Pod>) -> Event<Box<Pod>> {
    match event {
        Event::Apply(pod) => Event::Apply(Box::new(pod)),
        Event::Delete(pod) => Event::Delete(Box::new(pod)),
        Event::Init => Event::Init,
        Event::InitApply(pod) => Event::InitApply(Box::new(pod)),
        Event::InitDone => Event::InitDone,
    }
}
