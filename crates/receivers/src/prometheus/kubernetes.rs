//! `kubernetes_sd_configs`: targets from the Kubernetes API, as Prometheus' Kubernetes service
//! discovery makes them — roles `node`, `service`, `pod`, `endpoints` and `endpointslice`, each
//! object a group of targets with the `__meta_kubernetes_*` labels Prometheus sets — followed
//! with weir's list-watch machinery (`weir-kubernetes`: relists on expiry, refusals explained).

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use futures_util::{StreamExt, stream::BoxStream};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use weir_kubernetes::{
    Api, Client, Event, WatchConfig,
    k8s_openapi::{
        api::{
            core::v1::{Container, Endpoints, Node, Pod, Service},
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

/// One object's targets: group labels, and each target's own labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Group {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) targets: Vec<BTreeMap<String, String>>,
}

/// What is known of the cluster.
#[derive(Default)]
struct Stores {
    nodes: BTreeMap<String, Node>,
    services: BTreeMap<(String, String), Service>,
    pods: BTreeMap<(String, String), Pod>,
    endpoints: BTreeMap<(String, String), Endpoints>,
    slices: BTreeMap<(String, String), EndpointSlice>,
}

/// A change of one of the resources followed (boxed: the objects differ much in size).
enum Change {
    Node(Box<Event<Node>>),
    Service(Box<Event<Service>>),
    Pod(Box<Event<Pod>>),
    Endpoints(Box<Event<Endpoints>>),
    Slice(Box<Event<EndpointSlice>>),
}

fn key(meta: &ObjectMeta) -> (String, String) {
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

fn build(role: Role, stores: &Stores) -> Vec<Group> {
    match role {
        Role::Node => stores.nodes.values().filter_map(node).collect(),
        Role::Service => stores.services.values().map(service).collect(),
        Role::Pod => stores.pods.values().map(pod).collect(),
        Role::Endpoints => stores.endpoints.values().map(|e| endpoints(e, stores)).collect(),
        Role::EndpointSlice => stores.slices.values().map(|s| slice(s, stores)).collect(),
    }
}

/// `[a-zA-Z0-9_]` kept, anything else `_`.
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

const META: &str = "__meta_kubernetes_";

fn put(labels: &mut BTreeMap<String, String>, name: &str, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        labels.insert(format!("{META}{name}"), value);
    }
}

/// `<role>_name`, `_label_*`, `_labelpresent_*`, `_annotation_*`, `_annotationpresent_*`.
fn object_labels(labels: &mut BTreeMap<String, String>, meta: &ObjectMeta, role: &str) {
    put(labels, &format!("{role}_name"), meta.name.clone().unwrap_or_default());
    for (k, v) in meta.labels.iter().flatten() {
        let k = sanitize(k);
        put(labels, &format!("{role}_label_{k}"), v.clone());
        put(labels, &format!("{role}_labelpresent_{k}"), "true");
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let k = sanitize(k);
        put(labels, &format!("{role}_annotation_{k}"), v.clone());
        put(labels, &format!("{role}_annotationpresent_{k}"), "true");
    }
}

fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn node(node: &Node) -> Option<Group> {
    let mut labels = BTreeMap::new();
    object_labels(&mut labels, &node.metadata, "node");
    put(
        &mut labels,
        "node_provider_id",
        node.spec.as_ref().and_then(|s| s.provider_id.clone()).unwrap_or_default(),
    );
    let status = node.status.as_ref()?;
    for condition in status.conditions.iter().flatten() {
        put(
            &mut labels,
            &format!("node_condition_{}", sanitize(&condition.type_.to_lowercase())),
            condition.status.to_lowercase(),
        );
    }
    let addresses = status.addresses.clone().unwrap_or_default();
    let first = |kind: &str| addresses.iter().find(|a| a.type_ == kind).map(|a| a.address.clone());
    let order =
        ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];
    let address = order.iter().find_map(|kind| first(kind))?;
    let port = status
        .daemon_endpoints
        .as_ref()
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(0, |k| k.port);
    let mut target = BTreeMap::new();
    target.insert("__address__".to_owned(), host_port(&address, port));
    target.insert("instance".to_owned(), node.metadata.name.clone().unwrap_or_default());
    let mut seen = BTreeSet::new();
    for a in &addresses {
        if seen.insert(a.type_.clone()) {
            put(&mut target, &format!("node_address_{}", sanitize(&a.type_)), a.address.clone());
        }
    }
    Some(Group { labels, targets: vec![target] })
}

fn service_labels(labels: &mut BTreeMap<String, String>, service: &Service) {
    put(labels, "namespace", service.metadata.namespace.clone().unwrap_or_default());
    object_labels(labels, &service.metadata, "service");
}

fn service(service: &Service) -> Group {
    let mut labels = BTreeMap::new();
    service_labels(&mut labels, service);
    let spec = service.spec.clone().unwrap_or_default();
    let (name, ns) = (
        service.metadata.name.clone().unwrap_or_default(),
        service.metadata.namespace.clone().unwrap_or_default(),
    );
    let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
    let targets = spec
        .ports
        .iter()
        .flatten()
        .map(|port| {
            let mut target = BTreeMap::new();
            target.insert("__address__".to_owned(), format!("{name}.{ns}.svc:{}", port.port));
            put(&mut target, "service_port_name", port.name.clone().unwrap_or_default());
            put(&mut target, "service_port_number", port.port.to_string());
            put(
                &mut target,
                "service_port_protocol",
                port.protocol.clone().unwrap_or_else(|| "TCP".into()),
            );
            put(&mut target, "service_type", kind.clone());
            if kind == "ExternalName" {
                put(
                    &mut target,
                    "service_external_name",
                    spec.external_name.clone().unwrap_or_default(),
                );
            } else {
                put(&mut target, "service_cluster_ip", spec.cluster_ip.clone().unwrap_or_default());
            }
            if kind == "LoadBalancer" {
                put(
                    &mut target,
                    "service_loadbalancer_ip",
                    spec.load_balancer_ip.clone().unwrap_or_default(),
                );
            }
            target
        })
        .collect();
    Group { labels, targets }
}

/// The pod's own labels (the endpoint roles merge these into targets).
fn pod_labels(pod: &Pod) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    object_labels(&mut labels, &pod.metadata, "pod");
    let status = pod.status.clone().unwrap_or_default();
    put(&mut labels, "pod_ip", status.pod_ip.clone().unwrap_or_default());
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map_or("unknown".to_owned(), |c| c.status.to_lowercase());
    put(&mut labels, "pod_ready", ready);
    put(&mut labels, "pod_phase", status.phase.clone().unwrap_or_default());
    put(
        &mut labels,
        "pod_node_name",
        pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default(),
    );
    put(&mut labels, "pod_host_ip", status.host_ip.clone().unwrap_or_default());
    put(&mut labels, "pod_uid", pod.metadata.uid.clone().unwrap_or_default());
    if let Some(owner) =
        pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))
    {
        put(&mut labels, "pod_controller_kind", owner.kind.clone());
        put(&mut labels, "pod_controller_name", owner.name.clone());
    }
    labels
}

/// Containers then init containers, each with whether it is an init container.
fn containers(pod: &Pod) -> Vec<(&Container, bool)> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    spec.containers
        .iter()
        .map(|c| (c, false))
        .chain(spec.init_containers.iter().flatten().map(|c| (c, true)))
        .collect()
}

fn container_labels(target: &mut BTreeMap<String, String>, container: &Container, init: bool) {
    put(target, "pod_container_name", container.name.clone());
    put(target, "pod_container_image", container.image.clone().unwrap_or_default());
    put(target, "pod_container_init", init.to_string());
}

fn pod(pod: &Pod) -> Group {
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
    if ip.is_empty() {
        return Group::default();
    }
    let mut labels = pod_labels(pod);
    put(&mut labels, "namespace", pod.metadata.namespace.clone().unwrap_or_default());
    let status = pod.status.clone().unwrap_or_default();
    let id = |name: &str, init: bool| {
        let statuses = if init {
            status.init_container_statuses.clone()
        } else {
            status.container_statuses.clone()
        };
        statuses
            .into_iter()
            .flatten()
            .find(|s| s.name == name)
            .and_then(|s| s.container_id)
            .unwrap_or_default()
    };
    let mut targets = Vec::new();
    for (container, init) in containers(pod) {
        let ports = container.ports.clone().unwrap_or_default();
        let mut base = BTreeMap::new();
        container_labels(&mut base, container, init);
        put(&mut base, "pod_container_id", id(&container.name, init));
        if ports.is_empty() {
            let mut target = base.clone();
            target.insert("__address__".into(), ip.clone());
            targets.push(target);
        }
        for port in ports {
            let mut target = base.clone();
            target.insert("__address__".into(), host_port(&ip, port.container_port));
            put(&mut target, "pod_container_port_name", port.name.clone().unwrap_or_default());
            put(&mut target, "pod_container_port_number", port.container_port.to_string());
            put(
                &mut target,
                "pod_container_port_protocol",
                port.protocol.clone().unwrap_or_else(|| "TCP".into()),
            );
            targets.push(target);
        }
    }
    Group { labels, targets }
}

/// A pod's labels and its container's for `port` on an endpoint target; the ports covered.
fn merge_pod(
    target: &mut BTreeMap<String, String>,
    pod: &Pod,
    port: i32,
    protocol: Option<String>,
    covered: &mut BTreeMap<(String, String), BTreeSet<i32>>,
) {
    target.extend(pod_labels(pod));
    for (container, init) in containers(pod) {
        if let Some(cport) = container.ports.iter().flatten().find(|p| p.container_port == port) {
            container_labels(target, container, init);
            put(target, "pod_container_port_name", cport.name.clone().unwrap_or_default());
            put(target, "pod_container_port_number", port.to_string());
            let protocol =
                protocol.clone().or_else(|| cport.protocol.clone()).unwrap_or_else(|| "TCP".into());
            put(target, "pod_container_port_protocol", protocol);
            break;
        }
    }
    covered.entry(key(&pod.metadata)).or_default().insert(port);
}

/// The container ports of the seen pods that no endpoint covered, as targets of their own.
fn uncovered(
    stores: &Stores,
    covered: &BTreeMap<(String, String), BTreeSet<i32>>,
) -> Vec<BTreeMap<String, String>> {
    let mut targets = Vec::new();
    for (pod_key, ports) in covered {
        let Some(pod) = stores.pods.get(pod_key) else { continue };
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
        if ip.is_empty() {
            continue;
        }
        for (container, init) in containers(pod) {
            for cport in
                container.ports.iter().flatten().filter(|p| !ports.contains(&p.container_port))
            {
                let mut target = pod_labels(pod);
                target.insert("__address__".into(), host_port(&ip, cport.container_port));
                container_labels(&mut target, container, init);
                put(&mut target, "pod_container_port_name", cport.name.clone().unwrap_or_default());
                put(&mut target, "pod_container_port_number", cport.container_port.to_string());
                put(
                    &mut target,
                    "pod_container_port_protocol",
                    cport.protocol.clone().unwrap_or_else(|| "TCP".into()),
                );
                targets.push(target);
            }
        }
    }
    targets
}

fn endpoints(endpoints: &Endpoints, stores: &Stores) -> Group {
    let mut labels = BTreeMap::new();
    let (ns, name) = key(&endpoints.metadata);
    put(&mut labels, "namespace", ns.clone());
    if let Some(service) = stores.services.get(&(ns.clone(), name)) {
        service_labels(&mut labels, service);
    }
    object_labels(&mut labels, &endpoints.metadata, "endpoints");
    let mut targets = Vec::new();
    let mut covered = BTreeMap::new();
    for subset in endpoints.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let addresses = subset.addresses.iter().flatten().map(|a| (a, "true"));
            let not_ready = subset.not_ready_addresses.iter().flatten().map(|a| (a, "false"));
            for (address, ready) in addresses.chain(not_ready) {
                let mut target = BTreeMap::new();
                target.insert("__address__".to_owned(), host_port(&address.ip, port.port));
                put(&mut target, "endpoint_port_name", port.name.clone().unwrap_or_default());
                put(
                    &mut target,
                    "endpoint_port_protocol",
                    port.protocol.clone().unwrap_or_else(|| "TCP".into()),
                );
                put(&mut target, "endpoint_ready", ready);
                if let Some(reference) = &address.target_ref {
                    put(
                        &mut target,
                        "endpoint_address_target_kind",
                        reference.kind.clone().unwrap_or_default(),
                    );
                    put(
                        &mut target,
                        "endpoint_address_target_name",
                        reference.name.clone().unwrap_or_default(),
                    );
                    if reference.kind.as_deref() == Some("Pod")
                        && let Some(pod) = stores.pods.get(&(
                            reference.namespace.clone().unwrap_or_else(|| ns.clone()),
                            reference.name.clone().unwrap_or_default(),
                        ))
                    {
                        merge_pod(&mut target, pod, port.port, port.protocol.clone(), &mut covered);
                    }
                }
                put(
                    &mut target,
                    "endpoint_node_name",
                    address.node_name.clone().unwrap_or_default(),
                );
                put(&mut target, "endpoint_hostname", address.hostname.clone().unwrap_or_default());
                targets.push(target);
            }
        }
    }
    targets.extend(uncovered(stores, &covered));
    Group { labels, targets }
}

fn slice(slice: &EndpointSlice, stores: &Stores) -> Group {
    let mut labels = BTreeMap::new();
    let (ns, _) = key(&slice.metadata);
    put(&mut labels, "namespace", ns.clone());
    put(&mut labels, "endpointslice_address_type", slice.address_type.clone());
    object_labels(&mut labels, &slice.metadata, "endpointslice");
    let service_name =
        slice.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")).cloned();
    if let Some(service) = service_name.and_then(|name| stores.services.get(&(ns.clone(), name))) {
        service_labels(&mut labels, service);
    }
    let mut targets = Vec::new();
    let mut covered = BTreeMap::new();
    let ports = slice.ports.clone().unwrap_or_default();
    for endpoint in &slice.endpoints {
        for port in &ports {
            for address in &endpoint.addresses {
                let mut target = BTreeMap::new();
                let address_text = match port.port {
                    Some(number) => host_port(address, number),
                    None => address.clone(),
                };
                target.insert("__address__".to_owned(), address_text);
                put(&mut target, "endpointslice_port_name", port.name.clone().unwrap_or_default());
                put(
                    &mut target,
                    "endpointslice_port_protocol",
                    port.protocol.clone().unwrap_or_default(),
                );
                put(
                    &mut target,
                    "endpointslice_port",
                    port.port.map(|p| p.to_string()).unwrap_or_default(),
                );
                put(
                    &mut target,
                    "endpointslice_port_app_protocol",
                    port.app_protocol.clone().unwrap_or_default(),
                );
                if let Some(conditions) = &endpoint.conditions {
                    for (name, value) in [
                        ("ready", conditions.ready),
                        ("serving", conditions.serving),
                        ("terminating", conditions.terminating),
                    ] {
                        if let Some(value) = value {
                            put(
                                &mut target,
                                &format!("endpointslice_endpoint_conditions_{name}"),
                                value.to_string(),
                            );
                        }
                    }
                }
                put(
                    &mut target,
                    "endpointslice_endpoint_hostname",
                    endpoint.hostname.clone().unwrap_or_default(),
                );
                put(
                    &mut target,
                    "endpointslice_endpoint_node_name",
                    endpoint.node_name.clone().unwrap_or_default(),
                );
                put(
                    &mut target,
                    "endpointslice_endpoint_zone",
                    endpoint.zone.clone().unwrap_or_default(),
                );
                if let Some(reference) = &endpoint.target_ref {
                    put(
                        &mut target,
                        "endpointslice_address_target_kind",
                        reference.kind.clone().unwrap_or_default(),
                    );
                    put(
                        &mut target,
                        "endpointslice_address_target_name",
                        reference.name.clone().unwrap_or_default(),
                    );
                    if reference.kind.as_deref() == Some("Pod")
                        && let Some(number) = port.port
                        && let Some(pod) = stores.pods.get(&(
                            reference.namespace.clone().unwrap_or_else(|| ns.clone()),
                            reference.name.clone().unwrap_or_default(),
                        ))
                    {
                        merge_pod(&mut target, pod, number, None, &mut covered);
                    }
                }
                targets.push(target);
            }
        }
    }
    targets.extend(uncovered(stores, &covered));
    Group { labels, targets }
}
