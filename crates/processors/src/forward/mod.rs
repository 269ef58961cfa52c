//! The `forward` connector: ends pipelines of one signal and feeds others of the same signal,
//! unchanged (the Collector's `forward` connector).

use serde::Deserialize;
use weir_core::{Batch, Output, Processor};

/// `connectors.forward`: no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Passes every batch on.
#[derive(Debug)]
pub struct Forward;

impl Processor for Forward {
    fn process(&mut self, batch: Batch, out: &mut Output) {
        out.push(batch);
    }
}

impl weir_core::Component for Config {
    type Config = Config;
    const DECLARATION: weir_core::Declaration = weir_core::Declaration {
        name: "forward",
        aliases: &[],
        signals: weir_core::Signals::Connector(&[
            (weir_core::Signal::Traces, weir_core::Signal::Traces),
            (weir_core::Signal::Metrics, weir_core::Signal::Metrics),
            (weir_core::Signal::Logs, weir_core::Signal::Logs),
        ]),
        stability: weir_core::Stability::Beta,
        summary: "passes data unchanged between pipelines of the same signal",
    };

    fn validate(config: Config) -> Result<Config, Vec<weir_core::ConfigError>> {
        Ok(config)
    }
}

impl weir_core::declare::BuildProcessor for Config {
    fn reads_items(&self) -> bool {
        false
    }

    fn build(&self, id: &str) -> Box<dyn weir_core::Processor> {
        let _ = id;
        Box::new(Forward)
    }
}
