//! Amazon Web Services: the EC2 instance metadata service (IMDSv2: a session token from
//! `PUT /latest/api/token`, then every read with it; IMDSv1 when the token is refused with
//! 403, 404 or 405, as the AWS SDKs fall back) and the ECS task metadata endpoint v4 (v3
//! accepted), read as the Collector's `ec2`, `eks` and `ecs` detectors read them.

use std::time::Duration;

use http::Method;
use serde::Deserialize;

use super::{Attributes, Endpoint, Env, Error, Value, get_json, get_text, push, request};

/// Where IMDS is: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the link-local address.
pub fn imds_endpoint(env: Env<'_>) -> String {
    env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .filter(|e| !e.is_empty())
        .map_or_else(|| "http://169.254.169.254".to_owned(), |e| e.trim_end_matches('/').to_owned())
}

/// A session with the instance metadata service.
pub struct Imds<'a> {
    endpoint: &'a Endpoint,
    token: Option<String>,
    within: Duration,
}

impl<'a> Imds<'a> {
    /// Opens a session: a token when the service gives one (IMDSv2), none when it refuses
    /// tokens (IMDSv1). Nothing answering is [`Error::Unreachable`].
    pub async fn open(endpoint: &'a Endpoint, within: Duration) -> Result<Imds<'a>, Error> {
        let ttl = [("X-aws-ec2-metadata-token-ttl-seconds", "300")];
        let token = match request(endpoint, Method::PUT, "/latest/api/token", &ttl, within).await {
            Ok(token) => Some(String::from_utf8_lossy(&token).trim().to_owned()),
            Err(Error::Status { status: 403..=405, .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(Imds { endpoint, token, within })
    }

    /// A value under `/latest/`.
    pub async fn get(&self, path: &str) -> Result<String, Error> {
        let path = format!("/latest/{path}");
        match &self.token {
            Some(token) => {
                let headers = [("X-aws-ec2-metadata-token", token.as_str())];
                get_text(self.endpoint, &path, &headers, self.within).await
            }
            None => get_text(self.endpoint, &path, &[], self.within).await,
        }
    }

    /// The instance identity document.
    pub async fn identity(&self) -> Result<Identity, Error> {
        let text = self.get("dynamic/instance-identity/document").await?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "the instance identity document is not the documented JSON: {e}"
            ))
        })
    }
}

/// The fields of the instance identity document the detectors use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// `accountId`.
    pub account_id: String,
    /// `region`.
    pub region: String,
    /// `availabilityZone`.
    pub availability_zone: String,
    /// `instanceId`.
    pub instance_id: String,
    /// `imageId`.
    pub image_id: String,
    /// `instanceType`.
    pub instance_type: String,
}

impl Identity {
    /// The host and cloud attributes the identity document gives (`cloud.provider` and
    /// `cloud.platform` are the detector's).
    pub fn attributes(&self, found: &mut Attributes) {
        push(found, "cloud.account.id", &self.account_id);
        push(found, "cloud.region", &self.region);
        push(found, "cloud.availability_zone", &self.availability_zone);
        push(found, "host.id", &self.instance_id);
        push(found, "host.image.id", &self.image_id);
        push(found, "host.type", &self.instance_type);
    }
}

/// What the `ec2` detector finds: the identity document, the host name, and the instance's
/// tags whose keys `tag` accepts (from IMDS, `/latest/meta-data/tags/instance`, which the
/// instance must allow) as `ec2.tag.<key>`.
pub async fn ec2(
    endpoint: &Endpoint,
    tag: Option<&(dyn Fn(&str) -> bool + Sync)>,
    within: Duration,
) -> Result<Attributes, Error> {
    let imds = Imds::open(endpoint, within).await?;
    imds.get("meta-data/instance-id").await?;
    let identity = imds.identity().await?;
    let mut found = Attributes::new();
    push(&mut found, "cloud.provider", "aws");
    push(&mut found, "cloud.platform", "aws_ec2");
    identity.attributes(&mut found);
    push(&mut found, "host.name", imds.get("meta-data/hostname").await?);
    if let Some(tag) = tag {
        let keys = imds.get("meta-data/tags/instance").await.map_err(|e| match e {
            Error::Status { status: 404, .. } => Error::Invalid(
                "the instance's tags are not in its metadata: allow them (InstanceMetadataTags=enabled)"
                    .to_owned(),
            ),
            e => e,
        })?;
        for key in keys.lines().map(str::trim).filter(|k| !k.is_empty() && tag(k)) {
            let value = imds.get(&format!("meta-data/tags/instance/{key}")).await?;
            push(&mut found, &format!("ec2.tag.{key}"), value);
        }
    }
    Ok(found)
}

/// A node's `spec.providerID`, `aws:///us-west-2a/i-049ca2df511bec762`: its zone, region and
/// instance id.
pub fn provider_id(id: &str) -> Option<(String, String, String)> {
    let rest = id.strip_prefix("aws:///")?;
    let (zone, instance) = rest.split_once('/')?;
    if zone.len() < 2 || !instance.starts_with("i-") {
        return None;
    }
    let region = zone[..zone.len() - 1].to_owned();
    Some((zone.to_owned(), region, instance.to_owned()))
}

/// Where the ECS task metadata endpoint is: `ECS_CONTAINER_METADATA_URI_V4`, else
/// `ECS_CONTAINER_METADATA_URI` (v3). Outside ECS neither is set.
pub fn ecs_endpoint(env: Env<'_>) -> Option<String> {
    ["ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"]
        .iter()
        .find_map(|name| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

/// The task metadata document (`${ECS_CONTAINER_METADATA_URI_V4}/task`), the fields used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Task {
    cluster: String,
    #[serde(rename = "TaskARN")]
    task_arn: String,
    family: String,
    revision: String,
    #[serde(default)]
    availability_zone: String,
    #[serde(default)]
    launch_type: String,
    #[serde(default)]
    containers: Vec<Container>,
}

/// A container's metadata (`${ECS_CONTAINER_METADATA_URI_V4}` for weir's own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Container {
    docker_id: String,
    #[serde(rename = "Type")]
    kind: String,
    known_status: String,
    log_driver: String,
    log_options: std::collections::BTreeMap<String, String>,
}

/// What the `ecs` detector finds on the task metadata endpoint: the task, its cluster and
/// launch type, and the CloudWatch log groups and streams of the task's other running
/// containers that log with `awslogs`.
pub async fn ecs(endpoint: &Endpoint, within: Duration) -> Result<Attributes, Error> {
    let task: Task = get_json(endpoint, "/task", &[], within).await?;
    let own: Container = get_json(endpoint, "", &[], within).await?;
    let mut found = Attributes::new();
    push(&mut found, "cloud.provider", "aws");
    push(&mut found, "cloud.platform", "aws_ecs");
    let (region, account, task_id) = task_arn(&task.task_arn);
    push(&mut found, "cloud.account.id", account);
    push(&mut found, "cloud.region", region);
    push(&mut found, "cloud.availability_zone", &task.availability_zone);
    let cluster = if task.cluster.contains(':') {
        task.cluster.clone()
    } else {
        format!("arn:aws:ecs:{region}:{account}:cluster/{}", task.cluster)
    };
    push(&mut found, "aws.ecs.cluster.arn", cluster);
    push(&mut found, "aws.ecs.task.arn", &task.task_arn);
    push(&mut found, "aws.ecs.task.family", &task.family);
    push(&mut found, "aws.ecs.task.id", task_id);
    push(&mut found, "aws.ecs.task.revision", &task.revision);
    let launch_type = task.launch_type.to_lowercase();
    if launch_type == "ec2" || launch_type == "fargate" {
        push(&mut found, "aws.ecs.launchtype", launch_type);
    }
    let mut logs: [Vec<String>; 4] = Default::default();
    for container in &task.containers {
        let logged = container.kind == "NORMAL"
            && container.known_status == "RUNNING"
            && container.log_driver == "awslogs"
            && container.docker_id != own.docker_id
            && !container.log_options.is_empty();
        if !logged {
            continue;
        }
        let option = |key: &str| container.log_options.get(key).cloned().unwrap_or_default();
        let (group, stream) = (option("awslogs-group"), option("awslogs-stream"));
        let group_arn =
            format!("arn:aws:logs:{}:{account}:log-group:{group}", option("awslogs-region"));
        logs[3].push(format!("{group_arn}:log-stream:{stream}"));
        logs[0].push(group);
        logs[1].push(group_arn);
        logs[2].push(stream);
    }
    if !logs[0].is_empty() {
        let names = [
            "aws.log.group.names",
            "aws.log.group.arns",
            "aws.log.stream.names",
            "aws.log.stream.arns",
        ];
        for (name, values) in names.into_iter().zip(logs) {
            found.push((name.to_owned(), Value::List(values)));
        }
    }
    Ok(found)
}

/// `arn:aws:ecs:us-west-2:123456789012:task/cluster/abc` → region, account and task id.
fn task_arn(arn: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        [_, _, _, region, account, resource] => {
            (region, account, resource.rsplit('/').next().unwrap_or(resource))
        }
        _ => ("", "", ""),
    }
}
