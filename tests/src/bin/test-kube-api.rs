//! The test Kubernetes API server (`weir_tests::kube_api`) as a process, for measuring weir's
//! agent configuration with enrichment where no cluster runs:
//!
//! ```sh
//! cargo run -p weir-tests --bin test-kube-api -- 110 /tmp/kube &   # 110 pods on node-a
//! KUBECONFIG=/tmp/kube/kubeconfig.yaml WEIR_K8S_AUTH_TYPE=kubeConfig K8S_NODE_NAME=node-a \
//!   weir bench --config config/agent.yaml ...
//! ```
//!
//! One pod has the address 127.0.0.1, so everything the bench's load generator sends is found
//! by its connection, as an application's spans are on a node.

use k8s_openapi::{
    api::core::v1::{Container, ContainerStatus, Namespace, Pod, PodSpec, PodStatus},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
};
use weir_tests::kube_api::KubeApi;

fn pod(i: usize, ip: String) -> Pod {
    let time = || Some(Time("2026-12-01T10:00:00Z".parse().expect("a time")));
    let labels =
        [("app.kubernetes.io/name", format!("service-{}", i % 20)), ("tier", "backend".into())];
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("service-{}-7d4b9c5f6-{i:05}", i % 20)),
            namespace: Some("shop".into()),
            uid: Some(format!("uid-{i}")),
            creation_timestamp: time(),
            labels: Some(labels.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-a".into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some(format!("registry.example.com/shop/service-{}:1.4.2", i % 20)),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            pod_ip: Some(ip),
            start_time: time(),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                container_id: Some(format!("containerd://{i:064x}")),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(110);
    let dir =
        std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/test-kube-api".into()));
    std::fs::create_dir_all(&dir).expect("the kubeconfig's directory");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let api = KubeApi::start(&runtime);
    let namespace = |name: &str| Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        ..Default::default()
    };
    api.apply(&namespace("kube-system"));
    api.apply(&namespace("shop"));
    api.apply(&pod(0, "127.0.0.1".into()));
    for i in 1..pods {
        api.apply(&pod(i, format!("10.0.{}.{}", i / 250, i % 250 + 1)));
    }
    println!("{}", api.kubeconfig(&dir).display());
    runtime.block_on(std::future::pending::<()>());
}
