//! What the kubelet's pod list (`GET {endpoint}/pods`) adds to the summary for
//! `extra_metadata_labels`: containers' ids and volumes' types.

use weir_otlp::{attributes::kv, proto::common::v1::KeyValue};

/// `extra_metadata_labels`, as asked.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Labels {
    pub(crate) container_id: bool,
    pub(crate) volume_type: bool,
}

/// What the kubelet's pod list adds to the summary, by pod uid and container or volume name.
#[derive(Debug, Default)]
pub(crate) struct PodFacts {
    /// Container ids (the runtime's `containerd://` prefix removed).
    pub(crate) containers: std::collections::HashMap<(String, String), String>,
    /// Volumes' type attributes.
    pub(crate) volumes: std::collections::HashMap<(String, String), Vec<KeyValue>>,
}

/// The facts `labels` asks for, from the kubelet's pod list.
pub(crate) fn pod_facts(pods: &[u8], labels: Labels) -> Result<PodFacts, serde_json::Error> {
    let list: serde_json::Value = serde_json::from_slice(pods)?;
    let mut facts = PodFacts::default();
    for pod in list["items"].as_array().into_iter().flatten() {
        let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
        let status = &pod["status"];
        let statuses = ["containerStatuses", "initContainerStatuses"];
        for container in statuses.iter().filter_map(|k| status[k].as_array()).flatten() {
            let (true, Some(name), Some(id)) = (
                labels.container_id,
                container["name"].as_str(),
                container["containerID"].as_str(),
            ) else {
                continue;
            };
            let id = id.split_once("://").map_or(id, |(_, id)| id);
            facts.containers.insert((uid.to_owned(), name.to_owned()), id.to_owned());
        }
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            let Some(name) = volume["name"].as_str().filter(|_| labels.volume_type) else {
                continue;
            };
            facts.volumes.insert((uid.to_owned(), name.to_owned()), volume_type(volume));
        }
    }
    Ok(facts)
}

/// A volume's type and its source's identifying attributes, from its spec.
fn volume_type(volume: &serde_json::Value) -> Vec<KeyValue> {
    let text =
        |source: &str, field: &str| volume[source][field].as_str().unwrap_or_default().to_owned();
    let partition = |source: &str| volume[source]["partition"].as_i64().unwrap_or(0).to_string();
    let is = |source: &str| volume[source].is_object();
    let mut out = Vec::new();
    for plain in ["configMap", "downwardAPI", "emptyDir", "secret"] {
        if is(plain) {
            out.push(kv("k8s.volume.type", plain));
            return out;
        }
    }
    if is("persistentVolumeClaim") {
        out.push(kv("k8s.volume.type", "persistentVolumeClaim"));
        out.push(kv("k8s.persistentvolumeclaim.name", &text("persistentVolumeClaim", "claimName")));
    } else if is("hostPath") {
        out.push(kv("k8s.volume.type", "hostPath"));
    } else if is("awsElasticBlockStore") {
        out.push(kv("k8s.volume.type", "awsElasticBlockStore"));
        out.push(kv("aws.volume.id", &text("awsElasticBlockStore", "volumeID")));
        out.push(kv("fs.type", &text("awsElasticBlockStore", "fsType")));
        out.push(kv("partition", &partition("awsElasticBlockStore")));
    } else if is("gcePersistentDisk") {
        out.push(kv("k8s.volume.type", "gcePersistentDisk"));
        out.push(kv("gce.pd.name", &text("gcePersistentDisk", "pdName")));
        out.push(kv("fs.type", &text("gcePersistentDisk", "fsType")));
        out.push(kv("partition", &partition("gcePersistentDisk")));
    } else if is("glusterfs") {
        out.push(kv("k8s.volume.type", "glusterfs"));
        out.push(kv("glusterfs.endpoints.name", &text("glusterfs", "endpoints")));
        out.push(kv("glusterfs.path", &text("glusterfs", "path")));
    }
    out
}
