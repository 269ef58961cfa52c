//! Options of the `prometheus` exporter, with the Collector's names and defaults, and its
//! declaration.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use serde::Deserialize;

use super::PrometheusExporter;

/// `exporters.prometheus`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `endpoint`: where `/metrics` is served (default 127.0.0.1:9464).
    pub endpoint: String,
    /// `namespace`: a prefix of every metric name.
    pub namespace: String,
    /// `const_labels`: labels on every series.
    pub const_labels: BTreeMap<String, String>,
    /// `metric_expiration`: series not updated for this long are forgotten (default 5m).
    #[serde(with = "weir_core::duration")]
    pub metric_expiration: Duration,
    /// `resource_to_telemetry_conversion.enabled`: resource attributes become labels.
    pub resource_to_telemetry_conversion: ResourceConversion,
    /// `enable_open_metrics`: answer in OpenMetrics when the scraper asks for it.
    pub enable_open_metrics: bool,
    /// `max_series` (weir): the most series held (default 100,000).
    pub max_series: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpoint: "127.0.0.1:9464".into(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            metric_expiration: Duration::from_secs(300),
            resource_to_telemetry_conversion: ResourceConversion::default(),
            enable_open_metrics: false,
            max_series: 100_000,
        }
    }
}

/// `resource_to_telemetry_conversion`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConversion {
    /// `enabled`.
    pub enabled: bool,
}

impl Config {
    /// Every problem, as `(path below the exporter, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.endpoint.parse::<SocketAddr>().is_err() {
            errors.push((
                "endpoint".into(),
                format!("{:?} is not host:port with an IP address", self.endpoint),
            ));
        }
        if self.max_series == 0 {
            errors.push(("max_series".into(), "must be > 0".into()));
        }
        if self.metric_expiration.is_zero() {
            errors.push(("metric_expiration".into(), "must be > 0".into()));
        }
        errors
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "prometheus",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(&[weir_core::Signal::Metrics]),
        stability: weir_core::Stability::Beta,
        summary: "metrics served for Prometheus to scrape",
    }
);

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        true
    }

    fn build<'a>(
        &'a self,
        id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move {
            Ok(Arc::new(PrometheusExporter::start(id, self).await?) as Arc<dyn Exporter>)
        })
    }

    fn queue(&self) -> weir_core::export::Settings {
        weir_core::export::Settings::in_order()
    }

    fn authenticator(&self) -> Option<&str> {
        None
    }
}
