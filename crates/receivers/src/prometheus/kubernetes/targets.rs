//! The targets of each role, made from the objects known, with the labels Prometheus gives
//! them.

use std::collections::{BTreeMap, BTreeSet};

use weir_kubernetes::k8s_openapi::{
    api::{
        core::v1::{Container, Endpoints, Node, Pod, Service},
        discovery::v1::EndpointSlice,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::{Group, Role, Stores, key};

pub(super) fn build(role: Role, stores: &Stores) -> Vec<Group> {
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
