//! Authentication between weir and its clients and backends: what the `bearertokenauth` and
//! `basicauth` extensions implement, and what receivers (`auth.authenticator` on a protocol)
//! and exporters (`auth.authenticator`) call.

use std::{collections::HashMap, sync::Arc};

use serde::Deserialize;

/// Checks the requests a receiver takes.
pub trait ServerAuth: Send + Sync + 'static {
    /// Whether `headers` carry valid credentials: the attributes of the authenticated client
    /// (such as `username`), which reach processors as request metadata `auth.<name>`; or
    /// why not, for weir's log only — clients hear UNAUTHENTICATED / 401 and nothing more.
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Vec<(String, String)>, String>;
}

/// The request metadata key under which a receiver keeps attribute `name` of the client its
/// authenticator accepted (`auth.username`): what processors and `from_attribute` read.
pub fn attribute_key(name: &str) -> String {
    format!("auth.{name}")
}

/// Adds credentials to the requests an exporter sends.
pub trait ClientAuth: Send + Sync + 'static {
    /// Sets the headers of the next request of a batch with request `metadata`, after the
    /// exporter's own `headers` (read afresh each time: a token file may have changed).
    fn apply(&self, headers: &mut http::HeaderMap, metadata: &crate::Metadata);
}

/// `auth` on a receiver's protocol or an exporter: the extension that authenticates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `authenticator`: an extension id (`bearertokenauth`, `basicauth/server`, ...).
    pub authenticator: String,
}

/// The authenticators the extensions provide, by extension id.
#[derive(Clone, Default)]
pub struct Authenticators {
    /// For receivers.
    pub server: HashMap<String, Arc<dyn ServerAuth>>,
    /// For exporters.
    pub client: HashMap<String, Arc<dyn ClientAuth>>,
}

impl Authenticators {
    /// The server side of `config`'s extension.
    pub fn server(
        &self,
        config: Option<&AuthConfig>,
    ) -> std::io::Result<Option<Arc<dyn ServerAuth>>> {
        let Some(config) = config else { return Ok(None) };
        self.server.get(&config.authenticator).cloned().map(Some).ok_or_else(|| {
            std::io::Error::other(format!(
                "extension {:?} does not authenticate servers",
                config.authenticator
            ))
        })
    }

    /// The client side of `config`'s extension.
    pub fn client(
        &self,
        config: Option<&AuthConfig>,
    ) -> std::io::Result<Option<Arc<dyn ClientAuth>>> {
        let Some(config) = config else { return Ok(None) };
        self.client.get(&config.authenticator).cloned().map(Some).ok_or_else(|| {
            std::io::Error::other(format!(
                "extension {:?} does not authenticate clients",
                config.authenticator
            ))
        })
    }
}

impl std::fmt::Debug for Authenticators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticators")
            .field("server", &self.server.keys().collect::<Vec<_>>())
            .field("client", &self.client.keys().collect::<Vec<_>>())
            .finish()
    }
}
