//! `kubernetes_sd_configs`: targets from the Kubernetes API, as Prometheus' Kubernetes service
//! discovery makes them — roles `node`, `service`, `pod`, `endpoints` and `endpointslice`, each
//! object a group of targets with the `__meta_kubernetes_*` labels Prometheus sets — followed
//! with weir's list-watch machinery (`weir-kubernetes`: relists on expiry, refusals explained).

use std::{collections::BTreeMap, time::Duration};

use futures_util::{StreamExt, stream::BoxStream};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use weir_kubernetes::{
    Api, Client, Event, WatchConfig,
    k8s_openapi::{
        api::{
            core::v1::{Endpoints, Node, Pod, Service},
            discovery::v1::EndpointSlice,
        },
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    },
};

/// One `kubernetes_sd_configs` entry as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSdConfig {
    /// `role`: `node`, `service`, `pod`, `endpoints` or `endpointslice`.
    pub role: String,
    /// `api_server` (not built: weir reaches the API in-cluster or by `kubeconfig_file`).
    pub api_server: Option<String>,
    /// `kubeconfig_file`.
    pub kubeconfig_file: Option<std::path::PathBuf>,
    /// `namespaces`.
    pub namespaces: Namespaces,
    /// `selectors`.
    pub selectors: Vec<Selector>,
    /// `attach_metadata` (not built).
    pub attach_metadata: BTreeMap<String, bool>,
}

/// `namespaces`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Namespaces {
    /// `own_namespace`: the pod's own namespace (in-cluster).
    pub own_namespace: bool,
    /// `names`.
    pub names: Vec<String>,
}

/// `selectors` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    /// `role`: the resource the selectors apply to.
    pub role: String,
    /// `label`.
    pub label: Option<String>,
    /// `field`.
    pub field: Option<String>,
}

/// The roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    Node,
    Service,
    Pod,
    Endpoints,
    EndpointSlice,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "node" => Role::Node,
            "service" => Role::Service,
            "pod" => Role::Pod,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            _ => return None,
        })
    }

    /// The selector roles Prometheus accepts with this discovery role.
    fn selectable(self) -> &'static [Role] {
        match self {
            Role::Node => &[Role::Node],
            Role::Service => &[Role::Service],
            Role::Pod => &[Role::Pod],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
        }
    }
}

/// A checked entry.
#[derive(Debug, Clone)]
pub(crate) struct KubernetesSd {
    pub(crate) role: Role,
    api: weir_kubernetes::ApiConfig,
    own_namespace: bool,
    names: Vec<String>,
    selectors: BTreeMap<Role, (Option<String>, Option<String>)>,
}

impl KubernetesSd {
    /// Checks `config`: problems as `(field, message)`.
    pub(crate) fn new(config: &KubernetesSdConfig) -> Result<KubernetesSd, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let role = Role::parse(&config.role);
        if role.is_none() {
            errors.push((
                "role".to_owned(),
                format!(
                    "{:?}: expected node, service, pod, endpoints or endpointslice",
                    config.role
                ),
            ));
        }
        if config.api_server.is_some() {
            errors.push((
                "api_server".into(),
                "is not built in weir yet: use kubeconfig_file, or run in the cluster".into(),
            ));
        }
        for (name, on) in &config.attach_metadata {
            if *on {
                errors.push((format!("attach_metadata.{name}"), "is not built in weir yet".into()));
            }
        }
        if config.namespaces.own_namespace && config.kubeconfig_file.is_some() {
            errors.push((
                "namespaces.own_namespace".into(),
                "cannot be used with kubeconfig_file".into(),
            ));
        }
        let mut selectors = BTreeMap::new();
        for (i, selector) in config.selectors.iter().enumerate() {
            let Some(selected) = Role::parse(&selector.role) else {
                errors.push((
                    format!("selectors[{i}].role"),
                    format!("unknown role {:?}", selector.role),
                ));
                continue;
            };
            if let Some(role) = role
                && !role.selectable().contains(&selected)
            {
                errors.push((
                    format!("selectors[{i}].role"),
                    format!(
                        "{} cannot select with the {} discovery role",
                        selector.role, config.role
                    ),
                ));
            }
            if selectors
                .insert(selected, (selector.label.clone(), selector.field.clone()))
                .is_some()
            {
                errors.push((
                    format!("selectors[{i}].role"),
                    format!("{} is selected twice", selector.role),
                ));
            }
        }
        let api = match &config.kubeconfig_file {
            Some(path) => weir_kubernetes::ApiConfig {
                auth_type: weir_kubernetes::AuthType::KubeConfig,
                context: None,
                kube_config_path: Some(path.clone()),
            },
            None => weir_kubernetes::ApiConfig::default(),
        };
        match (role, errors.is_empty()) {
            (Some(role), true) => Ok(KubernetesSd {
                role,
                api,
                own_namespace: config.namespaces.own_namespace,
                names: config.namespaces.names.clone(),
                selectors,
            }),
            _ => Err(errors),
        }
    }
}

mod targets;

use targets::build;

/// One object's targets: group labels, and each target's own labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Group {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) targets: Vec<BTreeMap<String, String>>,
}

/// What is known of the cluster.
#[derive(Default)]
pub(crate) struct Stores {
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) services: BTreeMap<(String, String), Service>,
    pub(crate) pods: BTreeMap<(String, String), Pod>,
    pub(crate) endpoints: BTreeMap<(String, String), Endpoints>,
    pub(crate) slices: BTreeMap<(String, String), EndpointSlice>,
}

/// A change of one of the resources followed (boxed: the objects differ much in size).
enum Change {
    Node(Box<Event<Node>>),
    Service(Box<Event<Service>>),
    Pod(Box<Event<Pod>>),
    Endpoints(Box<Event<Endpoints>>),
    Slice(Box<Event<EndpointSlice>>),
}

pub(crate) fn key(meta: &ObjectMeta) -> (String, String) {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// Applies a watch event to a store; `Init` … `InitDone` replace it.
fn apply<K, Key: Ord>(
    store: &mut BTreeMap<Key, K>,
    fresh: &mut Option<BTreeMap<Key, K>>,
    event: Event<K>,
    key: impl Fn(&K) -> Key,
) {
    match event {
        Event::Init => *fresh = Some(BTreeMap::new()),
        Event::InitApply(object) => {
            if let Some(fresh) = fresh {
                fresh.insert(key(&object), object);
            }
        }
        Event::InitDone => {
            if let Some(fresh) = fresh.take() {
                *store = fresh;
            }
        }
        Event::Apply(object) => {
            store.insert(key(&object), object);
        }
        Event::Delete(object) => {
            store.remove(&key(&object));
        }
    }
}

/// Follows the cluster for `sd` and publishes its groups on `groups` whenever they change.
pub(crate) async fn discover(
    job: String,
    sd: KubernetesSd,
    groups: tokio::sync::watch::Sender<Vec<Group>>,
    shutdown: CancellationToken,
) {
    let client = match weir_kubernetes::client(&sd.api).await {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%job, %error, "kubernetes_sd_configs: no Kubernetes API; no targets from it");
            return;
        }
    };
    let mut namespaces = sd.names.clone();
    if sd.own_namespace {
        match std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace") {
            Ok(own) => namespaces.push(own.trim().to_owned()),
            Err(error) => {
                tracing::warn!(%job, %error, "kubernetes_sd_configs: own_namespace unknown")
            }
        }
    }
    let component = format!("prometheus/{job}");
    let mut streams: Vec<BoxStream<'static, Change>> = Vec::new();
    let needs = |role: Role| match sd.role {
        Role::Endpoints => matches!(role, Role::Endpoints | Role::Service | Role::Pod),
        Role::EndpointSlice => matches!(role, Role::EndpointSlice | Role::Service | Role::Pod),
        own => own == role,
    };
    let config = |role: Role| {
        let mut config = WatchConfig::default();
        if let Some((label, field)) = sd.selectors.get(&role) {
            if let Some(label) = label {
                config = config.labels(label);
            }
            if let Some(field) = field {
                config = config.fields(field);
            }
        }
        config
    };
    if needs(Role::Node) {
        let api = Api::<Node>::all(client.clone());
        streams.push(
            weir_kubernetes::changes(api, config(Role::Node), &component)
                .map(|e| Change::Node(Box::new(e)))
                .boxed(),
        );
    }
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    for scope in scopes {
        let api = |client: &Client| match &scope {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (
                Api::all(client.clone()),
                Api::all(client.clone()),
                Api::all(client.clone()),
                Api::all(client.clone()),
            ),
        };
        let (services, pods, endpoints, slices): (
            Api<Service>,
            Api<Pod>,
            Api<Endpoints>,
            Api<EndpointSlice>,
        ) = api(&client);
        if needs(Role::Service) {
            streams.push(
                weir_kubernetes::changes(services, config(Role::Service), &component)
                    .map(|e| Change::Service(Box::new(e)))
                    .boxed(),
            );
        }
        if needs(Role::Pod) {
            streams.push(
                weir_kubernetes::changes(pods, config(Role::Pod), &component)
                    .map(|e| Change::Pod(Box::new(e)))
                    .boxed(),
            );
        }
        if needs(Role::Endpoints) {
            streams.push(
                weir_kubernetes::changes(endpoints, config(Role::Endpoints), &component)
                    .map(|e| Change::Endpoints(Box::new(e)))
                    .boxed(),
            );
        }
        if needs(Role::EndpointSlice) {
            streams.push(
                weir_kubernetes::changes(slices, config(Role::EndpointSlice), &component)
                    .map(|e| Change::Slice(Box::new(e)))
                    .boxed(),
            );
        }
    }
    let mut stores = Stores::default();
    let mut fresh: (Option<_>, Option<_>, Option<_>, Option<_>, Option<_>) =
        (None, None, None, None, None);
    let role = sd.role;
    let handle = |change: Option<Change>, _at| match change {
        Some(Change::Node(e)) => {
            apply(&mut stores.nodes, &mut fresh.0, *e, |n: &Node| key(&n.metadata).1)
        }
        Some(Change::Service(e)) => {
            apply(&mut stores.services, &mut fresh.1, *e, |s: &Service| key(&s.metadata))
        }
        Some(Change::Pod(e)) => {
            apply(&mut stores.pods, &mut fresh.2, *e, |p: &Pod| key(&p.metadata))
        }
        Some(Change::Endpoints(e)) => {
            apply(&mut stores.endpoints, &mut fresh.3, *e, |p: &Endpoints| key(&p.metadata))
        }
        Some(Change::Slice(e)) => {
            apply(&mut stores.slices, &mut fresh.4, *e, |p: &EndpointSlice| key(&p.metadata))
        }
        None => {
            let now = build(role, &stores);
            groups.send_if_modified(|old| {
                let changed = *old != now;
                if changed {
                    *old = now.clone();
                }
                changed
            });
        }
    };
    weir_kubernetes::follow(
        futures_util::stream::select_all(streams),
        Duration::from_secs(30),
        handle,
        shutdown,
    )
    .await;
}
