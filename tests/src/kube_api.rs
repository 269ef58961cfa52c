//! A Kubernetes API server for tests, on 127.0.0.1: no real one can run here, so this serves
//! the documented list and watch protocol over objects built with `k8s-openapi`'s types.
//!
//! - `GET /api/v1/pods`, `/api/v1/namespaces/{ns}/pods`, and the same for namespaces, nodes,
//!   `apps/v1` replicasets and `batch/v1` jobs: a list with its `resourceVersion`, filtered by
//!   `fieldSelector` (`metadata.name`, `metadata.namespace`, `spec.nodeName`; `=`, `==`,
//!   `!=`) and `labelSelector` (`k=v`, `k!=v`, `k`, `!k`); as `PartialObjectMetadataList`
//!   when the client asks for metadata only (`Accept: ...;as=PartialObjectMetadataList`).
//! - `?watch=1&resourceVersion=N`: the events after N (`ADDED`, `MODIFIED`, `DELETED`), one
//!   JSON object per line, then new ones as they happen, a `BOOKMARK` first when asked; a
//!   version older than the last compaction gets an `ERROR` event with a `410` `Expired`
//!   status, as the API server answers a watch that can no longer resume.
//! - `GET` of one object by name (`/api/v1/nodes/{name}`), or `404` with a `Status` body.
//! - A forbidden resource gets `403` with a `Status` body, as RBAC refuses.

use std::{
    collections::{BTreeMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    body::Body,
    extract::Query,
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

/// A resource the server serves: its plural, group/version and list kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `v1` pods.
    Pod,
    /// `v1` namespaces.
    Namespace,
    /// `v1` nodes.
    Node,
    /// `apps/v1` replicasets.
    ReplicaSet,
    /// `batch/v1` jobs.
    Job,
    /// `v1` services.
    Service,
    /// `v1` endpoints.
    Endpoints,
    /// `discovery.k8s.io/v1` endpointslices.
    EndpointSlice,
}

impl Kind {
    fn of(kind: &str) -> Kind {
        match kind {
            "Pod" => Kind::Pod,
            "Namespace" => Kind::Namespace,
            "Node" => Kind::Node,
            "ReplicaSet" => Kind::ReplicaSet,
            "Job" => Kind::Job,
            "Service" => Kind::Service,
            "Endpoints" => Kind::Endpoints,
            "EndpointSlice" => Kind::EndpointSlice,
            other => panic!("the test API server does not serve {other}"),
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Namespace => "namespaces",
            Kind::Node => "nodes",
            Kind::ReplicaSet => "replicasets",
            Kind::Job => "jobs",
            Kind::Service => "services",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslices",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Job => "Job",
            Kind::Service => "Service",
            Kind::Endpoints => "Endpoints",
            Kind::EndpointSlice => "EndpointSlice",
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Kind::ReplicaSet => "apps/v1",
            Kind::Job => "batch/v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            _ => "v1",
        }
    }

    fn by_plural(plural: &str) -> Option<Kind> {
        [
            Kind::Pod,
            Kind::Namespace,
            Kind::Node,
            Kind::ReplicaSet,
            Kind::Job,
            Kind::Service,
            Kind::Endpoints,
            Kind::EndpointSlice,
        ]
        .into_iter()
        .find(|k| k.plural() == plural)
    }
}

/// One change, as the watch sends it.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    kind: Kind,
    kind_of_event: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    version: u64,
    /// Events up to this version are compacted away: a watch from before it gets `410`.
    compacted: u64,
    objects: BTreeMap<(Kind, String, String), Value>,
    history: Vec<Change>,
    forbidden: HashSet<Kind>,
    requests: Vec<String>,
    /// What `/version` says (`gitVersion`).
    git_version: Option<String>,
    /// Open watches end when this is cancelled (replaced by each expiry).
    watches: tokio_util::sync::CancellationToken,
}

/// The server; it stops with the runtime it was started on.
pub struct KubeApi {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
}

impl KubeApi {
    /// Starts a server on 127.0.0.1 on `runtime`.
    pub fn start(runtime: &tokio::runtime::Runtime) -> KubeApi {
        let state = Arc::new(Mutex::new(State { version: 100, ..State::default() }));
        let (changes, _) = broadcast::channel(1024);
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = (state.clone(), changes.clone());
        let app = axum::Router::new().fallback(
            move |uri: Uri, Query(params): Query<BTreeMap<String, String>>, headers: HeaderMap| {
                let (state, changes) = shared.clone();
                async move { serve(&state, &changes, &uri, &params, &headers) }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        KubeApi { addr, state, changes }
    }

    /// A kubeconfig file naming this server, written into `dir`.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig.yaml");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://{}\n\
             users:\n- name: weir\n  user:\n    token: test-token\ncontexts:\n- name: test\n  context:\n\
             \x20   cluster: test\n    user: weir\ncurrent-context: test\n",
            self.addr
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Creates or replaces `object` (a `k8s-openapi` object); returns its resource version.
    pub fn apply(&self, object: &impl serde::Serialize) -> u64 {
        let mut object = serde_json::to_value(object).unwrap();
        let kind = Kind::of(object["kind"].as_str().expect("an object with its kind"));
        let key = key(kind, &object);
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        let version = state.version;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        let event =
            if state.objects.insert(key, object.clone()).is_some() { "MODIFIED" } else { "ADDED" };
        self.record(&mut state, Change { version, kind, kind_of_event: event, object });
        version
    }

    /// Deletes the object of `kind` named `name` in `namespace` ("" for a cluster object).
    pub fn delete(&self, kind: Kind, namespace: &str, name: &str) {
        let mut state = self.state.lock().unwrap();
        let mut object = state
            .objects
            .remove(&(kind, namespace.to_owned(), name.to_owned()))
            .expect("deleting an object that exists");
        state.version += 1;
        let version = state.version;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        self.record(&mut state, Change { version, kind, kind_of_event: "DELETED", object });
    }

    fn record(&self, state: &mut State, change: Change) {
        state.history.push(change.clone());
        let _ = self.changes.send(change);
    }

    /// Ends every open watch and compacts the history, so a watch that resumes from a
    /// version it saw gets `410 Gone` and must list again.
    pub fn expire_watches(&self) {
        let mut state = self.state.lock().unwrap();
        state.compacted = state.version;
        state.version += 1;
        let history = std::mem::take(&mut state.history);
        state.history = history.into_iter().filter(|c| c.version > state.compacted).collect();
        std::mem::take(&mut state.watches).cancel();
    }

    /// Makes `/version` answer `git_version` (as EKS' `v1.33.5-eks-3025e55`); by default the
    /// server is `v1.33.0`.
    pub fn set_version(&self, git_version: &str) {
        self.state.lock().unwrap().git_version = Some(git_version.to_owned());
    }

    /// Refuses every request for `kind` with `403 Forbidden`, as RBAC does.
    pub fn forbid(&self, kind: Kind) {
        self.state.lock().unwrap().forbidden.insert(kind);
    }

    /// Every request so far: `path?query`, and `[watch]` for watches.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn key(kind: Kind, object: &Value) -> (Kind, String, String) {
    let meta = &object["metadata"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (kind, text(&meta["namespace"]), text(&meta["name"]))
}

/// Whether `object` passes the field and label selectors.
fn selected(object: &Value, fields: &str, labels: &str) -> bool {
    let field = |path: &str| match path {
        "metadata.name" => object["metadata"]["name"].as_str(),
        "metadata.namespace" => object["metadata"]["namespace"].as_str(),
        "spec.nodeName" => object["spec"]["nodeName"].as_str(),
        other => panic!("the test API server does not select by field {other}"),
    };
    let fields_ok = fields.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            field(k) != Some(v)
        } else {
            let (k, v) = term.split_once("==").or_else(|| term.split_once('=')).unwrap();
            field(k).unwrap_or_default() == v
        }
    });
    let label = |k: &str| object["metadata"]["labels"][k].as_str();
    let labels_ok = labels.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            label(k) != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            label(k) == Some(v.trim_start_matches('='))
        } else if let Some(k) = term.strip_prefix('!') {
            label(k).is_none()
        } else {
            label(term).is_some()
        }
    });
    fields_ok && labels_ok
}

/// `object` as the client asked: whole, or its metadata only.
fn shaped(object: &Value, metadata_only: bool) -> Value {
    if metadata_only {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": object["metadata"]})
    } else {
        object.clone()
    }
}

fn serve(
    state: &Arc<Mutex<State>>,
    changes: &broadcast::Sender<Change>,
    uri: &Uri,
    params: &BTreeMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    if uri.path() == "/version" {
        let locked = state.lock().unwrap();
        let git = locked.git_version.clone().unwrap_or_else(|| "v1.33.0".to_owned());
        let info =
            json!({"major": "1", "minor": "33", "gitVersion": git, "platform": "linux/amd64"});
        return json_response(StatusCode::OK, &info);
    }
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return (StatusCode::NOT_FOUND, "no such path").into_response(),
    };
    let (namespace, plural, name) = match rest {
        [plural] => (None, *plural, None),
        ["namespaces", namespace, plural] => (Some(namespace.to_string()), *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        ["namespaces", namespace, plural, name] => {
            (Some(namespace.to_string()), *plural, Some(*name))
        }
        _ => return (StatusCode::NOT_FOUND, "no such path").into_response(),
    };
    let Some(kind) = Kind::by_plural(plural) else {
        return (StatusCode::NOT_FOUND, "no such resource").into_response();
    };
    let watch = params.get("watch").is_some_and(|w| w == "1" || w == "true");
    let metadata_only = headers
        .get("accept")
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"));
    let mut locked = state.lock().unwrap();
    locked.requests.push(format!(
        "{}?{}{}",
        uri.path(),
        uri.query().unwrap_or_default(),
        if watch { " [watch]" } else { "" }
    ));
    if locked.forbidden.contains(&kind) {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("{plural} is forbidden: User \"system:serviceaccount:weir:weir\" cannot list resource \"{plural}\" at the cluster scope"),
            "reason": "Forbidden", "code": 403,
        });
        return json_response(StatusCode::FORBIDDEN, &status);
    }
    if let Some(name) = name {
        let key = (kind, namespace.clone().unwrap_or_default(), name.to_owned());
        return match locked.objects.get(&key) {
            Some(object) => json_response(StatusCode::OK, &shaped(object, metadata_only)),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("{plural} \"{name}\" not found"),
                    "reason": "NotFound", "code": 404,
                }),
            ),
        };
    }
    let fields = params.get("fieldSelector").cloned().unwrap_or_default();
    let labels = params.get("labelSelector").cloned().unwrap_or_default();
    let matches = move |c_kind: Kind, object: &Value| {
        c_kind == kind
            && namespace
                .as_ref()
                .is_none_or(|n| object["metadata"]["namespace"].as_str() == Some(n))
            && selected(object, &fields, &labels)
    };
    if !watch {
        let items: Vec<Value> = locked
            .objects
            .iter()
            .filter(|((k, _, _), o)| matches(*k, o))
            .map(|(_, o)| shaped(o, metadata_only))
            .collect();
        let list_kind = if metadata_only {
            "PartialObjectMetadataList".to_owned()
        } else {
            format!("{}List", kind.name())
        };
        let api_version = if metadata_only { "meta.k8s.io/v1" } else { kind.api_version() };
        let list = json!({
            "apiVersion": api_version, "kind": list_kind,
            "metadata": {"resourceVersion": locked.version.to_string()},
            "items": items,
        });
        return json_response(StatusCode::OK, &list);
    }
    let from: u64 = params.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let (sender, receiver) = mpsc::channel::<String>(1024);
    if from != 0 && from <= locked.compacted {
        let status = json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {from} ({})", locked.compacted + 1),
            "reason": "Expired", "code": 410,
        }});
        let _ = sender.try_send(format!("{status}\n"));
        drop(sender);
        return stream(receiver);
    }
    let line = move |c: &Change| {
        format!(
            "{}\n",
            json!({"type": c.kind_of_event, "object": shaped(&c.object, metadata_only)})
        )
    };
    for change in locked.history.iter().filter(|c| c.version > from && matches(c.kind, &c.object)) {
        let _ = sender.try_send(line(change));
    }
    if params.get("allowWatchBookmarks").is_some_and(|b| b == "true") {
        let bookmark = json!({"type": "BOOKMARK", "object": {
            "kind": kind.name(), "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": locked.version.to_string()},
        }});
        let _ = sender.try_send(format!("{bookmark}\n"));
    }
    let mut updates = changes.subscribe();
    let ended = locked.watches.clone();
    drop(locked);
    tokio::spawn(async move {
        loop {
            // an expiry ends the watch before any change made after it
            tokio::select! {
                biased;
                () = ended.cancelled() => return,
                change = updates.recv() => {
                    let Ok(change) = change else { return };
                    if matches(change.kind, &change.object) && sender.send(line(&change)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    stream(receiver)
}

fn stream(receiver: mpsc::Receiver<String>) -> Response {
    let lines = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let line = receiver.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(line), receiver))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(lines))
        .unwrap()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}
