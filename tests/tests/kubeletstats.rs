//! The `kubelet_stats` receiver in a running weir against a served kubelet Summary API (no
//! kubelet runs here: the test serves `/stats/summary` in the API's documented JSON): a failing
//! kubelet (500) and an unreadable answer are logged and the next scrapes go on.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use weir_otlp::Decoded;
use weir_tests::Weir;

const SUMMARY: &str = include_str!("../../crates/receivers/src/kubeletstats/summary.json");

#[test]
fn summaries_become_metrics_and_failures_do_not_stop_the_scrapes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let pods = r#"{"kind": "PodList", "apiVersion": "v1", "items": [{"metadata": {"uid": "0b1c2d3e"},
        "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}}]},
        "status": {"containerStatuses": [{"name": "api", "containerID": "containerd://c0ffee"}]}}]}"#;
    let app =
        axum::Router::new().route("/pods", axum::routing::get(move || async move { pods })).route(
            "/stats/summary",
            axum::routing::get(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "kubelet restarting".to_owned(),
                        ),
                        1 => (axum::http::StatusCode::OK, "{not json".to_owned()),
                        _ => (axum::http::StatusCode::OK, SUMMARY.to_owned()),
                    }
                }
            }),
        );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let weir = Weir::start_with(&format!(
        "
receivers:
  kubeletstats:
    endpoint: http://{addr}
    auth_type: none
    extra_metadata_labels: [container.id, k8s.volume.type]
    metric_groups: [node, pod, container, volume]
    collection_interval: 150ms
    initial_delay: 0s
exporters:
  file:
    path: {{output}}
service:
  pipelines:
    metrics:
      receivers: [kubeletstats]
      exporters: [file]
"
    ));
    let polled = weir_core::testing::wait_until(std::time::Duration::from_secs(10), || {
        requests.load(Ordering::SeqCst) >= 5
    });
    assert!(polled, "the receiver kept scraping");
    let (mut nodes, mut containers, mut volumes) = (0, 0, 0);
    for batch in weir.stop() {
        let Decoded::Metrics(resources) = batch.into_decoded() else { panic!() };
        for rm in resources {
            let metrics: Vec<&str> =
                rm.scope_metrics.iter().flat_map(|s| &s.metrics).map(|m| m.name.as_str()).collect();
            if metrics.contains(&"k8s.node.cpu.usage") {
                nodes += 1;
                let name = &rm.resource.as_ref().unwrap().attributes[0];
                assert_eq!(name.key, "k8s.node.name");
            }
            let attributes = &rm.resource.as_ref().unwrap().attributes;
            if weir_otlp::attributes::find(attributes, "k8s.container.name").is_some() {
                let id = weir_otlp::attributes::find(attributes, "container.id");
                assert_eq!(weir_otlp::attributes::text(id).as_deref(), Some("c0ffee"));
                containers += 1;
            }
            if weir_otlp::attributes::find(attributes, "k8s.volume.name").is_some() {
                let claim =
                    weir_otlp::attributes::find(attributes, "k8s.persistentvolumeclaim.name");
                assert_eq!(weir_otlp::attributes::text(claim).as_deref(), Some("api-data"));
                volumes += 1;
            }
        }
    }
    assert!(nodes >= 2, "{nodes} node scrapes after the failures");
    assert!(containers >= 2, "containers carry their ids from /pods: {containers}");
    assert!(volumes >= 2, "volumes carry their claims from /pods: {volumes}");
}
