//! The detectors that ask a remote service, run beside the processor: `k8snode` and `eks`
//! ask the Kubernetes API, the cloud and container detectors their metadata services
//! (`weir-cloud`). They run together at start, each within `timeout`, a failing one asked
//! again per `retry`; the receivers wait for them at most `timeout`. A service that is not
//! there means weir does not run on that platform: logged, and no attributes from it — unless
//! `fail_on_missing_metadata`, which then stops the start. With `refresh_interval` detection
//! runs again that often, a detector that fails keeping what it found before.

use std::{
    collections::BTreeMap,
    pin::pin,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::{Either, join_all, select};
use weir_cloud::{Attributes, Endpoint, Env, Error, Value, aws, azure, docker, gcp};
use weir_core::{
    CancellationToken,
    declare::{Background, Ready},
};
use weir_kubernetes::{Api, k8s_openapi::api::core::v1::Node};
use weir_otlp::{
    attributes::kv,
    proto::common::v1::{AnyValue, ArrayValue, KeyValue, any_value},
};

use super::Settings;

/// The detectors that ask a remote service.
const REMOTE: &[&str] = &["k8snode", "gcp", "ec2", "eks", "ecs", "azure", "aks", "docker"];

/// What asking a detector's service came to.
enum Outcome {
    Found(Vec<KeyValue>),
    /// The service is not there: weir does not run on that platform.
    Absent(String),
    Failed(String),
}

/// The detection task, when a remote detector is configured.
pub(super) fn start(
    settings: Settings,
    id: String,
    shutdown: CancellationToken,
) -> Option<Background> {
    let remote: Vec<&'static str> =
        REMOTE.iter().copied().filter(|r| settings.detectors.iter().any(|d| d == r)).collect();
    if remote.is_empty() {
        return None;
    }
    let (mut done, waiting) = weir_kubernetes::ready();
    let fatal = settings.fail_on_missing_metadata;
    // Detection ends within `timeout`; when it must succeed, its answer gets a moment more
    // to arrive than it has to be found.
    let within = if fatal { settings.timeout + Duration::from_secs(2) } else { settings.timeout };
    let failure = if fatal {
        format!(
            "resource detection ({}) found no metadata or failed within timeout ({:?}), and fail_on_missing_metadata is set (the warnings above say why)",
            remote.join(", "),
            settings.timeout
        )
    } else {
        format!(
            "resource detection ({}) did not finish within timeout ({:?})",
            remote.join(", "),
            settings.timeout
        )
    };
    let run = async move {
        let mut good: BTreeMap<&'static str, Vec<KeyValue>> = BTreeMap::new();
        let mut first = true;
        loop {
            let outcomes = join_all(remote.iter().map(|d| ask(d, &settings))).await;
            let mut complete = true;
            for (detector, outcome) in remote.iter().zip(outcomes) {
                match outcome {
                    Outcome::Found(found) => {
                        tracing::info!(processor = %id, detector, attributes = found.len(), "resource detected");
                        good.insert(detector, found);
                    }
                    Outcome::Absent(why) if !fatal => {
                        tracing::info!(processor = %id, detector, %why, "no metadata for this detector: not on its platform");
                        good.entry(detector).or_default();
                    }
                    Outcome::Absent(error) | Outcome::Failed(error) => {
                        complete = false;
                        metrics::counter!("weir_resource_detection_failures_total", "processor" => id.clone(), "detector" => *detector).increment(1);
                        tracing::warn!(processor = %id, detector, %error, "resource detection failed");
                    }
                }
            }
            let detected = super::detect::detect(&settings, &id, Some(&good));
            settings.late.store(Some(Arc::new(detected)));
            if first && (complete || !fatal) {
                done.set();
            }
            first = false;
            if settings.refresh_interval.is_zero() {
                break;
            }
            let pause = pin!(weir_cloud::sleep(settings.refresh_interval));
            if let Either::Right(_) = select(pause, pin!(shutdown.cancelled())).await {
                break;
            }
        }
    };
    let ready = Ready { when: waiting, within, failure, fatal };
    Some(Background { run: Box::pin(run), ready: Some(ready) })
}

/// Asks `detector`, again per `retry` while it fails, all within `timeout`.
async fn ask(detector: &'static str, settings: &Settings) -> Outcome {
    let retry = settings.retry;
    let mut budget = settings.timeout;
    if !retry.max_elapsed.is_zero() {
        budget = budget.min(retry.max_elapsed);
    }
    let deadline = Instant::now() + budget;
    let mut wait = retry.initial;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let outcome = weir_cloud::within(left, once(detector, settings))
            .await
            .unwrap_or_else(|| Outcome::Absent(format!("no answer within timeout ({budget:?})")));
        match outcome {
            Outcome::Failed(error) if retry.enabled && Instant::now() + wait < deadline => {
                tracing::debug!(detector, %error, ?wait, "resource detection failed; asking again");
                weir_cloud::sleep(wait).await;
                wait = wait.mul_f64(retry.multiplier).min(retry.max_interval);
            }
            outcome => return outcome,
        }
    }
}

/// Asks `detector` once.
async fn once(detector: &'static str, settings: &Settings) -> Outcome {
    let env: Env<'_> = &weir_cloud::process_env;
    let within = settings.timeout;
    let endpoint = |default: String| {
        let text = settings.endpoints.get(detector).cloned().unwrap_or(default);
        Endpoint::parse(&text)
    };
    let tags = settings.tags.get(detector).filter(|t| !t.is_empty());
    let tag = |key: &str| tags.is_some_and(|t| t.iter().any(|r| r.is_match(key)));
    let tag = tags.map(|_| &tag as &(dyn Fn(&str) -> bool + Sync));
    let answer = match detector {
        "k8snode" => return k8snode(settings).await.map_or_else(Outcome::Failed, Outcome::Found),
        "eks" => return eks(settings, env).await,
        "gcp" => match endpoint(gcp::endpoint(env)) {
            Ok(at) => gcp::detect(&at, env, within).await,
            Err(e) => return Outcome::Failed(e),
        },
        "ec2" => match endpoint(aws::imds_endpoint(env)) {
            Ok(at) => aws::ec2(&at, tag, within).await,
            Err(e) => return Outcome::Failed(e),
        },
        "ecs" => {
            let configured = settings.endpoints.get("ecs").cloned();
            let Some(text) = configured.or_else(|| aws::ecs_endpoint(env)) else {
                return Outcome::Absent("ECS_CONTAINER_METADATA_URI_V4 is not set".into());
            };
            match Endpoint::parse(&text) {
                Ok(at) => aws::ecs(&at, within).await,
                Err(e) => return Outcome::Failed(format!("ECS_CONTAINER_METADATA_URI_V4: {e}")),
            }
        }
        "azure" | "aks" => {
            if detector == "aks" && env("KUBERNETES_SERVICE_HOST").is_none_or(|h| h.is_empty()) {
                return Outcome::Absent(
                    "not on Kubernetes (KUBERNETES_SERVICE_HOST is not set)".into(),
                );
            }
            match endpoint("http://169.254.169.254".into()) {
                Ok(at) => azure::compute(&at, within).await.map(|compute| match detector {
                    "aks" => azure::aks(&compute, env),
                    _ => azure::vm(&compute, tag),
                }),
                Err(e) => return Outcome::Failed(e),
            }
        }
        "docker" => {
            let inspect = settings.enabled("docker", "container.name")
                || settings.enabled("docker", "container.image.name");
            // Docker names a container's host after the container's id.
            let container = inspect.then(hostname).flatten();
            match endpoint(docker::endpoint(env)) {
                Ok(at) => docker::detect(&at, container.as_deref(), within).await,
                Err(e) => return Outcome::Failed(e),
            }
        }
        other => return Outcome::Failed(format!("{other} is not a remote detector")),
    };
    match answer {
        Ok(found) => Outcome::Found(enabled(settings, detector, found)),
        Err(Error::Unreachable(why)) => Outcome::Absent(why),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}

/// The attributes of `found` that `detector` is to add (tags always: they were asked for by
/// name), as OTLP key-values.
fn enabled(settings: &Settings, detector: &str, found: Attributes) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(found.len());
    for (key, value) in found {
        let tag = key.starts_with("ec2.tag.") || key.starts_with("azure.tag.");
        if !tag && !settings.enabled(detector, &key) {
            continue;
        }
        out.push(match value {
            Value::Text(text) => kv(&key, &text),
            Value::List(items) => {
                let values = items
                    .into_iter()
                    .map(|s| AnyValue { value: Some(any_value::Value::StringValue(s)) })
                    .collect();
                let array = any_value::Value::ArrayValue(ArrayValue { values });
                KeyValue { key, value: Some(AnyValue { value: Some(array) }), ..Default::default() }
            }
        });
    }
    out
}

/// `k8s.node.name` and `k8s.node.uid` of the node named by the `node_from_env_var` variable.
async fn k8snode(settings: &Settings) -> Result<Vec<KeyValue>, String> {
    let (api, variable) = &settings.k8snode;
    let name = std::env::var(variable)
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("the environment variable {variable} holds no node name"))?;
    let client = weir_kubernetes::client(api).await?;
    let node =
        Api::<Node>::all(client).get(&name).await.map_err(|e| format!("node {name}: {e}"))?;
    let mut found = vec![kv("k8s.node.name", &name)];
    if let Some(uid) = &node.metadata.uid {
        found.push(kv("k8s.node.uid", uid));
    }
    found.retain(|kv| settings.enabled("k8snode", &kv.key));
    Ok(found)
}

/// EKS: on Kubernetes (in a pod, or the cluster a kubeconfig names) whose API server says it is EKS (`-eks-` in its version), the instance
/// from its metadata service, or — where the pod cannot reach it — the zone, region and
/// instance id from the node's provider id (`node_from_env_var`).
async fn eks(settings: &Settings, env: Env<'_>) -> Outcome {
    let (api, node_variable) = &settings.eks;
    // In a pod the API server is named by KUBERNETES_SERVICE_HOST; a kubeconfig names it too.
    let in_cluster = api.auth_type != weir_kubernetes::AuthType::KubeConfig;
    if in_cluster && env("KUBERNETES_SERVICE_HOST").is_none_or(|h| h.is_empty()) {
        return Outcome::Absent("not on Kubernetes (KUBERNETES_SERVICE_HOST is not set)".into());
    }
    let client = match weir_kubernetes::client(api).await {
        Ok(client) => client,
        Err(e) => return Outcome::Failed(e),
    };
    let version = match client.apiserver_version().await {
        Ok(info) => info.git_version,
        Err(e) => return Outcome::Failed(format!("the API server's version: {e}")),
    };
    if !version.contains("-eks-") {
        return Outcome::Absent(format!("the API server ({version}) is not EKS"));
    }
    let mut found = Attributes::new();
    found.push(("cloud.provider".into(), Value::Text("aws".into())));
    found.push(("cloud.platform".into(), Value::Text("aws_eks".into())));
    let more = [
        "cloud.account.id",
        "cloud.region",
        "cloud.availability_zone",
        "host.id",
        "host.image.id",
        "host.name",
        "host.type",
    ];
    if more.iter().any(|a| settings.enabled("eks", a)) {
        let text =
            settings.endpoints.get("eks").cloned().unwrap_or_else(|| aws::imds_endpoint(env));
        let imds = match Endpoint::parse(&text) {
            Ok(at) => instance(&at, settings.timeout).await,
            Err(e) => return Outcome::Failed(e),
        };
        match (imds, node_variable) {
            (Ok(instance), _) => found.extend(instance),
            (Err(Error::Unreachable(_)), Some(variable)) => {
                match from_node(client, variable).await {
                    Ok(node) => found.extend(node),
                    Err(e) => return Outcome::Failed(e),
                }
            }
            (Err(e), _) => return Outcome::Failed(format!("the instance metadata: {e}")),
        }
    }
    Outcome::Found(enabled(settings, "eks", found))
}

/// The instance's identity and host name from IMDS.
async fn instance(endpoint: &Endpoint, within: Duration) -> Result<Attributes, Error> {
    let imds = aws::Imds::open(endpoint, within).await?;
    let mut found = Attributes::new();
    imds.identity().await?.attributes(&mut found);
    found.push(("host.name".into(), Value::Text(imds.get("meta-data/hostname").await?)));
    Ok(found)
}

/// Zone, region and instance id from the provider id of the node named in `variable`.
async fn from_node(client: weir_kubernetes::Client, variable: &str) -> Result<Attributes, String> {
    let name = std::env::var(variable)
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("the environment variable {variable} holds no node name"))?;
    let node =
        Api::<Node>::all(client).get(&name).await.map_err(|e| format!("node {name}: {e}"))?;
    let id = node.spec.and_then(|s| s.provider_id).unwrap_or_default();
    let (zone, region, instance) = aws::provider_id(&id).ok_or_else(|| {
        format!("node {name}: provider id {id:?} is not aws:///<zone>/<instance>")
    })?;
    Ok(vec![
        ("cloud.region".into(), Value::Text(region)),
        ("cloud.availability_zone".into(), Value::Text(zone)),
        ("host.id".into(), Value::Text(instance)),
    ])
}
