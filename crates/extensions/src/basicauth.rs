//! The `basicauth` extension, with the Collector's options: `htpasswd.file` and/or
//! `htpasswd.inline` (lines `user:password`, the password in plain text or bcrypt `$2…$`)
//! authenticate servers; `client_auth.username` and `password` authenticate clients. The
//! authenticated user name reaches processors as request metadata `auth.username` (for
//! example the cardinality limiter's tenant). Plain passwords are compared in constant time.

use std::{collections::HashMap, path::PathBuf};

use base64::Engine;
use serde::Deserialize;
use weir_core::auth::{ClientAuth, ServerAuth};

use super::bearertokenauth::same;

/// `extensions.basicauth`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `htpasswd`: the users a server accepts.
    pub htpasswd: Option<Htpasswd>,
    /// `client_auth`: what a client sends.
    pub client_auth: Option<ClientCredentials>,
}

/// `htpasswd`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Htpasswd {
    /// `file`: an htpasswd file.
    pub file: Option<PathBuf>,
    /// `inline`: htpasswd lines in the configuration.
    pub inline: Option<String>,
}

/// `client_auth`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.htpasswd.is_none() && self.client_auth.is_none() {
            errors
                .push(("htpasswd".into(), "give htpasswd (server) or client_auth (client)".into()));
        }
        if let Some(h) = &self.htpasswd
            && h.file.is_none()
            && h.inline.is_none()
        {
            errors.push(("htpasswd".into(), "give file or inline".into()));
        }
        if let Some(c) = &self.client_auth
            && c.username.contains(':')
        {
            errors.push(("client_auth.username".into(), "must not contain ':'".into()));
        }
        errors
    }
}

/// The extension, built.
#[derive(Debug)]
pub struct BasicAuth {
    users: HashMap<String, String>,
    client: Option<http::HeaderValue>,
}

impl BasicAuth {
    /// Builds the extension (reading the htpasswd file).
    pub fn new(config: &Config) -> std::io::Result<BasicAuth> {
        let mut text = String::new();
        if let Some(htpasswd) = &config.htpasswd {
            if let Some(file) = &htpasswd.file {
                text = std::fs::read_to_string(file).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("basicauth htpasswd.file {}: {e}", file.display()),
                    )
                })?;
                text.push('\n');
            }
            text.push_str(htpasswd.inline.as_deref().unwrap_or_default());
        }
        let users = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(user, password)| (user.to_owned(), password.to_owned()))
            .collect();
        let client = match &config.client_auth {
            Some(c) => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password));
                let mut value = http::HeaderValue::try_from(format!("Basic {encoded}"))
                    .map_err(std::io::Error::other)?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(BasicAuth { users, client })
    }
}

impl ServerAuth for BasicAuth {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Vec<(String, String)>, String> {
        let value = headers.get(http::header::AUTHORIZATION).ok_or("no Authorization header")?;
        let value = value.to_str().map_err(|_| "Authorization is not text")?;
        let (scheme, encoded) = value.split_once(' ').ok_or("Authorization has no scheme")?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(format!("scheme {scheme:?} is not Basic"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "credentials are not base64")?;
        let decoded = String::from_utf8(decoded).map_err(|_| "credentials are not UTF-8")?;
        let (user, password) = decoded.split_once(':').ok_or("credentials have no ':'")?;
        let Some(stored) = self.users.get(user) else {
            return Err(format!("unknown user {user:?}"));
        };
        let ok = if stored.starts_with("$2") {
            bcrypt::verify(password, stored).unwrap_or(false)
        } else {
            same(password.as_bytes(), stored.as_bytes())
        };
        if ok {
            Ok(vec![("username".into(), user.to_owned())])
        } else {
            Err(format!("wrong password for {user:?}"))
        }
    }
}

impl ClientAuth for BasicAuth {
    fn apply(&self, headers: &mut http::HeaderMap, _: &weir_core::Metadata) {
        if let Some(value) = &self.client {
            headers.insert(http::header::AUTHORIZATION, value.clone());
        }
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "basicauth",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "HTTP Basic credentials, checked on receivers (htpasswd) or sent by exporters (client_auth)",
    }
);

impl crate::BuildExtension for Config {
    fn authenticates(&self) -> crate::Sides {
        crate::Sides { server: self.htpasswd.is_some(), client: self.client_auth.is_some() }
    }

    fn authenticators(
        &self,
        _: &weir_core::auth::Authenticators,
    ) -> std::io::Result<crate::Provided> {
        let auth = std::sync::Arc::new(BasicAuth::new(self)?);
        Ok(crate::Provided {
            server: self.htpasswd.is_some().then(|| auth.clone() as _),
            client: self.client_auth.is_some().then_some(auth as _),
        })
    }
}
