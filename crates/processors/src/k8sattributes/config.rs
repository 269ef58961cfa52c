//! `processors.k8s_attributes`: the options as written and their validation.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use serde::Deserialize;
use weir_core::{Component, ConfigError};
use weir_kubernetes::{ApiConfig, AuthType};

use super::{
    pod::{FieldRule, From, Rules, Source},
    store::Shared,
};

/// `processors.k8s_attributes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `auth_type`: `serviceAccount` (default), `kubeConfig` or `none`.
    pub auth_type: AuthType,
    /// `context`: the kubeconfig context, with `auth_type: kubeConfig`.
    pub context: Option<String>,
    /// `kube_config_path`: the kubeconfig file, with `auth_type: kubeConfig`.
    pub kube_config_path: Option<std::path::PathBuf>,
    /// `passthrough`: only add `k8s.pod.ip` (the client's address); no Kubernetes API.
    pub passthrough: bool,
    /// `filter`.
    pub filter: FilterConfig,
    /// `extract`.
    pub extract: ExtractConfig,
    /// `pod_association`.
    pub pod_association: Vec<Association>,
    /// `exclude`.
    pub exclude: ExcludeConfig,
    /// `wait_for_metadata`: weir's start waits for the pods to be listed.
    pub wait_for_metadata: bool,
    /// `wait_for_metadata_timeout`.
    pub wait_for_metadata_timeout: String,
    /// `pod_delete_grace_period`: how long a deleted pod still enriches.
    pub pod_delete_grace_period: String,
    /// `watch_sync_period`: the Collector's informer resync. weir's cache follows the watch
    /// itself and has nothing to resync; the value is checked and has no effect.
    pub watch_sync_period: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            auth_type: AuthType::ServiceAccount,
            context: None,
            kube_config_path: None,
            passthrough: false,
            filter: FilterConfig::default(),
            extract: ExtractConfig::default(),
            pod_association: Vec::new(),
            exclude: ExcludeConfig::default(),
            wait_for_metadata: false,
            wait_for_metadata_timeout: "10s".into(),
            pod_delete_grace_period: "120s".into(),
            watch_sync_period: "5m".into(),
        }
    }
}

/// `filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// `node`: only pods on this node.
    pub node: Option<String>,
    /// `node_from_env_var`: the node's name from this environment variable (overrides `node`).
    pub node_from_env_var: Option<String>,
    /// `namespace`: only pods of this namespace.
    pub namespace: Option<String>,
    /// `fields`: field selector terms.
    pub fields: Vec<SelectorTerm>,
    /// `labels`: label selector terms.
    pub labels: Vec<SelectorTerm>,
}

/// One `filter.fields` or `filter.labels` term.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectorTerm {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
    /// `op`: `equals` (default), `not-equals`, and for labels `exists`, `does-not-exist`.
    pub op: String,
}

/// `extract`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractConfig {
    /// `metadata`: the attributes to add (the Collector's default set when absent).
    pub metadata: Option<Vec<String>>,
    /// `labels`.
    pub labels: Vec<FieldExtract>,
    /// `annotations`.
    pub annotations: Vec<FieldExtract>,
    /// `otel_annotations`: `resource.opentelemetry.io/<key>` pod annotations become `<key>`.
    pub otel_annotations: bool,
    /// `deployment_name_from_replicaset`: the deployment's name from its ReplicaSet's name,
    /// without watching ReplicaSets.
    pub deployment_name_from_replicaset: bool,
}

/// One `extract.labels` or `extract.annotations` rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldExtract {
    /// `tag_name`: the attribute (with `key_regex`, `$1`… name capture groups).
    pub tag_name: Option<String>,
    /// `key`: one label or annotation.
    pub key: Option<String>,
    /// `key_regex`: every label or annotation whose key matches (anchored).
    pub key_regex: Option<String>,
    /// `from`: `pod` (default), `namespace` or `node`.
    pub from: Option<String>,
}

/// One `pod_association` rule: all its sources must be found.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Association {
    /// `sources`.
    pub sources: Vec<AssociationSource>,
}

/// One source of a `pod_association` rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssociationSource {
    /// `from`: `resource_attribute` or `connection`.
    pub from: String,
    /// `name`: the resource attribute.
    pub name: String,
}

/// `exclude`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExcludeConfig {
    /// `pods`: pods whose name matches one of these are not enriched from.
    pub pods: Vec<ExcludePod>,
}

impl Default for ExcludeConfig {
    fn default() -> ExcludeConfig {
        let pod = |name: &str| ExcludePod { name: name.into() };
        ExcludeConfig { pods: vec![pod("jaeger-agent"), pod("jaeger-collector")] }
    }
}

/// One `exclude.pods` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcludePod {
    /// `name`: a regular expression, matched anywhere in the pod's name.
    pub name: String,
}

/// The attributes `extract.metadata` may name.
pub(super) const METADATA: &[&str] = &[
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.hostname",
    "k8s.pod.start_time",
    "k8s.pod.ip",
    "k8s.deployment.name",
    "k8s.deployment.uid",
    "k8s.replicaset.name",
    "k8s.replicaset.uid",
    "k8s.daemonset.name",
    "k8s.daemonset.uid",
    "k8s.statefulset.name",
    "k8s.statefulset.uid",
    "k8s.job.name",
    "k8s.job.uid",
    "k8s.cronjob.name",
    "k8s.cronjob.uid",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.cluster.uid",
    "k8s.container.name",
    "container.id",
    "container.image.name",
    "container.image.tag",
    "container.image.repo_digests",
    "service.namespace",
    "service.name",
    "service.version",
    "service.instance.id",
];

/// `extract.metadata` when absent: the Collector's attributes enabled by default.
const DEFAULT_METADATA: &[&str] = &[
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.start_time",
    "k8s.deployment.name",
    "k8s.node.name",
    "container.image.name",
    "container.image.tag",
];

/// What the watches list: the objects and their selectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WatchPlan {
    /// `filter.namespace`.
    pub(super) namespace: Option<String>,
    /// The pods' field selector (`spec.nodeName=<node>` and `filter.fields`).
    pub(super) field_selector: String,
    /// The pods' label selector (`filter.labels`).
    pub(super) label_selector: String,
    /// Which namespaces: none, `kube-system` only (for `k8s.cluster.uid`) or all.
    pub(super) namespaces: Namespaces,
    /// ReplicaSets (a deployment's name and uid through the owner chain).
    pub(super) replicasets: bool,
    /// Jobs (a cronjob's name and uid through the owner chain).
    pub(super) jobs: bool,
    /// Nodes (`k8s.node.uid`, `from: node`), only the filtered node if there is one.
    pub(super) nodes: Option<Option<String>>,
}

/// Which namespaces are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Namespaces {
    None,
    KubeSystem,
    All,
}

/// The validated processor.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(super) api: ApiConfig,
    pub(super) passthrough: bool,
    pub(super) rules: Arc<Rules>,
    pub(super) watch: WatchPlan,
    pub(super) wait_for_metadata: Option<Duration>,
    pub(super) grace: Duration,
    /// The snapshot every instance of this processor reads, published by its watches.
    pub(super) shared: Arc<Shared>,
}

impl Component for Settings {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "k8s_attributes",
        aliases: &["k8sattributes"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "adds the pod, workload, namespace and node of the sender from the Kubernetes API",
    };

    fn validate(config: Config) -> Result<Settings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut duration = |path: &str, text: &str| {
            weir_core::duration::parse(text)
                .map_err(|e| errors.push(ConfigError::new(path, e)))
                .unwrap_or_default()
        };
        let wait = duration("wait_for_metadata_timeout", &config.wait_for_metadata_timeout);
        let grace = duration("pod_delete_grace_period", &config.pod_delete_grace_period);
        duration("watch_sync_period", &config.watch_sync_period);
        for (set, option) in [
            (config.context.is_some(), "context"),
            (config.kube_config_path.is_some(), "kube_config_path"),
        ] {
            if set && config.auth_type != AuthType::KubeConfig {
                errors.push(ConfigError::new(option, "is only used with auth_type kubeConfig"));
            }
        }
        let metadata = metadata(&config.extract, &mut errors);
        let association = association(&config.pod_association, &mut errors);
        let mut fields = Vec::new();
        let labels = config.extract.labels.iter().map(|r| ("labels", r));
        let annotations = config.extract.annotations.iter().map(|r| ("annotations", r));
        for (i, (kind, rule)) in labels.chain(annotations).enumerate() {
            let index = if kind == "labels" { i } else { i - config.extract.labels.len() };
            let path = format!("extract.{kind}[{index}]");
            match field_rule(kind, rule) {
                Ok(rule) => fields.push(rule),
                Err(message) => errors.push(ConfigError::new(path, message)),
            }
        }
        let exclude = config.exclude.pods.iter().enumerate().filter_map(|(i, pod)| {
            regex::Regex::new(&pod.name)
                .map_err(|e| {
                    errors.push(ConfigError::new(format!("exclude.pods[{i}].name"), e.to_string()))
                })
                .ok()
        });
        let exclude = exclude.collect();
        let node = match (&config.filter.node_from_env_var, &config.filter.node) {
            (Some(var), _) => match std::env::var(var) {
                Ok(node) if !node.is_empty() => Some(node),
                _ => {
                    errors.push(ConfigError::new(
                        "filter.node_from_env_var",
                        format!("the environment variable {var} is not set"),
                    ));
                    None
                }
            },
            // `node: ${env:K8S_NODE_NAME}` with the variable unset: no node filter
            (None, node) => node.clone().filter(|n| !n.is_empty()),
        };
        let (field_selector, label_selector) = selectors(&config.filter, &node, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let rules = Rules {
            metadata,
            fields,
            otel_annotations: config.extract.otel_annotations,
            deployment_from_replicaset_name: config.extract.deployment_name_from_replicaset,
            exclude,
            association,
        };
        let wants = |name: &str| rules.metadata.contains(name);
        let from = |from: From| rules.fields.iter().any(|f| f.from == from);
        let namespaces = if from(From::Namespace) {
            Namespaces::All
        } else if wants("k8s.cluster.uid") {
            Namespaces::KubeSystem
        } else {
            Namespaces::None
        };
        let watch = WatchPlan {
            namespace: config.filter.namespace.clone(),
            field_selector,
            label_selector,
            namespaces,
            replicasets: (wants("k8s.deployment.name") && !rules.deployment_from_replicaset_name)
                || wants("k8s.deployment.uid"),
            jobs: wants("k8s.cronjob.uid"),
            nodes: (wants("k8s.node.uid") || from(From::Node)).then_some(node),
        };
        Ok(Settings {
            api: ApiConfig {
                auth_type: config.auth_type,
                context: config.context,
                kube_config_path: config.kube_config_path,
            },
            passthrough: config.passthrough,
            rules: Arc::new(rules),
            watch,
            wait_for_metadata: config.wait_for_metadata.then_some(wait),
            grace,
            shared: Arc::default(),
        })
    }
}

/// `extract.metadata`, checked.
fn metadata(extract: &ExtractConfig, errors: &mut Vec<ConfigError>) -> BTreeSet<&'static str> {
    let Some(names) = &extract.metadata else { return DEFAULT_METADATA.iter().copied().collect() };
    let mut set = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        match METADATA.iter().find(|m| **m == name) {
            Some(known) => {
                set.insert(*known);
            }
            None => errors.push(ConfigError::new(
                format!("extract.metadata[{i}]"),
                format!("{name:?} is not a supported metadata field"),
            )),
        }
    }
    set
}

/// `pod_association`, checked.
fn association(rules: &[Association], errors: &mut Vec<ConfigError>) -> Vec<Vec<Source>> {
    let mut checked = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.sources.is_empty() {
            errors.push(ConfigError::new(format!("pod_association[{i}].sources"), "is empty"));
        }
        if rule.sources.len() > 4 {
            errors.push(ConfigError::new(
                format!("pod_association[{i}].sources"),
                "too many association sources: the limit is 4",
            ));
        }
        let mut sources = Vec::new();
        for (j, source) in rule.sources.iter().enumerate() {
            let path = format!("pod_association[{i}].sources[{j}]");
            match source.from.as_str() {
                "connection" => sources.push(Source::Connection),
                "resource_attribute" if source.name.is_empty() => {
                    errors.push(ConfigError::new(format!("{path}.name"), "must name an attribute"))
                }
                "resource_attribute" => sources.push(Source::Attribute(source.name.clone())),
                other => errors.push(ConfigError::new(
                    format!("{path}.from"),
                    format!("unknown source {other:?}: expected resource_attribute or connection"),
                )),
            }
        }
        checked.push(sources);
    }
    checked
}

/// One `extract.labels` or `extract.annotations` rule, checked.
fn field_rule(kind: &str, rule: &FieldExtract) -> Result<FieldRule, String> {
    let from = match rule.from.as_deref().unwrap_or("pod") {
        "" | "pod" => From::Pod,
        "namespace" => From::Namespace,
        "node" => From::Node,
        other @ ("deployment" | "statefulset" | "daemonset" | "job" | "cronjob") => {
            return Err(format!(
                "from {other} is not built in weir yet (pod, namespace, node are)"
            ));
        }
        other => return Err(format!("unknown from {other:?}: expected pod, namespace or node")),
    };
    let singular = if kind == "labels" { "labels" } else { "annotations" };
    let key = match (&rule.key, &rule.key_regex) {
        (Some(_), Some(_)) => return Err("key and key_regex are exclusive".into()),
        (None, None) => return Err("needs key or key_regex".into()),
        (Some(key), None) => super::pod::Key::Exact(key.clone()),
        (None, Some(pattern)) => super::pod::Key::Regex(
            regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("key_regex: {e}"))?,
        ),
    };
    Ok(FieldRule {
        annotations: kind == "annotations",
        from,
        key,
        tag_name: rule.tag_name.clone(),
        default_prefix: format!("k8s.{}.{singular}.", from.name()),
    })
}

/// The pods' field and label selectors.
fn selectors(
    filter: &FilterConfig,
    node: &Option<String>,
    errors: &mut Vec<ConfigError>,
) -> (String, String) {
    let mut fields: Vec<String> = node.iter().map(|n| format!("spec.nodeName={n}")).collect();
    for (i, term) in filter.fields.iter().enumerate() {
        match term.op.as_str() {
            "" | "equals" => fields.push(format!("{}={}", term.key, term.value)),
            "not-equals" => fields.push(format!("{}!={}", term.key, term.value)),
            op => errors.push(ConfigError::new(
                format!("filter.fields[{i}].op"),
                format!("unknown op {op:?}: expected equals or not-equals"),
            )),
        }
    }
    let mut labels = Vec::new();
    for (i, term) in filter.labels.iter().enumerate() {
        match term.op.as_str() {
            "" | "equals" => labels.push(format!("{}={}", term.key, term.value)),
            "not-equals" => labels.push(format!("{}!={}", term.key, term.value)),
            "exists" => labels.push(term.key.clone()),
            "does-not-exist" => labels.push(format!("!{}", term.key)),
            op => errors.push(ConfigError::new(
                format!("filter.labels[{i}].op"),
                format!("unknown op {op:?}: expected equals, not-equals, exists or does-not-exist"),
            )),
        }
    }
    (fields.join(","), labels.join(","))
}
