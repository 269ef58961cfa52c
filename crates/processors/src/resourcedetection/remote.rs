//! The detectors that ask a remote API, run once at start beside the processor: `k8snode`
//! reads the node named by `node_from_env_var` from the Kubernetes API. The receivers wait for
//! the answer at most `timeout`; without it weir starts with what the local detectors found,
//! and adds the node's attributes if the answer comes later.

use std::sync::Arc;

use weir_core::declare::{Background, Ready};
use weir_kubernetes::{Api, k8s_openapi::api::core::v1::Node};
use weir_otlp::{attributes::kv, proto::common::v1::KeyValue};

use super::Settings;

/// The detection task, when a remote detector is configured.
pub(super) fn start(settings: Settings, id: String) -> Option<Background> {
    if !settings.detectors.iter().any(|d| d == "k8snode") {
        return None;
    }
    let (mut done, waiting) = weir_kubernetes::ready();
    let within = settings.timeout;
    let run = async move {
        let node = k8snode(&settings).await;
        if let Err(error) = &node {
            tracing::warn!(processor = %id, detector = "k8snode", %error, "resource detection failed");
        }
        let detected = super::detect::detect(&settings, &id, Some(&node));
        settings.late.store(Some(Arc::new(detected)));
        done.set();
    };
    let failure = format!("the k8snode detector did not answer within timeout ({within:?})");
    let ready = Ready { when: waiting, within, failure, fatal: false };
    Some(Background { run: Box::pin(run), ready: Some(ready) })
}

/// `k8s.node.name` and `k8s.node.uid` of the node named by the `node_from_env_var` variable.
async fn k8snode(settings: &Settings) -> Result<Vec<KeyValue>, String> {
    let (api, variable, [name_on, uid_on]) = &settings.k8snode;
    let name = std::env::var(variable)
        .ok()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("the environment variable {variable} holds no node name"))?;
    let client = weir_kubernetes::client(api).await?;
    let node =
        Api::<Node>::all(client).get(&name).await.map_err(|e| format!("node {name}: {e}"))?;
    let mut found = Vec::new();
    if *name_on {
        found.push(kv("k8s.node.name", &name));
    }
    if *uid_on && let Some(uid) = &node.metadata.uid {
        found.push(kv("k8s.node.uid", uid));
    }
    Ok(found)
}
