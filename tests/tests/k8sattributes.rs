//! The `k8s_attributes` processor in a running weir against the test Kubernetes API server
//! (`weir_tests::kube_api`: no API server can run here, so the list and watch protocol is
//! served from `k8s-openapi` objects). Spans come from the official Rust SDK, over gRPC from
//! 127.0.0.x source addresses, so each client is a different pod by its connection.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use k8s_openapi::{
    api::{
        apps::v1::ReplicaSet,
        core::v1::{Container, ContainerStatus, Namespace, Pod, PodSpec, PodStatus},
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time},
};
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{SpanExporter, WithTonicConfig};
use weir_otlp::{Decoded, proto::common::v1::any_value::Value};
use weir_tests::{
    Weir,
    kube_api::{Kind, KubeApi},
    sample, wait_until,
};

fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        ..Default::default()
    }
}

fn time(text: &str) -> Time {
    Time(text.parse().unwrap())
}

/// A running pod with one container `app`.
fn pod(
    name: &str,
    ip: &str,
    node: &str,
    pod_labels: &[(&str, &str)],
    owners: Vec<OwnerReference>,
) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            uid: Some(format!("uid-{name}")),
            labels: labels(pod_labels),
            owner_references: Some(owners),
            creation_timestamp: Some(time("2026-11-30T08:00:00Z")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some(format!("registry.example/shop/{name}:1.4.2")),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            start_time: Some(time("2026-11-30T08:00:01Z")),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                container_id: Some(format!("containerd://c0ffee-{name}")),
                restart_count: 0,
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn namespace(name: &str, uid: &str, ns_labels: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(uid.into()),
            labels: labels(ns_labels),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn replicaset(name: &str, deployment: &str) -> ReplicaSet {
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            uid: Some(format!("uid-{name}")),
            owner_references: Some(vec![owner(
                "Deployment",
                deployment,
                "uid-deployment-checkout",
            )]),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Sends one span named `name` with `resource` attributes over OTLP/gRPC from source address
/// `from` (127.0.0.x), through the Rust SDK.
fn send(weir: &Weir, from: &'static str, resource: &[(&'static str, String)], name: &str) {
    let target: SocketAddr = weir.grpc();
    let _runtime = weir.runtime.enter();
    let connector = tower::service_fn(move |_: http::Uri| async move {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(format!("{from}:0").parse().unwrap())?;
        let stream = socket.connect(target).await?;
        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{target}"))
        .unwrap()
        .connect_with_connector_lazy(connector);
    let exporter = SpanExporter::builder().with_tonic().with_channel(channel).build().unwrap();
    let attributes = resource.iter().map(|(k, v)| opentelemetry::KeyValue::new(*k, v.clone()));
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty().with_attributes(attributes).build(),
        )
        .build();
    drop(provider.tracer("k8s.e2e").start(name.to_owned()));
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}

/// The resource attributes of the span named `name` in what weir wrote so far.
fn resource_of(weir: &Weir, name: &str) -> Option<BTreeMap<String, String>> {
    let batches = weir_tests::read_batches(&weir.output);
    for batch in &batches {
        let view = batch.view();
        let Decoded::Traces(resources) = &*view else { continue };
        for rs in resources {
            if rs.scope_spans.iter().flat_map(|s| &s.spans).any(|s| s.name == name) {
                let attributes = rs.resource.iter().flat_map(|r| &r.attributes);
                let text = |v: &Option<Value>| match v {
                    Some(Value::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                let pairs = attributes
                    .map(|kv| (kv.key.clone(), text(&kv.value.clone().and_then(|v| v.value))));
                return Some(pairs.collect());
            }
        }
    }
    None
}

/// Sends a span and waits for it to be written; returns its resource.
fn enriched(
    weir: &Weir,
    from: &'static str,
    resource: &[(&'static str, String)],
    name: &str,
) -> BTreeMap<String, String> {
    send(weir, from, resource, name);
    let written = wait_until(Duration::from_secs(10), || resource_of(weir, name).is_some());
    assert!(written, "span {name} was written");
    resource_of(weir, name).unwrap()
}

fn config(kubeconfig: &std::path::Path) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  k8s_attributes:
    auth_type: kubeConfig
    kube_config_path: {}
    wait_for_metadata: true
    pod_delete_grace_period: 1s
    filter:
      node: node-a
    extract:
      metadata: [k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.pod.start_time,
        k8s.deployment.name, k8s.deployment.uid, k8s.replicaset.name, k8s.statefulset.name,
        k8s.node.name, k8s.cluster.uid, container.id, container.image.name, container.image.tag,
        service.name, service.version]
      labels:
        - key: team
          from: namespace
        - key: tier
    pod_association:
      - sources: [{{from: resource_attribute, name: k8s.pod.ip}}]
      - sources: [{{from: resource_attribute, name: k8s.pod.uid}}]
      - sources: [{{from: connection}}]
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [k8s_attributes]
      exporters: [file]
",
        kubeconfig.display()
    )
}

fn counter(weir: &Weir, name: &str) -> f64 {
    sample(&weir.metrics(), name, &[]).unwrap_or(0.0)
}

#[test]
fn pods_are_found_by_connection_by_ip_and_by_uid_and_follow_their_changes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = KubeApi::start(&runtime);
    let dir = tempfile::tempdir().unwrap();
    api.apply(&namespace("kube-system", "uid-cluster", &[]));
    api.apply(&namespace("shop", "uid-shop", &[("team", "payments")]));
    api.apply(&replicaset("checkout-7d4b9c", "checkout"));
    // the hash label does not match the ReplicaSet's name: the deployment can only come
    // through the ReplicaSet's owner
    let checkout_owner = owner("ReplicaSet", "checkout-7d4b9c", "uid-checkout-7d4b9c");
    let checkout_labels = [
        ("app.kubernetes.io/name", "checkout-svc"),
        ("tier", "web"),
        ("pod-template-hash", "other"),
    ];
    api.apply(&pod(
        "checkout-7d4b9c-x1",
        "127.0.0.7",
        "node-a",
        &checkout_labels,
        vec![checkout_owner],
    ));
    api.apply(&pod(
        "worker-0",
        "127.0.0.8",
        "node-a",
        &[],
        vec![owner("StatefulSet", "worker", "uid-worker")],
    ));
    api.apply(&pod("elsewhere", "127.0.0.9", "node-b", &[], vec![]));
    let weir = Weir::start_with(&config(&api.kubeconfig(dir.path())));

    // by connection: the client at 127.0.0.7 is the checkout pod
    let checkout = enriched(&weir, "127.0.0.7", &[], "from-checkout");
    let expected = [
        ("k8s.namespace.name", "shop"),
        ("k8s.pod.name", "checkout-7d4b9c-x1"),
        ("k8s.pod.uid", "uid-checkout-7d4b9c-x1"),
        ("k8s.pod.start_time", "2026-11-30T08:00:00Z"),
        ("k8s.replicaset.name", "checkout-7d4b9c"),
        ("k8s.deployment.name", "checkout"),
        ("k8s.deployment.uid", "uid-deployment-checkout"),
        ("k8s.node.name", "node-a"),
        ("k8s.cluster.uid", "uid-cluster"),
        ("container.id", "c0ffee-checkout-7d4b9c-x1"),
        ("container.image.name", "registry.example/shop/checkout-7d4b9c-x1"),
        ("container.image.tag", "1.4.2"),
        ("service.name", "checkout-svc"),
        ("service.version", "1.4.2"),
        ("k8s.namespace.labels.team", "payments"),
        ("k8s.pod.labels.tier", "web"),
    ];
    for (key, value) in expected {
        assert_eq!(checkout.get(key).map(String::as_str), Some(value), "{key} in {checkout:?}");
    }
    // by k8s.pod.ip, whatever the connection; the workload's name is the service's
    let worker = enriched(&weir, "127.0.0.1", &[("k8s.pod.ip", "127.0.0.8".into())], "by-ip");
    assert_eq!(worker["k8s.pod.name"], "worker-0");
    assert_eq!(worker["k8s.statefulset.name"], "worker");
    assert_eq!(worker["service.name"], "worker");
    // by uid; an attribute the resource has already is kept
    let by_uid = [("k8s.pod.uid", "uid-worker-0".into()), ("service.name", "mine".into())];
    let worker = enriched(&weir, "127.0.0.1", &by_uid, "by-uid");
    assert_eq!(worker["k8s.pod.name"], "worker-0");
    assert_eq!(worker["service.name"], "mine");
    // a pod on another node is not watched: nothing found, nothing added
    let elsewhere = enriched(&weir, "127.0.0.9", &[], "from-elsewhere");
    assert!(!elsewhere.contains_key("k8s.pod.name"), "{elsewhere:?}");
    let pods_requests: Vec<String> =
        api.requests().into_iter().filter(|r| r.contains("/pods")).collect();
    assert!(
        pods_requests.iter().all(|r| r.contains("fieldSelector=spec.nodeName%3Dnode-a")),
        "every pod request is for node-a: {pods_requests:?}"
    );

    // a pod that changes its labels
    let relabelled = [
        ("app.kubernetes.io/name", "checkout-svc"),
        ("tier", "edge"),
        ("pod-template-hash", "other"),
    ];
    let checkout_owner = owner("ReplicaSet", "checkout-7d4b9c", "uid-checkout-7d4b9c");
    api.apply(&pod("checkout-7d4b9c-x1", "127.0.0.7", "node-a", &relabelled, vec![checkout_owner]));
    assert!(wait_until(Duration::from_secs(10), || counter(
        &weir,
        "otelcol_otelsvc_k8s_pod_updated_total"
    ) >= 1.0));
    assert_eq!(enriched(&weir, "127.0.0.7", &[], "after-relabel")["k8s.pod.labels.tier"], "edge");

    // a deleted pod is still found for its grace period (1s), then no more
    api.delete(Kind::Pod, "shop", "worker-0");
    assert!(wait_until(Duration::from_secs(10), || counter(
        &weir,
        "otelcol_otelsvc_k8s_pod_deleted_total"
    ) >= 1.0));
    let graced = enriched(&weir, "127.0.0.8", &[], "during-grace");
    assert_eq!(graced.get("k8s.pod.name").map(String::as_str), Some("worker-0"), "{graced:?}");
    let table = || sample(&weir.metrics(), "otelcol_otelsvc_k8s_pod_table_size_ratio", &[]);
    let before = table().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || table().is_some_and(|t| t < before)),
        "the deleted pod expires"
    );
    let gone = enriched(&weir, "127.0.0.8", &[], "after-grace");
    assert!(!gone.contains_key("k8s.pod.name"), "{gone:?}");

    // a watch that expires: weir lists again, and finds a pod created meanwhile
    let lists = || {
        api.requests()
            .iter()
            .filter(|r| r.starts_with("/api/v1/pods") && !r.ends_with("[watch]"))
            .count()
    };
    let listed = lists();
    api.expire_watches();
    api.apply(&pod("late", "127.0.0.10", "node-a", &[], vec![]));
    assert!(
        wait_until(Duration::from_secs(20), || lists() > listed),
        "weir lists again after 410 Gone: {:?}",
        api.requests()
    );
    let late = enriched(&weir, "127.0.0.10", &[], "from-late");
    assert_eq!(late.get("k8s.pod.name").map(String::as_str), Some("late"), "{late:?}");
    weir.stop();
}

#[test]
fn a_forbidden_resource_is_counted_and_the_rest_still_enriches() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = KubeApi::start(&runtime);
    let dir = tempfile::tempdir().unwrap();
    api.forbid(Kind::ReplicaSet);
    api.apply(&namespace("shop", "uid-shop", &[]));
    let owners = vec![owner("ReplicaSet", "checkout-7d4b9c", "uid-checkout-7d4b9c")];
    api.apply(&pod(
        "checkout-7d4b9c-x1",
        "127.0.0.7",
        "node-a",
        &[("pod-template-hash", "7d4b9c")],
        owners,
    ));
    let weir = Weir::start_with(&config(&api.kubeconfig(dir.path())));
    let errors = || {
        sample(
            &weir.metrics(),
            "weir_kubernetes_watch_errors_total",
            &[("resource", "replicasets")],
        )
        .unwrap_or(0.0)
    };
    assert!(wait_until(Duration::from_secs(10), || errors() >= 1.0), "the 403 is counted");
    // the deployment comes from the ReplicaSet's name and the pod-template-hash label
    let checkout = enriched(&weir, "127.0.0.7", &[], "with-rbac-refusal");
    assert_eq!(checkout["k8s.pod.name"], "checkout-7d4b9c-x1");
    assert_eq!(checkout["k8s.deployment.name"], "checkout");
    weir.stop();
}

#[test]
fn waiting_for_metadata_that_never_comes_stops_the_start_with_its_reason() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = KubeApi::start(&runtime);
    let dir = tempfile::tempdir().unwrap();
    api.forbid(Kind::Pod);
    let text = config(&api.kubeconfig(dir.path()))
        .replace(
            "wait_for_metadata: true",
            "wait_for_metadata: true\n    wait_for_metadata_timeout: 1s",
        )
        .replace("{output}", &dir.path().join("out").display().to_string());
    let sets = ["service::telemetry::metrics::address=127.0.0.1:0".to_owned()];
    let loaded =
        weir::config::load_texts(vec![("test.yaml".into(), text)], &sets, |_| None).unwrap();
    let started = runtime.block_on(weir::topology::start(&loaded.plan));
    let error = started.err().expect("weir does not start without the pods").to_string();
    assert!(error.contains("processors.k8s_attributes: wait_for_metadata"), "{error}");
    assert!(error.contains("wait_for_metadata_timeout (1s)"), "{error}");
}

/// The `k8snode` detector of `resourcedetection`: the node's uid from the API, by the name in
/// `node_from_env_var` (here a variable cargo and nextest set for every test: the package's
/// name); weir waits for it at start, and a node that does not exist is logged, not fatal.
#[test]
fn the_k8snode_detector_adds_the_node_from_the_api() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = KubeApi::start(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let node = env!("CARGO_PKG_NAME");
    api.apply(&k8s_openapi::api::core::v1::Node {
        metadata: ObjectMeta {
            name: Some(node.into()),
            uid: Some("uid-of-the-node".into()),
            ..Default::default()
        },
        ..Default::default()
    });
    let detecting = |variable: &str| {
        format!(
            "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  resourcedetection:
    detectors: [k8snode, env]
    k8snode:
      auth_type: kubeConfig
      kube_config_path: {}
      node_from_env_var: {variable}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resourcedetection]
      exporters: [file]
",
            api.kubeconfig(dir.path()).display()
        )
    };
    let weir = Weir::start_with(&detecting("CARGO_PKG_NAME"));
    let found = enriched(&weir, "127.0.0.1", &[], "with-node");
    assert_eq!(found.get("k8s.node.uid").map(String::as_str), Some("uid-of-the-node"), "{found:?}");
    assert_eq!(found.get("k8s.node.name").map(String::as_str), Some(node));
    weir.stop();

    // a node the API does not know: weir starts, without the node's attributes
    let weir = Weir::start_with(&detecting("CARGO_PKG_VERSION"));
    let found = enriched(&weir, "127.0.0.1", &[], "without-node");
    assert!(!found.contains_key("k8s.node.uid"), "{found:?}");
    weir.stop();
}

/// The `eks` detector: a cluster whose API server says it is EKS, the instance from its
/// metadata service (IMDSv2, served), or — where the pod cannot reach that service — the zone,
/// region and instance id from the node's provider id.
#[test]
fn the_eks_detector_asks_the_api_server_then_the_instance() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = KubeApi::start(&runtime);
    let imds = runtime.block_on(weir_cloud::testing::MetadataServer::start());
    imds.serve(
        "/latest/dynamic/instance-identity/document",
        r#"{"accountId": "123456789012", "availabilityZone": "us-west-2b", "imageId": "ami-1", "instanceId": "i-0aaa", "instanceType": "m6i.large", "region": "us-west-2"}"#,
    )
    .serve("/latest/meta-data/hostname", "ip-10-1-2-3.us-west-2.compute.internal");
    let node = env!("CARGO_PKG_NAME");
    api.apply(&k8s_openapi::api::core::v1::Node {
        metadata: ObjectMeta { name: Some(node.into()), ..Default::default() },
        spec: Some(k8s_openapi::api::core::v1::NodeSpec {
            provider_id: Some("aws:///us-west-2c/i-0bbb".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let detecting = |imds: &str| {
        format!(
            "
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  resource_detection:
    detectors: [eks]
    eks:
      auth_type: kubeConfig
      kube_config_path: {}
      endpoint: {imds}
      node_from_env_var: CARGO_PKG_NAME
      resource_attributes:
        host.id: {{enabled: true}}
        cloud.availability_zone: {{enabled: true}}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resource_detection]
      exporters: [file]
",
            kubeconfig.display()
        )
    };
    let eks = |found: &BTreeMap<String, String>, key: &str| found.get(key).cloned();

    // Not EKS: nothing added.
    let weir = Weir::start_with(&detecting(&imds.endpoint));
    let found = enriched(&weir, "127.0.0.1", &[], "plain-cluster");
    assert_eq!(eks(&found, "cloud.platform"), None, "{found:?}");
    weir.stop();

    api.set_version("v1.33.5-eks-3025e55");
    let weir = Weir::start_with(&detecting(&imds.endpoint));
    let found = enriched(&weir, "127.0.0.1", &[], "eks-with-imds");
    assert_eq!(eks(&found, "cloud.platform").as_deref(), Some("aws_eks"), "{found:?}");
    assert_eq!(eks(&found, "cloud.provider").as_deref(), Some("aws"));
    assert_eq!(eks(&found, "host.id").as_deref(), Some("i-0aaa"), "from the instance");
    assert_eq!(eks(&found, "cloud.availability_zone").as_deref(), Some("us-west-2b"));
    assert_eq!(eks(&found, "host.name"), None, "off by default");
    assert!(imds.requests().iter().all(|r| r.contains("api/token") || r.ends_with("token=true")));
    weir.stop();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let weir = Weir::start_with(&detecting(&format!("http://{closed}")));
    let found = enriched(&weir, "127.0.0.1", &[], "eks-without-imds");
    assert_eq!(eks(&found, "host.id").as_deref(), Some("i-0bbb"), "from the node: {found:?}");
    assert_eq!(eks(&found, "cloud.availability_zone").as_deref(), Some("us-west-2c"));
    weir.stop();
}
