//! The Kubernetes API as weir's components use it: a client chosen by the Collector's
//! `auth_type`, and list-watch streams that relist when a watch expires and report refusals
//! in words an operator can act on.
//!
//! Components own what they keep of the objects; this crate only delivers the changes. The
//! list-watch protocol (initial list with a `resourceVersion`, watch from it, `410 Gone` →
//! relist, bookmarks, backoff on errors) is `kube`'s watcher, the maintained implementation
//! of the client-go informer's contract in Rust.

use std::{
    fmt::Debug,
    time::{Duration, Instant},
};

use futures_util::{FutureExt, Stream, StreamExt};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

pub use k8s_openapi;
pub use kube::{
    Api, Client, Resource, ResourceExt, core::PartialObjectMeta,
    runtime::watcher::Config as WatchConfig,
};
pub use watcher::Event;

/// A wait for [`ready`].
pub type Waiting = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// How weir authenticates to the API server: the Collector's `auth_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub enum AuthType {
    /// The pod's service account: token and CA mounted under
    /// `/var/run/secrets/kubernetes.io/serviceaccount`, the server from
    /// `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
    #[default]
    #[serde(rename = "serviceAccount")]
    ServiceAccount,
    /// A kubeconfig file (`KUBECONFIG`, else `~/.kube/config`), with its current context or
    /// the one `context` names.
    #[serde(rename = "kubeConfig")]
    KubeConfig,
    /// No credentials, the server from `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
    #[serde(rename = "none")]
    None,
}

/// Which API server, and how to authenticate to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiConfig {
    /// `auth_type`.
    pub auth_type: AuthType,
    /// `context`: the kubeconfig context (with `auth_type: kubeConfig`).
    pub context: Option<String>,
    /// `kube_config_path`: the kubeconfig file (with `auth_type: kubeConfig`), instead of
    /// `KUBECONFIG` or `~/.kube/config`.
    pub kube_config_path: Option<std::path::PathBuf>,
}

/// A client of the API server `config` names. Fails with a message saying what is missing
/// (no in-cluster environment, an unreadable kubeconfig).
pub async fn client(config: &ApiConfig) -> Result<Client, String> {
    let settings = match config.auth_type {
        AuthType::ServiceAccount => kube::Config::incluster().map_err(|e| {
            format!(
                "auth_type serviceAccount: {e} (weir must run in a pod whose service account \
                 token is mounted)"
            )
        })?,
        AuthType::KubeConfig => {
            let options = kube::config::KubeConfigOptions {
                context: config.context.clone(),
                ..Default::default()
            };
            let loaded = match &config.kube_config_path {
                Some(path) => {
                    let file = kube::config::Kubeconfig::read_from(path)
                        .map_err(|e| format!("kube_config_path {}: {e}", path.display()))?;
                    kube::Config::from_custom_kubeconfig(file, &options).await
                }
                None => kube::Config::from_kubeconfig(&options).await,
            };
            loaded.map_err(|e| format!("auth_type kubeConfig: {e}"))?
        }
        AuthType::None => {
            let var = |name: &str| {
                std::env::var(name).map_err(|_| {
                    format!("auth_type none: {name} is not set (weir finds the API server from it)")
                })
            };
            let (host, port) = (var("KUBERNETES_SERVICE_HOST")?, var("KUBERNETES_SERVICE_PORT")?);
            let host = if host.contains(':') { format!("[{host}]") } else { host };
            let url = format!("https://{host}:{port}")
                .parse()
                .map_err(|e| format!("auth_type none: API server https://{host}:{port}: {e}"))?;
            kube::Config::new(url)
        }
    };
    Client::try_from(settings).map_err(|e| format!("Kubernetes client: {e}"))
}

/// The changes of the `K` objects `config` selects, for `component`: the initial list
/// (`Init`, `InitApply`…, `InitDone`), then `Apply` and `Delete` as they happen, and a new
/// list whenever the watch cannot resume (`410 Gone`, a dropped connection). Errors are
/// retried with backoff, logged once per attempt with what to do about them (a `403` names
/// the verbs the service account needs) and counted in
/// `weir_kubernetes_watch_errors_total{component, resource}`. The stream does not end.
pub fn changes<K>(
    api: Api<K>,
    config: WatchConfig,
    component: &str,
) -> impl Stream<Item = Event<K>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
{
    reported(watcher(api, config), component, K::plural(&Default::default()).into_owned())
}

/// A watcher's events, its errors logged and counted and retried with backoff.
fn reported<T: Send + 'static>(
    watch: impl Stream<Item = watcher::Result<Event<T>>> + Send + 'static,
    component: &str,
    resource: String,
) -> impl Stream<Item = Event<T>> + Send + 'static {
    let errors = metrics::counter!(
        "weir_kubernetes_watch_errors_total",
        "component" => component.to_owned(),
        "resource" => resource.clone(),
    );
    let component = component.to_owned();
    watch.default_backoff().filter_map(move |change| {
        let event = match change {
            Ok(event) => Some(event),
            Err(error) => {
                errors.increment(1);
                tracing::warn!(%component, %resource, "{}", explain(&error, &resource));
                None
            }
        };
        std::future::ready(event)
    })
}

/// Feeds `changes` to `handle` until `shutdown`: each change as it comes (`Some`), then
/// `None` once no further change is ready (the moment to publish what was applied, so a burst
/// of changes makes one publication), and `None` again every `every` (for what expires with
/// time); each with the time.
pub async fn follow<C>(
    changes: impl Stream<Item = C>,
    every: Duration,
    mut handle: impl FnMut(Option<C>, Instant),
    shutdown: CancellationToken,
) {
    let mut changes = std::pin::pin!(changes);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => handle(None, Instant::now()),
            change = changes.next() => {
                let Some(change) = change else { return };
                handle(Some(change), Instant::now());
                while let Some(Some(change)) = changes.next().now_or_never() {
                    handle(Some(change), Instant::now());
                }
                handle(None, Instant::now());
            }
        }
    }
}

/// A signal that something is ready, and the future that waits for it.
pub fn ready() -> (Ready, Waiting) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    (
        Ready(Some(sender)),
        Box::pin(async move {
            // a dropped sender (the task ended) never signals: the wait times out
            if receiver.await.is_err() {
                std::future::pending::<()>().await;
            }
        }),
    )
}

/// The sending side of [`ready`].
pub struct Ready(Option<tokio::sync::oneshot::Sender<()>>);

impl Ready {
    /// Signals (once).
    pub fn set(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// What went wrong with a watch of `resource`, and what to do about it.
pub fn explain(error: &watcher::Error, resource: &str) -> String {
    let api_status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => Some(status.as_ref()),
        watcher::Error::WatchError(status) => Some(status.as_ref()),
        _ => None,
    };
    match api_status {
        Some(status) if status.code == 403 => format!(
            "the Kubernetes API refused to list or watch {resource} (403 Forbidden: {}): grant \
             weir's service account the verbs list and watch on {resource} in its ClusterRole; \
             retrying",
            status.message
        ),
        Some(status) if status.code == 401 => format!(
            "the Kubernetes API did not accept weir's credentials (401 Unauthorized: {}) \
             while watching {resource}; retrying",
            status.message
        ),
        _ => format!("watching {resource}: {error}; retrying"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_types_read_with_the_collectors_names() {
        #[derive(serde::Deserialize)]
        struct Options {
            auth_type: AuthType,
        }
        for (text, auth) in [
            ("serviceAccount", AuthType::ServiceAccount),
            ("kubeConfig", AuthType::KubeConfig),
            ("none", AuthType::None),
        ] {
            let options: Options = serde_json::from_str(&format!(r#"{{"auth_type":"{text}"}}"#))
                .expect("a known auth type");
            assert_eq!(options.auth_type, auth);
        }
        let unknown = serde_json::from_str::<Options>(r#"{"auth_type":"tls"}"#);
        let message = unknown.err().expect("tls is not an API auth type").to_string();
        assert!(message.contains("serviceAccount"), "{message}");
    }

    #[test]
    fn a_refusal_names_the_resource_and_the_verbs() {
        let status = kube::core::Status::failure("pods is forbidden", "Forbidden").with_code(403);
        let error = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
        let message = explain(&error, "pods");
        assert!(message.contains("403 Forbidden: pods is forbidden"), "{message}");
        assert!(message.contains("list and watch on pods"), "{message}");
    }
}
