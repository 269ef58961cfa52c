//! Azure: the instance metadata service's compute document
//! (`/metadata/instance/compute?api-version=2020-09-01&format=json`, header `Metadata: true`),
//! read as the Collector's `azure` and `aks` detectors read it.

use std::time::Duration;

use serde::Deserialize;

use super::{Attributes, Endpoint, Env, Error, get_json, push};

/// The compute document's path and query.
pub const COMPUTE: &str = "/metadata/instance/compute?api-version=2020-09-01&format=json";

/// The compute document, the fields used.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Compute {
    location: String,
    name: String,
    vm_id: String,
    vm_size: String,
    subscription_id: String,
    resource_group_name: String,
    vm_scale_set_name: String,
    zone: String,
    os_profile: OsProfile,
    tags_list: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OsProfile {
    computer_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Tag {
    name: String,
    value: String,
}

/// Reads the compute document. Off Azure nothing answers: [`Error::Unreachable`].
pub async fn compute(endpoint: &Endpoint, within: Duration) -> Result<Compute, Error> {
    get_json(endpoint, COMPUTE, &[("Metadata", "true")], within).await
}

/// What the `azure` detector finds, with the tags whose names `tag` accepts as
/// `azure.tag.<name>`.
pub fn vm(compute: &Compute, tag: Option<&(dyn Fn(&str) -> bool + Sync)>) -> Attributes {
    let mut found = Attributes::new();
    push(&mut found, "cloud.provider", "azure");
    push(&mut found, "cloud.platform", "azure_vm");
    push(&mut found, "cloud.region", &compute.location);
    push(&mut found, "cloud.account.id", &compute.subscription_id);
    push(&mut found, "cloud.availability_zone", &compute.zone);
    push(&mut found, "host.id", &compute.vm_id);
    // A VM made from a specialized disk has no computer name: the VM's name stands in.
    let host = &compute.os_profile.computer_name;
    push(&mut found, "host.name", if host.is_empty() { &compute.name } else { host });
    push(&mut found, "azure.vm.name", &compute.name);
    push(&mut found, "azure.vm.size", &compute.vm_size);
    push(&mut found, "azure.vm.scaleset.name", &compute.vm_scale_set_name);
    push(&mut found, "azure.resourcegroup.name", &compute.resource_group_name);
    if let Some(tag) = tag {
        for t in compute.tags_list.iter().filter(|t| tag(&t.name)) {
            push(&mut found, &format!("azure.tag.{}", t.name), &t.value);
        }
    }
    found
}

/// What the `aks` detector finds: on Kubernetes (`KUBERNETES_SERVICE_HOST`) on an Azure VM,
/// AKS, and the cluster's name from the node resource group (`MC_<group>_<cluster>_<region>`;
/// a custom group's whole name, which Azure keeps unique per cluster). Elsewhere nothing.
pub fn aks(compute: &Compute, env: Env<'_>) -> Attributes {
    let mut found = Attributes::new();
    if env("KUBERNETES_SERVICE_HOST").is_none_or(|h| h.is_empty()) {
        return found;
    }
    push(&mut found, "cloud.provider", "azure");
    push(&mut found, "cloud.platform", "azure_aks");
    push(&mut found, "k8s.cluster.name", cluster_name(&compute.resource_group_name));
    found
}

fn cluster_name(group: &str) -> &str {
    let parts: Vec<&str> = group.split('_').collect();
    match parts[..] {
        [mc, _, cluster, _] if mc.eq_ignore_ascii_case("mc") => cluster,
        _ => group,
    }
}
