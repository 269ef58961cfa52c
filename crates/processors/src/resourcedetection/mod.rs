//! The `resource_detection` processor (alias `resourcedetection`): attributes detected when
//! weir starts, added to every resource, with the Collector's options — `detectors` (in
//! order; the first detector to find an attribute wins), `override` (default `true`: detected
//! values replace what a resource carries), `timeout`, `refresh_interval`,
//! `fail_on_missing_metadata`, `retry`, and per detector `resource_attributes.<name>.enabled`
//! with the Collector's defaults.
//!
//! Detectors: `env` (`OTEL_RESOURCE_ATTRIBUTES`, values percent-decoded), `system`
//! (`hostname_sources` `os` and `dns`, `host.id` from the machine id, `host.arch`, `os.type`,
//! `os.description`, `os.version`, `host.cpu.*` from `/proc/cpuinfo`) read here; `k8snode`,
//! `eks` (the Kubernetes API), `gcp`, `ec2`, `ecs`, `azure`, `aks` and `docker` (their
//! metadata services, through `weir-cloud`) asked beside the processor at start
//! (`remote.rs`): the receivers wait for them at most `timeout`. A detector whose service is
//! not there adds nothing; one that fails is logged and counted
//! (`weir_resource_detection_failures_total`), and weir starts with what the others found.
//!
//! Batches stay encoded: the attributes are applied to each resource on the wire.

mod config;
mod detect;
mod remote;
#[cfg(test)]
mod tests;

pub use config::{
    AzureConfig, CloudConfig, Config, Ec2Config, EksConfig, EnvConfig, GcpConfig, K8sNodeConfig,
    RetryConfig, Settings, SystemConfig, Toggle, Toggles,
};

use weir_core::{Batch, Output, Processor};
use weir_otlp::proto::{common::v1::KeyValue, resource::v1::Resource};

/// The `resourcedetection` processor, with what its detectors found.
pub struct ResourceDetection {
    detected: Vec<KeyValue>,
    /// What every detector found, once the remote ones have answered.
    late: Option<std::sync::Arc<arc_swap::ArcSwapOption<Vec<KeyValue>>>>,
    override_existing: bool,
}

impl ResourceDetection {
    /// A processor adding `detected` to every resource.
    pub fn new(detected: Vec<KeyValue>, override_existing: bool) -> ResourceDetection {
        ResourceDetection { detected, late: None, override_existing }
    }

    fn apply(&self, detected: &[KeyValue], resource: &mut Option<Resource>) {
        let attributes = &mut resource.get_or_insert_with(Resource::default).attributes;
        for kv in detected {
            match attributes.iter_mut().find(|a| a.key == kv.key) {
                Some(existing) if self.override_existing => existing.value = kv.value.clone(),
                Some(_) => {}
                None => attributes.push(kv.clone()),
            }
        }
    }
}

impl Processor for ResourceDetection {
    fn process(&mut self, mut batch: Batch, out: &mut Output) {
        let late = self.late.as_ref().and_then(|late| late.load_full());
        let detected = late.as_deref().unwrap_or(&self.detected);
        if !detected.is_empty() {
            batch.for_each_resource(|resource| self.apply(detected, resource));
        }
        out.push(batch);
    }
}
