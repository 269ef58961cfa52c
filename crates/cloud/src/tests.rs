use std::time::Duration;

use axum::{Router, http::HeaderMap, routing::get};
use http::{Method, StatusCode};

use super::{Endpoint, Error, get_json, get_text, request};

const WITHIN: Duration = Duration::from_secs(5);

fn routes() -> Router {
    Router::new()
        .route(
            "/base/doc",
            get(|headers: HeaderMap| async move {
                match headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) {
                    Some("Google") => (StatusCode::OK, r#"{"id": 7}"#.to_owned()),
                    _ => (StatusCode::FORBIDDEN, "missing Metadata-Flavor".to_owned()),
                }
            }),
        )
        .route("/base/text", get(|| async { " plain \n" }))
        .route("/base/huge", get(|| async { vec![b'x'; super::MAX_BODY + 1] }))
        .route("/base/token", axum::routing::put(|| async { "token-1" }))
}

async fn serve() -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    Endpoint::parse(&format!("http://{address}/base/")).unwrap()
}

#[test]
fn endpoints_parse_as_written() {
    let endpoint = Endpoint::parse("http://169.254.169.254").unwrap();
    assert_eq!(endpoint.describe("/latest"), "http://169.254.169.254:80/latest");
    let endpoint = Endpoint::parse("http://[::1]:8080/v4/abc/").unwrap();
    assert_eq!(endpoint.describe("/task"), "http://[::1]:8080/v4/abc/task");
    let endpoint = Endpoint::parse("unix:///var/run/docker.sock").unwrap();
    assert_eq!(endpoint, Endpoint::Unix { socket: "/var/run/docker.sock".into() });
    assert!(Endpoint::parse("https://example.com").unwrap_err().contains("expected http://"));
    assert!(Endpoint::parse("unix://relative.sock").unwrap_err().contains("absolute path"));
    assert!(Endpoint::parse("http:///path").unwrap_err().contains("no host"));
}

#[tokio::test]
async fn headers_are_sent_and_json_is_read() {
    let endpoint = serve().await;
    let value: serde_json::Value =
        get_json(&endpoint, "/doc", &[("Metadata-Flavor", "Google")], WITHIN).await.unwrap();
    assert_eq!(value["id"], 7);
    let refused = get_json::<serde_json::Value>(&endpoint, "/doc", &[], WITHIN).await;
    let Err(Error::Status { status: 403, body, url }) = refused else { panic!("{refused:?}") };
    assert_eq!(body, "missing Metadata-Flavor");
    assert!(url.ends_with("/base/doc"), "{url}");
    assert_eq!(get_text(&endpoint, "/text", &[], WITHIN).await.unwrap(), "plain");
    let token = request(&endpoint, Method::PUT, "/token", &[], WITHIN).await.unwrap();
    assert_eq!(&token[..], b"token-1");
    let not_json = get_json::<serde_json::Value>(&endpoint, "/text", &[], WITHIN).await;
    assert!(
        matches!(not_json, Err(Error::Invalid(ref m)) if m.contains("not the documented JSON"))
    );
}

#[tokio::test]
async fn answers_are_bounded() {
    let endpoint = serve().await;
    let huge = request(&endpoint, Method::GET, "/huge", &[], WITHIN).await;
    assert!(matches!(huge, Err(Error::Invalid(ref m)) if m.contains("at most")), "{huge:?}");
}

#[tokio::test]
async fn nobody_there_is_unreachable() {
    // A port bound and closed again: nothing listens on it.
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = Endpoint::parse(&format!("http://{address}")).unwrap();
    let refused = request(&endpoint, Method::GET, "/", &[], WITHIN).await;
    assert!(matches!(refused, Err(Error::Unreachable(_))), "{refused:?}");

    // A server that accepts and never answers: the deadline ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Endpoint::parse(&format!("http://{}", silent.local_addr().unwrap())).unwrap();
    let waited =
        request(&endpoint, Method::GET, "/", &[], Duration::from_millis(200)).await.unwrap_err();
    assert!(waited.to_string().contains("no answer within 200ms"), "{waited}");
    drop(silent);
}

#[tokio::test]
async fn unix_sockets_are_asked_like_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("engine.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move { axum::serve(listener, routes()).await });
    let endpoint = Endpoint::parse(&format!("unix://{}", socket.display())).unwrap();
    assert_eq!(get_text(&endpoint, "/base/text", &[], WITHIN).await.unwrap(), "plain");
}

mod detectors {
    use std::collections::BTreeMap;

    use super::WITHIN;
    use crate::{Attributes, Endpoint, Error, Value, aws, azure, docker, gcp, testing::*};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Sync {
        let vars: BTreeMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name: &str| vars.get(name).cloned()
    }

    fn text(found: &Attributes) -> Vec<(String, String)> {
        found
            .iter()
            .map(|(k, v)| match v {
                Value::Text(t) => (k.clone(), t.clone()),
                Value::List(l) => (k.clone(), l.join("|")),
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn gcp_server(server: &MetadataServer) {
        for (path, value) in [
            ("project/project-id", "shop-prod"),
            ("instance/id", "4520031799277581759"),
            ("instance/machine-type", "projects/515/machineTypes/e2-standard-4"),
            ("instance/zone", "projects/515/zones/europe-west1-b"),
            ("instance/region", "projects/515/regions/europe-west1"),
            ("instance/name", "web-7"),
            ("instance/hostname", "web-7.c.shop-prod.internal"),
            (
                "instance/attributes/created-by",
                "projects/515/zones/europe-west1-b/instanceGroupManagers/web",
            ),
        ] {
            server.serve(&format!("/computeMetadata/v1/{path}"), value);
        }
    }

    #[tokio::test]
    async fn gcp_platforms_from_the_metadata_server_and_the_environment() {
        let server = MetadataServer::start().await;
        gcp_server(&server);
        let endpoint = Endpoint::parse(&server.endpoint).unwrap();
        let gce = gcp::detect(&endpoint, &env(&[]), WITHIN).await.unwrap();
        assert_eq!(
            text(&gce),
            pairs(&[
                ("cloud.provider", "gcp"),
                ("cloud.account.id", "shop-prod"),
                ("cloud.platform", "gcp_compute_engine"),
                ("cloud.region", "europe-west1"),
                ("cloud.availability_zone", "europe-west1-b"),
                ("host.type", "projects/515/machineTypes/e2-standard-4"),
                ("host.id", "4520031799277581759"),
                ("host.name", "web-7"),
                ("gcp.gce.instance.name", "web-7"),
                ("gcp.gce.instance.hostname", "web-7.c.shop-prod.internal"),
                ("gcp.gce.instance_group_manager.name", "web"),
                ("gcp.gce.instance_group_manager.zone", "europe-west1-b"),
            ])
        );

        // On Kubernetes without the cluster's attributes the node is a plain VM; with them GKE.
        let kubernetes = env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]);
        let vm = gcp::detect(&endpoint, &kubernetes, WITHIN).await.unwrap();
        assert!(text(&vm).contains(&pairs(&[("cloud.platform", "gcp_compute_engine")])[0]));
        server.serve("/computeMetadata/v1/instance/attributes/cluster-location", "europe-west1-b");
        server.serve("/computeMetadata/v1/instance/attributes/cluster-name", "shop");
        let gke = gcp::detect(&endpoint, &kubernetes, WITHIN).await.unwrap();
        assert_eq!(
            text(&gke),
            pairs(&[
                ("cloud.provider", "gcp"),
                ("cloud.account.id", "shop-prod"),
                ("cloud.platform", "gcp_kubernetes_engine"),
                ("cloud.region", "europe-west1"),
                ("cloud.availability_zone", "europe-west1-b"),
                ("k8s.cluster.name", "shop"),
                ("host.id", "4520031799277581759"),
                ("host.name", "web-7"),
            ])
        );
        server.serve("/computeMetadata/v1/instance/attributes/cluster-location", "europe-west1");
        let regional = text(&gcp::detect(&endpoint, &kubernetes, WITHIN).await.unwrap());
        assert_eq!(regional[3], ("cloud.region".into(), "europe-west1".into()));
        assert!(!regional.iter().any(|(k, _)| k == "cloud.availability_zone"), "{regional:?}");

        let run = env(&[
            ("K_CONFIGURATION", "checkout"),
            ("K_SERVICE", "checkout"),
            ("K_REVISION", "checkout-00042"),
        ]);
        let found = gcp::detect(&endpoint, &run, WITHIN).await.unwrap();
        assert_eq!(
            text(&found)[2..],
            pairs(&[
                ("cloud.platform", "gcp_cloud_run"),
                ("cloud.region", "europe-west1"),
                ("faas.name", "checkout"),
                ("faas.version", "checkout-00042"),
                ("faas.instance", "4520031799277581759"),
            ])
        );
        let job = env(&[
            ("CLOUD_RUN_JOB", "nightly"),
            ("CLOUD_RUN_EXECUTION", "nightly-x1"),
            ("CLOUD_RUN_TASK_INDEX", "3"),
        ]);
        let found = text(&gcp::detect(&endpoint, &job, WITHIN).await.unwrap());
        assert!(found.contains(&("gcp.cloud_run.job.task_index".into(), "3".into())), "{found:?}");
        let app = env(&[
            ("GAE_ENV", "standard"),
            ("GAE_SERVICE", "default"),
            ("GAE_VERSION", "v3"),
            ("GAE_INSTANCE", "aef-1"),
        ]);
        let found = text(&gcp::detect(&endpoint, &app, WITHIN).await.unwrap());
        assert_eq!(found[2], ("cloud.platform".into(), "gcp_app_engine".into()));
        assert!(found.contains(&("faas.instance".into(), "aef-1".into())), "{found:?}");
        let bms = env(&[
            ("BMS_PROJECT_ID", "p"),
            ("BMS_REGION", "us-east4"),
            ("BMS_INSTANCE_ID", "bms-1"),
        ]);
        let found = text(&gcp::detect(&endpoint, &bms, WITHIN).await.unwrap());
        assert_eq!(found[1], ("cloud.platform".into(), "gcp_bare_metal_solution".into()));
    }

    #[tokio::test]
    async fn gcp_is_absent_where_no_metadata_server_answers() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let endpoint = Endpoint::parse(&format!("http://{closed}")).unwrap();
        let found = gcp::detect(&endpoint, &env(&[]), WITHIN).await;
        assert!(matches!(found, Err(Error::Unreachable(_))), "{found:?}");
        assert_eq!(
            gcp::endpoint(&env(&[("GCE_METADATA_HOST", "127.0.0.1:8080")])),
            "http://127.0.0.1:8080"
        );
        assert_eq!(gcp::endpoint(&env(&[])), "http://169.254.169.254");
    }

    const IDENTITY: &str = r#"{
        "accountId": "123456789012", "architecture": "x86_64", "availabilityZone": "us-east-1a",
        "billingProducts": null, "devpayProductCodes": null, "marketplaceProductCodes": null,
        "imageId": "ami-0abcdef1234567890", "instanceId": "i-1234567890abcdef0",
        "instanceType": "t3.medium", "kernelId": null, "pendingTime": "2026-11-19T16:32:11Z",
        "privateIp": "10.0.0.12", "ramdiskId": null, "region": "us-east-1", "version": "2017-09-30"
    }"#;

    fn ec2_server(server: &MetadataServer) {
        server
            .serve("/latest/meta-data/instance-id", "i-1234567890abcdef0")
            .serve("/latest/dynamic/instance-identity/document", IDENTITY)
            .serve("/latest/meta-data/hostname", "ip-10-0-0-12.ec2.internal")
            .serve("/latest/meta-data/tags/instance", "Name\nteam\ncost-center")
            .serve("/latest/meta-data/tags/instance/Name", "web-7")
            .serve("/latest/meta-data/tags/instance/team", "payments");
    }

    #[tokio::test]
    async fn ec2_reads_imds_v2_with_its_token_and_falls_back_to_v1() {
        let server = MetadataServer::start().await;
        ec2_server(&server);
        let endpoint = Endpoint::parse(&server.endpoint).unwrap();
        let tags = |key: &str| key == "Name" || key == "team";
        let found = aws::ec2(&endpoint, Some(&tags), WITHIN).await.unwrap();
        assert_eq!(
            text(&found),
            pairs(&[
                ("cloud.provider", "aws"),
                ("cloud.platform", "aws_ec2"),
                ("cloud.account.id", "123456789012"),
                ("cloud.region", "us-east-1"),
                ("cloud.availability_zone", "us-east-1a"),
                ("host.id", "i-1234567890abcdef0"),
                ("host.image.id", "ami-0abcdef1234567890"),
                ("host.type", "t3.medium"),
                ("host.name", "ip-10-0-0-12.ec2.internal"),
                ("ec2.tag.Name", "web-7"),
                ("ec2.tag.team", "payments"),
            ])
        );
        let requests = server.requests();
        assert_eq!(requests[0], "PUT /latest/api/token token=false");
        assert!(requests[1..].iter().all(|r| r.ends_with("token=true")), "{requests:?}");

        server.imds_v1();
        let found = aws::ec2(&endpoint, None, WITHIN).await.unwrap();
        assert_eq!(found.len(), 9, "{found:?}");
        let after = &server.requests()[requests.len()..];
        assert!(after[1..].iter().all(|r| r.ends_with("token=false")), "{after:?}");
    }

    #[tokio::test]
    async fn ec2_tags_not_in_the_metadata_are_explained() {
        let server = MetadataServer::start().await;
        server
            .serve("/latest/meta-data/instance-id", "i-1")
            .serve("/latest/dynamic/instance-identity/document", IDENTITY)
            .serve("/latest/meta-data/hostname", "h");
        let endpoint = Endpoint::parse(&server.endpoint).unwrap();
        let all = |_: &str| true;
        let error = aws::ec2(&endpoint, Some(&all), WITHIN).await.unwrap_err();
        assert!(error.to_string().contains("InstanceMetadataTags=enabled"), "{error}");
        assert_eq!(
            aws::provider_id("aws:///us-west-2a/i-049ca2df511bec762"),
            Some(("us-west-2a".into(), "us-west-2".into(), "i-049ca2df511bec762".into()))
        );
        assert_eq!(aws::provider_id("gce://p/z/n"), None);
    }

    const COMPUTE: &str = r#"{
        "azEnvironment": "AzurePublicCloud", "location": "westeurope", "name": "vm-web-7",
        "osProfile": {"adminUsername": "azureuser", "computerName": "web-7"},
        "osType": "Linux", "resourceGroupName": "MC_shop-rg_shop-aks_westeurope",
        "subscriptionId": "8d10da13-8125-4ba9-a717-bf7490507b3d",
        "tagsList": [{"name": "team", "value": "payments"}, {"name": "owner", "value": "ops"}],
        "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6", "vmScaleSetName": "aks-nodes-1234",
        "vmSize": "Standard_D4s_v5", "zone": "2"
    }"#;

    #[tokio::test]
    async fn azure_and_aks_from_the_compute_document() {
        let server = MetadataServer::start().await;
        server.serve(azure::COMPUTE, COMPUTE);
        let endpoint = Endpoint::parse(&server.endpoint).unwrap();
        let compute = azure::compute(&endpoint, WITHIN).await.unwrap();
        let team = |name: &str| name == "team";
        assert_eq!(
            text(&azure::vm(&compute, Some(&team))),
            pairs(&[
                ("cloud.provider", "azure"),
                ("cloud.platform", "azure_vm"),
                ("cloud.region", "westeurope"),
                ("cloud.account.id", "8d10da13-8125-4ba9-a717-bf7490507b3d"),
                ("cloud.availability_zone", "2"),
                ("host.id", "02aab8a4-74ef-476e-8182-f6d2ba4166a6"),
                ("host.name", "web-7"),
                ("azure.vm.name", "vm-web-7"),
                ("azure.vm.size", "Standard_D4s_v5"),
                ("azure.vm.scaleset.name", "aks-nodes-1234"),
                ("azure.resourcegroup.name", "MC_shop-rg_shop-aks_westeurope"),
                ("azure.tag.team", "payments"),
            ])
        );
        assert!(azure::aks(&compute, &env(&[])).is_empty(), "not on Kubernetes");
        let aks = azure::aks(&compute, &env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]));
        assert_eq!(
            text(&aks),
            pairs(&[
                ("cloud.provider", "azure"),
                ("cloud.platform", "azure_aks"),
                ("k8s.cluster.name", "shop-aks"),
            ])
        );
        // Without the header IMDS refuses, and the refusal is told as such.
        let refused =
            crate::get_json::<serde_json::Value>(&endpoint, azure::COMPUTE, &[], WITHIN).await;
        assert!(matches!(refused, Err(Error::Status { status: 400, .. })), "{refused:?}");
    }

    const TASK: &str = r#"{
        "Cluster": "shop", "TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/shop/158d1c8083dd49d6b527399fd6414f5c",
        "Family": "checkout", "Revision": "7", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING",
        "AvailabilityZone": "us-west-2d", "LaunchType": "FARGATE",
        "Containers": [
            {"DockerId": "weir-1", "Name": "weir", "Type": "NORMAL", "KnownStatus": "RUNNING", "LogDriver": "awslogs",
             "LogOptions": {"awslogs-group": "/ecs/weir", "awslogs-region": "us-west-2", "awslogs-stream": "ecs/weir/1"}},
            {"DockerId": "app-1", "Name": "checkout", "Type": "NORMAL", "KnownStatus": "RUNNING", "LogDriver": "awslogs",
             "LogOptions": {"awslogs-group": "/ecs/checkout", "awslogs-region": "us-west-2", "awslogs-stream": "ecs/checkout/1"}},
            {"DockerId": "pause", "Name": "~internal~ecs~pause", "Type": "CNI_PAUSE", "KnownStatus": "RUNNING"}
        ]
    }"#;

    #[tokio::test]
    async fn ecs_task_metadata_v4() {
        let server = MetadataServer::start().await;
        server
            .serve("/v4/weir-1/task", TASK)
            .serve("/v4/weir-1", r#"{"DockerId": "weir-1", "Name": "weir"}"#);
        let endpoint = Endpoint::parse(&format!("{}/v4/weir-1", server.endpoint)).unwrap();
        let found = aws::ecs(&endpoint, WITHIN).await.unwrap();
        assert_eq!(
            text(&found),
            pairs(&[
                ("cloud.provider", "aws"),
                ("cloud.platform", "aws_ecs"),
                ("cloud.account.id", "111122223333"),
                ("cloud.region", "us-west-2"),
                ("cloud.availability_zone", "us-west-2d"),
                ("aws.ecs.cluster.arn", "arn:aws:ecs:us-west-2:111122223333:cluster/shop"),
                (
                    "aws.ecs.task.arn",
                    "arn:aws:ecs:us-west-2:111122223333:task/shop/158d1c8083dd49d6b527399fd6414f5c"
                ),
                ("aws.ecs.task.family", "checkout"),
                ("aws.ecs.task.id", "158d1c8083dd49d6b527399fd6414f5c"),
                ("aws.ecs.task.revision", "7"),
                ("aws.ecs.launchtype", "fargate"),
                ("aws.log.group.names", "/ecs/checkout"),
                (
                    "aws.log.group.arns",
                    "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/checkout"
                ),
                ("aws.log.stream.names", "ecs/checkout/1"),
                (
                    "aws.log.stream.arns",
                    "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/checkout:log-stream:ecs/checkout/1"
                ),
            ])
        );
        let vars = env(&[("ECS_CONTAINER_METADATA_URI", "http://169.254.170.2/v3/x")]);
        assert_eq!(aws::ecs_endpoint(&vars).as_deref(), Some("http://169.254.170.2/v3/x"));
        assert_eq!(aws::ecs_endpoint(&env(&[])), None);
    }

    #[tokio::test]
    async fn docker_engine_on_its_socket() {
        let dir = tempfile::tempdir().unwrap();
        let server = MetadataServer::start_unix(&dir.path().join("docker.sock")).await;
        server
            .serve("/info", r#"{"ID": "7TRN:IPZB", "Name": "node-3", "OSType": "linux", "Containers": 14}"#)
            .serve("/containers/3f4e8a1c2b9d/json", r#"{"Id": "3f4e8a1c2b9d00", "Name": "/weir", "Image": "sha256:9b2e", "Config": {"Hostname": "3f4e8a1c2b9d", "Image": "ghcr.io/weir/weir:0.1"}}"#);
        let endpoint = Endpoint::parse(&server.endpoint).unwrap();
        let host = docker::detect(&endpoint, None, WITHIN).await.unwrap();
        assert_eq!(text(&host), pairs(&[("host.name", "node-3"), ("os.type", "linux")]));
        let own = docker::detect(&endpoint, Some("3f4e8a1c2b9d"), WITHIN).await.unwrap();
        assert_eq!(
            text(&own)[2..],
            pairs(&[("container.name", "weir"), ("container.image.name", "ghcr.io/weir/weir:0.1")])
        );
        assert_eq!(
            docker::endpoint(&env(&[("DOCKER_HOST", "tcp://127.0.0.1:2375")])),
            "http://127.0.0.1:2375"
        );
        assert_eq!(docker::endpoint(&env(&[])), "unix:///var/run/docker.sock");
    }
}
