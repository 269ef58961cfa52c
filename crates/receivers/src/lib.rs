//! Receivers of weir and their configuration enum.
//!
//! Each receiver lives in its own folder with its `config.rs`. [`ReceiverConfig`] is the
//! closed set of receivers: adding one means adding a variant, and the compiler then lists
//! every match that must learn about it.

pub mod decompress;
pub mod otlp;

use weir_core::{ComponentInfo, Receiver, Signal, options::or_default};

/// The configuration of one receiver, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverConfig {
    /// `otlp`: OTLP over gRPC and HTTP.
    Otlp(otlp::Config),
}

/// Every receiver type.
pub const RECEIVERS: &[ComponentInfo] = &[ComponentInfo {
    name: "otlp",
    aliases: &[],
    signals: &[Signal::Traces, Signal::Metrics, Signal::Logs],
    stability: "beta",
}];

impl ReceiverConfig {
    /// Deserialises the configuration of a receiver of type `kind` (the part of the id before
    /// `/`); `None` when no receiver has that type.
    pub fn deserialize<'de, D>(
        kind: &str,
        deserializer: D,
    ) -> Option<Result<ReceiverConfig, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        match kind {
            "otlp" => Some(or_default(deserializer).map(ReceiverConfig::Otlp)),
            _ => None,
        }
    }

    /// The signals this receiver can produce.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ReceiverConfig::Otlp(_) => RECEIVERS[0].signals,
        }
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ReceiverConfig::Otlp(config) => config.validate(),
        }
    }

    /// Binds the receiver's sockets; the receiver starts accepting when run.
    pub async fn build(
        &self,
        id: &str,
        auth: &weir_core::auth::Authenticators,
    ) -> std::io::Result<Box<dyn Receiver>> {
        match self {
            ReceiverConfig::Otlp(config) => {
                Ok(Box::new(otlp::OtlpReceiver::bind(id, config, auth).await?))
            }
        }
    }

    /// The extensions this receiver authenticates with.
    pub fn authenticators(&self) -> Vec<&str> {
        match self {
            ReceiverConfig::Otlp(config) => {
                let grpc = config.protocols.grpc.iter().filter_map(|g| g.auth.as_ref());
                let http = config.protocols.http.iter().filter_map(|h| h.auth.as_ref());
                grpc.chain(http).map(|a| a.authenticator.as_str()).collect()
            }
        }
    }
}
