//! `receivers.zipkin`: the Collector's options — an HTTP server (`endpoint`, default
//! `localhost:9411`, and the other `confighttp` server options, flat or under
//! `protocols.http`) and `parse_string_tags`.

use serde::Deserialize;
use weir_core::{auth::AuthConfig, tls::ServerTls};

use crate::http_server::ServerConfig;

/// The default endpoint: Zipkin's port, on loopback.
const DEFAULT_ENDPOINT: &str = "127.0.0.1:9411";

/// `receivers.zipkin`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `protocols.http`: the server (the Collector's newer form).
    pub protocols: Option<Protocols>,
    /// `endpoint` (the older, flat form).
    pub endpoint: Option<String>,
    /// `max_request_body_size` (flat form).
    pub max_request_body_size: Option<usize>,
    /// `read_header_timeout` (flat form).
    pub read_header_timeout: Option<String>,
    /// `include_metadata` (flat form).
    pub include_metadata: Option<bool>,
    /// `auth` (flat form).
    pub auth: Option<AuthConfig>,
    /// `tls` (flat form).
    pub tls: Option<ServerTls>,
    /// `cors` (flat form).
    pub cors: Option<crate::otlp::cors::Cors>,
    /// `parse_string_tags`: tags that read as numbers or booleans become typed attributes.
    pub parse_string_tags: bool,
}

/// `protocols`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `http`.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub http: Option<ServerConfig>,
}

impl Config {
    /// The server's options: `protocols.http` when given (with the default endpoint when it
    /// names none), else the flat ones.
    pub fn server(&self) -> ServerConfig {
        if let Some(http) = self.protocols.as_ref().and_then(|p| p.http.clone()) {
            let endpoint = if http.endpoint.is_empty() {
                DEFAULT_ENDPOINT.into()
            } else {
                http.endpoint.clone()
            };
            return ServerConfig { endpoint, ..http };
        }
        let mut server = ServerConfig::on(self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT));
        if let Some(size) = self.max_request_body_size {
            server.max_request_body_size = size;
        }
        if let Some(timeout) =
            self.read_header_timeout.as_deref().and_then(|t| weir_core::duration::parse(t).ok())
        {
            server.read_header_timeout = timeout;
        }
        server.include_metadata = self.include_metadata.unwrap_or(false);
        server.auth = self.auth.clone();
        server.tls = self.tls.clone();
        server.cors = self.cors.clone().unwrap_or_default();
        server
    }

    /// Every problem, as `(path below the receiver, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if let Some(timeout) = &self.read_header_timeout
            && let Err(e) = weir_core::duration::parse(timeout)
        {
            errors.push(("read_header_timeout".into(), e));
        }
        let at = if self.protocols.as_ref().is_some_and(|p| p.http.is_some()) {
            "protocols.http."
        } else {
            ""
        };
        if self.protocols.as_ref().is_some_and(|p| p.http.is_none()) {
            errors.push(("protocols".into(), "must specify at least one protocol: http".into()));
        }
        errors.extend(self.server().problems(at));
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "zipkin",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Traces]),
        stability: weir_core::Stability::Beta,
        summary: "Zipkin spans over HTTP: API v2 (JSON, protobuf) and v1 (JSON, thrift)",
    }
);

impl weir_core::declare::BuildReceiver for Config {
    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Box<dyn weir_core::Receiver>>> {
        Box::pin(async move {
            let receiver = super::ZipkinReceiver::bind(id, self, auth).await?;
            Ok(Box::new(receiver) as Box<dyn weir_core::Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        let auth = match self.protocols.as_ref().and_then(|p| p.http.as_ref()) {
            Some(http) => http.auth.as_ref(),
            None => self.auth.as_ref(),
        };
        auth.map(|a| a.authenticator.as_str()).into_iter().collect()
    }
}
