//! The kubelet's Summary API (`GET /stats/summary`, `k8s.io/kubelet/pkg/apis/stats/v1alpha1`):
//! the fields the receiver reads, as the kubelet writes them in JSON. Every figure is optional,
//! as the kubelet leaves out what it could not measure.

use serde::Deserialize;

/// The summary of one node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Summary {
    pub(crate) node: NodeStats,
    pub(crate) pods: Vec<PodStats>,
}

/// `node`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeStats {
    pub(crate) node_name: String,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) network: Option<Network>,
    pub(crate) fs: Option<Fs>,
}

/// `cpu`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Cpu {
    pub(crate) usage_nano_cores: Option<u64>,
    pub(crate) usage_core_nano_seconds: Option<u64>,
}

/// `memory`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Memory {
    pub(crate) available_bytes: Option<u64>,
    pub(crate) usage_bytes: Option<u64>,
    pub(crate) working_set_bytes: Option<u64>,
    pub(crate) rss_bytes: Option<u64>,
    pub(crate) page_faults: Option<u64>,
    pub(crate) major_page_faults: Option<u64>,
}

/// `network`: the default interface's figures (inline) and every interface's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Network {
    #[serde(flatten)]
    pub(crate) default: Interface,
    pub(crate) interfaces: Vec<Interface>,
}

/// One interface.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Interface {
    pub(crate) name: String,
    pub(crate) rx_bytes: Option<u64>,
    pub(crate) rx_errors: Option<u64>,
    pub(crate) tx_bytes: Option<u64>,
    pub(crate) tx_errors: Option<u64>,
}

/// `fs`, `rootfs`, `logs`, `ephemeral-storage`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Fs {
    pub(crate) available_bytes: Option<u64>,
    pub(crate) capacity_bytes: Option<u64>,
    pub(crate) used_bytes: Option<u64>,
}

/// One pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodStats {
    pub(crate) pod_ref: PodRef,
    pub(crate) containers: Vec<ContainerStats>,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) network: Option<Network>,
    pub(crate) volume: Vec<VolumeStats>,
    #[serde(rename = "ephemeral-storage")]
    pub(crate) ephemeral_storage: Option<Fs>,
}

/// `podRef`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodRef {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) uid: String,
}

/// One container of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerStats {
    pub(crate) name: String,
    pub(crate) cpu: Option<Cpu>,
    pub(crate) memory: Option<Memory>,
    pub(crate) rootfs: Option<Fs>,
}

/// One volume of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct VolumeStats {
    pub(crate) name: String,
    pub(crate) available_bytes: Option<u64>,
    pub(crate) capacity_bytes: Option<u64>,
    pub(crate) used_bytes: Option<u64>,
    pub(crate) inodes: Option<u64>,
    pub(crate) inodes_free: Option<u64>,
    pub(crate) inodes_used: Option<u64>,
}
