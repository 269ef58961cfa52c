//! Extensions: services beside the pipelines. [`ExtensionSettings`] is the closed set; each
//! extension states what it provides through [`BuildExtension`]: an endpoint it serves, an
//! authenticator for receivers and exporters, or storage for persistent queues.

pub mod basicauth;
pub mod bearertokenauth;
pub mod file_storage;
pub mod headers_setter;
pub mod health_check;
pub mod pprof;
mod watched_file;
pub mod zpages;

use std::{net::SocketAddr, sync::Arc};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weir_core::{
    BoxFuture,
    auth::{Authenticators, ClientAuth, ServerAuth},
};

weir_core::kind! {
    /// A validated extension, by type.
    pub enum ExtensionSettings as dyn BuildExtension {
        /// `health_check`: an HTTP endpoint that says whether the pipelines run.
        HealthCheck(health_check::Config),
        /// `file_storage`: a directory for persistent sending queues.
        FileStorage(file_storage::Config),
        /// `bearertokenauth`: a bearer token, checked (receivers) or sent (exporters).
        BearerTokenAuth(bearertokenauth::Config),
        /// `basicauth`: HTTP Basic credentials, checked (receivers) or sent (exporters).
        BasicAuth(basicauth::Config),
        /// `headers_setter`: headers on exporters' requests, from request metadata and more.
        HeadersSetter(headers_setter::Config),
        /// `zpages`: live pages about the pipelines, components and recent errors.
        ZPages(zpages::Config),
        /// `pprof`: CPU profiles in the pprof format.
        Pprof(pprof::Config),
    }
}

/// What the topology shares with the extensions it starts.
#[derive(Debug, Clone)]
pub struct Context {
    /// Whether the pipelines run.
    pub health: health_check::Health,
    /// Cancelled when the services beside the pipelines stop, last.
    pub shutdown: CancellationToken,
    /// The running configuration, for pages that describe it.
    pub topology: Arc<zpages::Topology>,
    /// The latest warnings and errors logged.
    pub recent_errors: Arc<zpages::RecentErrors>,
}

/// An extension serving on an address until the context's shutdown.
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its task.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// The authenticators an extension provides.
#[derive(Default)]
pub struct Provided {
    /// For receivers: checks the requests they receive.
    pub server: Option<Arc<dyn ServerAuth>>,
    /// For exporters: credentials on the requests they send.
    pub client: Option<Arc<dyn ClientAuth>>,
}

/// Which requests an extension authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sides {
    /// Those a receiver takes.
    pub server: bool,
    /// Those an exporter sends.
    pub client: bool,
}

/// What an extension provides once validated; each provides one or more of these and keeps
/// the defaults (nothing) for the rest.
pub trait BuildExtension {
    /// Starts the endpoint it serves, if it serves one.
    fn serve<'a>(
        &'a self,
        id: &'a str,
        context: &'a Context,
    ) -> BoxFuture<'a, std::io::Result<Option<Served>>> {
        let _ = (id, context);
        Box::pin(async { Ok(None) })
    }

    /// Which requests it authenticates, as configured (checked before anything is built).
    fn authenticates(&self) -> Sides {
        Sides::default()
    }

    /// The extension whose client authenticator it applies first (`additional_auth`).
    fn chains_to(&self) -> Option<&str> {
        None
    }

    /// The authenticators it provides; `built` holds those of the extensions built before it,
    /// including the one it [chains to](BuildExtension::chains_to).
    fn authenticators(&self, built: &Authenticators) -> std::io::Result<Provided> {
        let _ = built;
        Ok(Provided::default())
    }

    /// Its storage for persistent sending queues, if it is one.
    fn storage(&self) -> Option<&file_storage::Config> {
        None
    }
}

/// Builds the authenticators of the listed extensions: each serves receivers and exporters
/// that name it. Those that chain to another are built after it (validation refused cycles
/// and chains to what does not authenticate clients).
pub fn authenticators<'a>(
    extensions: impl IntoIterator<Item = (&'a str, &'a ExtensionSettings)>,
) -> std::io::Result<Authenticators> {
    let mut built = Authenticators::default();
    let mut waiting: Vec<(&str, &ExtensionSettings)> = extensions.into_iter().collect();
    while !waiting.is_empty() {
        let ready =
            |e: &dyn BuildExtension| e.chains_to().is_none_or(|n| built.client.contains_key(n));
        let Some(next) = waiting.iter().position(|(_, e)| ready(e.as_dyn())) else {
            let ids: Vec<&str> = waiting.iter().map(|(id, _)| *id).collect();
            return Err(std::io::Error::other(format!(
                "extensions {ids:?}: additional_auth names no client authenticator that can be built first"
            )));
        };
        let (id, extension) = waiting.remove(next);
        let provided = extension.as_dyn().authenticators(&built)?;
        if let Some(server) = provided.server {
            built.server.insert(id.to_owned(), server);
        }
        if let Some(client) = provided.client {
            built.client.insert(id.to_owned(), client);
        }
    }
    Ok(built)
}

/// Binds `endpoint` for extension `id` (naming both in the error) and returns where it
/// listens and the future that serves `router` there until `shutdown`.
async fn serve_router(
    id: &str,
    endpoint: &str,
    router: axum::Router,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>> + use<>)> {
    let listener = tokio::net::TcpListener::bind(endpoint).await.map_err(|error| {
        std::io::Error::new(error.kind(), format!("{id}: cannot listen on {endpoint}: {error}"))
    })?;
    let addr = listener.local_addr()?;
    let serving = async move {
        axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).await
    };
    Ok((addr, serving))
}
