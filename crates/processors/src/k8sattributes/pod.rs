//! What the processor keeps of a pod, and how a pod and a resource are matched: the rules of
//! `extract` and `pod_association`, applied to the Kubernetes objects.

use std::collections::BTreeSet;

use regex::Regex;
use weir_kubernetes::k8s_openapi::{
    api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

/// The validated `extract`, `exclude` and `pod_association` options.
#[derive(Debug)]
pub(crate) struct Rules {
    /// `extract.metadata`.
    pub(super) metadata: BTreeSet<&'static str>,
    /// `extract.labels` then `extract.annotations`.
    pub(super) fields: Vec<FieldRule>,
    pub(super) otel_annotations: bool,
    pub(super) deployment_from_replicaset_name: bool,
    /// `exclude.pods[].name`.
    pub(super) exclude: Vec<Regex>,
    /// `pod_association`: the sources of each rule.
    pub(super) association: Vec<Vec<Source>>,
}

/// Where an association source finds its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// The IP address of the client that sent the data.
    Connection,
    /// A resource attribute.
    Attribute(String),
}

/// A pod's identity under one association rule: each source with its value (shared between
/// the store and every snapshot that holds it).
pub(super) type Identifier = std::sync::Arc<[(Source, String)]>;

/// The object a label or annotation rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    Pod,
    Namespace,
    Node,
}

impl From {
    pub(super) fn name(self) -> &'static str {
        match self {
            From::Pod => "pod",
            From::Namespace => "namespace",
            From::Node => "node",
        }
    }
}

/// Which keys a label or annotation rule takes.
#[derive(Debug)]
pub(crate) enum Key {
    Exact(String),
    Regex(Regex),
}

/// One `extract.labels` or `extract.annotations` rule.
#[derive(Debug)]
pub(crate) struct FieldRule {
    pub(super) annotations: bool,
    pub(super) from: From,
    pub(super) key: Key,
    pub(super) tag_name: Option<String>,
    /// `k8s.<from>.labels.` or `k8s.<from>.annotations.`: the attribute with no `tag_name`.
    pub(super) default_prefix: String,
}

impl FieldRule {
    /// The attributes this rule makes of an object's labels or annotations.
    fn apply(&self, meta: &ObjectMeta, out: &mut Vec<(String, String)>) {
        let map = if self.annotations { &meta.annotations } else { &meta.labels };
        let Some(map) = map else { return };
        match &self.key {
            Key::Exact(key) => {
                if let Some(value) = map.get(key) {
                    let name = self.tag_name.clone();
                    out.push((
                        name.unwrap_or_else(|| format!("{}{key}", self.default_prefix)),
                        value.clone(),
                    ));
                }
            }
            Key::Regex(regex) => {
                for (key, value) in map.iter().filter(|(_, v)| !v.is_empty()) {
                    let Some(captures) = regex.captures(key) else { continue };
                    let name = match &self.tag_name {
                        Some(tag) if regex.captures_len() > 1 => {
                            let mut name = String::new();
                            captures.expand(tag, &mut name);
                            name
                        }
                        _ => format!("{}{key}", self.default_prefix),
                    };
                    out.push((name, value.clone()));
                }
            }
        }
    }
}

impl Rules {
    pub(super) fn wants(&self, name: &str) -> bool {
        self.metadata.contains(name)
    }

    /// The attributes the `from` rules make of a namespace's or node's metadata.
    pub(super) fn object_attributes(&self, from: From, meta: &ObjectMeta) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for rule in self.fields.iter().filter(|r| r.from == from) {
            rule.apply(meta, &mut out);
        }
        out
    }

    /// What is kept of `pod`, or `None` for a pod that is excluded (by `exclude.pods` or its
    /// `opentelemetry.io/k8s-processor/ignore: "true"` annotation).
    pub(super) fn pod(&self, pod: &Pod) -> Option<PodRecord> {
        let meta = &pod.metadata;
        let name = meta.name.clone().unwrap_or_default();
        if self.exclude.iter().any(|r| r.is_match(&name)) {
            return None;
        }
        let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key));
        if annotation("opentelemetry.io/k8s-processor/ignore")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            return None;
        }
        let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let mut fields = Vec::new();
        for rule in self.fields.iter().filter(|r| r.from == From::Pod) {
            rule.apply(meta, &mut fields);
        }
        if self.otel_annotations {
            for (key, value) in meta.annotations.iter().flatten() {
                if let Some(attribute) = key.strip_prefix("resource.opentelemetry.io/") {
                    fields.push((attribute.to_owned(), value.clone()));
                }
            }
        }
        let owners = meta.owner_references.iter().flatten();
        let owners = owners.map(|o| (o.kind.clone(), o.name.clone(), o.uid.clone())).collect();
        let mut containers: Vec<ContainerRecord> = Vec::new();
        let specs = spec
            .into_iter()
            .flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()));
        for container in specs {
            let image = container.image.as_deref().map(Image::parse).unwrap_or_default();
            containers.push(ContainerRecord {
                name: container.name.clone(),
                image,
                ..Default::default()
            });
        }
        let statuses = status.into_iter().flat_map(|s| {
            s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten())
        });
        for status in statuses {
            let Some(container) = containers.iter_mut().find(|c| c.name == status.name) else {
                continue;
            };
            if let Some(id) = status.container_id.as_deref() {
                container.ids.push((status.restart_count, strip_runtime(id).to_owned()));
            }
            let last = status.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            if let Some(id) = last.and_then(|t| t.container_id.as_deref()) {
                container.ids.push((status.restart_count - 1, strip_runtime(id).to_owned()));
            }
            if !status.image_id.is_empty() {
                container.repo_digest = Some(strip_runtime(&status.image_id).to_owned());
            }
        }
        Some(PodRecord {
            uid: meta.uid.clone().unwrap_or_default(),
            name,
            namespace: meta.namespace.clone().unwrap_or_default(),
            node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
            hostname: spec.and_then(|s| s.hostname.clone()),
            ip: status.and_then(|s| s.pod_ip.clone()).filter(|ip| !ip.is_empty()),
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            created: meta.creation_timestamp.as_ref().map(|t| (t.0.to_string(), t.0.as_second())),
            started: status
                .and_then(|s| s.start_time.as_ref())
                .map_or(i64::MIN, |t| t.0.as_second()),
            owners,
            template_hash: label("pod-template-hash"),
            app: [label("app.kubernetes.io/instance"), label("app.kubernetes.io/name")],
            app_version: label("app.kubernetes.io/version"),
            fields,
            containers,
        })
    }
}

/// `containerd://abc` → `abc`.
fn strip_runtime(id: &str) -> &str {
    id.split_once("://").map_or(id, |(_, rest)| rest)
}

/// What is kept of a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct PodRecord {
    pub(super) uid: String,
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) node: String,
    pub(super) hostname: Option<String>,
    pub(super) ip: Option<String>,
    pub(super) host_network: bool,
    /// `metadata.creationTimestamp`: as RFC 3339, and in seconds since the epoch.
    pub(super) created: Option<(String, i64)>,
    /// `status.startTime` in seconds: of two pods with one identifier, the later wins.
    pub(super) started: i64,
    /// Owner references: kind, name, uid.
    pub(super) owners: Vec<(String, String, String)>,
    pub(super) template_hash: Option<String>,
    /// The `app.kubernetes.io/instance` and `app.kubernetes.io/name` labels.
    pub(super) app: [Option<String>; 2],
    pub(super) app_version: Option<String>,
    /// What the label and annotation rules made of it (and `otel_annotations`).
    pub(super) fields: Vec<(String, String)>,
    pub(super) containers: Vec<ContainerRecord>,
}

/// What is kept of one container of a pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ContainerRecord {
    pub(super) name: String,
    pub(super) image: Image,
    /// Container ids by restart count.
    pub(super) ids: Vec<(i32, String)>,
    pub(super) repo_digest: Option<String>,
}

/// An image reference, parsed: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Image {
    pub(super) name: String,
    pub(super) tag: Option<String>,
    pub(super) digest: Option<String>,
}

impl Image {
    pub(super) fn parse(reference: &str) -> Image {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_owned())),
            None => (reference, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(colon) => (&rest[..slash + colon], Some(rest[slash + colon + 1..].to_owned())),
            None => (rest, None),
        };
        let tag = tag.or_else(|| digest.is_none().then(|| "latest".to_owned()));
        Image { name: name.to_owned(), tag, digest }
    }

    /// `service.version` from the image: `<tag>@<digest>`, else the digest, else the tag.
    fn version(&self) -> Option<String> {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => Some(format!("{tag}@{digest}")),
            (None, Some(digest)) => Some(digest.clone()),
            (tag, None) => tag.clone(),
        }
    }
}

/// The owners the caches know: a ReplicaSet's Deployment and a Job's CronJob (name, uid).
pub(super) trait Owners {
    fn deployment(&self, replicaset_uid: &str) -> Option<&(String, String)>;
    fn cronjob(&self, job_uid: &str) -> Option<&(String, String)>;
    /// The uid of namespace `kube-system`.
    fn cluster_uid(&self) -> Option<&str>;
}

/// A pod as the processor adds it to resources.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct PodView {
    pub(super) namespace: String,
    pub(super) node: String,
    pub(super) attributes: Vec<(String, String)>,
    pub(super) containers: Vec<ContainerView>,
}

/// A container as the processor adds it to resources.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ContainerView {
    pub(super) name: String,
    pub(super) ids: Vec<(i32, String)>,
    pub(super) repo_digest: Option<String>,
    pub(super) attributes: Vec<(String, String)>,
}

impl Rules {
    /// The attributes of `pod`, its workloads resolved through `owners`.
    pub(super) fn view(&self, pod: &PodRecord, owners: &impl Owners) -> PodView {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty())
                && self.wants(name)
            {
                out.push((name.to_owned(), value));
            }
        };
        put("k8s.namespace.name", Some(pod.namespace.clone()));
        put("k8s.pod.name", Some(pod.name.clone()));
        put("k8s.pod.uid", Some(pod.uid.clone()));
        put("k8s.pod.hostname", pod.hostname.clone());
        put("k8s.pod.start_time", pod.created.as_ref().map(|c| c.0.clone()));
        put("k8s.pod.ip", pod.ip.clone());
        put("k8s.node.name", Some(pod.node.clone()));
        put("k8s.cluster.uid", owners.cluster_uid().map(str::to_owned));
        let mut workload = None;
        for (kind, name, uid) in &pod.owners {
            match kind.as_str() {
                "ReplicaSet" => {
                    put("k8s.replicaset.name", Some(name.clone()));
                    put("k8s.replicaset.uid", Some(uid.clone()));
                    let deployment = if self.deployment_from_replicaset_name {
                        None
                    } else {
                        owners.deployment(uid).cloned()
                    };
                    let deployment = match deployment {
                        Some((deployment, deployment_uid)) => {
                            put("k8s.deployment.uid", Some(deployment_uid));
                            Some(deployment)
                        }
                        None => pod.template_hash.as_ref().and_then(|hash| {
                            name.strip_suffix(hash.as_str())?.strip_suffix('-').map(str::to_owned)
                        }),
                    };
                    put("k8s.deployment.name", deployment.clone());
                    workload = workload.or(deployment).or(Some(name.clone()));
                }
                "DaemonSet" => {
                    put("k8s.daemonset.name", Some(name.clone()));
                    put("k8s.daemonset.uid", Some(uid.clone()));
                    workload = workload.or(Some(name.clone()));
                }
                "StatefulSet" => {
                    put("k8s.statefulset.name", Some(name.clone()));
                    put("k8s.statefulset.uid", Some(uid.clone()));
                    workload = workload.or(Some(name.clone()));
                }
                "Job" => {
                    put("k8s.job.name", Some(name.clone()));
                    put("k8s.job.uid", Some(uid.clone()));
                    let cronjob = match owners.cronjob(uid) {
                        Some((cronjob, cronjob_uid)) => {
                            put("k8s.cronjob.uid", Some(cronjob_uid.clone()));
                            Some(cronjob.clone())
                        }
                        None => cronjob_from_job_name(name, pod.created.as_ref().map(|c| c.1)),
                    };
                    put("k8s.cronjob.name", cronjob.clone());
                    workload = workload.or(cronjob).or(Some(name.clone()));
                }
                _ => {}
            }
        }
        // service.*: annotations (through `otel_annotations`), then the well-known labels,
        // then the workload's name, then the pod's.
        let annotated =
            |key: &str| pod.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let service_name = annotated("service.name")
            .or_else(|| pod.app.iter().flatten().next().cloned())
            .or(workload)
            .or_else(|| Some(pod.name.clone()));
        put("service.name", service_name);
        put(
            "service.namespace",
            annotated("service.namespace").or_else(|| Some(pod.namespace.clone())),
        );
        let pod_version = annotated("service.version").or_else(|| pod.app_version.clone());
        put("service.version", pod_version.clone());
        let instance = annotated("service.instance.id");
        put("service.instance.id", instance.clone());
        out.extend(pod.fields.iter().cloned());
        let containers = pod.containers.iter().map(|c| {
            let mut attributes = Vec::new();
            let mut put = |name: &'static str, value: Option<String>| {
                if let Some(value) = value.filter(|v| !v.is_empty())
                    && self.wants(name)
                {
                    attributes.push((name.to_owned(), value));
                }
            };
            put("k8s.container.name", Some(c.name.clone()));
            put("container.image.name", Some(c.image.name.clone()));
            put("container.image.tag", c.image.tag.clone());
            if pod_version.is_none() {
                put("service.version", c.image.version());
            }
            if instance.is_none() {
                put(
                    "service.instance.id",
                    Some(format!("{}.{}.{}", pod.namespace, pod.name, c.name)),
                );
            }
            ContainerView {
                name: c.name.clone(),
                ids: c.ids.clone(),
                repo_digest: c.repo_digest.clone(),
                attributes,
            }
        });
        PodView {
            namespace: pod.namespace.clone(),
            node: pod.node.clone(),
            attributes: out,
            containers: containers.collect(),
        }
    }

    /// The identifiers `pod` is found by: under each association rule whose values it has
    /// (one per container id for a `container.id` source), and always by its uid and, unless
    /// it shares its node's network, by its IP as a connection and as `k8s.pod.ip`.
    pub(super) fn identifiers(&self, pod: &PodRecord, view: &PodView) -> Vec<Identifier> {
        let ip = pod.ip.clone().filter(|_| !pod.host_network);
        let mut ids: Vec<Identifier> = Vec::new();
        ids.push(Identifier::from([(Source::Attribute("k8s.pod.uid".into()), pod.uid.clone())]));
        if let Some(ip) = &ip {
            ids.push(Identifier::from([(Source::Connection, ip.clone())]));
            ids.push(Identifier::from([(Source::Attribute("k8s.pod.ip".into()), ip.clone())]));
        }
        let container_ids = pod.containers.iter().flat_map(|c| c.ids.iter().map(|(_, id)| id));
        for rule in &self.association {
            let variants: Vec<Option<&String>> =
                if rule.contains(&Source::Attribute("container.id".into())) {
                    container_ids.clone().map(Some).collect()
                } else {
                    vec![None]
                };
            for container_id in variants {
                let values: Option<Vec<(Source, String)>> = rule
                    .iter()
                    .map(|source| {
                        let value = match source {
                            Source::Connection => ip.clone(),
                            Source::Attribute(name) => match name.as_str() {
                                "k8s.namespace.name" => Some(pod.namespace.clone()),
                                "k8s.pod.name" => Some(pod.name.clone()),
                                "k8s.pod.uid" => Some(pod.uid.clone()),
                                "k8s.pod.ip" | "host.name" => pod.ip.clone(),
                                "container.id" => container_id.cloned(),
                                other => view
                                    .attributes
                                    .iter()
                                    .find(|(k, _)| k == other)
                                    .map(|(_, v)| v.clone()),
                            },
                        };
                        value.filter(|v| !v.is_empty()).map(|v| (source.clone(), v))
                    })
                    .collect();
                if let Some(values) = values
                    && !ids.iter().any(|id| id[..] == values[..])
                {
                    ids.push(values.into());
                }
            }
        }
        ids
    }
}

/// A cronjob's name from the name of a job it made (`<cronjob>-<minutes since the epoch>`,
/// the minutes within a day of the pod's creation), when the job is not known.
fn cronjob_from_job_name(job: &str, created: Option<i64>) -> Option<String> {
    let (prefix, suffix) = job.rsplit_once('-')?;
    if suffix.len() != 8 || !suffix.bytes().all(|b| b.is_ascii_digit()) || prefix.is_empty() {
        return None;
    }
    let minutes: i64 = suffix.parse().ok()?;
    let created = created? / 60;
    ((created - minutes).abs() <= 1440).then(|| prefix.to_owned())
}
