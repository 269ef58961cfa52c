//! The Kubernetes manifests in `config/kubernetes/` parse into typed Kubernetes API objects
//! (k8s-openapi, Kubernetes 1.33) with no field Kubernetes does not know, and agree with
//! weir: the image is this version's, the ConfigMap carries the `config/` file verbatim and
//! weir loads it with the container's environment, the container and Service ports are the
//! ports the configuration listens on, the probes ask `health_check`, the scrape annotations
//! name the self-metrics port, termination waits longer than weir's drain, and the agent's
//! ring resolves the gateway's headless Service.

use std::{collections::BTreeMap, path::Path};

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment},
        autoscaling::v2::HorizontalPodAutoscaler,
        core::v1::{
            ConfigMap, Container, Namespace, PodTemplateSpec, Probe, Service, ServiceAccount,
        },
        policy::v1::PodDisruptionBudget,
        rbac::v1::{ClusterRole, ClusterRoleBinding},
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use weir::{config::Plan, extensions::ExtensionSettings, topology::DEFAULT_SHUTDOWN_DEADLINE};
use weir_exporters::ExporterSettings;
use weir_processors::ProcessorSettings;
use weir_receivers::ReceiverSettings;

const NAMESPACE: &str = "observability";

/// The objects of one manifest file.
#[derive(Default)]
struct Manifest {
    config_maps: Vec<ConfigMap>,
    deployments: Vec<Deployment>,
    daemon_sets: Vec<DaemonSet>,
    services: Vec<Service>,
    autoscalers: Vec<HorizontalPodAutoscaler>,
    budgets: Vec<PodDisruptionBudget>,
    namespaces: Vec<Namespace>,
    service_accounts: Vec<ServiceAccount>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
}

/// Deserializes `doc` as `T` and requires that serializing it gives `doc` back: a field
/// Kubernetes does not know (a typo, a wrong level) fails here instead of being dropped.
fn typed<T: DeserializeOwned + Serialize>(file: &str, doc: Value) -> T {
    let object: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{file}: {} {}: {e}", doc["kind"], doc["metadata"]["name"]));
    let back = serde_json::to_value(&object).expect("serializes");
    assert_eq!(
        back, doc,
        "{file}: {} {} has fields Kubernetes does not know",
        doc["kind"], doc["metadata"]["name"]
    );
    object
}

fn load(file: &str) -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kubernetes").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(!docs.is_empty(), "{file} holds objects");
    let mut manifest = Manifest::default();
    for doc in docs {
        let cluster_scoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"];
        if !cluster_scoped.iter().any(|k| doc["kind"] == *k) {
            assert_eq!(
                doc["metadata"]["namespace"], NAMESPACE,
                "{file}: {}",
                doc["metadata"]["name"]
            );
        }
        match doc["kind"].as_str().unwrap_or_else(|| panic!("{file}: an object without kind")) {
            "ConfigMap" => manifest.config_maps.push(typed(file, doc)),
            "Deployment" => manifest.deployments.push(typed(file, doc)),
            "DaemonSet" => manifest.daemon_sets.push(typed(file, doc)),
            "Service" => manifest.services.push(typed(file, doc)),
            "HorizontalPodAutoscaler" => manifest.autoscalers.push(typed(file, doc)),
            "PodDisruptionBudget" => manifest.budgets.push(typed(file, doc)),
            "Namespace" => manifest.namespaces.push(typed(file, doc)),
            "ServiceAccount" => manifest.service_accounts.push(typed(file, doc)),
            "ClusterRole" => manifest.cluster_roles.push(typed(file, doc)),
            "ClusterRoleBinding" => manifest.cluster_role_bindings.push(typed(file, doc)),
            other => panic!("{file}: unexpected kind {other}"),
        }
    }
    manifest
}

/// The port of `host:port`.
fn port(endpoint: &str) -> i32 {
    let port = endpoint.rsplit(':').next().unwrap_or_default();
    port.trim_end_matches('/').parse().unwrap_or_else(|_| panic!("{endpoint:?} has a port"))
}

/// The host of `host:port` (`scheme://` removed).
fn host(endpoint: &str) -> &str {
    let endpoint = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    endpoint.rsplit_once(':').map_or(endpoint, |(host, _)| host)
}

/// Bytes of a memory quantity such as `128Mi` or `2Gi`.
fn bytes(quantity: &str) -> u64 {
    let (number, unit) =
        quantity.split_at(quantity.find(|c: char| !c.is_ascii_digit()).unwrap_or(quantity.len()));
    let scale = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("memory unit {other:?}"),
    };
    number.parse::<u64>().expect("a number") * scale
}

/// What weir listens on and sends to, read from its loaded configuration.
struct Weir {
    plan: Plan,
}

impl Weir {
    /// Every endpoint the `otlp` receivers listen on.
    fn receiver_endpoints(&self) -> Vec<String> {
        let mut endpoints = Vec::new();
        for (_, receiver) in &self.plan.receivers {
            let ReceiverSettings::Otlp(otlp) = receiver else { continue };
            endpoints.extend(otlp.protocols.grpc.iter().map(|g| g.endpoint.clone()));
            endpoints.extend(otlp.protocols.http.iter().map(|h| h.endpoint.clone()));
        }
        endpoints
    }

    /// `health_check`'s endpoint and path.
    fn health(&self) -> (String, String) {
        let health = self
            .plan
            .extensions
            .iter()
            .find_map(|(_, e)| match e {
                ExtensionSettings::HealthCheck(health) => Some(health),
                _ => None,
            })
            .expect("a health_check extension");
        (health.endpoint.clone(), health.path.clone())
    }

    fn memory_limit_mib(&self) -> Option<u64> {
        self.plan.processors.iter().find_map(|(_, p)| match p {
            ProcessorSettings::MemoryLimiter(m) if m.limit_mib > 0 => Some(m.limit_mib),
            _ => None,
        })
    }

    /// `(hostname, port)` of every `loadbalancing` exporter's DNS resolver.
    fn resolved_services(&self) -> Vec<(String, u16)> {
        self.plan
            .exporters
            .iter()
            .filter_map(|(_, e)| match e {
                ExporterSettings::LoadBalancing(lb) => {
                    lb.resolver.dns.as_ref().map(|d| (d.hostname.clone(), d.port))
                }
                _ => None,
            })
            .collect()
    }

    /// Every `otlp` exporter's endpoint.
    fn otlp_endpoints(&self) -> Vec<String> {
        self.plan
            .exporters
            .iter()
            .filter_map(|(_, e)| match e {
                ExporterSettings::Otlp(otlp) => Some(otlp.endpoint.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The checks every pod running weir passes; returns weir's configuration as the pod runs it.
fn check_weir_pod(
    file: &str,
    manifest: &Manifest,
    workload: &str,
    template: &PodTemplateSpec,
) -> Weir {
    let spec = template.spec.as_ref().expect("a pod spec");
    let context = format!("{file}: {workload}");
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    let weir: &Container = containers
        .clone()
        .find(|c| c.name == "weir")
        .unwrap_or_else(|| panic!("{context}: a weir container"));

    assert_eq!(
        weir.image.as_deref(),
        Some(format!("weir:{}", env!("CARGO_PKG_VERSION")).as_str()),
        "{context}: image"
    );
    let args = weir.args.clone().unwrap_or_default();
    let [flag, config_path] = args.as_slice() else {
        panic!("{context}: args are --config <file>: {args:?}")
    };
    assert_eq!(flag, "--config", "{context}");

    // The config file comes from a ConfigMap in the same file, and is config/<file>.
    let (directory, file_name) = config_path.rsplit_once('/').expect("an absolute path");
    let mount = weir
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == directory)
        .unwrap_or_else(|| panic!("{context}: a volume mounted at {directory}"));
    assert_eq!(mount.read_only, Some(true), "{context}: configuration mounted read-only");
    let volume =
        spec.volumes.iter().flatten().find(|v| v.name == mount.name).expect("the mounted volume");
    let source = volume
        .config_map
        .as_ref()
        .unwrap_or_else(|| panic!("{context}: the configuration is a ConfigMap"));
    let item =
        source.items.iter().flatten().find(|i| i.path == file_name).expect("an item for the file");
    let config_map = manifest
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(source.name.as_str()))
        .unwrap_or_else(|| panic!("{context}: ConfigMap {} in the same file", source.name));
    let text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get(&item.key))
        .expect("the ConfigMap holds the key");
    let original = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config").join(file);
    let original =
        std::fs::read_to_string(&original).expect("the configuration beside the manifests");
    assert!(*text == original, "{context}: the ConfigMap's {} is config/{file} verbatim", item.key);

    // weir loads it with the container's environment (downward-API values stand in).
    let env: BTreeMap<String, String> = weir
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_else(|| format!("from-{}", e.name))))
        .collect();
    let loaded = weir::config::load_texts(vec![(file.into(), text.clone())], &[], |name| {
        env.get(name).cloned()
    })
    .unwrap_or_else(|e| panic!("{context}: weir loads its configuration: {e}"));
    let config = Weir { plan: loaded.plan };

    // Ports: what listens beyond the pod is declared.
    let ports: BTreeMap<String, i32> = weir
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
        .collect();
    for endpoint in config.receiver_endpoints() {
        if host(&endpoint) == "0.0.0.0" {
            assert!(
                ports.values().any(|p| *p == port(&endpoint)),
                "{context}: container port for receiver {endpoint}"
            );
        }
    }
    let metrics = config.plan.telemetry.metrics.endpoint();
    let annotations =
        template.metadata.as_ref().and_then(|m| m.annotations.clone()).unwrap_or_default();
    if annotations.get("prometheus.io/scrape").map(String::as_str) == Some("true") {
        let metrics = metrics.expect("self-metrics served");
        assert_eq!(host(&metrics), "0.0.0.0", "{context}: self-metrics reachable for scraping");
        let annotated: i32 = annotations["prometheus.io/port"].parse().expect("a port");
        assert_eq!(
            annotated,
            port(&metrics),
            "{context}: prometheus.io/port is the self-metrics port"
        );
        assert_eq!(ports.get("metrics"), Some(&annotated), "{context}: metrics container port");
        assert_eq!(
            annotations.get("prometheus.io/path").map(String::as_str),
            Some("/metrics"),
            "{context}"
        );
    }

    // Probes ask health_check, on an address the kubelet reaches (the pod IP).
    let (health_endpoint, health_path) = config.health();
    assert_eq!(
        host(&health_endpoint),
        "0.0.0.0",
        "{context}: health_check reachable by the kubelet"
    );
    let probes: Vec<&Probe> = [&weir.readiness_probe, &weir.liveness_probe, &weir.startup_probe]
        .into_iter()
        .flatten()
        .collect();
    assert!(weir.liveness_probe.is_some(), "{context}: a liveness probe");
    assert!(
        weir.readiness_probe.is_some() || weir.startup_probe.is_some(),
        "{context}: a readiness or startup probe"
    );
    for probe in probes {
        let get = probe.http_get.as_ref().expect("an HTTP probe");
        let probed = match &get.port {
            IntOrString::Int(port) => *port,
            IntOrString::String(name) => {
                *ports.get(name).unwrap_or_else(|| panic!("{context}: port {name}"))
            }
        };
        assert_eq!(probed, port(&health_endpoint), "{context}: probe port is health_check's");
        assert_eq!(get.path.as_deref(), Some(health_path.as_str()), "{context}: probe path");
        assert_eq!(get.host, None, "{context}: the kubelet probes the pod IP");
    }

    // Termination waits for the drain; the pod runs as non-root with a read-only root.
    let grace = spec.termination_grace_period_seconds.expect("a grace period");
    assert!(
        grace > DEFAULT_SHUTDOWN_DEADLINE.as_secs() as i64,
        "{context}: {grace} s outlasts the drain deadline"
    );
    let pod_security = spec.security_context.as_ref().expect("a pod security context");
    assert_eq!(pod_security.run_as_non_root, Some(true), "{context}");
    assert!(pod_security.run_as_user.is_some_and(|u| u != 0), "{context}: a non-root uid");
    let security = weir.security_context.as_ref().expect("a container security context");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{context}");
    assert_eq!(security.read_only_root_filesystem, Some(true), "{context}");
    let dropped = security.capabilities.as_ref().and_then(|c| c.drop.clone()).unwrap_or_default();
    assert_eq!(dropped, ["ALL"], "{context}: capabilities dropped");

    // Resources: requested, memory capped, and weir's memory limiter below the cap.
    let resources = weir.resources.as_ref().expect("resources");
    let requests = resources.requests.as_ref().expect("requests");
    assert!(
        requests.contains_key("cpu") && requests.contains_key("memory"),
        "{context}: cpu and memory requested"
    );
    let limit = bytes(&resources.limits.as_ref().expect("limits")["memory"].0);
    assert!(bytes(&requests["memory"].0) <= limit, "{context}: request within limit");
    if let Some(mib) = config.memory_limit_mib() {
        assert!(
            mib << 20 < limit,
            "{context}: memory_limiter's {mib} MiB below the container's limit"
        );
    }
    config
}

/// The labels the pods of a workload carry.
fn pod_labels(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default()
}

/// Every Service selects the pods of the file's workload, on ports the weir container names.
fn check_services(file: &str, manifest: &Manifest, template: &PodTemplateSpec) {
    let labels = pod_labels(template);
    let spec = template.spec.as_ref().expect("pod spec");
    let weir = spec.containers.iter().find(|c| c.name == "weir").expect("weir container");
    for service in &manifest.services {
        let name = service.metadata.name.clone().unwrap_or_default();
        let spec = service.spec.as_ref().expect("a service spec");
        let selector = spec.selector.clone().unwrap_or_default();
        assert!(!selector.is_empty(), "{file}: Service {name} selects pods");
        assert!(
            selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{file}: Service {name} selects the pods"
        );
        for port in spec.ports.iter().flatten() {
            let Some(IntOrString::String(target)) = &port.target_port else {
                panic!("{file}: {name} targets a named port")
            };
            let container_port = weir
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_ref() == Some(target))
                .unwrap_or_else(|| {
                    panic!("{file}: Service {name} targets port {target} of the weir container")
                });
            assert_eq!(
                container_port.container_port, port.port,
                "{file}: {name} keeps the port number"
            );
        }
    }
}

#[test]
fn the_gateway_manifest_runs_config_gateway_yaml() {
    let file = "gateway.yaml";
    let manifest = load(file);
    let [deployment] = manifest.deployments.as_slice() else { panic!("one Deployment") };
    let name = deployment.metadata.name.clone().expect("a name");
    let spec = deployment.spec.as_ref().expect("spec");
    let gateway = check_weir_pod(file, &manifest, &name, &spec.template);
    check_services(file, &manifest, &spec.template);
    assert_eq!(
        spec.selector.match_labels.as_ref(),
        Some(&pod_labels(&spec.template)),
        "selector is the pod labels"
    );

    let [headless] = manifest.services.as_slice() else { panic!("one Service") };
    assert_eq!(
        headless.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        Some("None"),
        "headless"
    );
    let grpc = gateway.receiver_endpoints().into_iter().next().expect("an OTLP receiver");
    let service_port =
        headless.spec.as_ref().and_then(|s| s.ports.as_ref()).expect("ports")[0].port;
    assert_eq!(
        service_port,
        port(&grpc),
        "the headless Service's port is the OTLP/gRPC receiver's"
    );

    let [hpa] = manifest.autoscalers.as_slice() else { panic!("one HorizontalPodAutoscaler") };
    let hpa = hpa.spec.as_ref().expect("spec");
    assert_eq!(
        (hpa.scale_target_ref.kind.as_str(), hpa.scale_target_ref.name.as_str()),
        ("Deployment", name.as_str())
    );
    assert!(hpa.min_replicas.unwrap_or(1) >= 2 && hpa.max_replicas > hpa.min_replicas.unwrap_or(1));
    let [budget] = manifest.budgets.as_slice() else { panic!("one PodDisruptionBudget") };
    let budget = budget.spec.as_ref().expect("spec");
    assert_eq!(
        budget.selector.as_ref().and_then(|s| s.match_labels.clone()),
        Some(pod_labels(&spec.template))
    );
    assert_eq!(budget.max_unavailable, Some(IntOrString::Int(1)));
}

#[test]
fn the_agent_manifest_runs_config_agent_yaml_and_finds_the_gateways() {
    let file = "agent.yaml";
    let manifest = load(file);
    let [daemon_set] = manifest.daemon_sets.as_slice() else { panic!("one DaemonSet") };
    let name = daemon_set.metadata.name.clone().expect("a name");
    let spec = daemon_set.spec.as_ref().expect("spec");
    let agent = check_weir_pod(file, &manifest, &name, &spec.template);
    check_services(file, &manifest, &spec.template);

    let [service] = manifest.services.as_slice() else { panic!("one Service") };
    let service_spec = service.spec.as_ref().expect("spec");
    assert_eq!(
        service_spec.internal_traffic_policy.as_deref(),
        Some("Local"),
        "applications reach their node's agent"
    );
    let mut service_ports: Vec<i32> = service_spec.ports.iter().flatten().map(|p| p.port).collect();
    let mut receiver_ports: Vec<i32> = agent.receiver_endpoints().iter().map(|e| port(e)).collect();
    service_ports.sort_unstable();
    receiver_ports.sort_unstable();
    assert_eq!(service_ports, receiver_ports, "the Service exposes both OTLP receivers");

    // The downward API gives the identity the resource processor adds.
    let weir = spec
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers
        .iter()
        .find(|c| c.name == "weir")
        .expect("weir");
    let field = |name: &str| {
        weir.env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value_from.as_ref())
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.clone())
    };
    assert_eq!(field("K8S_NODE_NAME").as_deref(), Some("spec.nodeName"));

    // kubeletstats and k8s_attributes authenticate as the pod's service account, which may get
    // nodes/stats, and list and watch pods, namespaces and ReplicaSets, and nothing else.
    let pod = spec.template.spec.as_ref().expect("pod");
    let [account] = manifest.service_accounts.as_slice() else { panic!("one ServiceAccount") };
    assert_eq!(pod.service_account_name, account.metadata.name);
    let [role] = manifest.cluster_roles.as_slice() else { panic!("one ClusterRole") };
    let rules: Vec<(Vec<String>, Vec<String>, Vec<String>)> = role
        .rules
        .iter()
        .flatten()
        .map(|r| {
            (
                r.api_groups.clone().unwrap_or_default(),
                r.resources.clone().unwrap_or_default(),
                r.verbs.clone(),
            )
        })
        .collect();
    let strings = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let read = strings(&["get", "watch", "list"]);
    assert_eq!(
        rules,
        [
            (strings(&[""]), strings(&["nodes/stats"]), strings(&["get"])),
            (strings(&[""]), strings(&["pods", "namespaces"]), read.clone()),
            (strings(&["apps"]), strings(&["replicasets"]), read),
        ]
    );
    let [binding] = manifest.cluster_role_bindings.as_slice() else {
        panic!("one ClusterRoleBinding")
    };
    assert_eq!(Some(&binding.role_ref.name), role.metadata.name.as_ref());
    let subjects: Vec<(String, Option<String>)> =
        binding.subjects.iter().flatten().map(|s| (s.name.clone(), s.namespace.clone())).collect();
    assert_eq!(subjects, [(account.metadata.name.clone().unwrap(), Some(NAMESPACE.to_owned()))]);

    // Every ring resolves the gateway manifest's headless Service on its OTLP port.
    let gateways = manifest_of_gateway_service();
    let resolved = agent.resolved_services();
    assert!(!resolved.is_empty(), "the agent routes over a DNS-resolved ring");
    for (hostname, port) in resolved {
        assert_eq!(
            (hostname, i32::from(port)),
            gateways,
            "the ring resolves the gateway's headless Service"
        );
    }
}

/// The gateway's headless Service as `(DNS name, OTLP/gRPC port)`.
fn manifest_of_gateway_service() -> (String, i32) {
    let manifest = load("gateway.yaml");
    let service = &manifest.services[0];
    let name = service.metadata.name.clone().expect("name");
    let port = service.spec.as_ref().and_then(|s| s.ports.as_ref()).expect("ports")[0].port;
    (format!("{name}.{NAMESPACE}.svc.cluster.local"), port)
}

#[test]
fn the_sidecar_manifest_runs_config_sidecar_yaml_beside_the_application() {
    let file = "sidecar.yaml";
    let manifest = load(file);
    let [deployment] = manifest.deployments.as_slice() else { panic!("one Deployment") };
    let spec = deployment.spec.as_ref().expect("spec");
    let sidecar = check_weir_pod(file, &manifest, "example-app", &spec.template);
    let pod = spec.template.spec.as_ref().expect("pod");
    let weir = pod
        .init_containers
        .iter()
        .flatten()
        .find(|c| c.name == "weir")
        .expect("weir as an init container");
    assert_eq!(
        weir.restart_policy.as_deref(),
        Some("Always"),
        "a native sidecar: starts first, stops last"
    );

    // The application sends to the sidecar's gRPC receiver on localhost.
    let app = pod.containers.iter().find(|c| c.name != "weir").expect("an application container");
    let endpoint = app
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "OTEL_EXPORTER_OTLP_ENDPOINT")
        .and_then(|e| e.value.clone());
    let receivers = sidecar.receiver_endpoints();
    let grpc =
        receivers.iter().find(|e| endpoint.as_deref() == Some(format!("http://{e}").as_str()));
    assert!(grpc.is_some(), "the application's endpoint {endpoint:?} is one of {receivers:?}");

    // And the sidecar forwards to the agent's Service.
    let agent = load("agent.yaml");
    let service = &agent.services[0];
    let name = service.metadata.name.clone().expect("name");
    let grpc_port = service.spec.as_ref().and_then(|s| s.ports.as_ref()).expect("ports")[0].port;
    assert_eq!(
        sidecar.otlp_endpoints(),
        [format!("http://{name}.{NAMESPACE}.svc.cluster.local:{grpc_port}")],
        "the sidecar forwards to the agent Service"
    );
}

#[test]
fn every_manifest_is_in_the_observability_namespace() {
    let namespace = load("namespace.yaml");
    let [ns] = namespace.namespaces.as_slice() else { panic!("one Namespace") };
    assert_eq!(ns.metadata.name.as_deref(), Some(NAMESPACE));
    let files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kubernetes"))
            .expect("config/kubernetes")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    for file in &files {
        // Parsing checks the namespace of every object.
        load(file);
    }
    assert_eq!(files.len(), 4, "namespace, gateway, agent and sidecar: {files:?}");
}
