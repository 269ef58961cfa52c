//! `receivers.prometheus`: the Collector's options and, under `config`, Prometheus' own
//! configuration (`global`, `scrape_configs`) in Prometheus' names and defaults.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::Deserialize;
use weir_core::tls::ClientTlsOptions;

use super::relabel::{RelabelConfig, Rule};

/// The most bytes read of one scrape when `body_size_limit` does not say.
const DEFAULT_BODY_LIMIT: usize = 64 << 20;

/// `receivers.prometheus`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `config`: Prometheus' configuration.
    pub config: PrometheusConfig,
    /// `trim_metric_suffixes`: remove `_total` and unit suffixes from names.
    pub trim_metric_suffixes: bool,
    /// `use_start_time_metric` (not built: start times come from `_created` or the first
    /// observation).
    pub use_start_time_metric: bool,
    /// `start_time_metric_regex` (with `use_start_time_metric`).
    pub start_time_metric_regex: Option<String>,
    /// `report_extra_scrape_metrics`: also `scrape_body_size_bytes`, `scrape_sample_limit`,
    /// `scrape_timeout_seconds`.
    pub report_extra_scrape_metrics: bool,
    /// `target_allocator` (not built).
    pub target_allocator: Option<serde_json::Value>,
    /// `api_server` (not built).
    pub api_server: Option<serde_json::Value>,
}

/// Prometheus' configuration.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// `global`.
    pub global: Global,
    /// `scrape_configs`.
    pub scrape_configs: Vec<ScrapeConfig>,
}

/// `global`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    /// `scrape_interval` (default `1m`).
    pub scrape_interval: String,
    /// `scrape_timeout` (default `10s`).
    pub scrape_timeout: String,
    /// `evaluation_interval` (accepted: weir evaluates no rules).
    pub evaluation_interval: Option<String>,
    /// `external_labels` (accepted: they label what Prometheus sends elsewhere).
    pub external_labels: BTreeMap<String, String>,
}

impl Default for Global {
    fn default() -> Global {
        Global {
            scrape_interval: "1m".into(),
            scrape_timeout: "10s".into(),
            evaluation_interval: None,
            external_labels: BTreeMap::new(),
        }
    }
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    /// `job_name`.
    pub job_name: String,
    /// `scrape_interval` (default: the global one).
    pub scrape_interval: Option<String>,
    /// `scrape_timeout` (default: the global one, at most the interval).
    pub scrape_timeout: Option<String>,
    /// `metrics_path`.
    pub metrics_path: String,
    /// `scheme`.
    pub scheme: String,
    /// `params`: the query of every scrape.
    pub params: BTreeMap<String, Vec<String>>,
    /// `honor_labels`: on a clash, the page's labels win (else they become `exported_*`).
    pub honor_labels: bool,
    /// `honor_timestamps`: the page's timestamps are used.
    pub honor_timestamps: bool,
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`: roles node, service, pod, endpoints, endpointslice.
    pub kubernetes_sd_configs: Vec<super::kubernetes::KubernetesSdConfig>,
    /// `relabel_configs`: on each target's labels before it is scraped.
    pub relabel_configs: Vec<RelabelConfig>,
    /// `metric_relabel_configs`: on each scraped sample.
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// `basic_auth`.
    pub basic_auth: Option<BasicAuth>,
    /// `authorization`.
    pub authorization: Option<Authorization>,
    /// `bearer_token` (older form of `authorization`).
    pub bearer_token: Option<String>,
    /// `bearer_token_file` (older form of `authorization`).
    pub bearer_token_file: Option<PathBuf>,
    /// `tls_config`.
    pub tls_config: Option<TlsConfig>,
    /// `sample_limit`: more samples after relabeling fail the scrape (0: no limit).
    pub sample_limit: usize,
    /// `label_limit`: a sample with more labels fails the scrape (0: no limit).
    pub label_limit: usize,
    /// `body_size_limit`: the most bytes read of a page (`100MB`, `512KiB`; default 64 MiB).
    pub body_size_limit: Option<String>,
    /// `follow_redirects` (accepted; weir does not follow redirects).
    pub follow_redirects: Option<bool>,
    /// `enable_http2` (accepted).
    pub enable_http2: Option<bool>,
    /// `scrape_protocols` (accepted: weir asks for OpenMetrics, then the text format).
    pub scrape_protocols: Option<Vec<String>>,
}

impl Default for ScrapeConfig {
    fn default() -> ScrapeConfig {
        ScrapeConfig {
            job_name: String::new(),
            scrape_interval: None,
            scrape_timeout: None,
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            kubernetes_sd_configs: Vec::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            basic_auth: None,
            authorization: None,
            bearer_token: None,
            bearer_token_file: None,
            tls_config: None,
            sample_limit: 0,
            label_limit: 0,
            body_size_limit: None,
            follow_redirects: None,
            enable_http2: None,
            scrape_protocols: None,
        }
    }
}

/// `static_configs` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    /// `targets`: `host:port`.
    pub targets: Vec<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    /// `files`: JSON or YAML lists of `{targets, labels}`; `*` in the file name.
    pub files: Vec<String>,
    /// `refresh_interval` (default `5m`).
    pub refresh_interval: String,
}

impl Default for FileSdConfig {
    fn default() -> FileSdConfig {
        FileSdConfig { files: Vec::new(), refresh_interval: "5m".into() }
    }
}

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: Option<String>,
    /// `password_file`.
    pub password_file: Option<PathBuf>,
}

/// `authorization`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// `type` (default `Bearer`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `credentials`.
    pub credentials: Option<String>,
    /// `credentials_file`.
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `cert_file`.
    pub cert_file: Option<PathBuf>,
    /// `key_file`.
    pub key_file: Option<PathBuf>,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: bool,
    /// `server_name` (not built).
    pub server_name: Option<String>,
}

/// How a scrape authenticates: the `Authorization` header's value, or where to read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Credentials {
    /// A fixed header value.
    Header(String),
    /// `<scheme> ` and a file read for every scrape (tokens rotate).
    File(String, PathBuf),
    /// Basic with the password in a file.
    BasicFile(String, PathBuf),
}

/// A validated job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) name: String,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) metrics_path: String,
    pub(crate) scheme: String,
    pub(crate) params: BTreeMap<String, Vec<String>>,
    pub(crate) honor_labels: bool,
    pub(crate) honor_timestamps: bool,
    pub(crate) static_targets: Vec<StaticConfig>,
    pub(crate) file_sd: Vec<(Vec<String>, Duration)>,
    pub(crate) kubernetes: Vec<super::kubernetes::KubernetesSd>,
    pub(crate) relabel: Vec<Rule>,
    pub(crate) metric_relabel: Vec<Rule>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) tls: ClientTlsOptions,
    pub(crate) sample_limit: usize,
    pub(crate) label_limit: usize,
    pub(crate) body_limit: usize,
}

/// The validated receiver.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) jobs: Vec<Job>,
    pub(crate) trim_metric_suffixes: bool,
    pub(crate) report_extra_scrape_metrics: bool,
}

/// `100MB`, `512KiB`, `1GB`, `2048` (bytes).
fn byte_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl weir_core::Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "prometheus",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Metrics]),
        stability: weir_core::Stability::Alpha,
        summary: "scrapes Prometheus targets (static and file discovery, relabeling) into OTLP metrics",
    };

    fn validate(config: Config) -> Result<Settings, Vec<weir_core::ConfigError>> {
        let mut errors = Vec::new();
        let mut error = |path: String, message: String| {
            errors.push(weir_core::ConfigError::new(path, message));
        };
        for (name, set) in [
            ("target_allocator", config.target_allocator.is_some()),
            ("api_server", config.api_server.is_some()),
            ("use_start_time_metric", config.use_start_time_metric),
        ] {
            if set {
                error(name.into(), "is not built in weir yet".into());
            }
        }
        let global = &config.config.global;
        let duration = |text: &str| weir_core::duration::parse(text);
        let global_interval = duration(&global.scrape_interval).unwrap_or_else(|e| {
            errors.push(weir_core::ConfigError::new("config.global.scrape_interval", e));
            Duration::from_secs(60)
        });
        let global_timeout = duration(&global.scrape_timeout).unwrap_or_else(|e| {
            errors.push(weir_core::ConfigError::new("config.global.scrape_timeout", e));
            Duration::from_secs(10)
        });
        let mut error = |path: String, message: String| {
            errors.push(weir_core::ConfigError::new(path, message));
        };
        if config.config.scrape_configs.is_empty() {
            error("config.scrape_configs".into(), "no scrape_configs: nothing to scrape".into());
        }
        let mut jobs = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, scrape) in config.config.scrape_configs.iter().enumerate() {
            let at = |field: &str| format!("config.scrape_configs[{i}].{field}");
            if scrape.job_name.is_empty() {
                error(at("job_name"), "is required".into());
            } else if !names.insert(scrape.job_name.clone()) {
                error(
                    at("job_name"),
                    format!("{:?} is used by another scrape config", scrape.job_name),
                );
            }
            let interval = match scrape.scrape_interval.as_deref().map(duration) {
                None => global_interval,
                Some(Ok(d)) if !d.is_zero() => d,
                Some(Ok(_)) => {
                    error(at("scrape_interval"), "must be > 0".into());
                    global_interval
                }
                Some(Err(e)) => {
                    error(at("scrape_interval"), e);
                    global_interval
                }
            };
            let timeout = match scrape.scrape_timeout.as_deref().map(duration) {
                None => global_timeout.min(interval),
                Some(Ok(d)) if d > interval => {
                    error(
                        at("scrape_timeout"),
                        format!("{d:?} is longer than scrape_interval ({interval:?})"),
                    );
                    d
                }
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    error(at("scrape_timeout"), e);
                    global_timeout
                }
            };
            if !["http", "https"].contains(&scrape.scheme.as_str()) {
                error(at("scheme"), format!("{:?}: expected http or https", scrape.scheme));
            }
            if !scrape.metrics_path.starts_with('/') {
                error(at("metrics_path"), format!("{:?} must start with '/'", scrape.metrics_path));
            }
            let mut kubernetes = Vec::new();
            for (j, sd) in scrape.kubernetes_sd_configs.iter().enumerate() {
                match super::kubernetes::KubernetesSd::new(sd) {
                    Ok(sd) => kubernetes.push(sd),
                    Err(problems) => {
                        for (field, message) in problems {
                            error(format!("{}[{j}].{field}", at("kubernetes_sd_configs")), message);
                        }
                    }
                }
            }
            let mut rules = |list: &[RelabelConfig], field: &str| {
                let mut out = Vec::new();
                for (j, rule) in list.iter().enumerate() {
                    match Rule::new(rule) {
                        Ok(rule) => out.push(rule),
                        Err((name, message)) => {
                            error(format!("{}[{j}].{name}", at(field)), message)
                        }
                    }
                }
                out
            };
            let relabel = rules(&scrape.relabel_configs, "relabel_configs");
            let metric_relabel = rules(&scrape.metric_relabel_configs, "metric_relabel_configs");
            let mut file_sd = Vec::new();
            for (j, sd) in scrape.file_sd_configs.iter().enumerate() {
                match duration(&sd.refresh_interval) {
                    Ok(refresh) if !refresh.is_zero() => file_sd.push((sd.files.clone(), refresh)),
                    Ok(_) => error(
                        format!("{}[{j}].refresh_interval", at("file_sd_configs")),
                        "must be > 0".into(),
                    ),
                    Err(e) => error(format!("{}[{j}].refresh_interval", at("file_sd_configs")), e),
                }
            }
            let credentials = match (
                &scrape.basic_auth,
                &scrape.authorization,
                &scrape.bearer_token,
                &scrape.bearer_token_file,
            ) {
                (Some(basic), None, None, None) => match (&basic.password, &basic.password_file) {
                    (Some(_), Some(_)) => {
                        error(
                            at("basic_auth"),
                            "password and password_file are mutually exclusive".into(),
                        );
                        None
                    }
                    (_, Some(file)) => {
                        Some(Credentials::BasicFile(basic.username.clone(), file.clone()))
                    }
                    (password, None) => {
                        use base64::Engine as _;
                        let pair =
                            format!("{}:{}", basic.username, password.as_deref().unwrap_or(""));
                        Some(Credentials::Header(format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(pair)
                        )))
                    }
                },
                (None, Some(auth), None, None) => {
                    let kind = auth.kind.clone().unwrap_or_else(|| "Bearer".into());
                    match (&auth.credentials, &auth.credentials_file) {
                        (Some(_), Some(_)) => {
                            error(
                                at("authorization"),
                                "credentials and credentials_file are mutually exclusive".into(),
                            );
                            None
                        }
                        (_, Some(file)) => Some(Credentials::File(kind, file.clone())),
                        (Some(credentials), None) => {
                            Some(Credentials::Header(format!("{kind} {credentials}")))
                        }
                        (None, None) => None,
                    }
                }
                (None, None, Some(token), None) => {
                    Some(Credentials::Header(format!("Bearer {token}")))
                }
                (None, None, None, Some(file)) => {
                    Some(Credentials::File("Bearer".into(), file.clone()))
                }
                (None, None, None, None) => None,
                _ => {
                    error(at("authorization"), "at most one of basic_auth, authorization, bearer_token and bearer_token_file".into());
                    None
                }
            };
            let tls = scrape.tls_config.clone().unwrap_or_default();
            if tls.server_name.is_some() {
                error(at("tls_config.server_name"), "is not built in weir yet".into());
            }
            let body_limit = match scrape.body_size_limit.as_deref() {
                None => DEFAULT_BODY_LIMIT,
                Some(text) => byte_size(text).filter(|n| *n > 0).unwrap_or_else(|| {
                    error(
                        at("body_size_limit"),
                        format!("{text:?}: expected a size like 100MB or 512KiB"),
                    );
                    DEFAULT_BODY_LIMIT
                }),
            };
            jobs.push(Job {
                name: scrape.job_name.clone(),
                interval,
                timeout,
                metrics_path: scrape.metrics_path.clone(),
                scheme: scrape.scheme.clone(),
                params: scrape.params.clone(),
                honor_labels: scrape.honor_labels,
                honor_timestamps: scrape.honor_timestamps,
                static_targets: scrape.static_configs.clone(),
                file_sd,
                kubernetes,
                relabel,
                metric_relabel,
                credentials,
                tls: ClientTlsOptions {
                    ca_file: tls.ca_file,
                    cert_file: tls.cert_file,
                    key_file: tls.key_file,
                    insecure_skip_verify: tls.insecure_skip_verify,
                    min_version: None,
                },
                sample_limit: scrape.sample_limit,
                label_limit: scrape.label_limit,
                body_limit,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            jobs,
            trim_metric_suffixes: config.trim_metric_suffixes,
            report_extra_scrape_metrics: config.report_extra_scrape_metrics,
        })
    }
}
