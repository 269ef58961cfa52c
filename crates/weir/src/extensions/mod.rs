//! Extensions: services beside the pipelines. The closed set is [`ExtensionConfig`].

pub mod file_storage;
pub mod health_check;

use weir_core::{ComponentInfo, options::or_default};

/// The configuration of one extension, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtensionConfig {
    /// `health_check`: an HTTP endpoint that says whether the pipelines run.
    HealthCheck(health_check::Config),
    /// `file_storage`: a directory for persistent sending queues.
    FileStorage(file_storage::Config),
}

/// Every extension type.
pub const EXTENSIONS: &[ComponentInfo] = &[
    ComponentInfo { name: "health_check", aliases: &[], signals: &[], stability: "beta" },
    ComponentInfo { name: "file_storage", aliases: &[], signals: &[], stability: "alpha" },
];

impl ExtensionConfig {
    /// Deserialises the configuration of an extension of type `kind`; `None` when no
    /// extension has that type.
    pub fn deserialize<'de, D>(
        kind: &str,
        deserializer: D,
    ) -> Option<Result<ExtensionConfig, D::Error>>
    where
        D: serde::Deserializer<'de>,
    {
        Some(match kind {
            "health_check" => or_default(deserializer).map(ExtensionConfig::HealthCheck),
            "file_storage" => or_default(deserializer).map(ExtensionConfig::FileStorage),
            _ => return None,
        })
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ExtensionConfig::HealthCheck(config) => config.validate(),
            ExtensionConfig::FileStorage(config) => config.validate(),
        }
    }
}
