//! `receivers.hostmetrics`: the options as written, and their validation.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use regex::Regex;
use serde::Deserialize;
use weir_core::{
    BoxFuture, Component, ConfigError, Declaration, Receiver, Signals, Stability,
    declare::BuildReceiver,
};
use weir_otlp::Signal;

/// `receivers.hostmetrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `collection_interval` (default 1m).
    pub collection_interval: String,
    /// `initial_delay` (default 1s).
    pub initial_delay: String,
    /// `root_path`: where the host's file system is mounted (`/hostfs`), or empty.
    pub root_path: String,
    /// `scrapers`, by name.
    pub scrapers: BTreeMap<String, Option<ScraperConfig>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            collection_interval: "1m".into(),
            initial_delay: "1s".into(),
            root_path: String::new(),
            scrapers: BTreeMap::new(),
        }
    }
}

/// One scraper's options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScraperConfig {
    /// `metrics.<name>.enabled`.
    pub metrics: BTreeMap<String, Toggle>,
    /// `cpu_average` (`load`): divide by the number of logical CPUs.
    pub cpu_average: bool,
    /// `include` (`disk`, `network`).
    pub include: Option<DeviceMatch>,
    /// `exclude` (`disk`, `network`).
    pub exclude: Option<DeviceMatch>,
    /// `include_devices` (`filesystem`).
    pub include_devices: Option<DeviceMatch>,
    /// `exclude_devices` (`filesystem`).
    pub exclude_devices: Option<DeviceMatch>,
    /// `include_fs_types` (`filesystem`).
    pub include_fs_types: Option<DeviceMatch>,
    /// `exclude_fs_types` (`filesystem`).
    pub exclude_fs_types: Option<DeviceMatch>,
    /// `include_mount_points` (`filesystem`).
    pub include_mount_points: Option<DeviceMatch>,
    /// `exclude_mount_points` (`filesystem`).
    pub exclude_mount_points: Option<DeviceMatch>,
    /// `include_virtual_filesystems` (`filesystem`).
    pub include_virtual_filesystems: bool,
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// `enabled`.
    pub enabled: bool,
}

/// `include`/`exclude` of devices (`disk`) or interfaces (`network`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceMatch {
    /// `devices` (`disk`).
    pub devices: Vec<String>,
    /// `interfaces` (`network`).
    pub interfaces: Vec<String>,
    /// `fs_types` (`filesystem`).
    pub fs_types: Vec<String>,
    /// `mount_points` (`filesystem`).
    pub mount_points: Vec<String>,
    /// `match_type`: `strict` or `regexp`.
    pub match_type: String,
}

/// The scrapers weir builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scraper {
    Cpu,
    Memory,
    Load,
    Network,
    Paging,
    Processes,
    Disk,
    Filesystem,
    System,
}

impl Scraper {
    const ALL: [Scraper; 9] = [
        Scraper::Cpu,
        Scraper::Memory,
        Scraper::Load,
        Scraper::Network,
        Scraper::Paging,
        Scraper::Processes,
        Scraper::Disk,
        Scraper::Filesystem,
        Scraper::System,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Scraper::Cpu => "cpu",
            Scraper::Memory => "memory",
            Scraper::Load => "load",
            Scraper::Network => "network",
            Scraper::Paging => "paging",
            Scraper::Processes => "processes",
            Scraper::Disk => "disk",
            Scraper::Filesystem => "filesystem",
            Scraper::System => "system",
        }
    }
}

/// The metrics the Collector leaves disabled unless asked (those weir emits).
const DISABLED: &[&str] = &["system.memory.utilization", "system.filesystem.utilization"];

/// Which metrics are enabled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Toggles(Arc<BTreeMap<String, bool>>);

impl Toggles {
    pub(crate) fn enabled(&self, metric: &str) -> bool {
        self.0.get(metric).copied().unwrap_or(!DISABLED.contains(&metric))
    }
}

/// A compiled device or interface filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Devices {
    include: Option<Vec<Regex>>,
    exclude: Option<Vec<Regex>>,
}

impl Devices {
    pub(crate) fn selects(&self, device: &str) -> bool {
        let any = |list: &Vec<Regex>| list.iter().any(|r| r.is_match(device));
        self.include.as_ref().is_none_or(any) && !self.exclude.as_ref().is_some_and(any)
    }
}

/// One scraper, validated.
#[derive(Debug, Clone)]
pub(crate) struct ScraperSettings {
    pub(crate) kind: Scraper,
    pub(crate) enabled: Toggles,
    pub(crate) cpu_average: bool,
    pub(crate) devices: Devices,
    /// `filesystem`: by file system type and by mount point.
    pub(crate) fs_types: Devices,
    pub(crate) mount_points: Devices,
    pub(crate) virtual_too: bool,
}

/// The validated receiver.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) collection_interval: Duration,
    pub(crate) initial_delay: Duration,
    pub(crate) root_path: String,
    pub(crate) scrapers: Vec<ScraperSettings>,
}

fn device_filter(
    m: &DeviceMatch,
    field: &str,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<Regex>> {
    let names = match field {
        "devices" => &m.devices,
        "interfaces" => &m.interfaces,
        "fs_types" => &m.fs_types,
        _ => &m.mount_points,
    };
    let mut compiled = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let pattern = match m.match_type.as_str() {
            "strict" => format!("^{}$", regex::escape(name)),
            "regexp" => name.clone(),
            other => {
                errors.push(ConfigError::new(
                    format!("{path}.match_type"),
                    format!("unknown match type {other:?}: expected strict or regexp"),
                ));
                return None;
            }
        };
        match Regex::new(&pattern) {
            Ok(r) => compiled.push(r),
            Err(e) => errors.push(ConfigError::new(format!("{path}.{field}[{i}]"), e.to_string())),
        }
    }
    Some(compiled)
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "hostmetrics",
        aliases: &[],
        signals: Signals::Pipeline(&[Signal::Metrics]),
        stability: Stability::Alpha,
        summary: "scrapes the host's CPU, memory, load, network, paging, process and disk figures",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut duration = |key: &str, text: &str| match weir_core::duration::parse(text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(ConfigError::new(key, e));
                Duration::ZERO
            }
        };
        let collection_interval = duration("collection_interval", &config.collection_interval);
        let initial_delay = duration("initial_delay", &config.initial_delay);
        if collection_interval.is_zero() && errors.is_empty() {
            errors.push(ConfigError::new("collection_interval", "must be more than 0s"));
        }
        if config.scrapers.is_empty() {
            errors.push(ConfigError::new("scrapers", "must list at least one scraper"));
        }
        let mut scrapers = Vec::new();
        for (name, options) in &config.scrapers {
            let at = format!("scrapers.{name}");
            let Some(kind) = Scraper::ALL.into_iter().find(|s| s.name() == name) else {
                let message = match name.as_str() {
                    "filesystem" | "process" => {
                        format!("the {name} scraper is not built in weir yet")
                    }
                    _ => format!("unknown scraper {name:?}"),
                };
                errors.push(ConfigError::new(at, message));
                continue;
            };
            let options = options.clone().unwrap_or_default();
            if options.cpu_average && kind != Scraper::Load {
                errors.push(ConfigError::new(
                    format!("{at}.cpu_average"),
                    "applies to the load scraper only",
                ));
            }
            let field = match kind {
                Scraper::Disk | Scraper::Filesystem => Some("devices"),
                Scraper::Network => Some("interfaces"),
                _ => None,
            };
            let mut devices = Devices::default();
            let (mut fs_types, mut mount_points) = (Devices::default(), Devices::default());
            let filesystem_only = [
                ("include_devices", &options.include_devices, "devices"),
                ("exclude_devices", &options.exclude_devices, "devices"),
                ("include_fs_types", &options.include_fs_types, "fs_types"),
                ("exclude_fs_types", &options.exclude_fs_types, "fs_types"),
                ("include_mount_points", &options.include_mount_points, "mount_points"),
                ("exclude_mount_points", &options.exclude_mount_points, "mount_points"),
            ];
            for (which, m, field) in filesystem_only {
                let Some(m) = m else { continue };
                if kind != Scraper::Filesystem {
                    errors.push(ConfigError::new(
                        format!("{at}.{which}"),
                        "applies to the filesystem scraper only",
                    ));
                    continue;
                }
                let compiled = device_filter(m, field, &format!("{at}.{which}"), &mut errors);
                let target = match field {
                    "devices" => &mut devices,
                    "fs_types" => &mut fs_types,
                    _ => &mut mount_points,
                };
                if which.starts_with("include") {
                    target.include = compiled;
                } else {
                    target.exclude = compiled;
                }
            }
            if options.include_virtual_filesystems && kind != Scraper::Filesystem {
                errors.push(ConfigError::new(
                    format!("{at}.include_virtual_filesystems"),
                    "applies to the filesystem scraper only",
                ));
            }
            for (which, m) in [("include", &options.include), ("exclude", &options.exclude)] {
                let Some(m) = m else { continue };
                let Some(field) = field else {
                    errors.push(ConfigError::new(
                        format!("{at}.{which}"),
                        "applies to the disk and network scrapers only",
                    ));
                    continue;
                };
                let compiled = device_filter(m, field, &format!("{at}.{which}"), &mut errors);
                match which {
                    "include" => devices.include = compiled,
                    _ => devices.exclude = compiled,
                }
            }
            let toggles = options.metrics.iter().map(|(k, t)| (k.clone(), t.enabled)).collect();
            scrapers.push(ScraperSettings {
                kind,
                enabled: Toggles(Arc::new(toggles)),
                cpu_average: options.cpu_average,
                devices,
                fs_types,
                mount_points,
                virtual_too: options.include_virtual_filesystems,
            });
        }
        if errors.is_empty() {
            Ok(Settings {
                collection_interval,
                initial_delay,
                root_path: config.root_path,
                scrapers,
            })
        } else {
            Err(errors)
        }
    }
}

impl BuildReceiver for Settings {
    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> BoxFuture<'a, std::io::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let receiver = super::HostMetrics { id: id.to_owned(), settings: self.clone() };
            Ok(Box::new(receiver) as Box<dyn Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        Vec::new()
    }
}
