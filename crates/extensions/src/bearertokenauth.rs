//! The `bearertokenauth` extension, with the Collector's options: as a server authenticator
//! it accepts requests whose `header` (default `Authorization`) is `<scheme> <token>` for one
//! of its tokens; as a client authenticator it sends that header. The token comes from
//! `token`, `tokens` or `filename`; a file is read again when it changes (checked at most once
//! a second), so a rotated token is picked up without a restart. Comparison takes the same
//! time whatever prefix matches (`subtle`).

use std::{path::PathBuf, sync::Mutex};

use serde::Deserialize;
use subtle::ConstantTimeEq;
use weir_core::auth::{ClientAuth, ServerAuth};

use crate::watched_file::WatchedFile;

/// `extensions.bearertokenauth`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `header` (default `Authorization`).
    pub header: String,
    /// `scheme` (default `Bearer`; empty: the header is the token alone).
    pub scheme: String,
    /// `token`.
    pub token: Option<String>,
    /// `tokens`: several accepted tokens (the first is sent as a client).
    pub tokens: Vec<String>,
    /// `filename`: a file holding the token, read again when it changes.
    pub filename: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            header: "Authorization".into(),
            scheme: "Bearer".into(),
            token: None,
            tokens: Vec::new(),
            filename: None,
        }
    }
}

impl Config {
    /// Every problem, as `(path below the extension, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let sources = usize::from(self.token.is_some())
            + usize::from(!self.tokens.is_empty())
            + usize::from(self.filename.is_some());
        let mut errors = Vec::new();
        if sources != 1 {
            errors.push(("token".into(), "give exactly one of token, tokens or filename".into()));
        }
        if http::HeaderName::try_from(self.header.as_str()).is_err() {
            errors.push(("header".into(), format!("{:?} is not a header name", self.header)));
        }
        errors
    }
}

/// The extension, built.
#[derive(Debug)]
pub struct BearerToken {
    header: http::HeaderName,
    scheme: String,
    fixed: Vec<String>,
    file: Option<Mutex<WatchedFile>>,
}

impl BearerToken {
    /// Builds the extension (reading the token file once).
    pub fn new(config: &Config) -> std::io::Result<BearerToken> {
        let header =
            http::HeaderName::try_from(config.header.as_str()).map_err(std::io::Error::other)?;
        let mut fixed: Vec<String> = config.tokens.clone();
        fixed.extend(config.token.clone());
        let file = match &config.filename {
            Some(path) => Some(Mutex::new(WatchedFile::open("bearertokenauth", path)?)),
            None => None,
        };
        Ok(BearerToken { header, scheme: config.scheme.clone(), fixed, file })
    }

    fn tokens(&self) -> Vec<String> {
        let mut tokens = self.fixed.clone();
        if let Some(file) = &self.file {
            tokens.push(file.lock().expect("not poisoned").current().to_owned());
        }
        tokens
    }

    fn value(&self, token: &str) -> String {
        if self.scheme.is_empty() { token.to_owned() } else { format!("{} {token}", self.scheme) }
    }
}

/// Whether `given` equals `expected`, in time that depends only on their lengths.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

impl ServerAuth for BearerToken {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Vec<(String, String)>, String> {
        let Some(given) = headers.get(&self.header) else {
            return Err(format!("no {} header", self.header));
        };
        // every token is compared, so the time does not tell which one matched
        let matched = self
            .tokens()
            .iter()
            .fold(false, |ok, token| same(given.as_bytes(), self.value(token).as_bytes()) | ok);
        if matched { Ok(Vec::new()) } else { Err("wrong bearer token".into()) }
    }
}

impl ClientAuth for BearerToken {
    fn apply(&self, headers: &mut http::HeaderMap, _: &weir_core::Metadata) {
        let Some(token) = self.tokens().into_iter().next() else { return };
        match http::HeaderValue::try_from(self.value(&token)) {
            Ok(mut value) => {
                value.set_sensitive(true);
                headers.insert(self.header.clone(), value);
            }
            Err(_) => tracing::warn!("bearertokenauth: the token is not a valid header value"),
        }
    }
}

weir_core::checked_component!(
    Config,
    weir_core::Declaration {
        name: "bearertokenauth",
        aliases: &[],
        signals: weir_core::Signals::None,
        stability: weir_core::Stability::Beta,
        summary: "a bearer token, checked on receivers or sent by exporters",
    }
);

impl crate::BuildExtension for Config {
    fn authenticates(&self) -> crate::Sides {
        crate::Sides { server: true, client: true }
    }

    fn authenticators(
        &self,
        _: &weir_core::auth::Authenticators,
    ) -> std::io::Result<crate::Provided> {
        let auth = std::sync::Arc::new(BearerToken::new(self)?);
        Ok(crate::Provided { server: Some(auth.clone()), client: Some(auth) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `same` is `subtle`'s constant-time comparison: it looks at every byte whatever the
    /// first difference, so a near miss and a far miss take the same time. Here: it is right
    /// about both.
    #[test]
    fn comparison_is_exact_wherever_the_difference_is() {
        let token = b"0123456789abcdef";
        assert!(same(token, token));
        for position in 0..token.len() {
            let mut near = *token;
            near[position] ^= 1;
            assert!(!same(&near, token), "differs at {position}");
        }
        assert!(!same(b"0123456789abcde", token), "a prefix");
        assert!(!same(b"", token));
    }

    #[test]
    fn the_header_must_carry_the_scheme() {
        let config = Config { token: Some("t0k3n".into()), ..Config::default() };
        assert!(config.problems().is_empty());
        let auth = BearerToken::new(&config).unwrap();
        let check = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
            auth.authenticate(&headers).is_ok()
        };
        assert!(check("Bearer t0k3n"));
        assert!(!check("t0k3n"));
        assert!(!check("Basic t0k3n"));
        assert!(auth.authenticate(&http::HeaderMap::new()).is_err());
        let mut sent = http::HeaderMap::new();
        auth.apply(&mut sent, &weir_core::Metadata::default());
        assert_eq!(sent[http::header::AUTHORIZATION], "Bearer t0k3n");
        let both = Config { tokens: vec!["a".into()], ..config };
        assert_eq!(both.problems().len(), 1, "one source of tokens");
    }
}
