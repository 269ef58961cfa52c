//! The `nop` receiver: receives nothing. It lets a pipeline exist with no source of data (for
//! instance to run only extensions, or a pipeline fed by connectors as well), as in the
//! Collector; it takes no options.

use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use weir_core::{
    BoxFuture, Component, ConfigError, Declaration, Receiver, ReceiverError, ReceiverOutput,
    Signals, Stability,
    declare::{ALL_SIGNALS, BuildReceiver},
};

/// `receivers.nop`: no options.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

impl Component for Config {
    type Config = Config;
    const DECLARATION: Declaration = Declaration {
        name: "nop",
        aliases: &[],
        signals: Signals::Pipeline(ALL_SIGNALS),
        stability: Stability::Beta,
        summary: "receives nothing",
    };

    fn validate(config: Config) -> Result<Config, Vec<ConfigError>> {
        Ok(config)
    }
}

impl BuildReceiver for Config {
    fn build<'a>(
        &'a self,
        _id: &'a str,
        _auth: &'a weir_core::auth::Authenticators,
    ) -> BoxFuture<'a, std::io::Result<Box<dyn Receiver>>> {
        Box::pin(async { Ok(Box::new(NopReceiver) as Box<dyn Receiver>) })
    }

    fn authenticators(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// Waits for shutdown, sending nothing.
#[derive(Debug)]
pub struct NopReceiver;

impl Receiver for NopReceiver {
    fn run(
        self: Box<Self>,
        output: ReceiverOutput,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<(), ReceiverError>> {
        Box::pin(async move {
            shutdown.cancelled().await;
            drop(output);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_nothing_and_stops_at_shutdown() {
        let settings = Config::parse("").expect("defaults are valid");
        let receiver = settings.build("nop", &Default::default()).await.expect("builds");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(receiver.run(ReceiverOutput::new(), shutdown.clone()));
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "runs until shut down");
        shutdown.cancel();
        assert!(task.await.expect("joins").is_ok());
        assert!(Config::parse("foo: 1").is_err(), "takes no options");
    }
}
