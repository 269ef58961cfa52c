//! Extensions: services beside the pipelines. The closed set is [`ExtensionConfig`].

pub mod basicauth;
pub mod bearertokenauth;
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
    /// `bearertokenauth`: a bearer token, checked (receivers) or sent (exporters).
    BearerTokenAuth(bearertokenauth::Config),
    /// `basicauth`: HTTP Basic credentials, checked (receivers) or sent (exporters).
    BasicAuth(basicauth::Config),
}

/// Every extension type.
pub const EXTENSIONS: &[ComponentInfo] = &[
    ComponentInfo { name: "health_check", aliases: &[], signals: &[], stability: "beta" },
    ComponentInfo { name: "file_storage", aliases: &[], signals: &[], stability: "alpha" },
    ComponentInfo { name: "bearertokenauth", aliases: &[], signals: &[], stability: "beta" },
    ComponentInfo { name: "basicauth", aliases: &[], signals: &[], stability: "beta" },
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
            "bearertokenauth" => or_default(deserializer).map(ExtensionConfig::BearerTokenAuth),
            "basicauth" => or_default(deserializer).map(ExtensionConfig::BasicAuth),
            _ => return None,
        })
    }

    /// Every problem of this configuration, as `(path below the component, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ExtensionConfig::HealthCheck(config) => config.validate(),
            ExtensionConfig::FileStorage(config) => config.validate(),
            ExtensionConfig::BearerTokenAuth(config) => config.validate(),
            ExtensionConfig::BasicAuth(config) => config.validate(),
        }
    }
}

/// Builds the authenticators of the listed extensions: each serves receivers and exporters
/// that name it.
pub fn authenticators(
    extensions: &[(crate::config::ComponentId, ExtensionConfig)],
) -> std::io::Result<weir_core::auth::Authenticators> {
    let mut built = weir_core::auth::Authenticators::default();
    for (id, extension) in extensions {
        let id = id.to_string();
        match extension {
            ExtensionConfig::BearerTokenAuth(config) => {
                let auth = std::sync::Arc::new(bearertokenauth::BearerToken::new(config)?);
                built.server.insert(id.clone(), auth.clone());
                built.client.insert(id, auth);
            }
            ExtensionConfig::BasicAuth(config) => {
                let auth = std::sync::Arc::new(basicauth::BasicAuth::new(config)?);
                if config.htpasswd.is_some() {
                    built.server.insert(id.clone(), auth.clone());
                }
                if config.client_auth.is_some() {
                    built.client.insert(id, auth);
                }
            }
            ExtensionConfig::HealthCheck(_) | ExtensionConfig::FileStorage(_) => {}
        }
    }
    Ok(built)
}
