//! Resource detection with weir as a real process, so that it finds its services where the
//! platforms say they are: the variables `GCE_METADATA_HOST`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
//! `ECS_CONTAINER_METADATA_URI_V4`, `DOCKER_HOST` and `KUBERNETES_SERVICE_HOST`, pointing at a
//! metadata server on 127.0.0.1 (and a Unix socket) that answers the services' documented
//! documents and checks their headers and tokens (`weir_cloud::testing`).

use std::{
    collections::BTreeMap,
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use weir_cloud::testing::MetadataServer;
use weir_core::testing::wait_until;
use weir_otlp::proto::common::v1::any_value::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(port: u16, output: &Path, processor: &str) -> String {
    format!(
        "
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
processors:
  resource_detection:
{processor}
exporters:
  file:
    path: {}
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      processors: [resource_detection]
      exporters: [file]
",
        output.display()
    )
}

/// Runs weir on `processor` with `env`, sends one log record, and returns the resource
/// attributes it wrote (text values; lists joined with `|`).
fn detected(processor: &str, env: &[(&str, String)]) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let (port, output) = (free_port(), dir.path().join("out.json"));
    let path = dir.path().join("weir.yaml");
    std::fs::write(&path, config(port, &output, processor)).unwrap();
    let log = dir.path().join("weir.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_weir"));
    command.arg("--config").arg(&path).stdout(Stdio::null());
    command.stderr(std::fs::File::create(&log).unwrap());
    for variable in [
        "GCE_METADATA_HOST",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "ECS_CONTAINER_METADATA_URI_V4",
        "ECS_CONTAINER_METADATA_URI",
        "DOCKER_HOST",
        "KUBERNETES_SERVICE_HOST",
        "OTEL_RESOURCE_ATTRIBUTES",
    ] {
        command.env_remove(variable);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command.spawn().unwrap();
    let up =
        wait_until(Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(up, "weir did not start:\n{}", logged());
    let body = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello"}}]}]}]}"#;
    let answer = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/logs"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let written = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&output).is_ok_and(|t| t.ends_with('\n'))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(written, "nothing written:\n{}", logged());
    let text = std::fs::read_to_string(&output).unwrap();
    let batch = weir_otlp::json::decode_any(text.lines().next().unwrap().as_bytes()).unwrap();
    let weir_otlp::Decoded::Logs(logs) = batch.into_decoded() else { panic!("not logs") };
    let resource = logs[0].resource.clone().unwrap_or_default();
    let mut found = BTreeMap::new();
    for kv in resource.attributes {
        let value = match kv.value.and_then(|v| v.value) {
            Some(Value::StringValue(s)) => s,
            Some(Value::ArrayValue(a)) => a
                .values
                .into_iter()
                .filter_map(|v| match v.value {
                    Some(Value::StringValue(s)) => Some(s),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("|"),
            other => format!("{other:?}"),
        };
        found.insert(kv.key, value);
    }
    found
}

const IDENTITY: &str = r#"{"accountId": "123456789012", "availabilityZone": "us-east-1a", "imageId": "ami-0abcdef1234567890", "instanceId": "i-1234567890abcdef0", "instanceType": "t3.medium", "privateIp": "10.0.0.12", "region": "us-east-1", "version": "2017-09-30"}"#;

const TASK: &str = r#"{"Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/shop", "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/shop/abc123", "Family": "checkout", "Revision": "4", "AvailabilityZone": "us-east-1a", "LaunchType": "EC2", "Containers": []}"#;

const COMPUTE: &str = r#"{"location": "westeurope", "name": "vm-1", "vmId": "02aab8a4", "vmSize": "Standard_D4s_v5", "subscriptionId": "8d10da13", "resourceGroupName": "MC_shop-rg_shop-aks_westeurope", "vmScaleSetName": "", "zone": "", "osProfile": {"computerName": "web-1"}, "tagsList": []}"#;

fn host_port(endpoint: &str) -> String {
    endpoint.trim_start_matches("http://").to_owned()
}

#[test]
fn the_detectors_find_their_services_where_the_platform_says() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = runtime.block_on(MetadataServer::start());
    let engine = runtime.block_on(MetadataServer::start_unix(&dir.path().join("docker.sock")));
    server
        .serve("/latest/meta-data/instance-id", "i-1234567890abcdef0")
        .serve("/latest/dynamic/instance-identity/document", IDENTITY)
        .serve("/latest/meta-data/hostname", "ip-10-0-0-12.ec2.internal")
        .serve("/v4/abc/task", TASK)
        .serve("/v4/abc", r#"{"DockerId": "abc"}"#)
        .serve("/computeMetadata/v1/project/project-id", "shop-prod")
        .serve("/computeMetadata/v1/instance/id", "42")
        .serve("/computeMetadata/v1/instance/machine-type", "projects/1/machineTypes/e2-small")
        .serve("/computeMetadata/v1/instance/zone", "projects/1/zones/europe-west1-b")
        .serve("/computeMetadata/v1/instance/name", "gce-1")
        .serve(weir_cloud::azure::COMPUTE, COMPUTE);
    engine.serve("/info", r#"{"Name": "docker-host", "OSType": "linux"}"#);
    let env = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.endpoint.clone()),
        ("ECS_CONTAINER_METADATA_URI_V4", format!("{}/v4/abc", server.endpoint)),
        ("GCE_METADATA_HOST", host_port(&server.endpoint)),
        ("DOCKER_HOST", engine.endpoint.clone()),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1".to_owned()),
    ];

    // In the Collector's recommended order for AWS the task comes before the instance; the
    // first detector to find an attribute wins.
    let found = detected("    detectors: [ecs, ec2, docker]\n    override: false", &env);
    assert_eq!(found["cloud.platform"], "aws_ecs", "{found:?}");
    assert_eq!(found["aws.ecs.task.id"], "abc123");
    assert_eq!(found["aws.ecs.launchtype"], "ec2");
    assert_eq!(found["host.id"], "i-1234567890abcdef0", "from ec2");
    assert_eq!(found["host.name"], "ip-10-0-0-12.ec2.internal", "ec2's, before docker's");
    assert_eq!(found["os.type"], "linux", "docker's");
    assert_eq!(found["service.name"], "checkout", "override: false keeps the client's");
    assert!(server.requests().iter().any(|r| r == "PUT /latest/api/token token=false"));

    let found = detected(
        "    detectors: [gcp]\n    gcp: {resource_attributes: {gcp.gce.instance.name: {enabled: true}}}",
        &env,
    );
    assert_eq!(found["cloud.platform"], "gcp_compute_engine", "{found:?}");
    assert_eq!(found["cloud.availability_zone"], "europe-west1-b");
    assert_eq!(found["gcp.gce.instance.name"], "gce-1");
    assert!(!found.contains_key("gcp.gce.instance.hostname"), "off by default");

    let azure = format!("      endpoint: {}", server.endpoint);
    let found = detected(
        &format!(
            "    detectors: [aks, azure]\n    aks:\n{azure}\n      resource_attributes: {{k8s.cluster.name: {{enabled: true}}}}\n    azure:\n{azure}"
        ),
        &env,
    );
    assert_eq!(found["cloud.platform"], "azure_aks", "{found:?}");
    assert_eq!(found["k8s.cluster.name"], "shop-aks");
    assert_eq!(found["azure.vm.size"], "Standard_D4s_v5", "azure's, after aks'");
    assert_eq!(found["host.name"], "web-1");
}

#[test]
fn a_missing_service_is_no_attributes_unless_it_must_be_there() {
    let closed = format!("127.0.0.1:{}", free_port());
    let env = [
        ("GCE_METADATA_HOST", closed.clone()),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=payments".to_owned()),
    ];
    let found = detected("    detectors: [gcp, env]", &env);
    assert_eq!(found.get("team").map(String::as_str), Some("payments"), "{found:?}");
    assert!(!found.contains_key("cloud.provider"), "{found:?}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.yaml");
    let processor = "    detectors: [gcp]\n    timeout: 1s\n    fail_on_missing_metadata: true";
    std::fs::write(&path, config(free_port(), &dir.path().join("out.json"), processor)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("--config")
        .arg(&path)
        .env("GCE_METADATA_HOST", &closed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "weir must not start:\n{stderr}");
    assert!(stderr.contains("fail_on_missing_metadata is set"), "{stderr}");
    assert!(
        stderr.contains("Connection refused") || stderr.contains("connection refused"),
        "the cause is logged:\n{stderr}"
    );
}
