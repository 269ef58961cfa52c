//! Options of the `load_balancing` exporter, with the Collector's names and defaults, and its
//! declaration.

use std::time::Duration;

use serde::Deserialize;

use super::LoadBalancingExporter;
use crate::otlp;

/// `exporters.loadbalancing`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `routing_key`: `traceID` (default), `service`, `resource`, `metric` or `streamID`.
    pub routing_key: RoutingKey,
    /// `protocol.otlp`: the `otlp` exporter's options for every endpoint (its `endpoint` is
    /// set per backend).
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub protocol: Protocol,
    /// `resolver`.
    pub resolver: Resolver,
}

/// `routing_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum RoutingKey {
    /// The trace id (spans and logs).
    #[default]
    #[serde(rename = "traceID")]
    TraceId,
    /// The resource's `service.name`.
    #[serde(rename = "service")]
    Service,
    /// All resource attributes.
    #[serde(rename = "resource")]
    Resource,
    /// The metric name.
    #[serde(rename = "metric")]
    Metric,
    /// The metric stream (resource, metric and point attributes).
    #[serde(rename = "streamID")]
    StreamId,
}

/// `protocol`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocol {
    /// `otlp` (`otlp:` with no value: the defaults).
    #[serde(deserialize_with = "weir_core::options::or_default")]
    pub otlp: otlp::Config,
}

/// `resolver`: exactly one of `static` and `dns`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resolver {
    /// `static`.
    #[serde(rename = "static")]
    pub static_: Option<StaticResolver>,
    /// `dns`.
    pub dns: Option<DnsResolver>,
}

/// `resolver.static`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticResolver {
    /// `hostnames`: `host:port` of every backend.
    pub hostnames: Vec<String>,
}

/// `resolver.dns`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsResolver {
    /// `hostname`: e.g. a headless Service's name.
    pub hostname: String,
    /// `port` (default 4317).
    #[serde(default = "otlp_port")]
    pub port: u16,
    /// `interval` (default 5s).
    #[serde(default = "five_seconds", with = "weir_core::duration")]
    pub interval: Duration,
    /// `timeout` (default 1s).
    #[serde(default = "one_second", with = "weir_core::duration")]
    pub timeout: Duration,
}

fn otlp_port() -> u16 {
    4317
}

fn five_seconds() -> Duration {
    Duration::from_secs(5)
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

impl Config {
    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        match (&self.resolver.static_, &self.resolver.dns) {
            (None, None) => errors.push(("resolver".into(), "set static or dns".into())),
            (Some(_), Some(_)) => {
                errors.push(("resolver".into(), "set static or dns, not both".into()))
            }
            (Some(s), None) if s.hostnames.is_empty() => errors.push((
                "resolver.static.hostnames".into(),
                "must name at least one backend".into(),
            )),
            (None, Some(d)) if d.hostname.is_empty() => {
                errors.push(("resolver.dns.hostname".into(), "must be set".into()))
            }
            _ => {}
        }
        let mut protocol = self.protocol.otlp.clone();
        protocol.endpoint = "127.0.0.1:4317".into();
        errors.extend(
            protocol.problems().into_iter().map(|(p, m)| (format!("protocol.otlp.{p}"), m)),
        );
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "load_balancing",
        aliases: &["loadbalancing"],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Development,
        summary: "OTLP to one backend per trace (or service, metric) over a consistent-hash ring",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move {
            Ok(Arc::new(
                LoadBalancingExporter::start(
                    id,
                    self,
                    auth.client(self.protocol.otlp.auth.as_ref())?,
                )
                .await?,
            ) as Arc<dyn Exporter>)
        })
    }

    fn queue(&self) -> weir_core::export::Settings {
        // each backend has its own queue with the protocol's settings; this one only
        // hands batches over, in order
        weir_core::export::Settings::in_order()
    }

    fn authenticator(&self) -> Option<&str> {
        self.protocol.otlp.auth.as_ref().map(|a| a.authenticator.as_str())
    }
}
