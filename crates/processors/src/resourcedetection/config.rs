//! `processors.resourcedetection`: the options as written and their validation.

use std::collections::BTreeMap;

use serde::Deserialize;
use weir_core::{Component, ConfigError};

/// `processors.resourcedetection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `detectors`, in order.
    pub detectors: Vec<String>,
    /// `override`.
    #[serde(rename = "override")]
    pub override_existing: bool,
    /// `timeout` (a duration; the local detectors need far less).
    pub timeout: String,
    /// `env`: no options.
    pub env: Option<EnvConfig>,
    /// `system`.
    pub system: SystemConfig,
    /// `k8snode`.
    pub k8snode: K8sNodeConfig,
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
    /// `resource_attributes.<name>.enabled`: `k8s.node.name`, `k8s.node.uid`.
    pub resource_attributes: BTreeMap<String, Toggle>,
}

impl Default for K8sNodeConfig {
    fn default() -> K8sNodeConfig {
        K8sNodeConfig {
            auth_type: weir_kubernetes::AuthType::ServiceAccount,
            context: None,
            kube_config_path: None,
            node_from_env_var: "K8S_NODE_NAME".into(),
            resource_attributes: BTreeMap::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            detectors: vec!["env".into()],
            override_existing: true,
            timeout: "5s".into(),
            env: None,
            system: SystemConfig::default(),
            k8snode: K8sNodeConfig::default(),
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
    /// `resource_attributes.<name>.enabled`.
    pub resource_attributes: BTreeMap<String, Toggle>,
}

impl Default for SystemConfig {
    fn default() -> SystemConfig {
        SystemConfig {
            hostname_sources: vec!["dns".into(), "os".into()],
            resource_attributes: BTreeMap::new(),
        }
    }
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// `enabled`.
    pub enabled: bool,
}

/// The `system` detector's attributes with the Collector's defaults (enabled or not).
pub(super) const SYSTEM_ATTRIBUTES: &[(&str, bool)] = &[
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
];

/// Detectors the Collector has that weir does not build yet.
const NOT_YET: &[&str] = &[
    "gcp",
    "ec2",
    "azure",
    "eks",
    "aks",
    "ecs",
    "docker",
    "heroku",
    "openshift",
    "consul",
    "elastic_beanstalk",
    "lambda",
];

/// The validated processor.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(super) detectors: Vec<String>,
    pub(super) override_existing: bool,
    pub(super) hostname_sources: Vec<String>,
    /// The `system` attributes enabled.
    pub(super) system_attributes: Vec<&'static str>,
    pub(super) timeout: std::time::Duration,
    /// `k8snode`: the API, the node's variable, and whether `k8s.node.name` and
    /// `k8s.node.uid` are enabled.
    pub(super) k8snode: (weir_kubernetes::ApiConfig, String, [bool; 2]),
    /// What every detector found, once the ones that ask a remote API have answered.
    pub(super) late:
        std::sync::Arc<arc_swap::ArcSwapOption<Vec<weir_otlp::proto::common::v1::KeyValue>>>,
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "resourcedetection",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Alpha,
        summary: "adds attributes detected at start (environment, host) to every resource",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        for (i, detector) in config.detectors.iter().enumerate() {
            match detector.as_str() {
                "env" | "system" | "k8snode" => {}
                d if NOT_YET.contains(&d) => errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!(
                        "the {d} detector is not built in weir yet (env, system and k8snode are)"
                    ),
                )),
                d => errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!("unknown detector {d:?}"),
                )),
            }
        }
        let timeout = weir_core::duration::parse(&config.timeout)
            .map_err(|e| errors.push(ConfigError::new("timeout", e)))
            .unwrap_or_default();
        let node = &config.k8snode;
        let mut node_attributes = [true, true];
        for (name, toggle) in &node.resource_attributes {
            match name.as_str() {
                "k8s.node.name" => node_attributes[0] = toggle.enabled,
                "k8s.node.uid" => node_attributes[1] = toggle.enabled,
                _ => errors.push(ConfigError::new(
                    format!("k8snode.resource_attributes.{name}"),
                    "is not an attribute of the k8snode detector",
                )),
            }
        }
        let api = weir_kubernetes::ApiConfig {
            auth_type: node.auth_type,
            context: node.context.clone(),
            kube_config_path: node.kube_config_path.clone(),
        };
        for (i, source) in config.system.hostname_sources.iter().enumerate() {
            if !["dns", "os", "cname", "lookup"].contains(&source.as_str()) {
                errors.push(ConfigError::new(
                    format!("system.hostname_sources[{i}]"),
                    format!("unknown source {source:?}: expected dns, os, cname or lookup"),
                ));
            }
        }
        let mut system_attributes = Vec::new();
        for (name, default) in SYSTEM_ATTRIBUTES {
            let enabled =
                config.system.resource_attributes.get(*name).map_or(*default, |t| t.enabled);
            if enabled && ["host.ip", "host.mac"].contains(name) {
                errors.push(ConfigError::new(
                    format!("system.resource_attributes.{name}"),
                    "is not detected by weir yet",
                ));
            }
            if enabled {
                system_attributes.push(*name);
            }
        }
        for name in config.system.resource_attributes.keys() {
            if !SYSTEM_ATTRIBUTES.iter().any(|(n, _)| n == name) {
                errors.push(ConfigError::new(
                    format!("system.resource_attributes.{name}"),
                    "is not an attribute of the system detector",
                ));
            }
        }
        if errors.is_empty() {
            Ok(Settings {
                detectors: config.detectors,
                override_existing: config.override_existing,
                hostname_sources: config.system.hostname_sources,
                system_attributes,
                timeout,
                k8snode: (api, config.k8snode.node_from_env_var, node_attributes),
                late: Default::default(),
            })
        } else {
            Err(errors)
        }
    }
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
        _shutdown: weir_core::CancellationToken,
    ) -> weir_core::BoxFuture<'_, Result<Option<weir_core::declare::Background>, String>> {
        Box::pin(std::future::ready(Ok(super::remote::start(self.clone(), id.to_owned()))))
    }
}
