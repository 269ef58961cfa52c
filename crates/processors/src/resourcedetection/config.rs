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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            detectors: vec!["env".into()],
            override_existing: true,
            timeout: "5s".into(),
            env: None,
            system: SystemConfig::default(),
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
    "k8snode",
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
                "env" | "system" => {}
                d if NOT_YET.contains(&d) => errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!("the {d} detector is not built in weir yet (env and system are)"),
                )),
                d => errors.push(ConfigError::new(
                    format!("detectors[{i}]"),
                    format!("unknown detector {d:?}"),
                )),
            }
        }
        if let Err(e) = weir_core::duration::parse(&config.timeout) {
            errors.push(ConfigError::new("timeout", e));
        }
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
        let detected = super::detect::detect(self, id);
        Box::new(super::ResourceDetection::new(detected, self.override_existing))
    }
}
