//! `receivers.jaeger`: the Collector's protocols and their options — `grpc` (default
//! `localhost:14250`, the `otlp` receiver's gRPC server options), `thrift_http`
//! (`localhost:14268`, an HTTP server), `thrift_compact` (`localhost:6831`) and
//! `thrift_binary` (`localhost:6832`), UDP with `queue_size`, `max_packet_size`, `workers`
//! and `socket_buffer_size`. A protocol listens only when it is named.

use serde::{Deserialize, Deserializer};

use crate::{http_server::ServerConfig, otlp::Grpc};

/// `receivers.jaeger`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `protocols`.
    pub protocols: Protocols,
    /// `remote_sampling`: no longer served by the Collector's receiver; refused.
    pub remote_sampling: Option<serde_json::Value>,
}

/// `protocols`: a protocol listens when it is named, even with no options (`grpc:`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `grpc`: `jaeger.api_v2.CollectorService/PostSpans`.
    #[serde(deserialize_with = "grpc")]
    pub grpc: Option<Grpc>,
    /// `thrift_http`: `POST /api/traces` with a thrift (binary protocol) batch.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub thrift_http: Option<ServerConfig>,
    /// `thrift_compact`: the agent's UDP port for compact-protocol `emitBatch`.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub thrift_compact: Option<Udp>,
    /// `thrift_binary`: the agent's UDP port for binary-protocol `emitBatch`.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub thrift_binary: Option<Udp>,
}

/// The gRPC endpoint defaults to Jaeger's port, not OTLP's.
fn grpc<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Grpc>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    let mut map = match value {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "expected a map of options, got {other}"
            )));
        }
    };
    map.entry("endpoint").or_insert_with(|| GRPC_ENDPOINT.into());
    serde_json::from_value(serde_json::Value::Object(map))
        .map(Some)
        .map_err(serde::de::Error::custom)
}

const GRPC_ENDPOINT: &str = "127.0.0.1:14250";
const HTTP_ENDPOINT: &str = "127.0.0.1:14268";
const COMPACT_ENDPOINT: &str = "127.0.0.1:6831";
const BINARY_ENDPOINT: &str = "127.0.0.1:6832";

/// A UDP protocol's options.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Udp {
    /// `endpoint`: `host:port`.
    pub endpoint: String,
    /// `queue_size`: datagrams received and not yet decoded; more are dropped (counted).
    pub queue_size: usize,
    /// `max_packet_size`: the largest datagram read; a larger one is dropped (counted).
    pub max_packet_size: usize,
    /// `workers`: tasks decoding datagrams.
    pub workers: usize,
    /// `socket_buffer_size`: the socket's receive buffer in bytes (0: the system's).
    pub socket_buffer_size: usize,
}

impl Default for Udp {
    fn default() -> Udp {
        Udp {
            endpoint: String::new(),
            queue_size: 1000,
            max_packet_size: 65_000,
            workers: 10,
            socket_buffer_size: 0,
        }
    }
}

impl Config {
    /// The protocols with their default endpoints filled in.
    pub fn resolved(&self) -> Protocols {
        let mut protocols = self.protocols.clone();
        let fill = |endpoint: &mut String, default: &str| {
            if endpoint.is_empty() {
                *endpoint = default.to_owned();
            }
        };
        if let Some(http) = &mut protocols.thrift_http {
            fill(&mut http.endpoint, HTTP_ENDPOINT);
        }
        if let Some(udp) = &mut protocols.thrift_compact {
            fill(&mut udp.endpoint, COMPACT_ENDPOINT);
        }
        if let Some(udp) = &mut protocols.thrift_binary {
            fill(&mut udp.endpoint, BINARY_ENDPOINT);
        }
        protocols
    }

    /// Every problem, as `(path below the receiver, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.remote_sampling.is_some() {
            errors.push((
                "remote_sampling".into(),
                "remote sampling config detected in the Jaeger receiver; use the jaegerremotesampling extension instead".into(),
            ));
        }
        let protocols = self.resolved();
        let Protocols { grpc, thrift_http, thrift_compact, thrift_binary } = &protocols;
        if grpc.is_none()
            && thrift_http.is_none()
            && thrift_compact.is_none()
            && thrift_binary.is_none()
        {
            errors.push((
                "protocols".into(),
                "must specify at least one protocol when using the Jaeger receiver".into(),
            ));
        }
        if let Some(grpc) = grpc {
            crate::otlp::check_endpoint("protocols.grpc.endpoint", &grpc.endpoint, &mut errors);
            if grpc.max_recv_msg_size_mib == 0 {
                errors.push(("protocols.grpc.max_recv_msg_size_mib".into(), "must be > 0".into()));
            }
        }
        if let Some(http) = thrift_http {
            errors.extend(http.problems("protocols.thrift_http."));
        }
        for (name, udp) in [("thrift_compact", thrift_compact), ("thrift_binary", thrift_binary)] {
            let Some(udp) = udp else { continue };
            let at = format!("protocols.{name}.");
            crate::otlp::check_endpoint(&format!("{at}endpoint"), &udp.endpoint, &mut errors);
            if udp.workers == 0 {
                errors.push((format!("{at}workers"), "must be > 0".into()));
            }
            if udp.queue_size == 0 {
                errors.push((format!("{at}queue_size"), "must be > 0".into()));
            }
            if udp.max_packet_size == 0 || udp.max_packet_size > 65_535 {
                errors.push((format!("{at}max_packet_size"), "must be between 1 and 65535".into()));
            }
        }
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "jaeger",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Traces]),
        stability: weir_core::Stability::Beta,
        summary: "Jaeger spans: gRPC api_v2, thrift over HTTP, the agent's UDP thrift (compact, binary)",
    }
);

impl weir_core::declare::BuildReceiver for Config {
    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Box<dyn weir_core::Receiver>>> {
        Box::pin(async move {
            let receiver = super::JaegerReceiver::bind(id, self, auth).await?;
            Ok(Box::new(receiver) as Box<dyn weir_core::Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        let grpc = self.protocols.grpc.iter().filter_map(|g| g.auth.as_ref());
        let http = self.protocols.thrift_http.iter().filter_map(|h| h.auth.as_ref());
        grpc.chain(http).map(|a| a.authenticator.as_str()).collect()
    }
}
