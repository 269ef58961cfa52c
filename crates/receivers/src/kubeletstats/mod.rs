//! The `kubelet_stats` receiver (alias `kubeletstats`): the node's, pods' and containers' CPU,
//! memory, file system and network figures from the kubelet's Summary API
//! (`GET {endpoint}/stats/summary`) every `collection_interval`, with the Collector's options
//! (`endpoint`, `auth_type: tls | serviceAccount | none`, `insecure_skip_verify`, `ca_file`,
//! `cert_file`, `key_file`, `metric_groups`, `collect_all_network_interfaces`,
//! `metrics.<name>.enabled`) and metric names. `serviceAccount` reads the pod's token afresh
//! for every scrape (tokens rotate) and trusts the service account's CA.
//!
//! `extra_metadata_labels` reads the kubelet's `/pods` with each scrape: `container.id` adds
//! each container's id (without its runtime's prefix) to its resource, `k8s.volume.type` each
//! volume's type from the pod's spec (`configMap`, `downwardAPI`, `emptyDir`, `secret`,
//! `hostPath`, `persistentVolumeClaim` with `k8s.persistentvolumeclaim.name`,
//! `awsElasticBlockStore` with `aws.volume.id`, `fs.type`, `partition`, `gcePersistentDisk`
//! with `gce.pd.name`, `fs.type`, `partition`, `glusterfs` with `glusterfs.endpoints.name`,
//! `glusterfs.path`), as the Collector names them.
//!
//! Not built (validation errors): `auth_type: kubeConfig`, and `k8s_api_config` (which the
//! Collector uses to follow a claim to its persistent volume's type).

mod metrics;
mod pods;
mod summary;
#[cfg(test)]
mod tests;

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use weir_core::{
    BoxFuture, Component, ConfigError, Declaration, Receiver, ReceiverError, ReceiverOutput,
    Signals, Stability, declare::BuildReceiver, tls::ClientTlsOptions,
};
use weir_otlp::{Batch, Signal};

pub(crate) use pods::{Labels, PodFacts, pod_facts};

use crate::scrape::Scrape;

/// Where a pod's service account credentials are mounted.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// `receivers.kubelet_stats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: `https://host:10250` (the host name when empty).
    pub endpoint: String,
    /// `auth_type`: `tls` (default), `serviceAccount`, `none`.
    pub auth_type: String,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: bool,
    /// `ca_file`.
    pub ca_file: Option<String>,
    /// `cert_file` (`tls`).
    pub cert_file: Option<String>,
    /// `key_file` (`tls`).
    pub key_file: Option<String>,
    /// `collection_interval` (default 10s).
    pub collection_interval: String,
    /// `initial_delay` (default 1s).
    pub initial_delay: String,
    /// `metric_groups` (default container, pod, node).
    pub metric_groups: Vec<String>,
    /// `extra_metadata_labels`: `container.id` (`k8s.volume.type` is not built).
    pub extra_metadata_labels: Vec<String>,
    /// `k8s_api_config` (not built).
    pub k8s_api_config: Option<serde_json::Value>,
    /// `node`.
    pub node: String,
    /// `collect_all_network_interfaces`.
    pub collect_all_network_interfaces: Interfaces,
    /// `metrics.<name>.enabled`.
    pub metrics: BTreeMap<String, Toggle>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: String::new(),
            auth_type: "tls".into(),
            insecure_skip_verify: false,
            ca_file: None,
            cert_file: None,
            key_file: None,
            collection_interval: "10s".into(),
            initial_delay: "1s".into(),
            metric_groups: vec!["container".into(), "pod".into(), "node".into()],
            extra_metadata_labels: Vec::new(),
            k8s_api_config: None,
            node: String::new(),
            collect_all_network_interfaces: Interfaces::default(),
            metrics: BTreeMap::new(),
        }
    }
}

/// `collect_all_network_interfaces`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Interfaces {
    /// `pod`.
    pub pod: bool,
    /// `node`.
    pub node: bool,
}

/// `{enabled: bool}`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    /// `enabled`.
    pub enabled: bool,
}

/// How requests to the kubelet are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Tls,
    ServiceAccount,
    None,
}

/// The validated receiver.
#[derive(Debug, Clone)]
pub struct Settings {
    url: String,
    /// The kubelet's `/pods`, read for `extra_metadata_labels`.
    pods_url: Option<String>,
    /// `extra_metadata_labels`: `container.id`, `k8s.volume.type`.
    labels: Labels,
    auth: Auth,
    tls: ClientTlsOptions,
    collection_interval: Duration,
    initial_delay: Duration,
    groups: metrics::Groups,
    toggles: BTreeMap<String, bool>,
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "kubelet_stats",
        aliases: &["kubeletstats"],
        signals: Signals::Pipeline(&[Signal::Metrics]),
        stability: Stability::Alpha,
        summary: "node, pod and container figures from the kubelet's Summary API",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let auth = match config.auth_type.as_str() {
            "tls" => Auth::Tls,
            "serviceAccount" => Auth::ServiceAccount,
            "none" => Auth::None,
            "kubeConfig" => {
                errors.push(ConfigError::new("auth_type", "kubeConfig is not built in weir yet"));
                Auth::None
            }
            other => {
                errors.push(ConfigError::new(
                    "auth_type",
                    format!("unknown auth type {other:?}: expected tls, serviceAccount or none"),
                ));
                Auth::None
            }
        };
        if auth == Auth::Tls && (config.cert_file.is_none() || config.key_file.is_none()) {
            errors.push(ConfigError::new("auth_type", "tls needs cert_file and key_file"));
        }
        let mut labels = Labels::default();
        for (i, label) in config.extra_metadata_labels.iter().enumerate() {
            let at = format!("extra_metadata_labels[{i}]");
            match label.as_str() {
                "container.id" => labels.container_id = true,
                "k8s.volume.type" => labels.volume_type = true,
                other => errors.push(ConfigError::new(
                    at,
                    format!("unknown label {other:?}: expected container.id or k8s.volume.type"),
                )),
            }
        }
        if config.k8s_api_config.is_some() {
            errors.push(ConfigError::new(
                "k8s_api_config",
                "is not built in weir yet (a claim's volume is typed persistentVolumeClaim, with its name)",
            ));
        }
        let mut duration = |key: &str, text: &str| match weir_core::duration::parse(text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(ConfigError::new(key, e));
                Duration::from_secs(1)
            }
        };
        let collection_interval = duration("collection_interval", &config.collection_interval);
        let initial_delay = duration("initial_delay", &config.initial_delay);
        let mut groups = metrics::Groups {
            all_interfaces_node: config.collect_all_network_interfaces.node,
            all_interfaces_pod: config.collect_all_network_interfaces.pod,
            ..metrics::Groups::default()
        };
        for (i, group) in config.metric_groups.iter().enumerate() {
            match group.as_str() {
                "node" => groups.node = true,
                "pod" => groups.pod = true,
                "container" => groups.container = true,
                "volume" => groups.volume = true,
                other => errors.push(ConfigError::new(
                    format!("metric_groups[{i}]"),
                    format!("unknown group {other:?}: expected node, pod, container or volume"),
                )),
            }
        }
        let secure = auth != Auth::None;
        let endpoint = if config.endpoint.is_empty() {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let port = if secure { 10250 } else { 10255 };
            format!("{}:{port}", host.trim())
        } else {
            config.endpoint.clone()
        };
        let url = if endpoint.contains("://") {
            endpoint
        } else if secure {
            format!("https://{endpoint}")
        } else {
            format!("http://{endpoint}")
        };
        let ca_file = match (&config.ca_file, auth) {
            (Some(ca), _) => Some(ca.into()),
            (None, Auth::ServiceAccount) => Some(format!("{SERVICE_ACCOUNT}/ca.crt").into()),
            _ => None,
        };
        let tls = ClientTlsOptions {
            ca_file,
            cert_file: config.cert_file.as_ref().map(Into::into),
            key_file: config.key_file.as_ref().map(Into::into),
            insecure_skip_verify: config.insecure_skip_verify,
            min_version: None,
        };
        let toggles = config.metrics.iter().map(|(k, t)| (k.clone(), t.enabled)).collect();
        if errors.is_empty() {
            Ok(Settings {
                pods_url: (labels.container_id || labels.volume_type)
                    .then(|| format!("{}/pods", url.trim_end_matches('/'))),
                labels,
                url: format!("{}/stats/summary", url.trim_end_matches('/')),
                auth,
                tls,
                collection_interval,
                initial_delay,
                groups,
                toggles,
            })
        } else {
            Err(errors)
        }
    }
}

use crate::scrape::HttpClient;

impl BuildReceiver for Settings {
    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> BoxFuture<'a, std::io::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let client = crate::scrape::http_client(&self.tls)?;
            Ok(Box::new(KubeletStats { id: id.to_owned(), settings: self.clone(), client })
                as Box<dyn Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// The running receiver.
pub struct KubeletStats {
    id: String,
    settings: Settings,
    client: HttpClient,
}

impl KubeletStats {
    /// One scrape: the summary (and `/pods` for the extra labels), fetched and converted.
    async fn scrape(&self) -> Result<Batch, String> {
        let body = self.get(&self.settings.url).await?;
        let summary: summary::Summary = serde_json::from_slice(&body)
            .map_err(|e| format!("the summary does not parse: {e}"))?;
        let facts = match &self.settings.pods_url {
            Some(url) => pod_facts(&self.get(url).await?, self.settings.labels)
                .map_err(|e| format!("{url}: the pod list does not parse: {e}"))?,
            None => PodFacts::default(),
        };
        Ok(convert(&self.settings, &summary, &facts, unix_nanos()))
    }

    /// The body of a `GET` of `url` from the kubelet, authenticated as configured.
    async fn get(&self, url: &str) -> Result<bytes::Bytes, String> {
        let mut request = hyper::Request::get(url);
        if self.settings.auth == Auth::ServiceAccount {
            let token = tokio::fs::read_to_string(format!("{SERVICE_ACCOUNT}/token"))
                .await
                .map_err(|e| format!("service account token: {e}"))?;
            request = request.header("authorization", format!("Bearer {}", token.trim()));
        }
        let request = request.body(Full::default()).map_err(|e| e.to_string())?;
        let response =
            tokio::time::timeout(self.settings.collection_interval, self.client.request(request))
                .await
                .map_err(|_| "the kubelet did not answer in time".to_owned())?
                .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("{url}: {status}: {text}"));
        }
        Ok(body)
    }
}

/// A summary as a batch of metrics, with what the pod list adds.
fn convert(settings: &Settings, summary: &summary::Summary, facts: &PodFacts, now: u64) -> Batch {
    let toggles = settings.toggles.clone();
    let enabled = move |name: &str| toggles.get(name).copied().unwrap_or(true);
    let mut scrape = Scrape { start: 0, now, enabled: Box::new(enabled), metrics: Vec::new() };
    Batch::from(metrics::convert(summary, settings.groups, facts, &mut scrape))
}

fn unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl Receiver for KubeletStats {
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            let timing = (self.settings.initial_delay, self.settings.collection_interval);
            crate::scrape::every(&self.id, timing, &output, &shutdown, || self.scrape()).await;
            Ok(())
        })
    }
}
