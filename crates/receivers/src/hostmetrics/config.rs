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
    /// `resource_attributes.<name>.enabled` (`process`).
    pub resource_attributes: BTreeMap<String, Toggle>,
    /// `mute_process_name_error` (`process`).
    pub mute_process_name_error: bool,
    /// `mute_process_exe_error` (`process`).
    pub mute_process_exe_error: bool,
    /// `mute_process_io_error` (`process`).
    pub mute_process_io_error: bool,
    /// `mute_process_user_error` (`process`).
    pub mute_process_user_error: bool,
    /// `mute_process_cgroup_error` (`process`).
    pub mute_process_cgroup_error: bool,
    /// `mute_process_all_errors` (`process`).
    pub mute_process_all_errors: bool,
    /// `scrape_process_delay` (`process`): processes younger than this are left out.
    pub scrape_process_delay: Option<String>,
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// `enabled`.
    pub enabled: bool,
}

/// `include`/`exclude` of devices (`disk`), interfaces (`network`) or executable names
/// (`process`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceMatch {
    /// `names` (`process`).
    pub names: Vec<String>,
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
    Process,
    Disk,
    Filesystem,
    System,
}

impl Scraper {
    const ALL: [Scraper; 10] = [
        Scraper::Cpu,
        Scraper::Memory,
        Scraper::Load,
        Scraper::Network,
        Scraper::Paging,
        Scraper::Processes,
        Scraper::Process,
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
            Scraper::Process => "process",
            Scraper::Disk => "disk",
            Scraper::Filesystem => "filesystem",
            Scraper::System => "system",
        }
    }
}

/// The metrics the Collector leaves disabled unless asked (those weir emits).
const DISABLED: &[&str] = &[
    "system.memory.utilization",
    "system.filesystem.utilization",
    "process.cpu.utilization",
    "process.memory.utilization",
    "process.disk.operations",
    "process.threads",
    "process.paging.faults",
    "process.signals_pending",
    "process.open_file_descriptors",
    "process.context_switches",
    "process.uptime",
    "process.handles",
];

/// The `process` scraper's resource attributes, with the Collector's defaults.
const PROCESS_ATTRIBUTES: &[(&str, bool)] = &[
    ("process.pid", true),
    ("process.parent_pid", true),
    ("process.executable.name", true),
    ("process.executable.path", true),
    ("process.command", true),
    ("process.command_line", true),
    ("process.owner", true),
    ("process.cgroup", false),
];

/// The `process` scraper's own options, validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessOptions {
    /// Resource attributes enabled.
    pub(crate) attributes: Toggles,
    pub(crate) mute_exe: bool,
    pub(crate) mute_io: bool,
    pub(crate) mute_user: bool,
    /// `scrape_process_delay`, in nanoseconds.
    pub(crate) delay: u64,
}

/// Which metrics are enabled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Toggles(Arc<BTreeMap<String, bool>>);

impl Toggles {
    pub(crate) fn enabled(&self, metric: &str) -> bool {
        let default = match PROCESS_ATTRIBUTES.iter().find(|(name, _)| *name == metric) {
            Some((_, default)) => *default,
            None => !DISABLED.contains(&metric),
        };
        self.0.get(metric).copied().unwrap_or(default)
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
    pub(crate) process: ProcessOptions,
}

/// The validated receiver.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) collection_interval: Duration,
    pub(crate) initial_delay: Duration,
    pub(crate) root_path: String,
    pub(crate) scrapers: Vec<ScraperSettings>,
}

/// The `process` scraper's options, checked (and refused on the other scrapers).
fn process_options(
    kind: Scraper,
    options: &ScraperConfig,
    at: &str,
    errors: &mut Vec<ConfigError>,
) -> ProcessOptions {
    let mutes = [
        ("mute_process_name_error", options.mute_process_name_error),
        ("mute_process_exe_error", options.mute_process_exe_error),
        ("mute_process_io_error", options.mute_process_io_error),
        ("mute_process_user_error", options.mute_process_user_error),
        ("mute_process_cgroup_error", options.mute_process_cgroup_error),
        ("mute_process_all_errors", options.mute_process_all_errors),
    ];
    let process_only = mutes
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .chain(options.scrape_process_delay.as_ref().map(|_| "scrape_process_delay"))
        .chain((!options.resource_attributes.is_empty()).then_some("resource_attributes"));
    if kind != Scraper::Process {
        for option in process_only {
            errors.push(ConfigError::new(
                format!("{at}.{option}"),
                "applies to the process scraper only",
            ));
        }
        return ProcessOptions::default();
    }
    for name in options.resource_attributes.keys() {
        if !PROCESS_ATTRIBUTES.iter().any(|(n, _)| n == name) {
            errors.push(ConfigError::new(
                format!("{at}.resource_attributes.{name}"),
                "is not a resource attribute of the process scraper",
            ));
        }
    }
    if options.metrics.get("process.cpu.utilization").is_some_and(|t| t.enabled) {
        errors.push(ConfigError::new(
            format!("{at}.metrics.process.cpu.utilization"),
            "is not built in weir yet (process.cpu.time is)",
        ));
    }
    let delay = match &options.scrape_process_delay {
        None => 0,
        Some(text) => match weir_core::duration::parse(text) {
            Ok(d) => d.as_nanos() as u64,
            Err(e) => {
                errors.push(ConfigError::new(format!("{at}.scrape_process_delay"), e));
                0
            }
        },
    };
    let all = options.mute_process_all_errors;
    let attributes = options.resource_attributes.iter().map(|(k, t)| (k.clone(), t.enabled));
    ProcessOptions {
        attributes: Toggles(Arc::new(attributes.collect())),
        mute_exe: all || options.mute_process_exe_error,
        mute_io: all || options.mute_process_io_error,
        mute_user: all || options.mute_process_user_error,
        delay,
    }
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
        "names" => &m.names,
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
                errors.push(ConfigError::new(at, format!("unknown scraper {name:?}")));
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
                Scraper::Process => Some("names"),
                _ => None,
            };
            let process = process_options(kind, &options, &at, &mut errors);
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
                        "applies to the disk, network and process scrapers only",
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
                process,
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
