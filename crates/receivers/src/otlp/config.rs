//! Options of the `otlp` receiver, with the Collector's names and defaults.

use serde::Deserialize;
use weir_core::{auth::AuthConfig, tls::ServerTls};

/// Mebibytes to bytes.
const MIB: usize = 1 << 20;

/// `receivers.otlp`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `protocols`: which transports listen.
    pub protocols: Protocols,
}

/// `protocols`: a transport is enabled by naming it, even with no options (`grpc:`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `grpc`.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub grpc: Option<Grpc>,
    /// `http`.
    #[serde(deserialize_with = "weir_core::options::present_means_enabled")]
    pub http: Option<Http>,
}

/// `protocols.grpc`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grpc {
    /// `endpoint`: `host:port` to listen on.
    pub endpoint: String,
    /// `max_recv_msg_size_mib`: the largest request accepted, after decompression.
    pub max_recv_msg_size_mib: usize,
    /// `max_concurrent_streams`: requests in flight on one connection (0: no limit).
    pub max_concurrent_streams: u32,
    /// `include_metadata`: keep the request's headers with its data, for processors that
    /// read them (the `cardinality_limiter`'s tenant).
    pub include_metadata: bool,
    /// `auth.authenticator`: the extension that must accept each request.
    pub auth: Option<AuthConfig>,
    /// `tls`: serve over TLS (mTLS with `client_ca_file`).
    pub tls: Option<ServerTls>,
    /// `keepalive`: HTTP/2 pings and connection ages (zero: gRPC's defaults).
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub keepalive: GrpcKeepalive,
    /// `transport`: `tcp` (the only one weir listens on).
    pub transport: String,
    /// `read_buffer_size`: each connection's kernel receive buffer (`SO_RCVBUF`), in bytes
    /// (default 512 KiB; 0: the system's default).
    pub read_buffer_size: usize,
    /// `write_buffer_size`: each connection's kernel send buffer (`SO_SNDBUF`), in bytes
    /// (default 0: the system's default).
    pub write_buffer_size: usize,
}

/// `protocols.grpc.keepalive`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcKeepalive {
    /// `server_parameters`.
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub server_parameters: ServerParameters,
    /// `enforcement_policy`: how clients' pings are policed; weir does not police them.
    pub enforcement_policy: Option<serde_json::Value>,
}

/// `protocols.grpc.keepalive.server_parameters`; zero leaves gRPC's default.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerParameters {
    /// `max_connection_idle`: not supported (tonic cannot close idle connections).
    #[serde(with = "weir_core::duration")]
    pub max_connection_idle: std::time::Duration,
    /// `max_connection_age`: a connection is asked to go away (GOAWAY) after this long, so
    /// clients behind a load balancer reconnect and spread.
    #[serde(with = "weir_core::duration")]
    pub max_connection_age: std::time::Duration,
    /// `max_connection_age_grace`: then closed this much later.
    #[serde(with = "weir_core::duration")]
    pub max_connection_age_grace: std::time::Duration,
    /// `time`: ping a connection idle this long.
    #[serde(with = "weir_core::duration")]
    pub time: std::time::Duration,
    /// `timeout`: close it when a ping is not answered within this.
    #[serde(with = "weir_core::duration")]
    pub timeout: std::time::Duration,
}

impl Default for Grpc {
    fn default() -> Grpc {
        Grpc {
            endpoint: "127.0.0.1:4317".into(),
            max_recv_msg_size_mib: 4,
            max_concurrent_streams: 0,
            include_metadata: false,
            auth: None,
            tls: None,
            keepalive: GrpcKeepalive::default(),
            transport: "tcp".into(),
            read_buffer_size: 512 * 1024,
            write_buffer_size: 0,
        }
    }
}

impl Grpc {
    /// The request size limit in bytes.
    pub fn max_recv_msg_size(&self) -> usize {
        self.max_recv_msg_size_mib.saturating_mul(MIB)
    }
}

/// `protocols.http`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// `endpoint`: `host:port` to listen on.
    pub endpoint: String,
    /// `max_request_body_size`: the largest body accepted, in bytes, after decompression.
    pub max_request_body_size: usize,
    /// `read_header_timeout`: how long a client may take to send a request's headers
    /// (default 1m, as the Collector): a client that trickles them is cut off.
    #[serde(with = "weir_core::duration")]
    pub read_header_timeout: std::time::Duration,
    /// `traces_url_path`.
    pub traces_url_path: String,
    /// `metrics_url_path`.
    pub metrics_url_path: String,
    /// `logs_url_path`.
    pub logs_url_path: String,
    /// `include_metadata`: keep the request's headers with its data.
    pub include_metadata: bool,
    /// `auth.authenticator`: the extension that must accept each request.
    pub auth: Option<AuthConfig>,
    /// `tls`: serve over TLS (mTLS with `client_ca_file`).
    pub tls: Option<ServerTls>,
    /// `cors`: which browser origins may send (off unless `allowed_origins` is set).
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub cors: super::cors::Cors,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            endpoint: "127.0.0.1:4318".into(),
            max_request_body_size: 20 * MIB,
            read_header_timeout: std::time::Duration::from_secs(60),
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
            include_metadata: false,
            auth: None,
            tls: None,
            cors: super::cors::Cors::default(),
        }
    }
}

impl Config {
    /// Every problem, as `(path below the receiver, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let Protocols { grpc, http } = &self.protocols;
        if grpc.is_none() && http.is_none() {
            errors.push(("protocols".into(), "must enable grpc, http or both".into()));
        }
        if let Some(grpc) = grpc {
            check_endpoint("protocols.grpc.endpoint", &grpc.endpoint, &mut errors);
            if grpc.transport != "tcp" {
                errors.push((
                    "protocols.grpc.transport".into(),
                    format!("{:?} is not supported: weir listens on tcp", grpc.transport),
                ));
            }
            if !grpc.keepalive.server_parameters.max_connection_idle.is_zero() {
                errors.push((
                    "protocols.grpc.keepalive.server_parameters.max_connection_idle".into(),
                    "is not supported: use max_connection_age to recycle connections".into(),
                ));
            }
            if grpc.keepalive.enforcement_policy.is_some() {
                errors.push((
                    "protocols.grpc.keepalive.enforcement_policy".into(),
                    "is not supported: weir accepts every client ping and closes no client for pinging".into(),
                ));
            }
            for (path, message) in grpc.tls.iter().flat_map(ServerTls::validate) {
                errors.push((format!("protocols.grpc.tls.{path}"), message));
            }
            if grpc.max_recv_msg_size_mib == 0 {
                errors.push(("protocols.grpc.max_recv_msg_size_mib".into(), "must be > 0".into()));
            }
        }
        if let Some(http) = http {
            check_endpoint("protocols.http.endpoint", &http.endpoint, &mut errors);
            for (path, message) in http.tls.iter().flat_map(ServerTls::validate) {
                errors.push((format!("protocols.http.tls.{path}"), message));
            }
            for (path, message) in http.cors.problems() {
                errors.push((format!("protocols.http.cors.{path}"), message));
            }
            if http.max_request_body_size == 0 {
                errors.push(("protocols.http.max_request_body_size".into(), "must be > 0".into()));
            }
            let paths = [
                ("traces_url_path", &http.traces_url_path),
                ("metrics_url_path", &http.metrics_url_path),
                ("logs_url_path", &http.logs_url_path),
            ];
            for (name, path) in paths {
                if !path.starts_with('/') {
                    errors.push((
                        format!("protocols.http.{name}"),
                        format!("{path:?} must start with '/'"),
                    ));
                }
            }
            let mut distinct: Vec<_> = paths.iter().map(|(_, p)| p.as_str()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() < paths.len() {
                errors
                    .push(("protocols.http".into(), "url paths of the signals must differ".into()));
            }
        }
        errors
    }
}

pub(crate) fn check_endpoint(path: &str, endpoint: &str, errors: &mut Vec<(String, String)>) {
    let valid = endpoint
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid {
        errors.push((path.into(), format!("invalid endpoint {endpoint:?}: expected host:port")));
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "otlp",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "OTLP over gRPC and HTTP (protobuf and JSON)",
    }
);

impl weir_core::declare::BuildReceiver for Config {
    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<Box<dyn weir_core::Receiver>>> {
        Box::pin(async move {
            let receiver = super::OtlpReceiver::bind(id, self, auth).await?;
            Ok(Box::new(receiver) as Box<dyn weir_core::Receiver>)
        })
    }

    fn authenticators(&self) -> Vec<&str> {
        let grpc = self.protocols.grpc.iter().filter_map(|g| g.auth.as_ref());
        let http = self.protocols.http.iter().filter_map(|h| h.auth.as_ref());
        grpc.chain(http).map(|a| a.authenticator.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use weir_core::Component;

    use super::*;

    #[test]
    fn grpc_keepalive_parses_and_what_weir_cannot_do_is_refused() {
        let config = Config::parse(
            "protocols:\n  grpc:\n    keepalive:\n      server_parameters:\n        max_connection_age: 60s\n        max_connection_age_grace: 5s\n",
        )
        .unwrap();
        let grpc = config.protocols.grpc.unwrap();
        assert_eq!(grpc.keepalive.server_parameters.max_connection_age.as_secs(), 60);
        assert_eq!(grpc.transport, "tcp");
        let errors = Config::parse(
            "protocols:\n  grpc:\n    transport: unix\n    keepalive:\n      server_parameters: {max_connection_idle: 1m}\n      enforcement_policy: {min_time: 10s}\n",
        )
        .unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "protocols.grpc.transport",
                "protocols.grpc.keepalive.server_parameters.max_connection_idle",
                "protocols.grpc.keepalive.enforcement_policy"
            ]
        );
    }
}
