//! `processors.resource_detection`: the options as written and their validation.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;
use weir_core::{Component, ConfigError};

/// `resource_attributes`: `<name>: {enabled: bool}`.
pub type Toggles = BTreeMap<String, Toggle>;

/// `processors.resource_detection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `detectors`, in order.
    pub detectors: Vec<String>,
    /// `override`.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// `timeout`: how long detection may take at start (each detector within it).
    pub timeout: String,
    /// `refresh_interval`: detect again this often (`0`: once, at start).
    pub refresh_interval: String,
    /// `fail_on_missing_metadata`: a detector whose metadata service is missing or fails
    /// stops weir from starting.
    pub fail_on_missing_metadata: bool,
    /// `retry`: how a failing detector is asked again within `timeout`.
    pub retry: RetryConfig,
    /// `env`: no options.
    pub env: Option<EnvConfig>,
    /// `system`.
    pub system: SystemConfig,
    /// `k8snode`.
    pub k8snode: K8sNodeConfig,
    /// `gcp`.
    pub gcp: GcpConfig,
    /// `ec2`.
    pub ec2: Ec2Config,
    /// `eks`.
    pub eks: EksConfig,
    /// `ecs`.
    pub ecs: CloudConfig,
    /// `azure`.
    pub azure: AzureConfig,
    /// `aks`.
    pub aks: CloudConfig,
    /// `docker`.
    pub docker: CloudConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            detectors: vec!["env".into()],
            override_existing: true,
            timeout: "5s".into(),
            refresh_interval: "0s".into(),
            fail_on_missing_metadata: false,
            retry: RetryConfig::default(),
            env: None,
            system: SystemConfig::default(),
            k8snode: K8sNodeConfig::default(),
            gcp: GcpConfig::default(),
            ec2: Ec2Config::default(),
            eks: EksConfig::default(),
            ecs: CloudConfig::default(),
            azure: AzureConfig::default(),
            aks: CloudConfig::default(),
            docker: CloudConfig::default(),
        }
    }
}

/// `retry`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// `enabled`.
    pub enabled: bool,
    /// `initial_interval`.
    pub initial_interval: String,
    /// `randomization_factor` (accepted; weir's waits are not randomized: one process asks
    /// once at start).
    pub randomization_factor: f64,
    /// `multiplier`.
    pub multiplier: f64,
    /// `max_interval`.
    pub max_interval: String,
    /// `max_elapsed_time` (`0`: until `timeout`).
    pub max_elapsed_time: String,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: "1s".into(),
            randomization_factor: 0.5,
            multiplier: 2.0,
            max_interval: "30s".into(),
            max_elapsed_time: "0s".into(),
        }
    }
}

/// `env`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {}

/// `system`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// `hostname_sources`: `dns`, `os`, `cname`, `lookup` (tried in order).
    pub hostname_sources: Vec<String>,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

impl Default for SystemConfig {
    fn default() -> SystemConfig {
        SystemConfig {
            hostname_sources: vec!["dns".into(), "os".into()],
            resource_attributes: Toggles::new(),
        }
    }
}

/// `k8snode`: the node's name and uid from the Kubernetes API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct K8sNodeConfig {
    /// `auth_type`.
    pub auth_type: weir_kubernetes::AuthType,
    /// `context` (with `auth_type: kubeConfig`).
    pub context: Option<String>,
    /// `kube_config_path` (with `auth_type: kubeConfig`).
    pub kube_config_path: Option<std::path::PathBuf>,
    /// `node_from_env_var`: the environment variable holding the node's name.
    pub node_from_env_var: String,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

impl Default for K8sNodeConfig {
    fn default() -> K8sNodeConfig {
        K8sNodeConfig {
            auth_type: weir_kubernetes::AuthType::ServiceAccount,
            context: None,
            kube_config_path: None,
            node_from_env_var: "K8S_NODE_NAME".into(),
            resource_attributes: Toggles::new(),
        }
    }
}

/// `ecs`, `aks`, `docker`: where the service is and which attributes to add.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    /// `endpoint` (weir's): where the metadata service is, when not where the platform puts
    /// it (ECS: `ECS_CONTAINER_METADATA_URI_V4`; Docker: `DOCKER_HOST`; Azure: IMDS).
    pub endpoint: Option<String>,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

/// `gcp`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcpConfig {
    /// `endpoint` (weir's; else `GCE_METADATA_HOST`, else `http://169.254.169.254`).
    pub endpoint: Option<String>,
    /// `labels`: instance labels to add, read from the Compute API (not built in weir).
    pub labels: Vec<String>,
    /// `gke_host_type`: the GKE node's machine type from the Compute API (not built in weir).
    pub gke_host_type: bool,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

/// `ec2`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Config {
    /// `endpoint` (weir's; else `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else
    /// `http://169.254.169.254`).
    pub endpoint: Option<String>,
    /// `tags`: regular expressions; tags whose keys match become `ec2.tag.<key>`.
    pub tags: Vec<String>,
    /// `tags_from_imds`: read the tags from the instance metadata (the only way weir reads
    /// them).
    pub tags_from_imds: bool,
    /// `max_attempts` (deprecated; accepted: `retry` governs).
    pub max_attempts: Option<u32>,
    /// `max_backoff` (deprecated; accepted: `retry` governs).
    pub max_backoff: Option<String>,
    /// `fail_on_missing_metadata` (deprecated in favour of the processor's).
    pub fail_on_missing_metadata: bool,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

/// `eks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EksConfig {
    /// `endpoint` (weir's): the instance metadata service, as for `ec2`.
    pub endpoint: Option<String>,
    /// `node_from_env_var`: the node's name, to read its provider id from the API when the
    /// instance metadata service cannot be reached.
    pub node_from_env_var: Option<String>,
    /// `auth_type` (weir's, as `k8snode` has it): how the API server is asked whether it is
    /// EKS.
    pub auth_type: weir_kubernetes::AuthType,
    /// `context` (with `auth_type: kubeConfig`).
    pub context: Option<String>,
    /// `kube_config_path` (with `auth_type: kubeConfig`).
    pub kube_config_path: Option<std::path::PathBuf>,
    /// `max_attempts` (deprecated; accepted).
    pub max_attempts: Option<u32>,
    /// `max_backoff` (deprecated; accepted).
    pub max_backoff: Option<String>,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

/// `azure`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureConfig {
    /// `endpoint` (weir's; else `http://169.254.169.254`).
    pub endpoint: Option<String>,
    /// `tags`: regular expressions; tags whose names match become `azure.tag.<name>`.
    pub tags: Vec<String>,
    /// `resource_attributes`.
    pub resource_attributes: Toggles,
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// `enabled`.
    pub enabled: bool,
}

/// Each detector's attributes with the Collector's defaults (enabled or not), in the order
/// of its documentation.
const ATTRIBUTES: &[(&str, &[(&str, bool)])] = &[
    ("env", &[]),
    (
        "system",
        &[
            ("host.name", true),
            ("os.type", true),
            ("host.id", false),
            ("host.arch", false),
            ("os.description", false),
            ("os.version", false),
            ("host.cpu.vendor.id", false),
            ("host.cpu.family", false),
            ("host.cpu.model.id", false),
            ("host.cpu.model.name", false),
            ("host.cpu.stepping", false),
            ("host.ip", false),
            ("host.mac", false),
        ],
    ),
    ("k8snode", &[("k8s.node.name", true), ("k8s.node.uid", true)]),
    (
        "gcp",
        &[
            ("cloud.provider", true),
            ("cloud.platform", true),
            ("cloud.account.id", true),
            ("cloud.region", true),
            ("cloud.availability_zone", true),
            ("faas.id", true),
            ("faas.instance", true),
            ("faas.name", true),
            ("faas.version", true),
            ("gcp.cloud_run.job.execution", true),
            ("gcp.cloud_run.job.task_index", true),
            ("gcp.gce.instance.hostname", false),
            ("gcp.gce.instance.name", false),
            ("gcp.gce.instance_group_manager.name", true),
            ("gcp.gce.instance_group_manager.region", true),
            ("gcp.gce.instance_group_manager.zone", true),
            ("host.id", true),
            ("host.name", true),
            ("host.type", true),
            ("k8s.cluster.name", true),
        ],
    ),
    (
        "ec2",
        &[
            ("cloud.provider", true),
            ("cloud.platform", true),
            ("cloud.account.id", true),
            ("cloud.region", true),
            ("cloud.availability_zone", true),
            ("host.id", true),
            ("host.image.id", true),
            ("host.type", true),
            ("host.name", true),
        ],
    ),
    (
        "eks",
        &[
            ("cloud.provider", true),
            ("cloud.platform", true),
            ("cloud.account.id", false),
            ("cloud.region", false),
            ("cloud.availability_zone", false),
            ("host.id", false),
            ("host.image.id", false),
            ("host.name", false),
            ("host.type", false),
            ("k8s.cluster.name", false),
        ],
    ),
    (
        "ecs",
        &[
            ("cloud.provider", true),
            ("cloud.platform", true),
            ("cloud.account.id", true),
            ("cloud.region", true),
            ("cloud.availability_zone", true),
            ("aws.ecs.cluster.arn", true),
            ("aws.ecs.task.arn", true),
            ("aws.ecs.task.family", true),
            ("aws.ecs.task.id", true),
            ("aws.ecs.task.revision", true),
            ("aws.ecs.launchtype", true),
            ("aws.log.group.names", true),
            ("aws.log.group.arns", true),
            ("aws.log.stream.names", true),
            ("aws.log.stream.arns", true),
        ],
    ),
    (
        "azure",
        &[
            ("cloud.provider", true),
            ("cloud.platform", true),
            ("cloud.region", true),
            ("cloud.account.id", true),
            ("cloud.availability_zone", false),
            ("host.id", true),
            ("host.name", true),
            ("azure.vm.name", true),
            ("azure.vm.size", true),
            ("azure.vm.scaleset.name", true),
            ("azure.resourcegroup.name", true),
        ],
    ),
    ("aks", &[("cloud.provider", true), ("cloud.platform", true), ("k8s.cluster.name", false)]),
    (
        "docker",
        &[
            ("host.name", true),
            ("os.type", true),
            ("container.name", false),
            ("container.image.name", false),
        ],
    ),
];

/// Attributes the Collector has that weir cannot detect, and why.
const NOT_DETECTED: &[(&str, &str, &str)] = &[
    ("system", "host.ip", "is not detected by weir yet"),
    ("system", "host.mac", "is not detected by weir yet"),
    (
        "eks",
        "k8s.cluster.name",
        "needs the EC2 DescribeInstances API, which weir does not call (the instance's tags from its metadata are: ec2 with tags_from_imds)",
    ),
];

/// Detectors the Collector has that weir does not build.
const NOT_BUILT: &[&str] =
    &["heroku", "openshift", "consul", "elastic_beanstalk", "lambda", "dynatrace", "akamai"];

/// How a failing detector is asked again.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    pub(super) enabled: bool,
    pub(super) initial: Duration,
    pub(super) multiplier: f64,
    pub(super) max_interval: Duration,
    /// Zero: until `timeout`.
    pub(super) max_elapsed: Duration,
}

/// The validated processor.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(super) detectors: Vec<String>,
    pub(super) override_existing: bool,
    pub(super) hostname_sources: Vec<String>,
    /// Per detector, the attributes enabled.
    pub(super) enabled: BTreeMap<&'static str, Vec<&'static str>>,
    pub(super) timeout: Duration,
    pub(super) refresh_interval: Duration,
    pub(super) fail_on_missing_metadata: bool,
    pub(super) retry: Retry,
    /// Per detector, the endpoint configured (else the platform's).
    pub(super) endpoints: BTreeMap<&'static str, String>,
    /// `ec2.tags` and `azure.tags`, compiled.
    pub(super) tags: BTreeMap<&'static str, Vec<regex::Regex>>,
    /// `k8snode`: the API and the node's variable.
    pub(super) k8snode: (weir_kubernetes::ApiConfig, String),
    /// `eks`: the API and the node's variable.
    pub(super) eks: (weir_kubernetes::ApiConfig, Option<String>),
    /// What every detector found, once the ones that ask a remote service have answered.
    pub(super) late:
        std::sync::Arc<arc_swap::ArcSwapOption<Vec<weir_otlp::proto::common::v1::KeyValue>>>,
}

impl Settings {
    /// Whether `detector` adds `attribute`.
    pub(super) fn enabled(&self, detector: &str, attribute: &str) -> bool {
        self.enabled.get(detector).is_some_and(|on| on.contains(&attribute))
    }
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "resource_detection",
        aliases: &["resourcedetection"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Alpha,
        summary: "adds attributes detected at start (environment, host, cloud, container, node) to every resource",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let known = |d: &str| ATTRIBUTES.iter().any(|(name, _)| *name == d);
        for (i, detector) in config.detectors.iter().enumerate() {
            let d = detector.as_str();
            if NOT_BUILT.contains(&d) {
                let built: Vec<&str> = ATTRIBUTES.iter().map(|(name, _)| *name).collect();
                errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!(
                        "the {d} detector is not built in weir (these are: {})",
                        built.join(", ")
                    ),
                ));
            } else if !known(d) {
                errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!("unknown detector {d:?}"),
                ));
            }
        }
        let mut duration = |path: &str, text: &str| {
            weir_core::duration::parse(text)
                .map_err(|e| errors.push(ConfigError::new(path, e)))
                .unwrap_or_default()
        };
        let timeout = duration("timeout", &config.timeout);
        let refresh_interval = duration("refresh_interval", &config.refresh_interval);
        let retry = Retry {
            enabled: config.retry.enabled,
            initial: duration("retry.initial_interval", &config.retry.initial_interval),
            multiplier: config.retry.multiplier,
            max_interval: duration("retry.max_interval", &config.retry.max_interval),
            max_elapsed: duration("retry.max_elapsed_time", &config.retry.max_elapsed_time),
        };
        for deprecated in [&config.ec2.max_backoff, &config.eks.max_backoff].into_iter().flatten() {
            duration("max_backoff", deprecated);
        }
        let timeout_valid = weir_core::duration::parse(&config.timeout).is_ok();
        if retry.enabled && timeout_valid && timeout.is_zero() && retry.max_elapsed.is_zero() {
            errors.push(ConfigError::new(
                "retry",
                "with timeout 0 and max_elapsed_time 0 retries would never end: set one of them",
            ));
        }
        if !(1.0..=100.0).contains(&config.retry.multiplier) {
            errors.push(ConfigError::new("retry.multiplier", "must be between 1 and 100"));
        }
        let toggles: [(&'static str, &Toggles); 10] = [
            ("system", &config.system.resource_attributes),
            ("k8snode", &config.k8snode.resource_attributes),
            ("gcp", &config.gcp.resource_attributes),
            ("ec2", &config.ec2.resource_attributes),
            ("eks", &config.eks.resource_attributes),
            ("ecs", &config.ecs.resource_attributes),
            ("azure", &config.azure.resource_attributes),
            ("aks", &config.aks.resource_attributes),
            ("docker", &config.docker.resource_attributes),
            ("env", &Toggles::new()),
        ];
        let mut enabled = BTreeMap::new();
        for (detector, toggles) in toggles {
            enabled.insert(detector, attributes(detector, toggles, &mut errors));
        }
        for (i, source) in config.system.hostname_sources.iter().enumerate() {
            if !["dns", "os", "cname", "lookup"].contains(&source.as_str()) {
                errors.push(ConfigError::new(
                    format!("system.hostname_sources[{i}]"),
                    format!("unknown source {source:?}: expected dns, os, cname or lookup"),
                ));
            }
        }
        if !config.gcp.labels.is_empty() {
            errors.push(ConfigError::new(
                "gcp.labels",
                "instance labels come from the Compute API, which weir does not call",
            ));
        }
        if config.gcp.gke_host_type {
            errors.push(ConfigError::new(
                "gcp.gke_host_type",
                "the node's machine type comes from the Compute API, which weir does not call",
            ));
        }
        if !config.ec2.tags.is_empty() && !config.ec2.tags_from_imds {
            errors.push(ConfigError::new(
                "ec2.tags",
                "weir reads tags from the instance metadata only: set tags_from_imds: true (and allow tags in the instance's metadata)",
            ));
        }
        let mut endpoints = BTreeMap::new();
        let configured = [
            ("gcp", &config.gcp.endpoint),
            ("ec2", &config.ec2.endpoint),
            ("eks", &config.eks.endpoint),
            ("ecs", &config.ecs.endpoint),
            ("azure", &config.azure.endpoint),
            ("aks", &config.aks.endpoint),
            ("docker", &config.docker.endpoint),
        ];
        for (detector, endpoint) in configured {
            if let Some(endpoint) = endpoint {
                match weir_cloud::Endpoint::parse(endpoint) {
                    Ok(_) => {
                        endpoints.insert(detector, endpoint.clone());
                    }
                    Err(e) => errors.push(ConfigError::new(format!("{detector}.endpoint"), e)),
                }
            }
        }
        let mut tags = BTreeMap::new();
        for (detector, patterns) in [("ec2", &config.ec2.tags), ("azure", &config.azure.tags)] {
            let mut compiled = Vec::new();
            for (i, pattern) in patterns.iter().enumerate() {
                match regex::Regex::new(pattern) {
                    Ok(regex) => compiled.push(regex),
                    Err(e) => errors.push(ConfigError::new(
                        format!("{detector}.tags[{i}]"),
                        format!("invalid regular expression {pattern:?}: {e}"),
                    )),
                }
            }
            tags.insert(detector, compiled);
        }
        let api = |auth_type, context: &Option<String>, path: &Option<std::path::PathBuf>| {
            weir_kubernetes::ApiConfig {
                auth_type,
                context: context.clone(),
                kube_config_path: path.clone(),
            }
        };
        let node = &config.k8snode;
        let eks = &config.eks;
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            detectors: config.detectors,
            override_existing: config.override_existing,
            hostname_sources: config.system.hostname_sources,
            enabled,
            timeout,
            refresh_interval,
            fail_on_missing_metadata: config.fail_on_missing_metadata
                || config.ec2.fail_on_missing_metadata,
            retry,
            endpoints,
            tags,
            k8snode: (
                api(node.auth_type, &node.context, &node.kube_config_path),
                node.node_from_env_var.clone(),
            ),
            eks: (
                api(eks.auth_type, &eks.context, &eks.kube_config_path),
                eks.node_from_env_var.clone(),
            ),
            late: Default::default(),
        })
    }
}

/// The attributes of `detector` enabled by `toggles` over the Collector's defaults.
fn attributes(
    detector: &'static str,
    toggles: &Toggles,
    errors: &mut Vec<ConfigError>,
) -> Vec<&'static str> {
    let all = ATTRIBUTES.iter().find(|(d, _)| *d == detector).map_or(&[][..], |(_, a)| *a);
    let mut on = Vec::new();
    for (name, default) in all {
        let enabled = toggles.get(*name).map_or(*default, |t| t.enabled);
        if !enabled {
            continue;
        }
        if let Some((_, _, why)) = NOT_DETECTED.iter().find(|(d, n, _)| *d == detector && n == name)
        {
            errors.push(ConfigError::new(format!("{detector}.resource_attributes.{name}"), *why));
        }
        on.push(*name);
    }
    for name in toggles.keys() {
        if !all.iter().any(|(n, _)| n == name) {
            errors.push(ConfigError::new(
                format!("{detector}.resource_attributes.{name}"),
                format!("is not an attribute of the {detector} detector"),
            ));
        }
    }
    on
}

impl weir_core::declare::BuildProcessor for Settings {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let detected = super::detect::detect(self, id, None);
        let mut processor = super::ResourceDetection::new(detected, self.override_existing);
        processor.late = Some(self.late.clone());
        Box::new(processor)
    }

    fn background(
        &self,
        id: &str,
        shutdown: weir_core::CancellationToken,
    ) -> weir_core::BoxFuture<'_, Result<Option<weir_core::declare::Background>, String>> {
        let started = super::remote::start(self.clone(), id.to_owned(), shutdown);
        Box::pin(std::future::ready(Ok(started)))
    }
}
