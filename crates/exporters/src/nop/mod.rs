//! The `nop` exporter: accepts everything and sends it nowhere. The export queue counts what
//! it "sent", which makes it the sink of throughput measurements.

use serde::Deserialize;
use weir_core::{Batch, BoxFuture, ExportError, Exporter};

/// `exporters.nop`: no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Discards every batch.
#[derive(Debug)]
pub struct NopExporter;

impl Exporter for NopExporter {
    fn export<'a>(
        &'a self,
        _: &'a Batch,
        _: &'a weir_core::Metadata,
    ) -> BoxFuture<'a, Result<(), ExportError>> {
        Box::pin(async { Ok(()) })
    }
}

impl weir_core::Component for Config {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "nop",
        aliases: &[],
        signals: weir_core::Signals::Pipeline(weir_core::declare::ALL_SIGNALS),
        stability: weir_core::Stability::Beta,
        summary: "discards everything (and counts it)",
    };

    fn validate(config: Config) -> Result<Config, Vec<weir_core::ConfigError>> {
        Ok(config)
    }
}

impl weir_core::declare::BuildExporter for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build<'a>(
        &'a self,
        _id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> weir_core::BoxFuture<'a, std::io::Result<std::sync::Arc<dyn weir_core::Exporter>>> {
        use std::sync::Arc;
        use weir_core::Exporter;
        Box::pin(async move { Ok(Arc::new(NopExporter) as Arc<dyn Exporter>) })
    }

    fn queue(&self) -> weir_core::export::Settings {
        weir_core::export::Settings::default()
    }

    fn authenticator(&self) -> Option<&str> {
        None
    }
}
