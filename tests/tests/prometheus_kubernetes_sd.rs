//! The `prometheus` receiver's `kubernetes_sd_configs` against the test Kubernetes API server
//! (`weir_tests::kube_api`: no API server can run here; the list and watch protocol is served
//! from `k8s-openapi` objects). The pod, the node and the endpoint slice all point at a real
//! metrics page on 127.0.0.1, so each role's target is scraped for real; their
//! `__meta_kubernetes_*` labels are relabeled into the points, and a pod deleted stops being
//! scraped and its series go stale.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::{
        core::v1::{
            Container, ContainerPort, DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints,
            NodeStatus, ObjectReference, Pod, PodSpec, PodStatus, Service, ServicePort,
            ServiceSpec,
        },
        discovery::v1::{Endpoint, EndpointPort, EndpointSlice},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use weir_otlp::proto::metrics::v1::{ResourceMetrics, metric};
use weir_tests::{
    Weir,
    kube_api::{Kind, KubeApi},
    wait_until,
};

fn meta(namespace: Option<&str>, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        namespace: namespace.map(Into::into),
        name: Some(name.into()),
        labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

/// Every point of `metric` written: `(job, attributes, no recorded value)`.
fn points(
    resources: &[ResourceMetrics],
    name: &str,
) -> Vec<(String, BTreeMap<String, String>, bool)> {
    let mut out = Vec::new();
    for resource in resources {
        let attributes = &resource.resource.as_ref().unwrap().attributes;
        let job =
            weir_otlp::attributes::text(weir_otlp::attributes::find(attributes, "service.name"))
                .unwrap_or_default();
        for metric in
            resource.scope_metrics.iter().flat_map(|s| &s.metrics).filter(|m| m.name == name)
        {
            let Some(metric::Data::Gauge(gauge)) = &metric.data else { continue };
            for point in &gauge.data_points {
                let labels = point
                    .attributes
                    .iter()
                    .map(|kv| {
                        (
                            kv.key.clone(),
                            weir_otlp::attributes::text(kv.value.as_ref()).unwrap_or_default(),
                        )
                    })
                    .collect();
                out.push((job.clone(), labels, point.flags & 1 == 1));
            }
        }
    }
    out
}

#[test]
fn each_role_finds_its_targets_with_prometheus_labels() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "# TYPE app_ready gauge\napp_ready 1\n" }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move { axum::serve(listener, app).await });
    let api = KubeApi::start(&runtime);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let pod = |name: &str| Pod {
        metadata: meta(Some("shop"), name, &[("app", "api")]),
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![Container {
                name: "api".into(),
                image: Some("shop/api:1.4".into()),
                ports: Some(vec![ContainerPort {
                    container_port: i32::from(port),
                    name: Some("metrics".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some("127.0.0.1".into()),
            phase: Some("Running".into()),
            ..Default::default()
        }),
    };
    api.apply(&pod("api-1"));
    api.apply(&Node {
        metadata: meta(None, "node-a", &[("zone", "a")]),
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress { type_: "Hostname".into(), address: "node-a".into() },
                NodeAddress { type_: "InternalIP".into(), address: "127.0.0.1".into() },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: i32::from(port) }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    api.apply(&Service {
        metadata: meta(Some("shop"), "api", &[("team", "payments")]),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 80,
                name: Some("http".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    api.apply(&EndpointSlice {
        metadata: meta(Some("shop"), "api-x7k2", &[("kubernetes.io/service-name", "api")]),
        address_type: "IPv4".into(),
        endpoints: vec![Endpoint {
            addresses: vec!["127.0.0.1".into()],
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some("api-1".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ports: Some(vec![EndpointPort {
            port: Some(i32::from(port)),
            name: Some("metrics".into()),
            ..Default::default()
        }]),
    });
    let job = |name: &str, role: &str, relabel: &str| {
        format!(
            "
        - job_name: {name}
          scrape_interval: 300ms
          scrape_timeout: 250ms
          kubernetes_sd_configs: [{{role: {role}, kubeconfig_file: {}}}]
          relabel_configs:{relabel}",
            kubeconfig.display()
        )
    };
    let weir = Weir::start_with(&format!(
        "
receivers:
  prometheus:
    config:
      scrape_configs:{}{}{}
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [file]
",
        job("pods", "pod", "
            - {source_labels: [__meta_kubernetes_pod_label_app], regex: api, action: keep}
            - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
            - {source_labels: [__meta_kubernetes_pod_container_image], target_label: image}"),
        job("slices", "endpointslice", "
            - {source_labels: [__meta_kubernetes_service_label_team], target_label: team}
            - {source_labels: [__meta_kubernetes_endpointslice_port_name], target_label: port_name}"),
        job("nodes", "node", "
            - {regex: __meta_kubernetes_node_label_(.+), action: labelmap}"),
    ));
    let seen = |job: &str| {
        let page = weir.metrics();
        page.lines().any(|l| {
            l.starts_with("otelcol_receiver_accepted_metric_points_total") && !l.ends_with(" 0")
        }) && weir_tests::read_batches(&weir.output)
            .into_iter()
            .any(|b| format!("{b:?}").contains(job))
    };
    assert!(
        wait_until(Duration::from_secs(20), || seen("slices") && seen("nodes") && seen("pods")),
        "every role scraped"
    );
    api.delete(Kind::Pod, "shop", "api-1");
    std::thread::sleep(Duration::from_millis(1500));
    let resources: Vec<ResourceMetrics> = weir
        .stop()
        .into_iter()
        .filter_map(|b| match b.into_decoded() {
            weir_otlp::Decoded::Metrics(r) => Some(r),
            _ => None,
        })
        .flatten()
        .collect();
    let ready = points(&resources, "app_ready");
    let of = |job: &str| ready.iter().filter(|(j, ..)| j == job).cloned().collect::<Vec<_>>();
    let pods = of("pods");
    let expected: BTreeMap<String, String> = [("pod", "api-1"), ("image", "shop/api:1.4")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(pods.iter().any(|(_, labels, stale)| !stale && *labels == expected), "{pods:?}");
    assert!(
        pods.last().is_some_and(|(_, _, stale)| *stale),
        "the deleted pod's series went stale: {pods:?}"
    );
    let slices = of("slices");
    assert!(
        slices.iter().any(|(_, l, _)| l.get("team").map(String::as_str) == Some("payments")
            && l.get("port_name").map(String::as_str) == Some("metrics")),
        "{slices:?}"
    );
    let nodes = of("nodes");
    assert!(
        nodes.iter().any(|(_, l, _)| l.get("zone").map(String::as_str) == Some("a")),
        "{nodes:?}"
    );
    let node_resource = resources.iter().find(|r| {
        let attributes = &r.resource.as_ref().unwrap().attributes;
        weir_otlp::attributes::text(weir_otlp::attributes::find(attributes, "service.name"))
            .as_deref()
            == Some("nodes")
    });
    let instance = node_resource.map(|r| {
        weir_otlp::attributes::text(weir_otlp::attributes::find(
            &r.resource.as_ref().unwrap().attributes,
            "service.instance.id",
        ))
    });
    assert_eq!(
        instance,
        Some(Some("node-a".into())),
        "the node role names the instance after the node"
    );
}
